#!/usr/bin/env bash
# Issue 16, row 3: UPDATE p SET name = … that does not touch the unmanaged updated_at (a bulk
# update, an ORM that skips the hook). The store refuses the same version; the worker re-read
# the current row and the store holds other content at that version: a version_regressed dead
# letter, in once's summary, status, /metrics and /health (degraded) — never a plain stale.
# A replay of the same state (same version, same content) stays an ordinary stale.
# verify --repair rewrites it (external_gte: an equal version names the same row state).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
. "$(dirname "$0")/contract_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table p (id int primary key, name text, updated_at timestamptz not null default now())"
ct_config "$CFG" '{"timestamp": "updated_at"}'
T_LOGS+=("$T_DIR/init.log" "$T_DIR/run.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

sql "insert into p (id, name) values (1, 'a'), (2, 'b')"
check "once copies the rows" once_ok once1
v1=$(doc_version p 1)

# A replay of a change already applied: same version, same content → stale, not regressed.
sql "insert into versync.changes (tbl, key, op, version) values ('public.p', '{2}', 'U', $(doc_version p 2))"
check "once replays an applied change" once_ok once2
assert_eq "a replay of the same state is an ordinary stale" "1" "$(summary_field stale)"
assert_eq "and no version_regressed" "0" "$(summary_field version_regressed)"

sql "update p set name = 'a2' where id = 1"
check "once after an update that did not bump updated_at" once_ok once3
assert_eq "not counted as stale" "0" "$(summary_field stale)"
assert_eq "counted as version_regressed" "1" "$(summary_field version_regressed)"
err=$(sql "select error from versync.dead_letters where key = '{1}'")
echo "# $err"
assert_match "the dead letter says the version did not advance" \
  "^version_regressed: the store holds version $v1 with other content, the current row has the same version" "$err"
assert_match "with the remedy" 'Remedy: set "managed": true' "$err"
assert_match "status says so" 'public\.p: 1 dead letters are version_regressed' "$(vs status 2>&1)"
assert_eq "the store kept the old content (until repaired)" '"a"' "$(store_doc 1 | jq '.name')"

# run --metrics: /metrics counts it, /health says degraded (200: the stream still flows).
"$VERSYNC" -c "$CFG" run --workers 1 --metrics 0 >"$T_DIR/run.log" 2>&1 &
RUN_PID=$!; T_PIDS+=("$RUN_PID")
check "metrics endpoint is up" wait_until 30 grep -q 'metrics on http://' "$T_DIR/run.log"
MURL=$(grep -o 'metrics on http://[^ ]*/metrics' "$T_DIR/run.log" | head -1 | sed 's/^metrics on //; s|/metrics$||')
sql "update p set name = 'b2' where id = 2"
regressed_total() { curl -s "$MURL/metrics" | awk '/^versync_changes_version_regressed_total\{table="public.p"\}/ {print $2}'; }
regressed_is() { [ "$(regressed_total)" = "$1" ]; } # asked again on every try
check "/metrics counts the new version_regressed write" wait_until 30 regressed_is 1
assert_match "/metrics has the version_regressed gauge" 'versync_version_regressed\{table="public.p"\} 2' \
  "$(curl -s "$MURL/metrics")"
h=$(curl -s -w ' %{http_code}' "$MURL/health")
echo "# $h"
assert_match "/health is degraded (HTTP 200)" '"status":"degraded".*version_regressed.* 200$' "$h"
kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null

# verify --repair rewrites the current rows at their own version (external_gte).
out=$(vs verify --repair 2>&1); echo "$out" | sed 's/^/# /'
assert_match "verify reports the drift as differs" 'differs' "$out"
assert_match "verify --repair rewrote it" 'repaired' "$out"
assert_eq "the store now has the current content of row 1" '"a2"' "$(store_doc 1 | jq '.name')"
assert_eq "and of row 2" '"b2"' "$(store_doc 2 | jq '.name')"
assert_eq "at the row's own version" "$v1" "$(doc_version p 1)"
out=$(vs verify 2>&1)
assert_match "verify then finds no drift" 'no drift|0 drift|ok' "$out"

done_testing
