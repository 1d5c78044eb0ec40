-- wal_switch_bump: tables among $1 (text[]: the config's trigger-captured tables) that init last
-- registered as "capture": "wal" go back to triggers. Their documents carry commit LSNs, and a
-- change-sequence table writes the change's seq as its version: lift the sequence above the WAL
-- position now, so the next change of such a table (and every later one) outranks what the stream
-- wrote. Returns one row (the tables, the sequence's new value) when there is such a table.
WITH was AS (
    SELECT array_to_string(array_agg(tbl ORDER BY tbl), ', ') AS tbls
      FROM @schema@.tables
     WHERE tbl = ANY ($1::text[]) AND spec = 'wal'
)
SELECT tbls,
       setval(pg_get_serial_sequence('@schema@.changes', 'seq')::regclass,
              greatest(nextval(pg_get_serial_sequence('@schema@.changes', 'seq')::regclass),
                       (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint))
  FROM was
 WHERE tbls IS NOT NULL
