-- Inside the undo transaction: lock the journalled rows and read their
-- current owner, and whether it still is the value the fix wrote (@P1), as
-- the server compares them (the column's collation decides). {key_match} is
-- `[k] IN (@P2, ...)` or, for composite keys, `([k1] = @P2 AND [k2] = @P3)
-- OR (...)`.
SELECT {keys}, {owner} AS owner_pool_id,
       CASE WHEN {owner} = @P1 THEN 1 ELSE 0 END AS holds_fixed_owner
FROM {table} WITH (UPDLOCK, HOLDLOCK)
WHERE {key_match};
