-- How many rows of one table have no line URI (RGS005): the same condition
-- as finding_no_line_uri.sql, counted by the server.
SELECT COUNT_BIG(*) AS row_count
FROM {table} AS t
WHERE t.{column} IS NULL OR LTRIM(RTRIM(t.{column})) = N'';
