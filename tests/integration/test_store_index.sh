#!/usr/bin/env bash
# verstore index management: create (settings/mappings kept as given), get,
# head, delete, auto-create on write, Elasticsearch's index-name rules,
# _cat/indices (text and JSON), _refresh and _cluster/health.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# ---- create / get / head / delete ----------------------------------------------
def='{"settings":{"index":{"number_of_shards":1,"gc_deletes":"120s","custom":{"x":"y"}}},"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"}}}}'
http PUT /books "$def"
assert_eq "PUT /books: 200" 200 "$HTTP_STATUS"
assert_es_headers "PUT /books"
assert_json "PUT /books: acknowledged" '[.acknowledged, .shards_acknowledged, .index]' '[true,true,"books"]'
http PUT /books "$def"
assert_eq "PUT an existing index: 400" 400 "$HTTP_STATUS"
assert_json "PUT an existing index: resource_already_exists_exception" '[.error.type, .error.index]' '["resource_already_exists_exception","books"]'
http HEAD /books
assert_eq "HEAD /books: 200" 200 "$HTTP_STATUS"
assert_es_headers "HEAD /books"
assert_eq "HEAD /books: empty body" "" "$(head_body '/books')"
http HEAD /nosuch
assert_eq "HEAD missing index: 404" 404 "$HTTP_STATUS"
assert_es_headers "HEAD missing index"
http GET /books
assert_eq "GET /books: 200" 200 "$HTTP_STATUS"
assert_es_headers "GET /books"
assert_json "GET /books: mappings as given" '.books.mappings' "$(jq -c .mappings <<<"$def")"
assert_json "GET /books: settings as given" '.books.settings.index | [.gc_deletes, .custom.x, (.number_of_shards|tostring)]' '["120s","y","1"]'
http GET /nosuch
assert_eq "GET missing index: 404" 404 "$HTTP_STATUS"
assert_json "GET missing index: index_not_found_exception" \
  '[.status, .error.type, .error.reason, .error.index, .error["resource.type"], .error["resource.id"], .error.root_cause[0].type]' \
  '[404,"index_not_found_exception","no such index [nosuch]","nosuch","index_or_alias","nosuch","index_not_found_exception"]'
http PUT /plain
assert_eq "PUT an index without a body: 200" 200 "$HTTP_STATUS"
http PUT /plain2 ''
assert_eq "PUT an index with an empty body: 200" 200 "$HTTP_STATUS"
http PUT /badjson '{"settings":'
assert_eq "PUT an index with malformed JSON: 400" 400 "$HTTP_STATUS"
http HEAD /badjson
assert_eq "malformed index body created nothing" 404 "$HTTP_STATUS"

http PUT /books/_doc/1 '{"title":"a"}'
http PUT /books/_doc/2 '{"title":"b"}'
http DELETE /books
assert_eq "DELETE /books: 200" 200 "$HTTP_STATUS"
assert_json "DELETE /books: acknowledged" .acknowledged true
http HEAD /books
assert_eq "deleted index is gone" 404 "$HTTP_STATUS"
http GET /books/_doc/1
assert_eq "deleted index's docs are gone: 404" 404 "$HTTP_STATUS"
assert_json "deleted index's docs: index_not_found_exception" .error.type '"index_not_found_exception"'
http DELETE /books
assert_eq "DELETE a missing index: 404" 404 "$HTTP_STATUS"
assert_json "DELETE a missing index: index_not_found_exception" .error.type '"index_not_found_exception"'
http PUT /books/_doc/1 '{"title":"again"}'
assert_json "re-created index starts afresh" '[.result, ._version, ._seq_no]' '["created",1,0]'
http PUT '/hist/_doc/1?version=50&version_type=external' '{"v":50}'
http DELETE '/hist/_doc/2?version=60&version_type=external'
http DELETE /hist
http PUT '/hist/_doc/1?version=5&version_type=external' '{"v":5}'
assert_json "a deleted index forgets its documents' versions" '[.result, ._version]' '["created",5]'
http PUT '/hist/_doc/2?version=6&version_type=external' '{"v":6}'
assert_json "a deleted index forgets its tombstones" '[.result, ._version]' '["created",6]'

# ---- auto-create on write ----------------------------------------------------
http HEAD /autoidx
assert_eq "autoidx does not exist yet" 404 "$HTTP_STATUS"
http PUT /autoidx/_doc/1 '{"a":1}'
assert_eq "a write to a missing index: 201" 201 "$HTTP_STATUS"
http HEAD /autoidx
assert_eq "the write auto-created the index" 200 "$HTTP_STATUS"
http POST /autoidx2/_doc '{"a":1}'
http HEAD /autoidx2
assert_eq "an auto-id write auto-creates too" 200 "$HTTP_STATUS"
http POST /autoidx3/_create/1 '{"a":1}'
http HEAD /autoidx3
assert_eq "_create auto-creates too" 200 "$HTTP_STATUS"
http POST /autoidx4/_update/1 '{"doc":{"a":1},"doc_as_upsert":true}'
assert_eq "an upsert on a missing index: 201" 201 "$HTTP_STATUS"

# ---- index names ---------------------------------------------------------------
long=$(printf 'a%.0s' $(seq 1 256))
for name in Upper -lead +lead _lead 'a*b' 'a?b' 'a"b' 'a<b' 'a>b' 'a|b' 'a b' 'a,b' 'a#b' 'a\b' 'a:b' . .. "$long"; do
  # curl would drop "." and ".." path segments: send them percent-encoded.
  enc=$(jq -rn --arg n "$name" '$n | @uri | if test("^[.]+$") then gsub("[.]"; "%2E") else . end')
  show=${name:0:20}
  http PUT "/$enc"
  assert_eq "PUT /[$show]: 400" 400 "$HTTP_STATUS"
  assert_json "PUT /[$show]: invalid_index_name_exception" .error.type '"invalid_index_name_exception"'
  http PUT "/$enc/_doc/1" '{"a":1}'
  assert_eq "write to [$show]: 400 (no auto-create)" 400 "$HTTP_STATUS"
done
http PUT /Upper
assert_json "uppercase: reason" .error.reason '"Invalid index name [Upper], must be lowercase"'
http PUT /-lead
assert_json "leading -: reason" .error.reason "\"Invalid index name [-lead], must not start with '_', '-', or '+'\""
ok255=$(printf 'b%.0s' $(seq 1 255))
for name in a-b_c.d+e 'é' .dotted 0digits "$ok255"; do
  enc=$(jq -rn --arg n "$name" '$n|@uri')
  http PUT "/$enc"
  assert_eq "PUT /[${name:0:20}] (valid): 200" 200 "$HTTP_STATUS"
done
http PUT "/$ok255/_doc/1" '{"a":1}'
assert_json "a 255-byte index name works for documents" '[.result, (._index | length)]' '["created",255]'

# ---- _cat/indices ------------------------------------------------------------
http PUT /catidx/_doc/1 '{"a":1}'
http PUT /catidx/_doc/2 '{"a":2}'
http PUT /catidx/_doc/3 '{"a":3}'
http DELETE /catidx/_doc/3
http POST /catidx/_refresh
assert_eq "POST /{index}/_refresh: 200" 200 "$HTTP_STATUS"
assert_es_headers "POST /{index}/_refresh"
assert_json "refresh answers with _shards" '._shards.failed' 0
http GET /catidx/_refresh
assert_eq "GET /{index}/_refresh: 200" 200 "$HTTP_STATUS"
http POST /_refresh
assert_eq "POST /_refresh: 200" 200 "$HTTP_STATUS"
http GET /_refresh
assert_eq "GET /_refresh: 200" 200 "$HTTP_STATUS"
http POST /nosuch/_refresh
assert_eq "refresh of a missing index: 404" 404 "$HTTP_STATUS"

http GET '/_cat/indices?format=json'
assert_eq "_cat/indices?format=json: 200" 200 "$HTTP_STATUS"
assert_es_headers "_cat/indices?format=json"
assert_json "_cat/indices json: catidx listed once, open, 2 live docs" \
  '[.[] | select(.index == "catidx") | [.status, .["docs.count"]]]' '[["open","2"]]'
assert_json "_cat/indices json: lists the other indices" '[.[].index] | (index("autoidx") != null) and (index("books") != null)' true
assert_json "_cat/indices json: a refused index is not listed" '[.[].index] | index("badjson")' null
http GET /_cat/indices
assert_eq "_cat/indices (text): 200" 200 "$HTTP_STATUS"
assert_eq "_cat/indices (text): X-Elastic-Product" Elasticsearch "$(http_header X-Elastic-Product)"
line=$(printf '%s\n' "$HTTP_BODY" | awk '$3 == "catidx"')
assert_match "_cat/indices text: a row for catidx (health status index uuid pri rep docs.count …)" '^(green|yellow) +open +catidx +[^ ]+ +1 +[0-9]+ +2 ' "$line"
assert_eq "_cat/indices text: one row per index" "$(printf '%s' "$HTTP_BODY" | grep -c .)" \
  "$(http GET '/_cat/indices?format=json'; jqb length)"
http GET '/_cat/indices?v'
assert_match "_cat/indices?v: a header row" '^health +status +index +uuid +pri +rep +docs\.count' "$(printf '%s\n' "$HTTP_BODY" | head -1)"

# ---- cluster health --------------------------------------------------------------
http GET /_cluster/health
assert_eq "_cluster/health: 200" 200 "$HTTP_STATUS"
assert_es_headers "_cluster/health"
assert_json "_cluster/health: status, name, one node" \
  '[(.status | test("^(green|yellow)$")), (.cluster_name|type), .number_of_nodes, .timed_out]' '[true,"string",1,false]'

check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
