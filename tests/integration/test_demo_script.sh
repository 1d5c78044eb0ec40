#!/usr/bin/env bash
# scripts/demo.sh (what `make demo` runs): a private PostgreSQL and verstore,
# the race, then both servers stopped; a second run starts from fresh state.
# A small budget keeps it short; DEMO_DIR keeps it out of the checkout's .demo/.
. "$(dirname "$0")/lib.sh"

export DEMO_DIR=$T_DIR/demo
export DEMO_ARGS="--rows 10 --changes 300 --workers 3 --max-delay-ms 10"

servers_gone() {
  ! pgrep -f "$DEMO_DIR/(pg|store)" >/dev/null
}

BUILD=$VS_BUILD "$VS_ROOT/scripts/demo.sh" >"$T_DIR/run1.log" 2>&1
rc=$?
T_LOGS+=("$T_DIR/run1.log")
assert_eq "the demo script exits 0" 0 "$rc"
check "the race ended equal to PostgreSQL" grep -q '^OK: every row equals its document' "$T_DIR/run1.log"
check "it says where the logs are" grep -q "demo: logs: PostgreSQL $DEMO_DIR/logs/postgres.log" "$T_DIR/run1.log"
check "it says how to run it again" grep -q 'run it again (from fresh state):  make demo' "$T_DIR/run1.log"
check "the worker log was kept" test -s "$DEMO_DIR/run/workers.log"
check "PostgreSQL and verstore were stopped" servers_gone
touch "$DEMO_DIR/pg/leftover-from-run-1" "$DEMO_DIR/store/leftover-from-run-1"

BUILD=$VS_BUILD "$VS_ROOT/scripts/demo.sh" >"$T_DIR/run2.log" 2>&1
rc=$?
T_LOGS+=("$T_DIR/run2.log")
assert_eq "a second run exits 0" 0 "$rc"
check "the second run started from fresh state" \
  test ! -e "$DEMO_DIR/pg/leftover-from-run-1" -a ! -e "$DEMO_DIR/store/leftover-from-run-1"
check "the second race compared its own 10 rows" grep -Eq 'rows compared +10$' "$T_DIR/run2.log"
check "both servers were stopped again" servers_gone
done_testing
