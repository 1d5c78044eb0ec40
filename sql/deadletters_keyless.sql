-- deadletters_keyless: how many dead letters matching the filters (as in deadletters_filter) retry
-- leaves in place: those of a "capture": "wal" table ($4, text[]) whose WAL record carried no key.
SELECT count(*)
  FROM @schema@.dead_letters
 WHERE ($1::text IS NULL OR tbl = $1::text)
   AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
   AND ($3::bigint IS NULL OR seq = $3::bigint)
   AND tbl = ANY ($4::text[]) AND key IS NULL
