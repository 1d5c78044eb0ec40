-- deadletters_retry: move the dead letters matching the filters (as in deadletters_filter) back
-- into the change table, in one statement, so the workers claim them again under the ordinary
-- rules. Each keeps its own seq: the workers order and coalesce a key's changes by seq, so a
-- dead-lettered delete re-queued under a new, greater seq would win over a re-insert committed
-- after it; under its own seq it loses to it (coalesced, or 409 stale), as the first time. An
-- insert or update is re-read, so the current row is written (or nothing, if the row is gone:
-- its delete has its own change). Returns the count per table.
WITH moved AS (
    DELETE FROM @schema@.dead_letters
     WHERE ($1::text IS NULL OR tbl = $1::text)
       AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
       AND ($3::bigint IS NULL OR seq = $3::bigint)
    RETURNING seq, tbl, key, op, version
), queued AS (
    INSERT INTO @schema@.changes (seq, tbl, key, op, version)
    SELECT seq, tbl, key, op, version FROM moved
    RETURNING tbl
)
SELECT tbl, count(*) FROM queued GROUP BY tbl ORDER BY tbl
