-- The journalled rows of one table (their keys in {temp}) and what they
-- hold now: found (0: the row no longer exists), the owner, and whether the
-- server finds it equal to the value the fix wrote (@P1), with the owner
-- column's collation. {lock} is empty for the preview and
-- WITH (UPDLOCK, HOLDLOCK) inside the undo transaction, where it keeps the
-- rows as read until COMMIT.
SELECT {k_keys},
       CASE WHEN t.{first_key} IS NULL THEN 0 ELSE 1 END AS found,
       t.{owner} AS owner_pool_id,
       CASE WHEN t.{owner} = @P1 THEN 1 ELSE 0 END AS holds_fixed_owner
FROM {temp} AS k
LEFT JOIN {table} AS t {lock} ON {join}
ORDER BY {k_keys};
