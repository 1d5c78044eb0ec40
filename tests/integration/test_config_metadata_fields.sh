#!/usr/bin/env bash
# A document field may not carry an Elasticsearch metadata field name (_id, _index, _source,
# _version, _seq_no, _primary_term, _routing, …): the store refuses such documents, so every
# row of the table would become a dead letter. Config loading refuses a "rename" to one, and
# check/init refuse a column whose own name is one (unless renamed or excluded), naming the
# table and the field.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.users (id int primary key, email text, \"_routing\" text)"
F=$T_DIR/v.json

cfg() {
  cat >"$F" <<EOF2
{ "postgres": "$PG_CONNINFO",
  "tables": [ $1 ] }
EOF2
}

# refused DESC CMD EXPECTED_SUBSTRING TABLES_JSON — CMD exits non-zero naming EXPECTED.
refused() {
  cfg "$4"
  local err rc
  err=$("$VERSYNC" -c "$F" $2 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne 0 ] && [[ "$err" == *"$3"* ]]; then ok "$1"; else
    not_ok "$1"
    printf '#   exit %s, stderr: %s\n#   wanted: %s\n' "$rc" "$err" "$3"
  fi
}

for f in _id _index _source _version _seq_no _primary_term _routing _ignored _field_names _doc_count _tier _meta; do
  refused "check refuses a rename to $f" check \
    "$F: tables[0].rename.email: \"$f\" is an Elasticsearch metadata field name" \
    "{\"table\": \"public.users\", \"exclude\": [\"_routing\"], \"rename\": {\"email\": \"$f\"}}"
done
refused "the message names the column and the table" check \
  'pick another name for column "email" of public.users' \
  '{"table": "public.users", "exclude": ["_routing"], "rename": {"email": "_id"}}'
refused "init refuses it too, before touching the database" "init --no-store" \
  'tables[0].rename.email: "_id" is an Elasticsearch metadata field name' \
  '{"table": "public.users", "exclude": ["_routing"], "rename": {"email": "_id"}}'
assert_eq "init created nothing" 0 "$(sql "select count(*) from pg_namespace where nspname = 'versync'")"

# A column whose own name is a metadata field name.
refused "check refuses a column named _routing left in the document" check \
  'tables[0]: column "_routing" of public.users would be the document field "_routing", an Elasticsearch metadata field name' \
  '{"table": "public.users"}'

# Ways out: rename it, or exclude it; a leading underscore alone is fine.
cfg '{"table": "public.users", "rename": {"_routing": "routing"}}'
"$VERSYNC" -c "$F" check >/dev/null 2>&1
assert_eq "renaming the _routing column passes" 0 "$?"
cfg '{"table": "public.users", "exclude": ["_routing"], "rename": {"email": "_email"}}'
"$VERSYNC" -c "$F" check >/dev/null 2>&1
assert_eq "excluding it passes, and a rename to _email is allowed" 0 "$?"

done_testing
