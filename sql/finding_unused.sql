-- The rows of one table that no row of another names through a declared
-- foreign key (link_column refers to column): key columns, display name.
SELECT {keys}, {display} AS display_name
FROM {table} AS t
WHERE NOT EXISTS (SELECT 1 FROM {link_table} AS l WHERE l.{link_column} = t.{column})
ORDER BY {order};
