-- status_tables: per mapped table ($1, a text[] of "schema.table" in config order): changes
-- waiting, age of the oldest in milliseconds, dead letters, and whether it needs a resync;
-- version_regressed: of the dead letters, those whose version did not advance (issue 16).
SELECT u.tbl,
       coalesce(c.backlog, 0)                                                    AS backlog,
       (extract(epoch FROM clock_timestamp() - c.oldest) * 1000)::bigint        AS oldest_age_ms,
       coalesce(d.dead, 0)                                                       AS dead_letters,
       coalesce(r.needs_resync, false)                                           AS needs_resync,
       r.resync_reason,
       r.tbl IS NOT NULL                                                         AS initialized,
       coalesce(d.regressed, 0)                                                  AS version_regressed
  FROM unnest($1::text[]) WITH ORDINALITY AS u(tbl, i)
  LEFT JOIN LATERAL (SELECT count(*) AS backlog, min(changed_at) AS oldest
                       FROM @schema@.changes ch WHERE ch.tbl = u.tbl) c ON true
  LEFT JOIN LATERAL (SELECT count(*) AS dead,
                            count(*) FILTER (WHERE dl.error LIKE 'version\_regressed:%') AS regressed
                       FROM @schema@.dead_letters dl WHERE dl.tbl = u.tbl) d ON true
  LEFT JOIN @schema@.tables r ON r.tbl = u.tbl
 ORDER BY u.i;
