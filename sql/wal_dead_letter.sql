-- wal_dead_letter: record one change of a "capture": "wal" table that can never be written (the store
-- refused it for good, or its WAL record does not carry the key), so `versync deadletters` sees it.
-- $1: the seq of a retried dead letter (it keeps it), or NULL to draw one from the change sequence
-- (so it never collides with a trigger table's); $2 table; $3 key (text[]; NULL: the WAL record did
-- not carry it); $4 op; $5 version (the commit LSN written); $6 commit time, µs since 2000-01-01 UTC;
-- $7 error; $8 HTTP status or NULL; $9 attempts before this one (a retried one's) or NULL.
-- A replay of a change already recorded (a crash before the slot was confirmed) counts an attempt
-- on its row instead of adding a second one (a keyless one is told apart by the row its error names).
WITH again AS (
    UPDATE @schema@.dead_letters
       SET error = $7::text, http_status = $8::int, version = $5::bigint, attempts = attempts + 1,
           last_failed_at = now()
     WHERE CASE WHEN $1::bigint IS NOT NULL THEN seq = $1::bigint
                ELSE tbl = $2::text AND key IS NOT DISTINCT FROM $3::text[] AND op = $4::"char"
                     AND version = $5::bigint
                     -- keyless ones of one transaction differ only in the row their error names
                     AND ($3::text[] IS NOT NULL OR error = $7::text) END
    RETURNING seq
)
INSERT INTO @schema@.dead_letters (seq, tbl, key, op, version, changed_at, error, http_status, attempts)
SELECT coalesce($1::bigint, nextval(pg_get_serial_sequence('@schema@.changes', 'seq'))), $2::text, $3::text[],
       $4::"char", $5::bigint, '2000-01-01 00:00:00+00'::timestamptz + make_interval(secs => $6::bigint / 1e6),
       $7::text, $8::int, coalesce($9::int, 0) + 1
 WHERE NOT EXISTS (SELECT 1 FROM again)
