# lib.sh — shared harness for integration tests (source it, do not run it).
#
# Gives each test a private, throwaway world and always tears it down:
#   pg_start              initdb + pg_ctl in a temp dir, free port, unix socket
#                         in the temp dir (as user postgres when run as root).
#                         Sets PGHOST PGPORT PGUSER PGDATABASE and PG_CONNINFO.
#   verstore_start [ARGS] start $VERSTORE on a free port with a temp data dir;
#                         sets STORE_URL STORE_PORT STORE_PID STORE_DATA STORE_LOG.
#                         Called again after verstore_stop/verstore_kill it
#                         reuses the same port and data dir (a restart).
#   wait_until SECS CMD…  poll CMD until it succeeds or the deadline passes.
#   TAP helpers: ok, not_ok, check, assert_eq, assert_match, done_testing.
#   http METHOD PATH [BODY [CTYPE]], jqb, http_header, assert_json: HTTP checks.
# A failing test prints the PostgreSQL and verstore logs before cleanup.
set -uo pipefail

VS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) VS_BUILD=$BUILD ;; *) VS_BUILD=$VS_ROOT/$BUILD ;; esac
VERSYNC=${VERSYNC:-$VS_BUILD/versync}
VERSTORE=${VERSTORE:-$VS_BUILD/verstore}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T_DIR=$(mktemp -d /tmp/versync-it.XXXXXX)
chmod 755 "$T_DIR"
T_N=0
T_FAILED=0
T_LOGS=()
T_PIDS=()
PG_DATA=""
STORE_PID=""
STORE_PORT=""
STORE_DATA=""
STORE_LOG=""

_t_cleanup() {
  local rc=$?
  local pid
  for pid in ${T_PIDS[@]+"${T_PIDS[@]}"}; do
    kill -TERM "$pid" 2>/dev/null
  done
  [ -n "$STORE_PID" ] && kill -TERM "$STORE_PID" 2>/dev/null
  for pid in ${T_PIDS[@]+"${T_PIDS[@]}"} $STORE_PID; do
    local i
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ -n "$PG_DATA" ] && [ -d "$PG_DATA" ]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1
  fi
  if [ "$T_FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
    local f
    for f in ${T_LOGS[@]+"${T_LOGS[@]}"}; do
      [ -f "$f" ] || continue
      echo "# ---- $f (last 60 lines) ----"
      tail -n 60 "$f" | sed 's/^/# /'
    done
  fi
  rm -rf "$T_DIR"
}
trap _t_cleanup EXIT
trap 'exit 130' INT TERM

# ---- TAP -------------------------------------------------------------------

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }

# check DESC CMD… — a test case that passes when CMD exits 0.
check() {
  local desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
  if [ "$2" == "$3" ]; then ok "$1"; else
    not_ok "$1"
    printf '#   expected: %s\n#   actual:   %s\n' "$2" "$3"
  fi
}

# assert_match DESC REGEX ACTUAL
assert_match() {
  if [[ "$3" =~ $2 ]]; then ok "$1"; else
    not_ok "$1"
    printf '#   expected to match: %s\n#   actual: %s\n' "$2" "$3"
  fi
}

# done_testing — print the plan; the exit status says whether all passed.
done_testing() {
  echo "1..$T_N"
  [ "$T_FAILED" -eq 0 ]
}

# ---- waiting ---------------------------------------------------------------

# wait_until SECS CMD… — poll CMD (every 50 ms) until it succeeds; fail at the deadline.
wait_until() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "# wait_until: timed out after ${secs}s: $*" >&2
      return 1
    fi
    sleep 0.05
  done
}

# free_port — a TCP port nobody on loopback is listening on right now.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# ---- PostgreSQL ------------------------------------------------------------

_pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  dirname "$(command -v initdb)"
}
PG_BIN=$(_pg_bindir)

# PostgreSQL refuses to run as root: run its tools as postgres then.
_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start — a throwaway server. PG_EXTRA_OPTS adds server options to it (and to pg_restart),
# e.g. PG_EXTRA_OPTS="-c wal_level=logical".
pg_start() {
  PG_DATA=$T_DIR/pg
  local sock=$T_DIR/pgsock
  PG_LOG=$T_DIR/pglog/postgres.log
  mkdir -p "$PG_DATA" "$sock" "$T_DIR/pglog"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DATA" "$sock" "$T_DIR/pglog"
  _pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-sync \
    --no-instructions >"$T_DIR/initdb.log" 2>&1 || { cat "$T_DIR/initdb.log"; return 1; }
  local try
  for try in 1 2 3 4 5; do
    PGPORT=$(free_port)
    if _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
        -o "-p $PGPORT -k $sock -c listen_addresses='' -c fsync=off -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
        start >/dev/null 2>&1; then
      break
    fi
    [ "$try" -eq 5 ] && { cat "$PG_LOG"; return 1; }
  done
  T_LOGS+=("$PG_LOG")
  export PGHOST=$sock PGPORT PGUSER=postgres PGDATABASE=postgres
  PG_CONNINFO="host=$sock port=$PGPORT user=postgres dbname=postgres"
  export PG_CONNINFO
  wait_until 30 psql -XAtqc 'select 1'
}

# pg_restart [MODE] — restart the throwaway server (default mode: immediate).
pg_restart() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "${1:-immediate}" -w -t 60 restart \
    -o "-p $PGPORT -k $PGHOST -c listen_addresses='' -c fsync=off -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
    -l "$PG_LOG" >/dev/null 2>&1
  wait_until 30 psql -XAtqc 'select 1'
}

# sql QUERY [ARGS…] — run SQL, print unaligned tuples-only output.
sql() { psql -XAtq -v ON_ERROR_STOP=1 -c "$@"; }

# ---- verstore --------------------------------------------------------------

# How many "verstore listening" lines $STORE_LOG holds (0 before it exists).
_verstore_ready_lines() {
  local n
  n=$(grep -c 'verstore listening on http://' "$STORE_LOG" 2>/dev/null)
  echo "${n:-0}"
}

# verstore_start [ARGS…] — start (or restart) verstore; waits until it answers.
verstore_start() {
  STORE_DATA=${STORE_DATA:-$T_DIR/store}
  STORE_LOG=$T_DIR/verstore.log
  local port=${STORE_PORT:-0} before deadline=$((SECONDS + 30))
  # Wait for this process's own "listening" line, not an earlier run's in the
  # same log; and on a restart on a fixed port, notice at once that it could
  # not bind (another program on this shared machine took the port meanwhile)
  # instead of taking whoever answers there for it.
  before=$(_verstore_ready_lines)
  "$VERSTORE" --listen "127.0.0.1:$port" --data "$STORE_DATA" "$@" >>"$STORE_LOG" 2>&1 &
  STORE_PID=$!
  [[ " ${T_LOGS[*]-} " == *" $STORE_LOG "* ]] || T_LOGS+=("$STORE_LOG")
  until [ "$(_verstore_ready_lines)" -gt "$before" ]; do
    if ! kill -0 "$STORE_PID" 2>/dev/null; then
      echo "# verstore_start: verstore exited before listening on port $port (see $STORE_LOG)" >&2
      wait "$STORE_PID" 2>/dev/null
      STORE_PID=""
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "# verstore_start: not listening after 30 s" >&2
      return 1
    fi
    sleep 0.05
  done
  STORE_PORT=$(grep -o 'verstore listening on http://[^ ]*' "$STORE_LOG" | tail -1 | sed 's/.*://')
  STORE_URL=http://127.0.0.1:$STORE_PORT
  export STORE_URL
  wait_until 30 curl -sf -o /dev/null "$STORE_URL/"
}

# verstore_stop — SIGTERM and wait for a clean exit; prints the exit status.
verstore_stop() {
  [ -n "$STORE_PID" ] || return 0
  kill -TERM "$STORE_PID" 2>/dev/null
  kill -CONT "$STORE_PID" 2>/dev/null # a test that froze it (SIGSTOP) and failed before thawing it
  local rc=0
  wait "$STORE_PID" || rc=$?
  STORE_PID=""
  return "$rc"
}

# verstore_kill — SIGKILL, as a crash would.
verstore_kill() {
  [ -n "$STORE_PID" ] || return 0
  kill -KILL "$STORE_PID" 2>/dev/null
  wait "$STORE_PID" 2>/dev/null
  STORE_PID=""
}

# ---- HTTP ------------------------------------------------------------------

# http METHOD PATH [BODY [CONTENT_TYPE]] — request against $STORE_URL.
# Sets HTTP_STATUS, HTTP_BODY and HTTP_HEADERS.
http() {
  local method=$1 path=$2 body=${3-} ctype=${4:-application/json}
  local args=(-s -X "$method" -D "$T_DIR/.h" -o "$T_DIR/.b" -w '%{http_code}')
  [ "$method" = HEAD ] && args=(-s -I -D "$T_DIR/.h" -o "$T_DIR/.b" -w '%{http_code}')
  if [ $# -ge 3 ]; then
    args+=(-H "Content-Type: $ctype" --data-binary @-)
    HTTP_STATUS=$(printf '%s' "$body" | curl "${args[@]}" "$STORE_URL$path")
  else
    HTTP_STATUS=$(curl "${args[@]}" "$STORE_URL$path")
  fi
  HTTP_BODY=$(cat "$T_DIR/.b")
  HTTP_HEADERS=$(cat "$T_DIR/.h")
}

# jqb FILTER — apply a jq filter to the last HTTP_BODY.
jqb() { printf '%s' "$HTTP_BODY" | jq -c "$1"; }

# http_header NAME — value of response header NAME (any case) of the last http call.
http_header() {
  printf '%s\n' "$HTTP_HEADERS" | tr -d '\r' |
    awk -v n="$1" 'BEGIN{n=tolower(n)} {i=index($0,":"); if (i && tolower(substr($0,1,i-1))==n) {v=substr($0,i+1); sub(/^[ \t]+/,"",v); print v; exit}}'
}

# assert_json DESC FILTER EXPECTED — jq FILTER over the last HTTP_BODY equals the
# JSON EXPECTED (both compact with sorted keys: key order is not semantic).
assert_json() {
  local exp
  exp=$(printf '%s' "$3" | jq -cS . 2>/dev/null) || exp=$3
  assert_eq "$1" "$exp" "$(printf '%s' "$HTTP_BODY" | jq -cS "$2" 2>&1)"
}

# head_body PATH — what a HEAD request to PATH receives after the header block
# (there should be nothing); curl -I cannot tell, it never reads a HEAD body.
head_body() {
  local resp
  resp=$(
    exec 3<>"/dev/tcp/127.0.0.1/$STORE_PORT" || exit 1
    printf 'HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
    timeout 5 cat <&3
    printf .   # keeps $(…) from eating trailing newlines
  )
  [[ "$resp" == HTTP/1.?\ * ]] || { printf 'no HTTP response'; return; }
  local blank=$'\r\n\r\n'
  resp=${resp%.}
  printf '%s' "${resp#*"$blank"}"
}

# assert_es_headers DESC — the last response carries what Elasticsearch clients
# check on every answer: X-Elastic-Product: Elasticsearch and a JSON Content-Type.
assert_es_headers() {
  assert_eq "$1: X-Elastic-Product" "Elasticsearch" "$(http_header X-Elastic-Product)"
  assert_match "$1: Content-Type" '^application/json' "$(http_header Content-Type)"
}

# ---- versync ---------------------------------------------------------------

# bg CMD… — run CMD in the background, remembered for cleanup; sets BG_PID.
bg() {
  "$@" &
  BG_PID=$!
  T_PIDS+=("$BG_PID")
}
