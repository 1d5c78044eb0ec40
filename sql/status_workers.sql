-- status_workers: the workers' counters, summed over every worker that has reported.
SELECT count(*)                         AS workers,
       coalesce(sum(applied), 0)        AS applied,
       coalesce(sum(stale), 0)          AS stale,
       coalesce(sum(coalesced), 0)      AS coalesced,
       coalesce(sum(dead_letters), 0)   AS dead_letters,
       coalesce(sum(retries), 0)        AS retries,
       max(lag_ms)                      AS max_lag_ms,
       (extract(epoch FROM clock_timestamp() - max(updated_at)) * 1000)::bigint AS last_report_age_ms
  FROM @schema@.worker_stats;
