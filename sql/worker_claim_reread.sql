-- Claim up to $1 change rows and re-read the rows they name, in one statement
-- (one round trip per batch instead of two; versync worker). The claim is
-- worker_claim.sql's: SKIP LOCKED, oldest seq first, never the tables of $2
-- (a text[] of parked tables), from seq $3 on; the rows disappear only when
-- the claiming transaction commits, after the store answered; = ANY
-- (ARRAY(...)) of ctids as there.
-- MATERIALIZED runs the DELETE once, before the join reads its rows. Each
-- change row comes back once, with the RENDER_COL_* columns of its row's
-- current state when it is the latest
-- change of its key, of a table in the join, and not a delete (NULLs when the
-- row is gone, or when the row was not read here). One snapshot serves claim
-- and re-read, so every claimed change's own write is visible to the re-read.
-- The reread token below is the UNION ALL of render_reread_lateral's branches.
WITH claimed AS MATERIALIZED (
    DELETE FROM @schema@.changes
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM @schema@.changes WHERE tbl <> ALL ($2::text[]) AND seq >= $3
                           ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))
    RETURNING seq, tbl, key, op, version, changed_at
), cl AS (
    SELECT c.*, c.seq = max(c.seq) OVER (PARTITION BY c.tbl, c.key) AS last FROM claimed c
)
SELECT cl.seq, cl.tbl, cl.key, cl.op, cl.version, cl.changed_at, r.*
  FROM cl LEFT JOIN LATERAL (@reread@ LIMIT 1) r ON true
