#!/usr/bin/env bash
# A store that accepts connections and never answers (faultproxy --hang): each
# request times out after store.timeout_ms, the workers retry without piling up
# connections (never more open at once than workers), `once --timeout` gives up
# with exit 3 and a clear message and loses nothing; once the store answers
# again (proxy switched to pass-through) `once` drains and verify finds no drift.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}
WORKERS=2

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table h (id int primary key, n int)"
CFG=$T_DIR/versync.json
ws_config "$CFG" '[{"table": "public.h"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
sql "insert into h select g, g from generate_series(1, 200) g"

PROXY_LOG=$T_DIR/proxy.log
T_LOGS+=("$PROXY_LOG")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --hang >"$T_DIR/proxy.out" 2>"$PROXY_LOG"
PROXY=$BG_PID
check "faultproxy --hang starts" wait_until 10 grep -q 'listening on' "$T_DIR/proxy.out"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$T_DIR/proxy.out")
ws_config "$T_DIR/hang.json" '[{"table": "public.h"}]' "$PROXY_URL"
sed -i 's/"timeout_ms": 5000/"timeout_ms": 500/' "$T_DIR/hang.json"
check "the store timeout is 500 ms" grep -q '"timeout_ms": 500' "$T_DIR/hang.json"

out=$("$VERSYNC" -c "$T_DIR/hang.json" once --workers $WORKERS --timeout 3 2>"$T_DIR/hang.log"); rc=$?
T_LOGS+=("$T_DIR/hang.log")
echo "# $out"
assert_eq "once against a store that never answers exits 3" 3 "$rc"
assert_match "with a clear message" 'giving up: the store unreachable for 3 s' "$(cat "$T_DIR/hang.log")"
assert_match "the requests timed out" '[Tt]imeout|timed out' "$(cat "$T_DIR/hang.log")"
accepted=$(grep -c '^conn open' "$PROXY_LOG")
most=$(awk '$1 == "conn" && $2 == "open" && $3 > m {m = $3} END {print m + 0}' "$PROXY_LOG")
requests=$(grep -c '^req ' "$PROXY_LOG")
echo "# the proxy accepted $accepted connections, saw $requests requests, at most $most open at once"
check "the workers retried (more than one request per worker)" test "$requests" -gt $WORKERS
check "connections do not pile up: at most $WORKERS open at once ($most)" test "$most" -ge 1 -a "$most" -le $WORKERS
all_closed() { [ "$(tail -1 <<<"$(grep '^conn' "$PROXY_LOG")")" = "conn close 0" ]; }
check "every connection was closed when once exited" wait_until 10 all_closed
assert_eq "nothing is lost: every change is still queued" 200 "$(backlog)"
assert_eq "nothing reached the store" 0 "$(curl -s "$STORE_URL/h/_count" | jq '.count // 0')"

# The store answers again.
kill -USR1 "$PROXY"
CFG=$T_DIR/hang.json
check "once through the pass-through proxy drains" once_ok drain
assert_eq "every change applied" 200 "$(summary_field applied)"
assert_eq "the change table is empty" 0 "$(backlog)"
out=$(vs verify 2>"$T_DIR/verify.log"); rc=$?
T_LOGS+=("$T_DIR/verify.log")
echo "$out" | sed 's/^/# /'
assert_eq "versync verify finds no drift" 0 "$rc"
done_testing
