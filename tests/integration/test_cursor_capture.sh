#!/usr/bin/env bash
# Cursor mode ("capture": "cursor", issue 12) against real PostgreSQL + verstore, checkpoint in
# PostgreSQL: init installs no triggers; a long transaction that stamps its row early and commits
# after later transactions were polled past is still synced (also from a subtransaction); rows
# sharing one timestamp across page boundaries all arrive; soft deletes; versync run; status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table items (id int primary key, name text,
                    updated_at timestamptz not null default clock_timestamp(), deleted_at timestamptz);
create table plain (id int primary key, name text);
insert into items (id, name) select g, 'item ' || g from generate_series(1, 120) g;
"
ws_config "$CFG" '[
  {"table": "public.items", "capture": "cursor", "version": {"timestamp": "updated_at"},
   "soft_delete": {"column": "deleted_at"}},
  {"table": "public.plain"}
]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
assert_match "init says the cursor table gets no triggers" 'registered public.items \("capture": "cursor": no triggers\)' \
  "$(cat "$T_DIR/init.log")"
assert_eq "no triggers on the cursor table" 0 \
  "$(sql "select count(*) from pg_trigger where tgrelid = 'items'::regclass and not tgisinternal")"
assert_eq "the trigger table has its triggers" 3 \
  "$(sql "select count(*) from pg_trigger where tgrelid = 'plain'::regclass and not tgisinternal")"
check "init created the cursors table" test "$(sql "select to_regclass('versync.cursors') is not null")" = t

Q_ITEMS="select id::text as id, to_jsonb(t) as doc, trunc(extract(epoch from updated_at)*1000000)::bigint as v
         from items t where deleted_at is null"
Q_PLAIN="select id::text as id, to_jsonb(t) as doc, null::bigint as v from plain t"

# ---- the first pass copies every row ------------------------------------------
check "once: the first pass reads every row" once_ok once1
assert_eq "120 rows applied" 120 "$(summary_field applied)"
check "items converged" converged items "$Q_ITEMS"
assert_eq "checkpoint: one completed pass, no pass under way" "1|t|t" \
  "$(sql "select passes, base_xmin is not null, pass_xmin is null from versync.cursors where tbl = 'public.items'")"
check "once again with nothing changed" once_ok once2
assert_eq "nothing changed: nothing sent" "0 0" "$(summary_field applied) $(summary_field stale)"

# ---- a long transaction stamps its row early and commits late ------------------
# Session L updates row 1 (updated_at = clock_timestamp(), early) and stays open while later
# transactions update rows 2..5 (later timestamps), commit, and are polled; a cursor on
# "updated_at > last seen" would now be past row 1's value. L then commits.
FIFO=$T_DIR/long.fifo
mkfifo "$FIFO"
psql -XAtq -v ON_ERROR_STOP=1 <"$FIFO" >"$T_DIR/long.out" 2>&1 &
LONG_PID=$!
T_PIDS+=("$LONG_PID")
exec 7>"$FIFO"
echo "begin; update items set name = 'long', updated_at = clock_timestamp() where id = 1;
      select 'updated';" >&7
check "the long transaction updated row 1 and stays open" wait_until 20 grep -q updated "$T_DIR/long.out"
sql "update items set name = 'later ' || id, updated_at = clock_timestamp() where id between 2 and 5"
check "once while the long transaction is open" once_ok once3
assert_eq "the committed later rows are synced" '{"deleted_at":null,"id":3,"name":"later 3"}' \
  "$(doc items 3 | jq -cS 'del(.updated_at)')"
assert_eq "row 1 still has its committed state in the store" '"item 1"' "$(doc items 1 | jq -c .name)"
check "once again (another complete pass) with it still open" once_ok once4
echo "commit; select 'committed';" >&7
check "the long transaction commits" wait_until 20 grep -q committed "$T_DIR/long.out"
L_TS=$(sql "select updated_at from items where id = 1")
check "its timestamp is older than rows the cursor already passed" \
  test "$(sql "select '$L_TS'::timestamptz < max(updated_at) from items where id between 2 and 5")" = t
check "once after the commit" once_ok once5
assert_eq "the late-committed row is synced" '"long"' "$(doc items 1 | jq -c .name)"
assert_eq "with its own version" "$(sql "select trunc(extract(epoch from updated_at)*1000000)::bigint from items where id = 1")" \
  "$(doc_version items 1)"

# ---- the same from a subtransaction ---------------------------------------------
# Subtransaction ids never appear in a snapshot's xip list: the row's xmin (the subxid) lies
# below the poll's xmax and outside xip although its top transaction is still open.
echo "begin; select pg_current_xact_id(); select 'top';" >&7
check "a transaction with an xid is open" wait_until 20 grep -q top "$T_DIR/long.out"
sql "update items set name = 'bump', updated_at = clock_timestamp() where id = 7"
echo "savepoint s; update items set name = 'from a subtransaction', updated_at = clock_timestamp() where id = 6;
      release savepoint s; select 'sub';" >&7
check "a subtransaction updated row 6" wait_until 20 grep -q sub "$T_DIR/long.out"
sql "update items set name = 'bump again', updated_at = clock_timestamp() where id = 8"
check "once while the subtransaction's parent is open" once_ok once6
assert_eq "row 6 not visible yet" '"item 6"' "$(doc items 6 | jq -c .name)"
echo "commit; select 'done';" >&7
check "the parent commits" wait_until 20 grep -q done "$T_DIR/long.out"
exec 7>&-
check "once after the parent committed" once_ok once7
assert_eq "the subtransaction's row is synced" '"from a subtransaction"' "$(doc items 6 | jq -c .name)"
check "items converged after the adversarial transactions" converged items "$Q_ITEMS"

# ---- many rows share one timestamp across page boundaries (batch_size 50) --------
sql "insert into items (id, name, updated_at) select g, 'tie ' || g, '2030-01-01 00:00:00+00' from generate_series(1000, 1234) g"
check "once with 235 rows sharing one timestamp" once_ok once8
assert_eq "all 235 applied" 235 "$(summary_field applied)"
assert_eq "every tied row is in the store" 235 \
  "$(curl -s -X POST -H 'Content-Type: application/json' "$STORE_URL/items/_mget" \
       -d "{\"ids\": [$(seq -s, 1000 1234 | sed 's/\([0-9]*\)/"\1"/g')]}" | jq '[.docs[] | select(.found)] | length')"

# ---- soft deletes ---------------------------------------------------------------
sql "update items set deleted_at = now(), updated_at = clock_timestamp() where id in (10, 11)"
check "once with two soft deletes" once_ok once9
assert_eq "a soft-deleted row's document is gone" missing "$(doc items 10)"
check "items converged with soft deletes" converged items "$Q_ITEMS"

# ---- counters and status ----------------------------------------------------------
st=$(vs status --json 2>/dev/null)
assert_eq "status: the cursor table's checkpoint" "cursor" "$(jq -r '.tables[] | select(.table == "public.items") | .capture' <<<"$st")"
check "status: passes counted" test "$(jq '.tables[] | select(.table == "public.items") | .cursor.passes' <<<"$st")" -ge 9
check "status: checkpoint age is known" test "$(jq '.tables[] | select(.table == "public.items") | .cursor.age_ms' <<<"$st")" -ge 0
check "worker_stats counts the cursor writes" test "$(sql 'select sum(applied) from versync.worker_stats')" -ge 360

# ---- one poller per table: a held poll lock makes once leave the table alone -------------
LOCKF=$T_DIR/lock.fifo
mkfifo "$LOCKF"
psql -XAtq -v ON_ERROR_STOP=1 <"$LOCKF" >"$T_DIR/lock.out" 2>&1 &
T_PIDS+=("$!")
exec 8>"$LOCKF"
echo "select pg_advisory_lock(hashtext('versync cursor versync'), hashtext('public.items')); select 'locked';" >&8
check "another session holds the poll lock of public.items" wait_until 20 grep -q locked "$T_DIR/lock.out"
sql "update items set name = 'while locked', updated_at = clock_timestamp() where id = 12"
check "once while the lock is held" once_ok once10
assert_eq "the locked table is left alone" "0" "$(summary_field applied)"
assert_match "and once says why" 'public.items: another versync is polling it' "$(cat "$T_DIR/once10.log")"
exec 8>&-
check "once after the lock is released" once_ok once11
assert_eq "now the change is synced" '"while locked"' "$(doc items 12 | jq -c .name)"

# ---- versync run polls the cursor table beside the trigger table ---------------------
T_LOGS+=("$T_DIR/run.log")
bg "$VERSYNC" -c "$CFG" run --workers 2 >"$T_DIR/run.log" 2>&1
RUN_PID=$BG_PID
sql "insert into plain values (1, 'a'), (2, 'b'); update items set name = 'run ' || id, updated_at = clock_timestamp() where id <= 20"
check "run syncs the cursor table" wait_until 30 converged items "$Q_ITEMS"
check "and the trigger table" wait_until 30 converged plain "$Q_PLAIN"
sql "update items set name = 'run again', updated_at = clock_timestamp() where id = 2"
check "run keeps polling" wait_until 30 converged items "$Q_ITEMS"
kill -TERM "$RUN_PID"
rc=0; wait "$RUN_PID" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"

done_testing
