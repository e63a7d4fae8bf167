-- The journalled rows of one table (their keys in {temp}) that undo leaves
-- alone: gone (found 0), or holding another owner than the value the fix
-- wrote (@P1), with what they hold now. As a rule few; people see them, and
-- the undo's journal leaves them out.
SELECT {k_keys},
       CASE WHEN t.{first_key} IS NULL THEN 0 ELSE 1 END AS found,
       t.{owner} AS owner_pool_id
FROM {temp} AS k
LEFT JOIN {table} AS t ON {join}
WHERE CASE WHEN t.{owner} = @P1 THEN 1 ELSE 0 END = 0
ORDER BY {k_keys};
