-- The primary key columns of table $1.$2 (raw names) in key order, with their
-- types as format_type() prints them, for mappings whose config gives no key.
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
 WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass
   AND i.indisprimary
 ORDER BY array_position(i.indkey, a.attnum)
