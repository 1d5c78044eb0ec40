#!/usr/bin/env bash
# verstore _bulk: the four actions, per-item outcomes (409, not_found, errors
# flag), all-or-nothing validation, the NDJSON framing rules, and the endpoints.
. "$(dirname "$0")/lib.sh"
ND=application/x-ndjson

check "verstore starts" verstore_start || { done_testing; exit 1; }

# ---- the four actions ----------------------------------------------------------
body='{"index":{"_index":"bk","_id":"1"}}
{"a":1}
{"create":{"_index":"bk","_id":"2"}}
{"b":2}
{"update":{"_index":"bk","_id":"1"}}
{"doc":{"c":3}}
{"delete":{"_index":"bk","_id":"2"}}
{"index":{"_index":"bk","_id":"3","version":7,"version_type":"external"}}
{"e":7}
'
http POST /_bulk "$body" $ND
assert_eq "bulk of index/create/update/delete: 200" 200 "$HTTP_STATUS"
assert_es_headers "POST /_bulk"
assert_json "bulk: errors false" .errors false
assert_json "bulk: took is a number" '.took | type' '"number"'
assert_json "bulk: items in order with their action keys" '[.items[] | keys[0]]' '["index","create","update","delete","index"]'
assert_json "bulk: item statuses" '[.items[][] | .status]' '[201,201,200,200,201]'
assert_json "bulk: item results" '[.items[][] | .result]' '["created","created","updated","deleted","created"]'
assert_json "bulk: item versions" '[.items[][] | ._version]' '[1,1,2,2,7]'
assert_json "bulk: item index/id" '[.items[][] | "\(._index)/\(._id)"]' '["bk/1","bk/2","bk/1","bk/2","bk/3"]'
assert_json "bulk: items carry seq_no 0..4 (one per write)" '[.items[][] | ._seq_no]' '[0,1,2,3,4]'
assert_json "bulk: items carry _primary_term 1" '[.items[][] | ._primary_term] | unique' '[1]'
http GET /bk/_doc/1
assert_json "bulk update merged into doc 1" '[._version, ._source]' '[2,{"a":1,"c":3}]'
http GET /bk/_doc/2
assert_eq "bulk delete removed doc 2" 404 "$HTTP_STATUS"
http GET /bk/_doc/3
assert_json "bulk external index stored version 7" '[._version, ._source]' '[7,{"e":7}]'

# ---- per-item failures -----------------------------------------------------------
body='{"index":{"_index":"bk","_id":"3","version":7,"version_type":"external"}}
{"e":"stale"}
{"index":{"_index":"bk","_id":"4","version":1,"version_type":"external"}}
{"f":1}
{"delete":{"_index":"bk","_id":"nope"}}
{"create":{"_index":"bk","_id":"1"}}
{"x":1}
{"update":{"_index":"bk","_id":"ghost"}}
{"doc":{"x":1}}
'
http POST /_bulk "$body" $ND
assert_eq "bulk with failing items: still 200" 200 "$HTTP_STATUS"
assert_json "bulk with failing items: errors true" .errors true
assert_json "bulk with failing items: statuses" '[.items[][] | .status]' '[409,201,404,409,404]'
assert_json "stale external item: the 409 error" '.items[0].index | [._index, ._id, .error.type, .error.reason, .error.index, (.error.shard|type), (.error.index_uuid|type)]' \
  '["bk","3","version_conflict_engine_exception","[3]: version conflict, current version [7] is higher or equal to the one provided [7]","bk","string","string"]'
assert_json "delete of a missing doc: not_found, not an error" '.items[2].delete | [.result, has("error"), ._version]' '["not_found",false,1]'
assert_json "create of an existing doc: item key create, 409" '.items[3].create | [.status, .error.type, .error.reason]' \
  '[409,"version_conflict_engine_exception","[1]: version conflict, document already exists (current version [2])"]'
assert_json "update of a missing doc: document_missing_exception" '.items[4].update | [.status, .error.type]' '[404,"document_missing_exception"]'
http GET /bk/_doc/4
assert_json "the good item beside the failures was applied" '[._version, ._source]' '[1,{"f":1}]'
http GET /bk/_doc/3
assert_json "the stale item changed nothing" '._source' '{"e":7}'

body='{"delete":{"_index":"bk","_id":"nope2"}}
{"index":{"_index":"bk","_id":"5"}}
{"g":1}
'
http POST /_bulk "$body" $ND
assert_json "not_found deletes alone do not set errors" '[.errors, .items[0].delete.status, .items[0].delete.result]' '[false,404,"not_found"]'

body='{"index":{"_index":"bk","_id":""}}
{"h":1}
{"index":{"_index":"bk","_id":"6"}}
{"h":2}
'
http POST /_bulk "$body" $ND
assert_eq "bulk with an empty _id: 200" 200 "$HTTP_STATUS"
assert_json "empty _id: that item fails with 400, the other is applied" '[.errors, .items[0].index.status, .items[1].index.status]' '[true,400,201]'

# ---- op_type, upserts, deletes with versions ------------------------------------
body='{"index":{"_index":"bk","_id":"7","op_type":"create"}}
{"i":1}
{"index":{"_index":"bk","_id":"7","op_type":"create"}}
{"i":2}
{"update":{"_index":"bk","_id":"8"}}
{"doc":{"j":1},"doc_as_upsert":true}
{"update":{"_index":"bk","_id":"9"}}
{"doc":{"k":1},"upsert":{"k":0}}
{"update":{"_index":"bk","_id":"8"}}
{"doc":{"j":1}}
{"delete":{"_index":"bk","_id":"3","version":6,"version_type":"external"}}
{"delete":{"_index":"bk","_id":"3","version":8,"version_type":"external"}}
'
http POST /_bulk "$body" $ND
assert_json "op_type create in meta: item key create" '[.items[0], .items[1] | keys[0]]' '["create","create"]'
assert_json "op_type create twice: 201 then 409" '[.items[0].create.status, .items[1].create.status]' '[201,409]'
assert_json "bulk doc_as_upsert creates" '.items[2].update | [.status, .result]' '[201,"created"]'
assert_json "bulk upsert creates from upsert" '.items[3].update | [.status, .result]' '[201,"created"]'
assert_json "bulk noop update" '.items[4].update | [.status, .result, ._version]' '[200,"noop",1]'
assert_json "bulk stale external delete: 409" '.items[5].delete | [.status, .error.type]' '[409,"version_conflict_engine_exception"]'
assert_json "bulk newer external delete: deleted" '.items[6].delete | [.status, .result, ._version]' '[200,"deleted",8]'
http GET /bk/_doc/9
assert_json "bulk upsert stored the upsert doc" '._source' '{"k":0}'

# ---- endpoints, content types, framing ------------------------------------------
body='{"index":{"_id":"d1"}}
{"d":1}
{"index":{"_index":"bk2","_id":"d2"}}
{"d":2}
'
http POST /bkdef/_bulk "$body" $ND
assert_json "/{index}/_bulk: default index, overridable" '[.items[].index | "\(._index)/\(._id)/\(.status)"]' '["bkdef/d1/201","bk2/d2/201"]'
http PUT /_bulk '{"index":{"_index":"bk","_id":"p1"}}
{"p":1}
' $ND
assert_eq "PUT /_bulk: 200" 200 "$HTTP_STATUS"
assert_json "PUT /_bulk applied" '.items[0].index.status' 201
http PUT /bk/_bulk '{"index":{"_id":"p2"}}
{"p":2}
' $ND
assert_json "PUT /{index}/_bulk applied" '.items[0].index | [._index, .status]' '["bk",201]'
http POST /_bulk '{"index":{"_index":"bk","_id":"j1"}}
{"p":1}
' application/json
assert_json "bulk sent as application/json is accepted" '.items[0].index.status' 201
http POST /_bulk '{"index":{"_index":"bk","_id":"j2"}}
{"p":1}
' 'application/vnd.elasticsearch+x-ndjson; compatible-with=8'
assert_json "bulk sent as vnd.elasticsearch+x-ndjson is accepted" '.items[0].index.status' 201
http POST /_bulk $'{"index":{"_index":"bk","_id":"cr1"}}\r\n{"cr":1}\r\n\n\n{"index":{"_index":"bk","_id":"cr2"}}\r\n{"cr":2}\r\n' $ND
assert_eq "CRLF lines and empty lines: 200" 200 "$HTTP_STATUS"
assert_json "CRLF lines and empty lines: both items applied" '[.errors, [.items[].index.status]]' '[false,[201,201]]'
http GET /bk/_doc/cr2
assert_json "CRLF: the source has no stray CR" '._source' '{"cr":2}'
http POST '/_bulk?refresh=true' '{"index":{"_index":"bk","_id":"r1"}}
{"r":1}
' $ND
assert_eq "bulk with refresh=true: 200" 200 "$HTTP_STATUS"

# Items of one bulk see the items before them (one transaction, in order).
body='{"index":{"_index":"bkseq","_id":"s","version":1,"version_type":"external"}}
{"s":1}
{"index":{"_index":"bkseq","_id":"s","version":3,"version_type":"external"}}
{"s":3}
{"index":{"_index":"bkseq","_id":"s","version":2,"version_type":"external"}}
{"s":2}
{"delete":{"_index":"bkseq","_id":"s","version":4,"version_type":"external"}}
{"create":{"_index":"bkseq","_id":"s"}}
{"s":5}
{"create":{"_index":"bkseq","_id":"s"}}
{"s":6}
'
http POST /_bulk "$body" $ND
assert_json "same id repeated in one bulk: outcomes in order" '[.items[][] | [.status, ._version]]' \
  '[[201,1],[200,3],[409,null],[200,4],[201,5],[409,null]]'
assert_json "same id repeated in one bulk: seq_no 0..3 for the four writes" '[.items[][] | ._seq_no | select(. != null)]' '[0,1,2,3]'
http GET /bkseq/_doc/s
assert_json "same id repeated in one bulk: the create after the delete won" '[._version, ._source]' '[5,{"s":5}]'

# A large bulk: every item answered, in order.
big=$(for i in $(seq 1 20000); do printf '{"index":{"_id":"g%d","version":%d,"version_type":"external"}}\n{"i":%d}\n' "$i" "$i" "$i"; done)
http POST /bkbig/_bulk "$big
" $ND
assert_json "20000-item bulk: all applied, in order" '[.errors, (.items | length), .items[0].index._id, .items[19999].index._id, ([.items[].index.status] | unique)]' \
  '[false,20000,"g1","g20000",[201]]'
http GET /bkbig/_doc/g20000
assert_json "20000-item bulk: last doc readable" '[._version, ._source.i]' '[20000,20000]'

# Sources from a bulk are stored byte for byte too (a CR before the newline is framing).
raw_src='{ "b" :  [1, 2.50, 3],"s":"caf\u00e9","o":{"z":null} }'
http POST /_bulk "$(printf '{"index":{"_index":"bk","_id":"raw"}}\n%s\r' "$raw_src")"$'\n' $ND
assert_json "bulk with an odd-spaced source: applied" '.items[0].index.status' 201
http GET /bk/_source/raw
assert_eq "bulk source kept byte for byte" "$raw_src" "$HTTP_BODY"

# ---- whole-request failures: nothing is applied ---------------------------------
assert_nothing_written() { # DESC ID…
  local desc=$1 id; shift
  for id in "$@"; do
    http GET "/bkv/_doc/$id"
    assert_eq "$desc: $id was not written" 404 "$HTTP_STATUS"
  done
}

body='{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"index":{"_index":"bkv","_id":"v2","version_type":"external"}}
{"bad":1}
'
http POST /_bulk "$body" $ND
assert_eq "bulk validation (external without version): 400" 400 "$HTTP_STATUS"
assert_es_headers "bulk validation failure"
assert_json "bulk validation: reason" '[.error.type, .error.reason]' \
  '["action_request_validation_exception","Validation Failed: 1: illegal version value [-3] for version type [EXTERNAL];"]'
assert_nothing_written "bulk validation failure" v1 v2

body='{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"index":{"_index":"bkv","_id":"v2","version":-4,"version_type":"external"}}
{"bad":1}
{"create":{"_index":"bkv","_id":"v3","version":3,"version_type":"external"}}
{"bad":1}
'
http POST /_bulk "$body" $ND
assert_eq "bulk with two invalid items: 400" 400 "$HTTP_STATUS"
assert_json "bulk with two invalid items: every message, numbered" .error.reason \
  '"Validation Failed: 1: illegal version value [-4] for version type [EXTERNAL];2: create operations only support internal versioning. use index instead;"'
assert_nothing_written "two invalid items" v1 v2 v3

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}' $ND
assert_eq "bulk without the final newline: 400" 400 "$HTTP_STATUS"
assert_json "bulk without the final newline: reason" '[.error.type, .error.reason]' \
  '["illegal_argument_exception","The bulk request must be terminated by a newline [\\n]"]'
assert_nothing_written "missing final newline" v1

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"index":{"_index":"bkv","_id":"v2","foo":1}}
{"ok":2}
' $ND
assert_eq "bulk with an unknown meta key: 400" 400 "$HTTP_STATUS"
assert_json "bulk with an unknown meta key: reason" '[.error.type, .error.reason]' \
  '["illegal_argument_exception","Action/metadata line [3] contains an unknown parameter [foo]"]'
assert_nothing_written "unknown meta key" v1 v2

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1","_version":3}}
{"ok":1}
' $ND
assert_eq "bulk with the 6.x key _version: 400" 400 "$HTTP_STATUS"
assert_json "bulk with _version: reason" .error.reason '"Action/metadata line [1] contains an unknown parameter [_version]"'

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"update":{"_index":"bkv","_id":"v2","version":3,"version_type":"external"}}
{"doc":{"a":1}}
' $ND
assert_eq "bulk update with a version: 400" 400 "$HTTP_STATUS"
assert_json "bulk update with a version: reason" '[.error.type, .error.reason]' \
  '["illegal_argument_exception","Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead"]'
assert_nothing_written "update with a version" v1

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"upsert":{"_index":"bkv","_id":"v2"}}
{"ok":2}
' $ND
assert_eq "bulk with an unknown action: 400" 400 "$HTTP_STATUS"
assert_nothing_written "unknown action" v1 v2

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{"index":{"_index":"bkv","_id":"v2"}
{"ok":2}
' $ND
assert_eq "bulk with a malformed action line: 400" 400 "$HTTP_STATUS"
assert_nothing_written "malformed action line" v1 v2

http POST /_bulk '{"index":{"_index":"bkv","_id":"v1"}}
{"ok":1}
{}
' $ND
assert_eq "bulk with an empty {} action line: 400" 400 "$HTTP_STATUS"
assert_nothing_written "empty action line" v1

http POST /_bulk '
' $ND
assert_eq "bulk with no actions: 400" 400 "$HTTP_STATUS"
assert_json "bulk with no actions: reason" .error.reason '"Validation Failed: 1: no requests added;"'
http POST /_bulk '' $ND
assert_eq "bulk with an empty body: 400" 400 "$HTTP_STATUS"

http POST /_bulk '{"index":{"_id":"noindex"}}
{"ok":1}
' $ND
assert_eq "bulk item without an index on /_bulk: 400" 400 "$HTTP_STATUS"
assert_match "bulk item without an index: reason names it" 'index is missing' "$(jqb .error.reason)"

http GET /
check "verstore still answers after the refused bulks" test "$HTTP_STATUS" = 200
check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
