-- status_parked: the parked tables (a worker could not re-read their rows), with the error, since
-- when (text) and the age of the last failure in milliseconds.
SELECT tbl, error, sqlstate, parked_at::text,
       (extract(epoch FROM clock_timestamp() - updated_at) * 1000)::bigint AS last_failure_age_ms
  FROM @schema@.parked ORDER BY tbl;
