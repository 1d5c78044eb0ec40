-- $1: id, $2: a non-zero amount (a zero change would still be a change, but a
-- visible one keeps stale documents easy to see in the comparison).
UPDATE versync_demo.accounts
SET balance = balance + $2::bigint, updated_at = clock_timestamp()
WHERE id = $1::integer
