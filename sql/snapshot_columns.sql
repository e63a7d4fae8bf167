-- Every column of every user table with what schema.json records of its
-- type: the snapshot writes every table, not only those with an owner.
SELECT s.name AS schema_name,
       tb.name AS table_name,
       c.name AS column_name,
       ty.name AS type_name,
       c.column_id,
       c.is_nullable,
       c.max_length,
       c.precision,
       c.scale
FROM sys.tables AS tb
JOIN sys.schemas AS s ON s.schema_id = tb.schema_id
JOIN sys.columns AS c ON c.object_id = tb.object_id
JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
WHERE tb.is_ms_shipped = 0
ORDER BY s.name, tb.name, c.column_id;
