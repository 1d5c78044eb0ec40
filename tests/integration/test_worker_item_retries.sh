#!/usr/bin/env bash
# One document the store keeps answering 5xx for (faultproxy --item-fault) must not hold its
# batch back for ever: after store.max_item_retries more attempts it alone becomes a dead
# letter, the rest of the batch is applied, and `once` drains. The same for backfill, which
# reports it as an error and goes on. A whole-request 5xx is an outage, never counted per item.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

PROXY_OUT=$T_DIR/proxy.out
PROXY_LOG=$T_DIR/proxy.log
T_LOGS+=("$PROXY_LOG")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --item-fault poison:500 \
  >"$PROXY_OUT" 2>"$PROXY_LOG"
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$PROXY_OUT"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$PROXY_OUT")

sql "create table items (k text primary key, n int)"
ws_config "$CFG" '[{"table": "public.items"}]' "$PROXY_URL"
sed -i 's|"timeout_ms": 5000}|"timeout_ms": 5000, "max_item_retries": 2}|' "$CFG"
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

sql "insert into items values ('a', 1), ('poison', 2), ('c', 3)"
T_LOGS+=("$T_DIR/once.log")
out=$("$VERSYNC" -c "$CFG" once --timeout 30 2>"$T_DIR/once.log"); rc=$?
echo "# $out"
ONCE_OUT=$out
assert_eq "once drains although one item keeps failing" 0 "$rc"
assert_eq "the item was tried 1 + max_item_retries times" 3 "$(grep -c '^item-fault 500 poison' "$PROXY_LOG")"
# The first attempt wrote a and c before its claim was rolled back: the last one finds them stale.
assert_eq "it alone is a dead letter" "1 2" \
  "$(summary_field 'dead letters') $(( $(summary_field applied) + $(summary_field stale) ))"
assert_eq "the rest of its batch is in the store" '{"k":"a","n":1} {"k":"c","n":3}' \
  "$(doc items a) $(doc items c)"
assert_eq "the dead letter names the key, the status and the give-up" \
  "{poison}|500|t" \
  "$(sql "select key, http_status, error like 'gave up after 3 attempts (store.max_item_retries is 2): the store answered HTTP 500%' from versync.dead_letters")"
assert_eq "the change table is empty" 0 "$(backlog)"

# A later change of the same row is a new write with a clean record: tried again, 3 times.
sql "update items set n = 20 where k = 'poison'; update items set n = 10 where k = 'a'"
check "once drains again" once_ok again
assert_eq "the new version was tried 3 more times" 6 "$(grep -c '^item-fault 500 poison' "$PROXY_LOG")"
assert_eq "the same dead letter row? no: a new change, a new dead letter" 2 \
  "$(sql "select count(*) from versync.dead_letters")"
assert_eq "a is updated" '{"k":"a","n":10}' "$(doc items a)"

# backfill through the same proxy: the poisoned row is an error, the others are written.
sql "insert into items select 'b' || g, g from generate_series(1, 20) g"
T_LOGS+=("$T_DIR/backfill.log")
out=$("$VERSYNC" -c "$CFG" backfill 2>"$T_DIR/backfill.log"); rc=$?
echo "# $out"
assert_eq "backfill gave up on that item after 3 attempts" 9 "$(grep -c '^item-fault 500 poison' "$PROXY_LOG")"
assert_match "and reports it" 'key \{poison\}: store refused the document \(HTTP 500\): gave up after 3 attempts' \
  "$(cat "$T_DIR/backfill.log")"
assert_eq "the rest of the rows are in the store" '{"k":"b20","n":20}' "$(doc items b20)"
echo "# backfill exit $rc"

done_testing
