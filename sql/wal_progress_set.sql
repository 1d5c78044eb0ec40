-- wal_progress_set: the slot consumer's progress, for the lag in seconds that status, check and
-- /metrics report (wal_slot.sql). $1: the meta key (wal_progress:<slot>); $2: "C B R": C 1 when
-- it had read and applied everything the server had sent, B the commit time of the last
-- transaction applied (µs since the Unix epoch, 0 none yet), R when it reported (µs, Unix epoch).
-- Written at most every few seconds, and when C changes.
INSERT INTO @schema@.meta (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
