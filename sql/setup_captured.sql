-- setup_captured: which of the tables $2 (a text[] of "schema.table") carry a trigger that runs a
-- function of versync's schema $1 (raw name), i.e. have been set up by `versync init`.
SELECT u.tbl,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_trigger t
                 JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                WHERE n.nspname || '.' || c.relname = u.tbl AND pn.nspname = $1 AND NOT t.tgisinternal
                  AND p.proname = 'capture')
  FROM unnest($2::text[]) WITH ORDINALITY AS u(tbl, i)
 ORDER BY u.i;
