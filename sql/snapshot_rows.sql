-- Every row of one table, every column, in key order. Without SNAPSHOT
-- isolation {hints} is WITH (TABLOCK, HOLDLOCK): a shared lock on the whole
-- table, held to the end of the transaction, so that no table read earlier
-- can change before the last one is read (the files are one picture).
SELECT {columns}
FROM {table}{hints}{order_by};
