-- Columns that hold a contact object's line URI (tel URI), by name in any
-- case: where a schema has one, an object without a number is reported.
SELECT s.name AS schema_name, t.name AS table_name, c.name AS column_name
FROM sys.columns AS c
JOIN sys.tables AS t ON t.object_id = c.object_id
JOIN sys.schemas AS s ON s.schema_id = t.schema_id
WHERE LOWER(c.name) IN (N'lineuri', N'teluri')
ORDER BY s.name, t.name, c.name;
