#!/usr/bin/env bash
# `versync once` while `versync run` streams the "capture": "wal" tables' slot (issue 22): the slot is
# busy (SQLSTATE 55006, object_in_use), not PostgreSQL unreachable. once says which versync process
# consumes it (its PID), leaves the "wal" tables to it, syncs the other tables and exits 0 at once
# (not after a 60 s retry ending in exit 3). A slot held by another program (pg_recvlogical) is a
# configuration problem: once names it and exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table items (id int primary key, name text); create table plain (id int primary key, name text)"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}, {"table": "public.plain"}]'
check "init" vs init
Q_PLAIN="select id::text as id, to_jsonb(t) as doc, null::bigint as v from plain t"
Q_ITEMS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
slot_active() { [ "$(sql "select active from pg_replication_slots where slot_name = 'versync'")" = t ]; }

RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 1 2>"$RUN_LOG"
RUN_PID=$BG_PID
check "run streams the slot" wait_until 30 slot_active
HOLDER=$(sql "select active_pid from pg_replication_slots where slot_name = 'versync'")
sql "insert into plain values (1, 'trigger'); insert into items values (1, 'wal')"

ONCE_LOG=$T_DIR/once1.log
T_LOGS+=("$ONCE_LOG")
START=$(date +%s)
"$VERSYNC" -c "$CFG" once --timeout 60 >"$T_DIR/once1.out" 2>"$ONCE_LOG"
RC=$?
ELAPSED=$(($(date +%s) - START))
assert_eq "once exits 0: run handles the \"wal\" tables" 0 "$RC"
check "within seconds, not after a 60 s retry (${ELAPSED} s)" test "$ELAPSED" -lt 30
assert_match "once names the other versync process and its PID" \
  "replication slot \"versync\" is being consumed by another versync process \\(PID $HOLDER on the server" \
  "$(cat "$ONCE_LOG")"
assert_match "and says it leaves the \"wal\" tables to it" 'once leaves the "wal" tables to it and syncs the others' \
  "$(cat "$ONCE_LOG")"
check "it does not call PostgreSQL unreachable, nor retry as for an outage" \
  bash -c "! grep -Eq 'unreachable|reachable again|retrying' '$ONCE_LOG'"
check "the trigger table is in sync" wait_until 30 converged plain "$Q_PLAIN"
check "run syncs the \"wal\" table" wait_until 30 converged items "$Q_ITEMS"
kill -TERM "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
check "once alone afterwards streams the slot itself" once_ok once2

# Another program holds the slot: a configuration problem, named, exit 2.
RECV_LOG=$T_DIR/recvlogical.log
T_LOGS+=("$RECV_LOG")
bg "$PG_BIN/pg_recvlogical" -d "$PG_CONNINFO" --slot versync --start -o proto_version=1 \
  -o publication_names=versync -f /dev/null 2>"$RECV_LOG"
check "pg_recvlogical holds the slot" wait_until 30 slot_active
OTHER=$(sql "select active_pid from pg_replication_slots where slot_name = 'versync'")
"$VERSYNC" -c "$CFG" once --timeout 60 >/dev/null 2>"$T_DIR/once3.log"
RC=$?
T_LOGS+=("$T_DIR/once3.log")
assert_eq "once exits 2 (configuration)" 2 "$RC"
assert_match "naming the program and its PID" \
  "replication slot \"versync\" is in use by another connection \\(PID $OTHER on the server, application_name \"pg_recvlogical\"\\)" \
  "$(cat "$T_DIR/once3.log")"
done_testing
