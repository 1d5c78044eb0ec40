#!/usr/bin/env bash
# verstore command line and process life: --help, bad options and unusable data
# dirs (exit 2, naming them), the ready line, the data-dir lock, defaults,
# --durability async, JSON logs, and SIGTERM finishing a request in flight.
. "$(dirname "$0")/lib.sh"

# ---- --help ------------------------------------------------------------------
out=$(timeout 10 "$VERSTORE" --help 2>&1)
rc=$?
assert_eq "--help exits 0" 0 "$rc"
for opt in --listen --data --durability --max-body --threads --log-level --log-format; do
  check "--help documents $opt" grep -q -- "$opt" <<<"$out"
done
for word in request async text json; do
  check "--help names the value [$word]" grep -qw -- "$word" <<<"$out"
done

# ---- bad options and unusable data dirs ----------------------------------------
# refused DESC WORD ARGS… — verstore ARGS exits 2 with a message containing WORD.
refused() {
  local desc=$1 word=$2 out rc
  shift 2
  out=$(cd "$T_DIR" && timeout 10 "$VERSTORE" "$@" 2>&1)
  rc=$?
  assert_eq "$desc: exit status 2" 2 "$rc"
  if grep -qiF -- "$word" <<<"$out"; then ok "$desc: the message names [$word]"; else
    not_ok "$desc: the message names [$word]"
    printf '#   output: %s\n' "$(head -c 300 <<<"$out")"
  fi
}
D=$T_DIR/okdata
refused "unknown option" "--bogus" --listen 127.0.0.1:0 --data "$D" --bogus
refused "stray argument" "stray" --listen 127.0.0.1:0 --data "$D" stray
refused "option without its value" "--data" --listen 127.0.0.1:0 --data
refused "bad --durability" "durability" --listen 127.0.0.1:0 --data "$D" --durability sometimes
refused "bad --max-body" "max-body" --listen 127.0.0.1:0 --data "$D" --max-body lots
refused "negative --max-body" "max-body" --listen 127.0.0.1:0 --data "$D" --max-body -1
refused "bad --threads" "threads" --listen 127.0.0.1:0 --data "$D" --threads zero
refused "bad --log-level" "log-level" --listen 127.0.0.1:0 --data "$D" --log-level loud
refused "bad --log-format" "log-format" --listen 127.0.0.1:0 --data "$D" --log-format xml
refused "bad --listen (no port)" "listen" --listen 127.0.0.1 --data "$D"
refused "bad --listen (port out of range)" "listen" --listen 127.0.0.1:70000 --data "$D"
touch "$T_DIR/afile"
refused "data dir is a regular file" "$T_DIR/afile" --listen 127.0.0.1:0 --data "$T_DIR/afile"
refused "data dir below a regular file" "$T_DIR/afile/sub" --listen 127.0.0.1:0 --data "$T_DIR/afile/sub"
refused "data dir that cannot be created" "/proc/verstore-no" --listen 127.0.0.1:0 --data /proc/verstore-no/data

# ---- ready line, defaults ----------------------------------------------------------
check "verstore starts on an ephemeral port" verstore_start
check "it printed exactly one ready line with the real port" \
  test "$(grep -cE "^verstore listening on http://127\.0\.0\.1:$STORE_PORT\$" "$STORE_LOG")" = 1
check "the ephemeral port is not 0" test "$STORE_PORT" -gt 0

# Without --data the store lives in ./verstore-data.
mkdir -p "$T_DIR/cwd"
(cd "$T_DIR/cwd" && exec "$VERSTORE" --listen 127.0.0.1:0 >"$T_DIR/cwd.log" 2>&1) &
cwd_pid=$!
T_PIDS+=("$cwd_pid")
check "a store without --data gets ready" wait_until 30 grep -q 'verstore listening on' "$T_DIR/cwd.log"
check "its data dir defaults to ./verstore-data" test -d "$T_DIR/cwd/verstore-data"
kill -TERM "$cwd_pid"
wait "$cwd_pid"
assert_eq "that store exits 0 on SIGTERM" 0 "$?"

# SIGINT stops it cleanly too.
(cd "$T_DIR/cwd" && exec "$VERSTORE" --listen 127.0.0.1:0 >"$T_DIR/int.log" 2>&1) &
int_pid=$!
T_PIDS+=("$int_pid")
check "a second store in that dir gets ready" wait_until 30 grep -q 'verstore listening on' "$T_DIR/int.log"
kill -INT "$int_pid"
wait "$int_pid"
assert_eq "verstore exits 0 on SIGINT" 0 "$?"

# ---- the data-dir lock ---------------------------------------------------------
http PUT /cli/_doc/1 '{"a":1}'
assert_eq "first store writes" 201 "$HTTP_STATUS"
refused "a second store on the same data dir" "lock" --listen 127.0.0.1:0 --data "$STORE_DATA"
http GET /cli/_doc/1
assert_json "the first store still serves its data" '[.found, ._source]' '[true,{"a":1}]'

# ---- SIGTERM finishes a request in flight ----------------------------------------
# A ~400 kB bulk uploaded at 200 kB/s is still arriving when SIGTERM lands.
pad=$(head -c 150 /dev/zero | tr '\0' q)
for i in $(seq 1 2400); do
  printf '{"index":{"_index":"cli","_id":"s%d"}}\n{"i":%d,"p":"%s"}\n' "$i" "$i" "$pad"
done >"$T_DIR/slow.ndjson"
curl -s -o "$T_DIR/slow.out" -w '%{http_code}' --limit-rate 200k -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$T_DIR/slow.ndjson" "$STORE_URL/_bulk" >"$T_DIR/slow.code" &
slow_pid=$!
T_PIDS+=("$slow_pid")
in_flight() { [ "$(ss -Htn state established "( dport = :$STORE_PORT )" | wc -l)" -ge 1 ]; }
check "the slow bulk is in flight" wait_until 10 in_flight
check "verstore exits 0 on SIGTERM with a request in flight" verstore_stop
wait "$slow_pid"
assert_eq "the request in flight was answered 200" 200 "$(cat "$T_DIR/slow.code")"
HTTP_BODY=$(cat "$T_DIR/slow.out")
assert_json "the request in flight was applied in full" '[.errors, (.items | length)]' '[false,2400]'
check "verstore restarts" verstore_start
http GET /cli/_doc/s2400
assert_json "the in-flight bulk is durable" '[.found, ._source.i]' '[true,2400]'
check "verstore stops" verstore_stop

# ---- --durability async, --threads, JSON logs -------------------------------------
pre=$(wc -l <"$STORE_LOG")
check "verstore starts with --durability async --threads 2 --log-format json --log-level debug" \
  verstore_start --durability async --threads 2 --log-format json --log-level debug
http PUT /cli/_doc/async '{"a":2}'
assert_eq "async durability writes" 201 "$HTTP_STATUS"
http POST /_bulk '{"index":{"_index":"cli","_id":"async2"}}
{"a":3}
' application/x-ndjson
assert_json "async durability bulk" '.items[0].index.status' 201
check "async store exits 0 on SIGTERM" verstore_stop
# Only this run's lines (the log file collects every start of this test).
tail -n +$((pre + 1)) "$STORE_LOG" | grep -v '^verstore listening on ' >"$T_DIR/json.log"
check "--log-format json --log-level debug: something was logged" test -s "$T_DIR/json.log"
jsonbad=$(while IFS= read -r l; do jq -e 'type == "object"' >/dev/null 2>&1 <<<"$l" || echo "$l"; done <"$T_DIR/json.log")
assert_eq "--log-format json: every log line is a JSON object" "" "$jsonbad"
check "verstore restarts after async" verstore_start
http GET /cli/_doc/async
assert_json "a clean stop flushes async writes" '[.found, ._source]' '[true,{"a":2}]'
http GET /cli/_doc/async2
assert_json "a clean stop flushes async bulks" '[.found, ._source]' '[true,{"a":3}]'
check "verstore stops" verstore_stop
done_testing
