-- status_ready: has `versync init` created versync's tables in schema $1 (raw name)?
SELECT count(*) = 4
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname IN ('changes', 'dead_letters', 'tables', 'worker_stats');
