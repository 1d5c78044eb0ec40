#!/usr/bin/env bash
# Moving a table from trigger capture to "capture": "wal" and back (issue 22). To WAL: init creates the
# slot before it drops the triggers (every change is in one or the other), and moves the change rows the
# triggers left waiting into the stream (no trigger worker runs once no table uses triggers, and one
# would write them at change-sequence versions), so the store converges with no backfill. Back to
# triggers: init lifts the change sequence above the WAL position, so the next changes outrank the
# commit LSNs the stream wrote; init warns that the slot nothing uses any more still holds WAL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table items (id int primary key, name text)"
T_LOGS+=("$T_DIR/init1.log" "$T_DIR/init2.log" "$T_DIR/init3.log")
ws_config "$CFG" '[{"table": "public.items"}]'
check "init with trigger capture" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init1.log' 2>&1"
sql "insert into items select g, 'n' || g from generate_series(1, 40) g"
check "once writes them" once_ok trig
Q="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
check "in sync under triggers" converged items "$Q"

# ---- to WAL, with changes still waiting in the change table -----------------------------
sql "update items set name = 'waiting' where id = 1; delete from items where id = 2;
     insert into items values (41, 'new 41')"
assert_eq "three changes wait in the change table" 3 "$(backlog)"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}]'
check "init switches the table to WAL" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init2.log' 2>&1"
cat "$T_DIR/init2.log" | sed 's/^/# /'
assert_match "it says it moved the waiting changes into the stream" \
  'public.items: moved 3 changes its triggers left waiting into the replication stream' "$(cat "$T_DIR/init2.log")"
assert_eq "the change table is empty" 0 "$(backlog)"
assert_eq "the triggers are gone" 0 \
  "$(sql "select count(*) from pg_trigger where tgrelid = 'items'::regclass and not tgisinternal")"
L0=$(sql "select pg_current_wal_lsn() - '0/0'::pg_lsn")
sql "update items set name = 'after' where id = 3"
check "once (WAL) drains the stream" once_ok wal
check "in sync: the waiting changes and the new one applied" converged items "$Q"
assert_eq "a change after the switch is written at its commit LSN" 1 \
  "$([ "$(doc_version items 3)" -gt "$L0" ] && echo 1 || echo 0)"

# ---- back to triggers ---------------------------------------------------------------------
sql "update items set name = 'streamed' where id = 4"
check "once (WAL) writes it" once_ok wal2
V4=$(doc_version items 4)
ws_config "$CFG" '[{"table": "public.items"}]'
check "init switches the table back to triggers" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init3.log' 2>&1"
cat "$T_DIR/init3.log" | sed 's/^/# /'
assert_match "it lifted the change sequence past the WAL position" \
  'public.items: back to trigger capture: lifted the change sequence' "$(cat "$T_DIR/init3.log")"
assert_match "and warns about the slot nothing uses now" \
  'replication slot "versync" exists, but no table has "capture": "wal"' "$(cat "$T_DIR/init3.log")"
assert_eq "the trigger is back" 1 \
  "$(sql "select count(*) > 0 from pg_trigger where tgrelid = 'items'::regclass and not tgisinternal" | sed 's/t/1/')"
sql "update items set name = 'trigger again' where id = 4"
check "once (triggers) writes it" once_ok trig2
assert_eq "the change outranks the LSN the stream wrote: applied, not stale" '{"id":4,"name":"trigger again"}' \
  "$(doc items 4)"
assert_eq "at a version above it" 1 "$([ "$(doc_version items 4)" -gt "$V4" ] && echo 1 || echo 0)"
check "in sync" converged items "$Q"
sql "select pg_drop_replication_slot('versync')" >/dev/null

done_testing
