-- The rows of one table without an owner, summed up by the server: how
-- many, and a checksum of their keys (CHECKSUM_AGG of BINARY_CHECKSUM,
-- both in SQL Server since 2000). The plan records both; inside the
-- transaction the same summary, read WITH (UPDLOCK, HOLDLOCK),
-- must match it before anything changes: another set of rows, even of the
-- same size, gives another checksum. Comparing on the server means the
-- keys are never downloaded to be compared.
SELECT COUNT_BIG(*) AS row_count,
       CHECKSUM_AGG(BINARY_CHECKSUM({keys})) AS key_checksum
FROM {table} AS t {lock}
WHERE t.{owner} IS NULL;
