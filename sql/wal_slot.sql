-- The slot $1: plugin, whether it is of this database, active, WAL it retains, WAL not yet confirmed,
-- its confirmed position, the current position, and its type.
SELECT coalesce(s.plugin, ''), d.datname IS NOT DISTINCT FROM current_database(), s.active,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn), 0)::bigint,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint,
       coalesce(s.confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text, s.slot_type
  FROM pg_replication_slots s LEFT JOIN pg_database d ON d.oid = s.datoid
 WHERE s.slot_name = $1
