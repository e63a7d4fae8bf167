-- Where the tool is connected, whether it can write there, and the
-- database's identity (recorded in plans and journals, so that a plan or an
-- undo never runs against another server's database of the same name):
-- @@SERVERNAME, the machine, and the database's creation time, which a login
-- with db_owner on the database can read on SQL Server 2008 R2 and later
-- (sys.databases always shows the caller's own database).
SELECT CAST(DB_NAME() AS nvarchar(128)) AS database_name,
       CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS server_name,
       CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
       CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(128)) AS updateability,
       CAST(@@SERVERNAME AS nvarchar(256)) AS instance_server_name,
       CAST(SERVERPROPERTY('MachineName') AS nvarchar(256)) AS machine_name,
       CONVERT(nvarchar(30), d.create_date, 126) AS database_created
FROM sys.databases AS d
WHERE d.database_id = DB_ID();
