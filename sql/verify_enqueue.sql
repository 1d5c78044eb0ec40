-- verify_enqueue: --repair queues one change row (table $1, key $2 as text[], op $3, version $4 or
-- NULL) so the workers rewrite the document with an ordinary versioned write. Returns its seq.
INSERT INTO @schema@.changes (tbl, key, op, version) VALUES ($1, $2::text[], $3::"char", $4::bigint)
RETURNING seq
