-- Whether the login may update one table (1), may not (0), or the table is
-- unknown (NULL). @P1 is the two-part quoted name, e.g. [dbo].[Queues].
SELECT HAS_PERMS_BY_NAME(@P1, N'OBJECT', N'UPDATE') AS can_update;
