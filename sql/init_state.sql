-- init_state: does the schema ($1, raw name) exist, and which of versync's tables are missing?
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS has_schema,
       ARRAY(SELECT name
               FROM unnest(ARRAY['changes', 'dead_letters', 'meta', 'tables', 'worker_stats', 'cursors', 'parked']) WITH ORDINALITY AS u(name, i)
              WHERE NOT EXISTS (SELECT 1
                                  FROM pg_catalog.pg_class c
                                  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                 WHERE n.nspname = $1 AND c.relname = u.name AND c.relkind = 'r')
              ORDER BY i)::text AS missing;
