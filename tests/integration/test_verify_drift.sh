#!/usr/bin/env bash
# versync verify compares every row with its document without stopping either side: a synced
# table exits 0; each kind of drift injected by writing to the store directly (a deleted
# document, a stale version, a changed field, an extra document) is reported (text and --json)
# with exit 1, a row whose change is still waiting is counted apart (not drift), and --repair
# queues changes that the workers turn into ordinary versioned writes, after which verify exits
# 0 again. Errors exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text, qty int);
     insert into items select g, 'item ' || g, g from generate_series(1, 2000) g;
     create table cv (a text, b int, ver bigint, primary key (a, b));
     insert into cv select 'k' || g, g, g * 10 from generate_series(1, 300) g;"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}, {"table": "public.cv", "version": {"column": "ver"}}]'
vs init >/dev/null
vs backfill >/dev/null
sql "update items set qty = qty + 1 where id <= 20"
vs once >/dev/null

out=$(vs verify); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "verify on synced tables exits 0" 0 "$rc"
assert_match "and says so" "in sync$" "$out"
json=$(vs verify --json); rc=$?
assert_eq "--json: exit 0" 0 "$rc"
assert_eq "--json: one object, in sync, every row checked" "true 2000 2000 300" \
  "$(jq -r '[.in_sync, .tables[0].rows, .tables[0].documents, .tables[1].rows] | map(tostring) | join(" ")' <<<"$json")"
vs verify --sample 100 items >/dev/null
assert_eq "--sample 100 on a synced table exits 0" 0 "$?"

# ---- inject drift straight into the store ----
curl -s -o /dev/null -X DELETE "$STORE_URL/items/_doc/7"                       # missing
v8=$(doc_field items 8 '._version')
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":8,"name":"tampered","qty":8}' \
  "$STORE_URL/items/_doc/8?version=$((v8 + 1))&version_type=external"        # same key, other content
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"id":424242,"name":"ghost","qty":0}' \
  "$STORE_URL/items/_doc/424242?version=1&version_type=external"             # extra
sql "update cv set ver = 9999 where b = 3; delete from versync.changes"       # a lost change: stale
sql "update items set name = 'waiting' where id = 9"                           # pending, not drift

json=$(vs verify --json); rc=$?
assert_eq "drift: exit 1" 1 "$rc"
assert_eq "drift: not in sync" false "$(jq -r .in_sync <<<"$json")"
assert_eq "a deleted document is missing" '[{"id":"7","kind":"missing"}]' \
  "$(jq -c '[.tables[0].drift[] | select(.kind == "missing") | {id, kind}]' <<<"$json")"
assert_eq "a changed field at the right version differs" '["8"]' \
  "$(jq -c '[.tables[0].drift[] | select(.kind == "differs") | .id]' <<<"$json")"
assert_eq "a document below its row's version is stale, with both versions" \
  '[{"id":"k3|3","kind":"stale","document_version":30,"row_version":9999}]' \
  "$(jq -c '[.tables[1].drift[] | select(.kind == "stale")]' <<<"$json")"
assert_eq "a row with a change still waiting is pending, not drift" "1" "$(jq -r '.tables[0].pending' <<<"$json")"
if can_list items; then
  assert_eq "a document without a row is extra" '["424242"]' \
    "$(jq -c '[.tables[0].drift[] | select(.kind == "extra") | .id]' <<<"$json")"
else
  assert_eq "a document without a row is extra (counted: the store cannot list documents)" "1 false" \
    "$(jq -r '[.tables[0].extra_unlisted, .tables[0].extras_listed] | map(tostring) | join(" ")' <<<"$json")"
fi
out=$(vs verify items); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "text output: exit 1" 1 "$rc"
assert_match "text output: a per-table summary" "public.items -> items: 2000 rows, 1999 documents: 1 missing" "$out"
assert_match "text output: names the drifted keys" "missing +7" "$out"

out=$(vs verify --repair); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "--repair still exits 1 (drift was found)" 1 "$rc"
assert_match "--repair prints what it queued" "queued rewrite 7 \(missing\)" "$out"
assert_match "a versioned table's stale document is rewritten directly at the row's version (external_gte)" \
  "repaired rewrite k3\|3 \(stale\) at version 9999" "$out"
vs once >/dev/null
if ! can_list items; then
  curl -s -o /dev/null -X DELETE "$STORE_URL/items/_doc/424242"
  skip "--repair deletes an extra document" "the store cannot list documents (no _search), so extra documents are counted, not named"
fi
out=$(vs verify); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "after --repair and a worker pass, verify exits 0" 0 "$rc"
assert_eq "the missing document is back" '"item 7"' "$(doc_field items 7 '._source.name')"
assert_eq "the tampered field is restored" '"item 8"' "$(doc_field items 8 '._source.name')"
assert_eq "the stale document is at the row's version" 9999 "$(doc_field cv 'k3|3' '._version')"

# ---- --repair --json: stdout stays one JSON object ----
curl -s -o /dev/null -X DELETE "$STORE_URL/items/_doc/5"
json=$(vs verify --repair --json items); rc=$?
assert_eq "--repair --json: exit 1" 1 "$rc"
assert_eq "--repair --json: one object naming the change it queued" "1 missing U true" \
  "$(jq -r '.tables[0] | [.queued, .drift[0].kind, .drift[0].queued_op, (.drift[0].queued_change > 0)] | map(tostring) | join(" ")' <<<"$json")"
vs once >/dev/null
vs verify items >/dev/null
assert_eq "and the workers repair it" 0 "$?"

# ---- drift a versioned write cannot fix: other content at a version above the row's ----
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"a":"k5","b":5,"ver":51}' \
  "$STORE_URL/cv/_doc/k5%7C5?version=51&version_type=external"
out=$(vs verify --repair cv); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "unrepairable drift: exit 1" 1 "$rc"
assert_match "it is reported as version_regressed, not queued, with the statement that fixes it" \
  "not repaired: differs k5\|5: version_regressed: the store holds version 51 and the row has 50, lower.*Fix: UPDATE public.cv SET \"ver\" = 52 WHERE \"a\" = 'k5' AND \"b\" = '5'" "$out"
assert_eq "and nothing was queued for it" 0 "$(backlog)"
sql "update cv set ver = 52 where b = 5"
vs once >/dev/null
vs verify cv >/dev/null
assert_eq "a greater version on the row repairs it" 0 "$?"

# ---- errors ----
bf_config "$T_DIR/bad.json" '[{"table": "public.items"}]'
sed -i "s#$STORE_URL#http://127.0.0.1:$(free_port)#" "$T_DIR/bad.json"
"$VERSYNC" -c "$T_DIR/bad.json" verify >/dev/null 2>>"$T_DIR/versync.log"
assert_eq "an unreachable store exits 3" 3 "$?"
"$VERSYNC" -c "$T_DIR/v.json" verify --sample x >/dev/null 2>&1
assert_eq "a bad option exits 2" 2 "$?"

done_testing
