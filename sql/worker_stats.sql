-- Add one committed batch's counters to this worker's row (in the batch's own
-- transaction, so a rolled-back claim never counts). $9: the oldest changed_at
-- of the batch, for the lag; NULL keeps the last lag.
INSERT INTO @schema@.worker_stats AS w
       (worker, started_at, updated_at, applied, stale, coalesced, dead_letters, retries, lag_ms)
VALUES ($1, $2, now(), $3, $4, $5, $6, $7,
        (extract(epoch FROM clock_timestamp() - $8::timestamptz) * 1000)::bigint)
ON CONFLICT (worker) DO UPDATE
   SET updated_at = now(),
       applied = w.applied + EXCLUDED.applied,
       stale = w.stale + EXCLUDED.stale,
       coalesced = w.coalesced + EXCLUDED.coalesced,
       dead_letters = w.dead_letters + EXCLUDED.dead_letters,
       retries = w.retries + EXCLUDED.retries,
       lag_ms = COALESCE(EXCLUDED.lag_ms, w.lag_ms)
RETURNING lag_ms
