-- deadletters_filter: how many dead letters match the filters of `versync deadletters`.
-- $1: table ("schema.table") or NULL for all; $2: only those whose last failure is older than
-- this many seconds, or NULL; $3: one seq, or NULL.
SELECT count(*)
  FROM @schema@.dead_letters
 WHERE ($1::text IS NULL OR tbl = $1::text)
   AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
   AND ($3::bigint IS NULL OR seq = $3::bigint)
