-- stats_prune: forget the worker_stats rows of processes that have not reported for $1
-- seconds (worker_stats_expire_s): every process writes its own row (host:pid), so without
-- this the table keeps one row per process that ever ran. Returns how many went.
WITH gone AS (
    DELETE FROM @schema@.worker_stats
     WHERE updated_at < now() - make_interval(secs => $1::float8)
    RETURNING 1
)
SELECT count(*) FROM gone
