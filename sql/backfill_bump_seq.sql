-- backfill_bump_seq: make every later nextval of sequence $1 (a regclass name) exceed $2, so a delete
-- written at version $2 can never hide a write that comes after it.
SELECT setval($1::regclass, greatest(nextval($1::regclass), $2::bigint))
