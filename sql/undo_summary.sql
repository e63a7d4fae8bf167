-- The journalled rows of one table (their keys in {temp}) summed up by the
-- server: how many there are, how many no longer exist, how many still hold
-- the value the fix wrote (@P1, as the owner column's collation compares
-- it), and a checksum of those rows' keys. undo's preview reads it without
-- a lock; inside the undo transaction the same summary, read WITH (UPDLOCK, HOLDLOCK) until
-- COMMIT, must match the preview before anything changes. The keys are
-- never downloaded to be compared.
SELECT COUNT_BIG(*) AS journalled,
       SUM(CASE WHEN t.{first_key} IS NULL THEN 1 ELSE 0 END) AS missing,
       SUM(CASE WHEN t.{owner} = @P1 THEN 1 ELSE 0 END) AS restorable,
       CHECKSUM_AGG(CASE WHEN t.{owner} = @P1 THEN BINARY_CHECKSUM({k_keys}) END) AS restorable_checksum
FROM {temp} AS k
LEFT JOIN {table} AS t {lock} ON {join};
