#!/usr/bin/env bash
# verstore against a hostile client, names side (issue 19 items 1, 2 and 15):
# a NUL inside a JSON string never cuts a name, id or enumerated value short
# (the request acts on exactly what was named, or is refused); duplicate keys
# in a _bulk action line are refused; keyword values up to 32 766 bytes are
# searchable in every exact-value query, longer ones are refused unless
# ignore_above skips them; field paths of any length are indexed.
# Loopback only, a bounded number of small requests.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# ---- item 1: NUL bytes in JSON names -----------------------------------------
http PUT /victim
http PUT /victim/_doc/5 '{"a":1}'
http POST /_aliases '{"actions":[{"remove_index":{"index":"victim\u0000x"}}]}'
assert_eq "remove_index of victim\\u0000x: 404, not a deletion of victim" 404 "$HTTP_STATUS"
assert_json "remove_index of victim\\u0000x: index_not_found_exception" .error.type '"index_not_found_exception"'
http HEAD /victim
assert_eq "victim still exists" 200 "$HTTP_STATUS"

http POST /_aliases '{"actions":[{"add":{"index":"victim","alias":"al\u0000x"}}]}'
assert_eq "alias al\\u0000x: 400" 400 "$HTTP_STATUS"
assert_json "alias al\\u0000x: invalid_alias_name_exception" .error.type '"invalid_alias_name_exception"'
http HEAD /_alias/al
assert_eq "no alias 'al' was created" 404 "$HTTP_STATUS"
http POST /_aliases '{"actions":[{"add":{"index":"victim\u0000","alias":"al"}}]}'
assert_eq "add on index victim\\u0000: 404" 404 "$HTTP_STATUS"
http HEAD /_alias/al
assert_eq "still no alias 'al'" 404 "$HTTP_STATUS"
http POST /_aliases '{"actions":[{"add":{"index":"victim","alias":"al\\u0000x"}}]}'
assert_eq "an escaped backslash before u0000 is no NUL: the name has a backslash (400)" 400 "$HTTP_STATUS"
assert_match "  ... refused for its backslash" 'must not contain the following characters' "$(jqb .error.reason)"

http PUT /jz
http PUT /jz/_doc/1 '{"a":1}'
http POST /_bulk $'{"delete":{"_index":"jz\\u0000zzz","_id":"1"}}\n'
assert_json "bulk delete from jz\\u0000zzz: the item fails with index_not_found" \
  '.items[0].delete | [.status, .error.type]' '[404,"index_not_found_exception"]'
http GET /jz/_doc/1
assert_eq "jz/_doc/1 was not deleted" 200 "$HTTP_STATUS"
http POST /_bulk $'{"index":{"_index":"jz\\u0000zzz","_id":"2"}}\n{"a":1}\n'
assert_json "bulk index into jz\\u0000zzz: invalid_index_name_exception" \
  '.items[0].index | [.status, .error.type]' '[400,"invalid_index_name_exception"]'
http GET /jz/_doc/2
assert_eq "nothing written to jz" 404 "$HTTP_STATUS"
http POST /_bulk $'{"index":{"_index":"jz","_id":"3","version":5,"version_type":"external\\u0000x"}}\n{"a":1}\n'
assert_eq "bulk version_type external\\u0000x: 400" 400 "$HTTP_STATUS"
assert_json "bulk version_type external\\u0000x: illegal_argument_exception" .error.type '"illegal_argument_exception"'
http GET /jz/_doc/3
assert_eq "nothing written with the cut version_type" 404 "$HTTP_STATUS"
http POST /_bulk $'{"index":{"_index":"jz","_id":"4","op_type":"create\\u0000"}}\n{"a":1}\n'
assert_eq "bulk op_type create\\u0000: 400" 400 "$HTTP_STATUS"

# ids are bytes: "5\u0000x" is its own id, never document 5
http POST /_mget '{"docs":[{"_index":"victim","_id":"5\u0000x"}]}'
assert_json "_mget _id 5\\u0000x: not found (not document 5)" '.docs[0].found' false
http POST /victim/_mget '{"ids":["5\u0000x","5"]}'
assert_json "_mget ids [5\\u0000x, 5]: only the real 5 is found" '[.docs[].found]' '[false,true]'
http PUT '/victim/_doc/6%00x' '{"b":1}'
assert_eq "a document id with an encoded NUL in the path: created" 201 "$HTTP_STATUS"
http POST /victim/_mget '{"ids":["6\u0000x","6"]}'
assert_json "_mget finds 6\\u0000x exactly, and 6 is another document" '[.docs[].found]' '[true,false]'
http POST /_mget '{"docs":[{"_index":"victim\u0000y","_id":"5"}]}'
assert_json "_mget _index victim\\u0000y: that index does not exist" '.docs[0].error.type' '"index_not_found_exception"'

# ---- item 15: duplicate keys in a bulk action line ------------------------------
http POST /_bulk $'{"index":{"_index":"jz","_id":"7","_index":"victim"}}\n{"a":1}\n'
assert_eq "duplicate _index in an action line: 400" 400 "$HTTP_STATUS"
assert_json "duplicate _index: x_content_parse_exception naming the field" '[.error.type, (.error.reason | test("Duplicate field ._index."))]' '["x_content_parse_exception",true]'
http POST /_bulk $'{"delete":{"_index":"jz","_id":"1","_id":"2"}}\n'
assert_eq "duplicate _id in an action line: 400" 400 "$HTTP_STATUS"
http GET /jz/_doc/1
assert_eq "the refused bulk deleted nothing" 200 "$HTTP_STATUS"
http POST /_bulk $'{"update":{"_index":"jz","_id":"1","retry_on_conflict":"abc"}}\n{"doc":{"b":1}}\n'
assert_eq "retry_on_conflict abc in an action line: 400" 400 "$HTTP_STATUS"
http POST /_bulk $'{"index":{"_index":"jz","_id":"8","pipeline":"p"}}\n{"a":1}\n'
assert_json "pipeline in an action line: that item fails" '.items[0].index | [.status, .error.type]' '[400,"illegal_argument_exception"]'

# ---- item 2: long keyword values and long field paths ---------------------------
http PUT /kw '{"mappings":{"properties":{"k":{"type":"keyword"},"s":{"type":"keyword","ignore_above":1000}}}}'
A600=$(printf 'a%.0s' $(seq 600)); B601="${A600}b"; C32766=$(head -c 32766 /dev/zero | tr '\0' c); C32767="${C32766}c"
http PUT '/kw/_doc/1?refresh=true' "{\"k\":\"$A600\"}"
assert_eq "a 600-byte keyword: indexed" 201 "$HTTP_STATUS"
http PUT '/kw/_doc/2?refresh=true' "{\"k\":\"$B601\"}"
http PUT '/kw/_doc/3?refresh=true' "{\"k\":\"$C32766\"}"
assert_eq "a 32 766-byte keyword: indexed" 201 "$HTTP_STATUS"
http PUT '/kw/_doc/4?refresh=true' '{"k":"b"}'
http PUT '/kw/_doc/5?refresh=true' "{\"k\":\"$C32767\"}"
assert_eq "a 32 767-byte keyword: 400" 400 "$HTTP_STATUS"
assert_json "a 32 767-byte keyword: Lucene's immense-term error" \
  '[.error.type, (.error.reason | test("immense term in field=\"k\".*got 32767"))]' '["illegal_argument_exception",true]'
http PUT '/kw/_doc/6?refresh=true' "{\"s\":\"$C32767\"}"
assert_eq "over ignore_above: accepted, the value is skipped" 201 "$HTTP_STATUS"
http POST /kw/_search "{\"query\":{\"term\":{\"k\":\"$A600\"}}}"
assert_json "term finds a 600-byte value" '[.hits.hits[]._id]' '["1"]'
http POST /kw/_search "{\"query\":{\"term\":{\"k\":\"$B601\"}}}"
assert_json "term tells two long values with a common 600-byte prefix apart" '[.hits.hits[]._id]' '["2"]'
http POST /kw/_search "{\"query\":{\"terms\":{\"k\":[\"$C32766\",\"b\"]}}}"
assert_json "terms finds a 32 766-byte value" '[.hits.hits[]._id] | sort' '["3","4"]'
http POST /kw/_search '{"query":{"prefix":{"k":"aaaa"}}}'
assert_json "prefix finds long values" '[.hits.hits[]._id] | sort' '["1","2"]'
http POST /kw/_search "{\"query\":{\"range\":{\"k\":{\"gt\":\"$A600\",\"lte\":\"$B601\"}}}}"
assert_json "range with long bounds" '[.hits.hits[]._id]' '["2"]'
http POST /kw/_search '{"query":{"range":{"k":{"gte":"b"}}}}'
assert_json "range with a short bound sees long values" '[.hits.hits[]._id] | sort' '["3","4"]'
http POST /kw/_search '{"query":{"wildcard":{"k":"a*b"}}}'
assert_json "wildcard sees long values" '[.hits.hits[]._id]' '["2"]'
http POST /kw/_search '{"size":0,"aggs":{"t":{"terms":{"field":"k","size":10}}}}'
assert_json "terms aggregation counts long values" '[.aggregations.t.buckets[] | .key | length] | sort' '[1,600,601,32766]'
http POST /kw/_search '{"sort":[{"k":"asc"}],"_source":false}'
assert_json "sort orders long values" '[.hits.hits[]._id]' '["1","2","4","3","6"]'
http POST /kw/_search '{"query":{"exists":{"field":"s"}}}'
assert_json "a value over ignore_above is not indexed" '.hits.total.value' 0
http DELETE '/kw/_doc/2?refresh=true'
http POST /kw/_search "{\"query\":{\"term\":{\"k\":\"$B601\"}}}"
assert_json "a deleted long value is gone" '.hits.total.value' 0
http POST /kw/_search "{\"query\":{\"term\":{\"k\":\"$A600\"}}}"
assert_json "the other long value is still there" '[.hits.hits[]._id]' '["1"]'
F600=$(printf 'f%.0s' $(seq 600))
http PUT '/kw/_doc/7?refresh=true' "{\"o\":{\"$F600\":\"x\"}}"
http POST /kw/_search "{\"query\":{\"term\":{\"o.$F600\":\"x\"}}}"
assert_json "a 602-byte field path is indexed" '[.hits.hits[]._id]' '["7"]'
http POST /kw/_search "{\"query\":{\"exists\":{\"field\":\"o.$F600\"}}}"
assert_json "exists on a long field path" '[.hits.hits[]._id]' '["7"]'

done_testing
