#!/usr/bin/env bash
# versync verify and verify --repair on a "capture": "wal" table (issue 22), with no trigger table
# beside it: documents carry commit LSNs, rows carry no version, so verify compares contents; drift
# injected into the store (a deleted document, changed content, an extra document) is reported with
# exit 1; --repair rewrites it under the table's SHARE lock at the current WAL insert position (every
# later change of the row commits above it, so it still wins), after which verify exits 0 and later
# changes from the stream still apply. A change not yet read from the slot is not repaired over.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table items (id int primary key, name text, qty int);
     insert into items select g, 'item ' || g, g from generate_series(1, 200) g"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init --backfill" bash -c "'$VERSYNC' -c '$CFG' init --backfill >'$T_DIR/init.log' 2>&1"
sql "update items set qty = qty + 1 where id <= 20; delete from items where id = 200"
check "once streams the changes" once_ok first

out=$(vs verify 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "verify on a synced wal table exits 0" 0 "$rc"
assert_match "and says so" "in sync$" "$out"

# ---- drift, straight into the store ------------------------------------------------------
curl -s -o /dev/null -X DELETE "$STORE_URL/items/_doc/7"
v8=$(doc_version items 8)
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":8,"name":"tampered","qty":8}' \
  "$STORE_URL/items/_doc/8?version=$((v8 + 1))&version_type=external"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":424242,"name":"ghost","qty":0}' \
  "$STORE_URL/items/_doc/424242?version=1&version_type=external"
json=$(vs verify --json 2>/dev/null); rc=$?
assert_eq "drift: exit 1" 1 "$rc"
assert_eq "missing, differs and extra, nothing else" '["424242:extra","7:missing","8:differs"]' \
  "$(jq -c '[.tables[0].drift[] | "\(.id):\(.kind)"] | sort' <<<"$json")"

L0=$(sql "select pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
out=$(vs verify --repair 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
assert_match "repair rewrites all three directly" 'repaired 3, queued 0' "$out"
assert_eq "nothing left in the change table (no trigger worker would ever take it)" 0 \
  "$(sql "select count(*) from versync.changes")"
assert_eq "the missing document is back" '{"id":7,"name":"item 7","qty":8}' "$(doc items 7)"
assert_eq "the changed one is the row again" '{"id":8,"name":"item 8","qty":9}' "$(doc items 8)"
assert_eq "the extra one is gone" missing "$(doc items 424242)"
assert_eq "written at a WAL position, not a small sequence number" 1 \
  "$([ "$(doc_version items 7)" -ge "$L0" ] && echo 1 || echo 0)"
out=$(vs verify 2>&1); rc=$?
assert_eq "verify after --repair exits 0" 0 "$rc"

# ---- later changes still win over the repair's versions --------------------------------------
sql "update items set name = 'later' where id in (7, 8); insert into items values (424242, 'real', 1)"
check "once streams them" once_ok later
assert_eq "the update of a repaired row applies" '{"id":7,"name":"later","qty":8}' "$(doc items 7)"
assert_eq "and of the other" '{"id":8,"name":"later","qty":9}' "$(doc items 8)"
assert_eq "a re-insert of the deleted extra applies" '{"id":424242,"name":"real","qty":1}' "$(doc items 424242)"
out=$(vs verify 2>&1); rc=$?
assert_eq "in sync again" 0 "$rc"

done_testing
