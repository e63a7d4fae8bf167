-- Set-based: the re-check just locked exactly the planned rows. @P1: pool ID.
-- The count is the UPDATE's own, read right after it: the DONE counts of the
-- reply also carry the statements of any trigger on the table (an audit
-- trigger, replication), and OUTPUT without INTO is refused on a table
-- with triggers (error 334).
UPDATE {table}
SET {owner} = @P1
WHERE {owner} IS NULL;
SELECT CAST(@@ROWCOUNT AS bigint) AS changed;
