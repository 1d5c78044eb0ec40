#!/usr/bin/env bash
# "capture": "wal" re-reads a row only once its transaction is visible (issue 22). Logical decoding
# sends a transaction once its commit record is flushed, which can be before the committing backend
# makes it visible to other sessions; a re-read in between finds no row and writes a delete, and the
# row is then never written. Made deterministic here with synchronous replication to a standby that
# does not exist: the INSERT's commit is in the WAL (and streamed) but stays invisible until the
# wait is released.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

wal_items_start

RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 2>"$RUN_LOG"
RUN_PID=$BG_PID
check "run streams the slot" wait_until 30 \
  bash -c "[ \"\$(psql -XAtqc \"select active from pg_replication_slots where slot_name = 'versync'\")\" = t ]"

# Only the INSERT's session waits for the standby (synchronous_commit on); everyone else, versync's
# own small writes included, commits locally.
sql "alter system set synchronous_standby_names = 'nobody'"
sql "alter system set synchronous_commit = local"
sql "select pg_reload_conf()" >/dev/null
# The INSERT commits to the WAL, then waits for the standby: invisible to everyone else meanwhile.
PGOPTIONS="-c synchronous_commit=on" psql -XAtqc "insert into items values (1, 'committed, not yet visible')" \
  >"$T_DIR/insert.out" 2>&1 &
INS_PID=$!
T_PIDS+=("$INS_PID")
waiting() { [ "$(sql "select count(*) from pg_stat_activity where wait_event = 'SyncRep' and query like 'insert into items%'")" = 1 ]; }
check "the insert waits for the standby" wait_until 30 waiting
assert_eq "other sessions do not see the row" 0 "$(sql "select count(*) from items")"
# versync has the transaction: it either waits for it to become visible (re-reading nothing), or
# (the bug) has already written what it re-read and confirmed the slot past it.
INS_LSN=$(sql "select pg_current_wal_lsn() - '0/0'::pg_lsn")
handled() {
  [ "$(sql "select count(*) from pg_stat_activity where application_name like 'versync%'
              and query like '-- wal_xids_visible:%'")" -ge 1 ] ||
    [ "$(sql "select confirmed_flush_lsn - '0/0'::pg_lsn >= $INS_LSN from pg_replication_slots
              where slot_name = 'versync'")" = t ]
}
check "versync received the transaction" wait_until 30 handled
sql "alter system reset synchronous_standby_names"
sql "alter system reset synchronous_commit"
sql "select pg_reload_conf()" >/dev/null
check "the insert completes" wait_until 30 bash -c "! kill -0 $INS_PID 2>/dev/null"
check "the row reaches the store" wait_until 30 converged items "$Q_ITEMS"
kill -TERM "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
done_testing
