-- Inside the transaction, after the summary under lock matched the plan:
-- the rows still without an owner, locked until COMMIT, with their names,
-- in key order. The tool streams them into the journal (flushed to disk
-- before the UPDATE is sent), so the journal names exactly the rows the
-- UPDATE changes.
SELECT {keys}, {display} AS display_name
FROM {table} AS t WITH (UPDLOCK, HOLDLOCK)
WHERE t.{owner} IS NULL
ORDER BY {keys};
