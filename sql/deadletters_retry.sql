-- deadletters_retry: move the dead letters matching the filters (as in deadletters_filter) back
-- to the workers, in one statement. $4 (text[]): the tables captured from the WAL ("capture": "wal");
-- $5: the schema (raw name).
--
-- Other tables' go back into the change table. Each keeps its own seq: the workers order and
-- coalesce a key's changes by seq, so a dead-lettered delete re-queued under a new, greater seq
-- would win over a re-insert committed after it; under its own seq it loses to it (coalesced, or
-- 409 stale), as the first time. An insert or update is re-read, so the current row is written (or
-- nothing, if the row is gone: its delete has its own change).
--
-- A "wal" table's cannot go there (trigger workers claim every change row and would write it with
-- a change-sequence version, below the commit LSNs): each becomes a transactional logical message
-- (prefix versync-retry) that the slot consumer reads in commit order, once this transaction
-- commits, and writes as a change of this transaction (re-read, the commit LSN as version). One
-- without a key (its WAL record did not carry it) names no document: it stays (deadletters_keyless).
-- Returns the count per table.
WITH moved AS (
    DELETE FROM @schema@.dead_letters
     WHERE ($1::text IS NULL OR tbl = $1::text)
       AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
       AND ($3::bigint IS NULL OR seq = $3::bigint)
       AND NOT (tbl = ANY ($4::text[]) AND key IS NULL)
    RETURNING seq, tbl, key, op, version, attempts
), queued AS (
    INSERT INTO @schema@.changes (seq, tbl, key, op, version)
    SELECT seq, tbl, key, op, version FROM moved WHERE tbl <> ALL ($4::text[])
    RETURNING tbl
), streamed AS (
    SELECT tbl, pg_logical_emit_message(true, 'versync-retry',
               json_build_object('schema', $5::text, 'seq', seq, 'table', tbl, 'key', key, 'op', op::text,
                                 'attempts', attempts)::text)
      FROM moved WHERE tbl = ANY ($4::text[])
)
SELECT tbl, count(*) FROM (SELECT tbl FROM queued UNION ALL SELECT tbl FROM streamed) q GROUP BY tbl ORDER BY tbl
