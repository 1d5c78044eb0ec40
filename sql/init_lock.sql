-- init_lock: one `versync init` at a time per schema ($1, raw name), until the transaction ends.
SELECT pg_advisory_xact_lock(hashtext('versync init ' || $1));
