-- init_registered: the tables the last init installed triggers on.
SELECT tbl, index_name, spec FROM @schema@.tables ORDER BY tbl;
