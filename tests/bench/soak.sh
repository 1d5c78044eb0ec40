#!/usr/bin/env bash
# soak.sh — `make bench`, liveness: does `versync run` keep draining under the
# highest write rate this machine sustains, round after round? (issue 21)
#
# Starts its own PostgreSQL and verstore and one `versync run --workers
# $WORKERS --metrics 0` (LISTEN), then repeats until $SOAK_SECONDS have passed
# (bounded): pgbench writes $RATE rows/s for $BURST s, then the backlog must
# drain. The backlog is sampled every 0.5 s; when it is above zero and has not
# shrunk for $STALL_S s the workers are stalled: their state is captured into
# $BUILD/soak-stall-ROUND.txt (pg_stat_activity of every session, the locks on
# the change table, the change table's counts, /health, versync's metrics,
# verstore's commit times, the workers' last log lines) and the round counts
# as a stall. While the writers run, the backlog
# is sampled too: the first time in a round it passes $GROW_BOUND (by default
# two seconds of writes), the same state is captured into
# $BUILD/soak-grow-ROUND.txt, since a pause during the writes that the drain
# afterwards makes up for never looks like a stall. Prints one summary line;
# exit 1 when any round stalled or failed. QUICK=1: two short rounds.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
. tests/integration/lib.sh
. tests/bench/bench_lib.sh
command -v pgbench >/dev/null || PATH=$PG_BIN:$PATH
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  SOAK_SECONDS=${SOAK_SECONDS:-20} RATE=${RATE:-5000} BURST=${BURST:-3}
else
  SOAK_SECONDS=${SOAK_SECONDS:-300} RATE=${RATE:-20000} BURST=${BURST:-20}
fi
WORKERS=${WORKERS:-2} STALL_S=${STALL_S:-15} GROW_BOUND=${GROW_BOUND:-$((RATE * 2))}
t_start=$SECONDS
say() { echo "# soak [$((SECONDS - t_start))s] $*" >&2; }

pg_start || exit 1
verstore_start --log-level warn || exit 1
CFG=$T_DIR/versync.json
cat >"$CFG" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "timeout_ms": 30000},
  "batch_size": 500,
  "poll_interval_ms": 1000,
  "tables": [{"table": "public.soak", "index": "soak"}]
}
JSON
sql "create table public.soak (id bigint primary key, name text not null, qty int not null,
       updated_at timestamptz not null default now());
     create sequence public.soak_ids;" || exit 1
"$VERSYNC" -c "$CFG" --log-level warn init >/dev/null || exit 1
RUN_LOG=$T_DIR/run.log
bg "$VERSYNC" -c "$CFG" run --workers "$WORKERS" --metrics 0 2>"$RUN_LOG"
RUN_PID=$BG_PID
wait_until 30 grep -q 'metrics on http://127.0.0.1:[0-9]*/metrics' "$RUN_LOG" || { cat "$RUN_LOG" >&2; exit 1; }
MURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$RUN_LOG" | head -1)
tps=200; per=$((RATE / tps))
cat >"$T_DIR/writer.sql" <<SQL
insert into public.soak (id, name, qty)
  select nextval('public.soak_ids'), 'soak row ' || g, g % 1000 from generate_series(1, :per) g;
update public.soak set qty = qty + 1 where id = (select last_value from public.soak_ids) - 1000;
SQL
backlog() { sql "select count(*) from versync.changes" 2>/dev/null; }

# capture ROUND [KIND] — everything that says where the workers wait (KIND: stall, or grow
# for a backlog past GROW_BOUND while the writers run).
capture() {
  local kind=${2:-stall}
  local out=$VS_BUILD/soak-$kind-$1.txt
  bench_capture "soak $kind, round $1" "$MURL" "$RUN_LOG" >"$out" 2>&1
  say "$kind captured in $out"
}

round=0 stalls=0 rows=0 fails=0 grew=0 peak=0
while [ $((SECONDS - t_start)) -lt "$SOAK_SECONDS" ]; do
  round=$((round + 1))
  bg pgbench -n -f "$T_DIR/writer.sql" -D per="$per" -R "$tps" -T "$BURST" -c 4 -j 2 >"$T_DIR/pgbench.out" 2>&1
  PGB_PID=$BG_PID captured=0
  # the backlog while the writers run: its peak, and the state the first time it passes the bound
  while kill -0 "$PGB_PID" 2>/dev/null; do
    b=$(backlog)
    if [ -n "$b" ]; then
      [ "$b" -gt "$peak" ] && peak=$b
      if [ "$b" -gt "$GROW_BOUND" ] && [ "$captured" = 0 ]; then
        captured=1 grew=$((grew + 1))
        say "round $round: backlog $b past $GROW_BOUND while the writers run"
        capture "$round" grow
      fi
    fi
    sleep 0.5
  done
  wait "$PGB_PID" || { fails=$((fails + 1)); cat "$T_DIR/pgbench.out" >&2; }
  achieved=$(awk -v per="$per" '/^tps = / {printf "%.0f", $3 * per}' "$T_DIR/pgbench.out")
  rows=$((rows + ${achieved:-0} * BURST))
  # Drain: the backlog must shrink at least every STALL_S seconds until it is empty.
  best=$(backlog); since=$SECONDS; stalled=0
  while [ "${best:-1}" != 0 ]; do
    sleep 0.5
    b=$(backlog)
    [ -z "$b" ] && continue
    if [ "$b" -lt "$best" ]; then best=$b; since=$SECONDS; fi
    if [ $((SECONDS - since)) -ge "$STALL_S" ]; then
      stalled=1; stalls=$((stalls + 1))
      say "round $round: backlog stuck at $b for ${STALL_S}s"
      capture "$round"
      # Keep going: does it recover by itself (the watchdog) within a minute?
      wait_until 60 bash -c "[ \"\$(psql -XAtq -c 'select count(*) from versync.changes')\" = 0 ]" &&
        say "round $round: recovered by itself" || { say "round $round: not recovered; clearing"; sql "delete from versync.changes" >/dev/null; }
      break
    fi
  done
  say "round $round: ~${achieved:-?} rows/s for ${BURST}s, $([ "$stalled" = 1 ] && echo STALLED || echo drained)"
done
kill -TERM "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null
grep -c 'watchdog: no claim' "$RUN_LOG" >"$T_DIR/wd" 2>/dev/null
echo "| soak: versync run --workers $WORKERS, $round rounds of $BURST s at $(printf '%s' "$RATE") rows/s requested (≈ $rows rows) in $((SECONDS - t_start)) s | $stalls stalls, $(cat "$T_DIR/wd") watchdog reports, $fails writer failures; backlog during the writes: peak $peak, past $GROW_BOUND in $grew rounds | 0 stalls | $([ "$stalls" = 0 ] && [ "$fails" = 0 ] && echo met || echo missed) |"
[ "$stalls" = 0 ] && [ "$fails" = 0 ]
