-- deadletters_list: the dead letters matching the filters of `versync deadletters list` (as in
-- deadletters_filter), oldest change first, at most $4 of them. Each row also as one JSON object,
-- so the command never builds JSON from values by hand.
SELECT seq, tbl, coalesce(array_to_string(key, '|'), ''), op::text, coalesce(version::text, '-'), attempts,
       coalesce(http_status::text, '-'), to_char(last_failed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       error,
       json_build_object('seq', seq, 'table', tbl, 'key', key,
                         'op', CASE op WHEN 'I' THEN 'insert' WHEN 'U' THEN 'update' WHEN 'D' THEN 'delete'
                                       WHEN 'T' THEN 'truncate' ELSE op::text END,
                         'version', version, 'changed_at', changed_at, 'error', error, 'http_status', http_status,
                         'attempts', attempts, 'first_failed_at', first_failed_at,
                         'last_failed_at', last_failed_at)::text
  FROM @schema@.dead_letters
 WHERE ($1::text IS NULL OR tbl = $1::text)
   AND ($2::float8 IS NULL OR last_failed_at < now() - make_interval(secs => $2::float8))
   AND ($3::bigint IS NULL OR seq = $3::bigint)
 ORDER BY seq
 LIMIT $4
