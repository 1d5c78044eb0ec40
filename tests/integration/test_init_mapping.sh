#!/usr/bin/env bash
# versync init generates each index's mapping from the catalogue (the README's type table), with
# the config's "mappings" merged over it field by field; init --dry-run prints the settings and
# mappings it would create and creates nothing; check reports a live mapping that differs from
# what the config implies (index, field, live type, expected type) and exits 1 with the reindex
# remedy; a document of every type the worker renders is accepted by the generated mapping.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create type mood as enum ('ok', 'sad');
     create domain price as numeric(10,3);
     create table public.ty (id bigint primary key, s smallint, i integer, n12 numeric(12,2),
       n10 numeric(10,0), n numeric, p price, r real, d double precision, b boolean, t text,
       v varchar(20), c char(3), u uuid, dt date, ts timestamp, tz timestamptz, tm time,
       iv interval, j jsonb, ia int[], ta text[], by bytea, ip inet, cd cidr, rg int4range,
       lr int8range, nr numrange, dr daterange, tr tstzrange, m money, e mood, tv tsvector,
       pt point, secret text, old_name text, ver bigint not null default 1);
     create table public.author (id int primary key, name text);
     create table public.book (id int primary key, author_id int, stars smallint, price numeric(6,2));"
cat >"$CFG" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"}, "listen": false,
  "tables": [
    {"table": "public.ty", "exclude": ["secret"], "rename": {"old_name": "title"},
     "version": {"column": "ver"},
     "index_settings": {"number_of_shards": 1},
     "mappings": {"properties": {"u": {"type": "keyword", "ignore_above": 64},
                                 "t": {"type": "text", "analyzer": "english"},
                                 "tm": {"type": "text"}}}},
    {"table": "public.author",
     "children": [{"name": "books", "table": "public.book", "relationship": "many",
                   "join": {"id": "author_id"}, "exclude": ["author_id"]}]} ] }
EOF

KW='{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}'
WANT_TY=$(jq -cS . <<EOF
{"properties": {
  "id": {"type": "long"}, "s": {"type": "integer"}, "i": {"type": "integer"},
  "n12": {"type": "scaled_float", "scaling_factor": 100}, "n10": {"type": "long"},
  "n": {"type": "double"}, "p": {"type": "scaled_float", "scaling_factor": 1000},
  "r": {"type": "float"}, "d": {"type": "double"}, "b": {"type": "boolean"},
  "t": {"type": "text", "analyzer": "english", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
  "v": $KW, "c": $KW, "u": {"type": "keyword", "ignore_above": 64},
  "dt": {"type": "date"}, "ts": {"type": "date"}, "tz": {"type": "date"}, "tm": {"type": "text"},
  "iv": {"type": "keyword"}, "ia": {"type": "integer"}, "ta": $KW, "by": {"type": "binary"},
  "ip": {"type": "keyword"}, "cd": {"type": "keyword"}, "rg": {"type": "integer_range"},
  "lr": {"type": "long_range"}, "nr": {"type": "double_range"}, "dr": {"type": "date_range"},
  "tr": {"type": "date_range"}, "m": {"type": "scaled_float", "scaling_factor": 100},
  "e": {"type": "keyword"}, "tv": {"type": "text"}, "pt": {"type": "keyword"},
  "title": $KW, "ver": {"type": "long"}}}
EOF
)
WANT_AUTHOR=$(jq -cS . <<EOF
{"properties": {"id": {"type": "integer"}, "name": $KW,
  "books": {"type": "object", "properties": {"id": {"type": "integer"}, "stars": {"type": "integer"},
                                             "price": {"type": "scaled_float", "scaling_factor": 100}}}}}
EOF
)

# --dry-run: the PUT it would send, per index, and nothing created.
out=$("$VERSYNC" -c "$CFG" init --dry-run 2>"$T_DIR/dry.err")
assert_eq "init --dry-run exits 0" 0 $?
line=$(grep '^-- store: would create index "ty": PUT /ty ' <<<"$out")
body=${line#*PUT /ty }
assert_eq "dry-run prints ty's generated mappings" "$WANT_TY" "$(jq -cS .mappings <<<"$body" 2>&1)"
assert_eq "dry-run prints ty's settings" '{"number_of_shards":1}' "$(jq -c .settings <<<"$body" 2>&1)"
line=$(grep '^-- store: would create index "author": PUT /author ' <<<"$out")
assert_eq "dry-run prints author's mappings, children as objects" "$WANT_AUTHOR" \
  "$(jq -cS .mappings <<<"${line#*PUT /author }" 2>&1)"
http HEAD /ty
assert_eq "dry-run created no index" 404 "$HTTP_STATUS"

# init creates the indexes with exactly that mapping.
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
http GET /ty/_mapping
assert_eq "GET /ty/_mapping is the generated mapping, config merged over it" "$WANT_TY" \
  "$(jqb .ty.mappings | jq -cS .)"
http GET /author/_mapping
assert_eq "GET /author/_mapping maps the children" "$WANT_AUTHOR" "$(jqb .author.mappings | jq -cS .)"

out=$("$VERSYNC" -c "$CFG" check 2>&1)
assert_eq "check exits 0 when the live mappings match" 0 $?
assert_eq "check reports no drift" "" "$(grep drift: <<<"$out")"

# A document of every type, written by the worker, is accepted by the generated mapping.
sql "insert into public.ty values (1, 1, 2, 12.34, 99, 1.5e300, 1.25, 1.5, 2.5, true, 'hello world',
       'abc', 'xy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-05-01', '2024-05-01 10:00:00.123456',
       '2024-05-01 10:00:00+02', '10:00:00', '1 day 2 hours', '{\"a\": {\"b\": 1}}', '{1,2}', '{x,y}',
       '\\xdeadbeef', '10.1.2.3/24', '10.0.0.0/8', '[1,10)', '[5,)', '(1.5,2.5]', '[2024-01-01,2024-02-01)',
       '[2024-01-01 00:00+00,)', '12.34', 'sad', 'a fat cat', '(1,2)', 's3cret', 'the title', 7);
     insert into public.ty (id) values (2);
     insert into public.ty (id, n, r, ts, dt) values (3, 'NaN', 'Infinity', 'infinity', '-infinity');
     insert into public.author values (1, 'ann');
     insert into public.book values (1, 1, 5, 9.99), (2, 1, 3, 12.50);"
check "once applies the changes" once_ok once
assert_eq "no dead letters (no mapper_parsing_exception)" 0 "$(sql "select count(*) from versync.dead_letters")"
assert_eq "every row is indexed" 3 "$(curl -s "$STORE_URL/ty/_count" | jq .count)"
http POST /ty/_search '{"query": {"term": {"title.keyword": "the title"}}}'
assert_eq "the keyword sub-field matches exactly" 1 "$(jqb .hits.total.value)"
http POST /ty/_search '{"query": {"range": {"n12": {"gte": 12.3, "lte": 12.4}}}}'
assert_eq "the scaled_float field answers range queries" 1 "$(jqb .hits.total.value)"
http POST /author/_search '{"query": {"term": {"books.stars": 5}}}'
assert_eq "children's fields are searchable" 1 "$(jqb .hits.total.value)"

# The reindex remedy: backfill --index NEW creates the new index with the same generated mapping.
check "backfill --index ty_v2" bash -c "'$VERSYNC' -c '$CFG' backfill public.ty --index ty_v2 >'$T_DIR/bf.log' 2>&1"
T_LOGS+=("$T_DIR/bf.log")
http GET /ty_v2/_mapping
# (plus what dynamic mapping added for the jsonb column j once the rows were copied)
assert_eq "backfill --index creates the generated mapping" "$WANT_TY" \
  "$(jqb .ty_v2.mappings | jq -cS 'del(.properties.j)')"

# A live mapping that differs: check names index, field, live and expected type, exits 1.
http DELETE /ty
http PUT /ty '{"mappings": {"properties": {"n12": {"type": "float"}, "v": {"type": "text"}}}}'
assert_eq "recreate ty with a hand-made mapping" 200 "$HTTP_STATUS"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
assert_eq "check exits 1 (drift) when a live mapping differs" 1 $?
assert_match "check names a field of another type" \
  'drift: index "ty": field "n12" is mapped float in the store, the config implies scaled_float\(scaling_factor 100\)' "$out"
assert_match "check names a missing keyword sub-field" \
  'drift: index "ty": field "v.keyword" is not mapped in the store, the config implies keyword' "$out"
assert_match "check names a field the live mapping lacks" \
  'drift: index "ty": field "b" is not mapped in the store, the config implies boolean' "$out"
assert_match "check names the remedy" 'Zero-downtime reindex' "$out"
js=$("$VERSYNC" -c "$CFG" check --json 2>/dev/null)
assert_eq "check --json exits 1 too" 1 $?
assert_eq "check --json lists the drift" '{"index":"ty","field":"n12","live":"float","expected":"scaled_float(scaling_factor 100)"}' \
  "$(jq -c '.mapping_drift[] | select(.field == "n12")' <<<"$js" 2>&1)"
# init adds the fields the live mapping lacks (the one change Elasticsearch allows), never
# changes a field's type, and --dry-run shows the PUT without sending it.
out=$("$VERSYNC" -c "$CFG" init --dry-run 2>&1)
assert_eq "init --dry-run exits 0" 0 $?
line=$(grep '^-- store: would add [0-9]* fields to index "ty": PUT /ty/_mapping ' <<<"$out")
assert_eq "init --dry-run prints the fields it would add" '{"type":"boolean"}' \
  "$(jq -c .properties.b <<<"${line#*PUT /ty/_mapping }" 2>&1)"
assert_eq "init --dry-run would not touch a field of another type" 'null' \
  "$(jq -c '.properties.n12, .properties.v' <<<"${line#*PUT /ty/_mapping }" 2>&1 | sort -u)"
http GET /ty/_mapping
assert_eq "init --dry-run added nothing" 'null' "$(jqb .ty.mappings.properties.b)"
out=$("$VERSYNC" -c "$CFG" init 2>&1)
assert_eq "init still exits 0 (it converged what it can)" 0 $?
assert_match "init says which fields it added" 'added [0-9]+ fields to the mapping of index "ty"' "$out"
assert_match "init warns about the differing field" 'index "ty": field "n12" is mapped float in the store' "$out"
if grep -qx 'nothing to change' <<<"$out"; then not_ok "init no longer says nothing to change"; else
  ok "init no longer says nothing to change"; fi
http GET /ty/_mapping
assert_eq "the missing fields were added" '{"type":"boolean"} {"type":"scaled_float","scaling_factor":1000}' \
  "$(jqb .ty.mappings.properties.b) $(jqb .ty.mappings.properties.p)"
assert_eq "a field of another type was left as it is" '{"type":"float"}' "$(jqb .ty.mappings.properties.n12)"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
assert_eq "check still exits 1 for the fields init cannot change" 1 $?
assert_eq "what is left is the type change and the multi-field" 2 "$(grep -c 'drift: index "ty"' <<<"$out")"

# A column added to the table after init: init maps it in the live index, inside a child too.
sql "alter table public.author add column born date; alter table public.book add column isbn text"
out=$("$VERSYNC" -c "$CFG" init 2>&1)
assert_eq "init after ALTER TABLE ADD COLUMN exits 0" 0 $?
http GET /author/_mapping
assert_eq "the new column is mapped" '{"type":"date"}' "$(jqb .author.mappings.properties.born)"
assert_eq "the child's new column is mapped inside its object" "$(jq -c . <<<"$KW")" \
  "$(jqb .author.mappings.properties.books.properties.isbn)"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
assert_eq "check reports no drift for author" "" "$(grep 'drift: index "author"' <<<"$out")"

done_testing
