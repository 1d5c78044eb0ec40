# bench_lib.sh — number formatting, summaries and state captures shared by the bench scripts (source it).

# median — of the numbers on stdin (one a line); "failed" when there are none.
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "failed"; else if (NR % 2) print a[(NR+1)/2];
                                 else printf "%.6g\n", (a[NR/2] + a[NR/2+1]) / 2}'
}
now() { date +%s.%N; }
# fmt N — thousands with a thin space as the README does (1 234 567); "failed" stays.
fmt() {
  [[ "${1:-}" =~ ^[0-9.]+$ ]] || { echo "${1:-failed}"; return; }
  awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); o = ""
    while (length(s) > 3) { o = " " substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'
}
# ms X [DECIMALS] — milliseconds with one decimal (or DECIMALS); "failed" stays.
ms() { [[ "${1:-}" =~ ^[0-9.]+$ ]] && printf "%.${2:-1}f" "$1" || echo "${1:-failed}"; }
mb() { [[ "$1" =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN{printf "%.1f MB", k/1024}' || echo "${1:-failed}"; }
# goal VALUE OP LIMIT — "met" / "missed" (numeric comparison), "failed" when VALUE is not a number.
goal() {
  [[ "$1" =~ ^-?[0-9.]+$ ]] || { echo failed; return; }
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? v >= l : v <= l; print ok ? "met" : "missed" }'
}

# bench_capture TITLE MURL RUN_LOG — everything that says where versync's workers wait, to
# stdout: the backlog, the sessions and their waits, the change table's locks, vacuum and
# the claim's plan, versync's /health and metrics (MURL: its --metrics address), verstore's
# commits and fsync times, and the run's log. Needs sql (lib.sh) and STORE_URL.
bench_capture() {
  echo "## $1, $(date -u '+%F %T UTC'), commit $(git rev-parse HEAD 2>/dev/null)"
  echo "## backlog by table"; sql "select tbl, op, count(*), min(seq), max(seq) from versync.changes group by 1, 2"
  echo "## sessions"
  sql "select pid, application_name, state, wait_event_type, wait_event, backend_xid, backend_xmin,
              now() - xact_start as xact_age, now() - state_change as in_state, left(query, 120)
         from pg_stat_activity where datname = current_database() order by xact_start nulls last"
  echo "## locks on the change table (and who blocks whom)"
  sql "select l.pid, l.mode, l.granted, pg_blocking_pids(l.pid) from pg_locks l
        where l.relation = 'versync.changes'::regclass order by l.pid"
  echo "## notification queue usage"; sql "select pg_notification_queue_usage()"
  echo "## the change table: dead rows, vacuum and analyze"
  sql "select n_live_tup, n_dead_tup, n_tup_del, last_autovacuum, last_vacuum, autovacuum_count, last_autoanalyze,
              pg_relation_size('versync.changes') as heap_bytes, pg_indexes_size('versync.changes') as index_bytes
         from pg_stat_user_tables where relid = 'versync.changes'::regclass"
  echo "## the claim's SELECT, as a worker runs it (rolled back)"
  sql "begin; explain (analyze, buffers, costs off)
         select seq from versync.changes where tbl <> all ('{}'::text[]) order by seq limit 500
         for update skip locked; rollback"
  echo "## /health"; curl -s -m 5 "$2/health"; echo
  echo "## versync metrics"; curl -s -m 5 "$2/metrics" | grep -v '^#'
  echo "## verstore: commits and their fsync time, writer batches"
  curl -s -m 5 "$STORE_URL/_prometheus/metrics" | grep -E '^verstore_(fsync_seconds|writer_batch_jobs)'
  echo "## versync run, last 60 lines"; tail -n 60 "$3"
}
