#!/usr/bin/env bash
# Partitioned tables: the parent's name in the config, capture on every partition (present and
# future) under that name, re-reads through the parent. An UPDATE that moves a row to another
# partition (DELETE there, INSERT here) leaves the row indexed, also with racing workers and a
# managed version (whose delete would otherwise outrank the insert). A partition created after
# init is captured at once; check names it until init gives it its TRUNCATE trigger. TRUNCATE of
# one partition and of the parent, backfill + verify over the parent, a detached partition, and
# the refusal of "capture": "wal".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
# events: key "id" (unique only with the partition key), managed version; logs: the primary key
# (partition key included) as the id, change-sequence versions, a sub-partitioned partition.
sql "create table events (id int not null, region text not null, v bigint, n int not null default 0,
                          note text, primary key (id, region)) partition by list (region);
     create table events_eu partition of events for values in ('eu');
     create table events_us partition of events for values in ('us');
     create table logs (id int not null, day int not null, msg text, primary key (id, day))
       partition by range (day);
     create table logs_a partition of logs for values from (0) to (10);
     create table logs_b partition of logs for values from (10) to (20) partition by range (day);
     create table logs_b1 partition of logs_b for values from (10) to (15);
     create table logs_b2 partition of logs_b for values from (15) to (20);"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.events", "key": ["id"], "version": {"column": "v", "managed": true}},
                   {"table": "public.logs"}]'
Q_EV="select id::text as id, to_jsonb(t) as doc, v from events t"
Q_LOG="select id::text || '|' || day::text as id, to_jsonb(t) as doc, null::bigint as v from logs t"
both_converged() { converged events "$Q_EV" && converged logs "$Q_LOG"; }

out=$(vs check 2>&1); rc=$?
assert_eq "check accepts the partitioned tables" 0 "$rc"
assert_match "check warns that the key is unique only with the partition key" \
  "public.events: the key of tables\[0\] is unique only together with the partition key" "$out"
T_LOGS+=("$T_DIR/init.log")
check "init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
check "init gave every partition its statement triggers" \
  grep -q '^created TRUNCATE and wake-up triggers on 4 partitions of public.logs' "$T_DIR/init.log"
assert_eq "a second init has nothing to change" "nothing to change" "$(vs init 2>&1 | tail -1)"
out=$(vs check 2>&1)
check "check names no partition without triggers" bash -c "! grep -q 'lack' <<<'$out'"

# ---- insert, update, delete through the parent and straight into partitions -----------------
sql "insert into events (id, region, note) select g, case when g % 2 = 0 then 'eu' else 'us' end, 'n' || g
       from generate_series(1, 20) g;
     insert into events_eu (id, region, note) values (21, 'eu', 'direct');
     insert into logs select g, g % 20, 'm' || g from generate_series(1, 30) g;
     insert into logs_b2 values (100, 17, 'direct into a sub-partition');"
assert_eq "changes are recorded under the parents' names" "public.events public.logs" \
  "$(sql "select string_agg(distinct tbl, ' ' order by tbl) from versync.changes")"
check "once" once_ok first
assert_eq "events: the index equals the table" 0 "$(mismatches events "$Q_EV")"
assert_eq "logs: the index equals the table (id = primary key, partition key included)" 0 "$(mismatches logs "$Q_LOG")"
check "a logs document's id is its primary key" test "$(doc logs '100|17')" != missing
sql "update events set note = 'upd' where id <= 6; update events_us set n = 5 where id = 7;
     delete from events where id in (8, 9); delete from logs_a where id = 1;
     update logs set msg = 'upd' where id between 2 and 12;"
check "once" once_ok second
check "both indexes equal their tables after updates and deletes" both_converged

# ---- a row moving between partitions keeps its document --------------------------------------
sql "update events set region = 'us', note = 'moved' where id = 2;
     update events set region = case region when 'eu' then 'us' else 'eu' end where id between 10 and 15;"
assert_eq "a move records no delete for a key that still exists" 0 \
  "$(sql "select count(*) from versync.changes where tbl = 'public.events' and op = 'D'")"
# One change per batch: the move's DELETE and INSERT are written apart, as racing workers may.
CFG1=$T_DIR/v1.json
sed 's/"batch_size": 50/"batch_size": 1/' "$CFG" >"$CFG1"
check "once, one change per batch" bash -c "'$VERSYNC' -c '$CFG1' once >/dev/null 2>>'$T_DIR/moved.log'"
T_LOGS+=("$T_DIR/moved.log")
assert_eq "moved rows are indexed, at their new versions" 0 "$(mismatches events "$Q_EV")"
assert_eq "the moved row shows its new partition" '"us"' "$(doc events 2 | jq -c .region)"
# logs' id contains the partition key: a move is a new document and the old one goes.
sql "update logs set day = 3 where id = 12"
check "once" once_ok moved_logs
assert_eq "logs: the old document of a moved row is deleted, the new one indexed" 0 "$(mismatches logs "$Q_LOG")"

# ---- racing workers while rows move back and forth -------------------------------------------
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 3 --chaos-max-delay-ms 20 2>"$RUN_LOG"
RUN_PID=$BG_PID
sql "do \$\$ begin
  for r in 1..60 loop
    update events set region = case region when 'eu' then 'us' else 'eu' end, n = n + 1
     where id % 5 = r % 5;
    update logs set day = (day + 7) % 20 where id % 4 = r % 4;
    delete from events where id = 1 + (r * 7) % 25;
    insert into events (id, region, note) select g, case when (g + r) % 2 = 0 then 'eu' else 'us' end, 'back ' || r
      from generate_series(1, 25) g where g % 6 = r % 6 and not exists (select 1 from events e where e.id = g);
  end loop;
end \$\$;"
# Concurrent sessions moving and updating the same rows (PostgreSQL refuses some of those with
# "already moved to another partition": the loser simply changed nothing).
for r in $(seq 1 20); do
  sql "update events set region = case region when 'eu' then 'us' else 'eu' end where id = $((r % 7 + 1))" 2>/dev/null &
  P1=$!
  sql "update events set note = 'race $r' where id = $((r % 7 + 1))" 2>/dev/null &
  P2=$!
  wait "$P1" "$P2"
done
check "the workers drain the change table" wait_until 120 backlog_empty
check "events converge to the table" wait_until 60 converged events "$Q_EV"
check "logs converge to the table" wait_until 60 converged logs "$Q_LOG"

# ---- a partition created after init ------------------------------------------------------------
sql "create table events_ap partition of events for values in ('ap');
     insert into events_ap (id, region, note) values (500, 'ap', 'new partition');"
check "a row of a partition created after init is indexed (the cloned capture trigger)" \
  wait_until 30 bash -c "[ \"\$(curl -s '$STORE_URL/events/_doc/500' | jq -r .found)\" = true ]"
kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
out=$(vs check 2>&1); rc=$?
assert_eq "check still passes (a warning only)" 0 "$rc"
assert_match "check names the partition lacking its triggers" \
  "public.events: partition public.events_ap lacks versync's TRUNCATE and wake-up triggers" "$out"
out=$(vs init 2>&1)
assert_match "init gives the new partition its triggers" \
  "created TRUNCATE and wake-up triggers on 1 partition of public.events: public.events_ap" "$out"
out=$(vs check 2>&1)
check "check no longer names it" bash -c "! grep -q 'lacks' <<<'$out'"

# ---- TRUNCATE of one partition, then of the parent ----------------------------------------------
sql "truncate events_eu"
assert_eq "a partition's truncate is recorded under the parent" 1 \
  "$(sql "select count(*) from versync.changes where tbl = 'public.events' and op = 'T'")"
check "once applies it" once_ok trunc_part
assert_eq "the truncated partition's documents are gone, the others kept" 0 "$(mismatches events "$Q_EV")"
check "the other partitions' rows are still indexed" test "$(curl -s "$STORE_URL/events/_count" | jq .count)" -gt 0
sql "truncate logs"
check "once applies the parent's truncate" once_ok trunc_parent
assert_eq "logs: every document is gone" 0 "$(curl -s "$STORE_URL/logs/_count" | jq .count)"

# ---- backfill and verify walk the parent -----------------------------------------------------------
sql "insert into logs select g, g % 20, 'again ' || g from generate_series(1, 40) g;
     insert into events (id, region, note) values (600, 'eu', 'b'), (601, 'ap', 'b');"
sql "delete from versync.changes"
curl -s -X DELETE "$STORE_URL/logs" >/dev/null
curl -s -X DELETE "$STORE_URL/events" >/dev/null
check "backfill copies every partition's rows" vs backfill
check "backfill: both indexes equal their tables" both_converged
out=$(vs verify 2>&1); rc=$?
assert_eq "verify over the parents finds them in sync" 0 "$rc"

# ---- a detached partition: its rows are no longer the parent's ------------------------------------
sql "alter table logs detach partition logs_a"
out=$(vs init 2>&1)
assert_match "init drops the detached partition's triggers" \
  "dropped partition triggers on 1 table no longer a partition of a captured table: public.logs_a" "$out"
sql "insert into logs_a values (900, 1, 'after detach')"
assert_eq "writes to the detached table are not captured" 0 "$(sql "select count(*) from versync.changes")"
out=$(vs verify logs 2>&1); rc=$?
assert_eq "verify reports its documents as drift" 1 "$rc"
vs verify logs --repair >"$T_DIR/repair.out" 2>&1
check "verify --repair queues their deletes (change-sequence versions)" grep -q 'queued' "$T_DIR/repair.out"
check "once applies them" once_ok repaired
assert_eq "logs: the index equals the parent again" 0 "$(mismatches logs "$Q_LOG")"
out=$(vs verify logs 2>&1); rc=$?
assert_eq "verify finds logs in sync again" 0 "$rc"

# ---- init on a partitioned table that already holds rows: counted over its partitions, copied --
sql "create table orders (id int primary key, total int) partition by hash (id);
     create table orders_0 partition of orders for values with (modulus 2, remainder 0);
     create table orders_1 partition of orders for values with (modulus 2, remainder 1);
     insert into orders select g, g * 10 from generate_series(1, 5) g;"
OCFG=$T_DIR/o.json
ws_config "$OCFG" '[{"table": "public.orders"}]'
out=$("$VERSYNC" -c "$OCFG" init --backfill 2>&1)
assert_match "init counts the rows of every partition" "public.orders: 5 existing rows, not yet in the index" "$out"
assert_eq "init --backfill copies them" 5 "$(curl -s "$STORE_URL/orders/_count" | jq .count)"
assert_match "a table leaving the config takes its partitions' triggers along" \
  "dropped partition triggers on [0-9]+ tables no longer a partition of a captured table" "$out"
assert_eq "no trigger of versync's is left on a partition of events or logs" 0 \
  "$(sql "select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid
          where (c.relname like 'events%' or c.relname like 'logs%') and t.tgname like 'versync%'")"

# ---- "capture": "cursor" reads the parent too ---------------------------------------------------
sql "create table tick (id int, k int, ver bigint not null default 1, primary key (id, k)) partition by list (k);
     create table tick_1 partition of tick for values in (1);
     create table tick_2 partition of tick for values in (2);
     insert into tick values (1, 1), (2, 2);"
CCFG=$T_DIR/c.json
ws_config "$CCFG" '[{"table": "public.tick", "capture": "cursor", "version": {"column": "ver"}}]'
check "cursor mode: init" bash -c "'$VERSYNC' -c '$CCFG' init >/dev/null 2>&1"
check "cursor mode: once" bash -c "'$VERSYNC' -c '$CCFG' once >/dev/null 2>&1"
sql "update tick set k = 2, ver = 2 where id = 1"
check "cursor mode: once after a move" bash -c "'$VERSYNC' -c '$CCFG' once >/dev/null 2>&1"
assert_eq "cursor mode: every partition's rows, the moved one under its new id" '["1|1","1|2","2|2"]' \
  "$(curl -s "$STORE_URL/tick/_search?size=10" | jq -c '[.hits.hits[]._id] | sort')"

# ---- "capture": "wal" refuses a partitioned table with the reason ----------------------------------
WCFG=$T_DIR/w.json
ws_config "$WCFG" '[{"table": "public.logs", "capture": "wal"}]'
err=$("$VERSYNC" -c "$WCFG" check 2>&1 >/dev/null); rc=$?
assert_eq "check refuses a partitioned table under WAL capture (exit 2)" 2 "$rc"
assert_match "and says why" 'tables\[0\].capture: public.logs is a partitioned table, which "capture": "wal" does not support: .*publish_via_partition_root' "$err"

done_testing
