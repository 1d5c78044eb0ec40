#!/usr/bin/env bash
# verstore compare-and-set with if_seq_no/if_primary_term, and the per-index
# _seq_no counter (starts at 0, one per successful write, none for conflicts or noops).
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

seq_of() { printf '%s' "$HTTP_BODY" | jq -r ._seq_no; }

# ---- _seq_no per index -------------------------------------------------------
http PUT /cas/_doc/1 '{"n":"1"}'
assert_json "first write on a new index: _seq_no 0, _primary_term 1" '[._seq_no, ._primary_term]' '[0,1]'
http PUT /cas/_doc/2 '{"n":"2"}'
assert_json "second write: _seq_no 1" ._seq_no 1
http PUT /cas2/_doc/1 '{"n":"1"}'
assert_json "another index counts on its own: _seq_no 0" ._seq_no 0
http PUT /cas/_doc/1 '{"n":"3"}'
assert_json "overwrite: _seq_no 2" ._seq_no 2
http PUT /cas/_create/1 '{"n":"4"}'
assert_eq "create conflict: 409" 409 "$HTTP_STATUS"
http PUT /cas/_doc/3 '{"n":"5"}'
assert_json "a conflict consumed no _seq_no: next is 3" ._seq_no 3
http DELETE /cas/_doc/missing
assert_json "delete of a missing doc: 404 not_found with _seq_no 4" '[.result, ._seq_no]' '["not_found",4]'
http POST /cas/_update/3 '{"doc":{"n":"5"}}'
assert_json "noop update: _seq_no unchanged" '[.result, ._seq_no]' '["noop",3]'
http PUT /cas/_doc/4 '{"n":"6"}'
assert_json "after delete-missing and a noop: _seq_no 5" ._seq_no 5
http GET /cas/_doc/1
assert_json "GET reports the doc's own _seq_no and _primary_term" '[._seq_no, ._primary_term, ._version]' '[2,1,2]'

# ---- compare-and-set on index ------------------------------------------------
http PUT '/cas/_doc/1?if_seq_no=2&if_primary_term=1' '{"n":"cas1"}'
assert_eq "matching if_seq_no/if_primary_term: 200" 200 "$HTTP_STATUS"
assert_json "matching CAS: updated, version 3, _seq_no 6" '[.result, ._version, ._seq_no]' '["updated",3,6]'
http PUT '/cas/_doc/1?if_seq_no=2&if_primary_term=1' '{"n":"stale"}'
assert_eq "stale if_seq_no: 409" 409 "$HTTP_STATUS"
assert_es_headers "CAS conflict"
assert_json "stale if_seq_no: 409 body" '[.status, .error.type, .error.reason, .error.index, .error.root_cause[0].reason]' \
  '[409,"version_conflict_engine_exception","[1]: version conflict, required seqNo [2], primary term [1]. current document has seqNo [6] and primary term [1]","cas","[1]: version conflict, required seqNo [2], primary term [1]. current document has seqNo [6] and primary term [1]"]'
http PUT '/cas/_doc/1?if_seq_no=6&if_primary_term=2' '{"n":"stale"}'
assert_eq "wrong if_primary_term: 409" 409 "$HTTP_STATUS"
assert_json "wrong if_primary_term: reason" .error.reason \
  '"[1]: version conflict, required seqNo [6], primary term [2]. current document has seqNo [6] and primary term [1]"'
http GET /cas/_doc/1
assert_json "refused CAS writes left the doc alone" '[._version, ._seq_no, ._source.n]' '[3,6,"cas1"]'
http PUT '/cas/_doc/nodoc?if_seq_no=0&if_primary_term=1' '{"n":"1"}'
assert_eq "CAS on a missing doc: 409" 409 "$HTTP_STATUS"
assert_json "CAS on a missing doc: reason" .error.reason \
  '"[nodoc]: version conflict, required seqNo [0], primary term [1]. but no document was found"'
http GET /cas/_doc/nodoc
assert_eq "CAS on a missing doc wrote nothing" 404 "$HTTP_STATUS"

# ---- compare-and-set on delete and against tombstones ------------------------
http PUT /cas/_doc/del '{"n":"1"}'
s=$(seq_of)
http DELETE "/cas/_doc/del?if_seq_no=$((s + 100))&if_primary_term=1"
assert_eq "delete with a stale if_seq_no: 409" 409 "$HTTP_STATUS"
http DELETE "/cas/_doc/del?if_seq_no=$s&if_primary_term=1"
assert_eq "delete with the matching if_seq_no: 200" 200 "$HTTP_STATUS"
assert_json "delete with CAS: deleted" .result '"deleted"'
ds=$(seq_of)
http PUT "/cas/_doc/del?if_seq_no=$ds&if_primary_term=1" '{"n":"2"}'
assert_eq "CAS against a tombstone: 409" 409 "$HTTP_STATUS"
assert_json "CAS against a tombstone: no document was found" .error.reason \
  "\"[del]: version conflict, required seqNo [$ds], primary term [1]. but no document was found\""

# ---- compare-and-set on update -----------------------------------------------
http PUT /cas/_doc/up '{"n":"1"}'
s=$(seq_of)
http POST "/cas/_update/up?if_seq_no=$((s + 50))&if_primary_term=1" '{"doc":{"n":2}}'
assert_eq "_update with a stale if_seq_no: 409" 409 "$HTTP_STATUS"
http POST "/cas/_update/up?if_seq_no=$s&if_primary_term=1" '{"doc":{"n":2}}'
assert_eq "_update with the matching if_seq_no: 200" 200 "$HTTP_STATUS"
assert_json "_update with CAS: updated" '[.result, ._version]' '["updated",2]'
http POST '/cas/_update/nothere?if_seq_no=1&if_primary_term=1' '{"doc":{"n":2}}'
assert_eq "_update with if_seq_no on a missing doc: 404" 404 "$HTTP_STATUS"
assert_json "_update with if_seq_no on a missing doc: document_missing_exception" .error.type '"document_missing_exception"'

# ---- compare-and-set inside _bulk ----------------------------------------------
http PUT /cas/_doc/bk '{"n":"1"}'
s=$(seq_of)
http POST /_bulk "{\"index\":{\"_index\":\"cas\",\"_id\":\"bk\",\"if_seq_no\":$s,\"if_primary_term\":1}}
{\"n\":2}
{\"index\":{\"_index\":\"cas\",\"_id\":\"bk\",\"if_seq_no\":$s,\"if_primary_term\":1}}
{\"n\":3}
{\"delete\":{\"_index\":\"cas\",\"_id\":\"bk\",\"if_seq_no\":$((s + 1)),\"if_primary_term\":1}}
" application/x-ndjson
assert_json "bulk CAS: the first matching write passes, the second 409s, the delete sees the new seq_no" \
  '[.items[][] | .status]' '[200,409,200]'
assert_json "bulk CAS conflict: reason" '.items[1].index.error.reason' \
  "\"[bk]: version conflict, required seqNo [$s], primary term [1]. current document has seqNo [$((s + 1))] and primary term [1]\""
http POST /_bulk '{"index":{"_index":"cas","_id":"bk","if_seq_no":1}}
{"n":4}
' application/x-ndjson
assert_eq "bulk item with if_seq_no alone: the whole bulk is 400" 400 "$HTTP_STATUS"

# ---- validation --------------------------------------------------------------
http PUT '/cas/_doc/1?if_seq_no=6' '{"n":"x"}'
assert_eq "if_seq_no alone: 400" 400 "$HTTP_STATUS"
assert_match "if_seq_no alone: reason" 'ifSeqNo is set, but primary term is \[0\]' "$(jqb .error.reason)"
http PUT '/cas/_doc/1?if_primary_term=1' '{"n":"x"}'
assert_eq "if_primary_term alone: 400" 400 "$HTTP_STATUS"
assert_match "if_primary_term alone: reason" 'ifSeqNo is unassigned, but primary term is \[1\]' "$(jqb .error.reason)"
http PUT '/cas/_doc/1?if_seq_no=6&if_primary_term=1&version=9&version_type=external' '{"n":"x"}'
assert_eq "CAS with an external version: 400" 400 "$HTTP_STATUS"
assert_match "CAS with an external version: reason" 'compare and write operations can not use versioning' "$(jqb .error.reason)"
http PUT '/cas/_create/newone?if_seq_no=0&if_primary_term=1' '{"n":"x"}'
assert_eq "_create with CAS: 400" 400 "$HTTP_STATUS"
assert_match "_create with CAS: reason" 'create operations do not support compare and set. use index instead' "$(jqb .error.reason)"
http PUT '/cas/_doc/1?if_seq_no=-5&if_primary_term=1' '{"n":"x"}'
assert_eq "negative if_seq_no: 400" 400 "$HTTP_STATUS"
assert_match "negative if_seq_no: reason" 'sequence numbers must be non negative. got \[-5\]' "$(jqb .error.reason)"
http PUT '/cas/_doc/1?if_seq_no=6&if_primary_term=-1' '{"n":"x"}'
assert_eq "negative if_primary_term: 400" 400 "$HTTP_STATUS"
assert_match "negative if_primary_term: reason" 'primary term must be non negative. got \[-1\]' "$(jqb .error.reason)"
http PUT '/cas/_doc/1?if_seq_no=abc&if_primary_term=1' '{"n":"x"}'
assert_eq "non-numeric if_seq_no: 400" 400 "$HTTP_STATUS"
http GET /cas/_doc/1
assert_json "refused requests left the doc alone" '[._version, ._seq_no, ._source.n]' '[3,6,"cas1"]'

# ---- seq_no survives a restart -----------------------------------------------
http PUT /cas/_doc/last '{"n":"1"}'
last=$(seq_of)
check "verstore stops cleanly" verstore_stop
check "verstore restarts" verstore_start
http PUT /cas/_doc/after '{"n":"1"}'
assert_eq "_seq_no continues after a restart" "$((last + 1))" "$(seq_of)"
http PUT "/cas/_doc/last?if_seq_no=$last&if_primary_term=1" '{"n":"2"}'
assert_eq "CAS with a pre-restart seq_no: 200" 200 "$HTTP_STATUS"

check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
