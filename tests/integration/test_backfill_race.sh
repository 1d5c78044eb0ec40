#!/usr/bin/env bash
# A backfill racing a live `versync run` while an application keeps updating, deleting and
# inserting rows converges: once the writer stops and the change table drains, every document
# equals its row (checked independently of verify, then by verify), for change-sequence,
# managed-column and application-timestamp versions alike. A backfill write that loses to a
# newer change is a harmless 409.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log" "$T_DIR/run.log")
sql "create table s (id int primary key, name text, n int);
     insert into s select g, 's' || g, 0 from generate_series(1, 6000) g;
     create table m (id int primary key, name text, n int, ver bigint);
     insert into m select g, 'm' || g, 0, 1 from generate_series(1, 3000) g;
     create table ts (id int primary key, name text, n int, updated_at timestamptz not null default clock_timestamp());
     insert into ts select g, 't' || g, 0 from generate_series(1, 3000) g;"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.s"}, {"table": "public.m", "version": {"column": "ver", "managed": true}},
  {"table": "public.ts", "version": {"timestamp": "updated_at"}}]'
vs init >/dev/null
"$VERSYNC" -c "$CFG" run >"$T_DIR/run.out" 2>"$T_DIR/run.log" &
rpid=$!
T_PIDS+=("$rpid")

# The application: many small transactions over random rows of all three tables.
writer() {
  local i
  for i in $(seq 1 400); do
    echo "update s set n = n + 1, name = 'w$i' where id in (select (random() * 6000)::int + 1 from generate_series(1, 20));"
    echo "update m set n = n + 1 where id in (select (random() * 3000)::int + 1 from generate_series(1, 10));"
    echo "update ts set n = n + 1, updated_at = clock_timestamp() where id = (random() * 3000)::int + 1;"
    echo "delete from s where id = (random() * 6000)::int + 1;"
    echo "insert into s values (6000 + $i, 'new$i', 0);"
  done | psql -Xq -v ON_ERROR_STOP=1 >/dev/null 2>"$T_DIR/writer.log"
}
writer &
wpid=$!
T_PIDS+=("$wpid")
writing() { [ "$(sql "select count(*) from s where name like 'w%'")" -gt 0 ]; }
wait_until 30 writing
out=$(vs backfill --batch 200); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "the backfill beside live workers and writers exits 0" 0 "$rc"
wait "$wpid"
assert_eq "the writer finished" 0 "$?"
wait_until 60 backlog_empty
assert_eq "the workers drain the change table" 0 "$(backlog)"

# Independent check: every row's document equals the row, and there are no others.
same() { # TABLE — rows rendered by PostgreSQL vs documents fetched by _mget
  local want got
  want=$(sql "select coalesce(json_agg(to_jsonb(x) order by id), '[]') from $1 x" | jq -cS '[.[] | {(.id|tostring): .}] | add // {}')
  got=$(sql "select json_build_object('ids', coalesce(json_agg(id::text order by id), '[]')) from $1" |
    curl -s -X POST -H 'Content-Type: application/json' --data-binary @- "$STORE_URL/$1/_mget" |
    jq -cS '[.docs[] | select(.found) | {(._id): ._source}] | add // {}')
  [ "$want" = "$got" ] && [ "$(count "$1")" = "$(sql "select count(*) from $1")" ]
}
check "change-sequence table: every document equals its row, none extra" same s
check "managed version table: every document equals its row, none extra" same m
check "timestamp table: every document equals its row, none extra" same ts
assert_eq "a managed row's document carries the row's version" \
  "$(sql "select ver from m where id = 17")" "$(doc_field m 17 '._version')"
vs verify >/dev/null
assert_eq "verify agrees: in sync" 0 "$?"

# --prune racing the application: orphans (rows deleted behind the triggers' back) are pruned
# while the writer re-inserts some of those very keys and deletes others; the re-inserted rows'
# documents must survive the prune's deletes.
sql "alter table s disable trigger versync_capture;
     delete from s where id % 7 = 0;
     alter table s enable trigger versync_capture"
orphans=$(( $(count s) - $(sql "select count(*) from s") ))
check "orphan documents exist before the prune" test "$orphans" -gt 0
reinsert() {
  local i
  for i in $(seq 7 7 2100); do
    echo "insert into s values ($i, 'back$i', 1) on conflict (id) do update set name = 'back$i';"
    echo "delete from s where id = $((i + 1));"
  done | psql -Xq -v ON_ERROR_STOP=1 >/dev/null 2>>"$T_DIR/writer.log"
}
reinsert &
wpid=$!
T_PIDS+=("$wpid")
out=$(vs backfill s --prune --batch 100); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill --prune beside the writer exits 0" 0 "$rc"
wait "$wpid"
assert_eq "the re-inserting writer finished" 0 "$?"
wait_until 60 backlog_empty
check "after the prune race every document equals its row, none extra" same s
vs verify s >/dev/null
assert_eq "verify agrees after the prune race" 0 "$?"

kill -TERM "$rpid"
wait "$rpid"
assert_eq "versync run stops cleanly" 0 "$?"
done_testing
