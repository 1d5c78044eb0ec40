-- nested_partitions: table $1.$2 (raw names) of a nested document's tree (level 0), then its
-- partitions at any depth that can carry triggers (ordinary or partitioned), each with whether
-- it has a nested-document capture trigger ($3: the trigger name's prefix, a LIKE pattern). A
-- statement trigger fires only on the table a statement names, so a row written straight into a
-- partition reaches the documents only through triggers on that partition. An ordinary table
-- has no partitions; PostgreSQL 12+ lists it alone at level 0.
SELECT n.nspname, c.relname,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname LIKE $3) AS has_nested, pt.level
  FROM pg_catalog.pg_partition_tree((quote_ident($1) || '.' || quote_ident($2))::regclass) pt
  JOIN pg_catalog.pg_class c ON c.oid = pt.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
 ORDER BY pt.level, n.nspname, c.relname
