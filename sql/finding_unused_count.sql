-- How many rows of one table nothing uses (RGS006-RGS008): the same
-- condition as finding_unused.sql, counted by the server.
SELECT COUNT_BIG(*) AS row_count
FROM {table} AS t
WHERE {unused};
