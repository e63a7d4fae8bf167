-- How many rows of one table each owner holds, with the pool that owner
-- names as the server matches it (the owner column's collation decides, so
-- an owner that differs from a pool's ID only in case is dangling on a
-- case-sensitive collation); pool_id NULL: no owner, or no such pool.
SELECT t.{owner} AS owner_pool_id, p.{pool_id} AS pool_id, COUNT_BIG(*) AS row_count
FROM {table} AS t
LEFT JOIN {pool_table} AS p ON p.{pool_id} = t.{owner}
GROUP BY t.{owner}, p.{pool_id};
