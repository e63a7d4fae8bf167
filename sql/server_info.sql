-- What the tool reports about where it is connected, and whether it can write.
SELECT CAST(DB_NAME() AS nvarchar(128)) AS database_name,
       CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS server_name,
       CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
       CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(128)) AS updateability;
