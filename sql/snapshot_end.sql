-- The snapshot changed nothing; ending it with a rollback keeps it so. The
-- session goes back to SQL Server's default isolation level for what comes
-- after (a fix on the same connection).
IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
