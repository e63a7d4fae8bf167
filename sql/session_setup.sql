-- Every write runs with these: any error aborts and rolls back the whole
-- transaction, and a blocked lock fails after the lock timeout instead of
-- waiting behind the Response Group service forever. SET LOCK_TIMEOUT takes
-- no variable, so {lock_timeout_ms} is an integer the tool formats itself.
SET XACT_ABORT ON;
SET LOCK_TIMEOUT {lock_timeout_ms};
