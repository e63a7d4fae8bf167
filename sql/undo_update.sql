-- Put journalled rows back, only where they still hold the value the fix
-- wrote (@P1). {key_match} as in undo_recheck.sql, numbered from @P2. The
-- count is the UPDATE's own (see fix_update.sql).
UPDATE {table}
SET {owner} = NULL
WHERE {owner} = @P1
  AND ({key_match});
SELECT CAST(@@ROWCOUNT AS bigint) AS changed;
