-- Every column of every user table: the tool finds dbo.OwnerPool, the tables
-- that carry an OwnerPoolId column and their display columns from this, so
-- that no table list or pool ID type is hard-coded.
SELECT s.name AS schema_name,
       tb.name AS table_name,
       c.name AS column_name,
       ty.name AS type_name,
       c.column_id,
       c.is_nullable
FROM sys.tables AS tb
JOIN sys.schemas AS s ON s.schema_id = tb.schema_id
JOIN sys.columns AS c ON c.object_id = tb.object_id
JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
WHERE tb.is_ms_shipped = 0
ORDER BY s.name, tb.name, c.column_id;
