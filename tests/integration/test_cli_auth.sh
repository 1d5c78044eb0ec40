#!/usr/bin/env bash
# A store that refuses the configured credentials (issue 23): every command fails fast with
# exit 2 and the one security-error message that names the credential kind and never its
# value. Before, backfill retried the 401 for two minutes, then printed "0 errors" and exited
# 1, and verify printed the store's raw 401 JSON. A 401 that starts in the middle of a copy
# (credentials revoked) stops it at once too, logged once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

pg_start || exit 1
hash=$(printf 'right pass\n' | "$VERSTORE" --hash-password)
printf 'alice:%s\n' "$hash" >"$T_DIR/users"
STORE_LOG=$T_DIR/verstore.log
T_LOGS+=("$STORE_LOG")
"$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/store" --users "$T_DIR/users" >"$STORE_LOG" 2>&1 &
STORE_PID=$!
check "verstore with --users starts" wait_until 30 grep -q 'verstore listening on http://' "$STORE_LOG"
STORE_PORT=$(grep -o 'verstore listening on http://[^ ]*' "$STORE_LOG" | sed 's/.*://')
STORE_URL=http://127.0.0.1:$STORE_PORT
sql "create table items (id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 3000) g"

# cfg FILE PASSWORD [URL] — a config with store credentials.
cfg() {
  cat >"$1" <<JSON
{ "postgres": "$PG_CONNINFO",
  "store": {"url": "${3:-$STORE_URL}", "timeout_ms": 5000, "username": "alice", "password": "\${VS_PW}"},
  "tables": [{"table": "public.items"}] }
JSON
}
GOOD=$T_DIR/good.json BAD=$T_DIR/bad.json
cfg "$GOOD"; cfg "$BAD"
export VS_PW="right pass"
"$VERSYNC" -c "$GOOD" init --no-store >/dev/null 2>&1
assert_eq "init (PostgreSQL part)" 0 "$?"

# ---- a 401 in the middle of a copy: stop now, log it once ------------------------------------
# (first: verstore answers a burst of failed logins from one address with 429 for a while)
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --fault 401:100000 \
  >"$T_DIR/proxy.out" 2>"$T_DIR/proxy.log"
T_LOGS+=("$T_DIR/proxy.log")
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$T_DIR/proxy.out"
cfg "$T_DIR/proxied.json" x "$(grep -o 'http://[0-9.:]*' "$T_DIR/proxy.out")"
start=$SECONDS
out=$(timeout 60 "$VERSYNC" -c "$T_DIR/proxied.json" backfill 2>&1); rc=$?
took=$((SECONDS - start))
echo "$out" | sed 's/^/# /'
assert_eq "a _bulk refused with 401 mid-copy: exit 2" 2 "$rc"
check "at once, not after two minutes of retries (took ${took}s)" test "$took" -le 10
assert_eq "one _bulk attempt, no retries" 1 "$(grep -c '^fault 401' "$T_DIR/proxy.log")"
assert_eq "the failure is logged once" 1 "$(grep -c 'HTTP 401' <<<"$out")"
assert_match "naming the security error" 'security error' "$out"
assert_eq "nothing was written" 0 "$(curl -s -u 'alice:right pass' "$STORE_URL/items/_count" | jq '.count // 0')"


# ---- a wrong password, for every command ----------------------------------------------------
# The message once gives (the reference every command must match).
export VS_PW="wrong pass"
can_login() { curl -sf -o /dev/null -u 'alice:right pass' "$STORE_URL/"; }
wait_until 30 can_login
ref=$("$VERSYNC" -c "$BAD" once 2>&1 >/dev/null | grep -o 'security error on GET / (HTTP 401): .*' | head -1)
check "once names the security error" test -n "$ref"

# verstore throttles failed logins per address (a burst of 8, then 1 every 2 s, answered 429):
# before each refused attempt, wait until a login can be checked again (the right password gets in).
for cmd in check init once backfill verify "verify --repair" "backfill --dry-run"; do
  wait_until 30 can_login
  start=$SECONDS
  out=$(timeout 60 "$VERSYNC" -c "$BAD" $cmd 2>&1); rc=$?
  took=$((SECONDS - start))
  assert_eq "$cmd with a wrong password exits 2" 2 "$rc"
  check "$cmd fails fast (took ${took}s)" test "$took" -le 10
  assert_match "$cmd gives the same message as once" "$(printf '%s' "$ref" | sed 's/[][().*^$\\+?{}|]/\\&/g')" "$out"
  check "$cmd never prints the password" bash -c "! grep -q 'wrong pass' <<<\"\$1\"" _ "$out"
  check "$cmd prints no raw JSON of the store" bash -c "! grep -q '\"error\":{' <<<\"\$1\"" _ "$out"
done

done_testing
