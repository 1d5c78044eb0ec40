-- setup_app_triggers: the application's own enabled row triggers on table $1.$2 (raw names) that
-- fire BEFORE UPDATE, i.e. those that could bump a version column, with their function's source
-- and language (the source of a C function is only its symbol name). Triggers running a
-- function of versync's schema ($3) are left out.
SELECT t.tgname, coalesce(p.prosrc, ''), l.lanname
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE n.nspname = $1 AND c.relname = $2 AND NOT t.tgisinternal AND t.tgenabled <> 'D'
   AND pn.nspname <> $3
   AND (t.tgtype & 1) <> 0 AND (t.tgtype & 2) <> 0 AND (t.tgtype & 16) <> 0
 ORDER BY t.tgname;
