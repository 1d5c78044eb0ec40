-- backfill_progress_set: record that every row of table $1 up to key $3 (text[]) is in index $2,
-- $4 rows so far; $5 = 'start' begins a new copy, 'done' marks it finished.
INSERT INTO @schema@.backfill_progress AS p (tbl, index_name, last_key, rows_done, finished_at)
VALUES ($1, $2, $3::text[], $4::bigint, CASE WHEN $5 = 'done' THEN now() END)
ON CONFLICT (tbl, index_name) DO UPDATE
   SET last_key    = EXCLUDED.last_key,
       rows_done   = EXCLUDED.rows_done,
       started_at  = CASE WHEN $5 = 'start' THEN now() ELSE p.started_at END,
       updated_at  = now(),
       finished_at = EXCLUDED.finished_at
