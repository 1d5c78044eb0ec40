-- backfill_resync_clear: a --prune backfill covered table $1: clear its resync flag, unless a
-- truncate committed after the backfill read the flag ($2 = truncated_at it saw, as text or NULL).
UPDATE @schema@.tables
   SET needs_resync = false, resync_reason = NULL
 WHERE tbl = $1 AND needs_resync AND truncated_at IS NOT DISTINCT FROM $2::timestamptz
