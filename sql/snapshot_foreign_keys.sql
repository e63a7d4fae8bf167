-- The foreign keys the catalog declares, one row per column pair in
-- constraint order: inventory.md links rows only along these, never by
-- guessing from column names.
SELECT fk.name AS constraint_name,
       s.name AS schema_name,
       tb.name AS table_name,
       pc.name AS column_name,
       rs.name AS referenced_schema,
       rt.name AS referenced_table,
       rc.name AS referenced_column,
       fkc.constraint_column_id
FROM sys.foreign_keys AS fk
JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.tables AS tb ON tb.object_id = fk.parent_object_id
JOIN sys.schemas AS s ON s.schema_id = tb.schema_id
JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
JOIN sys.tables AS rt ON rt.object_id = fk.referenced_object_id
JOIN sys.schemas AS rs ON rs.schema_id = rt.schema_id
JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
ORDER BY s.name, tb.name, fk.name, fkc.constraint_column_id;
