-- wal_xids_visible: how many of the transactions $1 (32-bit xids from pgoutput's Begin, as
-- bigint[]) a snapshot taken now does not see yet. Logical decoding sends a transaction once its
-- commit record is flushed, which can be a moment before the committing backend makes it visible
-- to other sessions (ProcArrayEndTransaction): a re-read in that moment would find the old row (or
-- none, a delete).
-- A streamed xid was assigned before now and less than 2^31 xids ago (wraparound protection), so
-- its distance d from the snapshot's xmax, taken modulo 2^32 as a signed 32-bit number, is exact
-- whatever the epochs: d >= 0 means at or past xmax, i.e. not yet completed when the snapshot was
-- taken: not visible yet (a commit in flight can be >= xmax: xmax is the latest completed xid + 1).
-- d < 0 means xmax + d is its full xid8 (on xmax's epoch, or the one before when the counter
-- wrapped in between), which the snapshot's xip list decides.
WITH x AS (SELECT s.snap, pg_snapshot_xmax(s.snap)::text::bigint AS xmax
             FROM (SELECT pg_current_snapshot() AS snap) s),
     d AS (SELECT x.snap, x.xmax,
                  ((v.xid - (x.xmax & 4294967295) + 2147483648) & 4294967295) - 2147483648 AS dist
             FROM x, unnest($1::bigint[]) AS v(xid))
SELECT count(*)
  FROM d
 WHERE CASE WHEN d.dist >= 0 THEN true
            ELSE NOT pg_visible_in_snapshot((d.xmax + d.dist)::text::xid8, d.snap) END
