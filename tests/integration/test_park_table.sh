#!/usr/bin/env bash
# One table's schema change stops only that table. A column the config names is
# renamed (then dropped, then the table itself is dropped): the failing re-read
# parks that table alone, with a clear error in the log, `status` and /health
# (degraded, naming it), while the other table keeps flowing; fixing the schema
# resumes it by itself, fixing the config resumes it on SIGHUP, with nothing
# lost; the recovery is logged as the table resuming, never as "PostgreSQL
# reachable again".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.pa (id int primary key, name text, extra text);
     create table public.pb (id int primary key, name text);"
CFG=$T_DIR/v.json
write_cfg() { ws_config "$CFG" "[{\"table\": \"public.pa\", \"columns\": [$1]}, {\"table\": \"public.pb\"}]"; }
write_cfg '"id", "name", "extra"'
check "init" vs init
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 2 --metrics 0 2>"$RUN_LOG"
RUN_PID=$BG_PID
check "run announces its metrics endpoint" wait_until 30 grep -q 'metrics on http://127.0.0.1:[0-9]*/metrics' "$RUN_LOG"
MURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$RUN_LOG" | head -1)
health() { curl -s "$MURL/health"; }
health_is() { [ "$(health | jq -r .status)" = "$1" ]; }
name_of() { curl -s "$STORE_URL/$1/_doc/$2" | jq -r '._source.name // "missing"'; }
has_name() { [ "$(name_of "$1" "$2")" = "$3" ]; }

sql "insert into pa values (1, 'a1', 'x'); insert into pb values (1, 'b1')"
check "both tables flow" wait_until 30 has_name pa 1 a1
check "both tables flow (pb)" wait_until 30 has_name pb 1 b1
check "health is ok" wait_until 30 health_is ok

# ---- a renamed column: parked, the other table flows, a schema fix resumes ----------
sql "alter table pa rename column name to title"
sql "insert into pa values (2, 'a2', 'x'); update pa set title = 'a1 changed' where id = 1"
sql "insert into pb values (2, 'b2')"
check "the other table keeps flowing" wait_until 30 has_name pb 2 b2
check "the log names the parked table and the error" \
  wait_until 30 grep -q 'table public.pa parked: re-reading its rows fails: public.pa: column .*name.* does not exist (SQLSTATE 42703)' "$RUN_LOG"
check "/health turns degraded" wait_until 30 health_is degraded
h=$(health)
assert_match "/health names the parked table and why" 'table public.pa is parked: .*does not exist' "$h"
code=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/health")
assert_eq "/health still answers 200 (the other tables flow)" 200 "$code"
st=$(vs status 2>&1)
assert_match "status names the parked table and the error" 'parked: public.pa since .*: public.pa: column .*name.* does not exist' "$st"
stj=$(vs status --json)
assert_eq "status --json carries it per table" 42703 "$(jq -r '.tables[] | select(.table == "public.pa") | .parked.sqlstate' <<<"$stj")"
assert_eq "and not for the other table" null "$(jq -c '.tables[] | select(.table == "public.pb") | .parked' <<<"$stj")"
assert_eq "the parked table's changes wait in the change table" 2 \
  "$(sql "select count(*) from versync.changes where tbl = 'public.pa'")"
sql "insert into pb values (3, 'b3')"
check "a later change of the other table flows too" wait_until 30 has_name pb 3 b3

sql "alter table pa rename column title to name"
check "the schema fix resumes the table by itself" wait_until 60 has_name pa 2 a2
check "with nothing lost" has_name pa 1 'a1 changed'
check "the log says it resumed" grep -q 'table public.pa resumed after' "$RUN_LOG"
check "/health is ok again" wait_until 30 health_is ok
check "status no longer shows it parked" bash -c "! '$VERSYNC' -c '$CFG' status | grep -q '^parked:'"

# ---- a dropped column: a config fix and SIGHUP resume it ---------------------------
sql "alter table pa drop column extra"
sql "insert into pa values (3, 'a3')"
check "the dropped column parks the table" \
  wait_until 30 grep -q 'table public.pa parked: .*column .*extra.* does not exist' "$RUN_LOG"
sql "insert into pb values (4, 'b4')"
check "the other table keeps flowing" wait_until 30 has_name pb 4 b4
write_cfg '"id", "name"'
kill -HUP "$RUN_PID"
check "the config fix and SIGHUP resume it with nothing lost" wait_until 60 has_name pa 3 a3
check "/health is ok again after the reload" wait_until 30 health_is ok
check "status no longer shows it parked after the reload" \
  wait_until 30 bash -c "! '$VERSYNC' -c '$CFG' status | grep -q '^parked:'"

check "no outage was ever logged for PostgreSQL" bash -c "! grep -qi 'PostgreSQL reachable again\|retrying with backoff' '$RUN_LOG'"
kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null

# ---- once: a dropped table is parked, the rest drains, exit 1 naming it ---------------
sql "insert into pa values (4, 'a4'); insert into pb values (5, 'b5'); drop table pa"
out=$(vs once 2>&1); rc=$?
assert_eq "once exits 1 while a table is parked" 1 "$rc"
assert_match "naming it" 'table public.pa parked: .*does not exist \(SQLSTATE 42P01\)' "$out"
check "the other table drained" has_name pb 5 b5
assert_eq "the parked table's change stays queued" 1 "$(sql "select count(*) from versync.changes where tbl = 'public.pa'")"

done_testing
