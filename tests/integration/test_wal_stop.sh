#!/usr/bin/env bash
# run stops promptly under "capture": "wal" (issue 22) while the stream waits for a transaction to
# become visible: a commit held by a synchronous standby that does not exist is in the WAL (and
# streamed) but invisible until released. SIGTERM ends that wait: run exits 0 within seconds,
# having sent and confirmed nothing of the held transaction, which a restart then applies. The
# same for a held TRUNCATE: the stream waits for its visibility instead of blocking on its lock
# inside libpq (where no signal is seen), and applies it once visible. A second signal stops at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

wal_items_start
# Only the held statement's session waits for the standby; everyone else (versync too) commits locally.
sql "alter system set synchronous_commit = local"
sql "select pg_reload_conf()" >/dev/null

N_RUN=0
start_run() {
  N_RUN=$((N_RUN + 1))
  RUN_LOG=$T_DIR/run$N_RUN.log
  T_LOGS+=("$RUN_LOG")
  bg "$VERSYNC" -c "$CFG" run --workers 1 2>"$RUN_LOG"
  RUN_PID=$BG_PID
  wait_until 30 bash -c "[ \"\$(psql -XAtqc \"select active from pg_replication_slots where slot_name = 'versync'\")\" = t ]"
}
# hold SQL — run SQL in a session whose commit waits for the (missing) standby; sets HOLD_PID.
hold() {
  sql "alter system set synchronous_standby_names = 'nobody'"
  sql "select pg_reload_conf()" >/dev/null
  PGOPTIONS="-c synchronous_commit=on" psql -XAtqc "$1" >"$T_DIR/hold.out" 2>&1 &
  HOLD_PID=$!
  T_PIDS+=("$HOLD_PID")
  wait_until 30 bash -c "[ \"\$(psql -XAtqc \"select count(*) from pg_stat_activity where wait_event = 'SyncRep'\")\" = 1 ]"
  HOLD_LSN=$(sql "select pg_current_wal_lsn() - '0/0'::pg_lsn")
}
release() {
  sql "alter system reset synchronous_standby_names"
  sql "select pg_reload_conf()" >/dev/null
  wait_until 30 bash -c "! kill -0 $HOLD_PID 2>/dev/null"
}
# versync has the held transaction and is waiting for it: polling its visibility (the fix) or
# blocked on its lock (a TRUNCATE applied too early).
waiting() {
  [ "$(sql "select count(*) from pg_stat_activity where application_name = 'versync worker 1'
              and (wait_event_type = 'Lock'
                   or (query like '-- wal_xids_visible:%' and now() - query_start < interval '2 s'))")" -ge 1 ]
}
on_lock() {
  sql "select count(*) from pg_stat_activity where application_name = 'versync worker 1' and wait_event_type = 'Lock'"
}
confirmed_before_hold() {
  sql "select confirmed_flush_lsn - '0/0'::pg_lsn < $HOLD_LSN from pg_replication_slots where slot_name = 'versync'"
}
# stops SECS — run exits within SECS; sets RUN_RC.
stops() {
  wait_until "$1" bash -c "! kill -0 $RUN_PID 2>/dev/null" || return 1
  wait "$RUN_PID"
  RUN_RC=$?
}

# ---- an insert held invisible ------------------------------------------------------------
start_run
sql "insert into items select g, 'row ' || g from generate_series(1, 3) g"
check "rows 1-3 synced" wait_until 30 converged items "$Q_ITEMS"
hold "insert into items values (10, 'held')"
check "versync waits for the held insert to become visible" wait_until 30 waiting
assert_eq "not on a lock" 0 "$(on_lock)"
kill -TERM "$RUN_PID"
check "SIGTERM during the visibility wait: run exits within 5 s" stops 5
assert_eq "with status 0" 0 "${RUN_RC:-none}"
assert_eq "the held transaction was not confirmed" t "$(confirmed_before_hold)"
assert_eq "nor written" missing "$(doc items 10)"
check "the held insert completes" release
start_run
check "after a restart the row reaches the store" wait_until 30 converged items "$Q_ITEMS"

# ---- a TRUNCATE held invisible -----------------------------------------------------------
hold "truncate items"
check "versync waits for the held truncate" wait_until 30 waiting
assert_eq "for its visibility, not blocked on its lock" 0 "$(on_lock)"
kill -TERM "$RUN_PID"
check "SIGTERM while a truncate is held: run exits within 5 s" stops 5
assert_eq "with status 0" 0 "${RUN_RC:-none}"
assert_eq "the truncate was not confirmed" t "$(confirmed_before_hold)"
assert_eq "the documents are still there" '"row 1"' "$(doc items 1 | jq -c .name)"
check "the held truncate completes" release
start_run
check "after a restart the truncate is applied" wait_until 30 converged items "$Q_ITEMS"
assert_eq "the index is empty" 0 "$(curl -s "$STORE_URL/items/_count" | jq .count)"

# ---- without a stop: applied once visible -------------------------------------------------
sql "insert into items select g, 'again ' || g from generate_series(1, 3) g"
check "rows synced again" wait_until 30 converged items "$Q_ITEMS"
hold "truncate items"
check "versync waits for the held truncate (2)" wait_until 30 waiting
assert_eq "the documents stay while it is invisible" 3 "$(curl -s "$STORE_URL/items/_count" | jq .count)"
check "the held truncate completes (2)" release
check "then run applies it" wait_until 30 converged items "$Q_ITEMS"

# ---- a second signal stops at once --------------------------------------------------------
# Freeze the store with a write of the stream in flight: the first signal waits for its answer (up
# to timeout_ms); the second (another signal, so that the two are not merged into one) does not.
kill -STOP "$STORE_PID"
sql "insert into items values (20, 'while the store is frozen')"
in_flight() { [ "$(ss -Htn state established "( sport = :$STORE_PORT )" | awk '$1 > 0' | wc -l)" -ge 1 ]; }
check "a write of the stream waits for the frozen store" wait_until 30 in_flight
kill -TERM "$RUN_PID"
kill -INT "$RUN_PID"
check "a second signal: run exits within 2 s" stops 2
assert_eq "with status 1" 1 "${RUN_RC:-none}"
kill -CONT "$STORE_PID"
check "once applies what was left" once_ok once_end
check "converged" converged items "$Q_ITEMS"
done_testing
