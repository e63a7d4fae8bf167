-- Put journalled rows (their keys in {temp}) back, only where they still
-- hold the value the fix wrote (@P1). The count is the UPDATE's own, read
-- right after it: the DONE counts of the reply also carry the statements of
-- any trigger on the table.
UPDATE {table}
SET {owner} = NULL
WHERE {owner} = @P1
  AND EXISTS (SELECT 1 FROM {temp} AS k WHERE {join});
SELECT CAST(@@ROWCOUNT AS bigint) AS changed;
