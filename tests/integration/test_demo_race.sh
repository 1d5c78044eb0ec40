#!/usr/bin/env bash
# versync demo race with external versions: many chaos workers really race
# (stale writes are rejected), and the store still ends up exactly equal to
# PostgreSQL — checked by the demo and, independently, by psql + curl + jq.
. "$(dirname "$0")/lib.sh"

ROWS=20
check "throwaway PostgreSQL starts" pg_start
# jqt FILTER JSON — true when FILTER holds for JSON.
jqt() { jq -e "$1" >/dev/null <<<"$2"; }
check "verstore starts" verstore_start

# demo_truth ROWS CHECK_VERSION — count the mismatches between the demo table
# and its index, computed here without any versync code.
demo_truth() {
  local rows_json docs_json ids
  rows_json=$(sql "select coalesce(json_agg(json_build_object('id', id::text, 'version', version, 'doc', to_jsonb(a))), '[]') from versync_demo.accounts a")
  ids=$(seq -s, -f '"%g"' 1 "$1")
  docs_json=$(curl -s -X POST -H 'Content-Type: application/json' "$STORE_URL/versync_demo_accounts/_mget" -d "{\"ids\":[$ids]}")
  jq -n --argjson rows "$rows_json" --argjson docs "$docs_json" --argjson checkver "$2" '
    ($rows | map({key: .id, value: .}) | from_entries) as $r
    | [ $docs.docs[] | . as $d | $r[$d._id] as $row
        | if ($d.found | not) and $row == null then empty
          elif $row == null then "extra"
          elif ($d.found | not) then "missing"
          elif $d._source != $row.doc then "stale"
          elif $checkver and $d._version != $row.version then "version"
          else empty end ] | length'
}

out=$("$VERSYNC" demo race --postgres "$PG_CONNINFO" --store "$STORE_URL" --rows $ROWS --changes 2000 \
      --writers 3 --workers 6 --max-delay-ms 30 --batch-size 10 --seed 7 --json --quiet \
      --work-dir "$T_DIR/run" 2>"$T_DIR/demo.err")
rc=$?
T_LOGS+=("$T_DIR/demo.err" "$T_DIR/run/workers.log" "$T_DIR/run/init.log")
echo "# $out"
assert_eq "the race exits 0 (store equals PostgreSQL)" 0 "$rc"
check "the final table is one JSON object" jqt 'type == "object"' "$out"
assert_eq "mode is external versions" '"external"' "$(jq -c .mode <<<"$out")"
assert_eq "0 mismatches" 0 "$(jq .mismatches <<<"$out")"
assert_eq "the change table drained" true "$(jq .drained <<<"$out")"
check "the chaos really raced: stale writes were rejected" jqt '.stale_rejected > 0' "$out"
check "changes written = 20 seed inserts + the budget of 2000, counted exactly" \
  jqt '.changes_written == .seed_inserts + .updates + .deletes + .reinserts and .changes_written == 2020' "$out"
assert_eq "the triggers captured exactly the changes written" "$(jq .changes_written <<<"$out")" \
  "$(jq .changes_captured <<<"$out")"
check "every change was sent, coalesced or skipped (row gone)" \
  jqt '.changes_written == .writes_sent + .coalesced + .skipped and .skipped >= 0' "$out"
assert_eq "every change left the change table" 0 "$(sql 'select count(*) from versync_demo_sync.changes')"
assert_eq "no dead letters" 0 "$(jq .dead_letters <<<"$out")"
assert_eq "rows compared = rows in the table" "$(sql 'select count(*) from versync_demo.accounts')" \
  "$(jq .rows_compared <<<"$out")"
assert_eq "independent check: every row equals its document (content and _version)" 0 "$(demo_truth $ROWS true)"
assert_eq "independent check: documents = rows" "$(sql 'select count(*) from versync_demo.accounts')" \
  "$(jq .documents_compared <<<"$out")"

# An old write arriving last with its external version is refused: nothing changes.
id=$(sql 'select id from versync_demo.accounts order by id limit 1')
ver=$(sql "select version from versync_demo.accounts where id = $id")
http PUT "/versync_demo_accounts/_doc/$id?version=$((ver - 1))&version_type=external" \
  "{\"id\":$id,\"owner\":\"old\",\"balance\":-1,\"version\":$((ver - 1))}"
assert_eq "an older external version is refused (409)" 409 "$HTTP_STATUS"
cmp=$("$VERSYNC" demo compare --postgres "$PG_CONNINFO" --store "$STORE_URL" --rows $ROWS --json 2>/dev/null)
assert_eq "demo compare still finds 0 mismatches" 0 "$(jq .mismatches <<<"$cmp")"

# A second race starts from fresh state.
out2=$("$VERSYNC" demo race --postgres "$PG_CONNINFO" --store "$STORE_URL" --rows 10 --changes 300 \
       --workers 2 --max-delay-ms 5 --json --quiet 2>>"$T_DIR/demo.err")
assert_eq "a second race exits 0" 0 "$?"
assert_eq "a second race compares only its own fresh rows" 10 "$(jq .rows_compared <<<"$out2")"
done_testing
