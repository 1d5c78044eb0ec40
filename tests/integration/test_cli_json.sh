#!/usr/bin/env bash
# Output for scripts (issue 23): --json on once, backfill, check and status prints exactly
# one JSON object on stdout, with the counts the text output gives; under --log-format json
# nothing but JSON is printed, on stdout or stderr, by any command (its report, its log, its
# errors, even a usage error and --version).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 30) g"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}]'

# one_object DESC TEXT — TEXT is exactly one JSON object (one line).
one_object() {
  if [ "$(printf '%s\n' "$2" | wc -l)" -eq 1 ] && printf '%s' "$2" | jq -e 'type == "object"' >/dev/null 2>&1; then
    ok "$1"
  else
    not_ok "$1"
    printf '#   got: %s\n' "$(printf '%s' "$2" | head -c 400)"
  fi
}

# ---- --json ------------------------------------------------------------------------------------
out=$(vs check --json); rc=$?
assert_eq "check --json exits 0" 0 "$rc"
one_object "check --json prints one object" "$out"
assert_eq "check --json: valid, with the table" '[true,"public.items","items",["id"]]' \
  "$(jq -c '[.valid, .tables[0].table, .tables[0].index, .tables[0].key]' <<<"$out")"
assert_eq "check --json: the not-initialised warning" 1 "$(jq '[.warnings[] | select(test("init"))] | length' <<<"$out")"
assert_eq "check --json: the store answered" true "$(jq '.store.reachable' <<<"$out")"

vs init >/dev/null
out=$(vs backfill --json); rc=$?
assert_eq "backfill --json exits 0" 0 "$rc"
one_object "backfill --json prints one object" "$out"
assert_eq "backfill --json: rows read and written" '["public.items",30,30,0,0]' \
  "$(jq -c '.tables[0] | [.table, .rows, .written, .stale, .errors]' <<<"$out")"
assert_eq "backfill --json: the exit status" 0 "$(jq '.exit' <<<"$out")"

sql "update items set name = 'changed' where id <= 4"
out=$(vs once --json); rc=$?
assert_eq "once --json exits 0" 0 "$rc"
one_object "once --json prints one object" "$out"
assert_eq "once --json: the changes and what became of them" '[4,4,true,0]' \
  "$(jq -c '[.changes, .applied, .drained, .exit]' <<<"$out")"

out=$(vs status --json); rc=$?
assert_eq "status --json exits 0" 0 "$rc"
one_object "status --json prints one object" "$out"
assert_eq "status --json: no backlog" 0 "$(jq '.tables[0].backlog' <<<"$out")"

# ---- --log-format json: nothing but JSON -------------------------------------------------------
# all_json DESC CMD… — every line CMD prints on stdout and on stderr is a JSON object.
all_json() {
  local desc=$1; shift
  "$@" >"$T_DIR/o" 2>"$T_DIR/e"
  local bad
  bad=$(cat "$T_DIR/o" "$T_DIR/e" | while IFS= read -r l; do
    [ -z "$l" ] && continue
    printf '%s' "$l" | jq -e 'type == "object"' >/dev/null 2>&1 || printf '%s\n' "$l"
  done)
  if [ -z "$bad" ] && [ -s "$T_DIR/o" -o -s "$T_DIR/e" ]; then ok "$desc"; else
    not_ok "$desc"
    printf '#   not JSON: %s\n' "$(printf '%s' "$bad" | head -c 400)"
  fi
}
J=("$VERSYNC" -c "$CFG" --log-format json)
sql "update items set name = 'again' where id = 1"
all_json "check under --log-format json" "${J[@]}" check
all_json "init under --log-format json" "${J[@]}" init
all_json "init --dry-run under --log-format json" "${J[@]}" init --dry-run
all_json "status under --log-format json" "${J[@]}" status
all_json "once under --log-format json" "${J[@]}" once
all_json "backfill under --log-format json" "${J[@]}" backfill
all_json "verify under --log-format json" "${J[@]}" verify
curl -s -X DELETE "$STORE_URL/items/_doc/5" >/dev/null
all_json "verify --repair under --log-format json" "${J[@]}" verify --repair
all_json "a usage error under --log-format json" "${J[@]}" backfill --bogus
all_json "an unknown command under --log-format json" "${J[@]}" frobnicate
all_json "a missing value under --log-format json" "$VERSYNC" --log-format json --config
all_json "--version under --log-format json" "${J[@]}" --version
all_json "a missing config under --log-format json" "$VERSYNC" --log-format json -c "$T_DIR/none.json" once

done_testing
