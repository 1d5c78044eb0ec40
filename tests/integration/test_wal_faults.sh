#!/usr/bin/env bash
# "capture": "wal" under faults (issue 22): a large transaction is being written when versync run is
# killed -9: nothing is lost (the slot was not confirmed past the unfinished transaction) and the
# replay is counted stale; a PostgreSQL restart under versync run loses nothing; and init refuses
# with a clear message on a server whose wal_level is not logical.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

wal_items_start
count() { curl -s "$STORE_URL/items/_count" | jq '.count // 0'; }
count_ge() { [ "$(count)" -ge "$1" ]; }

# ---- a large transaction, and kill -9 while it is being written ----------------------
sql "insert into items select g, 'row ' || g from generate_series(1, 50000) g"
RUN_LOG=$T_DIR/run1.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1
RUN_PID=$BG_PID
check "run starts writing the transaction" wait_until 60 count_ge 500
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
N=$(count)
check "killed before it finished ($N of 50000 written)" test "$N" -lt 50000
CONF=$(sql "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots where slot_name = 'versync'")
check "the slot was not confirmed past the unfinished transaction ($CONF)" \
  test "$CONF" -lt "$(curl -s "$STORE_URL/items/_doc/1" | jq ._version)"
check "once after the crash" once_ok once1
check "nothing is lost" converged items "$Q_ITEMS"
check "the replayed writes are counted stale ($(summary_field stale))" test "$(summary_field stale)" -ge "$N"
# N is a lower bound of what the killed run wrote: _bulk requests it had sent (wal.inflight of them)
# may still be applied by the store after the count. So: every change counted once, applied or
# stale, and no more applied than were missing at the count.
APPLIED=$(summary_field applied)
assert_eq "and every change is counted once, applied or stale" 50000 "$((APPLIED + $(summary_field stale)))"
check "and nothing the store already held is rewritten ($APPLIED applied, at most $((50000 - N)))" \
  test "$APPLIED" -le "$((50000 - N))"

# ---- a PostgreSQL restart under run -----------------------------------------------------
bg "$VERSYNC" -c "$CFG" run --workers 1
RUN_PID=$BG_PID
sql "update items set name = 'before restart' where id <= 10"
check "run syncs the update" wait_until 60 converged items "$Q_ITEMS"
check "PostgreSQL restarts (immediate)" pg_restart
sql "update items set name = 'after restart' where id between 5 and 15; delete from items where id = 20"
check "run reconnects and syncs what was written after the restart" wait_until 90 converged items "$Q_ITEMS"
kill -TERM "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
check "once afterwards finds nothing new" once_ok once2
assert_eq "nothing sent" "0" "$(summary_field applied)"

# ---- wal_level is not logical ------------------------------------------------------------
pg_ctl_opts_restart() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 restart \
    -o "-p $PGPORT -k $PGHOST -c listen_addresses='' -c fsync=off -c wal_level=replica" -l "$PG_LOG" >/dev/null 2>&1
}
sql "select pg_drop_replication_slot('versync')"
check "PostgreSQL restarts with wal_level=replica" pg_ctl_opts_restart
wait_until 30 psql -XAtqc 'select 1'
OUT=$(vs init 2>&1)
RC=$?
assert_eq "init refuses (exit 2: setup to change)" 2 "$RC"
assert_match "and says what to change" 'needs wal_level = logical, and this server has wal_level = replica: set wal_level = logical' "$OUT"
OUT=$(vs check 2>&1)
assert_match "check refuses the same way" 'needs wal_level = logical' "$OUT"
done_testing
