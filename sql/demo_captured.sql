-- How many change rows the capture triggers have written since `versync init`
-- created the change table (its seq sequence is fresh per demo run): a check
-- that the writers' own count of changes is exact.
SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('@schema@.changes', 'seq')::regclass), 0)
