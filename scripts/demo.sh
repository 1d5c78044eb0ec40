#!/usr/bin/env bash
# demo.sh — what `make demo` runs (after building): a private PostgreSQL and a
# private verstore with their data under .demo/, then `versync demo race` with
# the defaults (which creates its table, runs `versync init` with its demo
# config and races the chaos workers), then both servers are stopped — always,
# also on failure or Ctrl-C. Every run starts from fresh state.
#
# Extra race options: DEMO_ARGS="--no-versions" make demo
# DEMO_DIR moves the state folder (default .demo/; the tests use a temp dir).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VERSYNC=$BUILD/versync
VERSTORE=$BUILD/verstore
DEMO=${DEMO_DIR:-$ROOT/.demo}
LOGS=$DEMO/logs

die() { echo "demo: $*" >&2; exit 1; }
if [ ! -x "$VERSYNC" ] || [ ! -x "$VERSTORE" ]; then die "build first: $VERSYNC and $VERSTORE are missing (make BUILD=$BUILD)"; fi

pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  d=$(command -v initdb) && dirname "$d"
}
PG_BIN=$(pg_bindir) || die "PostgreSQL's initdb was not found (make deps installs it)"

# PostgreSQL refuses to run as root: run its tools as postgres then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# wait_for SECS CMD… — poll CMD until it succeeds or the deadline passes.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# Servers a previous, interrupted run may have left behind (its trap never ran).
stop_leftovers() {
  if [ -f "$DEMO/pg/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DEMO/pg" -m immediate -w stop >/dev/null 2>&1
  fi
  if [ -f "$DEMO/verstore.pid" ]; then
    local pid
    pid=$(cat "$DEMO/verstore.pid")
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q verstore; then
      kill -TERM "$pid" 2>/dev/null
      wait_for 10 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    fi
  fi
}

STORE_PID=""
PG_STARTED=0
TMP_SOCK=""
cleanup() {
  local rc=$?
  if [ -n "$STORE_PID" ]; then
    kill -TERM "$STORE_PID" 2>/dev/null
    wait "$STORE_PID" 2>/dev/null
  fi
  rm -f "$DEMO/verstore.pid"
  if [ "$PG_STARTED" = 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DEMO/pg" -m fast -w stop >/dev/null 2>&1
  fi
  [ "$STORE_PID$PG_STARTED" != "0" ] && echo "demo: stopped PostgreSQL and verstore"
  [ -n "$TMP_SOCK" ] && rm -rf "$TMP_SOCK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- fresh state -------------------------------------------------------------
stop_leftovers
rm -rf "$DEMO"
mkdir -p "$DEMO/pg" "$LOGS" "$DEMO/store" "$DEMO/run"
# PostgreSQL runs as postgres when we are root: it needs its own folders.
SOCK=$DEMO/sock
# A unix socket path is limited to ~107 bytes; a deep checkout gets one in /tmp.
if [ ${#SOCK} -gt 80 ]; then SOCK=$(mktemp -d /tmp/versync-demo-sock.XXXXXX); TMP_SOCK=$SOCK; fi
mkdir -p "$SOCK"
chmod 755 "$DEMO" "$LOGS"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$DEMO/pg" "$SOCK" "$LOGS"
  su postgres -s /bin/sh -c "test -x '$DEMO'" ||
    die "the postgres user cannot reach $DEMO (a parent folder is not world-searchable)"
fi

# ---- PostgreSQL --------------------------------------------------------------
echo "demo: starting a private PostgreSQL (data in .demo/pg)"
as_pg "$PG_BIN/initdb" -D "$DEMO/pg" -U postgres --auth=trust -E UTF8 --no-sync --no-instructions \
  >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log"; die "initdb failed (log: $LOGS/initdb.log)"; }
for _ in 1 2 3 4 5; do
  PGPORT=$(free_port)
  if as_pg "$PG_BIN/pg_ctl" -D "$DEMO/pg" -l "$LOGS/postgres.log" -w -t 60 \
      -o "-p $PGPORT -k $SOCK -c listen_addresses='' -c max_connections=100 -c synchronous_commit=off" start >/dev/null 2>&1; then
    PG_STARTED=1
    break
  fi
done
[ "$PG_STARTED" = 1 ] || { tail -20 "$LOGS/postgres.log"; die "PostgreSQL did not start (log: $LOGS/postgres.log)"; }
PG_CONNINFO="host=$SOCK port=$PGPORT user=postgres dbname=postgres"
wait_for 30 psql -XAtq "$PG_CONNINFO" -c 'select 1' || die "PostgreSQL does not answer (log: $LOGS/postgres.log)"

# ---- verstore ----------------------------------------------------------------
echo "demo: starting verstore (data in .demo/store)"
"$VERSTORE" --listen 127.0.0.1:0 --data "$DEMO/store" >"$LOGS/verstore.log" 2>&1 &
STORE_PID=$!
echo "$STORE_PID" >"$DEMO/verstore.pid"
wait_for 30 grep -q 'verstore listening on http://' "$LOGS/verstore.log" ||
  { tail -20 "$LOGS/verstore.log"; die "verstore did not start (log: $LOGS/verstore.log)"; }
STORE_URL=$(grep -o 'verstore listening on http://[^ ]*' "$LOGS/verstore.log" | head -1 | sed 's/.* on //')
wait_for 30 curl -sf -o /dev/null "$STORE_URL/" || die "verstore does not answer at $STORE_URL"

# ---- the race ----------------------------------------------------------------
echo "demo: PostgreSQL on port $PGPORT, verstore at $STORE_URL"
echo "demo: versync demo race${DEMO_ARGS:+ $DEMO_ARGS}"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of options
"$VERSYNC" demo race --postgres "$PG_CONNINFO" --store "$STORE_URL" --work-dir "$DEMO/run" ${DEMO_ARGS:-}
rc=$?

cat <<EOF

demo: logs: PostgreSQL $LOGS/postgres.log
            verstore   $LOGS/verstore.log
            versync    $DEMO/run/init.log, $DEMO/run/workers.log (generated config: $DEMO/run/demo.json)
demo: run it again (from fresh state):  make demo
      the counterfactual, without external versions:  DEMO_ARGS=--no-versions make demo
      other budgets:  DEMO_ARGS="--rows 20 --workers 16 --seconds 30" make demo   (see: $VERSYNC demo race --help)
EOF
if [ "$rc" = 1 ] && [[ " ${DEMO_ARGS:-} " == *" --no-versions "* ]]; then
  echo "demo: without external versions the store ended different from PostgreSQL, which is what this"
  echo "      counterfactual shows (versync demo race exit status 1); make demo counts it a success."
  rc=0
fi
exit "$rc"
