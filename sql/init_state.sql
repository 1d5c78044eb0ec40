-- init_state: does the schema ($1, raw name) exist, which of versync's tables are missing, and
-- does the change table carry autovacuum settings of its own (versync's or its owner's)?
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS has_schema,
       ARRAY(SELECT name
               FROM unnest(ARRAY['changes', 'dead_letters', 'meta', 'tables', 'worker_stats', 'cursors', 'parked']) WITH ORDINALITY AS u(name, i)
              WHERE NOT EXISTS (SELECT 1
                                  FROM pg_catalog.pg_class c
                                  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                 WHERE n.nspname = $1 AND c.relname = u.name AND c.relkind = 'r')
              ORDER BY i)::text AS missing,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = 'changes' AND c.relkind = 'r'
                  AND EXISTS (SELECT 1 FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum%')) AS changes_tuned;
