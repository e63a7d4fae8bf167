-- The rows of one table whose owner is missing (NULL) or names no pool
-- (dangling: not NULL, and no pool matches); which is the WHERE below.
-- The TOP is empty, or TOP (@Pn) when only the first rows are shown: the
-- counts come from owner_counts.sql, so a report of a large table never
-- downloads every row. {keys} are the primary key columns ({order} the
-- same, or a constant for a table without a key), {display} the name
-- column or a typed NULL.
SELECT {top} {keys}, {display} AS display_name, t.{owner} AS owner_pool_id
FROM {table} AS t
WHERE {which}
ORDER BY {order};
