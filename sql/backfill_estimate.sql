-- backfill_estimate: the planner's row estimate of table $1 (a quoted name); -1 when never analysed.
SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = $1::regclass
