#!/usr/bin/env bash
# verstore documents on the modern (Elasticsearch 8) paths: root endpoint and
# product headers, index/create/get/head/_source/delete, auto ids, Location,
# read parameters, refresh, _update (partial, noop, upserts) and _mget.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# ---- root ------------------------------------------------------------------
http GET /
assert_eq "GET /: 200" 200 "$HTTP_STATUS"
assert_es_headers "GET /"
assert_json "GET /: Elasticsearch 8 shape" \
  '[(.name|type), (.cluster_name|type), (.cluster_uuid|type), (.version.number|startswith("8.")), .version.build_flavor, .tagline]' \
  '["string","string","string",true,"default","You Know, for Search"]'
http HEAD /
assert_eq "HEAD /: 200" 200 "$HTTP_STATUS"
assert_es_headers "HEAD /"
assert_eq "HEAD /: empty body" "" "$(head_body '/')"

# ---- index a document --------------------------------------------------------
# The source is kept byte for byte (key order, spacing, escapes).
src='{"title" : "caf\u00e9 \"x\"",  "n":1.50, "tags":["a","b"],"o":{"x":1}}'
http PUT /docs/_doc/1 "$src"
assert_eq "PUT new doc: 201" 201 "$HTTP_STATUS"
assert_es_headers "PUT new doc"
assert_json "PUT new doc: body" '[._index, ._id, ._version, .result, ._shards.failed, ._primary_term, (._seq_no|type), has("_type")]' \
  '["docs","1",1,"created",0,1,"number",false]'
assert_eq "PUT new doc: Location" "/docs/_doc/1" "$(http_header Location)"

http GET /docs/_doc/1
assert_eq "GET doc: 200" 200 "$HTTP_STATUS"
assert_es_headers "GET doc"
assert_json "GET doc: metadata" '[._index, ._id, ._version, ._primary_term, (._seq_no|type), .found, has("_type")]' \
  '["docs","1",1,1,"number",true,false]'
assert_json "GET doc: _source" '._source' "$(printf '%s' "$src" | jq -c .)"
check "GET doc: _source embedded byte for byte" grep -qF -- "$src" <<<"$HTTP_BODY"

http GET /docs/_source/1
assert_eq "GET _source: 200" 200 "$HTTP_STATUS"
assert_es_headers "GET _source"
assert_eq "GET _source: the bytes as received" "$src" "$HTTP_BODY"

http HEAD /docs/_doc/1
assert_eq "HEAD doc: 200" 200 "$HTTP_STATUS"
assert_es_headers "HEAD doc"
assert_eq "HEAD doc: empty body" "" "$(head_body '/docs/_doc/1')"
http HEAD /docs/_source/1
assert_eq "HEAD _source: 200" 200 "$HTTP_STATUS"

http PUT /docs/_doc/1 '{"title":"second"}'
assert_eq "PUT existing doc: 200" 200 "$HTTP_STATUS"
assert_json "PUT existing doc: updated, version 2" '[.result, ._version]' '["updated",2]'
assert_eq "PUT existing doc: no Location" "" "$(http_header Location)"
http POST /docs/_doc/1 '{"title":"third"}'
assert_json "POST /_doc/{id} indexes too" '[.result, ._version]' '["updated",3]'
assert_eq "POST /_doc/{id} existing: 200" 200 "$HTTP_STATUS"

# A 2 MB document round-trips byte for byte.
printf '{"big":"%s","n":[%s1]}' "$(head -c 2000000 /dev/zero | tr '\0' z)" "$(printf '%.0s1,' $(seq 1 1000))" >"$T_DIR/big.json"
st=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' --data-binary @"$T_DIR/big.json" "$STORE_URL/docs/_doc/big")
assert_eq "PUT a 2 MB document: 201" 201 "$st"
curl -s -o "$T_DIR/big.out" "$STORE_URL/docs/_source/big"
check "GET _source of the 2 MB document: the same bytes" cmp -s "$T_DIR/big.json" "$T_DIR/big.out"

# ---- missing documents -------------------------------------------------------
http GET /docs/_doc/nope
assert_eq "GET missing doc: 404" 404 "$HTTP_STATUS"
assert_es_headers "GET missing doc"
assert_json "GET missing doc: found false, not an error" '{_index,_id,found}' '{"_index":"docs","_id":"nope","found":false}'
assert_json "GET missing doc: no error object" 'has("error")' false
http HEAD /docs/_doc/nope
assert_eq "HEAD missing doc: 404" 404 "$HTTP_STATUS"
assert_es_headers "HEAD missing doc"
assert_eq "HEAD missing doc: empty body" "" "$(head_body '/docs/_doc/nope')"
http GET /docs/_source/nope
assert_eq "GET _source of missing doc: 404" 404 "$HTTP_STATUS"
assert_json "GET _source of missing doc: resource_not_found_exception" .error.type '"resource_not_found_exception"'
http HEAD /docs/_source/nope
assert_eq "HEAD _source of missing doc: 404" 404 "$HTTP_STATUS"

# ---- auto ids ----------------------------------------------------------------
http POST /docs/_doc '{"auto":1}'
assert_eq "POST /_doc (auto id): 201" 201 "$HTTP_STATUS"
assert_json "auto id: created, version 1" '[.result, ._version]' '["created",1]'
id1=$(printf '%s' "$HTTP_BODY" | jq -r ._id)
assert_match "auto id: 20 URL-safe characters" '^[A-Za-z0-9_-]{20}$' "$id1"
assert_eq "auto id: Location names it" "/docs/_doc/$id1" "$(http_header Location)"
http POST /docs/_doc '{"auto":2}'
id2=$(printf '%s' "$HTTP_BODY" | jq -r ._id)
check "auto ids differ" test "$id1" != "$id2"
http GET "/docs/_doc/$id1"
assert_json "auto-id doc can be read back" '._source' '{"auto":1}'
http POST '/docs/_doc?version=3&version_type=external' '{"auto":3}'
assert_eq "auto id with an external version: 400" 400 "$HTTP_STATUS"
assert_json "auto id with an external version: reason" .error.reason \
  '"Validation Failed: 1: an id must be provided if version type or value are set;"'

# ---- create ------------------------------------------------------------------
for m in PUT POST; do
  http "$m" "/docs/_create/c$m" '{"c":1}'
  assert_eq "$m /_create new: 201" 201 "$HTTP_STATUS"
  assert_json "$m /_create new: created v1" '[.result, ._version]' '["created",1]'
  assert_eq "$m /_create new: Location" "/docs/_doc/c$m" "$(http_header Location)"
  http "$m" "/docs/_create/c$m" '{"c":2}'
  assert_eq "$m /_create existing: 409" 409 "$HTTP_STATUS"
  assert_es_headers "$m /_create existing"
  assert_json "$m /_create existing: reason" .error.reason "\"[c$m]: version conflict, document already exists (current version [1])\""
  assert_json "$m /_create existing: type and index" '[.error.type, .error.index, .status, .error.root_cause[0].type]' \
    '["version_conflict_engine_exception","docs",409,"version_conflict_engine_exception"]'
done
http PUT '/docs/_doc/cPUT?op_type=create' '{"c":3}'
assert_eq "op_type=create on existing: 409" 409 "$HTTP_STATUS"
http PUT '/docs/_doc/oc?op_type=create' '{"c":3}'
assert_eq "op_type=create on new: 201" 201 "$HTTP_STATUS"
http PUT '/docs/_doc/oc?op_type=index' '{"c":4}'
assert_json "op_type=index overwrites" '[.result, ._version]' '["updated",2]'
http GET /docs/_doc/cPUT
assert_json "a refused create left the document alone" '[._version, ._source.c]' '[1,1]'
http PUT '/docs/_create/cv?version=3' '{"c":1}'
assert_eq "_create with an explicit internal version: 400" 400 "$HTTP_STATUS"
assert_match "_create with an explicit version: reason" 'create operations do not support explicit versions. use index instead' "$(jqb .error.reason)"

# ---- ids in URLs -------------------------------------------------------------
http PUT '/docs/_doc/a%20b' '{"sp":1}'
assert_eq "id with an escaped space: 201" 201 "$HTTP_STATUS"
assert_json "id with an escaped space: decoded in the body" ._id '"a b"'
assert_match "id with an escaped space: Location re-encodes it" '^/docs/_doc/a(%20|\+)b$' "$(http_header Location)"
http GET '/docs/_doc/a%20b'
assert_json "id with an escaped space reads back" '._source' '{"sp":1}'

http PUT '/docs/_doc/%C3%A9t%C3%A9' '{"u":1}'
assert_json "a UTF-8 id is decoded" ._id '"été"'
assert_eq "a UTF-8 id is percent-encoded in Location" "/docs/_doc/%C3%A9t%C3%A9" "$(http_header Location)"
http PUT '/docs/_doc/routed?routing=r1' '{"r":1}'
assert_eq "a routed create: Location carries ?routing=" "/docs/_doc/routed?routing=r1" "$(http_header Location)"

# ---- read parameters ---------------------------------------------------------
http PUT /docs/_doc/r '{"a":1,"q":{"c":2},"d":"x"}'
http PUT /docs/_doc/r '{"a":1,"q":{"c":2},"d":"y"}'
http GET '/docs/_doc/r?_source=false'
assert_json "_source=false: no _source" '[.found, has("_source")]' '[true,false]'
http GET '/docs/_doc/r?_source=true'
assert_json "_source=true: full source" '._source' '{"a":1,"q":{"c":2},"d":"y"}'
http GET '/docs/_doc/r?_source=a,d'
assert_json "_source=a,d: only those fields" '._source' '{"a":1,"d":"y"}'
http GET '/docs/_doc/r?_source=q.c'
assert_json "_source=q.c: a dotted path selects inside objects" '._source' '{"q":{"c":2}}'
http GET '/docs/_source/r?_source=a'
assert_json "GET _source with _source=a" '.' '{"a":1}'
http GET '/docs/_doc/r?version=2'
assert_eq "GET with the current version: 200" 200 "$HTTP_STATUS"
http GET '/docs/_doc/r?version=1'
assert_eq "GET with another version: 409" 409 "$HTTP_STATUS"
assert_json "GET with another version: reason" .error.reason '"[r]: version conflict, current version [2] is different than the one provided [1]"'
http GET '/docs/_doc/r?version=10&version_type=external'
assert_eq "GET with version_type=external means equality too: 409" 409 "$HTTP_STATUS"
http GET '/docs/_doc/r?version=2&version_type=external'
assert_eq "GET with version_type=external and the current version: 200" 200 "$HTTP_STATUS"
http HEAD '/docs/_doc/r?version=1'
assert_eq "HEAD with another version: 409" 409 "$HTTP_STATUS"
http GET '/docs/_doc/missing?version=3'
assert_eq "GET a missing doc with a version: 404" 404 "$HTTP_STATUS"
http POST /docs/_refresh
http GET '/docs/_doc/r?realtime=false'
assert_json "realtime=false after a refresh reads the doc" '[.found, ._version]' '[true,2]'
http GET '/docs/_doc/r?realtime=true'
assert_json "realtime=true reads the doc" '[.found, ._version]' '[true,2]'

# ---- refresh on writes ---------------------------------------------------------
http PUT '/docs/_doc/f1?refresh=true' '{"f":1}'
assert_json "refresh=true: forced_refresh" .forced_refresh true
http PUT '/docs/_doc/f2?refresh=' '{"f":1}'
assert_json "refresh= (empty): forced_refresh" .forced_refresh true
http PUT '/docs/_doc/f3?refresh=false' '{"f":1}'
assert_json "refresh=false: no forced_refresh" 'has("forced_refresh")' false
http PUT '/docs/_doc/f4?refresh=wait_for' '{"f":1}'
assert_eq "refresh=wait_for: 201" 201 "$HTTP_STATUS"
assert_json "refresh=wait_for: no forced_refresh" 'has("forced_refresh")' false
http PUT '/docs/_doc/f5?refresh=soon' '{"f":1}'
assert_eq "refresh=soon: 400" 400 "$HTTP_STATUS"
assert_json "refresh=soon: reason" .error.reason '"Unknown value for refresh: [soon]."'
http GET /docs/_doc/f5
assert_eq "a refused refresh value wrote nothing" 404 "$HTTP_STATUS"
http DELETE '/docs/_doc/f1?refresh=true'
assert_json "DELETE with refresh=true: forced_refresh" '[.result, .forced_refresh]' '["deleted",true]'

# ---- content types -------------------------------------------------------------
http PUT /docs/_doc/ct1 '{"ct":1}' 'application/vnd.elasticsearch+json; compatible-with=8'
assert_eq "Content-Type vnd.elasticsearch+json; compatible-with=8 accepted" 201 "$HTTP_STATUS"
assert_es_headers "vnd.elasticsearch+json request"
http PUT /docs/_doc/ct2 '{"ct":2}' 'application/json; charset=UTF-8'
assert_eq "Content-Type application/json; charset=UTF-8 accepted" 201 "$HTTP_STATUS"
http PUT /docs/_doc/ct3 '{"ct":3}' 'application/vnd.elasticsearch+json;compatible-with=7'
assert_eq "Content-Type compatible-with=7 accepted" 201 "$HTTP_STATUS"

# ES 8 clients send both headers on every request, reads included.
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.elasticsearch+json; compatible-with=8' \
  -H 'Content-Type: application/vnd.elasticsearch+json; compatible-with=8' "$STORE_URL/docs/_doc/ct1")
assert_eq "GET with the ES 8 client's Accept and Content-Type: 200" 200 "$st"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.elasticsearch+json; compatible-with=8' \
  -H 'Content-Type: application/vnd.elasticsearch+x-ndjson; compatible-with=8' --data-binary $'{"index":{"_index":"docs","_id":"ct4"}}\n{"ct":4}\n' \
  "$STORE_URL/_bulk")
assert_eq "_bulk with the ES 8 client's headers: 200" 200 "$st"

# ---- delete ------------------------------------------------------------------
http DELETE /docs/_doc/1
assert_eq "DELETE existing: 200" 200 "$HTTP_STATUS"
assert_es_headers "DELETE existing"
assert_json "DELETE existing: deleted, version +1" '[._index, ._id, .result, ._version, ._primary_term, (._seq_no|type)]' \
  '["docs","1","deleted",4,1,"number"]'
http GET /docs/_doc/1
assert_eq "deleted doc is gone" 404 "$HTTP_STATUS"
http DELETE /docs/_doc/1
assert_eq "DELETE again: 404" 404 "$HTTP_STATUS"
assert_json "DELETE again: a write body, not_found, the tombstone's version +1" '[.result, ._version, has("error")]' '["not_found",5,false]'
http DELETE /docs/_doc/never
assert_eq "DELETE never-seen doc: 404" 404 "$HTTP_STATUS"
assert_es_headers "DELETE never-seen doc"
assert_json "DELETE never-seen doc: not_found, version 1, a seq_no" '[.result, ._version, (._seq_no|type), ._index, ._id]' \
  '["not_found",1,"number","docs","never"]'
http PUT /docs/_doc/never '{"back":1}'
assert_eq "index after a delete tombstone: 201" 201 "$HTTP_STATUS"
assert_json "index after a delete tombstone: created, the version continues" '[.result, ._version]' '["created",2]'

# ---- _update -----------------------------------------------------------------
http PUT /docs/_doc/u '{"a":1,"o":{"x":1},"keep":"k"}'
http POST /docs/_update/u '{"doc":{"o":{"y":2},"b":2}}'
assert_eq "_update partial doc: 200" 200 "$HTTP_STATUS"
assert_es_headers "_update"
assert_json "_update partial doc: updated v2" '[._index, ._id, .result, ._version]' '["docs","u","updated",2]'
http GET /docs/_doc/u
assert_json "_update merges objects recursively" '._source' '{"a":1,"o":{"x":1,"y":2},"keep":"k","b":2}'
http GET /docs/_doc/u
seq_before=$(printf '%s' "$HTTP_BODY" | jq ._seq_no)
http POST /docs/_update/u '{"doc":{"a":1}}'
assert_eq "_update with nothing new: 200" 200 "$HTTP_STATUS"
assert_json "_update with nothing new: noop, version unchanged" '[.result, ._version]' '["noop",2]'
http GET /docs/_doc/u
assert_json "noop left version and seq_no alone" '[._version, ._seq_no]' "[2,$seq_before]"
http POST /docs/_update/u '{"doc":{"a":1},"detect_noop":false}'
assert_json "_update with detect_noop=false writes" '[.result, ._version]' '["updated",3]'
http POST /docs/_update/nodoc '{"doc":{"a":1}}'
assert_eq "_update of a missing doc: 404" 404 "$HTTP_STATUS"
assert_json "_update of a missing doc: document_missing_exception" '[.error.type, .error.reason]' \
  '["document_missing_exception","[nodoc]: document missing"]'
http GET /docs/_doc/nodoc
assert_eq "_update of a missing doc created nothing" 404 "$HTTP_STATUS"
http POST /docs/_update/ups1 '{"doc":{"a":1},"doc_as_upsert":true}'
assert_eq "doc_as_upsert on a missing doc: 201" 201 "$HTTP_STATUS"
assert_json "doc_as_upsert on a missing doc: created v1" '[.result, ._version]' '["created",1]'
http GET /docs/_doc/ups1
assert_json "doc_as_upsert stored the doc" '._source' '{"a":1}'
http POST /docs/_update/ups1 '{"doc":{"b":2},"doc_as_upsert":true}'
assert_json "doc_as_upsert on an existing doc merges" '[.result, ._version]' '["updated",2]'
http GET /docs/_doc/ups1
assert_json "doc_as_upsert merge result" '._source' '{"a":1,"b":2}'
http POST /docs/_update/ups2 '{"doc":{"d":1},"upsert":{"u":1}}'
assert_eq "upsert on a missing doc: 201" 201 "$HTTP_STATUS"
http GET /docs/_doc/ups2
assert_json "upsert on a missing doc stores the upsert body" '._source' '{"u":1}'
http POST /docs/_update/ups2 '{"doc":{"d":1},"upsert":{"u":2}}'
assert_json "upsert on an existing doc applies doc" '[.result, ._version]' '["updated",2]'
http GET /docs/_doc/ups2
assert_json "upsert on an existing doc: merged source" '._source' '{"u":1,"d":1}'
http PUT /docs/_doc/gone '{"a":1}'
http DELETE /docs/_doc/gone
http POST /docs/_update/gone '{"doc":{"a":2}}'
assert_eq "_update of a deleted doc: 404" 404 "$HTTP_STATUS"
assert_json "_update of a deleted doc: document_missing_exception" .error.type '"document_missing_exception"'
http POST /docs/_update/gone '{"doc":{"a":3},"doc_as_upsert":true}'
assert_json "doc_as_upsert over a tombstone: created, the version continues" '[.result, ._version]' '["created",3]'
http POST '/docs/_update/u?version=3' '{"doc":{"a":9}}'
assert_eq "_update with version: 400" 400 "$HTTP_STATUS"
assert_json "_update with version: reason" .error.reason \
  '"Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead;"'
http POST '/docs/_update/u?version=9&version_type=external' '{"doc":{"a":9}}'
assert_eq "_update with an external version: 400" 400 "$HTTP_STATUS"
http POST /docs/_update/u '{"dac":{"a":9}}'
assert_eq "_update with an unknown body key: 400" 400 "$HTTP_STATUS"
http POST /docs/_update/u '{"doc":{"a":'
assert_eq "_update with malformed JSON: 400" 400 "$HTTP_STATUS"
http GET /docs/_doc/u
assert_json "refused updates left the doc alone" '[._version, ._source.a]' '[3,1]'

# ---- _mget -------------------------------------------------------------------
http PUT /docs2/_doc/m1 '{"m":1}'
mget='{"docs":[{"_index":"docs","_id":"r"},{"_index":"docs2","_id":"m1"},{"_index":"docs","_id":"zz"}]}'
for m in POST PUT; do
  http "$m" /_mget "$mget"
  assert_eq "$m /_mget: 200" 200 "$HTTP_STATUS"
  assert_es_headers "$m /_mget"
  assert_json "$m /_mget: docs in request order" '[.docs[] | [._index, ._id, .found, ._version]]' \
    '[["docs","r",true,2],["docs2","m1",true,1],["docs","zz",false,null]]'
  assert_json "$m /_mget: sources" '[.docs[]._source]' '[{"a":1,"d":"y","q":{"c":2}},{"m":1},null]'
done
http POST /docs/_mget '{"ids":["r","zz","u"]}'
assert_json "/{index}/_mget with ids" '[.docs[] | [._index, ._id, .found]]' '[["docs","r",true],["docs","zz",false],["docs","u",true]]'
http POST /docs/_mget '{"docs":[{"_id":"r","_source":false},{"_id":"u","_source":["keep"]}]}'
assert_json "/{index}/_mget: default index and per-doc _source" '[.docs[0].found, (.docs[0]|has("_source")), .docs[1]._source]' \
  '[true,false,{"keep":"k"}]'
http POST /_mget '{"docs":[{"_index":"nosuchindex","_id":"1"}]}'
assert_eq "_mget naming a missing index: still 200" 200 "$HTTP_STATUS"
assert_json "_mget naming a missing index: entry not found or error" '.docs[0] | ((.found == false) or (.error != null))' true
http POST /_mget '{"docs":[]}'
assert_eq "_mget with no docs: 400" 400 "$HTTP_STATUS"
assert_json "_mget with no docs: validation error" .error.type '"action_request_validation_exception"'
http POST /_mget '{"docs":'
assert_eq "_mget with malformed JSON: 400" 400 "$HTTP_STATUS"

http GET /
check "verstore still answers" test "$HTTP_STATUS" = 200
check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
