-- setup_version_default: the default expression of column $3 of table $1.$2 (raw names) as
-- PostgreSQL prints it ("now()", "CURRENT_TIMESTAMP", "clock_timestamp()"), or no row.
SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)
  FROM pg_catalog.pg_attrdef d
  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3;
