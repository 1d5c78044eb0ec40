#!/usr/bin/env bash
# A second `versync run` finding the "capture": "wal" slot streamed by another (issue 22): not an
# outage. One line names the holder (its server PID and application_name) and says what run does
# (tries again every 5 s, takes over once the slot is released); it is not repeated at each retry,
# and nothing calls PostgreSQL unreachable. When the first run stops, the second says so once and
# streams the slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

wal_items_start
slot_active() { [ "$(sql "select active from pg_replication_slots where slot_name = 'versync'")" = t ]; }

RUN1_LOG=$T_DIR/run1.log
T_LOGS+=("$RUN1_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 2>"$RUN1_LOG"
RUN1=$BG_PID
check "the first run streams the slot" wait_until 30 slot_active
HOLDER=$(sql "select active_pid from pg_replication_slots where slot_name = 'versync'")

RUN2_LOG=$T_DIR/run2.log
T_LOGS+=("$RUN2_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 2>"$RUN2_LOG"
RUN2=$BG_PID
# The server logs each refused START_REPLICATION: three of them are three tries of the second run.
refused() { grep -c "replication slot \"versync\" is active for PID $HOLDER" "$PG_LOG"; }
tried_thrice() { [ "$(refused)" -ge 3 ]; }
check "the second run tries the slot again and again" wait_until 60 tried_thrice
assert_eq "and says so once" 1 "$(grep -c 'is being consumed by another versync process' "$RUN2_LOG")"
assert_match "naming the holder's PID and application_name, and what run does" \
  "replication slot \"versync\" is being consumed by another versync process \\(PID $HOLDER on the server, application_name \"versync-wal\"\\).*; run tries again every 5 s and streams the \"wal\" tables once it is released" \
  "$(cat "$RUN2_LOG")"
check "not as an outage" bash -c "! grep -Eq 'unreachable|reachable again|retrying with backoff' '$RUN2_LOG'"

sql "insert into items values (1, 'first')"
check "the first run syncs" wait_until 30 converged items "$Q_ITEMS"
kill -TERM "$RUN1"
wait "$RUN1" 2>/dev/null
sql "insert into items values (2, 'second')"
check "the second run takes over and syncs" wait_until 60 converged items "$Q_ITEMS"
assert_eq "saying once that the slot is free again" 1 "$(grep -c 'replication slot "versync" is free again after' "$RUN2_LOG")"
NEW=$(sql "select active_pid from pg_replication_slots where slot_name = 'versync'")
check "the slot's consumer is the second run's connection" test -n "$NEW" -a "$NEW" != "$HOLDER"
kill -TERM "$RUN2"
wait "$RUN2" 2>/dev/null
done_testing
