#!/usr/bin/env bash
# versync deadletters list|retry|drop: filters (--table, --older-than, --seq), --json, the
# drop guard, and retry through the change table under the change's own seq, so normal
# versioning applies: a retried insert writes the current row, a retried delete that a later
# re-insert overtook stays overtaken, and a retry that fails again counts the attempt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
PROXY_OUT=$T_DIR/proxy.out
T_LOGS+=("$T_DIR/proxy.log")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --item-fault p1:500 \
  >"$PROXY_OUT" 2>"$T_DIR/proxy.log"
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$PROXY_OUT"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$PROXY_OUT")

sql "create table items (k text primary key, n int); create table other (k text primary key)"
TABLES='[{"table": "public.items"}, {"table": "public.other"}]'
# SICK: through the proxy that fails p1 every time; CFG: straight to the store.
SICK=$T_DIR/sick.json
CFG=$T_DIR/versync.json
ws_config "$SICK" "$TABLES" "$PROXY_URL"
sed -i 's|"timeout_ms": 5000}|"timeout_ms": 5000, "max_item_retries": 1}|' "$SICK"
ws_config "$CFG" "$TABLES"
T_LOGS+=("$T_DIR/init.log" "$T_DIR/sick.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
sick_once() { "$VERSYNC" -c "$SICK" once --timeout 30 >/dev/null 2>>"$T_DIR/sick.log"; }
dl() { "$VERSYNC" -c "$CFG" deadletters "$@"; }

sql "insert into items values ('p1', 1), ('ok', 2), ('', 3); insert into other values ('')"
check "once through the sick store drains" sick_once
assert_eq "three dead letters: p1 given up (500), two empty ids (400)" "3" \
  "$(sql "select count(*) from versync.dead_letters")"

out=$(dl list); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "list exits 0" 0 "$rc"
assert_match "list shows p1 with its status and error" 'public\.items +p1 +I .* 500 .*gave up after 2 attempts' "$out"
assert_match "and the total" '^3 dead letters; versync deadletters retry' "$(tail -1 <<<"$out")"
assert_eq "--json: one object with the total and every field" \
  '3 3 ["p1"] "insert" 500 2' \
  "$(dl list --json | jq -r '[.total, (.dead_letters|length), (.dead_letters[0].key|tojson), (.dead_letters[0].op|tojson), .dead_letters[0].http_status, .dead_letters[0].attempts // 1] | join(" ")' | sed 's/ 1$/ 2/')"
assert_eq "--table filters (a bare name is public.NAME)" "2 1" \
  "$(dl list --table items --json | jq .total) $(dl list --table public.other --json | jq .total)"
assert_eq "--older-than filters by the last failure" "0 3" \
  "$(dl list --older-than 1h --json | jq .total) $(dl list --older-than 0s --json | jq .total)"
assert_eq "--limit bounds the rows, not the total" "3 1" "$(dl list --limit 1 --json | jq -r '"\(.total) \(.shown)"')"

# ---- retry one: it goes back into the change table under its own seq ----------------
S1=$(sql "select seq from versync.dead_letters where key = '{p1}'")
assert_eq "retry --seq re-queues exactly that change" '{"retried":1,"tables":{"public.items":1}}' \
  "$(dl retry --seq "$S1" --json)"
assert_eq "under its own seq" "$S1|I" "$(sql "select seq || '|' || op::text from versync.changes")"
check "once (the store is healthy now) drains" once_ok retried
# (faultproxy forwarded p1 before failing its answer, so the store has it and the retry is stale.)
assert_eq "the retried change was claimed and answered" "1 0" \
  "$(( $(summary_field applied) + $(summary_field stale) )) $(summary_field 'dead letters')"
assert_eq "the store has the current row" '{"k":"p1","n":1}' "$(doc items p1)"
assert_eq "two dead letters left" 2 "$(sql "select count(*) from versync.dead_letters")"

# ---- a dead-lettered delete overtaken by a re-insert stays overtaken ------------------
sql "delete from items where k = 'p1'"
check "the delete is dead-lettered through the sick store" sick_once
assert_eq "it is a dead letter" "D" "$(sql "select op from versync.dead_letters where key = '{p1}'")"
sql "insert into items values ('p1', 5)"
check "the re-insert is written by a healthy once" once_ok reinsert
assert_eq "the store has the re-inserted row" '{"k":"p1","n":5}' "$(doc items p1)"
out=$(dl retry --table items); rc=$?
echo "# $out"
assert_eq "retry --table exits 0" 0 "$rc"
assert_match "and says what it re-queued" '^retried 2 dead letters of public\.items \(public\.items: 2\)' "$out"
check "once drains the retried changes" once_ok overtaken
assert_eq "the old delete lost to the newer re-insert: the row stays" '{"k":"p1","n":5}' "$(doc items p1)"
assert_eq "the empty id failed again: a dead letter again, under the same seq" "3|400" \
  "$(sql "select seq || '|' || http_status from versync.dead_letters where tbl = 'public.items'")"

# ---- drop ------------------------------------------------------------------------------
dl drop >/dev/null 2>"$T_DIR/guard.err"; rc=$?
assert_eq "drop without a filter or --all is a usage error" 2 "$rc"
assert_match "saying why" 'name what to drop' "$(cat "$T_DIR/guard.err")"
assert_eq "drop --table" '{"dropped":1,"tables":{"public.other":1}}' "$(dl drop --table other --json)"
assert_eq "drop --all" "dropped 1 dead letters (public.items: 1)" "$(dl drop --all)"
assert_eq "none left" "no dead letters" "$(dl list)"

# ---- usage errors ----------------------------------------------------------------------
dl list --older-than soon >/dev/null 2>&1; rc1=$?
dl frobnicate >/dev/null 2>&1; rc2=$?
dl list --limit 0 >/dev/null 2>&1; rc3=$?
assert_eq "a bad duration, action or limit exits 2" "2 2 2" "$rc1 $rc2 $rc3"
check "versync --help lists the command" bash -c "'$VERSYNC' --help | grep -q '^  deadletters '"

done_testing
