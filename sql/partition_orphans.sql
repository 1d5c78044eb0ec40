-- partition_orphans: the partition statement triggers of versync's schema $1 (names starting
-- with $2) on tables that are no longer a partition of any table in $3 (a text[] of names as
-- change rows write them, 'schema.table'): a detached partition, or a parent that left the config.
SELECT n.nspname, c.relname, t.tgname
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
 WHERE pn.nspname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0
   AND left(t.tgname, length($2)) = $2
   AND NOT EXISTS (SELECT 1
                     FROM pg_catalog.pg_partition_ancestors(c.oid) AS a(relid)
                     JOIN pg_catalog.pg_class ac ON ac.oid = a.relid
                     JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace
                    WHERE ac.oid <> c.oid AND an.nspname || '.' || ac.relname = ANY ($3::text[]))
 ORDER BY 1, 2, 3;
