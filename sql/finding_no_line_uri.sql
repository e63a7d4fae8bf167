-- The rows of one table without a line URI: key columns, display name.
SELECT {keys}, {display} AS display_name
FROM {table} AS t
WHERE t.{column} IS NULL OR LTRIM(RTRIM(t.{column})) = N''
ORDER BY {order};
