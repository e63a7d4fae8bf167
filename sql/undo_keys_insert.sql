-- One chunk of journalled keys: at most 1,000 rows (SQL Server's limit for
-- one VALUES list) and fewer than 2,100 parameters.
INSERT INTO {temp} ({key_list}) VALUES {rows};
