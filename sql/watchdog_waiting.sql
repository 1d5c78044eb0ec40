-- watchdog_waiting: is anything waiting that this worker's claim could have
-- taken? $1 (a text[]) names the tables this worker has parked (their changes
-- wait on purpose), $2 the LISTEN channel. Counts at most 1 000 000 rows so the
-- check stays bounded on a huge backlog; the second column says whether this
-- session still listens (a lost LISTEN only slows a worker to its poll interval).
SELECT (SELECT count(*) FROM (SELECT 1 FROM @schema@.changes WHERE tbl <> ALL ($1::text[]) LIMIT 1000000) s),
       $2 = ANY (ARRAY(SELECT pg_listening_channels()))
