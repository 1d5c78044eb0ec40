-- Move one claimed change that the store will never take into dead_letters,
-- in the claiming transaction. A change replayed from dead_letters that fails
-- again keeps its row and counts the attempt.
INSERT INTO @schema@.dead_letters AS d (seq, tbl, key, op, version, changed_at, error, http_status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (seq) DO UPDATE
   SET error = EXCLUDED.error, http_status = EXCLUDED.http_status,
       attempts = d.attempts + 1, last_failed_at = now()
