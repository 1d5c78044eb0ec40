#!/usr/bin/env bash
# Issue 16, row 2: a row deleted and inserted again with an application-kept integer version
# that starts at 1 again. The tombstone holds the old version + 1, so the store refuses the
# re-insert; the worker re-read the current row, so that is a broken contract: a dead letter of
# kind version_regressed naming table, key, both versions and the remedy, counted apart from
# stale in once's summary and status — never a silent stale. verify --repair names it as a
# class it cannot fix, why, and what does; bumping the column then repairs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
. "$(dirname "$0")/contract_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table p (id int primary key, v bigint not null, name text)"
ct_config "$CFG" '{"column": "v"}'
T_LOGS+=("$T_DIR/init.log" "$T_DIR/verify.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

sql "insert into p values (1, 5, 'first'), (2, 1, 'other')"
check "once copies the rows" once_ok once1
sql "delete from p where id = 1"
check "once applies the delete" once_ok once2
sql "insert into p values (1, 1, 'again')"
check "once runs (exit 0)" once_ok once3
assert_eq "the refused re-insert is not counted as stale" "0" "$(summary_field stale)"
assert_eq "once's summary counts it as version_regressed" "1" "$(summary_field version_regressed)"
assert_eq "and as a dead letter" "1" "$(summary_field 'dead letters')"
err=$(sql "select error from versync.dead_letters where tbl = 'public.p' and key = '{1}'")
echo "# $err"
assert_match "the dead letter is of kind version_regressed" '^version_regressed: ' "$err"
assert_match "it names the store's version (the tombstone, old + 1)" 'store holds version 6' "$err"
assert_match "it names table, key and the row's version" 'table public\.p, key 1, row version 1' "$err"
assert_match "it names the remedy" '"managed": true.*bump "v"' "$err"
assert_match "the worker logged it" 'version_regressed' "$(cat "$T_DIR/once3.log")"
st=$(vs status 2>&1)
assert_match "status names the version_regressed dead letters" 'public\.p: 1 dead letters are version_regressed' "$st"
assert_eq "status --json counts them per table" "1" "$(vs status --json | jq '.tables[0].version_regressed')"

# verify --repair cannot write a version lower than the store's: it says so, why, and what does.
out=$(vs verify --repair 2>"$T_DIR/verify.log"); echo "$out" | sed 's/^/# /'
assert_match "verify reports the missing row" 'missing' "$out"
assert_match "verify --repair names the class it cannot fix and why" "not repaired: missing 1: version_regressed: the store holds version 6 and the row has 1" "$out"
assert_match "and the command that does" 'UPDATE public\.p SET "v" = 7' "$out"
assert_eq "the store still has no document 1" "missing" "$(store_doc 1)"

# The remedy: give the row a version above the store's; the ordinary stream then writes it.
sql "update p set v = 7 where id = 1"
check "once after the bump" once_ok once4
assert_eq "the bumped row is in the store" '"again"' "$(store_doc 1 | jq '.name')"
assert_eq "at its version" "7" "$(doc_version p 1)"

done_testing
