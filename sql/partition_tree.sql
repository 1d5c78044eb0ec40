-- partition_tree: every partition under partitioned table $1.$2 (raw names), at any depth, that
-- can carry triggers (ordinary or partitioned), with whether it has the capture trigger of
-- versync's schema $3 (PostgreSQL's clone of the parent's), and its statement triggers $4
-- (wake-up, notify()) and $5 (TRUNCATE, truncated()) of that schema.
SELECT n.nspname, c.relname,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                WHERE t.tgrelid = c.oid AND pn.nspname = $3 AND p.proname = 'capture') AS has_capture,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                WHERE t.tgrelid = c.oid AND pn.nspname = $3 AND p.proname = 'notify'
                  AND t.tgname = $4) AS has_notify,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                WHERE t.tgrelid = c.oid AND pn.nspname = $3 AND p.proname = 'truncated'
                  AND t.tgname = $5) AS has_truncate
  FROM pg_catalog.pg_partition_tree((quote_ident($1) || '.' || quote_ident($2))::regclass) pt
  JOIN pg_catalog.pg_class c ON c.oid = pt.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE pt.level > 0 AND c.relkind IN ('r', 'p')
 ORDER BY pt.level, 1, 2;
