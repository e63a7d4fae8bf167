-- Primary key columns, in key order: the journal identifies rows by them.
SELECT s.name AS schema_name,
       tb.name AS table_name,
       c.name AS column_name,
       ic.key_ordinal
FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
JOIN sys.tables AS tb ON tb.object_id = i.object_id
JOIN sys.schemas AS s ON s.schema_id = tb.schema_id
WHERE i.is_primary_key = 1
ORDER BY s.name, tb.name, ic.key_ordinal;
