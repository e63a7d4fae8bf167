-- The rows of one table that nothing uses (RGS006-RGS008), in key order:
-- key columns, display name. The condition is one NOT EXISTS per declared
-- way the table's rows are used, AND-ed, so a row is listed only when no
-- way uses it and the server does the intersection. The row list starts
-- with TOP (@Pn) when only the first rows are shown: the count comes from
-- finding_unused_count.sql.
SELECT {top} {keys}, {display} AS display_name
FROM {table} AS t
WHERE {unused}
ORDER BY {order};
