-- backfill_progress_get: the resume point of table $1 into index $2, if a backfill left one.
SELECT last_key, rows_done, finished_at IS NOT NULL AS finished, finished_at
  FROM @schema@.backfill_progress
 WHERE tbl = $1 AND index_name = $2
