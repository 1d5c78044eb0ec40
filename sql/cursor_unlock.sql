-- cursor_unlock: release cursor_lock's lock on table $2 of versync schema $1.
SELECT pg_advisory_unlock(hashtext('versync cursor ' || $1), hashtext($2))
