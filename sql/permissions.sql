-- Whether the login may update one table (1), may not (0), or the table is
-- unknown (NULL); and the same for its owner column, which a column-level
-- DENY UPDATE can forbid while the table is allowed. {table_param} is the
-- parameter holding the two-part quoted name ([dbo].[Queues]),
-- {column_param} the one holding the owner column's name.
SELECT HAS_PERMS_BY_NAME({table_param}, N'OBJECT', N'UPDATE') AS can_update,
       HAS_PERMS_BY_NAME({table_param}, N'OBJECT', N'UPDATE', {column_param}, N'COLUMN') AS can_update_owner;
