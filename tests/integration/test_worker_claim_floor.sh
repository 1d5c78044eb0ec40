#!/usr/bin/env bash
# A claim does not walk the dead change rows earlier claims left behind (issue
# 21, the pauses under load). Claimed rows are deleted in seq order, so until
# vacuum removes them their dead entries pile up at the head of the change
# table's seq index, and a claim that scans from the oldest seq walks all of
# them, in every batch: 12 ms a claim at 800 000 dead rows in the soak, seconds
# once the table outgrows shared_buffers. A worker now starts each claim's scan
# just below its previous claim (WORKER_CLAIM_SLACK), and from the oldest only
# once a second. Here: 100 000 changes drained with autovacuum off (so they stay
# dead), then 2 000 more drained with every statement's plan and buffers logged
# (auto_explain): after the first claim, which scans from the oldest, no claim's
# index scan may read more than a third of the pages the first one read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c autovacuum=off -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=-1"
PG_EXTRA_OPTS+=" -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on -c auto_explain.log_timing=off"
check "throwaway PostgreSQL starts (auto_explain, autovacuum off)" pg_start
check "verstore starts" verstore_start
sql "create table public.cf (id int primary key, name text)"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.cf"}]'
check "init" vs init
sql "insert into cf select g, 'n' || g from generate_series(1, 100000) g"
check "100 000 changes drained (their rows now dead in the change table)" vs once --workers 1
assert_eq "the backlog is empty" 0 "$(backlog)"
mark=$(wc -l <"$PG_LOG")
sql "insert into cf select g, 'n' || g from generate_series(100001, 102000) g"
check "2 000 more drained, every plan logged" env PGOPTIONS="-c auto_explain.log_min_duration=0" \
  "$VERSYNC" -c "$CFG" once --workers 1
count_ok() { [ "$(curl -s "$STORE_URL/cf/_count" | jq -r .count)" = 102000 ]; }
check "the store holds every row" wait_until 30 count_ok
tail -n +"$((mark + 1))" "$PG_LOG" >"$T_DIR/drain.log"
# Each claim's entry: its Query Text, then the plan; the first "Buffers:" after
# the index scan of the change table is what that scan read.
awk '/ LOG: +duration: /{inq = 0; idx = 0}
     /Query Text: -- Claim up to/{inq = 1}
     inq && /Index Scan using changes_pkey/ {idx = 1; next}
     inq && idx && /Buffers:/ {match($0, /hit=[0-9]+/); h = substr($0, RSTART + 4, RLENGTH - 4) + 0;
                              r = 0; if (match($0, /read=[0-9]+/)) r = substr($0, RSTART + 5, RLENGTH - 5) + 0;
                              print h + r; idx = 0; inq = 0}' "$T_DIR/drain.log" >"$T_DIR/bufs"
n=$(wc -l <"$T_DIR/bufs")
first=$(head -1 "$T_DIR/bufs")
# later claims that read more than a third of what the first read: the last claim of
# the drain may be one (nothing above the floor, so it looks again from the oldest)
big=$(tail -n +2 "$T_DIR/bufs" | awk -v f="${first:-0}" '$1 * 3 > f {n++} END {print n + 0}')
echo "# claims logged: $n; pages the first claim's scan read: $first; later claims reading more than a third of that: $big"
tr '\n' ' ' <"$T_DIR/bufs" | sed 's/^/# pages per claim: /'; echo
check "the claims were logged (2 000 changes in batches of 50)" test "$n" -ge 40
check "the first claim walked the dead rows ($first pages)" test "${first:-0}" -ge 200
check "later claims did not walk them again ($big did, the drain's last empty claim may)" test "$big" -le 1
done_testing
