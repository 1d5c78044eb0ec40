#!/usr/bin/env bash
# status counts only the worker processes that reported within worker_stats_expire_s (rows of
# processes gone are shown apart and forgotten by the next run/once), and reports the lag of
# those that reported within lag_window_s, not the greatest lag any process ever had.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table items (id int primary key, n int)"
ws_config "$CFG" '[{"table": "public.items"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

# Fifteen processes that ran two hours ago, one of which once lagged badly.
sql "insert into versync.worker_stats (worker, started_at, updated_at, applied, lag_ms)
     select 'oldhost:' || g, now() - interval '3 hours', now() - interval '2 hours', 10,
            case g when 1 then 999999 else 5 end
       from generate_series(1, 15) g"
st=$(vs status --json)
echo "# $(jq -c .workers <<<"$st")"
assert_eq "gone processes are not reporting, their lag is not today's" "0 null 0 15" \
  "$(jq -r '.workers | "\(.reporting) \(.max_lag_ms) \(.applied) \(.expired)"' <<<"$st")"
assert_eq "the settings are shown" "3600 300" \
  "$(jq -r '.workers | "\(.expire_after_s) \(.lag_window_s)"' <<<"$st")"
out=$(vs status)
assert_match "text: none reporting" 'workers: 0 reporting in the last 3600s; .*max lag in the last 300s: -' "$out"
assert_match "text: the gone ones said apart" 'workers: 15 processes silent for more than 3600s not counted' "$out"

# A once forgets them and reports itself.
sql "insert into items values (1, 1)"
check "once drains" once_ok first
check "and says what it forgot" grep -q 'forgot the worker_stats of 15 processes' "$T_DIR/first.log"
assert_eq "only its own row is left" 1 "$(sql "select count(*) from versync.worker_stats")"
st=$(vs status --json)
echo "# $(jq -c .workers <<<"$st")"
assert_eq "one reporting, none expired, a small recent lag" "1 0 1 true" \
  "$(jq -r '.workers | "\(.reporting) \(.expired) \(.applied) \(.max_lag_ms != null and .max_lag_ms < 999999)"' <<<"$st")"

# Outside the lag window (but not expired): still reporting, no recent lag.
sql "update versync.worker_stats set updated_at = now() - interval '10 minutes'"
assert_eq "a lag older than lag_window_s is not reported" "1 null" \
  "$(vs status --json | jq -r '.workers | "\(.reporting) \(.max_lag_ms)"')"

# Both settings are configurable, and checked.
ws_config "$T_DIR/wide.json" '[{"table": "public.items"}]' "" '"lag_window_s": 900,'
assert_eq "a longer lag window shows that lag again" "900 1 true" \
  "$("$VERSYNC" -c "$T_DIR/wide.json" status --json | jq -r '.workers | "\(.lag_window_s) \(.reporting) \(.max_lag_ms != null)"')"
ws_config "$T_DIR/short.json" '[{"table": "public.items"}]' "" '"worker_stats_expire_s": 300,'
assert_eq "a shorter expiry: silent for 10 minutes is gone" "0 1" \
  "$("$VERSYNC" -c "$T_DIR/short.json" status --json | jq -r '.workers | "\(.reporting) \(.expired)"')"
ws_config "$T_DIR/bad.json" '[{"table": "public.items"}]' "" '"worker_stats_expire_s": 5,'
out=$("$VERSYNC" -c "$T_DIR/bad.json" status 2>&1); rc=$?
check "a too short expiry is refused" test "$rc" -ne 0
assert_match "naming the file and the field" 'bad.json: worker_stats_expire_s' "$out"

done_testing
