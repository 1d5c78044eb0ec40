-- cursor_get: the checkpoint of cursor table $1 ("schema.table"), times as UTC ISO text.
SELECT key_cols, base_xmin,
       to_char(base_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       pass_xmin,
       to_char(pass_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       pass_key, passes, rows, applied, stale, dead_letters, coalesce(system_id, '')
  FROM @schema@.cursors
 WHERE tbl = $1
