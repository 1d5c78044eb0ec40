#!/usr/bin/env bash
# versync backfill into an empty index: a 50,000-row change-sequence table (version 0 for every
# row), an application-versioned table with a composite key that needs id escaping, and a
# soft-delete table; every document equals the workers' rendering; a second run is all stale;
# --resume after an interrupt continues from the last completed key; --index builds a fresh
# index beside the live one, then an atomic alias switch to it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text, qty int, secret text);
     insert into items select g, 'item ' || g, g % 100, 's' from generate_series(1, 50000) g;
     create table parts (a text, b int, ver bigint, note text, primary key (a, b));
     insert into parts select 'p|' || g, g, g * 10, 'n\\' || g from generate_series(1, 300) g;
     create table soft (id int primary key, name text, deleted_at timestamptz);
     insert into soft select g, 'x' || g, case when g % 10 = 0 then now() end from generate_series(1, 100) g;"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items", "exclude": ["secret"], "rename": {"qty": "quantity"}},
  {"table": "public.parts", "version": {"column": "ver"}},
  {"table": "public.soft", "columns": ["id", "name"], "soft_delete": {"column": "deleted_at"}}]'
vs init >/dev/null
assert_eq "init exits 0" 0 "$?"

out=$(vs backfill); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill exits 0" 0 "$rc"
assert_match "it reports every row written" "public.items -> items: 50000 rows read, 50000 written, 0 stale" "$out"
assert_eq "the index holds 50,000 documents" 50000 "$(count items)"
assert_eq "a document equals the row, rendered as the workers render it (exclude, rename)" \
  "$(sql "select jsonb_build_object('id', id, 'name', name, 'quantity', qty)::text from items where id = 31337" | jq -cS .)" \
  "$(doc_field items 31337 '._source' | jq -cS .)"
assert_eq "change-sequence rows carry version 0 (below every change's sequence number)" 0 \
  "$(doc_field items 31337 '._version')"
assert_eq "composite keys: '|' and '\\' in a key part are escaped in the id" \
  '{"a":"p|7","b":7,"note":"n\\7","ver":70}' "$(doc_field parts 'p\|7|7' '._source' | jq -cS .)"
assert_eq "a version column's value is the document's version" 70 "$(doc_field parts 'p\|7|7' '._version')"
assert_eq "soft-deleted rows have no document" "90 false" "$(count soft) $(doc_field soft 10 '.found')"
assert_eq "the progress table records each finished copy" "3|3" \
  "$(sql "select count(*), count(finished_at) from versync.backfill_progress")"
assert_eq "the resume point of a finished copy is its last key (text order: p|99 sorts last)" '{p|99,99}' \
  "$(sql "select last_key from versync.backfill_progress where tbl = 'public.parts'")"

vs verify >/dev/null
assert_eq "verify finds the copy in sync" 0 "$?"

out=$(vs backfill items); rc=$?
assert_eq "a second backfill exits 0" 0 "$rc"
assert_match "and every row is rewritten at the version the store holds (external_gte)" \
  "50000 rows read, 0 written, 0 stale \(already newer\), 0 errors, 50000 rewritten at the same version" "$out"

if command -v script >/dev/null; then
  out=$(script -qec "$VERSYNC -c $CFG backfill parts --batch 50" /dev/null | tr '\r' '\n')
  assert_match "on a terminal: a progress bar with rows done/total, rows/s and the time taken" \
    "public.parts \[#{30}\] 300/300 rows [0-9]+ rows/s in [0-9:]+" "$out"
else
  skip "progress bar on a terminal" "script(1) is not installed"
fi
out=$(vs backfill items --resume 2>&1 >/dev/null); rc=$?
assert_eq "--resume after a finished copy exits 0" 0 "$rc"
grep -q "nothing to resume" "$T_DIR/versync.log"
assert_eq "and says there is nothing to resume" 0 "$?"

out=$(vs backfill items --batch 0 2>&1); rc=$?
assert_eq "--batch 0 is a usage error" 2 "$rc"
out=$(vs backfill nosuch 2>&1); rc=$?
assert_eq "an unknown table is an error" 2 "$rc"
grep -q "table nosuch is not in" "$T_DIR/versync.log"
assert_eq "naming the table" 0 "$?"
out=$(vs backfill --index other 2>&1); rc=$?
assert_eq "--index with several tables is refused" 2 "$rc"
sed "s#$STORE_URL#http://127.0.0.1:$(free_port)#" "$CFG" >"$T_DIR/down.json"
"$VERSYNC" -c "$T_DIR/down.json" backfill items >/dev/null 2>>"$T_DIR/versync.log"
assert_eq "an unreachable store: exit 3" 3 "$?"
check "with one line saying so" grep -q "store at http://127.0.0.1:[0-9]* is unreachable" "$T_DIR/versync.log"

# ---- interrupted, then resumed, into a fresh index ----
"$VERSYNC" -c "$CFG" backfill items --index items_v2 --batch 10 >"$T_DIR/bf1.out" 2>"$T_DIR/bf1.log" &
bpid=$!
T_PIDS+=("$bpid")
T_LOGS+=("$T_DIR/bf1.log")
started() { [ "$(sql "select coalesce(max(rows_done), 0) >= 1000 from versync.backfill_progress where index_name = 'items_v2'")" = t ]; }
wait_until 60 started
kill -TERM "$bpid"
wait "$bpid"; rc=$?
done1=$(sql "select rows_done from versync.backfill_progress where index_name = 'items_v2'")
assert_eq "SIGTERM stops the backfill after its batch, exit 1" 1 "$rc"
check "and says how to continue" grep -q -- "--resume" "$T_DIR/bf1.log"
check "having copied part of the table" test "$done1" -lt 50000
assert_eq "the fresh index was created" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$STORE_URL/items_v2")"
assert_eq "and holds exactly the rows up to the saved key" "$done1" "$(count items_v2)"
out=$(vs backfill items --index items_v2 --resume); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "--resume exits 0" 0 "$rc"
assert_match "it reads only the rows after the saved key" "items_v2: $((50000 - done1)) rows read, $((50000 - done1)) written, 0 stale" "$out"
check "and logs where it resumed" grep -q "resuming the backfill into items_v2 after key {$done1}" "$T_DIR/versync.log"
assert_eq "the fresh index is complete" 50000 "$(count items_v2)"
assert_eq "the live index was not touched" 50000 "$(count items)"

# ---- alias switch (README "Zero-downtime reindex") ----
# Applications read the alias; it names the live index, then one atomic
# request moves it to the fresh one.
http POST /_aliases '{"actions":[{"add":{"index":"items","alias":"items_live"}}]}'
assert_eq "the alias is set on the live index" 200 "$HTTP_STATUS"
http GET '/items_live/_search?size=1'
assert_json "before the switch the alias serves the live index" '.hits.hits[0]._index' '"items"'
http POST /_aliases '{"actions":[{"remove":{"index":"items","alias":"items_live"}},{"add":{"index":"items_v2","alias":"items_live"}}]}'
assert_eq "POST /_aliases switches the alias" 200 "$HTTP_STATUS"
assert_json "the switch is acknowledged" . '{"acknowledged":true}'
http GET '/items_live/_search?size=1'
assert_json "after the switch the alias serves the fresh index's documents" '.hits.hits[0]._index' '"items_v2"'
assert_eq "after the alias switch, searches of the alias see the fresh index" 50000 "$(count items_live)"
http GET /_alias/items_live
assert_json "the alias names only the fresh index" . '{"items_v2":{"aliases":{"items_live":{}}}}'

done_testing
