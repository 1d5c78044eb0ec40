#!/usr/bin/env bash
# smoke.sh BIN… — run each libFuzzer binary for $FUZZ_SECONDS (default 30) on a
# temporary copy of its seed corpus (tests/fuzz/corpus/<name>/) plus the inputs
# that once failed (tests/fuzz/regressions/<name>/), so the repository stays clean. Fails when any target crashes, leaks, trips a
# sanitizer or an invariant (abort). Prints one line per target with the number
# of inputs executed; a failing target's reproducer is kept in
# build-fuzz/artifacts/<name>/ (reproduce: build-fuzz/<name> <file>).
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-30}
[ $# -gt 0 ] || { echo "usage: $0 build-fuzz/fuzz_x…" >&2; exit 2; }
failed=()
total=0
printf '%-20s %8s %14s %10s %8s  %s\n' target seconds executions exec/s corpus result
for bin in "$@"; do
  name=$(basename "$bin")
  tmp=$(mktemp -d /tmp/versync-fuzz.XXXXXX)
  mkdir -p "$tmp/corpus" "$tmp/tmp"
  for d in corpus regressions; do
    [ -d "tests/fuzz/$d/$name" ] && cp -r "tests/fuzz/$d/$name/." "$tmp/corpus/"
  done
  art="build-fuzz/artifacts/$name/"
  mkdir -p "$art"
  # TMPDIR: anything a target writes stays in $tmp, removed below.
  TMPDIR=$tmp/tmp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art" "$tmp/corpus" >"$tmp/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/log" | tail -1)
  ncorp=$(find "$tmp/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$tmp/log"; then
    result=ok
    rmdir "$art" 2>/dev/null
  else
    result="FAILED (exit $rc)"
    failed+=("$name")
    grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9]|Test unit written' "$tmp/log" | head -40 | sed 's/^/  /'
  fi
  printf '%-20s %8s %14s %10s %8s  %s\n' "$name" "$secs" "${execs:-?}" "${rate:-?}" "$ncorp" "$result"
  total=$((total + ${execs:-0}))
  rm -rf "$tmp"
done
echo "fuzz-smoke: $total executions in $# targets, ${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
