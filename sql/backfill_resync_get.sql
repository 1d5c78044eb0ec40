-- backfill_resync_get: table $1's resync flag and the truncate it came from, read before the copy so
-- the flag is cleared only if no later truncate replaced it (backfill_resync_clear).
SELECT needs_resync, truncated_at::text FROM @schema@.tables WHERE tbl = $1
