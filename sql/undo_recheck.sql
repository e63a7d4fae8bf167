-- Inside the undo transaction: lock the journalled rows and read their
-- current owner. {key_match} is `[k] IN (@P1, ...)` or, for composite keys,
-- `([k1] = @P1 AND [k2] = @P2) OR (...)`.
SELECT {keys}, {owner} AS owner_pool_id
FROM {table} WITH (UPDLOCK, HOLDLOCK)
WHERE {key_match};
