#!/usr/bin/env bash
# worker_stats is written at most once a second, not once per batch (issue 21:
# fewer round trips), and still counts every committed change exactly once:
# a drain of 40 batches writes the worker's row a handful of times, and
# `status` shows all 2 000 applied once the worker stops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.sb (id int primary key, name text)"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.sb"}]'
check "init" vs init
sql "insert into sb select g, 'n' || g from generate_series(1, 2000) g"
check "once drains 2 000 changes in batches of 50" once_ok once
assert_eq "every change applied" 2000 "$(summary_field applied)"
assert_eq "status sums them from worker_stats" 2000 "$(sql "select sum(applied) from versync.worker_stats")"
writes() { sql "select n_tup_ins + n_tup_upd from pg_stat_user_tables where relid = 'versync.worker_stats'::regclass"; }
few_writes() { local n; n=$(writes); [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le 20 ]; }
# Statistics reach pg_stat_user_tables when the session flushes them (at its end at the latest).
check "worker_stats was written a few times, not once per batch (40)" wait_until 30 few_writes
echo "# worker_stats writes: $(writes)"
done_testing
