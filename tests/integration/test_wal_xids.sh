#!/usr/bin/env bash
# sql/wal_xids_visible.sql (issue 22): which of the stream's 32-bit xids a snapshot taken now does
# not see yet. An xid at or past the snapshot's xmax is a commit not yet visible, whatever the epoch;
# the query used to give an xid above xmax's low 32 bits the previous epoch, which on epoch 1 made a
# commit in flight look long visible (its re-read would then find the old row). Checked on epoch 0
# and, after pg_resetwal -e, on epoch 1, with the statement versync runs.
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
STMT=$(cat "$VS_ROOT/sql/wal_xids_visible.sql")
# invisible XID… — how many of the xids (32-bit) the statement counts as not visible yet.
invisible() {
  local arr
  arr="{$(IFS=,; echo "$*")}"
  psql -XAtq -v ON_ERROR_STOP=1 -c "prepare q(bigint[]) as $STMT" -c "execute q('$arr')" | tail -1
}
xmax32() { sql "select (pg_snapshot_xmax(pg_current_snapshot())::text::bigint) & 4294967295"; }
xact_committed() { sql "select (pg_current_xact_id()::text::bigint) & 4294967295"; }

# A session holding an xid: in the snapshot's xip list while it is open.
FIFO=$T_DIR/open.fifo
mkfifo "$FIFO"
open_session() {
  : >"$T_DIR/open.out"
  psql -XAtq -v ON_ERROR_STOP=1 <"$FIFO" >"$T_DIR/open.out" 2>&1 &
  T_PIDS+=("$!")
  exec 7>"$FIFO"
  echo "begin; select (pg_current_xact_id()::text::bigint) & 4294967295;" >&7
  wait_until 20 grep -q '^[0-9]' "$T_DIR/open.out"
  OPEN_XID=$(head -1 "$T_DIR/open.out")
}
close_session() { echo "commit;" >&7; exec 7>&-; }

cases() {
  local epoch=$1
  assert_eq "epoch $epoch: the cluster is on it" "$epoch" \
    "$(sql "select pg_snapshot_xmax(pg_current_snapshot())::text::bigint >> 32")"
  local done_xid
  done_xid=$(xact_committed)
  assert_eq "epoch $epoch: a committed transaction is visible" 0 "$(invisible "$done_xid")"
  check "epoch $epoch: a session holds an xid" open_session
  # Committed after the open one: xmax is past it, and the open one is in xip.
  done_xid=$(xact_committed)
  assert_eq "epoch $epoch: an open transaction (in xip) is not" 1 "$(invisible "$OPEN_XID")"
  assert_eq "epoch $epoch: one committed after it is" 0 "$(invisible "$done_xid")"
  local x
  x=$(xmax32)
  assert_eq "epoch $epoch: xmax itself (the next xid to complete) is not visible" 1 "$(invisible "$x")"
  # A commit in flight can be above xmax (xmax is the latest completed xid + 1).
  assert_eq "epoch $epoch: xids above xmax are not visible" 3 \
    "$(invisible "$((x + 1))" "$((x + 5))" "$((x + 1000))")"
  assert_eq "epoch $epoch: together, only the committed one is visible" 3 "$(invisible "$done_xid" "$OPEN_XID" "$x" "$((x + 5))")"
  close_session
  assert_eq "epoch $epoch: the open one once committed is visible" 0 "$(invisible "$OPEN_XID")"
}

cases 0
# Epoch 1 (pg_resetwal needs a cleanly stopped server).
_pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
check "pg_resetwal -e 1" _pg_as "$PG_BIN/pg_resetwal" -e 1 -D "$PG_DATA"
check "PostgreSQL restarts" pg_restart fast
cases 1
# The counter's low 32 bits are small on epoch 1 here: an xid just below 2^32 comes from epoch 0,
# i.e. long before xmax, and is visible.
assert_eq "epoch 1: an xid of epoch 0 just below the wraparound is visible" 0 "$(invisible 4294967000)"
done_testing
