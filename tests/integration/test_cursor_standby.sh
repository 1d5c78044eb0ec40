#!/usr/bin/env bash
# Cursor mode against a real hot standby (streaming replica of the throwaway primary), with the
# checkpoint in a state file: the initial copy, and a transaction open on the PRIMARY that stamps
# its row early, stays open while later commits replay and are polled, then commits — synced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

SB_DATA=""
_sb_cleanup() {
  local rc=$?
  if [ -n "$SB_DATA" ] && [ -d "$SB_DATA" ]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$SB_DATA" -m immediate -w stop >/dev/null 2>&1
  fi
  (exit "$rc")
  _t_cleanup
}
trap _sb_cleanup EXIT

check "throwaway PostgreSQL (the primary) starts" pg_start
check "verstore starts" verstore_start

sql "create table items (id int primary key, name text,
                         updated_at timestamptz not null default clock_timestamp());
     insert into items (id, name) select g, 'item ' || g from generate_series(1, 300) g;"

SB_DATA=$T_DIR/standby
SB_LOG=$T_DIR/pglog/standby.log
T_LOGS+=("$SB_LOG")
mkdir -p "$SB_DATA"
[ "$(id -u)" -eq 0 ] && chown postgres "$SB_DATA" && chmod 700 "$SB_DATA"
check "pg_basebackup of the primary" _pg_as "$PG_BIN/pg_basebackup" -D "$SB_DATA" -R -X stream \
  -h "$PGHOST" -p "$PGPORT" -U postgres
SB_PORT=$(free_port)
sb_start() {
  _pg_as "$PG_BIN/pg_ctl" -D "$SB_DATA" -l "$SB_LOG" -w -t 60 \
    -o "-p $SB_PORT -k $PGHOST -c listen_addresses='' -c fsync=off -c max_connections=200 -c hot_standby=on" \
    start >/dev/null
}
check "the standby starts" sb_start
sbsql() { psql -XAtq -p "$SB_PORT" -c "$@"; }
sb_ready() { [ "$(sbsql 'select pg_is_in_recovery()' 2>/dev/null)" = t ]; }
if ! wait_until 30 sb_ready; then
  not_ok "the standby is in recovery and serves reads"
  done_testing
  exit 1
fi
ok "the standby is in recovery and serves reads"

CFG=$T_DIR/standby.json
STATE=$T_DIR/standby.state
cat >"$CFG" <<JSON
{"postgres": "host=$PGHOST port=$SB_PORT user=postgres dbname=postgres",
 "store": {"url": "$STORE_URL", "timeout_ms": 5000}, "batch_size": 50, "poll_interval_ms": 200,
 "tables": [{"table": "public.items", "capture": "cursor", "version": {"timestamp": "updated_at"}}]}
JSON
Q_ITEMS="select id::text as id, to_jsonb(t) as doc, trunc(extract(epoch from updated_at)*1000000)::bigint as v from items t"
once_sb() {
  local log=$T_DIR/${1}.log
  T_LOGS+=("$log")
  ONCE_OUT=$(vs once --state "$STATE" 2>>"$log")
  local rc=$?
  echo "# $ONCE_OUT"
  return $rc
}
check "once --state against the standby" once_sb sb1
assert_eq "every row applied" 300 "$(summary_field applied)"
check "items converged" converged items "$Q_ITEMS"

FIFO=$T_DIR/long.fifo
mkfifo "$FIFO"
psql -XAtq -v ON_ERROR_STOP=1 <"$FIFO" >"$T_DIR/long.out" 2>&1 &
T_PIDS+=("$!")
exec 7>"$FIFO"
echo "begin; update items set name = 'long', updated_at = clock_timestamp() where id = 1; select 'updated';" >&7
check "a transaction on the primary updated row 1 and stays open" wait_until 20 grep -q updated "$T_DIR/long.out"
sql "update items set name = 'later', updated_at = clock_timestamp() where id between 2 and 40"
standby_name_is() { [ "$(sbsql "select name from items where id = $1")" = "$2" ]; } # asked again on every try
check "the later commits replayed on the standby" wait_until 30 standby_name_is 40 later
check "once while the primary's transaction is open" once_sb sb2
assert_eq "the replayed rows are synced" '"later"' "$(doc items 40 | jq -c .name)"
assert_eq "row 1 is still the committed state" '"item 1"' "$(doc items 1 | jq -c .name)"
echo "commit; select 'committed';" >&7
exec 7>&-
check "it commits on the primary" wait_until 20 grep -q committed "$T_DIR/long.out"
check "and replays on the standby" wait_until 30 standby_name_is 1 long
check "its row is older than rows already polled past" \
  test "$(sql "select (select updated_at from items where id = 1) < max(updated_at) from items where id between 2 and 40")" = t
check "once after the commit replayed" once_sb sb3
assert_eq "the late-committed row is synced from the standby" '"long"' "$(doc items 1 | jq -c .name)"
check "items converged" converged items "$Q_ITEMS"

done_testing
