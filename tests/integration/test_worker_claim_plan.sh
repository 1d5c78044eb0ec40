#!/usr/bin/env bash
# The claim is planned for the batch it runs, never generically (issue 21, the
# liveness collapse). A worker prepares its claim once; PostgreSQL plans a prepared
# statement for its parameters five times, then may switch to a generic plan, and
# one chosen while the change table was small does not know `LIMIT $1` nor the
# array's length: it deletes through a sequential scan of the whole change table
# with the claimed seqs as a filter. Under a backlog that grew after the switch,
# every batch then reads every change row (350 ms a batch at 200 000 changes,
# seconds under load), until an autoanalyze happens to invalidate the plan.
# Here: a worker claims six small batches from a near-empty table (autovacuum
# off, so nothing invalidates the plan), then drains 20 000 changes; auto_explain
# logs every statement's plan, and no claim may scan the change table.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c autovacuum=off -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
check "throwaway PostgreSQL starts (auto_explain, autovacuum off)" pg_start
check "verstore starts" verstore_start
sql "create table public.cp (id int primary key, name text)"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.cp"}]'
check "init" vs init
sql "analyze versync.changes" >/dev/null
RUNLOG=$T_DIR/run.log
T_LOGS+=("$RUNLOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 >"$RUNLOG" 2>&1 # (not `vs … &`: its pid would be a subshell's)
check "the worker is connected" wait_until 30 worker_up
for i in 1 2 3 4 5 6 7; do
  sql "insert into cp select g, 'n' || g from generate_series($((i * 10)), $((i * 10 + 4))) g"
  check "small batch $i synced" wait_until 30 backlog_empty
done
# From here on the table is large: a claim may no longer read all of it (a small
# table's own plans scan it, rightly: that is cheaper than the index there).
mark=$(wc -l <"$PG_LOG")
sql "insert into cp select g, 'n' || g from generate_series(1000, 20999) g"
check "20 000 changes synced" wait_until 120 backlog_empty
count_ok() { [ "$(curl -s "$STORE_URL/cp/_count" | jq -r .count)" = 20035 ]; }
check "the store holds every row" wait_until 30 count_ok
# One auto_explain entry per statement: its log line, then its Query Text and plan.
tail -n +"$((mark + 1))" "$PG_LOG" >"$T_DIR/drain.log"
claims=$(awk '/ LOG: +duration: /{inq = 0} /Query Text: -- Claim up to/{inq = 1; n++} END {print n + 0}' "$T_DIR/drain.log")
seqscans=$(awk '/ LOG: +duration: /{inq = 0} /Query Text: -- Claim up to/{inq = 1}
                inq && /Seq Scan on changes/ {n++; inq = 0} END {print n + 0}' "$T_DIR/drain.log")
echo "# claim plans logged: $claims; those with a sequential scan of the change table: $seqscans"
check "the drain's claims were logged (400 batches of 50, after seven small ones)" test "$claims" -ge 400
# A poll may plan a claim while the 20 000 rows are still being written, when the
# table is still small and a scan is the right plan for it: one or two such claims
# are fine; a generic plan makes it every one of the 400.
check "no claim on the backlog scans the whole change table ($seqscans of $claims)" test "$seqscans" -le 2
done_testing
