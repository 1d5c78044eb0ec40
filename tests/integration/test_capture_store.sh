#!/usr/bin/env bash
# versync init against the real verstore: it creates each missing index (passing
# index_settings and mappings through), leaves existing ones alone, recreates one deleted on
# the store, does not warn about gc_deletes on verstore (which keeps tombstones durably),
# and a store that went away fails init with exit 3 after the PostgreSQL part is committed.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
verstore_start || exit 1
sql "create table public.products (id int primary key, name text);
     create table public.tags (id int primary key, label text);"
cat >"$T_DIR/v.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"},
  "tables": [
    {"table": "public.products", "index_settings": {"number_of_shards": 1},
     "mappings": {"properties": {"name": {"type": "text"}}}},
    {"table": "public.tags", "index": "labels"} ] }
EOF
vs() { "$VERSYNC" -c "$T_DIR/v.json" "$@"; }

out=$(vs init --dry-run 2>"$T_DIR/err"); rc=$?
assert_eq "init --dry-run exits 0" 0 "$rc"
assert_match "--dry-run says which index it would create" '-- store: would create index "products"' "$out"
http HEAD /products
assert_eq "--dry-run created no index" 404 "$HTTP_STATUS"

out=$(vs init 2>"$T_DIR/err"); rc=$?
assert_eq "init exits 0" 0 "$rc"
assert_match "init reports the products index" 'created index "products" on the store' "$out"
assert_match "init reports the labels index" 'created index "labels" on the store' "$out"
assert_eq "no warning on verstore" "" "$(cat "$T_DIR/err")"
http HEAD /products
assert_eq "the products index exists" 200 "$HTTP_STATUS"
http HEAD /labels
assert_eq "the labels index exists" 200 "$HTTP_STATUS"
http GET /products/_settings
assert_eq "index_settings were passed through" '"1"' \
  "$(jqb '.products.settings.index.number_of_shards // .products.settings.number_of_shards | tostring')"
http GET /products/_mapping
assert_eq "mappings were passed through" '"text"' "$(jqb '.products.mappings.properties.name.type')"

assert_eq "a second init has nothing to change" "nothing to change" "$(vs init)"

http DELETE /labels
out=$(vs init); rc=$?
assert_eq "init after an index was deleted exits 0" 0 "$rc"
assert_eq "it recreates just that index" 'created index "labels" on the store' "$out"

verstore_stop >/dev/null
sql "alter table public.tags add column extra text"
cat >"$T_DIR/v.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"},
  "tables": [ {"table": "public.products"}, {"table": "public.tags", "index": "labels", "exclude": ["extra"]} ] }
EOF
out=$(vs init 2>"$T_DIR/err"); rc=$?
assert_eq "init with verstore down exits 3" 3 "$rc"
assert_match "the PostgreSQL changes were made and reported" 'replaced triggers on public.tags' "$out"
assert_match "the store is named unreachable" "store at $STORE_URL is unreachable" "$(cat "$T_DIR/err")"
assert_match "and the PostgreSQL part said committed" 'PostgreSQL part of init is committed' "$(cat "$T_DIR/err")"
verstore_start || exit 1
assert_eq "once the store is back, init converges" "nothing to change" "$(vs init)"

done_testing
