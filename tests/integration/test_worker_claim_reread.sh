#!/usr/bin/env bash
# Claim and re-read in one statement (issue 21: fewer round trips): a batch of
# flat tables is claimed and re-read by sql/worker_claim_reread.sql alone (the
# PostgreSQL statement log shows no separate re-read), and the result is the
# same as the two-statement path's: coalesced updates, a delete, a row gone by
# the re-read, a soft delete and a composite key converge; a nested root is
# still re-read on its own. VERSYNC_BENCH_TWO_STATEMENTS=1 still takes the old path.
PG_EXTRA_OPTS="-c log_statement=all -c log_line_prefix='%a: '"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.cr_a (id int primary key, name text);
     create table public.cr_b (k1 int, k2 text, name text, deleted_at timestamptz, primary key (k1, k2))"
CFG=$T_DIR/v.json
ws_config "$CFG" '[{"table": "public.cr_a"},
  {"table": "public.cr_b", "soft_delete": {"column": "deleted_at"}}]'
check "init" vs init

sql "insert into cr_a select g, 'a' || g from generate_series(1, 120) g;
     update cr_a set name = name || '!' where id <= 60;
     delete from cr_a where id between 61 and 70;
     insert into cr_b select g, 'x|' || g, 'b' || g from generate_series(1, 80) g;
     update cr_b set deleted_at = now() where k1 <= 5;
     update cr_b set name = 'twice' where k1 = 80"
# A row inserted and gone before any claim: its insert re-reads nothing.
sql "insert into cr_a values (500, 'brief'); delete from cr_a where id = 500"
mark=$(wc -l <"$PG_LOG")
check "once drains every change" once_ok once
check "backlog empty" backlog_empty
A="select id::text as id, to_jsonb(t) as doc, null::bigint as v from cr_a t"
B="select k1 || '|' || replace(k2, '|', '\\|') as id, to_jsonb(t) as doc, null::bigint as v
     from cr_b t where deleted_at is null"
check "cr_a converged (updates coalesced, deletes, the brief row absent)" converged cr_a "$A"
check "cr_b converged (composite key, soft deletes deleted)" converged cr_b "$B"
assert_eq "the brief row's document never existed" missing "$(doc cr_a 500)"
log_tail() { tail -n +"$((mark + 1))" "$PG_LOG"; }
assert_match "claim and re-read ran as one statement" "execute claim_reread" "$(log_tail | grep -m1 -o 'execute claim_reread')"
assert_eq "no separate re-read statement ran" 0 "$(log_tail | grep -c 'execute reread_')"

# The two-statement path, for the benchmark's baseline, still works and still re-reads on its own.
sql "update cr_a set name = 'again' where id <= 30"
mark=$(wc -l <"$PG_LOG")
export VERSYNC_BENCH_TWO_STATEMENTS=1
check "once drains in two statements" once_ok two
unset VERSYNC_BENCH_TWO_STATEMENTS
check "cr_a converged again" converged cr_a "$A"
assert_eq "the two-statement path does not use the joined claim" 0 "$(log_tail | grep -c 'execute claim_reread')"
assert_match "the two-statement path re-reads on its own" "execute reread_" "$(log_tail | grep -m1 -o 'execute reread_')"
done_testing
