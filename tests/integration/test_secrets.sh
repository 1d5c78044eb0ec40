#!/usr/bin/env bash
# Secrets stay secret. The PostgreSQL password and the store password come
# from the environment through ${NAME}; versync init, check, once, status,
# status --json, run and verify, all at --log-level debug, must not print
# either anywhere (stdout, stderr, verstore's log). A literal password in a
# config file that group or others can read is refused, naming the file and
# the field and pointing to ${NAME} and chmod 600, without printing it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_SECRET="pg-Secret-4711-xyzzy"
STORE_SECRET="store-Secret-0815-plugh"
export VS_T_PG_PW=$PG_SECRET VS_T_STORE_PW=$STORE_SECRET

check "throwaway PostgreSQL starts" pg_start
hash=$(printf '%s\n' "$STORE_SECRET" | "$VERSTORE" --hash-password)
printf 'vs:%s\n' "$hash" >"$T_DIR/users"
STORE_DATA=$T_DIR/store
STORE_LOG=$T_DIR/verstore.log
T_LOGS+=("$STORE_LOG")
"$VERSTORE" --listen 127.0.0.1:0 --data "$STORE_DATA" --users "$T_DIR/users" --log-level debug >>"$STORE_LOG" 2>&1 &
STORE_PID=$!
check "verstore with --users starts" wait_until 30 grep -q 'verstore listening on' "$STORE_LOG"
STORE_URL=$(grep -o 'verstore listening on [^ ]*' "$STORE_LOG" | tail -1 | sed 's/.* //')

sql "create table public.s (id int primary key, name text)"
CFG=$T_DIR/versync.json
cat >"$CFG" <<JSON
{ "postgres": "$PG_CONNINFO password=\${VS_T_PG_PW}",
  "store": {"url": "$STORE_URL", "username": "vs", "password": "\${VS_T_STORE_PW}"},
  "poll_interval_ms": 200,
  "tables": [ {"table": "public.s"} ] }
JSON
chmod 644 "$CFG"
OUTS=$T_DIR/outs
mkdir -p "$OUTS"
# step NAME ARGS… — versync at debug level; stdout and stderr kept in $OUTS.
step() {
  local name=$1; shift
  "$VERSYNC" -c "$CFG" --log-level debug "$@" >"$OUTS/$name.out" 2>"$OUTS/$name.err"
}
check "a readable config whose secrets come from \${NAME} is accepted: init" step init init
check "check" step check check
sql "insert into public.s select g, 'n' || g from generate_series(1, 20) g"
check "once" step once once
assert_eq "the store password really is used: once applied the rows (count)" 20 \
  "$(curl -s -u "vs:$STORE_SECRET" "$STORE_URL/s/_count" | jq .count)"
sql "insert into public.s select g, 'n' || g from generate_series(21, 40) g"
check "status" step status status
check "status --json" step status-json status --json
check "status --json is JSON" bash -c "jq -e . '$OUTS/status-json.out' >/dev/null"
"$VERSYNC" -c "$CFG" --log-level debug run --workers 2 >"$OUTS/run.out" 2>"$OUTS/run.err" &
RUN=$!
T_PIDS+=("$RUN")
check "run applies the new rows" wait_until 30 backlog_empty
kill -TERM "$RUN"; wait "$RUN"
assert_eq "run stops cleanly" 0 "$?"
check "verify" step verify verify
check "debug logging was on" grep -q 'debug' "$OUTS/run.err"

# A literal password in a readable file.
LIT=$T_DIR/literal.json
cat >"$LIT" <<JSON
{ "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "username": "vs", "password": "$STORE_SECRET"},
  "tables": [ {"table": "public.s"} ] }
JSON
chmod 644 "$LIT"
err=$("$VERSYNC" -c "$LIT" check 2>&1); rc=$?
echo "$err" >"$OUTS/literal.err"
assert_eq "a literal password in a 0644 file: check exits 2" 2 "$rc"
assert_match "names the file and the field" "error: $LIT: store.password: .*readable by others \(mode 0644\)" "$err"
assert_match "points to \${NAME} and chmod 600" "\"\\$\\{NAME\\}\".*chmod 600 $LIT" "$err"
err=$("$VERSYNC" -c "$LIT" once 2>&1); rc=$?
echo "$err" >>"$OUTS/literal.err"
check "once refuses it too" test "$rc" -ne 0 -a -n "$(grep -F 'store.password: holds a password' <<<"$err")"
sed -i "s|\"$PG_CONNINFO\"|\"$PG_CONNINFO password=$PG_SECRET\"|; s|\"password\": \"$STORE_SECRET\"|\"password\": \"\${VS_T_STORE_PW}\"|" "$LIT"
chmod 640 "$LIT"
err=$("$VERSYNC" -c "$LIT" check 2>&1); rc=$?
echo "$err" >>"$OUTS/literal.err"
assert_match "a literal PostgreSQL password in a group-readable file names postgres" \
  "error: $LIT: postgres: .*readable by its group \(mode 0640\)" "$err"
chmod 600 "$LIT"
check "with chmod 600 the same file is accepted" bash -c "'$VERSYNC' -c '$LIT' check >'$OUTS/literal600.out' 2>&1"

verstore_stop
for f in "$OUTS"/* "$STORE_LOG"; do
  check "no secret in $(basename "$f")" bash -c "! grep -qF -e '$PG_SECRET' -e '$STORE_SECRET' '$f'"
done
done_testing
