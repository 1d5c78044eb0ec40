#!/usr/bin/env bash
# run.sh — `make bench`: is versync both correct and fast? One Markdown table.
#
# Starts its own throwaway PostgreSQL (tests/integration/lib.sh pg_start) and
# verstore (a fresh data dir for every run, default durability `request`), and
# measures, every figure the median of $RUNS runs:
#   1. drain: $N changes already waiting (one INSERT … SELECT generate_series
#      into the mapped table), `versync once --workers 1/2/4`, changes/s until
#      it exits (the store then holds them all: checked with _count); beside
#      it the PostgreSQL-side limit (bench/drain_probe --mode claim: the
#      worker's claim + re-read + commit, no HTTP, 2 processes) and the
#      store-side limit (bench/store_bench --file: the same documents as
#      pre-built _bulk bodies of batch_size, 2 connections);
#   2. lag under load: pgbench writes a steady R rows/s for $LAG_SECONDS while
#      `versync run --workers 2` (LISTEN) syncs. A deferred constraint trigger
#      on versync.changes fires inside the worker's COMMIT, i.e. after the
#      store acknowledged the batch, and records clock_timestamp() −
#      changed_at for every 10th change: p50/p99/max lag; the backlog is
#      sampled every 0.25 s ("bounded" = never more than one second of writes);
#   3. versioning overhead: the 2-worker drain with --no-versions;
#   4. naive baseline: drain_probe --mode naive (one change per transaction,
#      one PUT per change, 2 processes), on the first $NAIVE_MAX changes;
#   5. footprint: peak RSS (VmHWM) of every worker during the drains and of verstore;
#   6. store: bench/store_bench bulk and single PUT against verstore;
#   7. search: tests/bench/search.sh (bench/search_bench): ingest with and
#      without a text field and with no indexing at all, data dir size, term
#      and match latency against its own fresh verstores.
#   8. soak (not with QUICK=1 unless SOAK=1): tests/bench/soak.sh drives
#      `versync run` at 20 000 rows/s in rounds for 5 minutes and captures the
#      workers' state whenever the backlog stops shrinking;
# DRAIN_ONLY=1 runs only the paired 2-worker drain of the two claim paths (see there).
# Prints the table and writes it to $BUILD/bench.md. QUICK=1: a small run (one
# run per figure) that only proves the benchmark works (make test runs it).
# BENCH_STEPS=drain,lag,store,search,soak,wal (the default: all) runs only the
# steps named; the table then holds only their rows. "drain" is steps 1, 3, 4,
# 5 and the nested row (whose ratio needs the flat drain of the same run).
# LAG_GROW_SECONDS=2: a lag run whose backlog passes that many seconds of its
# rate keeps where the workers wait, once (build/bench-lag-grow-MAPPING-RATE-RUN.txt).
# Exit status 1 when a step failed (its cells say "failed").
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
. tests/integration/lib.sh
BENCH_BIN=$VS_BUILD/bench
for b in "$VERSYNC" "$VERSTORE" "$BENCH_BIN/store_bench" "$BENCH_BIN/drain_probe" "$BENCH_BIN/search_bench" \
  "$BENCH_BIN/peak_rss"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing; run make bench" >&2; exit 2; }
done
command -v pgbench >/dev/null || PATH=$PG_BIN:$PATH

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  N=${N:-20000} RUNS=${RUNS:-1} LAG_RATES=${LAG_RATES:-"1000 5000"} LAG_SECONDS=${LAG_SECONDS:-2}
  NAIVE_MAX=${NAIVE_MAX:-500} BULK_DOCS=${BULK_DOCS:-20000} PUT_SECONDS=${PUT_SECONDS:-1}
else
  N=${N:-1000000} RUNS=${RUNS:-3} LAG_RATES=${LAG_RATES:-"1000 5000 20000"} LAG_SECONDS=${LAG_SECONDS:-20}
  NAIVE_MAX=${NAIVE_MAX:-5000} BULK_DOCS=${BULK_DOCS:-200000} PUT_SECONDS=${PUT_SECONDS:-5}
fi
BATCH=${BATCH:-500}
LAG_GROW_SECONDS=${LAG_GROW_SECONDS:-2}
BENCH_STEPS=${BENCH_STEPS:-drain,lag,store,search,soak,wal}
for s_ in ${BENCH_STEPS//,/ }; do
  case $s_ in drain | lag | store | search | soak | wal) ;; *)
    echo "run.sh: BENCH_STEPS: unknown step '$s_' (steps: drain, lag, store, search, soak, wal)" >&2; exit 2 ;;
  esac
done
step() { [[ ",$BENCH_STEPS," == *",$1,"* ]]; }
status=0
t_start=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The code measured: a figure is only quotable next to the commit it came from
# ("+dirty" when the worktree had uncommitted changes to tracked files).
bench_commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")
git diff --quiet HEAD -- 2>/dev/null || bench_commit="$bench_commit+dirty"
say() { echo "# [$((SECONDS - t_start))s] $*" >&2; }

# ---- helpers -----------------------------------------------------------------

. tests/bench/bench_lib.sh

changes_drained() { [ "$(sql "select count(*) from versync.changes")" = 0 ]; }

# workers_connected N — exactly N versync workers hold a PostgreSQL session
# (a function, so wait_until asks again on every try).
workers_connected() {
  [ "$(sql "select count(*) from pg_stat_activity where application_name like 'versync worker%'")" = "$1" ]
}

STORE_PORT=$(free_port)
# store_fresh — (re)start verstore on the same port with an empty data dir.
store_fresh() {
  [ -n "$STORE_PID" ] && verstore_stop >/dev/null 2>&1
  rm -rf "$T_DIR/store"
  STORE_DATA=$T_DIR/store
  verstore_start --log-level warn "$@" || { echo "run.sh: verstore did not start" >&2; exit 1; }
  create_index bench || { echo "run.sh: cannot create index" >&2; exit 1; }
}
# The two indices the drains and the lag run against, side by side in one invocation:
#   static   {"dynamic": false}: documents stored, nothing indexed, so the store is not the
#            bottleneck and the figures are the bridge's own;
#   dynamic  no mapping, as a user's table is mapped by default: every string a text field
#            with a keyword sub-field, numbers and dates indexed.
# MAPPINGS="static dynamic" (the default) names the ones measured.
MAPPINGS=${MAPPINGS:-static dynamic}
for m_ in $MAPPINGS; do
  case $m_ in static | dynamic) ;; *) echo "run.sh: MAPPINGS: unknown mapping '$m_' (static, dynamic)" >&2; exit 2 ;; esac
done
MAPPING=dynamic
# create_index NAME — the index NAME on the running store, with the current $MAPPING.
create_index() {
  curl -sf -o /dev/null -X PUT "$STORE_URL/$1" -H 'Content-Type: application/json' \
    -d "$([ "$MAPPING" = static ] && echo '{"mappings":{"dynamic":false}}' || echo '{}')"
}
# ixl MAPPING — how rows and messages name the index measured.
ixl() { [ "$1" = static ] && echo '{"dynamic": false} index' || echo 'dynamically mapped index'; }
store_count() { curl -s "$STORE_URL/bench/_count" | jq -r '.count // 0'; }
store_hwm() { awk '/^VmHWM/ {print $2}' "/proc/$STORE_PID/status" 2>/dev/null; }

# ---- world -----------------------------------------------------------------

say "starting PostgreSQL and verstore"
pg_start || exit 1
store_fresh
CFG=$T_DIR/versync.json
cat >"$CFG" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "timeout_ms": 30000},
  "batch_size": $BATCH,
  "poll_interval_ms": 1000,
  "tables": [{"table": "public.bench", "index": "bench"}]
}
JSON
sql "create table public.bench (id bigint primary key, sku text not null, name text not null,
       price numeric(10,2) not null, qty int not null, tags text[] not null,
       updated_at timestamptz not null default now());
     create sequence public.bench_ids start 100000000;" || exit 1
"$VERSYNC" -c "$CFG" --log-level warn init >/dev/null || { echo "run.sh: versync init failed" >&2; exit 1; }
# A 1M-row backlog writes several GB of WAL: with the default 1 GB max_wal_size
# checkpoints every ~20 s land in the middle of the figures.
sql "alter system set max_wal_size = '8GB'" && sql "select pg_reload_conf()" >/dev/null

# Rows for the mapped table, numbered by the column g of the FROM item %s
# (one statement: the capture trigger fires per row, the notify one per statement).
ROWS_SQL="insert into public.bench (id, sku, name, price, qty, tags)
  select g, 'SKU-' || lpad(g::text, 9, '0'), 'product number ' || g || ' of the benchmark catalogue',
         (g %% 100000) / 100.0, g %% 1000, array['bench', 'tag' || (g %% 7)]
  from %s"

say "filling the backlog: $N changes"
t0=$(now)
sql "$(printf "$ROWS_SQL" "generate_series(1, $N) g")" || exit 1
fill_s=$(echo "$(now) - $t0" | bc)
# Every later drain starts from the very same change rows (fresh seqs), copied
# back in one statement: far quicker than firing the triggers again.
sql "create table public.bench_saved as select tbl, key, op, version, changed_at from versync.changes order by seq" || exit 1
have_backlog=1
restore_backlog() {
  if [ "$have_backlog" = 0 ]; then
    sql "truncate versync.changes; insert into versync.changes (tbl, key, op, version, changed_at)
         select tbl, key, op, version, changed_at from public.bench_saved" || return 1
  fi
  have_backlog=0
  sql "analyze versync.changes" >/dev/null 2>&1
}

# The documents versync sends, as one NDJSON bulk body file for the store-side limit.
psql -XAtq -v ON_ERROR_STOP=1 -o "$T_DIR/docs.ndjson" -c \
  "select format('{\"index\":{\"_index\":\"bench\",\"_id\":\"%s\",\"version\":%s,\"version_type\":\"external\"}}', b.id, b.id)
          || chr(10) || to_jsonb(b)::text from public.bench b order by b.id" || exit 1

worker_hwm_max=0
# drain_once WORKERS [ARGS…] — restore the backlog, run versync once on a fresh
# store; sets DRAIN_RATE (changes/s) and DRAIN_CPU_US (versync's CPU µs per change), or returns 1
# (a wrong count is a failure).
# Not to be called in $(…): it restarts the store, whose pid this shell keeps.
drain_once() {
  local w=$1; shift
  DRAIN_RATE="" DRAIN_CPU_US=""
  restore_backlog || return 1
  store_fresh
  local t0 t1 pid rc hwm cpu_u cpu_s
  t0=$(now)
  # The workers' peak RSS from wait4, once at the end (peak_rss.c): nothing polls during the drain.
  "$BENCH_BIN/peak_rss" "$T_DIR/hwm" "$VERSYNC" -c "$CFG" --log-level warn once --workers "$w" "$@" \
    >"$T_DIR/once.out" 2>"$T_DIR/once.err" &
  pid=$!
  wait "$pid"; rc=$?
  t1=$(now)
  read -r hwm cpu_u cpu_s <"$T_DIR/hwm" 2>/dev/null || hwm=0
  # versync's own CPU (supervisor and workers, user + system) per change.
  DRAIN_CPU_US=$(awk -v u="${cpu_u:-0}" -v s="${cpu_s:-0}" -v n="$N" 'BEGIN { printf "%.2f", (u + s) * 1e6 / n }')
  [ "$hwm" -gt "$worker_hwm_max" ] && worker_hwm_max=$hwm
  local got
  got=$(store_count)
  local sh; sh=$(store_hwm); [ -n "$sh" ] && echo "$sh" >>"$T_DIR/store_hwm"
  if [ "$rc" != 0 ] || [ "$got" != "$N" ]; then
    echo "run.sh: once --workers $w $* exited $rc, store holds $got of $N" >&2
    cat "$T_DIR/once.err" >&2
    return 1
  fi
  DRAIN_RATE=$(echo "$N / ($t1 - $t0)" | bc -l)
}

# DRAIN_ONLY=1: only the 2-worker drain, in pairs of the combined claim + re-read (one
# statement, the default) and the two-statement path (VERSYNC_BENCH_TWO_STATEMENTS=1),
# alternating which goes first; prints one line per run and the medians, then stops.
# The index is mapped as the first of $MAPPINGS says; DRAIN_MODES="one" leaves out the two-statement path.
if [ "${DRAIN_ONLY:-0}" = 1 ]; then
  MAPPING=${MAPPINGS%% *}
  # BASE_VERSYNC=PATH adds a drain per round by another build of versync (an earlier commit),
  # BASE_VERSTORE=PATH one into another build of verstore.
  modes="${DRAIN_MODES:-one two}${BASE_VERSYNC:+ base}${BASE_VERSTORE:+ basestore}"
  : >"$T_DIR/one"; : >"$T_DIR/two"; : >"$T_DIR/base"; : >"$T_DIR/one.cpu"; : >"$T_DIR/two.cpu"; : >"$T_DIR/base.cpu"; : >"$T_DIR/basestore"; : >"$T_DIR/basestore.cpu"
  for i in $(seq 1 "$RUNS"); do
    set -- $modes
    for _ in $(seq 2 "$i"); do set -- "$@" "$1"; shift; done # rotate: each mode goes first in turn
    for mode in "$@"; do
      case $mode in
        two) VERSYNC_BENCH_TWO_STATEMENTS=1 drain_once 2 || status=1 ;;
        base) saved=$VERSYNC VERSYNC=$BASE_VERSYNC  # not a subshell: drain_once restarts the store
              drain_once 2 || status=1
              VERSYNC=$saved ;;
        basestore) saved=$VERSTORE VERSTORE=$BASE_VERSTORE
              drain_once 2 || status=1
              VERSTORE=$saved ;;
        *) drain_once 2 || status=1 ;;
      esac
      say "drain, 2 workers, run $i, $mode: $(fmt "$DRAIN_RATE") changes/s, versync CPU $DRAIN_CPU_US µs/change"
      [ -n "$DRAIN_RATE" ] && echo "$DRAIN_RATE" >>"$T_DIR/$mode" && echo "$DRAIN_CPU_US" >>"$T_DIR/$mode.cpu"
    done
  done
  echo "drain-only: commit $bench_commit, $(ixl "$MAPPING"), $(date -u '+%Y-%m-%d %H:%M UTC'), N=$N, RUNS=$RUNS, load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "| drain, versync once --workers 2, claim + re-read in one statement | $(fmt "$(median <"$T_DIR/one")") changes/s | $(median <"$T_DIR/one.cpu") µs versync CPU/change |"
  [[ " $modes " == *" two "* ]] && echo "| drain, versync once --workers 2, claim then re-read (two statements) | $(fmt "$(median <"$T_DIR/two")") changes/s | $(median <"$T_DIR/two.cpu") µs versync CPU/change |"
  [ -n "${BASE_VERSYNC:-}" ] && echo "| drain, versync once --workers 2, $BASE_VERSYNC | $(fmt "$(median <"$T_DIR/base")") changes/s | $(median <"$T_DIR/base.cpu") µs versync CPU/change |"
  [ -n "${BASE_VERSTORE:-}" ] && echo "| drain, versync once --workers 2, into $BASE_VERSTORE | $(fmt "$(median <"$T_DIR/basestore")") changes/s | $(median <"$T_DIR/basestore.cpu") µs versync CPU/change |"
  exit "$status"
fi

declare -A rate # (before the step: the table reads it whichever steps ran)
if step drain; then
# ---- 1, 3, 5: drains -------------------------------------------------------------

for MAPPING in $MAPPINGS; do
say "drains into the $(ixl "$MAPPING")"
# The 2-worker drain runs in pairs with --no-versions (alternating which goes
# first), so the cost of versions is a ratio of neighbouring runs.
: >"$T_DIR/nover"; : >"$T_DIR/ratio"; : >"$T_DIR/cpu"
for w in 1 2 4; do
  : >"$T_DIR/r"
  for i in $(seq 1 "$RUNS"); do
    if [ "$w" = 2 ]; then
      v="" p=""
      for mode in $([ $((i % 2)) = 1 ] && echo "versioned plain" || echo "plain versioned"); do
        if [ "$mode" = versioned ]; then
          drain_once 2 || status=1; v=$DRAIN_RATE
          [ -n "$DRAIN_CPU_US" ] && echo "$DRAIN_CPU_US" >>"$T_DIR/cpu"
        else
          drain_once 2 --no-versions 2>/dev/null || status=1; p=$DRAIN_RATE
          say "drain --no-versions, 2 workers, $MAPPING, run $i: $(fmt "$p") changes/s"
          [ -n "$p" ] && echo "$p" >>"$T_DIR/nover"
        fi
      done
      r=$v
      [ -n "$v" ] && [ -n "$p" ] && awk -v v="$v" -v p="$p" 'BEGIN { printf "%.4f\n", (p / v - 1) * 100 }' >>"$T_DIR/ratio"
    else
      drain_once "$w" || status=1; r=$DRAIN_RATE
    fi
    say "drain, $w worker(s), $MAPPING, run $i: $(fmt "$r") changes/s"
    [ -n "$r" ] && echo "$r" >>"$T_DIR/r"
  done
  rate[$MAPPING,w$w]=$(median <"$T_DIR/r")
done
rate[$MAPPING,nover]=$(median <"$T_DIR/nover")
rate[$MAPPING,cpu]=$(median <"$T_DIR/cpu")
rate[$MAPPING,overhead]=$(median <"$T_DIR/ratio")
# The spread of the pairs, so the overhead can be read against the noise.
rate[$MAPPING,spread]=$(sort -g "$T_DIR/ratio" | awk 'NR == 1 {lo = $1} {hi = $1} END { if (NR) printf "%.1f to %.1f", lo, hi; else print "failed" }')

# Store-side limit: the same documents, pre-built _bulk bodies, into the same index.
: >"$T_DIR/r"
for i in $(seq 1 "$RUNS"); do
  store_fresh
  out=$("$BENCH_BIN/store_bench" --url "$STORE_URL" --mode bulk --file "$T_DIR/docs.ndjson" --batch "$BATCH" \
    --conns 2 --index bench) || status=1
  say "store-side limit, $MAPPING, run $i: $out"
  r=$(jq -r --argjson n "$N" 'select(.docs == $n) | .rate' <<<"${out:-null}" 2>/dev/null)
  [ -n "$r" ] && echo "$r" >>"$T_DIR/r"
  sh=$(store_hwm); [ -n "$sh" ] && echo "$sh" >>"$T_DIR/store_hwm"
done
rate[$MAPPING,store]=$(median <"$T_DIR/r")
done
MAPPING=dynamic # what a user's table gets; the naive and nested drains below use it

# PostgreSQL-side limit: the same backlog, claim + re-read + commit only (no store at all).
: >"$T_DIR/r"
for i in $(seq 1 "$RUNS"); do
  restore_backlog || status=1
  out=$("$BENCH_BIN/drain_probe" -c "$CFG" --mode claim --workers 2 --batch "$BATCH") || status=1
  say "PostgreSQL-side limit, run $i: $out"
  r=$(jq -r --argjson n "$N" 'select(.changes == $n) | .rate' <<<"${out:-null}" 2>/dev/null)
  [ -n "$r" ] && echo "$r" >>"$T_DIR/r"
done
rate[pg]=$(median <"$T_DIR/r")

# Naive baseline: one change per transaction, one PUT per change; each run
# takes the next $NAIVE_MAX changes of one restored backlog (a fresh store each).
: >"$T_DIR/r"
restore_backlog || status=1
for i in $(seq 1 "$RUNS"); do
  store_fresh
  out=$("$BENCH_BIN/drain_probe" -c "$CFG" --mode naive --workers 2 --max "$NAIVE_MAX") || status=1
  say "naive, run $i: $out"
  r=$(jq -r 'select(.changes > 0) | .rate' <<<"${out:-null}" 2>/dev/null)
  [ -n "$r" ] && echo "$r" >>"$T_DIR/r"
done
rate[naive]=$(median <"$T_DIR/r")
sql "truncate versync.changes" >/dev/null

# Nested documents (README "Nested documents"): a backlog of child changes, one per root,
# drained by `versync once --workers 2` into the nested documents of bench_root (each with
# its bench_child array), against the flat 2-worker drain above. Own schema and config, so
# the flat figures are untouched; every run restores the same change rows on a fresh store.
N_NESTED=${N_NESTED:-$([ "$QUICK" = 1 ] && echo "$N" || echo 200000)}
CFG_NESTED=$T_DIR/versync_nested.json
cat >"$CFG_NESTED" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "timeout_ms": 30000},
  "schema": "versync_nested",
  "channel": "versync_nested",
  "batch_size": $BATCH,
  "tables": [{"table": "public.bench_root", "index": "bench",
              "children": [{"name": "items", "table": "public.bench_child", "relationship": "many",
                            "join": {"id": "root_id"}, "columns": ["sku", "qty"]}]}]
}
JSON
say "nested: $N_NESTED roots, one child change each"
sql "create table public.bench_root (id bigint primary key, name text not null);
     create table public.bench_child (id bigint primary key, root_id bigint not null, sku text not null, qty int not null);
     create index on public.bench_child (root_id);
     insert into public.bench_root select g, 'root ' || g from generate_series(1, $N_NESTED) g;" || status=1
"$VERSYNC" -c "$CFG_NESTED" --log-level warn init >/dev/null || { echo "run.sh: nested init failed" >&2; status=1; }
t0=$(now)
sql "insert into public.bench_child select g, g, 'SKU-' || g, g % 100 from generate_series(1, $N_NESTED) g" || status=1
nested_fill_s=$(echo "$(now) - $t0" | bc)
# Statistics for the tables just loaded, as autovacuum gives them within a minute: without
# them the re-read's plans assume empty tables, and the first runs measured that (6 339 and
# 8 615 changes/s against 36 000 once autovacuum had analysed them).
sql "analyze public.bench_root, public.bench_child" || status=1
sql "create table public.bench_nested_saved as select tbl, key, op, version, changed_at from versync_nested.changes order by seq" || status=1
: >"$T_DIR/r"
for i in $(seq 1 "$RUNS"); do
  sql "truncate versync_nested.changes; insert into versync_nested.changes (tbl, key, op, version, changed_at)
       select tbl, key, op, version, changed_at from public.bench_nested_saved; analyze versync_nested.changes" || status=1
  store_fresh
  t0=$(now)
  "$VERSYNC" -c "$CFG_NESTED" --log-level warn once --workers 2 >"$T_DIR/once.out" 2>"$T_DIR/once.err"; rc=$?
  t1=$(now)
  got=$(store_count)
  if [ "$rc" != 0 ] || [ "$got" != "$N_NESTED" ]; then
    echo "run.sh: nested once exited $rc, store holds $got of $N_NESTED" >&2; cat "$T_DIR/once.err" >&2; status=1
    continue
  fi
  r=$(echo "$N_NESTED / ($t1 - $t0)" | bc -l)
  say "nested drain, 2 workers, run $i: $(fmt "$r") changes/s"
  echo "$r" >>"$T_DIR/r"
done
rate[nested]=$(median <"$T_DIR/r")
nested_ratio=$(awk -v n="${rate[nested]:-0}" -v f="${rate[dynamic,w2]:-0}" 'BEGIN { if (n > 0 && f > 0) printf "%.2f", n / f; else print "failed" }')

fi

# ---- 2: lag under load -----------------------------------------------------

sql "create unlogged table public.bench_lag (seq bigint, lag_us bigint);
     create function public.bench_lag_rec() returns trigger language plpgsql as \$\$
     begin
       insert into public.bench_lag values (old.seq, (extract(epoch from clock_timestamp() - old.changed_at) * 1e6)::bigint);
       return null;
     end \$\$;
     -- Deferred: fires inside the claiming transaction's COMMIT, after the store answered.
     create constraint trigger bench_lag after delete on versync.changes
       deferrable initially deferred for each row when (old.seq % 10 = 0)
       execute function public.bench_lag_rec();" || exit 1
declare -A lag
if step lag; then
rm -f "$VS_BUILD"/bench-lag-grow-*.txt
for MAPPING in $MAPPINGS; do
for R in $LAG_RATES; do
  # 200 transactions a second (fewer for slow rates), each inserting R/tps rows.
  tps=$((R < 200 ? R : 200)); per=$((R / tps))
  printf "$ROWS_SQL;\n" "(select nextval('public.bench_ids') as g from generate_series(1, :per)) s" >"$T_DIR/writer.sql"
  : >"$T_DIR/p50"; : >"$T_DIR/p99"; : >"$T_DIR/pmax"; : >"$T_DIR/bmax"; : >"$T_DIR/achieved"
  stalls=0
  for i in $(seq 1 "$RUNS"); do
    # From an empty queue: a backlog left by an earlier step (BENCH_STEPS=lag runs
    # straight after the fill) would be drained first and counted as lag.
    sql "truncate public.bench_lag, versync.changes" >/dev/null
    store_fresh
    runlog=$T_DIR/run-$MAPPING-$R-$i.log
    "$VERSYNC" -c "$CFG" run --workers 2 --metrics 0 >"$runlog" 2>&1 &
    run_pid=$!
    T_PIDS+=("$run_pid")
    wait_until 30 workers_connected 2 ||
      { status=1; echo "run.sh: versync run did not start" >&2; cat "$runlog" >&2; }
    murl=$(grep -o 'http://127.0.0.1:[0-9]*' "$runlog" | head -1)
    grown=0 pglines=$(wc -l <"$PG_LOG" 2>/dev/null || echo 0)
    pgbench -n -f "$T_DIR/writer.sql" -D per="$per" -R "$tps" -T "$LAG_SECONDS" -c 4 -j 2 >"$T_DIR/pgbench.out" 2>&1 &
    pg_pid=$!
    bmax=0
    while kill -0 "$pg_pid" 2>/dev/null; do
      b=$(sql "select count(*) from versync.changes" 2>/dev/null)
      [ -n "$b" ] && [ "$b" -gt "$bmax" ] && bmax=$b
      # A backlog of more than a few seconds of writes with the store not the limit: keep where
      # the workers wait, the first time in the run (build/bench-lag-grow-*.txt).
      if [ "$grown" = 0 ] && [ -n "$b" ] && [ "$b" -gt $((R * LAG_GROW_SECONDS)) ]; then
        grown=1
        bench_capture "lag at $R rows/s, $MAPPING, run $i: backlog $b" "$murl" "$runlog" \
          >"$VS_BUILD/bench-lag-grow-$MAPPING-$R-$i.txt" 2>&1
        say "lag at $R rows/s, $MAPPING, run $i: backlog $b, where the workers wait is in build/bench-lag-grow-$MAPPING-$R-$i.txt"
      fi
      sleep 0.25
    done
    wait "$pg_pid" || { status=1; cat "$T_DIR/pgbench.out" >&2; }
    if ! wait_until 60 changes_drained; then
      # Not a speed problem: versync stopped draining. Show where it waits.
      status=1; stalls=$((stalls + 1))
      echo "run.sh: lag at $R rows/s, $MAPPING, run $i: backlog $(sql "select count(*) from versync.changes") not drained 60 s after the writers stopped" >&2
      sql "select pid, application_name, state, wait_event_type, wait_event, now() - xact_start, left(query, 80)
           from pg_stat_activity where application_name like 'versync%'" >&2
      tail -n 30 "$runlog" | sed 's/^/run.sh:   /' >&2
      cp "$runlog" "$VS_BUILD/bench-stall-$MAPPING-$R-$i.log" 2>/dev/null
      sql "delete from versync.changes" >/dev/null
    fi
    kill -TERM "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null
    if [ "$grown" = 1 ]; then # what PostgreSQL logged during the run (slow statements, with auto_explain)
      { echo "## PostgreSQL's log during the run"; tail -n +"$((pglines + 1))" "$PG_LOG" | tail -n 400; } \
        >>"$VS_BUILD/bench-lag-grow-$MAPPING-$R-$i.txt" 2>&1
    fi
    achieved=$(awk -v per="$per" '/^tps = / {printf "%.0f", $3 * per}' "$T_DIR/pgbench.out")
    read -r p50 p99 pmax n < <(sql "select percentile_disc(0.5) within group (order by lag_us) / 1000.0,
        percentile_disc(0.99) within group (order by lag_us) / 1000.0, max(lag_us) / 1000.0, count(*)
        from public.bench_lag" | tr '|' ' ')
    # Every sample, in seq order, so a tail can be told from a pause (one slow batch) or a spread.
    sql "copy (select seq, lag_us from public.bench_lag order by seq) to stdout" \
      >"$VS_BUILD/bench-lag-$MAPPING-$R-$i.tsv" 2>/dev/null
    say "lag at $R rows/s, $MAPPING, run $i: achieved ${achieved:-?} rows/s, ${n:-0} samples, p50 $(ms "${p50:-}") ms, p99 $(ms "${p99:-}") ms, max $(ms "${pmax:-}") ms, max backlog $bmax"
    if [ "${n:-0}" -gt 0 ]; then
      echo "$p50" >>"$T_DIR/p50"; echo "$p99" >>"$T_DIR/p99"; echo "$pmax" >>"$T_DIR/pmax"
      echo "$bmax" >>"$T_DIR/bmax"; echo "${achieved:-0}" >>"$T_DIR/achieved"
    else
      status=1
    fi
  done
  lag[$MAPPING,$R]="$(median <"$T_DIR/p50") $(median <"$T_DIR/p99") $(median <"$T_DIR/pmax") $(median <"$T_DIR/bmax") $(median <"$T_DIR/achieved") $stalls"
done
done

fi

# ---- 6: verstore's own benchmark -------------------------------------------------

declare -A st
if step store; then
for MAPPING in $MAPPINGS; do
for dur in request async; do
  : >"$T_DIR/b"; : >"$T_DIR/p"; : >"$T_DIR/p99"
  for i in $(seq 1 "$RUNS"); do
    store_fresh --durability "$dur"
    # store_bench's own index creation then finds them made, with this run's mapping.
    for ix in sb sp; do create_index "$ix" || { status=1; echo "run.sh: cannot create index $ix" >&2; }; done
    b=$("$BENCH_BIN/store_bench" --url "$STORE_URL" --mode bulk --docs "$BULK_DOCS" --batch 1000 --size 1024 --conns 4 --index sb) || status=1
    p=$("$BENCH_BIN/store_bench" --url "$STORE_URL" --mode put --seconds "$PUT_SECONDS" --size 1024 --conns 4 --index sp) || status=1
    say "store $dur, $MAPPING, run $i: $b $p"
    jq -r '.rate' <<<"${b:-null}" | grep -v null >>"$T_DIR/b"
    jq -r '.rate' <<<"${p:-null}" | grep -v null >>"$T_DIR/p"
    jq -r '.p99_ms' <<<"${p:-null}" | grep -v null >>"$T_DIR/p99"
  done
  st[$MAPPING,$dur]="$(median <"$T_DIR/b") $(median <"$T_DIR/p") $(median <"$T_DIR/p99")"
done
done
fi
store_peak=$(sort -n "$T_DIR/store_hwm" 2>/dev/null | tail -1)
verstore_stop >/dev/null 2>&1

# ---- 7: search -------------------------------------------------------------------

search_rows=""
if step search; then
  say "search: tests/bench/search.sh"
  search_rows=$(SEARCH_ROWS_ONLY=1 BUILD="$BUILD" QUICK="$QUICK" RUNS="$RUNS" tests/bench/search.sh) || status=1
fi

# ---- 8: liveness soak (not in QUICK runs: make test stays within its budget) -------

soak_row=""
if step soak && { [ "$QUICK" != 1 ] || [ "${SOAK:-0}" = 1 ]; }; then
  say "soak: tests/bench/soak.sh"
  soak_row=$(BUILD="$BUILD" QUICK="$QUICK" tests/bench/soak.sh) || status=1
fi

# ---- the table -------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "failed" }'; }
min2() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 <= 0 || b+0 <= 0) print "failed"; else print (a < b ? a : b) }'; }
naive_x=$(ratio "${rate[dynamic,w2]:-}" "${rate[naive]:-}")
hwm_mb=$(awk -v k="$worker_hwm_max" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else print "failed" }')
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
lag_row() { # lag_row MAPPING RATE
  local m=$1 R=$2 p50 p99 pmax bmax ach stalled bounded g=""
  read -r p50 p99 pmax bmax ach stalled <<<"${lag[$m,$R]:-failed failed failed failed failed 0}"
  bounded=failed
  [[ "$bmax" =~ ^[0-9.]+$ ]] && bounded=$(awk -v b="$bmax" -v r="$R" 'BEGIN { print (b <= r) ? "yes" : "no" }')
  [ "${stalled:-0}" -gt 0 ] && bounded="NO: versync stopped draining in $stalled of $RUNS runs (failed)"
  [ "$R" = 5000 ] && g=" | p99 ≤ 20 ms | $(goal "$p99" '<=' 20)" || g=" | – | –"
  echo "| lag at $(fmt "$R") rows/s, $(ixl "$m") (achieved $(fmt "$ach")): p50 / p99 / max | $(ms "$p50") / $(ms "$p99") / $(ms "$pmax") ms; backlog max $(fmt "$bmax"), bounded: $bounded$g |"
}
drain_rows() { # drain_rows MAPPING — goal 3 of issue 21, against one index
  local m=$1 limit frac overhead w4note
  limit=$(min2 "${rate[pg]}" "${rate[$m,store]}")
  frac=$(ratio "${rate[$m,w2]}" "$limit")
  overhead=$(awk -v o="${rate[$m,overhead]}" 'BEGIN { if (o ~ /^-?[0-9.e+-]+$/) printf "%.1f", o; else print "failed" }')
  echo "| drain, versync once --workers 1, $(ixl "$m") | $(fmt "${rate[$m,w1]}") changes/s | – | – |"
  echo "| drain, versync once --workers 2, $(ixl "$m") | $(fmt "${rate[$m,w2]}") changes/s | – | – |"
  echo "| versync's own CPU (supervisor and workers, user + system) per change, 2-worker drain, $(ixl "$m") | ${rate[$m,cpu]:-failed} µs | – | – |"
  # The goal holds only where both limits reach it; below, the figure says the limit kept it out of reach.
  w4note=$(awk -v l="$limit" 'BEGIN { if (l ~ /^[0-9.]+$/ && l + 0 < 100000) printf " (the smaller limit, %.0f, is below the goal)", l }')
  echo "| drain, versync once --workers 4, $(ixl "$m") | $(fmt "${rate[$m,w4]}") changes/s$w4note | ≥ 100 000 when both limits allow it | $(goal "${rate[$m,w4]}" '>=' 100000) |"
  echo "| store-side limit: the same documents as pre-built _bulk bodies, 2 connections, $(ixl "$m") | $(fmt "${rate[$m,store]}") docs/s | – | – |"
  echo "| versync (2 workers) / smaller limit, $(ixl "$m") | $frac | ≥ 0.7 | $(goal "$frac" '>=' 0.7) |"
  echo "| drain with --no-versions, 2 workers, $(ixl "$m") | $(fmt "${rate[$m,nover]}") changes/s | – | – |"
  echo "| versioning overhead: no-versions rate / versioned rate − 1 (median over neighbouring pairs; their range), $(ixl "$m") | $overhead % (${rate[$m,spread]:-failed} %) | ≤ 5 % | $(goal "$overhead" '<=' 5) |"
}
both() { [[ " $MAPPINGS " == *" static "* && " $MAPPINGS " == *" dynamic "* ]]; }
{
  echo "### versync benchmark"
  echo
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "Commit: $bench_commit"
  echo "Cores: $(nproc) ($cpu), $(uname -sr); load average $load_before before, $load_after after; $((SECONDS - t_start)) s."
  echo "Backlog: $(fmt "$N") changes (filled in $(printf '%.1f' "$fill_s") s); every figure is the median of $RUNS run(s);"
  echo "Steps: $BENCH_STEPS."
  echo "batch_size $BATCH, verstore --durability request (its default) unless noted.$([ "$QUICK" = 1 ] && echo ' QUICK=1: a small smoke run, not a measurement.')"
  echo
  echo "| measure | figure | goal | |"
  echo "|---|---|---|---|"
  if step drain; then
    echo "| PostgreSQL-side limit: claim + re-read + commit, no HTTP, 2 processes | $(fmt "${rate[pg]}") changes/s | – | – |"
    for m in $MAPPINGS; do drain_rows "$m"; done
    # Issue 17: what the store's index costs the bridge end to end.
    both && echo "| drain into the dynamically mapped index / into the {\"dynamic\": false} index (2 workers, same run) | $(ratio "${rate[dynamic,w2]}" "${rate[static,w2]}") | ≥ 0.7 | $(goal "$(ratio "${rate[dynamic,w2]}" "${rate[static,w2]}")" '>=' 0.7) |"
  fi
  if step lag; then
    for m in $MAPPINGS; do for R in $LAG_RATES; do lag_row "$m" "$R"; done; done
  fi
  if step drain; then
    echo "| nested documents: drain of $(fmt "$N_NESTED") child changes (root + its children array), 2 workers, $(ixl dynamic) | $(fmt "${rate[nested]}") changes/s | – | – |"
    echo "| nested drain / flat drain (2 workers, same run, $(ixl dynamic)) | $nested_ratio | – | – |"
    echo "| naive: one transaction and one PUT per change, 2 processes, $(ixl dynamic) | $(fmt "${rate[naive]}") changes/s | – | – |"
    echo "| versync (2 workers) / naive | $naive_x × | – | – |"
    echo "| worker peak RSS (ru_maxrss) over all drains | $hwm_mb MB | ≤ 32 MB | $(goal "$hwm_mb" '<=' 32) |"
  fi
  if step store; then
    echo "| verstore peak RSS (VmHWM) | $(mb "$store_peak") | – | – |"
    for m in $MAPPINGS; do
      read -r sb_req sp_req sp99_req <<<"${st[$m,request]:-}"
      read -r sb_async sp_async sp99_async <<<"${st[$m,async]:-}"
      echo "| store: bulk 1 KB docs, _bulk of 1000, 4 connections (request / async), $(ixl "$m") | $(fmt "$sb_req") / $(fmt "$sb_async") docs/s | – | – |"
      echo "| store: single PUT, 4 connections (request / async), $(ixl "$m") | $(fmt "$sp_req") / $(fmt "$sp_async") req/s | – | – |"
      echo "| store: single PUT p99 (request / async), $(ixl "$m") | $(ms "$sp99_req") / $(ms "$sp99_async") ms | – | – |"
    done
    if both; then
      # Issue 17: the document store alone over the same store with the index (request durability).
      read -r sb_s sp_s _ <<<"${st[static,request]:-}"
      read -r sb_d sp_d _ <<<"${st[dynamic,request]:-}"
      x=$(ratio "$sb_s" "$sb_d"); y=$(ratio "$sp_s" "$sp_d")
      echo "| store (request): {\"dynamic\": false} rate / dynamically mapped rate: bulk / single PUT | $x / $y × | ≤ 1.5 × each | $(awk -v a="$(goal "$x" '<=' 1.5)" -v b="$(goal "$y" '<=' 1.5)" 'BEGIN { print (a == "failed" || b == "failed") ? "failed" : (a == "met" && b == "met") ? "met" : "missed" }') |"
    fi
  fi
  echo "$search_rows"
  [ -n "$soak_row" ] && echo "$soak_row"
} | tee "$VS_BUILD/bench.md"
# "capture": "wal" beside trigger capture, on their own PostgreSQL (wal_level=logical): drain rate and
# WAL bytes per change (tests/bench/wal.sh). WAL_BENCH=0 skips it.
if [ "${WAL_BENCH:-1}" = 1 ] && step wal; then
  echo
  N=$([ "$QUICK" = 1 ] && echo 20000 || echo "$N") BATCH=$BATCH BUILD=$BUILD BENCH_COMMIT=$bench_commit \
    tests/bench/wal.sh || status=1
  { echo; cat "$VS_BUILD/bench_wal.md"; } >>"$VS_BUILD/bench.md" # as printed: stdout equals bench.md
fi
exit "$status"
