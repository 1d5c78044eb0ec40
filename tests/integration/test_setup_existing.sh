#!/usr/bin/env bash
# Rows a table holds before `versync init` captures it have no change row: init
# says how many per newly captured table and how to copy them, and
# `init --backfill` copies them, so the index equals the table right after.
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
sql "create table public.full_t (id int primary key, name text);
     insert into public.full_t select g, 'row ' || g from generate_series(1, 5) g;
     create table public.empty_t (id int primary key, name text);
     create table public.later_t (id int primary key, name text);
     insert into public.later_t select g, 'later ' || g from generate_series(1, 3) g;"
F=$T_DIR/v.json
cfg() {
  cat >"$F" <<EOF2
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"}, "tables": [ $1 ] }
EOF2
}
count() { curl -s "$STORE_URL/$1/_count" | jq -r '.count // 0'; }

cfg '{"table": "public.full_t"}, {"table": "public.empty_t"}'
out=$("$VERSYNC" -c "$F" init 2>&1); rc=$?
assert_eq "init exits 0" 0 "$rc"
assert_match "init says how many rows of the new table are not in the index" \
  'public\.full_t: 5 existing rows, not yet in the index "full_t"' "$out"
assert_match "and how to copy them" 'copy them with: versync backfill public\.full_t +\(or run versync init --backfill\)' "$out"
check "an empty table gets no such line" bash -c "! grep -q 'public.empty_t: ' <<<\"\$1\"" _ "$out"
check "once drains (nothing to send for the old rows)" "$VERSYNC" -c "$F" once
assert_eq "indeed none of the old rows is in the index" 0 "$(count full_t)"

out=$("$VERSYNC" -c "$F" init 2>&1)
check "a second init does not repeat it (the table is no longer new)" \
  bash -c "! grep -q 'existing row' <<<\"\$1\"" _ "$out"
check "the suggested backfill copies them" "$VERSYNC" -c "$F" backfill public.full_t
assert_eq "the index now holds all 5" 5 "$(count full_t)"

# init --backfill: a table added to the config is captured and copied in one step.
cfg '{"table": "public.full_t"}, {"table": "public.empty_t"}, {"table": "public.later_t"}'
out=$("$VERSYNC" -c "$F" init --backfill 2>&1); rc=$?
assert_eq "init --backfill exits 0" 0 "$rc"
assert_match "it names the rows it copies" 'public\.later_t: 3 existing rows' "$out"
assert_match "and copies them" '--backfill: copying the existing rows of public\.later_t' "$out"
curl -s -o /dev/null -X POST "$STORE_URL/later_t/_refresh"
assert_eq "the index holds the 3 old rows right after" 3 "$(count later_t)"
check "it did not copy the already-captured table again" \
  bash -c "! grep -q 'public.full_t: ' <<<\"\$1\"" _ "$out"
sql "update public.later_t set name = 'changed' where id = 2; insert into public.later_t values (4, 'new')"
check "once carries the later changes" "$VERSYNC" -c "$F" once
assert_eq "and the index equals the table" 4 "$(count later_t)"
assert_eq "with the updated row's content" changed "$(curl -s "$STORE_URL/later_t/_doc/2" | jq -r ._source.name)"

done_testing
