#!/usr/bin/env bash
# Faults: documents the store rejects become dead letters without blocking the
# rest; a store answering 429/500 (faultproxy) makes workers back off and then
# converge; verstore stopped mid-run and restarted, and a PostgreSQL restart,
# are outages the run recovers from (logged once per outage); `once --timeout`
# gives up with exit 3 and loses nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "create table t_txt (k text primary key, name text);
     create table t_num (id int primary key, n int);"
ws_config "$CFG" '[{"table": "public.t_txt"}, {"table": "public.t_num"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
Q_TXT="select k as id, to_jsonb(t) as doc, null::bigint as v from t_txt t where k <> '' and length(k) <= 512"
Q_NUM="select id::text as id, to_jsonb(t) as doc, null::bigint as v from t_num t"

# ---- documents the store rejects (400) ----------------------------------------
# An empty id is refused per item; a 600-byte id fails the whole bulk's
# validation, so the worker retries the items one by one to find the culprit.
sql "insert into t_txt values ('ok1', 'a'), ('', 'empty id'), (repeat('x', 600), 'long id'), ('ok2', 'b');
     insert into t_num select g, g from generate_series(1, 20) g;"
check "once with rejected documents exits 0" once_ok rejected
assert_eq "two dead letters, the rest applied" "2 22" "$(summary_field 'dead letters') $(summary_field applied)"
assert_eq "the good documents are written" '{"k":"ok2","name":"b"}' "$(doc t_txt ok2)"
check "t_num is complete despite the bad rows in the same batch" converged t_num "$Q_NUM"
assert_eq "the empty id is a dead letter with the store's reason" \
  "400|illegal_argument_exception: if _id is specified it must not be empty" \
  "$(sql "select http_status, error from versync.dead_letters where key = '{\"\"}'")"
assert_match "the long id is a dead letter with the store's reason" 'is too long, must be no longer than 512 bytes' \
  "$(sql "select error from versync.dead_letters where length(key[1]) = 600")"
assert_eq "the change table is empty" 0 "$(backlog)"

# ---- 429 and 500 from the store: back off, retry, converge ------------------
PROXY_OUT=$T_DIR/proxy.out
PROXY_LOG=$T_DIR/proxy.log
T_LOGS+=("$PROXY_LOG")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --fault 429:3 --fault 500:3 \
  >"$PROXY_OUT" 2>"$PROXY_LOG"
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$PROXY_OUT"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$PROXY_OUT")
ws_config "$T_DIR/proxied.json" '[{"table": "public.t_txt"}, {"table": "public.t_num"}]' "$PROXY_URL"
sql "update t_num set n = n * 10 where id <= 10; delete from t_num where id = 20; insert into t_txt values ('ok3', 'c')"
out=$("$VERSYNC" -c "$T_DIR/proxied.json" once 2>"$T_DIR/proxied.log"); rc=$?
T_LOGS+=("$T_DIR/proxied.log")
echo "# $out"
ONCE_OUT=$out
assert_eq "once through 3×429 and 3×500 exits 0" 0 "$rc"
assert_eq "the proxy injected six faults" 6 "$(grep -c '^fault' "$PROXY_LOG")"
assert_eq "six claims were rolled back and retried" 6 "$(summary_field retries)"
assert_eq "the outage was logged once, not once per attempt" 1 "$(grep -c 'retrying with backoff' "$T_DIR/proxied.log")"
check "and its end" grep -q 'store reachable again' "$T_DIR/proxied.log"
check "t_num converged after the faults" converged t_num "$Q_NUM"
check "t_txt converged after the faults" converged t_txt "$Q_TXT"
assert_eq "worker_stats counts the retries" 6 "$(sql 'select sum(retries) from versync.worker_stats')"

# ---- once --timeout: the store stays down --------------------------------------
check "verstore stops" verstore_stop
sql "update t_num set n = -1 where id = 1"
out=$("$VERSYNC" -c "$CFG" once --timeout 1 2>"$T_DIR/timeout.log"); rc=$?
T_LOGS+=("$T_DIR/timeout.log")
assert_eq "once gives up with exit 3 when the store stays unreachable" 3 "$rc"
assert_match "with a clear message" 'giving up: the store unreachable for 1 s' "$(cat "$T_DIR/timeout.log")"
assert_eq "nothing is lost: the change is still queued" 1 "$(backlog)"

# ---- once --timeout: PostgreSQL is not there ------------------------------------
sed "s|\"postgres\": \"[^\"]*\"|\"postgres\": \"host=$T_DIR/no-such-dir port=1 dbname=x\"|" "$CFG" >"$T_DIR/nopg.json"
out=$("$VERSYNC" -c "$T_DIR/nopg.json" once --timeout 1 2>"$T_DIR/nopg.log"); rc=$?
T_LOGS+=("$T_DIR/nopg.log")
assert_eq "once gives up with exit 3 when PostgreSQL stays unreachable" 3 "$rc"
assert_match "naming PostgreSQL" 'giving up: PostgreSQL unreachable for 1 s' "$(cat "$T_DIR/nopg.log")"

# ---- verstore stopped mid-run, then restarted ---------------------------------
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" --log-level debug run --workers 2 2>"$RUN_LOG"
RUN=$BG_PID
sql "insert into t_num select g, g from generate_series(100, 300) g"
check "the run notices the store is down" wait_until 30 grep -q 'retrying with backoff' "$RUN_LOG"
attempts_at_least() { [ "$(grep -c 'still failing' "$RUN_LOG")" -ge "$1" ]; }
check "and keeps retrying" wait_until 30 attempts_at_least 4
check "verstore restarts on the same port and data" verstore_start
check "the run recovers: the backlog drains" wait_until 90 backlog_empty
check "the store equals the table" wait_until 30 converged t_num "$Q_NUM"
check "the recovery is logged" wait_until 10 grep -q 'store reachable again' "$RUN_LOG"
down=$(grep -c 'warn: .*retrying with backoff' "$RUN_LOG")
tries=$(grep -c 'still failing' "$RUN_LOG")
check "outage lines once per outage ($down), not per attempt ($tries)" test "$down" -le 4 -a "$tries" -gt "$down"

# ---- PostgreSQL restarted under the run ---------------------------------------
check "PostgreSQL restarts (immediate)" pg_restart
sql "update t_num set n = n + 1000 where id between 100 and 150"
check "the run reconnects and drains" wait_until 90 backlog_empty
check "the store equals the table after the PostgreSQL restart" wait_until 30 converged t_num "$Q_NUM"
kill -TERM "$RUN"
rc=0; wait "$RUN" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"

done_testing
