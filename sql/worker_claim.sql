-- Claim up to $1 change rows for one batch (versync worker). SKIP LOCKED lets
-- any number of workers on any number of hosts take disjoint batches; the rows
-- disappear only when the claiming transaction commits, after the store answered.
-- $2 (a text[]) names the tables this worker has parked: their changes wait.
-- = ANY (ARRAY(...)), not IN (...): the claimed rows' ctids become one array,
-- and the DELETE finds them by ctid (a TID scan: the rows are locked, so they
-- stay where they are); with IN the planner may hash-join a sequential scan of
-- the whole change table into every claim of a backlog, and with seqs it
-- found them through a whole scan of the (tbl, seq) index whenever the change
-- table's statistics said it was empty, as a queue's often do
-- (test_worker_claim_stale_stats.sh).
-- $3: the scan starts at this seq (0: the oldest). Claimed rows are deleted in
-- seq order, so until vacuum removes them their dead index entries pile up at
-- the head of the queue, and a scan from the oldest walks all of them in every
-- claim; the worker passes a floor just below its previous claim instead, and
-- 0 now and then so that nothing older waits long (worker.h: WORKER_CLAIM_*).
DELETE FROM @schema@.changes
 WHERE ctid = ANY (ARRAY(SELECT ctid FROM @schema@.changes WHERE tbl <> ALL ($2::text[]) AND seq >= $3
                       ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))
RETURNING seq, tbl, key, op, version, changed_at
