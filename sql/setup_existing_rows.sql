-- setup_existing_rows: how many rows table @table@ (quoted, qualified; $2.$3 raw) holds, counted
-- up to $1 so a huge table costs a bounded scan (more than $1: the caller reports the planner's
-- estimate, column 2). init runs it in its transaction, after creating the capture triggers:
-- these are exactly the rows that no change row will ever carry to the index.
SELECT (SELECT count(*) FROM (SELECT 1 FROM @table@ LIMIT $1) s),
       (SELECT CASE WHEN c.relkind = 'p'  -- a partitioned table: the sum over its leaf partitions
                    THEN (SELECT coalesce(sum(greatest(l.reltuples, 0)), 0)::bigint
                            FROM pg_catalog.pg_partition_tree(c.oid) pt
                            JOIN pg_catalog.pg_class l ON l.oid = pt.relid
                           WHERE pt.isleaf)
                    ELSE greatest(c.reltuples, 0)::bigint END
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $2 AND c.relname = $3)
