#!/usr/bin/env bash
# Dead letters of "capture": "wal" (issue 22): a write the store refuses for good, and a change whose
# WAL record carries no key (replica identity without the key), land in <schema>.dead_letters, so
# `versync deadletters list|retry|drop` works for them. retry re-queues a WAL table's dead letters
# through the stream itself (a transactional logical message the slot consumer reads), not through
# the change table (trigger workers would write them with change-sequence versions): the consumer
# re-reads the row and writes it with the retry's commit LSN. A retry that fails again is a dead
# letter again under the same seq, its attempt counted; a keyless one stays put (nothing names it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
PROXY_OUT=$T_DIR/proxy.out
T_LOGS+=("$T_DIR/proxy.log")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --item-fault p1:500 \
  >"$PROXY_OUT" 2>"$T_DIR/proxy.log"
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$PROXY_OUT"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$PROXY_OUT")

sql "create table items (k text primary key, n int);
     create table codes (id int primary key, code text not null unique, n int)"
TABLES='[{"table": "public.items", "capture": "wal"},
         {"table": "public.codes", "capture": "wal", "key": ["code"]}]'
SICK=$T_DIR/sick.json
CFG=$T_DIR/versync.json
ws_config "$SICK" "$TABLES" "$PROXY_URL"
sed -i 's|"timeout_ms": 5000}|"timeout_ms": 5000, "max_item_retries": 1}|' "$SICK"
ws_config "$CFG" "$TABLES"
T_LOGS+=("$T_DIR/init.log" "$T_DIR/sick.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
sick_once() { "$VERSYNC" -c "$SICK" once --timeout 30 >/dev/null 2>>"$T_DIR/sick.log"; }
dl() { "$VERSYNC" -c "$CFG" deadletters "$@"; }
lsn_now() { sql "select pg_current_wal_lsn() - '0/0'::pg_lsn"; }

# ---- refused writes become dead letters ----------------------------------------------
L0=$(lsn_now)
sql "insert into items values ('p1', 1), ('ok', 2), ('', 3)"
L1=$(lsn_now)
check "once through the sick store drains" sick_once
assert_eq "two dead letters: p1 given up (500), the empty id (400)" "2" \
  "$(sql "select count(*) from versync.dead_letters")"
assert_eq "each with its table, key, op and status" '{""}|I|400 {p1}|I|500' \
  "$(sql "select string_agg(key::text || '|' || op::text || '|' || http_status, ' ' order by key) from versync.dead_letters")"
assert_eq "the version is the commit LSN" "1" \
  "$(sql "select count(*) = 2 from versync.dead_letters where version > $L0 and version <= $L1" | sed 's/t/1/')"
assert_eq "the seqs come from the change sequence" "1" \
  "$(sql "select count(distinct seq) = 2 and min(seq) > 0 from versync.dead_letters" | sed 's/t/1/')"
assert_eq "the good row was written" '{"k":"ok","n":2}' "$(doc items ok)"
CONF=$(sql "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots where slot_name = 'versync'")
assert_eq "the slot is confirmed past the transaction (dead letters are answered for)" 1 \
  "$([ "$CONF" -ge "$L1" ] && echo 1 || echo 0)"

out=$(dl list); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "list exits 0" 0 "$rc"
assert_match "list shows p1 with its status and error" 'public\.items +p1 +I .* 500 ' "$out"

# ---- retry: re-queued through the stream, written with the retry's commit LSN ------------
S1=$(sql "select seq from versync.dead_letters where key = '{p1}'")
L2=$(lsn_now)
assert_eq "retry --seq re-queues exactly that one" '{"retried":1,"tables":{"public.items":1}}' \
  "$(dl retry --seq "$S1" --json)"
assert_eq "nothing goes into the change table (trigger workers would claim it)" 0 \
  "$(sql "select count(*) from versync.changes")"
check "once (healthy store) drains the retry" once_ok retried
assert_eq "the store has the row" '{"k":"p1","n":1}' "$(doc items p1)"
assert_eq "written at a version past the retry (not refused as stale)" 1 \
  "$([ "$(doc_version items p1)" -gt "$L2" ] && echo 1 || echo 0)"
assert_eq "one dead letter left" 1 "$(sql "select count(*) from versync.dead_letters")"

S2=$(sql "select seq from versync.dead_letters where key = '{\"\"}'")
check "retry of the empty id" bash -c "'$VERSYNC' -c '$CFG' deadletters retry --table items >/dev/null"
check "once drains it" once_ok again
assert_eq "it failed again: a dead letter again, under the same seq, the attempt counted" "$S2|400|2" \
  "$(sql "select seq || '|' || http_status || '|' || attempts from versync.dead_letters")"

# ---- a delete whose WAL record does not carry the key ------------------------------------
sql "insert into codes values (1, 'c1', 1), (2, 'c2', 2)"
check "once writes the codes" once_ok codes
sql "delete from codes where id = 1"
check "once reads the keyless delete" once_ok keyless
assert_eq "it is a dead letter without a key, op D" "public.codes||D" \
  "$(sql "select tbl || '|' || coalesce(key::text, '') || '|' || op::text from versync.dead_letters where tbl = 'public.codes'")"
assert_match "its error says what to change" 'REPLICA IDENTITY' \
  "$(sql "select error from versync.dead_letters where tbl = 'public.codes'")"
out=$(dl retry --table codes 2>&1); rc=$?
echo "# $out"
assert_eq "retry of a keyless one exits 0" 0 "$rc"
assert_match "and says it stays (nothing names the document)" 'retried 0 dead letters.*1 .*no key' "$out"
assert_eq "it stays a dead letter" 1 "$(sql "select count(*) from versync.dead_letters where tbl = 'public.codes'")"
check "drop removes it" bash -c "'$VERSYNC' -c '$CFG' deadletters drop --table codes >/dev/null"
assert_eq "gone" 0 "$(sql "select count(*) from versync.dead_letters where tbl = 'public.codes'")"

# Two keyless deletes in one transaction are two dead letters, each naming its row.
sql "insert into codes values (3, 'c3', 3), (4, 'c4', 4)"
check "once writes them" once_ok codes2
sql "delete from codes where id in (3, 4)"
check "once reads both keyless deletes" once_ok keyless2
assert_eq "two dead letters, one per row" "2 (id)=(3) (id)=(4)" \
  "$(sql "select count(*) || ' ' || string_agg(substring(error from '\(id\)=\([0-9]+\)'), ' ' order by error)
          from versync.dead_letters where tbl = 'public.codes'")"

done_testing
