#!/usr/bin/env bash
# Change capture against a real PostgreSQL: inserts, updates and deletes produce exactly the
# expected change rows with the expected versions for every version source (none, column,
# managed column, timestamp, managed timestamp); managed versions grow per row; a rolled-back
# transaction and an update of no mapped column leave no change row; composite keys,
# quoted mixed-case identifiers, key changes, soft deletes, "deletes": "ignore" and NOTIFY.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.seq_t (id int primary key, name text);
     create table public.col_t (id int primary key, name text, ver bigint);
     create table public.man_t (id bigint primary key, name text, secret text, ver int);
     insert into public.man_t values (1, 'x', 's', 100);
     create table public.ts_t (id int primary key, name text, updated_at timestamptz);
     create table public.mts_t (id int primary key, name text, updated_at timestamp);
     create schema \"Sales\";
     create table \"Sales\".\"Order Items\" (\"Order Id\" text, \"At\" timestamptz, \"Qty\" int, note text,
                                           primary key (\"Order Id\", \"At\"));
     create table public.soft_t (id int primary key, name text, deleted_at timestamptz, junk text);"
cat >"$T_DIR/v.json" <<EOF
{ "postgres": "$PG_CONNINFO",
  "tables": [
    {"table": "public.seq_t"},
    {"table": "public.col_t", "version": {"column": "ver"}},
    {"table": "public.man_t", "version": {"column": "ver", "managed": true}, "exclude": ["secret"]},
    {"table": "public.ts_t", "version": {"timestamp": "updated_at"}},
    {"table": "public.mts_t", "version": {"timestamp": "updated_at", "managed": true}},
    {"table": "\"Sales\".\"Order Items\"", "index": "order-items", "key": ["Order Id", "At"],
     "columns": ["Order Id", "At", "Qty"]},
    {"table": "public.soft_t", "columns": ["id", "name"], "soft_delete": {"column": "deleted_at"},
     "deletes": "ignore"}
  ] }
EOF
out=$("$VERSYNC" -c "$T_DIR/v.json" init --no-store 2>&1); rc=$?
assert_eq "init exits 0" 0 "$rc" || echo "$out" | sed 's/^/# /'

# changes TBL — the change rows of TBL as op:key:version lines joined by spaces, then forget them.
changes() {
  sql "select coalesce(string_agg(op::text || ':' || coalesce(key::text, '') || ':' || coalesce(version::text, ''), ' ' order by seq), '')
         from versync.changes where tbl = '$1'; delete from versync.changes where tbl = '$1'" | head -1
}

# ---- no version: the change sequence ----
sql "insert into seq_t values (1, 'a')"
sql "update seq_t set name = 'b' where id = 1"
sql "update seq_t set name = 'b' where id = 1"
sql "delete from seq_t where id = 1"
assert_eq "seq: insert, update, no-op update, delete" "I:{1}: U:{1}: D:{1}:" "$(changes public.seq_t)"
sql "begin; insert into seq_t values (2, 'x'); update seq_t set name = 'y' where id = 2; rollback"
assert_eq "a rolled-back transaction leaves no change row" "" "$(changes public.seq_t)"
sql "insert into seq_t values (3, 'a'), (4, 'b'); update seq_t set id = 5 where id = 4"
assert_eq "a key change deletes the old document and indexes the new one" "I:{3}: I:{4}: D:{4}: I:{5}:" \
  "$(changes public.seq_t)"

# ---- version column kept by the application ----
sql "insert into col_t values (1, 'a', 5)"
sql "update col_t set name = 'b', ver = 7 where id = 1"
sql "delete from col_t where id = 1"
assert_eq "column: I and U carry the column, D old + 1" "I:{1}:5 U:{1}:7 D:{1}:8" "$(changes public.col_t)"
sql "insert into col_t values (2, 'a', 9223372036854775807); delete from col_t where id = 2"
assert_eq "column: no overflow past the largest version" "I:{2}:9223372036854775807 D:{2}:" "$(changes public.col_t)"

# ---- managed version column ----
assert_eq "managed: the sequence starts above the versions already there" "101" \
  "$(sql "insert into man_t (id, name, secret) values (2, 'b', 's') returning ver")"
sql "update man_t set name = 'y' where id = 1"
sql "update man_t set name = 'z' where id = 1"
assert_eq "managed: versions grow per row" "I:{2}:101 U:{1}:102 U:{1}:103" "$(changes public.man_t)"
sql "update man_t set secret = 't' where id = 1"
sql "update man_t set ver = 5 where id = 1"
assert_eq "managed: updates of no mapped column record nothing" "" "$(changes public.man_t)"
assert_eq "managed: and keep the version (even one set by hand)" "103" "$(sql "select ver from man_t where id = 1")"
sql "update man_t set name = name || '!'"
assert_eq "managed: one statement over many rows gives each its own version" "104,105" \
  "$(sql "select string_agg(version::text, ',' order by version) from versync.changes where tbl = 'public.man_t'")"
assert_eq "managed: each row holds the version its change row carries" \
  "$(sql "select string_agg(key[1] || ':' || version, ',' order by key[1]) from versync.changes where tbl = 'public.man_t'")" \
  "$(sql "select string_agg(id || ':' || ver, ',' order by id) from man_t")"
changes public.man_t >/dev/null
sql "delete from man_t where id = 2"
assert_eq "managed: a delete takes the next sequence value" "D:{2}:106" "$(changes public.man_t)"

# ---- timestamp kept by the application ----
sql "insert into ts_t values (1, 'a', '2024-01-01 00:00:00.123456+00')"
sql "update ts_t set name = 'b', updated_at = '2024-01-01 00:00:01.123456+00' where id = 1"
assert_eq "timestamp: I and U carry microseconds since the epoch" "I:{1}:1704067200123456 U:{1}:1704067201123456" \
  "$(changes public.ts_t)"
sql "delete from ts_t where id = 1"
assert_eq "timestamp: a delete takes the old stamp + 1 µs, never the clock (issue 16)" "D:{1}:1704067201123457" \
  "$(changes public.ts_t)"
changes public.ts_t >/dev/null
sql "insert into ts_t values (2, 'a', '2100-01-01 00:00:00+00'); delete from ts_t where id = 2"
assert_eq "timestamp: a delete of a row from the future takes old + 1us" "I:{2}:4102444800000000 D:{2}:4102444800000001" \
  "$(changes public.ts_t)"

# ---- managed timestamp ----
sql "insert into mts_t (id, name) values (1, 'a')"
assert_eq "managed timestamp: I carries the timestamp the trigger set" \
  "I:{1}:$(sql "select trunc(extract(epoch from updated_at) * 1000000)::bigint from mts_t where id = 1")" \
  "$(changes public.mts_t)"
sql "update mts_t set updated_at = '2200-01-01' where id = 1"
assert_eq "managed timestamp: setting it by hand is no change" "" "$(changes public.mts_t)"
sql "begin; update mts_t set name = 'b' where id = 1; update mts_t set name = 'c' where id = 1; commit"
vs=$(sql "select string_agg(version::text, ' ' order by seq) from versync.changes where tbl = 'public.mts_t'")
read -r v1 v2 <<<"$vs"
check "managed timestamp: two updates in one transaction grow ($v1 < $v2)" test "$v1" -lt "$v2"
assert_eq "managed timestamp: the row holds the last version" "$v2" \
  "$(sql "select trunc(extract(epoch from updated_at) * 1000000)::bigint from mts_t where id = 1")"
changes public.mts_t >/dev/null

# ---- composite key, quoted mixed-case names, columns list ----
sql "insert into \"Sales\".\"Order Items\" values ('A|1', '2024-05-01 10:00:00+02', 3, 'n')"
key=$(sql "select array[\"Order Id\"::text, \"At\"::text]::text from \"Sales\".\"Order Items\"")
sql "update \"Sales\".\"Order Items\" set note = 'm'"
sql "update \"Sales\".\"Order Items\" set \"Qty\" = 4"
sql "update \"Sales\".\"Order Items\" set \"Order Id\" = 'B'"
key2=$(sql "select array[\"Order Id\"::text, \"At\"::text]::text from \"Sales\".\"Order Items\"")
sql "delete from \"Sales\".\"Order Items\""
assert_eq "composite key of ::text parts; unmapped column ignored; key change; delete" \
  "I:$key: U:$key: D:$key: I:$key2: D:$key2:" "$(changes 'Sales.Order Items')"

# ---- soft delete and "deletes": "ignore" ----
sql "insert into soft_t values (1, 'a', null, 'j')"
sql "update soft_t set junk = 'k'"
sql "update soft_t set deleted_at = now()"
sql "delete from soft_t"
assert_eq "soft delete column counts; other unmapped columns and deletes do not" "I:{1}: U:{1}:" \
  "$(changes public.soft_t)"

# ---- NOTIFY, once per statement, naming the table ----
out=$(psql -X -c "LISTEN versync" -c "insert into seq_t values (10, 'n'), (11, 'm')" 2>&1)
assert_match "a statement notifies the channel with the table" 'notification "versync" with payload "public.seq_t"' "$out"
assert_eq "once per statement" 1 "$(printf '%s\n' "$out" | grep -c 'Asynchronous notification')"

done_testing
