-- wal_slot_lag: how many seconds the slot $1 is behind, from the consumer's progress (meta key $2,
-- wal_progress_set.sql); NULL when unknown (no slot, or no progress reported yet).
-- 0 when nothing is unconfirmed, or when a connected consumer reported being caught up within the
-- last 30 s; else the age of the last transaction it applied when it was behind, or of its last
-- report when it was caught up (everything committed before that was applied; nothing is known since).
SELECT CASE WHEN s.confirmed_flush_lsn >= pg_current_wal_lsn() THEN 0
            WHEN p.caught_up IS NULL THEN NULL
            WHEN p.caught_up AND s.active AND now() - p.reported < interval '30 seconds' THEN 0
            WHEN p.caught_up THEN greatest(extract(epoch FROM now() - p.reported), 0)
            WHEN p.applied IS NULL THEN NULL
            ELSE greatest(extract(epoch FROM now() - p.applied), 0)
       END::float8
  FROM pg_replication_slots s
  LEFT JOIN LATERAL (
      SELECT split_part(m.value, ' ', 1) = '1' AS caught_up,
             CASE WHEN split_part(m.value, ' ', 2) = '0' THEN NULL
                  ELSE to_timestamp(split_part(m.value, ' ', 2)::float8 / 1e6) END AS applied,
             to_timestamp(split_part(m.value, ' ', 3)::float8 / 1e6) AS reported
        FROM @schema@.meta m
       WHERE m.key = $2 AND m.value ~ '^[01] [0-9]+ [0-9]+$'
  ) p ON true
 WHERE s.slot_name = $1
