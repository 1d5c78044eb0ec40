#!/usr/bin/env bash
# Issue 16, row 1: BEGIN; DELETE; INSERT … (updated_at DEFAULT now()); COMMIT with an unmanaged
# timestamp version. The delete's version is the deleted row's stamp + 1 µs, never the clock, so
# the re-inserted row (stamped with its transaction's now()) wins over the tombstone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
. "$(dirname "$0")/contract_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table p (id int primary key, name text, updated_at timestamptz not null default now());
     create table q (id int primary key, name text, updated_at timestamp not null default now())"
ct_config "$CFG" '{"timestamp": "updated_at"}' ', {"table": "public.q", "version": {"timestamp": "updated_at"}}'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

sql "insert into p (id, name) values (1, 'old'), (2, 'two')"
check "once copies the rows" once_ok once1
assert_eq "row 1 is in the store" '"old"' "$(store_doc 1 | jq '.name')"

old_us=$(sql "select versync.us(updated_at) from p where id = 1")
# The clock moves on inside the transaction (pg_sleep), as it does in any real one: before the
# fix the delete took clock_timestamp(), later than the insert's now().
sql "begin; select pg_sleep(0.02); delete from p where id = 1; insert into p (id, name) values (1, 'new'); commit" >/dev/null
assert_eq "the delete's version is the old stamp + 1 µs" "$((old_us + 1))" \
  "$(sql "select version from versync.changes where op = 'D' and key = '{1}'")"
check "once applies the delete and the re-insert (batch_size 1: not coalesced)" once_ok once2
assert_eq "once saw no stale write" "0" "$(summary_field stale)"
assert_eq "the re-inserted row is in the store" '"new"' "$(store_doc 1 | jq '.name')"
assert_eq "at the re-inserted row's version" "$(sql "select versync.us(updated_at) from p where id = 1")" \
  "$(doc_version p 1)"

# The same for timestamp without time zone.
sql "insert into q (id, name) values (1, 'old')"
check "once copies q" once_ok once3
sql "begin; select pg_sleep(0.02); delete from q where id = 1; insert into q (id, name) values (1, 'new'); commit" >/dev/null
check "once applies q's delete and re-insert" once_ok once4
assert_eq "timestamp without time zone: the re-inserted row is in the store" '"new"' "$(doc q 1 | jq '.name')"

# A plain delete still removes the document, and a late replay of the old row cannot resurrect it.
sql "delete from p where id = 2"
check "once applies a plain delete" once_ok once5
assert_eq "the deleted row's document is gone" "missing" "$(store_doc 2)"

done_testing
