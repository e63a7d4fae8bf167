-- SQL Server 2012 and later: the availability-group database ID, the same on
-- every replica of the database (NULL outside an availability group), so that
-- a plan or journal still matches its database after a failover. Not sent to
-- SQL Server 2008 R2, which has no such column.
SELECT CAST(d.group_database_id AS nvarchar(36)) AS group_database_id
FROM sys.databases AS d
WHERE d.database_id = DB_ID();
