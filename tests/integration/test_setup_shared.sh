#!/usr/bin/env bash
# Two configs, each with its own schema, capture the same table, so one table
# feeds two stores: each gets its own triggers (named after its schema), change
# table and workers, and both stores end equal to the table. Two managed
# versions on one table would overwrite each other: init refuses the second,
# naming the schema that already manages it.
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore 1 starts" verstore_start
S2_LOG=$T_DIR/verstore2.log
T_LOGS+=("$S2_LOG")
"$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/store2" >"$S2_LOG" 2>&1 &
T_PIDS+=("$!")
check "verstore 2 starts" wait_until 30 grep -q 'verstore listening on http://' "$S2_LOG"
S2_URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$S2_LOG" | head -1)

sql "create table public.p (id int primary key, name text);
     insert into public.p values (1, 'before');
     create table public.m (id int primary key, v bigint, name text);"
cat >"$T_DIR/a.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"},
  "tables": [ {"table": "public.p"}, {"table": "public.m", "version": {"column": "v", "managed": true}} ] }
EOF
cat >"$T_DIR/b.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$S2_URL"}, "schema": "search2", "channel": "search2",
  "tables": [ {"table": "public.p", "index": "people"}, {"table": "public.m", "version": {"column": "v"}} ] }
EOF
cat >"$T_DIR/c.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$S2_URL"}, "schema": "search3",
  "tables": [ {"table": "public.m", "version": {"column": "v", "managed": true}} ] }
EOF
A() { "$VERSYNC" -c "$T_DIR/a.json" "$@"; }
B() { "$VERSYNC" -c "$T_DIR/b.json" "$@"; }

check "init of the first config" A init --backfill
out=$(B init --backfill 2>&1); rc=$?
assert_eq "init of a second config capturing the same table exits 0" 0 "$rc"
assert_match "it creates its own triggers" 'created triggers on public.p' "$out"
assert_eq "each schema has its own triggers on the table" \
  "versync_capture,versync_capture_search2,versync_notify,versync_notify_search2,versync_truncate,versync_truncate_search2" \
  "$(sql "select string_agg(tgname, ',' order by tgname) from pg_trigger where tgrelid = 'public.p'::regclass and not tgisinternal")"
assert_eq "a second init of each is a no-op (1)" "nothing to change" "$(A init 2>/dev/null)"
assert_eq "a second init of each is a no-op (2)" "nothing to change" "$(B init 2>/dev/null)"

sql "insert into public.p values (2, 'two'), (3, 'three');
     update public.p set name = 'one' where id = 1;
     delete from public.p where id = 3;
     insert into public.m (id, name) values (1, 'm1');
     update public.m set name = 'm1 changed' where id = 1"
assert_eq "each schema's change table got the changes (1)" 4 "$(sql "select count(*) from versync.changes where tbl = 'public.p'")"
assert_eq "each schema's change table got the changes (2)" 4 "$(sql "select count(*) from search2.changes where tbl = 'public.p'")"
check "once drains the first" A once
check "once drains the second" B once
ids() { curl -s "$1/$2/_search?size=100" -H 'Content-Type: application/json' \
  -d '{"query":{"match_all":{}}}' | jq -c '[.hits.hits[] | [._id, ._source.name]] | sort'; }
want='[["1","one"],["2","two"]]'
assert_eq "store 1 equals the table" "$want" "$(ids "$STORE_URL" p)"
assert_eq "store 2 equals the table" "$want" "$(ids "$S2_URL" people)"
assert_eq "the managed version reaches both stores alike" \
  "$(curl -s "$STORE_URL/m/_doc/1" | jq -c '[._version, ._source.name]')" \
  "$(curl -s "$S2_URL/m/_doc/1" | jq -c '[._version, ._source.name]')"

out=$("$VERSYNC" -c "$T_DIR/c.json" init 2>&1); rc=$?
assert_eq "a second managed version on one table is refused (exit 2)" 2 "$rc"
assert_match "naming the schema that manages it and the remedy" \
  'public\.m is already captured with a managed version by the config of schema "versync".*"version": \{"column": "v"\}' "$out"
assert_eq "and nothing of it was created" 0 "$(sql "select count(*) from pg_trigger where tgname like '%search3%'")"

# Removing the table from one config leaves the other's capture alone.
cat >"$T_DIR/b.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$S2_URL"}, "schema": "search2", "channel": "search2",
  "tables": [ {"table": "public.m", "version": {"column": "v"}} ] }
EOF
check "init after dropping the table from the second config" B init
assert_eq "only the first config's triggers remain on the table" "versync_capture,versync_notify,versync_truncate" \
  "$(sql "select string_agg(tgname, ',' order by tgname) from pg_trigger where tgrelid = 'public.p'::regclass and not tgisinternal")"
sql "insert into public.p values (4, 'four')"
check "the first config still syncs it" A once
assert_eq "store 1 has the new row" four "$(curl -s "$STORE_URL/p/_doc/4" | jq -r ._source.name)"

done_testing
