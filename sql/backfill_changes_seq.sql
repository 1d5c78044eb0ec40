-- backfill_changes_seq: the sequence behind @schema@.changes.seq (change-sequence versions), and
-- the per-table version sequence of managed version columns of table $1.
SELECT pg_get_serial_sequence('@schema@.changes', 'seq'),
       (SELECT version_seq FROM @schema@.tables WHERE tbl = $1)
