-- catalog_partition_key: the columns of the partition key of partitioned table $1.$2 (raw names),
-- in key order. An expression in the key gives no row (no unique index can cover it anyway).
SELECT a.attname
  FROM pg_catalog.pg_partitioned_table p
  JOIN pg_catalog.pg_class c ON c.oid = p.partrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL unnest(p.partattrs::int2[]) WITH ORDINALITY AS k(att, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.att
 WHERE n.nspname = $1 AND c.relname = $2
 ORDER BY k.ord;
