#!/usr/bin/env bash
# --dry-run for backfill and verify --repair (issue 23): each says what it would write or
# delete and writes nothing — no document, no delete, no progress row, no change row, no
# sequence moved; the same run without --dry-run then does exactly that.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 40) g;
     create table parts (id int primary key, name text, ver bigint not null);
     insert into parts select g, 'p' || g, 10 from generate_series(1, 10) g"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}, {"table": "public.parts", "version": {"column": "ver"}}]'
vs init >/dev/null
assert_eq "init" 0 "$?"
# snapshot — change rows, the change sequence, and the backfill progress rows (if the table exists).
snapshot() {
  sql "select (select count(*) from versync.changes), (select last_value from versync.changes_seq_seq),
              to_regclass('versync.backfill_progress') is not null"
  if [ "$(sql "select to_regclass('versync.backfill_progress') is not null")" = t ]; then
    sql "select count(*), coalesce(max(updated_at)::text, '') from versync.backfill_progress"
  fi
}
seq_before=$(snapshot)

# ---- backfill --dry-run ------------------------------------------------------------------------
out=$(vs backfill --dry-run); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill --dry-run exits 0" 0 "$rc"
assert_match "it says how many documents it would write" 'public.items -> items: 40 rows read, 40 documents would be written' "$out"
assert_match "and that nothing was written" 'dry run: nothing written' "$out"
assert_eq "no index was written" 0 "$(curl -s "$STORE_URL/items/_count" | jq '.count // 0')"
assert_eq "no change row, sequence or progress row moved" "$seq_before" "$(snapshot)"
out=$(vs backfill --dry-run --json); rc=$?
assert_eq "backfill --dry-run --json: would_write per table" '[true,40,10]' \
  "$(jq -c '[.dry_run, .tables[0].would_write, .tables[1].would_write]' <<<"$out")"
vs backfill >/dev/null
assert_eq "the real backfill then copies" 40 "$(count items)"

# ---- backfill --prune --dry-run ----------------------------------------------------------------
sql "delete from items where id in (2, 3)" # the workers are not running: the documents stay
before=$(snapshot)
out=$(vs backfill items --prune --dry-run); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill --prune --dry-run exits 0" 0 "$rc"
assert_match "it says what it would prune" 'public.items -> items: 2 documents would be pruned' "$out"
assert_eq "nothing was deleted" 40 "$(count items)"
assert_eq "no sequence moved, no row written" "$before" "$(snapshot)"
assert_eq "--json: would_prune" 2 "$(vs backfill items --prune --dry-run --json | jq '.tables[0].would_prune')"

# ---- verify --repair --dry-run -----------------------------------------------------------------
# a row changed without the workers running (its change row dropped): the document is stale
sql "update parts set name = 'new', ver = 11 where id = 4; truncate versync.changes"
before=$(snapshot)
out=$(vs verify --repair --dry-run); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "verify --repair --dry-run exits 1 (drift found)" 1 "$rc"
assert_match "the stale parts document would be rewritten at the row's version" 'would rewrite 4 \(stale\) at version 11' "$out"
assert_match "the orphan items documents would be queued as deletes" 'would queue a delete of 2 \(extra\)' "$out"
assert_match "and says nothing was written" 'dry run: .* repairs would be made; nothing was written' "$out"
assert_eq "the document is still the old one" '[10,"p4"]' "$(curl -s "$STORE_URL/parts/_doc/4" | jq -c '[._version, ._source.name]')"
assert_eq "the orphans are still there" 40 "$(count items)"
assert_eq "no change row queued, no sequence moved" "$before" "$(snapshot)"
json=$(vs verify --repair --dry-run --json)
assert_eq "--json: what would be done for parts 4" '["rewrite",11]' \
  "$(jq -c '.tables[] | select(.table == "public.parts") | .drift[0] | [.would, .would_version]' <<<"$json")"
vs verify --dry-run >/dev/null 2>&1
assert_eq "--dry-run without --repair is a usage error" 2 "$?"

vs verify --repair >/dev/null
vs once >/dev/null 2>&1
vs verify >/dev/null
assert_eq "the real repair (and the workers) then bring it in sync" 0 "$?"

done_testing
