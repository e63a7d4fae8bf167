-- Declared, enabled foreign keys, one row per key column: the links between
-- objects (a group's agents, a queue's groups, a workflow's queue) are read
-- only from here, never guessed from names.
SELECT fk.object_id AS constraint_id,
       ps.name AS parent_schema,
       pt.name AS parent_table,
       pc.name AS parent_column,
       rs.name AS referenced_schema,
       rt.name AS referenced_table,
       rc.name AS referenced_column,
       fkc.constraint_column_id
FROM sys.foreign_keys AS fk
JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.tables AS pt ON pt.object_id = fkc.parent_object_id
JOIN sys.schemas AS ps ON ps.schema_id = pt.schema_id
JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
JOIN sys.tables AS rt ON rt.object_id = fkc.referenced_object_id
JOIN sys.schemas AS rs ON rs.schema_id = rt.schema_id
JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
WHERE fk.is_disabled = 0
ORDER BY fk.object_id, fkc.constraint_column_id;
