-- After a read timed out on a lock (1222): the other sessions holding
-- exclusive or intent-exclusive locks on objects of this database, for the
-- message. Needs VIEW SERVER STATE; without it SQL Server answers error 297
-- and the tool says how to find the blocker instead.
SELECT DISTINCT l.request_session_id AS session_id,
       CAST(s.login_name AS nvarchar(128)) AS login_name,
       CAST(s.host_name AS nvarchar(128)) AS host_name,
       CAST(s.program_name AS nvarchar(128)) AS program_name
FROM sys.dm_tran_locks AS l
LEFT JOIN sys.dm_exec_sessions AS s ON s.session_id = l.request_session_id
WHERE l.resource_database_id = DB_ID()
  AND l.resource_type = N'OBJECT'
  AND l.request_status = N'GRANT'
  AND l.request_mode IN (N'X', N'IX', N'SIX')
  AND l.request_session_id <> @@SPID
ORDER BY session_id;
