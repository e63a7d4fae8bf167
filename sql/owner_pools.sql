-- The owner pools. {name} is the pool's FQDN/name column, or a typed NULL
-- when dbo.OwnerPool has none.
SELECT {id} AS id, {name} AS name
FROM {pool_table}
ORDER BY {id};
