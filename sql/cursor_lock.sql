-- cursor_lock: one poller per cursor table ($2, "schema.table") of versync schema $1 on this
-- database server at a time; a session lock, released by cursor_unlock when the pass ends (or
-- with the connection). Works on a hot standby too. The two-int form cannot collide with
-- init_lock's one-bigint key.
SELECT pg_try_advisory_lock(hashtext('versync cursor ' || $1), hashtext($2))
