-- verify_wal_position: --repair of a "capture": "wal" table writes at the current WAL insert position,
-- read under the table's SHARE lock: every later change of a row writes its heap record at or past
-- it and commits after, so its commit LSN (its version) is strictly greater and still wins.
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint
