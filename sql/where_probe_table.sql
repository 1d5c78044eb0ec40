-- where_probe_table: an empty copy of a mapped table's columns, in a transaction that is rolled
-- back, to try its "where" as a partial index predicate (where_probe_index.sql). @table@: the table.
CREATE TEMP TABLE vs_where_probe (LIKE @table@)
