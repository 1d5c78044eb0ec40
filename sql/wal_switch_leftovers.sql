-- wal_switch_leftovers: change rows still waiting for tables among $1 (text[]: the config's "capture":
-- "wal" tables), left by their trigger capture. Trigger workers would write them at change-sequence
-- versions (and none runs when no table uses triggers), so they move into the stream, in init's
-- transaction after the triggers are dropped (no new ones can come) and after the slot exists: each
-- keyed one becomes a retry message (as `deadletters retry` sends; seq 0: no dead letter of its own),
-- re-read and written at this transaction's commit LSN. A waiting TRUNCATE (no key) cannot be
-- replayed as a re-read and is dropped, counted: init tells to run verify --repair. $2: the schema
-- (raw name). Returns per table the changes moved and the truncates dropped.
WITH moved AS (
    DELETE FROM @schema@.changes WHERE tbl = ANY ($1::text[]) RETURNING tbl, key, op
), sent AS (
    SELECT tbl, key IS NULL AS trunc,
           CASE WHEN key IS NOT NULL
                THEN pg_logical_emit_message(true, 'versync-retry',
                         json_build_object('schema', $2::text, 'seq', 0, 'table', tbl, 'key', key,
                                           'op', op::text, 'attempts', 0)::text) END AS lsn
      FROM moved
)
SELECT tbl, count(*) FILTER (WHERE NOT trunc), count(*) FILTER (WHERE trunc)
  FROM sent GROUP BY tbl ORDER BY tbl
