-- Inside the transaction: lock the rows still without an owner and read
-- their keys, so the tool can compare them with the plan that was shown
-- before it changes anything.
SELECT {keys}
FROM {table} WITH (UPDLOCK, HOLDLOCK)
WHERE {owner} IS NULL
ORDER BY {keys};
