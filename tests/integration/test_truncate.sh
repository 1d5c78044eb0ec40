#!/usr/bin/env bash
# TRUNCATE of a mapped table is captured and applied through the normal change
# stream: the documents of the truncated rows disappear, the documents of rows
# inserted after the truncate (same transaction or later, already indexed or
# not) stay, for change-sequence and managed versions; the table's resync flag
# is cleared; and under racing workers (chaos ordering) with truncates mixed
# into a stream of inserts, updates and deletes the index ends equal to the table.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.ts (id int primary key, name text);
     create table public.tm (id int primary key, v bigint, name text);"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.ts"}, {"table": "public.tm", "version": {"column": "v", "managed": true}}]'
check "init" vs init
sql "insert into ts select g, 'old ' || g from generate_series(1, 6) g;
     insert into tm (id, name) select g, 'old ' || g from generate_series(1, 6) g;"
check "once indexes the rows" once_ok first
assert_eq "6 documents in ts" 6 "$(curl -s "$STORE_URL/ts/_count" | jq .count)"
assert_eq "6 documents in tm" 6 "$(curl -s "$STORE_URL/tm/_count" | jq .count)"

Q_TS="select id, jsonb_build_object('id', id, 'name', name) as doc, null::bigint as v from ts order by id"
Q_TM="select id, jsonb_build_object('id', id, 'v', v, 'name', name) as doc, v from tm order by id"
for t in ts tm; do
  # Rows inserted in the truncating transaction and after it; one of them is
  # copied into the index (backfill) before the truncate change is processed.
  sql "begin; truncate $t; insert into $t (id, name) values (2, 'new 2'), (7, 'new 7'); commit"
  sql "insert into $t (id, name) values (3, 'new 3')"
  assert_eq "$t: the truncate is a change row" 1 "$(sql "select count(*) from versync.changes where tbl = 'public.$t' and op = 'T'")"
  "$VERSYNC" -c "$CFG" backfill "public.$t" >/dev/null 2>&1
  check "$t: a row inserted after the truncate is already indexed" test "$(doc $t 3)" != missing
  check "$t: once applies the truncate" once_ok "trunc-$t"
  assert_eq "$t: the index equals the table: truncated rows gone, later rows kept" 0 \
    "$(mismatches $t "$([ $t = ts ] && echo "$Q_TS" || echo "$Q_TM")")"
  assert_eq "$t: exactly the rows inserted since" '["2","3","7"]' \
    "$(curl -s "$STORE_URL/$t/_search?size=100" | jq -c '[.hits.hits[]._id] | sort')"
  assert_eq "$t: the resync flag is cleared" f "$(sql "select needs_resync from versync.tables where tbl = 'public.$t'")"
done
check "the worker logged what the truncate did" grep -q 'public.ts: truncate applied to ts: 4 documents deleted, 3 kept' "$T_DIR/trunc-ts.log"

# ---- racing workers: truncates mixed into a stream of writes -----------------------------
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 3 --chaos-max-delay-ms 30 2>"$RUN_LOG"
RUN_PID=$BG_PID
for round in $(seq 1 40); do
  t=$([ $((RANDOM % 2)) = 0 ] && echo ts || echo tm)
  id=$((RANDOM % 12 + 1))
  case $((RANDOM % 8)) in
    0) sql "begin; truncate $t; insert into $t (id, name) values ($id, 'after truncate $round') on conflict (id) do nothing; commit" ;;
    1|2) sql "delete from $t where id = $id" ;;
    *) sql "insert into $t (id, name) values ($id, 'r$round') on conflict (id) do update set name = excluded.name" ;;
  esac
done
check "the workers drain the change table" wait_until 120 backlog_empty
check "ts converges to the table" wait_until 60 converged ts "$Q_TS"
check "tm converges to the table" wait_until 60 converged tm "$Q_TM"
kill -TERM "$RUN_PID"; wait "$RUN_PID" 2>/dev/null

done_testing
