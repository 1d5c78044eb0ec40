#!/usr/bin/env bash
# versync backfill against a store that fails: 429 and 503 answers (faultproxy) are retried with
# backoff (logged once) and the copy completes; a document the store refuses (an id over 512
# bytes fails the whole bulk's validation) is found by sending that page one by one, named in
# the log and counted as an error (exit 1) without losing the rest of the page.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log" "$T_DIR/proxy.log")
sql "create table t (k text primary key, n int);
     insert into t select 'k' || g, g from generate_series(1, 2000) g;
     insert into t values (repeat('x', 600), 0);"
"$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --fault 429:2 --fault 503:2 \
  >"$T_DIR/proxy.out" 2>"$T_DIR/proxy.log" &
T_PIDS+=("$!")
wait_until 10 grep -q 'listening on' "$T_DIR/proxy.out"
proxy_url=$(grep -o 'http://[0-9.:]*' "$T_DIR/proxy.out")
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.t"}]'
vs init >/dev/null
sed -i "s#$STORE_URL#$proxy_url#" "$CFG"

out=$(vs backfill --batch 300); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "a refused document makes the backfill exit 1" 1 "$rc"
assert_match "and it is counted as an error, the rest written" "2001 rows read, 2000 written, 0 stale \(already newer\), 1 errors" "$out"
assert_eq "the proxy injected four faults" 4 "$(grep -c '^fault' "$T_DIR/proxy.log")"
assert_eq "the outage was logged once, not once per attempt" 1 "$(grep -c 'retrying with backoff' "$T_DIR/versync.log")"
check "the refused page was sent one by one" grep -q "store refused a bulk of 201 items (HTTP 400: action_request_validation_exception.*); sending them one by one" "$T_DIR/versync.log"
check "the refused row is named with the store's reason" grep -q "key {xxxxxxxx.*store refused the document (HTTP 400): HTTP 400: action_request_validation_exception" "$T_DIR/versync.log"
assert_eq "every other row has its document" 2000 "$(count t)"
done_testing
