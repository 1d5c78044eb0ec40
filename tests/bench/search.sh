#!/usr/bin/env bash
# search.sh — verstore's search benchmark (issues 8, 17): what keeping the search
# structures in step with every write costs on ingest and on disk, and how fast
# term, match and match_phrase queries answer. run.sh runs it as the last part
# of `make bench`.
#
# Every run, for each document shape, a fresh verstore (its default durability
# `request`, an empty data dir) and bench/search_bench --mode ingest of
# $SEARCH_DOCS documents (_bulk of $SEARCH_BATCH over $SEARCH_CONNS connections):
#   noindex  mapping {"dynamic":false}: stored, nothing indexed (the document store alone)
#   notext   status, user keyword; n long; ts date; no text field in the documents
#   text     the same plus an 8-word text field of English, German and Chinese
#            words (postings, positions, BM25 field statistics)
# then `du -sk` of the data dir; the ingest also reports the bytes verstore
# wrote per document in the first and the last tenth, twice: as its write
# calls (/proc/$STORE_PID/io wchar) and as the kernel accounts them
# (write_bytes, whole page-cache folios: scattered page writes count several
# times what they write), and the bytes of the JSON sources sent. With shape text,
# bench/search_bench --mode query follows: $SEARCH_WARMUP warm-up queries of
# each kind, then $SEARCH_QUERIES term, $SEARCH_QUERIES match and
# $SEARCH_QUERIES match_phrase queries over one keep-alive connection, every
# answer checked against the counts the document generator predicts. Every
# figure is the median of $RUNS runs.
#
# Standalone (`BUILD=… tests/bench/search.sh`): prints a table and writes it to
# $BUILD/bench-search.md. SEARCH_ROWS_ONLY=1 (run.sh): prints only the rows.
# QUICK=1: 20 000 documents, one run: proves the benchmark works, measures nothing.
# Exit status 1 when a step failed (its cells say "failed").
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
. tests/integration/lib.sh
. tests/bench/bench_lib.sh
SB=$VS_BUILD/bench/search_bench
for b in "$VERSTORE" "$SB"; do
  [ -x "$b" ] || { echo "search.sh: $b is missing; run make bench" >&2; exit 2; }
done

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  # batches of 200, so that each tenth spans several commits and has bytes of its own
  RUNS=${RUNS:-1} SEARCH_DOCS=${SEARCH_DOCS:-20000} SEARCH_QUERIES=${SEARCH_QUERIES:-500} SEARCH_WARMUP=${SEARCH_WARMUP:-50}
  SEARCH_BATCH=${SEARCH_BATCH:-200}
else
  RUNS=${RUNS:-3} SEARCH_DOCS=${SEARCH_DOCS:-1000000} SEARCH_QUERIES=${SEARCH_QUERIES:-3000} SEARCH_WARMUP=${SEARCH_WARMUP:-300}
fi
SEARCH_BATCH=${SEARCH_BATCH:-2000}
SEARCH_CONNS=${SEARCH_CONNS:-4}
# issue 17's goals
GOAL_TERM_MS=10 GOAL_MATCH_MS=5 GOAL_PHRASE_MS=20
GOAL_INGEST_RATIO=0.5 # ingest with text / no indexing, at least
GOAL_WB_RATIO=1.5     # bytes written per document, last tenth / first tenth, at most
GOAL_DU_RATIO=2       # data dir with text / raw JSON sources, at most
KINDS="term match match_phrase"
status=0
t_start=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say() { echo "# [search $((SECONDS - t_start))s] $*" >&2; }

STORE_PORT=$(free_port)
store_fresh() {
  [ -n "$STORE_PID" ] && verstore_stop >/dev/null 2>&1
  rm -rf "$T_DIR/store"
  STORE_DATA=$T_DIR/store
  verstore_start --log-level warn || { echo "search.sh: verstore did not start" >&2; exit 1; }
}

shapes="noindex notext text"
for s in $shapes; do : >"$T_DIR/rate_$s"; : >"$T_DIR/du_$s"; done
for k in $KINDS; do for f in p50 p99 max qps cp99 rp99; do : >"$T_DIR/${k}_$f"; done; done
for f in ingest_ratio wb_first wb_last wb_ratio wc_first wc_last wc_ratio du_ratio; do : >"$T_DIR/$f"; done
: >"$T_DIR/hwm"; : >"$T_DIR/anon"; : >"$T_DIR/file"
for i in $(seq 1 "$RUNS"); do
  for s in $shapes; do
    store_fresh
    out=$("$SB" --url "$STORE_URL" --mode ingest --shape "$s" --index sb --docs "$SEARCH_DOCS" \
      --batch "$SEARCH_BATCH" --conns "$SEARCH_CONNS" --io-pid "$STORE_PID") || status=1
    kb=$(du -sk "$STORE_DATA" | cut -f1)
    say "ingest $s, run $i: $out; data dir $kb kB"
    jq -r --argjson n "$SEARCH_DOCS" 'select(.failed == 0 and .docs == $n) | .rate' <<<"${out:-null}" >>"$T_DIR/rate_$s"
    echo "$kb" >>"$T_DIR/du_$s"
    [ "$s" = text ] || continue
    # the ratios per run (this run's noindex rate), their medians below; a missing figure leaves no line
    rate_noindex=$(tail -n1 "$T_DIR/rate_noindex")
    jq -r --argjson n "$SEARCH_DOCS" --arg base "${rate_noindex:-0}" --argjson kb "$kb" '
      select(.failed == 0 and .docs == $n) |
      (if ($base | tonumber? // 0) > 0 then "ingest_ratio \(.rate / ($base | tonumber))" else empty end),
      (if .wb_first_tenth_per_doc != null then "wb_first \(.wb_first_tenth_per_doc)" else empty end),
      (if .wb_last_tenth_per_doc != null then "wb_last \(.wb_last_tenth_per_doc)" else empty end),
      (if (.wb_first_tenth_per_doc // 0) > 0 and (.wb_last_tenth_per_doc // 0) > 0
       then "wb_ratio \(.wb_last_tenth_per_doc / .wb_first_tenth_per_doc)" else empty end),
      (if .wc_first_tenth_per_doc != null then "wc_first \(.wc_first_tenth_per_doc)" else empty end),
      (if .wc_last_tenth_per_doc != null then "wc_last \(.wc_last_tenth_per_doc)" else empty end),
      (if (.wc_first_tenth_per_doc // 0) > 0 and (.wc_last_tenth_per_doc // 0) > 0
       then "wc_ratio \(.wc_last_tenth_per_doc / .wc_first_tenth_per_doc)" else empty end),
      (if .raw_bytes > 0 then "du_ratio \($kb * 1024 / .raw_bytes)" else empty end)' <<<"${out:-null}" |
      while read -r f v; do echo "$v" >>"$T_DIR/$f"; done
    out=$("$SB" --url "$STORE_URL" --mode query --index sb --docs "$SEARCH_DOCS" \
      --queries "$SEARCH_QUERIES" --warmup "$SEARCH_WARMUP") || status=1
    say "queries, run $i: $out"
    for k in $KINDS; do
      read -r p50 p99 max qps cp99 rp99 < <(jq -r --arg k "$k" 'select(.failed == 0) | .[$k]
        | [.p50_ms, .p99_ms, .max_ms, .qps, .common_p99_ms, .rare_p99_ms] | @tsv' <<<"${out:-null}")
      [ -n "${p50:-}" ] || continue
      for f in p50 p99 max qps cp99 rp99; do echo "${!f}" >>"$T_DIR/${k}_$f"; done
    done
    awk '/^VmHWM/ {print $2}' "/proc/$STORE_PID/status" >>"$T_DIR/hwm" 2>/dev/null
    awk '/^RssAnon/ {print $2}' "/proc/$STORE_PID/status" >>"$T_DIR/anon" 2>/dev/null
    awk '/^RssFile/ {print $2}' "/proc/$STORE_PID/status" >>"$T_DIR/file" 2>/dev/null
  done
done
verstore_stop >/dev/null 2>&1 || status=1

# whole numbers (a median of an even count may come back as 1.2e+06); "failed" stays
whole() { awk '$1 + 0 > 0 { printf "%.0f\n", $1; next } { print }'; }
declare -A m
for s in $shapes; do
  m[rate_$s]=$(median <"$T_DIR/rate_$s")
  # per million documents, so runs of different sizes compare
  m[du_$s]=$(median <"$T_DIR/du_$s" | awk -v n="$SEARCH_DOCS" '$1 + 0 > 0 { printf "%.0f\n", $1 * 1e6 / n; next } { print }')
done
for k in $KINDS; do for f in p50 p99 max qps cp99 rp99; do m[${k}_$f]=$(median <"$T_DIR/${k}_$f"); done; done
for f in ingest_ratio wb_first wb_last wb_ratio wc_first wc_last wc_ratio du_ratio; do m[$f]=$(median <"$T_DIR/$f"); done
hwm=$(median <"$T_DIR/hwm" | whole) anon=$(median <"$T_DIR/anon" | whole) file=$(median <"$T_DIR/file" | whole)

query_row() { # query_row KIND LABEL GOAL_MS
  local k=$1
  echo "| search: $2, 1 connection: p50 / p99 / max (p99 of common / rare) | $(ms "${m[${k}_p50]}" 2) / $(ms "${m[${k}_p99]}" 2) / $(ms "${m[${k}_max]}" 2) ms, $(fmt "${m[${k}_qps]}") queries/s (p99 $(ms "${m[${k}_cp99]}" 2) / $(ms "${m[${k}_rp99]}" 2) ms) | p99 ≤ $3 ms | $(goal "${m[${k}_p99]}" '<=' "$3") |"
}
ratio() { [[ "${1:-}" =~ ^[0-9.]+$ ]] && printf "%.2f" "$1" || echo "${1:-failed}"; }
rows() {
  echo "| search: _bulk ingest of $(fmt "$SEARCH_DOCS") small docs, $SEARCH_CONNS connections: with text / without text / no indexing | $(fmt "${m[rate_text]}") / $(fmt "${m[rate_notext]}") / $(fmt "${m[rate_noindex]}") docs/s | – | – |"
  echo "| search: ingest with text / no indexing (docs/s) | $(ratio "${m[ingest_ratio]}") | ≥ $GOAL_INGEST_RATIO | $(goal "${m[ingest_ratio]}" '>=' "$GOAL_INGEST_RATIO") |"
  echo "| search: bytes verstore wrote per doc with text (its write calls, /proc io wchar), first tenth / last tenth of the ingest (last / first) | $(fmt "${m[wc_first]}") / $(fmt "${m[wc_last]}") B ($(ratio "${m[wc_ratio]}")) | last ≤ $GOAL_WB_RATIO × first | $(goal "${m[wc_ratio]}" '<=' "$GOAL_WB_RATIO") |"
  echo "| search: the same as the kernel accounts it (/proc io write_bytes: whole page-cache folios dirtied), first tenth / last tenth (last / first) | $(fmt "${m[wb_first]}") / $(fmt "${m[wb_last]}") B ($(ratio "${m[wb_ratio]}")) | last ≤ $GOAL_WB_RATIO × first | $(goal "${m[wb_ratio]}" '<=' "$GOAL_WB_RATIO") |"
  echo "| search: data dir (du) per 1 000 000 docs: with text / without text / no indexing | $(mb "${m[du_text]}") / $(mb "${m[du_notext]}") / $(mb "${m[du_noindex]}") | – | – |"
  echo "| search: data dir with text / raw JSON sources | $(ratio "${m[du_ratio]}") | ≤ $GOAL_DU_RATIO | $(goal "${m[du_ratio]}" '<=' "$GOAL_DU_RATIO") |"
  query_row term "term (keyword)" "$GOAL_TERM_MS"
  query_row match "match (1–2 words)" "$GOAL_MATCH_MS"
  query_row match_phrase "match_phrase (2 adjacent words)" "$GOAL_PHRASE_MS"
  echo "| search: verstore peak RSS (VmHWM) after ingest with text and the queries | $(mb "$hwm") | – | – |"
  echo "| search: verstore RSS after the queries: anonymous (its own memory) / file-backed (LMDB's map: page cache the kernel reclaims) | $(mb "$anon") / $(mb "$file") | – | – |"
}

if [ "${SEARCH_ROWS_ONLY:-0}" = 1 ]; then
  rows
  exit "$status"
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
{
  echo "### verstore search benchmark"
  echo
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "Cores: $(nproc) ($cpu), $(uname -sr); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; $((SECONDS - t_start)) s."
  echo "$(fmt "$SEARCH_DOCS") documents per index, _bulk of $SEARCH_BATCH; $SEARCH_QUERIES term, $SEARCH_QUERIES match and $SEARCH_QUERIES match_phrase queries after $SEARCH_WARMUP warm-up queries of each;"
  echo "every figure is the median of $RUNS run(s); verstore --durability request (its default).$([ "$QUICK" = 1 ] && echo ' QUICK=1: a small smoke run, not a measurement.')"
  echo
  echo "| measure | figure | goal | |"
  echo "|---|---|---|---|"
  rows
} | tee "$VS_BUILD/bench-search.md"
exit "$status"
