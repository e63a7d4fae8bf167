-- undo sends the journal's keys once, into a temporary table of its own
-- session (#rgs_undo_N, in tempdb: nothing of the database is written),
-- and joins them in the requests that follow. {columns} are the key
-- columns with their types; text keys take the database's collation, so
-- they compare as the table's own columns do (DATABASE_DEFAULT).
-- The key is the table's primary key, so that joins on it are seeks.
CREATE TABLE {temp} ({columns}, PRIMARY KEY ({key_list}));
