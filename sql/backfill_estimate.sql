-- backfill_estimate: the planner's row estimate of table $1 (a quoted name); -1 when never analysed.
-- A partitioned table holds no rows itself (and autovacuum never analyses it): the sum over its
-- leaf partitions, once every one of them has been analysed.
SELECT CASE WHEN c.relkind = 'p'
            THEN (SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples)::bigint ELSE -1 END
                    FROM pg_catalog.pg_partition_tree(c.oid) pt
                    JOIN pg_catalog.pg_class l ON l.oid = pt.relid
                   WHERE pt.isleaf)
            ELSE c.reltuples::bigint END
  FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass
