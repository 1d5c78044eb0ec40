#!/usr/bin/env bash
# tables[].where against real PostgreSQL + verstore + versync: a row inserted outside the filter is
# never indexed; a row that leaves it (through a column the document does not even show) is deleted
# at its row's version, and one that enters it is indexed; a hard delete still deletes; racing
# workers over rows flipping in and out converge to exactly the rows inside, and an older write
# cannot resurrect a filtered-out row (its delete is versioned); "where" and "soft_delete" combine;
# cursor and WAL capture apply the filter; backfill writes only matching rows and removes a document of a
# row outside; verify reports such a document as drift and --repair deletes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical" # for the "capture": "wal" table
check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table docs (id int primary key, status text not null, deleted_at timestamptz, title text);
create table vdocs (id int primary key, v bigint, status text not null, gone boolean not null default false, title text);
create table cdocs (id int primary key, status text not null, title text,
                    updated_at timestamptz not null default clock_timestamp());
create table wdocs (id int primary key, status text not null, title text);
create table bdocs (id int primary key, v bigint not null, status text not null, title text);
insert into bdocs select g, 10 + g, case when g % 2 = 0 then 'draft' else 'live' end, 'b' || g
  from generate_series(1, 40) g;
"
ws_config "$CFG" '[
  {"table": "public.docs", "exclude": ["status"], "where": "status <> '"'draft'"' AND deleted_at IS NULL"},
  {"table": "public.vdocs", "version": {"column": "v", "managed": true}, "soft_delete": {"column": "gone"},
   "where": "status = '"'live'"'"},
  {"table": "public.cdocs", "capture": "cursor", "version": {"timestamp": "updated_at"},
   "where": "status = '"'live'"'"},
  {"table": "public.bdocs", "version": {"column": "v"}, "where": "status = '"'live'"'"},
  {"table": "public.wdocs", "capture": "wal", "where": "status = '"'live'"'"}
]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

Q_DOCS="select id::text as id, to_jsonb(t) - 'status' as doc, null::bigint as v from docs t
        where status <> 'draft' and deleted_at is null"
Q_VDOCS="select id::text as id, to_jsonb(t) as doc, v from vdocs t where status = 'live' and not gone"
Q_CDOCS="select id::text as id, to_jsonb(t) as doc, trunc(extract(epoch from updated_at)*1000000)::bigint as v
         from cdocs t where status = 'live'"
Q_WDOCS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from wdocs t where status = 'live'"
Q_BDOCS="select id::text as id, to_jsonb(t) as doc, v from bdocs t where status = 'live'"

# ---- inserts: a row outside the filter is never indexed ---------------------------------------
sql "insert into docs values (1, 'published', null, 'one'), (2, 'draft', null, 'two'), (3, 'published', null, 'three'),
                             (4, 'published', now(), 'four');
     insert into vdocs (id, status, title) values (1, 'live', 'one'), (2, 'draft', 'two'), (3, 'live', 'three');
     insert into cdocs (id, status, title) values (1, 'live', 'one'), (2, 'draft', 'two');
     insert into wdocs values (1, 'live', 'one'), (2, 'draft', 'two'), (3, 'live', 'three')"
check "once drains the inserts" once_ok once1
assert_eq "a matching row is indexed (without its excluded filter column)" '{"deleted_at":null,"id":1,"title":"one"}' "$(doc docs 1)"
assert_eq "a draft is never indexed" missing "$(doc docs 2)"
assert_eq "a row outside the filter's second condition is never indexed" missing "$(doc docs 4)"
check "docs holds exactly the matching rows" converged docs "$Q_DOCS"
check "vdocs holds exactly the matching rows, at their versions" converged vdocs "$Q_VDOCS"
check "cursor capture applies the filter" converged cdocs "$Q_CDOCS"
assert_eq "the cursor table's draft is not indexed" missing "$(doc cdocs 2)"
check "WAL capture applies the filter" converged wdocs "$Q_WDOCS"
assert_eq "the WAL table's draft is not indexed" missing "$(doc wdocs 2)"

# ---- leaving and entering the filter -------------------------------------------------------------
# status is excluded from the document: only the filter reads it, and the change is still captured.
sql "update docs set status = 'draft' where id = 1;
     update docs set status = 'published' where id = 2;
     update docs set status = 'draft' where id = 3; update docs set status = 'published' where id = 3;
     update docs set deleted_at = null where id = 4"
check "once applies the moves" once_ok once2
assert_eq "a row that left the filter is deleted" missing "$(doc docs 1)"
assert_eq "a row that entered it is indexed" '{"deleted_at":null,"id":2,"title":"two"}' "$(doc docs 2)"
assert_eq "a row that left and came back in one pass is indexed" '{"deleted_at":null,"id":3,"title":"three"}' "$(doc docs 3)"
assert_eq "a row whose other condition became true is indexed" '{"deleted_at":null,"id":4,"title":"four"}' "$(doc docs 4)"
check "docs equals its matching rows" converged docs "$Q_DOCS"

v_before=$(sql "select v from vdocs where id = 1")
sql "update vdocs set status = 'draft' where id = 1; update vdocs set status = 'live' where id = 2;
     update vdocs set gone = true where id = 3"
check "once applies the moves of the versioned table" once_ok once3
v_left=$(sql "select v from vdocs where id = 1")
assert_eq "the row that left is deleted" missing "$(doc vdocs 1)"
assert_eq "the row that entered is indexed at its row's version" "$(sql "select v from vdocs where id = 2")" "$(doc_version vdocs 2)"
assert_eq "soft_delete still deletes beside a filter" missing "$(doc vdocs 3)"
# The delete was written at the row's version: a write of the row as it was before (a racing
# worker's late write) is refused, and the document stays deleted.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"id":1,"v":'"$v_before"',"status":"live","gone":false,"title":"one"}' \
  "$STORE_URL/vdocs/_doc/1?version=$v_before&version_type=external")
assert_eq "an older write of a filtered-out row is refused (409)" 409 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"id":1}' "$STORE_URL/vdocs/_doc/1?version=$v_left&version_type=external")
assert_eq "so is one at the version of the delete itself" 409 "$code"
assert_eq "and the row stays out of the index" missing "$(doc vdocs 1)"
sql "update vdocs set status = 'live' where id = 1"
check "once applies the row's return" once_ok once4
assert_eq "it comes back at its new version, above the delete's" "$(sql "select v from vdocs where id = 1")" "$(doc_version vdocs 1)"
check "vdocs equals its matching rows" converged vdocs "$Q_VDOCS"

sql "update cdocs set status = 'draft', updated_at = clock_timestamp() where id = 1;
     update cdocs set status = 'live', updated_at = clock_timestamp() where id = 2"
check "once: the cursor pass" once_ok once5
assert_eq "cursor: the row that left is deleted" missing "$(doc cdocs 1)"
check "cursor: cdocs equals its matching rows" converged cdocs "$Q_CDOCS"

sql "update wdocs set status = 'draft' where id = 1; update wdocs set status = 'live' where id = 2"
check "once: the WAL pass" once_ok once5w
assert_eq "WAL: the row that left is deleted" missing "$(doc wdocs 1)"
assert_eq "WAL: the row that entered is indexed" '{"id":2,"status":"live","title":"two"}' "$(doc wdocs 2)"
check "WAL: wdocs equals its matching rows" converged wdocs "$Q_WDOCS"

# ---- a hard delete still deletes ------------------------------------------------------------------
sql "delete from docs where id = 2"
check "once applies the delete" once_ok once6
assert_eq "a deleted matching row is deleted" missing "$(doc docs 2)"

# ---- racing workers over rows flipping in and out --------------------------------------------------
sql "insert into docs select g, 'published', null, 'hot ' || g from generate_series(100, 159) g;
     insert into vdocs (id, status, title) select g, 'live', 'hot ' || g from generate_series(100, 159) g;
     do \$\$ begin
       for r in 1..30 loop
         update docs set status = case when status = 'draft' then 'published' else 'draft' end,
                         title = 'round ' || r where id >= 100 and id % 7 = r % 7;
         update vdocs set status = case when status = 'draft' then 'live' else 'draft' end,
                          title = 'round ' || r where id >= 100 and id % 5 = r % 5;
         update docs set deleted_at = case when deleted_at is null then now() end where id >= 100 and id % 11 = r % 11;
       end loop;
     end \$\$;"
echo "# backlog: $(backlog) changes"
RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG" "$T_DIR/once_a.log" "$T_DIR/once_b.log")
# The race is over the change table: the WAL table is left out (its slot has
# one consumer at a time, so a second process waits for it and gives up).
CFG_RACE=$T_DIR/versync_race.json
jq '.tables |= map(select(.capture != "wal"))' "$CFG" >"$CFG_RACE"
"$VERSYNC" -c "$CFG_RACE" once --chaos-max-delay-ms 5 >/dev/null 2>"$T_DIR/once_a.log" &
ONCE_A=$!
"$VERSYNC" -c "$CFG_RACE" once --chaos-max-delay-ms 5 >/dev/null 2>"$T_DIR/once_b.log" &
ONCE_B=$!
bg "$VERSYNC" -c "$CFG_RACE" run --workers 3 --chaos-max-delay-ms 5 2>"$RUN_LOG"
RUN=$BG_PID
rc_a=0; wait "$ONCE_A" || rc_a=$?
rc_b=0; wait "$ONCE_B" || rc_b=$?
assert_eq "racing once A exits 0" 0 "$rc_a"
assert_eq "racing once B exits 0" 0 "$rc_b"
both() { backlog_empty && converged docs "$Q_DOCS" && converged vdocs "$Q_VDOCS"; }
check "racing workers converge to exactly the rows inside the filter" wait_until 60 both
kill -TERM "$RUN" 2>/dev/null; wait "$RUN" 2>/dev/null
assert_eq "no row outside the filter has a document" 0 \
  "$(for id in $(sql "select id from docs where id >= 100 and (status = 'draft' or deleted_at is not null)"); do
       [ "$(doc docs "$id")" = missing ] || echo "$id"; done | wc -l)"

# ---- backfill and verify ---------------------------------------------------------------------------
# A document of a row outside the filter, as an index built before the filter was added holds.
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":2,"title":"old"}' \
  "$STORE_URL/bdocs/_doc/2?version=12&version_type=external_gte"
out=$("$VERSYNC" -c "$CFG" backfill bdocs 2>>"$T_DIR/backfill.log"); rc=$?
T_LOGS+=("$T_DIR/backfill.log")
echo "$out" | sed 's/^/# /'
assert_eq "backfill exits 0" 0 "$rc"
check "backfill writes exactly the matching rows" converged bdocs "$Q_BDOCS"
assert_eq "and removes the document of a row outside the filter" missing "$(doc bdocs 2)"
assert_eq "20 documents" 20 "$(curl -s "$STORE_URL/bdocs/_count" | jq .count)"

out=$("$VERSYNC" -c "$CFG" verify bdocs 2>>"$T_DIR/verify.log"); rc=$?
T_LOGS+=("$T_DIR/verify.log")
assert_eq "verify: in sync after backfill" 0 "$rc" || echo "$out" | sed 's/^/# /'
# At the row's own version (external_gte: backfill's delete left a tombstone there), as a write
# that raced the row's move out of the filter would.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{"id":4,"title":"planted"}' \
  "$STORE_URL/bdocs/_doc/4?version=14&version_type=external_gte")
assert_eq "a document of a row outside the filter is planted" 201 "$code"
json=$("$VERSYNC" -c "$CFG" verify --json bdocs 2>>"$T_DIR/verify.log"); rc=$?
assert_eq "verify: a document of a row outside the filter is drift (exit 1)" 1 "$rc"
assert_eq "reported as extra" '[{"id":"4","kind":"extra"}]' "$(jq -c '[.tables[0].drift[] | {id, kind}]' <<<"$json")"
out=$("$VERSYNC" -c "$CFG" verify --repair bdocs 2>>"$T_DIR/verify.log"); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "verify --repair exits 1 (drift was found)" 1 "$rc"
"$VERSYNC" -c "$CFG" once >/dev/null 2>>"$T_DIR/verify.log"
assert_eq "--repair deleted it" missing "$(doc bdocs 4)"
out=$("$VERSYNC" -c "$CFG" verify bdocs 2>>"$T_DIR/verify.log"); rc=$?
assert_eq "verify: in sync again" 0 "$rc" || echo "$out" | sed 's/^/# /'

done_testing
