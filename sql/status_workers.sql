-- status_workers: the workers' counters, over the processes that reported within $1 seconds
-- (worker_stats_expire_s; an older row is a process gone, pruned by the next run or once).
-- max_lag_ms: the greatest lag among the workers that reported within $2 seconds
-- (lag_window_s), NULL when none did: a recent lag, never an all-time maximum.
SELECT count(*) FILTER (WHERE live)                        AS workers,
       coalesce(sum(applied) FILTER (WHERE live), 0)       AS applied,
       coalesce(sum(stale) FILTER (WHERE live), 0)         AS stale,
       coalesce(sum(coalesced) FILTER (WHERE live), 0)     AS coalesced,
       coalesce(sum(dead_letters) FILTER (WHERE live), 0)  AS dead_letters,
       coalesce(sum(retries) FILTER (WHERE live), 0)       AS retries,
       max(lag_ms) FILTER (WHERE updated_at >= now() - make_interval(secs => $2::float8)) AS max_lag_ms,
       (extract(epoch FROM clock_timestamp() - max(updated_at) FILTER (WHERE live)) * 1000)::bigint
                                                           AS last_report_age_ms,
       count(*) FILTER (WHERE NOT live)                    AS expired
  FROM (SELECT w.*, w.updated_at >= now() - make_interval(secs => $1::float8) AS live
          FROM @schema@.worker_stats w) w
