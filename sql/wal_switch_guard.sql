-- wal_switch_guard: is some table among $1 (text[]: the config's "capture": "wal" tables) moving from
-- trigger capture to the stream, and where are the change sequence (the versions its documents may
-- carry) and the WAL insert position (below every commit LSN the stream will write)? And the first
-- one moving from cursor capture (its documents carry the application's versions), or NULL.
SELECT EXISTS (SELECT 1 FROM @schema@.tables
                WHERE tbl = ANY ($1::text[]) AND spec IS DISTINCT FROM 'wal' AND spec IS DISTINCT FROM 'cursor'),
       coalesce(pg_sequence_last_value(pg_get_serial_sequence('@schema@.changes', 'seq')::regclass), 0),
       (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint,
       (SELECT min(tbl) FROM @schema@.tables WHERE tbl = ANY ($1::text[]) AND spec = 'cursor')
