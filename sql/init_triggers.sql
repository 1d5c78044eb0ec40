-- init_triggers: every trigger that calls a function of versync's schema ($1, raw name), so
-- init finds its triggers by what they run, whatever they are called. Not the clones PostgreSQL
-- keeps of a partitioned table's row triggers on its partitions (tgparentid): they come and go
-- with the parent's trigger and cannot be dropped on their own.
SELECT n.nspname, c.relname, t.tgname
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
 WHERE pn.nspname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0
 ORDER BY 1, 2, 3;
