-- cursor_set: store the checkpoint of cursor table $1, in the transaction that also adds the
-- page's counters to worker_stats, after the store answered every write of the page.
INSERT INTO @schema@.cursors AS c
       (tbl, key_cols, base_xmin, base_at, pass_xmin, pass_at, pass_key, passes, rows, applied, stale,
        dead_letters, system_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
ON CONFLICT (tbl) DO UPDATE
   SET key_cols = EXCLUDED.key_cols, base_xmin = EXCLUDED.base_xmin, base_at = EXCLUDED.base_at,
       pass_xmin = EXCLUDED.pass_xmin, pass_at = EXCLUDED.pass_at, pass_key = EXCLUDED.pass_key,
       passes = EXCLUDED.passes, rows = EXCLUDED.rows, applied = EXCLUDED.applied, stale = EXCLUDED.stale,
       dead_letters = EXCLUDED.dead_letters, system_id = EXCLUDED.system_id, updated_at = now()
