-- The rows of one table without a line URI (RGS005), in key order: key
-- columns, display name. The row list starts with TOP (@Pn) when only the
-- first rows are shown: the count comes from finding_no_line_uri_count.sql,
-- so a report never downloads every row.
SELECT {top} {keys}, {display} AS display_name
FROM {table} AS t
WHERE t.{column} IS NULL OR LTRIM(RTRIM(t.{column})) = N''
ORDER BY {order};
