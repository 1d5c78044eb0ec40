-- watchdog_holders: the sessions that hold a lock on the change table ($1, a
-- qualified name) in an open transaction, oldest transaction first. The claim's
-- FOR UPDATE SKIP LOCKED passes over rows another transaction has locked, so a
-- worker that finds changes waiting and claims none is waiting on one of these.
-- Never the query text: it may carry the application's values.
SELECT a.pid,
       coalesce(nullif(a.application_name, ''), '-'),
       coalesce(a.state, '-'),
       coalesce(a.wait_event_type || ':' || a.wait_event, '-'),
       coalesce((extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::bigint, 0)
  FROM pg_stat_activity a
 WHERE a.pid <> pg_backend_pid()
   AND a.pid IN (SELECT l.pid FROM pg_locks l
                  WHERE l.locktype = 'relation' AND l.granted AND l.relation = to_regclass($1))
 ORDER BY a.xact_start NULLS LAST
 LIMIT 5
