#!/usr/bin/env bash
# `versync run --metrics`: GET /metrics is valid Prometheus text (every sample
# belongs to a family with HELP and TYPE, counters end in _total, histogram
# buckets are cumulative and end at +Inf = _count) and its counters move with
# the work done; backlog and oldest-change age show changes waiting while the
# store is down; GET /health is 200 only while every worker is connected to
# both sides, 503 naming the reason otherwise; a bad --metrics is a usage error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table m_a (id int primary key, n int); create table m_b (id int primary key, s text);"
ws_config "$CFG" '[{"table": "public.m_a"}, {"table": "public.m_b"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

# ---- usage ---------------------------------------------------------------------
out=$(vs run --metrics nope:x 2>&1); rc=$?
assert_eq "a malformed --metrics is a usage error" 2 "$rc"
assert_match "naming the option" '--metrics: expected PORT or HOST:PORT' "$out"
out=$(vs once --metrics 9 2>&1); rc=$?
assert_eq "--metrics belongs to run" 2 "$rc"

# ---- run with metrics on an ephemeral loopback port ---------------------------------
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 2 --metrics 0 2>"$RUN_LOG"
RUN=$BG_PID
check "the endpoint is announced on loopback" wait_until 20 grep -q 'metrics on http://127.0.0.1:[0-9]*/metrics' "$RUN_LOG"
MURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$RUN_LOG" | head -1)

scrape() { curl -s "$MURL/metrics" >"$T_DIR/m.txt"; }
# metric NAME_WITH_LABELS — the value of one sample of the last scrape.
metric() { awk -v k="$1" '$1 == k {print $2}' "$T_DIR/m.txt"; }
health_status() { curl -s -o "$T_DIR/h.json" -w '%{http_code}' "$MURL/health"; }
healthy() { [ "$(health_status)" = 200 ]; }
unhealthy() { [ "$(health_status)" = 503 ]; }

check "health becomes 200 once the workers are connected" wait_until 30 healthy
assert_eq "health body says ok" '"ok"' "$(jq -c .status "$T_DIR/h.json")"

code=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/nope")
assert_eq "other paths are 404" 404 "$code"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$MURL/metrics")
assert_eq "text exposition content type" "text/plain; version=0.0.4; charset=utf-8" "$ctype"

sql "insert into m_a select g, g from generate_series(1, 120) g; insert into m_b values (1, 'x'), (2, 'y');"
applied_a() { scrape && [ "$(metric 'versync_changes_applied_total{table="public.m_a"}')" = 120 ]; }
check "applied counter of m_a reaches 120" wait_until 30 applied_a
assert_eq "applied counter of m_b is 2" 2 "$(metric 'versync_changes_applied_total{table="public.m_b"}')"

# The whole exposition parses: samples are NAME{LABELS} VALUE; every sample's
# family was declared with HELP and TYPE before it; counters end in _total.
parse_errors=$(awk '
  /^# HELP / { help[$3] = 1; next }
  /^# TYPE / { type[$3] = $4; if ($4 == "counter" && $3 !~ /_total$/) print "counter without _total: " $3; next }
  /^#/ { next }
  {
    if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? -?[0-9.eE+-]+$/) { print "bad line: " $0; next }
    name = $1; sub(/\{.*/, "", name); fam = name
    if (!(fam in type)) { fam = name; sub(/_(bucket|sum|count)$/, "", fam) }
    if (!(fam in type) || !(fam in help)) print "no HELP/TYPE for " name
  }' "$T_DIR/m.txt")
assert_eq "the exposition parses (format 0.0.4)" "" "$parse_errors"
for f in versync_changes_stale_total versync_changes_coalesced_total versync_changes_dead_lettered_total \
         versync_retries_total versync_backlog versync_oldest_change_age_seconds versync_workers_running versync_up; do
  check "family $f is exposed" grep -q "^# TYPE $f " "$T_DIR/m.txt"
done
assert_eq "two workers running" 2 "$(metric versync_workers_running)"

# Histogram: cumulative buckets ending at +Inf equal to _count; _count = batches > 0.
hist=$(awk '$1 ~ /^versync_batch_duration_seconds_bucket\{table="public.m_a"/ { if ($2 + 0 < prev) bad = 1; prev = $2 + 0; last = $2 }
            $1 == "versync_batch_duration_seconds_count{table=\"public.m_a\"}" { count = $2 }
            END { print (bad ? "not cumulative" : "cumulative"), (last == count ? "inf=count" : "inf!=count"), (count > 0 ? "observed" : "empty") }' "$T_DIR/m.txt")
assert_eq "batch duration histogram of m_a" "cumulative inf=count observed" "$hist"
check "its +Inf bucket is labelled le=\"+Inf\"" grep -q 'versync_batch_duration_seconds_bucket{table="public.m_a",le="+Inf"}' "$T_DIR/m.txt"

# Coalesced and stale move too: several updates of one key in one batch coalesce.
sql "begin; update m_b set s = 'a' where id = 1; update m_b set s = 'b' where id = 1; update m_b set s = 'c' where id = 1; commit;"
coalesced_b() { scrape && [ "$(metric 'versync_changes_coalesced_total{table="public.m_b"}')" -ge 1 ]; }
check "coalesced counter of m_b moves" wait_until 30 coalesced_b
check "the store got the last update" wait_until 30 converged m_b "select id::text as id, to_jsonb(t) as doc, null::bigint as v from m_b t"

# ---- store down: backlog, age and retries grow; health turns 503 ------------------------
check "verstore stops" verstore_stop
sql "insert into m_a select g, g from generate_series(1001, 1010) g"
backlog_a() { scrape && [ "$(metric 'versync_backlog{table="public.m_a"}')" = 10 ]; }
check "backlog of m_a shows the 10 waiting changes" wait_until 30 backlog_a
aged() { scrape && awk -v k='versync_oldest_change_age_seconds{table="public.m_a"}' '$1 == k && $2 > 0 {f=1} END {exit !f}' "$T_DIR/m.txt"; }
check "the oldest change's age is above zero" wait_until 30 aged
retried() { scrape && [ "$(metric versync_retries_total)" -ge 1 ]; }
check "retries counter moves" wait_until 30 retried
check "health turns 503 while the store is down" wait_until 30 unhealthy
assert_match "naming the store" 'store' "$(jq -c .reasons "$T_DIR/h.json")"
check "verstore restarts" verstore_start
check "health returns to 200" wait_until 60 healthy
backlog_zero() { scrape && [ "$(metric 'versync_backlog{table="public.m_a"}')" = 0 ]; }
check "the backlog drains to 0" wait_until 60 backlog_zero
assert_eq "applied counter of m_a is 130" 130 "$(metric 'versync_changes_applied_total{table="public.m_a"}')"

# ---- PostgreSQL down: health names PostgreSQL ----------------------------------------
_pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1
check "health turns 503 while PostgreSQL is down" wait_until 30 unhealthy
assert_match "naming PostgreSQL" 'PostgreSQL' "$(jq -c .reasons "$T_DIR/h.json")"
backlog_stale() { scrape && [ "$(metric versync_backlog_query_ok)" = 0 ]; }
check "backlog figures are flagged stale" wait_until 10 backlog_stale
check "PostgreSQL restarts" pg_restart
check "health returns to 200 after PostgreSQL is back" wait_until 60 healthy

# ---- a worker killed: health says it is not running until it is restarted -------------------
wpid=$(pgrep -P "$RUN" | head -1)
kill -KILL "$wpid"
check "the supervisor restarts the killed worker and health is 200 again" wait_until 30 healthy
scrape
assert_eq "counters survive a worker restart" 130 "$(metric 'versync_changes_applied_total{table="public.m_a"}')"

kill -TERM "$RUN"
rc=0; wait "$RUN" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"
done_testing
