#!/usr/bin/env bash
# run.sh unit|integration|all — run the test suites and print one summary line
# "N passed, M failed" that counts every test case that ran.
#
# Unit tests are cmocka binaries in $BUILD/tests/ (VALGRIND=1 runs them under
# valgrind). Integration tests are tests/integration/test_*.sh scripts that
# print TAP lines ("ok - …" / "not ok - …"); a script that dies without
# reporting a failure counts as one failed test.
# TESTS=pattern limits the run to files whose name contains the pattern.
#
# So that one failure in CI explains itself, the summary at the end repeats,
# for each failing file, the name of each failing check (the TAP "not ok"
# line, or cmocka's "[  FAILED  ] test_x" with its assertion) and the last
# $TAIL_LINES (default 40) lines of that file's output, between the lines
# "==== failed checks" and "==== end of failed checks" (tests/extended.sh
# collects them). The last line stays "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
TAIL_LINES=${TAIL_LINES:-40}
passed=0
failed=0
failures=()
report=$(mktemp)
trap 'rm -f "$report"' EXIT

# note_failure NAME LOGFILE CHECKS — remember a failing file for the summary.
note_failure() {
  {
    echo "---- $1"
    printf '%s\n' "$3"
    echo "  last $TAIL_LINES lines of its output:"
    tail -n "$TAIL_LINES" "$2" | sed 's/^/  | /'
  } >>"$report"
}

run_unit() {
  local bin out rc p f
  for bin in "$BUILD"/tests/test_*; do
    [ -x "$bin" ] || continue
    [ -n "${TESTS:-}" ] && [[ "$bin" != *"$TESTS"* ]] && continue
    echo "== unit: $(basename "$bin")"
    if [ "${VALGRIND:-0}" = 1 ]; then
      out=$(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
            "$bin" 2>&1); rc=$?
    else
      out=$("$bin" 2>&1); rc=$?
    fi
    echo "$out" | grep -E '^\[ *(RUN|  OK|FAILED|PASSED|  ERROR|  SKIPPED) *\]|ERROR|==[0-9]+==|runtime error' | grep -v '^\[ RUN' || true
    p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      f=1
      echo "$out" | tail -30
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
      failures+=("unit/$(basename "$bin")")
      local log checks
      log=$(mktemp)
      printf '%s\n' "$out" >"$log"
      # cmocka names each failed test and the assertion that stopped it.
      checks=$(grep -E '^\[  (FAILED|ERROR) +\] |^\[   LINE   \] ' "$log" | grep -vE '^\[  FAILED  \] [0-9]+ test' | awk '!seen[$0]++' || true)
      [ -n "$checks" ] || checks="$(basename "$bin") exited with status $rc"
      note_failure "unit/$(basename "$bin")" "$log" "$checks"
      rm -f "$log"
    fi
  done
}

run_integration() {
  local t log rc p f
  for t in tests/integration/test_*.sh; do
    [ -f "$t" ] || continue
    [ -n "${TESTS:-}" ] && [[ "$t" != *"$TESTS"* ]] && continue
    echo "== integration: $(basename "$t")"
    log=$(mktemp)
    bash "$t" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      f=1
      echo "not ok - $(basename "$t") exited with status $rc" | tee -a "$log"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
      failures+=("integration/$(basename "$t")")
      note_failure "integration/$(basename "$t")" "$log" "$(grep '^not ok ' "$log")"
    fi
    rm -f "$log"
  done
}

case "$what" in
  unit) run_unit ;;
  integration) run_integration ;;
  all) run_unit; run_integration ;;
  *) echo "usage: $0 unit|integration|all" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then
  echo "==== failed checks"
  cat "$report"
  echo "==== end of failed checks"
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
