-- How many rows of one table each owner pool holds (NULL: no owner).
SELECT {owner} AS owner_pool_id, COUNT_BIG(*) AS row_count
FROM {table}
GROUP BY {owner};
