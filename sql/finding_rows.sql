-- The rows of one table whose owner is missing (NULL) or names no pool
-- (dangling). {keys} are the primary key columns ({order} the same, or a
-- constant for a table without a key), {display} the name column or a typed
-- NULL.
SELECT {keys}, {display} AS display_name, t.{owner} AS owner_pool_id
FROM {table} AS t
WHERE t.{owner} IS NULL
   OR NOT EXISTS (SELECT 1 FROM {pool_table} AS p WHERE p.{pool_id} = t.{owner})
ORDER BY {order};
