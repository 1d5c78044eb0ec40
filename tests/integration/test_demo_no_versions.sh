#!/usr/bin/env bash
# versync demo race --no-versions, the counterfactual: writes without external
# versions (last arrival wins). The comparison must report exactly the
# mismatches that are really there — including one made certain by forcing an
# old write to arrive last.
. "$(dirname "$0")/lib.sh"

ROWS=20
check "throwaway PostgreSQL starts" pg_start
# jqt FILTER JSON — true when FILTER holds for JSON.
jqt() { jq -e "$1" >/dev/null <<<"$2"; }
check "verstore starts" verstore_start

# demo_truth ROWS CHECK_VERSION — mismatches computed without versync code.
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
      --writers 3 --workers 6 --max-delay-ms 30 --batch-size 10 --seed 11 --no-versions --json --quiet \
      --work-dir "$T_DIR/run" 2>"$T_DIR/demo.err")
rc=$?
T_LOGS+=("$T_DIR/demo.err" "$T_DIR/run/workers.log" "$T_DIR/run/init.log")
echo "# $out"
assert_eq "mode is no-versions" '"no-versions"' "$(jq -c .mode <<<"$out")"
assert_eq "the change table drained" true "$(jq .drained <<<"$out")"
assert_eq "nothing can be rejected as stale without versions" 0 "$(jq .stale_rejected <<<"$out")"
truth=$(demo_truth $ROWS false)
assert_eq "the race reports exactly the mismatches that are there" "$truth" "$(jq .mismatches <<<"$out")"
if [ "$truth" -gt 0 ]; then want=1; else want=0; fi
assert_eq "exit status 1 exactly when documents ended stale" "$want" "$rc"

# Force one old write last: keep document D of a row, let a newer change of
# that row reach the store, then deliver D again without a version, as a
# delayed worker would. The row is newer than its document now.
cfgf=$T_DIR/run/demo.json
id=$(sql 'select id from versync_demo.accounts order by id limit 1')
old_doc=$(sql "select to_jsonb(a)::text from versync_demo.accounts a where id = $id")
sql "update versync_demo.accounts set balance = balance + 1 where id = $id"
"$VERSYNC" -c "$cfgf" once --no-versions >>"$T_DIR/demo.err" 2>&1
assert_eq "versync once synced the newer row" 0 "$(sql 'select count(*) from versync_demo_sync.changes')"
http PUT "/versync_demo_accounts/_doc/$id" "$old_doc"
check "the old document was accepted without a version (last arrival wins)" test "$HTTP_STATUS" = 200
truth=$(demo_truth $ROWS false)
check "independently, at least one document is stale now" test "$truth" -ge 1
cmp=$("$VERSYNC" demo compare --postgres "$PG_CONNINFO" --store "$STORE_URL" --rows $ROWS --no-versions --json \
      2>"$T_DIR/compare.err")
rc=$?
assert_eq "demo compare reports exactly the mismatches that are there" "$truth" "$(jq .mismatches <<<"$cmp")"
assert_eq "demo compare exits 1 when the store differs" 1 "$rc"
check "the forced old write is among the reported mismatches" grep -q "^  id $id, " "$T_DIR/compare.err"
done_testing
