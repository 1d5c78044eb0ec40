#!/usr/bin/env bash
# One PostgreSQL connect path: libpq's connect functions are called only in
# src/bridge/bridge_pg.c, so every session (commands, workers, the WAL
# stream) gets the same timeout default, notice handling and error message.
# A worker that cannot connect names the server with its password redacted,
# on one line, as the commands do.
. "$(dirname "$0")/lib.sh"

calls=$(cd "$VS_ROOT" && grep -rnE 'PQconnect(db|dbParams|Start|StartParams)\(' src | grep -v '^src/bridge/bridge_pg\.c:' || true)
assert_eq "libpq connects only in bridge_pg.c" "" "$calls"

CFG=$T_DIR/nopg.json
cat >"$CFG" <<JSON
{
  "postgres": "host=$T_DIR/no-such-dir port=1 dbname=x password=hunter2-not-logged",
  "store": {"url": "http://127.0.0.1:1", "timeout_ms": 1000},
  "schema": "versync",
  "tables": [{"table": "public.t"}]
}
JSON
chmod 600 "$CFG"
LOG=$T_DIR/nopg.log
T_LOGS+=("$LOG")
"$VERSYNC" -c "$CFG" once --timeout 1 >/dev/null 2>"$LOG"; rc=$?
assert_eq "once gives up with exit 3 when PostgreSQL stays unreachable" 3 "$rc"
assert_match "the worker names the server, password redacted" \
  "cannot connect to PostgreSQL \\(host=$T_DIR/no-such-dir port=1 dbname=x password=\\*\\*\\*\\)" "$(cat "$LOG")"
check "the password is never logged" bash -c "! grep -q hunter2 '$LOG'"
check "libpq's message stays on one line" bash -c "! grep -qF '\\n' '$LOG'"

done_testing
