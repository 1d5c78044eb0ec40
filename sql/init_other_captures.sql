-- init_other_captures: the other versync schemas (not $3) whose capture triggers are on table
-- $1.$2 (raw names), and whether that schema also manages the table's version (an assign_version
-- trigger), found by the functions the triggers run, whatever they are called.
SELECT pn.nspname, bool_or(p.proname = 'assign_version')
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND pn.nspname <> $3 AND NOT t.tgisinternal
   AND p.proname IN ('capture', 'assign_version')
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc q
                WHERE q.pronamespace = pn.oid AND q.proname = 'truncated')
 GROUP BY pn.nspname
 ORDER BY 1;
