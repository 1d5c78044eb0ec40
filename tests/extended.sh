#!/usr/bin/env bash
# extended.sh — `make test` with CI=true or EXTENDED=1 (what .ci/run runs in CI):
#   1. the suite (unit + integration) on $BUILD
#   2. the suite again, built with AddressSanitizer + UBSan (build-asan/)
#   3. the unit tests under valgrind (--error-exitcode, --leak-check=full)
#   4. make fuzz-smoke: every libFuzzer target for $FUZZ_SECONDS (default 30)
# Each stage prints its own "N passed, M failed"; a fuzz target counts as one
# test. The last line sums all stages: "N passed, M failed"; before it, each
# failing check of every stage with the tail of its output (see run.sh), so a
# red CI run explains itself. Exits non-zero when any stage failed or did not
# finish.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
passed=0
failed=0
lines=()
start=$(date +%s)
# The failing checks of every stage, repeated before the final line (run.sh
# prints them between "==== failed checks" and "==== end of failed checks").
report=$(mktemp)
trap 'rm -f "$report"' EXIT

# stage NAME CMD… — run CMD, add its last "N passed, M failed" line to the totals.
stage() {
  local name=$1 log rc p f t0=$(date +%s)
  shift
  echo "==== stage: $name"
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # died or failed to build
  if [ "$f" -gt 0 ]; then
    echo "==== stage $name" >>"$report"
    if grep -q '^==== failed checks' "$log"; then
      sed -n '/^==== failed checks$/,/^==== end of failed checks$/p' "$log" | sed '1d;$d' >>"$report"
    else # a build error or a fuzz target: the stage's last lines say what
      grep -E 'FAILED|error:|Error [0-9]' "$log" | tail -20 >>"$report"
      echo "  last ${TAIL_LINES:-40} lines of its output:" >>"$report"
      tail -n "${TAIL_LINES:-40}" "$log" | sed 's/^/  | /' >>"$report"
    fi
  fi
  passed=$((passed + p)); failed=$((failed + f))
  lines+=("$(printf '%-10s %6d passed, %d failed (%d s)' "$name" "$p" "$f" $(($(date +%s) - t0)))")
  rm -f "$log"
}

# fuzz-smoke prints one line per target; report them as tests.
fuzz_stage() {
  local out rc ok bad
  out=$($MAKE --no-print-directory fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-30}" 2>&1); rc=$?
  echo "$out"
  ok=$(grep -cE '^fuzz_[a-z_]+ .* ok$' <<<"$out")
  bad=$(grep -cE '^fuzz_[a-z_]+ .* FAILED' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  echo "$ok passed, $bad failed"
  [ "$bad" -eq 0 ]
}

stage suite env BUILD="$BUILD" tests/run.sh all
stage asan bash -c "$MAKE --no-print-directory asan-bins && BUILD=build-asan \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh all"
stage valgrind env BUILD="$BUILD" VALGRIND=1 tests/run.sh unit
stage fuzz fuzz_stage

echo "==== extended run: $(($(date +%s) - start)) s"
if [ -s "$report" ]; then
  echo "==== failed checks"
  cat "$report"
  echo "==== end of failed checks"
fi
printf '%s\n' "${lines[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
