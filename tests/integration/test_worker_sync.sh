#!/usr/bin/env bash
# versync once against real PostgreSQL + verstore: insert/update/delete/re-insert
# for every version source, composite keys, renames/exclusions/column lists,
# soft deletes, stale changes, coalescing, bad versions and worker_stats.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table t_seq  (id int primary key, name text, n int);
create table t_col  (id int primary key, v bigint not null, name text);
create table t_man  (id int primary key, v bigint, name text);
create table t_ts   (id int primary key, updated_at timestamptz not null, name text);
create table t_tsm  (id int primary key, updated_at timestamp, name text);
create table t_comp (a int, b text, name text, primary key (a, b));
create table t_comp2 (a int, b date, name text, unique (b, a));
create table t_map  (id int primary key, title text, secret text, note text);
create table t_cols (id int primary key, title text, secret text, other int);
create table t_soft (id int primary key, name text, deleted_at timestamptz);
"
ws_config "$CFG" '[
  {"table": "public.t_seq"},
  {"table": "public.t_col", "version": {"column": "v"}},
  {"table": "public.t_man", "version": {"column": "v", "managed": true}},
  {"table": "public.t_ts", "version": {"timestamp": "updated_at"}},
  {"table": "public.t_tsm", "version": {"timestamp": "updated_at", "managed": true}},
  {"table": "public.t_comp"},
  {"table": "public.t_comp2", "key": ["b", "a"]},
  {"table": "public.t_map", "index": "people", "exclude": ["secret"], "rename": {"title": "job_title"}},
  {"table": "public.t_cols", "columns": ["id", "title", "secret"], "exclude": ["secret"], "rename": {"title": "label"}},
  {"table": "public.t_soft", "soft_delete": {"column": "deleted_at"}}
]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

# Row-as-document SQL for each table, for `converged`.
Q_SEQ="select id::text as id, to_jsonb(t) as doc, null::bigint as v from t_seq t"
Q_COL="select id::text as id, to_jsonb(t) as doc, v from t_col t"
Q_MAN="select id::text as id, to_jsonb(t) as doc, v from t_man t"
Q_TS="select id::text as id, to_jsonb(t) as doc, trunc(extract(epoch from updated_at)*1000000)::bigint as v from t_ts t"
Q_TSM="select id::text as id, to_jsonb(t) as doc, trunc(extract(epoch from updated_at)*1000000)::bigint as v from t_tsm t"
Q_COMP="select replace(replace(a::text, '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(b, '\\', '\\\\'), '|', '\\|') as id, to_jsonb(t) as doc, null::bigint as v from t_comp t"
Q_COMP2="select b::text || '|' || a::text as id, to_jsonb(t) as doc, null::bigint as v from t_comp2 t"
Q_MAP="select id::text as id, jsonb_build_object('id', id, 'job_title', title, 'note', note) as doc, null::bigint as v from t_map"
Q_COLS="select id::text as id, jsonb_build_object('id', id, 'label', title) as doc, null::bigint as v from t_cols"
Q_SOFT="select id::text as id, to_jsonb(t) as doc, null::bigint as v from t_soft t where deleted_at is null"

all_converged() {
  converged t_seq "$Q_SEQ" && converged t_col "$Q_COL" && converged t_man "$Q_MAN" &&
    converged t_ts "$Q_TS" && converged t_tsm "$Q_TSM" && converged t_comp "$Q_COMP" && converged t_comp2 "$Q_COMP2" &&
    converged people "$Q_MAP" && converged t_cols "$Q_COLS" && converged t_soft "$Q_SOFT"
}

# ---- round 1: inserts ------------------------------------------------------
sql "
insert into t_seq values (1,'a',1),(2,'b',2),(3,'c',3);
insert into t_col values (1,5,'a'),(2,7,'b'),(3,9,'c');
insert into t_man (id, name) values (1,'a'),(2,'b'),(3,'c');
insert into t_ts values (1,'2026-01-01 00:00:00.000001+00','a'),(2,'2026-01-02 00:00:00+00','b'),(3,'2026-01-03+00','c');
insert into t_tsm (id, name) values (1,'a'),(2,'b'),(3,'c');
insert into t_comp values (1,'x','a'),(1,'y|z','b'),(2,'back\\slash','c');
insert into t_comp2 values (1,'2026-01-01','a'),(2,'2026-01-01','b'),(1,'2026-01-02','c');
insert into t_map values (1,'engineer','s3cret','n1'),(2,'cook','pw','n2');
insert into t_cols values (1,'one','pw',10),(2,'two','pw',20);
insert into t_soft values (1,'a',null),(2,'b',null),(3,'c',null);
"
check "once drains the inserts (exit 0)" once_ok once1
assert_eq "the change table is empty" 0 "$(backlog)"
check "round 1: every index equals its table" all_converged
assert_eq "t_seq doc 2 is the row" '{"id":2,"n":2,"name":"b"}' "$(doc t_seq 2)"
assert_eq "column version: _version is the column" 7 "$(doc_version t_col 2)"
assert_eq "managed version: _version is the column the trigger set" "$(sql 'select v from t_man where id=3')" "$(doc_version t_man 3)"
assert_eq "timestamp version: whole microseconds" 1767225600000001 "$(doc_version t_ts 1)"
assert_eq "composite key: parts joined with |, | escaped" '{"a":1,"b":"y|z","name":"b"}' "$(doc t_comp '1|y\|z')"
assert_eq "composite key: \\ escaped" '{"a":2,"b":"back\\slash","name":"c"}' "$(doc t_comp '2|back\\slash')"
assert_eq "a configured composite key in its own order" '{"a":2,"b":"2026-01-01","name":"b"}' "$(doc t_comp2 '2026-01-01|2')"
assert_eq "rename + exclusion" '{"id":1,"job_title":"engineer","note":"n1"}' "$(doc people 1)"
assert_eq "column list + exclusion + rename" '{"id":2,"label":"two"}' "$(doc t_cols 2)"

# ---- round 2: updates, deletes, re-inserts, soft deletes ---------------------
sql "
update t_seq set name='bb' where id=2; delete from t_seq where id=3;
update t_col set v=8, name='bb' where id=2; delete from t_col where id=3;
update t_man set name='bb' where id=2; delete from t_man where id=3;
update t_ts set updated_at='2026-02-01+00', name='bb' where id=2; delete from t_ts where id=3;
update t_tsm set name='bb' where id=2; delete from t_tsm where id=3;
update t_comp set name='bb' where a=1 and b='y|z'; delete from t_comp where a=2;
update t_comp2 set name='bb' where a=2; delete from t_comp2 where a=1 and b='2026-01-02';
update t_map set title='chef', secret='changed' where id=2; delete from t_map where id=1;
update t_cols set title='deux' where id=2;
update t_soft set deleted_at=now() where id=2; delete from t_soft where id=3;
"
check "once drains updates and deletes" once_ok once2
check "round 2: every index equals its table" all_converged
assert_eq "a deleted row's document is gone" missing "$(doc t_seq 3)"
assert_eq "a soft-deleted row's document is gone" missing "$(doc t_soft 2)"
assert_eq "updated column version" 8 "$(doc_version t_col 2)"

sql "
insert into t_seq values (3,'c again',33);
insert into t_col values (3,20,'c again');
insert into t_man (id, name) values (3,'c again');
insert into t_ts values (3, clock_timestamp(), 'c again');  -- later than the delete's version (its now)
insert into t_tsm (id, name) values (3,'c again');
insert into t_comp values (2,'back\\slash','c again');
insert into t_map values (1,'returns','x','n1');
update t_soft set deleted_at=null, name='b back' where id=2;
insert into t_soft values (3,'c again',null);
"
check "once drains the re-inserts" once_ok once3
check "round 3: re-inserted rows are back everywhere" all_converged
assert_eq "re-inserted seq row" '{"id":3,"n":33,"name":"c again"}' "$(doc t_seq 3)"
assert_eq "un-soft-deleted row" '{"deleted_at":null,"id":2,"name":"b back"}' "$(doc t_soft 2)"
assert_eq "the change table is empty again" 0 "$(backlog)"

# ---- coalescing --------------------------------------------------------------
sql "update t_seq set n = n + 1 where id = 1; update t_seq set n = n + 1 where id = 1; update t_seq set n = n + 1 where id = 1;"
check "once with three changes of one key" once_ok once4
assert_eq "three changes of one key: one write, two coalesced" "1 2" "$(summary_field applied) $(summary_field coalesced)"
check "coalesced write carries the newest row" converged t_seq "$Q_SEQ"

# ---- stale changes -----------------------------------------------------------
# The application lowers a version (30 → 3): the store already holds 30, so the
# write at 3 is answered 409; the row re-read is current, so it is a broken
# contract: a version_regressed dead letter (issue 16), not a silent stale.
sql "update t_col set v=30, name='newest' where id=1"
check "once at v30" once_ok once5
sql "update t_col set v=3, name='older' where id=1"
check "once with a lower version" once_ok once6
assert_eq "the lower version is counted version_regressed, not stale" "1 0" \
  "$(summary_field version_regressed) $(summary_field stale)"
assert_eq "the newer document stays" '{"id":1,"name":"newest","v":30}' "$(doc t_col 1)"
assert_eq "the newer _version stays" 30 "$(doc_version t_col 1)"
# A replayed (old) delete of a live document: its version 2 < 30 is stale too.
sql "insert into versync.changes (tbl, key, op, version) values ('public.t_col', '{1}', 'D', 2)"
check "once with a replayed old delete" once_ok once7
assert_eq "the old delete is stale" 1 "$(summary_field stale)"
assert_eq "the document survives the old delete" '{"id":1,"name":"older","v":3}' "$(sql "select to_jsonb(t) - 'x' from t_col t where id=1" | jq -cS .)" 
assert_eq "still the v30 document in the store" 30 "$(doc_version t_col 1)"
sql "update t_col set v=31 where id=1"
check "once after the application moves on" once_ok once8
check "t_col converges again" converged t_col "$Q_COL"

# ---- versions outside 0 … 2^63-1 are dead letters ---------------------------
sql "insert into t_col values (50,-4,'negative'), (51,51,'fine')"
check "once with a negative version" once_ok once9
assert_eq "one dead letter, one applied" "1 1" "$(summary_field 'dead letters') $(summary_field applied)"
assert_match "the dead letter names table, key and value" 'public.t_col, key 50: version column "v" is negative \(-4\)' \
  "$(sql "select error from versync.dead_letters where key = '{50}'")"
assert_eq "the good row of the batch is applied" '{"id":51,"name":"fine","v":51}' "$(doc t_col 51)"
assert_eq "the bad row is not written" missing "$(doc t_col 50)"

# ---- counters ----------------------------------------------------------------
assert_eq "worker_stats sums the stale writes of every once" 1 "$(sql 'select sum(stale) from versync.worker_stats')"
assert_eq "worker_stats counts the coalesced changes" 2 "$(sql 'select sum(coalesced) from versync.worker_stats')"
assert_eq "worker_stats counts the dead letters (one version_regressed)" 2 "$(sql 'select sum(dead_letters) from versync.worker_stats')"
check "worker_stats has a lag" test "$(sql 'select count(*) from versync.worker_stats where lag_ms is not null')" -gt 0

# ---- versync status shows the same counters ------------------------------------
st=$(vs status --json 2>/dev/null)
assert_eq "versync status sums the workers' stale counter" 1 "$(jq .workers.stale <<<"$st")"
assert_eq "versync status sums the coalesced counter" 2 "$(jq .workers.coalesced <<<"$st")"

# ---- once without versync's schema: a clear error, exit 2 ------------------------
ws_config "$T_DIR/noschema.json" '[{"table": "public.t_seq"}]' "$STORE_URL" '"schema": "nowhere",'
sed -i 's/"schema": "versync",//' "$T_DIR/noschema.json"
out=$("$VERSYNC" -c "$T_DIR/noschema.json" once 2>&1); rc=$?
assert_eq "once without init exits 2" 2 "$rc"
assert_match "and says to run versync init" 'run `versync init`' "$out"

done_testing
