-- verify_notify: wake the workers (channel $1) for table $2 after --repair queued changes.
SELECT pg_notify($1, $2)
