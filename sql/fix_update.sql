-- Set-based: the re-check just locked exactly the planned rows. @P1: pool ID.
UPDATE {table}
SET {owner} = @P1
WHERE {owner} IS NULL;
