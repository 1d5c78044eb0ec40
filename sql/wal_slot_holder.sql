-- Who consumes replication slot $1 now: the PID of its walsender and that connection's
-- application_name (versync's replication connection calls itself 'versync-wal'); no row or NULLs
-- when nobody does.
SELECT s.active_pid, a.application_name
  FROM pg_replication_slots s
  LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
 WHERE s.slot_name = $1
