#!/usr/bin/env bash
# "capture": "wal" (issue 22) against a real PostgreSQL at wal_level=logical + verstore: init creates
# the publication and the pgoutput slot (no triggers); init --backfill copies the rows that predate
# the slot; once applies inserts, updates, deletes, re-inserts, several changes of one row in one
# transaction, a key change, an update that leaves a TOASTed column out of the WAL, and TRUNCATE,
# each document versioned with its transaction's commit LSN; the slot's confirmed position moves
# past what was written and once with nothing new sends nothing; check reports the slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table items (id int primary key, name text, big text, n numeric, tags text[], at timestamptz);
create table plain (id int primary key, name text);
insert into items (id, name, n) select g, 'seed ' || g, g * 1.5 from generate_series(1, 30) g;
"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}, {"table": "public.plain"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init --backfill" bash -c "'$VERSYNC' -c '$CFG' init --backfill >'$T_DIR/init.log' 2>&1"
assert_match "init registers the table without triggers" 'registered public.items \("capture": "wal": no triggers\)' \
  "$(cat "$T_DIR/init.log")"
assert_match "init creates the publication" 'created publication "versync" of "public"."items"' "$(cat "$T_DIR/init.log")"
assert_match "init creates the slot" 'created replication slot "versync" \(pgoutput\)' "$(cat "$T_DIR/init.log")"
assert_eq "no triggers on the wal table" 0 \
  "$(sql "select count(*) from pg_trigger where tgrelid = 'items'::regclass and not tgisinternal")"
assert_eq "the slot is a pgoutput slot" "logical pgoutput" \
  "$(sql "select slot_type || ' ' || plugin from pg_replication_slots where slot_name = 'versync'")"
assert_eq "the publication publishes the table only" "public.items" \
  "$(sql "select schemaname || '.' || tablename from pg_publication_tables where pubname = 'versync'")"
check "init again changes nothing" bash -c "'$VERSYNC' -c '$CFG' init 2>&1 | grep -q 'nothing to change'"

Q_ITEMS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
check "the backfill copied the rows that predate the slot" converged items "$Q_ITEMS"

# lsn_now — the current WAL position as a number.
lsn_now() { sql "select pg_current_wal_lsn() - '0/0'::pg_lsn"; }

# ---- inserts, updates, deletes, re-inserts ---------------------------------------
L0=$(lsn_now)
sql "insert into items (id, name, tags, at) values (31, 'new 31', '{a,b}', '2026-01-02 03:04:05+00')"
L1=$(lsn_now)
sql "update items set name = 'changed 2' where id = 2"
sql "delete from items where id = 3"
sql "delete from items where id = 4; insert into items (id, name) values (4, 'back 4')"
sql "begin; update items set name = 'one' where id = 5; update items set name = 'two' where id = 5;
     delete from items where id = 6; insert into items (id, name) values (6, 'again 6');
     update items set name = 'three' where id = 5; commit"
sql "update items set id = 107 where id = 7"
sql "insert into plain values (1, 'trigger table')"
check "once applies them" once_ok once1
check "the index equals the table" converged items "$Q_ITEMS"
assert_eq "the deleted row's document is gone" missing "$(doc items 3)"
assert_eq "the old key of a changed key is gone" missing "$(doc items 7)"
assert_eq "several changes of a row in one transaction: the last state" '"three"' "$(doc items 5 | jq -c .name)"
V31=$(doc_version items 31)
check "a document's version is its transaction's commit LSN ($L0 < $V31 < $L1)" \
  test "$V31" -gt "$L0" -a "$V31" -lt "$L1"
check "later transactions carry greater versions" test "$(doc_version items 107)" -gt "$(doc_version items 4)"
assert_eq "the trigger table is synced beside it" '"trigger table"' "$(doc plain 1 | jq -c .name)"
assert_eq "types render as the trigger path renders them" '{"at":"2026-01-02T03:04:05+00:00","tags":["a","b"]}' \
  "$(doc items 31 | jq -cS '{at, tags}')"
CONF=$(sql "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots where slot_name = 'versync'")
check "the slot's confirmed position moved past the last write ($CONF >= $(doc_version items 107))" \
  test "$CONF" -ge "$(doc_version items 107)"
check "once with nothing new" once_ok once2
assert_eq "nothing new: nothing sent" "0 0" "$(summary_field applied) $(summary_field stale)"

# ---- TOAST: an update that leaves a large unchanged value out of the WAL ---------
sql "alter table items alter column big set storage external;
     update items set big = (select string_agg(md5(g::text), '') from generate_series(1, 400) g) where id = 8"
check "once writes the large value" once_ok once3
sql "update items set name = 'toast kept' where id = 8"
check "once after an update that did not send the large value" once_ok once4
assert_eq "the document keeps the large value and has the new name" "12800 \"toast kept\"" \
  "$(doc items 8 | jq -c '(.big | length | tostring) + " " + (.name | tojson)' -r)"
check "the index equals the table" converged items "$Q_ITEMS"

# ---- TRUNCATE --------------------------------------------------------------------
sql "begin; truncate items; insert into items (id, name) values (2, 'after truncate'); commit"
sql "insert into items (id, name) values (500, 'later')"
check "once applies the truncate" once_ok once5
check "only the rows since remain" converged items "$Q_ITEMS"
assert_eq "exactly those" '["2","500"]' "$(curl -s "$STORE_URL/items/_search?size=100" | jq -c '[.hits.hits[]._id] | sort')"

# ---- check -------------------------------------------------------------------------
T_LOGS+=("$T_DIR/check.log")
vs check >"$T_DIR/check.log" 2>&1
assert_match "check reports the slot" 'slot "versync": idle, confirmed up to' "$(cat "$T_DIR/check.log")"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}, {"table": "public.plain"}]' "$STORE_URL" \
  '"wal": {"lag_warn_bytes": 0},'
sql "insert into items (id, name) values (600, 'unconfirmed')"
vs check >"$T_DIR/check.log" 2>&1
assert_match "check warns past wal.lag_warn_bytes" 'warning: replication slot "versync" retains [0-9]+ bytes of WAL' \
  "$(cat "$T_DIR/check.log")"
assert_match "status shows the slot and its lag" 'slot versync: idle, confirmed up to [0-9A-F/]+ \(current [0-9A-F/]+\): [1-9][0-9]* bytes not yet applied' \
  "$(vs status 2>&1)"
assert_eq "status --json has it too" "versync true" \
  "$(vs status --json | jq -r '.wal_slot.slot + " " + (.wal_slot.lag_bytes > 0 | tostring)')"
done_testing
