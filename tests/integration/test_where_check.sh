#!/usr/bin/env bash
# tables[].where is checked against the live catalog: a valid filter passes check; one that is not
# one boolean expression of the row alone (a missing column, a non-boolean value, a subquery, a
# volatile or time-dependent function, a second expression, a ';') is refused by check and by init
# with the file, tables[N].where, the table and PostgreSQL's reason, exit 2, and init changes nothing.
# A "where" on a nested child, or beside "deletes": "ignore", is refused with its reason.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.docs (id int primary key, status text, deleted_at timestamptz, body text);
     create table public.notes (id int primary key, doc_id int, body text)"
F=$T_DIR/v.json

# cfg TABLES_JSON — write a config mapping TABLES_JSON (the inside of "tables": [ … ]).
cfg() {
  cat >"$F" <<EOF
{ "postgres": "$PG_CONNINFO",
  "tables": [ $1 ] }
EOF
}

# rejects DESC EXPECTED_MESSAGE_GLOB TABLE_JSON — check and init exit 2 and say EXPECTED on stderr.
rejects() {
  cfg "$3"
  local cmd err rc pat=${2//[/\\[}
  pat=${pat//]/\\]} # brackets are literal; '*' stands for any text
  for cmd in check init; do
    err=$("$VERSYNC" -c "$F" $cmd 2>&1 >/dev/null); rc=$?
    if [ "$rc" -eq 2 ] && [[ "$err" == *"$F: "$pat* ]]; then ok "$cmd refuses $1"; else
      not_ok "$cmd refuses $1"
      printf '#   exit %s, stderr: %s\n#   wanted: %s\n' "$rc" "$err" "$F: $2"
    fi
  done
}

Q="'"
cfg '{"table": "public.docs", "where": "status <> '$Q'draft'$Q' AND deleted_at IS NULL"}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "check passes a valid filter" 0 "$rc" || echo "$out" | sed 's/^/# /'
cfg '{"table": "public.docs", "where": "status = '$Q'live'$Q' -- a trailing comment is harmless"}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "check passes a filter that ends in a comment" 0 "$rc" || echo "$out" | sed 's/^/# /'

rejects "a missing column" 'tables[0].where: PostgreSQL refuses the filter on public.docs: column "stauts" does not exist' \
  '{"table": "public.docs", "where": "stauts <> '$Q'draft'$Q'"}'
rejects "a value that is not boolean" 'tables[0].where: must be a boolean expression over the columns of public.docs, not of type text' \
  '{"table": "public.docs", "where": "status"}'
rejects "two expressions" 'tables[0].where: must be one SQL expression over the columns of public.docs' \
  '{"table": "public.docs", "where": "true), (false"}'
rejects "a subquery" 'tables[0].where: the filter on public.docs must depend on the row alone*PostgreSQL says: cannot use subquery in index predicate' \
  '{"table": "public.docs", "where": "id IN (SELECT doc_id FROM public.notes)"}'
rejects "a volatile function" 'tables[0].where: the filter on public.docs must depend on the row alone*IMMUTABLE' \
  '{"table": "public.docs", "where": "random() < 0.5"}'
rejects "a filter that moves with the clock" 'tables[0].where: the filter on public.docs must depend on the row alone*IMMUTABLE' \
  '{"table": "public.docs", "where": "deleted_at > now()"}'
rejects "a second statement" "tables[0].where: must be one SQL boolean expression without ';'" \
  '{"table": "public.docs", "where": "true; DROP TABLE public.notes"}'
rejects "an empty filter" 'tables[0].where: must not be empty' '{"table": "public.docs", "where": ""}'
rejects "a filter that is not a string" 'tables[0].where: must be a string' '{"table": "public.docs", "where": true}'
rejects "a filter beside deletes: ignore" 'tables[0].where: cannot be combined with "deletes": "ignore"' \
  '{"table": "public.docs", "deletes": "ignore", "where": "status = '$Q'x'$Q'"}'
rejects "a filter on a nested child" 'tables[0].children[0].where: is only allowed on a top-level table' \
  '{"table": "public.docs", "children": [{"name": "notes", "table": "public.notes", "join": {"id": "doc_id"}, "where": "true"}]}'

assert_eq "the refused inits changed nothing" "0" "$(sql "select count(*) from pg_namespace where nspname = 'versync'")"
assert_eq "and the probes left nothing behind" "0" "$(sql "select count(*) from pg_class where relname like 'vs_where%'")"

done_testing
