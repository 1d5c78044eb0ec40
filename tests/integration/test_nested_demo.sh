#!/usr/bin/env bash
# versync demo race --nested (issue 18): writers change accounts, their transactions (moved
# between accounts), merchants, branches and tags (shared rows renamed) while chaos workers
# race; the demo compares every nested document with its rows and exits 0 only if all equal.
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start

out=$("$VERSYNC" demo race --nested --postgres "$PG_CONNINFO" --store "$STORE_URL" --rows 30 --changes 1500 \
  --writers 3 --workers 4 --max-delay-ms 10 --batch-size 10 --seed 7 --quiet 2>"$T_DIR/demo.err"); rc=$?
T_LOGS+=("$T_DIR/demo.err")
echo "$out" | sed 's/^/# /'
assert_eq "the nested race exits 0" 0 "$rc"
assert_match "every nested document equals its rows" "OK: every account's nested document equals its rows" "$out"
assert_match "nothing mismatched" "mismatches +0" "$out"
doc=$(curl -s "$STORE_URL/versync_demo_accounts/_search?size=50" | jq -cS '[.hits.hits[]._source | select((.transactions | length) > 0)][0]')
assert_match "documents carry their branch, transactions with merchants, and tags" \
  '"branch":\{"name":"branch-[0-9-]+"\}.*"tags":\[.*\],"transactions":\[\{"amount":[0-9]+,"id":[0-9]+,"merchant":\{"name":"merchant-' "$doc"
assert_eq "capture on the root and every child, link and grandchild table" 6 \
  "$(sql "select count(*) from pg_trigger where tgname like 'versync\\_nested\\_%\\_i'")"
done_testing
