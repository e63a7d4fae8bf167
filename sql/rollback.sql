-- XACT_ABORT may already have rolled the transaction back.
IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
