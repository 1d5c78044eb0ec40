#!/usr/bin/env bash
# A worker that stops making progress says so, and recovers (issue 21, liveness).
# 1. Changes wait but another session holds their rows (FOR UPDATE): the
#    claim's SKIP LOCKED passes over them, so the worker claims nothing. Its
#    watchdog notices within a few poll intervals, logs what it waits on (the
#    holding session, by pid and application_name), reconnects (LISTEN again),
#    and /health answers 503 naming the worker; once the holder goes, the
#    worker claims again, logs it, and /health is ok.
# 2. A worker blocked inside a statement (the change table locked ACCESS
#    EXCLUSIVE) cannot run its own watchdog: /health reports it stuck in its
#    claim after the step limit, and ok again once the lock goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.wd (id int primary key, name text)"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.wd"}]'
check "init" vs init
name_of() { curl -s "$STORE_URL/wd/_doc/$1" | jq -r '._source.name // "missing"'; }
has_name() { [ "$(name_of "$1")" = "$2" ]; }
holder_has_lock() {
  [ "$(sql "select count(*) from pg_locks l join pg_stat_activity a using (pid)
            where a.application_name = '$1' and l.granted and l.relation = 'versync.changes'::regclass")" -gt 0 ]
}
release() { sql "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '$1'" >/dev/null; }

# ---- 1. rows held by another session -------------------------------------------------
sql "insert into wd select g, 'n' || g from generate_series(1, 5) g"
# The holder: a session that locks every waiting change row and keeps its
# transaction open (bounded: pg_sleep ends it after 300 s whatever happens).
bg psql -XAtq -v ON_ERROR_STOP=1 -c "set application_name = 'wd_holder'" \
  -c "begin; select count(*) from (select seq from versync.changes for update) s; select pg_sleep(300); commit;"
check "the holder locks the change rows" wait_until 30 holder_has_lock wd_holder

RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 --metrics 0 2>"$RUN_LOG"
RUN_PID=$BG_PID
check "run announces its metrics endpoint" wait_until 30 grep -q 'metrics on http://127.0.0.1:[0-9]*/metrics' "$RUN_LOG"
MURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$RUN_LOG" | head -1)
health() { curl -s "$MURL/health"; }
health_is() { [ "$(health | jq -r .status)" = "$1" ]; }
holder_pid=$(sql "select pid from pg_stat_activity where application_name = 'wd_holder'")

check "the watchdog logs the stall, naming the holding session" \
  wait_until 30 grep -q "watchdog: no claim for [0-9.]* s: 5 changes waiting, none claimable by this worker; the change table is held by: pid $holder_pid (wd_holder, active, transaction open [0-9.]* s, waiting on Timeout:PgSleep)" "$RUN_LOG"
check "and says how it recovers" grep -q 'watchdog: .*listening on "versync"; recovering: reconnecting to PostgreSQL and listening again' "$RUN_LOG"
check "/health turns unavailable" wait_until 30 health_is unavailable
# The watchdog reconnects while the stall lasts, and in that moment /health says
# "not connected to PostgreSQL" (503 as well); the stall's own reason comes back
# with the session, so wait for it rather than sampling once.
health_names_stall() {
  health | grep -Eq "worker 1 has made no progress for [0-9.]* s: 5 changes waiting and none claimed; the change table is held by: pid $holder_pid \\(wd_holder"
}
check "/health names the worker and what it waits on" wait_until 30 health_names_stall
code=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/health")
assert_eq "/health answers 503" 503 "$code"
assert_eq "nothing was written while the rows were held" missing "$(name_of 1)"

release wd_holder
check "once the holder goes, the changes flow" wait_until 30 has_name 5 n5
check "with nothing lost" wait_until 30 backlog_empty
check "the worker logs that it claims again" wait_until 30 grep -q 'watchdog: claiming again after [0-9.]* s without a claim' "$RUN_LOG"
check "/health is ok again" wait_until 30 health_is ok
check "a change after the recovery flows at once (LISTEN is back)" bash -c "psql -XAtq -c \"insert into wd values (6, 'n6')\""
check "it arrives" wait_until 30 has_name 6 n6

# ---- 2. a worker blocked inside its claim ---------------------------------------------
bg psql -XAtq -v ON_ERROR_STOP=1 -c "set application_name = 'wd_locker'" \
  -c "begin; lock table versync.changes in access exclusive mode; select pg_sleep(300); commit;"
check "the locker holds the change table" wait_until 30 holder_has_lock wd_locker
blocked() { [ "$(sql "select count(*) from pg_stat_activity where application_name = 'versync worker 1' and wait_event_type = 'Lock'")" = 1 ]; }
check "the worker blocks in its claim" wait_until 30 blocked
# The step limit: 5 poll intervals (1 s) + the store timeout (5 s).
check "/health reports it stuck in its claim" wait_until 30 health_is unavailable
assert_match "/health says where it is stuck" 'worker 1 has made no progress for [0-9.]* s: stuck claiming changes' "$(health)"
release wd_locker
sql "insert into wd values (7, 'n7')"
check "once the lock goes, the changes flow" wait_until 30 has_name 7 n7
check "/health is ok again after the lock" wait_until 30 health_is ok

kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
check "no secrets or query text in the log" bash -c "! grep -q 'pg_sleep\|for update' '$RUN_LOG'"
done_testing
