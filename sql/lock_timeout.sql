-- Sent ahead of a session's first request: reads, too, stop waiting for
-- another session's lock after the lock timeout (error 1222) instead of
-- until the command timeout. Under locking READ COMMITTED, the default and
-- what a Lync back end runs, a reader waits behind an uncommitted write.
-- SET LOCK_TIMEOUT takes no variable: {lock_timeout_ms} is an integer the
-- tool formats itself.
SET LOCK_TIMEOUT {lock_timeout_ms};
