#!/usr/bin/env bash
# run.sh — `make bench`: verstore throughput and latency.
#
# For each durability mode (async, request) starts $BUILD/verstore on a free
# port with a fresh temp data dir, runs $BUILD/bench/store_bench in bulk mode
# (1 KB docs, external versions, _bulk of 1000) and in single-PUT mode
# (keep-alive connections, p50/p99 latency), stops the store, and prints a
# Markdown table that is also written to $BUILD/bench.md.
# QUICK=1 makes a short run (smoke test of the benchmark itself).
# Knobs: BULK_DOCS, BULK_CONNS, PUT_SECONDS, PUT_CONNS. The connection defaults
# (4 and 4) were the fastest on a 2-core machine, where client and server share
# the cores: more connections only add contention.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
VERSTORE=$BUILD/verstore
BENCH=$BUILD/bench/store_bench
for b in "$VERSTORE" "$BENCH"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing; run make bench" >&2; exit 2; }
done

if [ "${QUICK:-0}" = 1 ]; then
  BULK_DOCS=${BULK_DOCS:-20000} PUT_SECONDS=${PUT_SECONDS:-2}
else
  BULK_DOCS=${BULK_DOCS:-400000} PUT_SECONDS=${PUT_SECONDS:-10}
fi
BULK_CONNS=${BULK_CONNS:-4}
PUT_CONNS=${PUT_CONNS:-4}

tmp=$(mktemp -d /tmp/verstore-bench.XXXXXX)
store_pid=""
cleanup() {
  [ -n "$store_pid" ] && kill -TERM "$store_pid" 2>/dev/null && wait "$store_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_store DURABILITY — start verstore on an ephemeral port; sets url.
start_store() {
  local log=$tmp/verstore-$1.log
  rm -rf "$tmp/data"
  "$VERSTORE" --listen 127.0.0.1:0 --data "$tmp/data" --durability "$1" --log-level warn >"$log" 2>&1 &
  store_pid=$!
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)
    [ -n "$url" ] && curl -sf -o /dev/null "$url/" && return 0
    kill -0 "$store_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: verstore did not start:" >&2
  cat "$log" >&2
  return 1
}

stop_store() {
  kill -TERM "$store_pid" 2>/dev/null
  wait "$store_pid" 2>/dev/null
  store_pid=""
}

rows=()
status=0
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for dur in async request; do
  start_store "$dur" || exit 1
  bulk=$("$BENCH" --url "$url" --mode bulk --docs "$BULK_DOCS" --batch 1000 --size 1024 --conns "$BULK_CONNS" --index bulk) || status=1
  put=$("$BENCH" --url "$url" --mode put --seconds "$PUT_SECONDS" --size 1024 --conns "$PUT_CONNS" --index put) || status=1
  stop_store
  echo "# $dur: $bulk" >&2
  echo "# $dur: $put" >&2
  rows+=("$(jq -rn --arg d "$dur" --argjson b "${bulk:-null}" --argjson p "${put:-null}" \
    '"| \($d) | \($b.rate // "failed") | \($b.docs // 0) | \($p.rate // "failed") | \($p.p50_ms // "-") | \($p.p99_ms // "-") | \($p.max_ms // "-") |"')")
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
{
  echo "### verstore benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($cpu), $(uname -sr), load average $load_before before the run."
  echo "Client and server on the same machine. Bulk: 1 KB documents, version_type=external, _bulk of 1000,"
  echo "$BULK_CONNS connections. PUT: single 1 KB documents, version_type=external, $PUT_CONNS keep-alive connections,"
  echo "${PUT_SECONDS}s.$([ "${QUICK:-0}" = 1 ] && echo ' QUICK=1 (short run).')"
  echo
  echo "| durability | bulk docs/s | bulk docs | PUT req/s | PUT p50 ms | PUT p99 ms | PUT max ms |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Goals (issue 3): bulk ≥ 200,000 docs/s with async, ≥ 100,000 with request; single PUT ≥ 20,000 req/s."
} | tee "$BUILD/bench.md"
exit "$status"
