-- Claim up to $1 change rows for one batch (versync worker). SKIP LOCKED lets
-- any number of workers on any number of hosts take disjoint batches; the rows
-- disappear only when the claiming transaction commits, after the store answered.
-- $2 (a text[]) names the tables this worker has parked: their changes wait.
-- = ANY (ARRAY(...)), not IN (...): the claimed seqs become one array, and the
-- DELETE finds them by the primary key; with IN the planner may hash-join a
-- sequential scan of the whole change table into every claim of a backlog.
DELETE FROM @schema@.changes
 WHERE seq = ANY (ARRAY(SELECT seq FROM @schema@.changes WHERE tbl <> ALL ($2::text[])
                       ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))
RETURNING seq, tbl, key, op, version, changed_at
