#!/usr/bin/env bash
# wal.sh — "capture": "wal" beside trigger capture, in one run (issue 22): for each mode, N changes
# (one INSERT … SELECT into a fresh mapped table, versync stopped) then `versync once --workers 1`
# until it exits. Figures: the drain rate (changes/s, the store then holds them all: checked with
# _count), and the source's write amplification: WAL bytes per change, for the writes alone and for
# writes + drain (pg_current_wal_insert_lsn() before and after; the server is otherwise idle). Trigger
# capture writes each change twice (the row, its change row) and the claim deletes the change row;
# WAL capture writes the row only, and the drain writes nothing but its progress row every few s.
# Prints a Markdown table (and writes it to $BUILD/bench_wal.md; make bench runs it after its own table). Env: N (default 200000), BATCH (500).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
. tests/integration/lib.sh
N=${N:-200000}
BATCH=${BATCH:-500}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bench_commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown")
git diff --quiet HEAD -- 2>/dev/null || bench_commit="$bench_commit+dirty"
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
  [ "$mode" = wal ] && capture=', "capture": "wal"'
  cat >"$cfg" <<JSON
{"postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL", "timeout_ms": 30000}, "batch_size": $BATCH,
 "schema": "vs_$mode", "tables": [{"table": "public.$tbl", "index": "$tbl"$capture}]}
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
  rows+=("$(awk -v m="$mode" -v n="$N" -v t0="$t0" -v t1="$t1" -v l0="$l0" -v l1="$l1" -v l2="$l2" 'BEGIN {
    printf "| %s | %d | %.1f s | %d | %.0f | %.0f |", m, n, t1 - t0, n / (t1 - t0), (l1 - l0) / n, (l2 - l0) / n }')")
  [ "$mode" = wal ] && sql "select pg_drop_replication_slot('vs_wal')" >/dev/null
  return 0
}

run_mode trigger || status=1
run_mode wal || status=1
out=$VS_BUILD/bench_wal.md
{
  echo "| capture | changes | drain time | changes/s | WAL bytes/change (writes) | WAL bytes/change (writes + drain) |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$(date -u +%Y-%m-%d) · commit $bench_commit · $(nproc) cores · load before: $load_before ·" \
       "after: $(cut -d' ' -f1-3 /proc/loadavg) · batch_size $BATCH, versync once --workers 1"
} | tee "$out"
exit $status
