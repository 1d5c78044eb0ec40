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

done_testing
