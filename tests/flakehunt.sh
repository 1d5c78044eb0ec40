#!/usr/bin/env bash
# flakehunt.sh — `make flakehunt`: run the suite again and again with every core
# kept busy by other processes, to find the checks that fail only under load.
# A red CI blocks everything, so a check that can fail this way is a defect
# whose race must be fixed (not its timeout raised).
#
#   ROUNDS (default 3)      suite runs at most
#   HUNT_MINUTES (def. 60)  no new round starts after this
#   HOGS (default nproc)    busy processes; each is a shell loop at nice 0,
#                           killed when the hunt ends (also on failure or ^C)
#   SUITE (default all)     what tests/run.sh runs: all, unit or integration
#   TESTS                   passed on to run.sh (a subset of the suite)
# Prints each round's "N passed, M failed" and, at the end, every failed
# check of every round with the tail of its log (run.sh's summary). Exits 1
# when any round failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
HUNT_MINUTES=${HUNT_MINUTES:-60}
HOGS=${HOGS:-$(nproc)}
SUITE=${SUITE:-all}
export BUILD

hogs=()
report=$(mktemp)
cleanup() {
  for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -f "$report"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The hogs end by themselves after the hunt's budget even if this script is
# killed with SIGKILL and its trap never runs.
budget=$(( (HUNT_MINUTES + 120) * 60 ))
for _ in $(seq 1 "$HOGS"); do
  timeout "$budget" bash -c 'while :; do :; done' &
  hogs+=("$!")
done
echo "flakehunt: $HOGS busy processes, up to $ROUNDS rounds of '$SUITE', no new round after $HUNT_MINUTES min"

deadline=$(( $(date +%s) + HUNT_MINUTES * 60 ))
bad=0
ran=0
for round in $(seq 1 "$ROUNDS"); do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "flakehunt: time is up before round $round"
    break
  fi
  log=$(mktemp)
  t0=$(date +%s)
  tests/run.sh "$SUITE" >"$log" 2>&1
  rc=$?
  ran=$((ran + 1))
  echo "round $round ($(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg)): $(tail -1 "$log")"
  if [ "$rc" -ne 0 ]; then
    bad=$((bad + 1))
    echo "==== round $round" >>"$report"
    if grep -q '^==== failed checks' "$log"; then
      sed -n '/^==== failed checks$/,/^==== end of failed checks$/p' "$log" | sed '1d;$d' >>"$report"
    else
      tail -40 "$log" >>"$report"
    fi
  fi
  rm -f "$log"
done
if [ "$bad" -gt 0 ]; then
  echo "==== failed checks"
  cat "$report"
  echo "==== end of failed checks"
fi
echo "flakehunt: $ran round(s), $bad with a failure"
[ "$bad" -eq 0 ] && [ "$ran" -gt 0 ]
