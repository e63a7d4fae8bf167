-- How many rows of one table each owner holds, with the pool that owner
-- names as the server matches it (the owner column's collation decides, so
-- an owner that differs from a pool's ID only in case is dangling on a
-- case-sensitive collation); pool_id NULL: no owner, or no such pool.
-- The rows are grouped before they are matched with the pools, so the pool
-- table is probed once per owner rather than once per row.
-- key_checksum: when the inspection is for a plan, the checksum of the keys
-- of the rows without an owner, on the NULL owner's line (NULL on the other
-- lines); CHECKSUM_AGG skips NULLs, so this is the value
-- sql/null_owner_summary.sql computes, read in the same scan. Otherwise a
-- typed NULL.
SELECT g.owner_pool_id, p.{pool_id} AS pool_id, g.row_count, g.key_checksum
FROM (SELECT t.{owner} AS owner_pool_id,
             COUNT_BIG(*) AS row_count,
             {key_checksum} AS key_checksum
      FROM {table} AS t
      GROUP BY t.{owner}) AS g
LEFT JOIN {pool_table} AS p ON p.{pool_id} = g.owner_pool_id;
