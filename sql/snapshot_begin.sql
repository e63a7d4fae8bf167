-- One read-only transaction for the whole snapshot, so that the files show
-- the database at one moment.
SET TRANSACTION ISOLATION LEVEL {isolation};
BEGIN TRANSACTION;
