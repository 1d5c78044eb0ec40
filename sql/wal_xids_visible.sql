-- How many of the transactions $1 (32-bit xids from pgoutput's Begin, as bigint[]) a snapshot taken
-- now does not see yet. Logical decoding sends a transaction once its commit record is flushed,
-- which can be a moment before the committing backend makes it visible to other sessions
-- (ProcArrayEndTransaction): a re-read in that moment would find the old row (or none, a delete).
-- Each xid gets the epoch of the snapshot's xmax, or the one before when it is above xmax's low
-- 32 bits (it was assigned before the wraparound).
WITH s AS (SELECT pg_current_snapshot() AS snap),
     x AS (SELECT snap, pg_snapshot_xmax(snap)::text::bigint AS xmax FROM s)
SELECT count(*)
  FROM x, unnest($1::bigint[]) AS v(xid)
 WHERE NOT pg_visible_in_snapshot(
         ((((x.xmax >> 32) - CASE WHEN v.xid > (x.xmax & 4294967295) THEN 1 ELSE 0 END) << 32) | v.xid)::text::xid8,
         x.snap)
