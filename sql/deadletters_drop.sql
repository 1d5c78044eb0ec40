-- deadletters_drop: delete the dead letters matching the filters (as in deadletters_filter)
-- for good. Returns the count per table.
WITH gone AS (
    DELETE FROM @schema@.dead_letters
     WHERE ($1::text IS NULL OR tbl = $1::text)
       AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
       AND ($3::bigint IS NULL OR seq = $3::bigint)
    RETURNING tbl
)
SELECT tbl, count(*) FROM gone GROUP BY tbl ORDER BY tbl
