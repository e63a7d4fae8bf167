-- Whether the database allows SNAPSHOT isolation (ALLOW_SNAPSHOT_ISOLATION
-- ON is state 1): then a snapshot reads one version of every table without
-- blocking anyone. Otherwise it locks each table it reads until it ends.
SELECT CAST(d.snapshot_isolation_state AS int) AS snapshot_isolation_state
FROM sys.databases AS d
WHERE d.database_id = DB_ID();
