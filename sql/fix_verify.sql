-- Before COMMIT: no row of the table may still lack an owner.
SELECT COUNT_BIG(*) AS remaining
FROM {table}
WHERE {owner} IS NULL;
