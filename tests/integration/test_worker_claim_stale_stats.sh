#!/usr/bin/env bash
# The claim's DELETE does not trust the change table's statistics (issue 21, the
# 20 000 rows/s pause). A queue's statistics are a snapshot of a table that
# empties and fills: analysed while the workers kept it nearly empty, they say
# "no rows" over many pages, and PostgreSQL plans with that until the next
# autovacuum. Planned so, the claim's DELETE found the claimed seqs through a
# scan of the whole (tbl, seq) index, in every batch (the bench's lag step
# caught claims of 4.6 s under a backlog of 100 000). The DELETE now finds the
# rows the claim locked by ctid (a TID scan), whatever the statistics say.
# Here: 20 000 changes drained, ANALYZE with the table empty but its pages
# still there (autovacuum off), then 20 000 more; auto_explain logs every plan,
# and every claim must walk the primary key and delete by ctid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c autovacuum=off -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
check "throwaway PostgreSQL starts (auto_explain, autovacuum off)" pg_start
check "verstore starts" verstore_start
sql "create table public.cs (id int primary key, name text)"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.cs"}]'
check "init" vs init
RUNLOG=$T_DIR/run.log
T_LOGS+=("$RUNLOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 >"$RUNLOG" 2>&1
check "the worker is connected" wait_until 30 worker_up
sql "insert into cs select g, 'n' || g from generate_series(1, 20000) g"
check "20 000 changes synced" wait_until 120 backlog_empty
sql "analyze versync.changes" >/dev/null
read -r pages tuples < <(sql "select relpages, reltuples from pg_class where oid = 'versync.changes'::regclass" | tr '|' ' ')
echo "# the change table's statistics now: $pages pages, $tuples rows"
check "the statistics say: many pages, no rows" test "${pages:-0}" -gt 50 -a "${tuples%.*}" -le 0
plans() { # plans PATTERN — claims of the drain whose plan has a line matching PATTERN
  awk -v pat="$1" '/ LOG: +duration: /{inq = 0} /Query Text: -- Claim up to/{inq = 1; seen = 0}
                   inq && !seen && $0 ~ pat {n++; seen = 1} END {print n + 0}' "$T_DIR/drain.log"
}
mark=$(wc -l <"$PG_LOG")
sql "insert into cs select g, 'n' || g from generate_series(20001, 40000) g"
check "20 000 more changes synced" wait_until 120 backlog_empty
count_ok() { [ "$(curl -s "$STORE_URL/cs/_count" | jq -r .count)" = 40000 ]; }
check "the store holds every row" wait_until 30 count_ok
# One auto_explain entry per statement: its log line, then its Query Text and plan.
tail -n +"$((mark + 1))" "$PG_LOG" >"$T_DIR/drain.log"
claims=$(plans 'Query Text')
scanned=$(plans 'Seq Scan on changes|Bitmap Heap Scan on changes|Index Scan using changes_tbl_seq|Bitmap Index Scan on changes_tbl_seq')
ordered=$(plans 'Index Scan using changes_pkey on changes ')
bytid=$(plans 'Tid Scan on changes')
echo "# claim plans: $claims; scanning the change table otherwise than by its primary key: $scanned; by the primary key: $ordered; deleting by ctid: $bytid"
check "the drain's claims were logged (400 batches of 50)" test "$claims" -ge 400
check "no claim scans the change table but through its primary key ($scanned of $claims)" test "$scanned" = 0
check "every claim reads it in seq order from the primary key ($ordered of $claims)" test "$ordered" = "$claims"
check "every claim deletes what it locked by ctid ($bytid of $claims)" test "$bytid" = "$claims"
done_testing
