#!/usr/bin/env bash
# wal.sh — "capture": "wal" beside trigger capture, in one run (issue 22): for each mode, N changes
# (one INSERT … SELECT into a fresh mapped table, versync stopped) then `versync once --workers 1`
# until it exits. Figures: the drain rate (changes/s, the store then holds them all: checked with
# _count), and the source's write amplification: WAL bytes per change, for the writes alone and for
# writes + drain (pg_current_wal_insert_lsn() before and after; the server is otherwise idle). Trigger
# capture writes each change twice (the row, its change row) and the claim deletes the change row;
# WAL capture writes the row only, and the drain writes nothing but its progress row every few s.
# Then the lag under load, per mode on the same table: pgbench writes LAG_RATE rows/s (default 5000)
# for LAG_SECONDS (20) while `versync run --workers 2` syncs; every 0.1 s a probe row is inserted
# beside them and the time from its commit returning to its document being readable (GET, polled)
# is sampled: p50 / p99 / max (probe lag includes the polling, a few ms; the same for both modes).
# Prints a Markdown table (and writes it to $BUILD/bench_wal.md; make bench runs it after its own
# table). Env: N (default 200000), BATCH (500), LAG_RATE (5000; 0 skips the lag), LAG_SECONDS (20),
# INFLIGHT (wal.inflight, default 4); LAG_LOG_LEVEL (warn) and LAG_KEEP (a directory to keep each
# mode's run log and lag samples in) to look into a slow figure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
. tests/integration/lib.sh
N=${N:-200000}
BATCH=${BATCH:-500}
LAG_RATE=${LAG_RATE:-5000}
LAG_SECONDS=${LAG_SECONDS:-20}
INFLIGHT=${INFLIGHT:-4}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The commit measured: run.sh passes the one it read when the bench started,
# right after make bench built the binaries measured here (whatever the worktree
# holds by now); alone, the worktree's.
if [ -n "${BENCH_COMMIT:-}" ]; then
  bench_commit=$BENCH_COMMIT
else
  bench_commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown")
  git diff --quiet HEAD -- 2>/dev/null || bench_commit="$bench_commit+dirty"
fi
say() { echo "# $*" >&2; }
now() { date +%s.%N; }
lsn() { sql "select pg_current_wal_insert_lsn() - '0/0'::pg_lsn"; }

PG_EXTRA_OPTS="-c wal_level=logical -c max_wal_size=8GB"
pg_start || exit 1
verstore_start --log-level warn || exit 1
status=0
rows=()

# run_mode MODE — one mode on its own table and index; appends a table row.
run_mode() {
  local mode=$1 tbl=bench_$1 cfg=$T_DIR/$1.json capture=""
  local walcfg=""
  [ "$mode" = wal ] && capture=', "capture": "wal"' && walcfg=" \"wal\": {\"inflight\": $INFLIGHT},"
  cat >"$cfg" <<JSON
{"postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL", "timeout_ms": 30000}, "batch_size": $BATCH,
 "schema": "vs_$mode",$walcfg
 "tables": [{"table": "public.$tbl", "index": "$tbl"$capture}]}
JSON
  sql "create table public.$tbl (id bigint primary key, sku text not null, name text not null,
         price numeric(10,2) not null, qty int not null, tags text[] not null,
         updated_at timestamptz not null default now())" || return 1
  "$VERSYNC" -c "$cfg" --log-level warn init >/dev/null || { say "$mode: init failed"; return 1; }
  sql "checkpoint" >/dev/null
  local l0 l1 l2 t0 t1 count
  l0=$(lsn)
  sql "insert into public.$tbl (id, sku, name, price, qty, tags)
       select g, 'SKU-' || lpad(g::text, 9, '0'), 'product number ' || g || ' of the benchmark catalogue',
              (g % 100000) / 100.0, g % 1000, array['bench', 'tag' || (g % 7)]
         from generate_series(1, $N) g" || return 1
  l1=$(lsn)
  say "$mode: $N changes written; draining"
  t0=$(now)
  "$VERSYNC" -c "$cfg" --log-level warn once --workers 1 --timeout 3600 >"$T_DIR/$mode.once" 2>&1 ||
    { say "$mode: once failed: $(tail -3 "$T_DIR/$mode.once")"; return 1; }
  t1=$(now)
  l2=$(lsn)
  count=$(curl -s "$STORE_URL/$tbl/_count" | jq -r '.count // 0')
  [ "$count" = "$N" ] || { say "$mode: the store holds $count documents, not $N"; return 1; }
  local lagcol="–"
  if [ "$LAG_RATE" -gt 0 ]; then
    lagcol=$(lag_mode "$mode" "$tbl" "$cfg") || { say "$mode: lag step failed"; lagcol="failed"; }
  fi
  rows+=("$(awk -v m="$mode" -v n="$N" -v t0="$t0" -v t1="$t1" -v l0="$l0" -v l1="$l1" -v l2="$l2" -v lag="$lagcol" 'BEGIN {
    printf "| %s | %d | %.1f s | %d | %.0f | %.0f | %s |", m, n, t1 - t0, n / (t1 - t0), (l1 - l0) / n, (l2 - l0) / n, lag }')")
  [ "$mode" = wal ] && sql "select pg_drop_replication_slot('vs_wal')" >/dev/null
  return 0
}

# lag_mode MODE TABLE CFG — the lag under LAG_RATE rows/s; prints "p50 / p99 / max ms (S samples, A rows/s)".
lag_mode() {
  local mode=$1 tbl=$2 cfg=$3 run_pid pg_pid tps per k=0 t0 t1 deadline
  sql "create sequence if not exists public.${tbl}_ids start $((N + 1))" >/dev/null || return 1
  tps=$((LAG_RATE < 200 ? LAG_RATE : 200)); per=$((LAG_RATE / tps))
  cat >"$T_DIR/$mode.writer.sql" <<SQL
insert into public.$tbl (id, sku, name, price, qty, tags)
  select g, 'SKU-' || g, 'product number ' || g || ' of the benchmark catalogue', (g % 100000) / 100.0, g % 1000,
         array['bench', 'tag' || (g % 7)]
    from (select nextval('public.${tbl}_ids') as g from generate_series(1, :per)) s;
SQL
  "$VERSYNC" -c "$cfg" --log-level ${LAG_LOG_LEVEL:-warn} run --workers 2 >"$T_DIR/$mode.run" 2>&1 &
  run_pid=$!
  T_PIDS+=("$run_pid")
  # Started: a first probe gets through.
  sql "insert into public.$tbl values (-1, 's', 'probe', 0, 0, '{}')" >/dev/null
  wait_until 60 bash -c "curl -sf '$STORE_URL/$tbl/_doc/-1' >/dev/null" || { kill -TERM "$run_pid"; return 1; }
  pgbench -n -f "$T_DIR/$mode.writer.sql" -D per="$per" -R "$tps" -T "$LAG_SECONDS" -c 4 -j 2 \
    >"$T_DIR/$mode.pgbench" 2>&1 &
  pg_pid=$!
  : >"$T_DIR/$mode.lag"
  while kill -0 "$pg_pid" 2>/dev/null; do
    k=$((k + 1))
    sql "insert into public.$tbl values (-1 - $k, 's', 'probe', 0, 0, '{}')" >/dev/null || break
    t0=$(date +%s%N)
    deadline=$((t0 + 30000000000))
    until curl -sf -o /dev/null "$STORE_URL/$tbl/_doc/$((-1 - k))"; do
      [ "$(date +%s%N)" -lt "$deadline" ] || break
    done
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >>"$T_DIR/$mode.lag"
    sleep 0.1
  done
  wait "$pg_pid"
  kill -TERM "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  [ -n "${LAG_KEEP:-}" ] && cp "$T_DIR/$mode.run" "$T_DIR/$mode.lag" "$LAG_KEEP/"
  local achieved
  achieved=$(awk -v per="$per" '/^tps = / {printf "%.0f", $3 * per}' "$T_DIR/$mode.pgbench")
  sort -n "$T_DIR/$mode.lag" | awk -v a="${achieved:-?}" '{ v[NR] = $1 } END {
    if (NR == 0) exit 1
    p50 = v[int((NR - 1) * 0.5) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
    printf "%.1f / %.1f / %.1f ms (%d samples, %s rows/s)", p50 / 1000, p99 / 1000, v[NR] / 1000, NR, a }'
}

run_mode trigger || status=1
run_mode wal || status=1
out=$VS_BUILD/bench_wal.md
{
  echo "| capture | changes | drain time | changes/s | WAL bytes/change (writes) | WAL bytes/change (writes + drain) | lag at $LAG_RATE rows/s: p50 / p99 / max |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$(date -u +%Y-%m-%d) · commit $bench_commit · $(nproc) cores · load before: $load_before ·" \
       "after: $(cut -d' ' -f1-3 /proc/loadavg) · batch_size $BATCH, versync once --workers 1;" \
       "lag: versync run --workers 2, wal.inflight $INFLIGHT, probe rows every 0.1 s for $LAG_SECONDS s"
} | tee "$out"
exit $status
