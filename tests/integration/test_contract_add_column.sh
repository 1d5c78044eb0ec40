#!/usr/bin/env bash
# Issue 16, row 4: ALTER TABLE … ADD COLUMN … DEFAULT … changes every row's document but no
# row's version (and fires no trigger). versync backfill rewrites the current rows at their own
# version (external_gte: under the contract an equal version names the same row state) and says
# how many it rewrote at the same version; verify --repair repairs the same drift. Backfill tells
# "already newer" from "same version" from "version_regressed".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
. "$(dirname "$0")/contract_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table p (id int primary key, v bigint not null, name text)"
ct_config "$CFG" '{"column": "v"}'
T_LOGS+=("$T_DIR/init.log" "$T_DIR/backfill.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
sql "insert into p select i, 10, 'n' || i from generate_series(1, 3) i"
check "once copies the rows" once_ok once1

sql "alter table p add column color text default 'red'"
out=$(vs backfill 2>>"$T_DIR/backfill.log"); rc=$?
echo "# $out"
assert_eq "backfill after ADD COLUMN exits 0" 0 "$rc"
assert_match "it rewrote every row at its own version, and says so" \
  "3 rows read, 0 written, 0 stale \(already newer\), 0 errors, 3 rewritten at the same version, 0 version_regressed" "$out"
assert_eq "the documents carry the new column" '"red" "red" "red"' \
  "$(for i in 1 2 3; do store_doc $i | jq '.color'; done | xargs -I{} printf '"%s" ' {} | sed 's/ $//')"
assert_eq "at the rows' own version" "10" "$(doc_version p 2)"
vs verify >/dev/null
assert_eq "verify then finds the copy in sync" 0 "$?"

# A row whose version is below what the store holds (a version that went backwards), and a row
# that moved on meanwhile: regressed is told from already newer.
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":2,"v":50,"name":"old"}' \
  "$STORE_URL/p/_doc/2?version=50&version_type=external"
out=$(vs backfill 2>>"$T_DIR/backfill.log"); rc=$?
echo "# $out"
assert_eq "backfill with a regressed row exits 1" 1 "$rc"
assert_match "it counts it as version_regressed, apart from already newer and same version" \
  "3 rows read, 0 written, 0 stale \(already newer\), 0 errors, 2 rewritten at the same version, 1 version_regressed" "$out"
assert_match "and logs the key, both versions and the remedy" \
  'key \{2\}: version_regressed: the store holds version 50, the current row has 10.*"managed": true' \
  "$(cat "$T_DIR/backfill.log")"
sql "update p set v = 51 where id = 2"
check "once writes the bumped row" once_ok once2

# verify --repair repairs the same drift the next schema change leaves.
sql "alter table p add column size int default 7"
out=$(vs verify --repair 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
assert_match "verify reports the documents as differing" 'differs +1' "$out"
assert_match "verify --repair rewrites them at the rows' versions" 'repaired rewrite 1 \(differs\) at version 10' "$out"
assert_match "and says how many" 'public\.p: repaired 3, queued 0' "$out"
vs verify >/dev/null
assert_eq "verify then finds the copy in sync" 0 "$?"
assert_eq "the documents carry the second new column" "7" "$(store_doc 3 | jq '.size')"

done_testing
