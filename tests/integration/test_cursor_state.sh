#!/usr/bin/env bash
# Cursor mode on a read-only connection (default_transaction_read_only, as on a replica) with the
# checkpoint in a local state file (--state): no versync schema needed; clear errors without
# --state; a run killed with SIGKILL mid-pass resumes from the checkpoint, resending at most the
# one page in flight and losing nothing; status --state; versync run --state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start

sql "create table docs (id int primary key, body text, v bigint not null, gone boolean not null default false);
     insert into docs select g, 'doc ' || g, 1, false from generate_series(1, 3000) g;"
TABLES='[{"table": "public.docs", "capture": "cursor", "version": {"column": "v"}, "soft_delete": {"column": "gone"}}]'
RO_CONNINFO="$PG_CONNINFO options='-c default_transaction_read_only=on'"

# Read-only, and versync's schema does not exist at all: only the state file can keep the checkpoint.
CFG=$T_DIR/ro.json
cat >"$CFG" <<JSON
{"postgres": "$RO_CONNINFO", "store": {"url": "$STORE_URL", "timeout_ms": 5000},
 "schema": "versync_never_created", "batch_size": 50, "poll_interval_ms": 200, "tables": $TABLES}
JSON
STATE=$T_DIR/state/versync.state
mkdir -p "$T_DIR/state"
check "the connection really is read-only" \
  test "$(psql -XAtq "$RO_CONNINFO" -c 'show default_transaction_read_only')" = on

out=$(vs once 2>&1); rc=$?
assert_eq "without --state and without versync's schema: exit 2" 2 "$rc"
assert_match "and the message says to give --state FILE" 'give --state FILE' "$out"
assert_eq "nothing was written meanwhile" 0 "$(curl -s "$STORE_URL/docs/_count" | jq '.count // 0')"

Q_DOCS="select id::text as id, to_jsonb(t) as doc, v from docs t where not gone"
once_state() {
  local log=$T_DIR/${1}.log
  T_LOGS+=("$log")
  ONCE_OUT=$(vs once --state "$STATE" 2>>"$log")
  local rc=$?
  echo "# $ONCE_OUT"
  return $rc
}
check "once --state on the read-only connection" once_state ro1
assert_eq "every row applied" 3000 "$(summary_field applied)"
check "docs converged" converged docs "$Q_DOCS"
check "the state file is JSON with one completed pass" \
  test "$(jq -r '.tables["public.docs"].passes' "$STATE")" = 1
check "with a base xmin and no pass under way" \
  test "$(jq -r '.tables["public.docs"] | (.base_xmin != null) and (.pass_xmin == null)' "$STATE")" = true
check "no temporary file is left beside it" test "$(ls "$T_DIR/state" | wc -l)" = 1
check "the database was never written: no versync schema" \
  test "$(sql "select count(*) from pg_namespace where nspname like 'versync%'")" = 0

sql "update docs set body = 'changed', v = v + 1 where id <= 10; update docs set gone = true, v = v + 1 where id = 11"
check "once --state after updates" once_state ro2
assert_eq "exactly the 11 changed rows are written, nothing resent" "11 0" \
  "$(summary_field applied) $(summary_field stale)"
check "docs converged after updates and a soft delete" converged docs "$Q_DOCS"
assert_eq "the soft-deleted row's document is gone" missing "$(doc docs 11)"

st=$(vs status --state "$STATE" --json 2>&1)
assert_eq "status --state without versync's schema: the checkpoint" "cursor 2" \
  "$(jq -r '.tables[0] | "\(.capture) \(.cursor.passes)"' <<<"$st")"
check "status: the checkpoint's age" test "$(jq '.tables[0].cursor.age_ms' <<<"$st")" -ge 0
assert_match "status text names the cursor table" 'cursor public.docs: everything committed before' \
  "$(vs status --state "$STATE" 2>&1)"

# ---- a checkpoint from another cluster is not trusted ---------------------------------
jq '.tables["public.docs"].system_id = "12345"' "$STATE" >"$STATE.edit" && mv "$STATE.edit" "$STATE"
check "once with a state file from another cluster" once_state foreign
assert_eq "the whole table is read again (nothing new to apply)" "3000 0" \
  "$(grep -o '[0-9]* changes in' <<<"$ONCE_OUT" | cut -d' ' -f1) $(summary_field applied)"
assert_match "and the log says why" 'checkpoint was taken on another database cluster \(system identifier 12345' \
  "$(cat "$T_DIR/foreign.log")"
check "the checkpoint now names this cluster" \
  test "$(jq -r '.tables["public.docs"].system_id' "$STATE")" = "$(sql 'select system_identifier from pg_control_system()')"

# ---- a kill -9 mid-pass, then a restart from the checkpoint -------------------------
sql "insert into docs select g, 'bulk ' || g, 1, false from generate_series(5001, 25000) g"
T_LOGS+=("$T_DIR/killed.log")
"$VERSYNC" -c "$CFG" once --state "$STATE" >/dev/null 2>"$T_DIR/killed.log" &
KPID=$!
T_PIDS+=("$KPID")
mid_pass() { [ "$(jq -r '.tables["public.docs"].pass_key != null' "$STATE" 2>/dev/null)" = true ]; }
check "the pass is under way (a page acknowledged)" wait_until 60 mid_pass
kill -KILL "$KPID"
wait "$KPID" 2>/dev/null
json_ok() { jq -e "$1" "$2" >/dev/null; }
check "after SIGKILL the state file is whole JSON" json_ok . "$STATE"
killed_mid=$(jq -r '.tables["public.docs"].pass_xmin != null' "$STATE")
before=$(curl -s "$STORE_URL/docs/_count" | jq '.count // 0')
echo "# killed with a pass under way: $killed_mid; $before documents in the store"
check "the restart from the checkpoint" once_state ro3
applied=$(summary_field applied); stale=$(summary_field stale)
check "resends of acknowledged rows are at most one page (batch_size 50): $stale" test "$stale" -le 50
assert_eq "every row not yet in the store is applied: nothing lost" $((22999 - before)) "$applied"
check "docs converged after the restart" converged docs "$Q_DOCS"
assert_eq "the checkpoint's pass count" 5 "$(jq -r '.tables["public.docs"].passes' "$STATE")"

# ---- a read-only connection without --state to a database where versync's cursors table exists
# (created by a real init over a writable connection, as on the primary of a replica)
sed -e 's/versync_never_created/versync_ro/' -e "s/ options='-c default_transaction_read_only=on'//" "$CFG" >"$T_DIR/rw.json"
T_LOGS+=("$T_DIR/init.log")
check "init of schema versync_ro over a writable connection" \
  bash -c "'$VERSYNC' -c '$T_DIR/rw.json' init --no-store >'$T_DIR/init.log' 2>&1"
sed 's/versync_never_created/versync_ro/' "$CFG" >"$T_DIR/ro2.json"
out=$("$VERSYNC" -c "$T_DIR/ro2.json" once 2>&1); rc=$?
assert_eq "read-only without --state: exit 2" 2 "$rc"
assert_match "the message says the database is read-only and to give --state" 'read-only .*give --state FILE' "$out"

# ---- versync run --state on the read-only connection ----------------------------------
T_LOGS+=("$T_DIR/run.log")
bg "$VERSYNC" -c "$CFG" run --state "$STATE" >"$T_DIR/run.log" 2>&1
RUN_PID=$BG_PID
sql "update docs set body = 'while running', v = v + 1 where id in (1, 2999, 20000)"
check "run --state syncs on the read-only connection" wait_until 30 converged docs "$Q_DOCS"
kill -TERM "$RUN_PID"
rc=0; wait "$RUN_PID" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"
check "the state file is whole after run" json_ok '.tables["public.docs"].passes | tonumber > 5' "$STATE"

done_testing
