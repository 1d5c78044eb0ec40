#!/usr/bin/env bash
# The lag of "capture": "wal" (issue 22) in bytes and seconds: status (text and --json), check, and
# /metrics (versync_wal_slot_lag_bytes, versync_wal_apply_lag_seconds, …). The consumer reports its
# progress (caught up or not, the commit time of the last transaction applied); with versync down and
# changes waiting, the lag in seconds grows from its last report; with run streaming and caught up
# it is 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

wal_items_start

lag_s() { vs status --json 2>/dev/null | jq -r '.wal_slot.lag_seconds'; }
sql "insert into items select g, 'n' || g from generate_series(1, 20) g"
assert_eq "changes waiting, no consumer has reported yet: lag in seconds unknown (null)" null "$(lag_s)"
assert_match "status says so in words" 'lag in seconds unknown' "$(vs status 2>/dev/null)"
check "once applies them" once_ok first
L=$(lag_s)
echo "# lag_seconds after once: $L"
assert_eq "after once: a number of seconds, small" 1 "$(jq -n --argjson l "$L" 'if ($l|type) == "number" and $l >= 0 and $l < 30 then 1 else 0 end')"

# versync down, a change waiting: the lag grows from the last report.
sql "insert into items values (100, 'late')"
grows() { jq -en --argjson l "$(lag_s)" '$l >= 2' >/dev/null; }
check "with versync down the lag in seconds grows past 2 s" wait_until 20 grows
assert_match "status text shows seconds behind" 'bytes not yet applied, [0-9.]+ s behind, [0-9]+ bytes of WAL retained' \
  "$(vs status 2>/dev/null)"
assert_match "check shows them too" 'bytes not yet applied, [0-9.]+ s behind' "$(vs check 2>&1)"
OUT=$(vs check 2>&1)
check "check does not warn below wal.lag_warn_seconds (default 300)" bash -c "! grep -q 'lag_warn_seconds' <<<'$OUT'"
assert_eq "status --json: no lag warning by default" false "$(vs status --json 2>/dev/null | jq -r '.wal_slot.lag_warning')"
# wal.lag_warn_seconds: check and status warn once the slot is further behind than that.
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}]' "$STORE_URL" '"wal": {"lag_warn_seconds": 1},'
assert_match "check warns past wal.lag_warn_seconds" \
  'warning: replication slot "versync" is [0-9.]+ s behind \(more than wal.lag_warn_seconds = 1\)' "$(vs check 2>&1)"
assert_match "status warns too" 'warning: slot versync is [0-9.]+ s behind, more than wal.lag_warn_seconds = 1' \
  "$(vs status 2>/dev/null)"
assert_eq "status --json says so" "true 1" \
  "$(vs status --json 2>/dev/null | jq -r '"\(.wal_slot.lag_warning) \(.wal_slot.lag_warn_seconds)"')"

# ---- run with /metrics: caught up means 0 -------------------------------------------
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 --metrics 0 2>"$RUN_LOG"
check "the endpoint is announced" wait_until 20 grep -q 'metrics on http://127.0.0.1:[0-9]*/metrics' "$RUN_LOG"
MURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$RUN_LOG" | head -1)
check "run applies the waiting change" wait_until 30 bash -c "curl -sf '$STORE_URL/items/_doc/100' | jq -e .found >/dev/null"
caught_up() { [ "$(lag_s)" = 0 ]; }
check "streaming and caught up: 0 s behind" wait_until 30 caught_up
scrape() { curl -s "$MURL/metrics" >"$T_DIR/m.txt"; }
metric() { awk -v k="$1" '$1 == k {print $2}' "$T_DIR/m.txt"; }
m_ready() { scrape && [ -n "$(metric 'versync_wal_apply_lag_seconds{slot="versync"}')" ]; }
check "/metrics has versync_wal_apply_lag_seconds" wait_until 20 m_ready
assert_match "versync_wal_slot_lag_bytes is a number" '^[0-9]+$' "$(metric 'versync_wal_slot_lag_bytes{slot="versync"}')"
assert_match "versync_wal_slot_retained_bytes is a number" '^[0-9]+$' \
  "$(metric 'versync_wal_slot_retained_bytes{slot="versync"}')"
assert_eq "versync_wal_slot_active is 1 while run streams" 1 "$(metric 'versync_wal_slot_active{slot="versync"}')"
zero() { scrape && [ "$(metric 'versync_wal_apply_lag_seconds{slot="versync"}')" = 0.000 ]; }
check "versync_wal_apply_lag_seconds is 0 when caught up" wait_until 20 zero
assert_match "both families declared" 'TYPE versync_wal_apply_lag_seconds gauge' "$(grep TYPE "$T_DIR/m.txt")"
kill -TERM "$BG_PID" 2>/dev/null
check "run stops on SIGTERM" wait_until 20 bash -c "! kill -0 $BG_PID 2>/dev/null"

done_testing
