-- `once` marks where it stops: a non-transactional logical message, decoded (and sent by
-- pgoutput with messages 'true') after every transaction that committed before it.
SELECT pg_logical_emit_message(false, 'versync', $1)::text
