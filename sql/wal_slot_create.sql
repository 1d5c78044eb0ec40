-- Create the logical slot $1 with the built-in pgoutput plugin; returns its consistent point.
SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')
