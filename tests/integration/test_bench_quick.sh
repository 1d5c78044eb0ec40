#!/usr/bin/env bash
# test_bench_quick.sh — `make bench QUICK=1` produces a complete table: every
# row present with a number, the cores and date lines. It asserts nothing about
# speed (speed lives in the benchmark's own figures, never in a test).
. "$(dirname "$0")/lib.sh"

for b in "$VS_BUILD/bench/store_bench" "$VS_BUILD/bench/drain_probe" "$VS_BUILD/bench/search_bench" \
  "$VS_BUILD/bench/peak_rss"; do
  [ -x "$b" ] || { echo "1..0 # SKIP $b not built (make test builds it)"; exit 0; }
done
# A private copy of the build dir's binaries keeps a real $BUILD/bench.md untouched.
B=$T_DIR/build
mkdir -p "$B/bench"
cp "$VERSYNC" "$VERSTORE" "$B/" &&
  cp "$VS_BUILD/bench/store_bench" "$VS_BUILD/bench/drain_probe" "$VS_BUILD/bench/search_bench" \
    "$VS_BUILD/bench/peak_rss" "$B/bench/"
out=$T_DIR/bench.out
BUILD=$B QUICK=1 "$VS_ROOT/tests/bench/run.sh" >"$out" 2>"$T_DIR/bench.err"
rc=$?
T_LOGS+=("$T_DIR/bench.err")
assert_eq "run.sh QUICK=1 exits 0" 0 "$rc"
check "the table is written to \$BUILD/bench.md" cmp -s "$out" "$B/bench.md"
table=$(cat "$B/bench.md" 2>/dev/null)
assert_match "a Date line" $'(^|\n)Date: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC' "$table"
assert_match "a Commit line naming the code measured" $'(^|\n)Commit: [0-9a-f]{40}(\\+dirty)?\n' "$table"
assert_match "a Cores line with the core count" $'(^|\n)Cores: [0-9]+ ' "$table"

num='[0-9][0-9 ]*(\.[0-9]+)?'
row() { # row DESC LABEL-REGEX — one table row whose label matches and whose figure starts with a number
  assert_match "$1" $'(^|\n)\\| '"$2"' \\| -?'"$num"'[^|]* \\|' "$table"
}
row "PostgreSQL-side limit" 'PostgreSQL-side limit[^|]*'
# Drains, versioning and the store's own rates against both indices of the same run.
for ix in '\{"dynamic": false\} index' 'dynamically mapped index'; do
  row "drain, 1 worker, $ix" "drain, versync once --workers 1, $ix"
  row "drain, 2 workers, $ix" "drain, versync once --workers 2, $ix"
  row "drain, 4 workers, $ix" "drain, versync once --workers 4, $ix"
  row "store-side limit, $ix" "store-side limit[^|]*, $ix"
  row "fraction of the smaller limit, $ix" "versync \\(2 workers\\) / smaller limit, $ix"
  row "lag at 1 000 rows/s, $ix" "lag at 1 000 rows/s, $ix[^|]*"
  row "lag at 5 000 rows/s, $ix" "lag at 5 000 rows/s, $ix[^|]*"
  row "drain with --no-versions, $ix" "drain with --no-versions[^|]*, $ix"
  row "versioning overhead, $ix" "versioning overhead[^|]*, $ix"
  row "store bulk, $ix" "store: bulk[^|]*, $ix"
  row "store single PUT, $ix" "store: single PUT, [^|]*, $ix"
  row "store PUT p99, $ix" "store: single PUT p99[^|]*, $ix"
done
row "dynamic / {dynamic: false} drain ratio" 'drain into the dynamically mapped index / into the [^|]*'
row "store: document store alone / with the index" 'store \(request\): [^|]*'
row "nested drain" 'nested documents: drain of [^|]*'
row "nested / flat ratio" 'nested drain / flat drain[^|]*'
row "naive baseline" 'naive: [^|]*'
row "versync / naive ratio" 'versync \(2 workers\) / naive'
row "worker peak RSS" 'worker peak RSS[^|]*'
row "verstore peak RSS" 'verstore peak RSS[^|]*'
row "search ingest" 'search: _bulk ingest[^|]*'
row "search data dir size" 'search: data dir \(du\)[^|]*'
row "search ingest ratio, text / no indexing" 'search: ingest with text / no indexing[^|]*'
row "search bytes written per doc (write calls), first / last tenth" 'search: bytes verstore wrote per doc[^|]*'
row "search bytes written per doc (kernel's write_bytes), first / last tenth" 'search: the same as the kernel accounts it[^|]*'
row "search data dir / raw JSON" 'search: data dir with text / raw JSON[^|]*'
row "search term latency" 'search: term [^|]*'
row "search match latency" 'search: match \(1[^|]*'
row "search match_phrase latency" 'search: match_phrase [^|]*'
row "search verstore RSS" 'search: verstore peak RSS[^|]*'
row "search verstore anonymous / file-backed RSS" 'search: verstore RSS after the queries[^|]*'
# The WAL rows come from tests/bench/wal.sh, run last; they name the commit
# run.sh read at the start, as the table's first lines do.
commit=$(sed -n 's/^Commit: //p' "$B/bench.md")
wal_commit=$(sed -n 's/^.* · commit \([^ ]*\) · .*$/\1/p' "$B/bench.md")
assert_eq "the WAL rows name the commit of the table's Commit line" "$commit" "$wal_commit"
check "no cell says failed" bash -c '! grep -q failed "$1"' _ "$B/bench.md"
check "every goal cell is met or missed" bash -c '! grep -E "^\|" "$1" | grep -E "≥|≤" | grep -vqE "\| (met|missed) \|$"' _ "$B/bench.md"
done_testing
