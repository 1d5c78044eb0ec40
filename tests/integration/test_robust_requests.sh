#!/usr/bin/env bash
# Malformed requests against the real verstore (issue 11, "Bad input"): bad
# HTTP framing over raw TCP, huge headers and URLs, bodies over --max-body,
# invalid UTF-8 and JSON, 100k-deep nesting, NDJSON without the final newline,
# absurd versions and ids, path traversal and bad index names, unknown query
# parameters. Each must get its Elasticsearch-shaped 4xx (framing errors: the
# HTTP library's 4xx or a closed connection); after EACH one GET / must still
# answer 200; at the end the data written before is intact, also after a restart,
# and nothing was written outside the data directory.
. "$(dirname "$0")/lib.sh"

MAXB=200000
if verstore_start --max-body $MAXB; then ok "verstore starts with --max-body $MAXB"; else
  not_ok "verstore starts with --max-body $MAXB"
  done_testing
  exit 1
fi

# ---- data to protect -----------------------------------------------------------
seed_ok=true
for i in 1 2 3 4 5; do
  http PUT "/safe/_doc/$i?version=$((i * 10))&version_type=external" "{\"n\":$i,\"s\":\"doc $i\"}"
  [ "$HTTP_STATUS" = 201 ] || seed_ok=false
done
http DELETE "/safe/_doc/5?version=99&version_type=external"
[ "$HTTP_STATUS" = 200 ] || seed_ok=false
check "five documents written with external versions, one deleted" $seed_ok
# What the protected index must look like at the end (mget of ids 1…6).
expected_safe() {
  jq -cn '[range(1;5) | {id: tostring, v: (. * 10), src: {n: ., s: "doc \(.)"}}]
          + [{id: "5", v: 99, src: null}, {id: "6", v: null, src: null}]'
}
safe_state() {
  http POST /safe/_mget '{"ids":["1","2","3","4","5","6"]}'
  jqb '[.docs[] | {id: ._id, v: (if .found then ._version else (._version // null) end), src: (._source // null)}]'
}
# the deleted doc's _version is not shown by mget (found:false); normalise it
expected_now() { expected_safe | jq -c 'map(if .src == null then .v = null else . end)'; }
assert_eq "protected data as written" "$(expected_now)" "$(safe_state)"
data_files_before=$(cd "$STORE_DATA" && find . | sort)
tdir_before=$(cd "$T_DIR" && ls -A | grep -v '^\.[hb]$' | sort)

# ---- helpers ---------------------------------------------------------------------
# still_up DESC — the next, good request is served.
still_up() {
  local st
  st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$STORE_URL/")
  assert_eq "$1: then GET / answers 200" 200 "$st"
}

# es_error DESC STATUS TYPE [REASON_REGEX] — the last answer is STATUS with
# Elasticsearch's error object of TYPE (root_cause included), then still_up.
es_error() {
  local desc=$1 status=$2 type=$3 re=${4-}
  assert_eq "$desc: status" "$status" "$HTTP_STATUS"
  assert_eq "$desc: X-Elastic-Product" Elasticsearch "$(http_header X-Elastic-Product)"
  assert_json "$desc: $type, Elasticsearch error shape" \
    '[.error.type, .error.root_cause[0].type, (.error.reason|type), .status]' "[\"$type\",\"$type\",\"string\",$status]"
  [ -n "$re" ] && assert_match "$desc: reason" "$re" "$(jr .error.reason)"
  still_up "$desc"
}

# flat_error DESC STATUS REGEX — Elasticsearch's flat {"error": "...", "status": N}
# (no handler, wrong method, Content-Type), then still_up.
flat_error() {
  assert_eq "$1: status" "$2" "$HTTP_STATUS"
  assert_json "$1: flat error shape" '[(.error|type), .status]' "[\"string\",$2]"
  assert_match "$1: message" "$3" "$(jr .error)"
  still_up "$1"
}

# item_error DESC STATUS TYPE — a 200 _bulk answer whose only item failed with STATUS/TYPE.
item_error() {
  assert_eq "$1: the bulk request itself is 200" 200 "$HTTP_STATUS"
  assert_json "$1: item $2 $3" '[.errors, (.items[0][]|.status, .error.type)]' "[true,$2,\"$3\"]"
  still_up "$1"
}

# raw DESC EXPECT BYTES — send BYTES (printf %b) on a fresh TCP connection and
# read the answer's status line (at most 5 s). EXPECT is a regex over the status
# code, or "closed" for a connection closed without an answer.
raw() {
  local desc=$1 expect=$2 line
  line=$(
    exec 3<>"/dev/tcp/127.0.0.1/$STORE_PORT" || exit 0
    printf '%b' "$3" >&3 2>/dev/null
    timeout 5 head -n 1 <&3 2>/dev/null | tr -d '\r'
  )
  local code=closed
  [[ "$line" =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] && code=${BASH_REMATCH[1]}
  [ -n "$line" ] && [ "$code" = closed ] && code="garbled: $line"
  assert_match "$desc: answered $expect" "^($expect)\$" "$code"
  still_up "$desc"
}

big() { head -c "$1" /dev/zero | tr '\0' "$2"; }
# jr FILTER — raw (unquoted) jq output over the last HTTP_BODY.
jr() { printf '%s' "$HTTP_BODY" | jq -r "$1" 2>&1; }

# ---- bad HTTP framing (raw TCP) --------------------------------------------------
raw "garbage request line" 'closed|400' 'GARBAGE\r\n\r\n'
raw "request line without a path" 'closed|400' 'GET  HTTP/1.1\r\nHost: x\r\n\r\n'
# libmicrohttpd reads the URL as a C string, so "/\0x" is "/".
raw "NUL byte in the request line" 'closed|400|200' 'GET /\0x HTTP/1.1\r\nHost: x\r\n\r\n'
# libmicrohttpd answers 505 but may close before the client reads it.
raw "unknown HTTP version" 'closed|505|400' 'GET / HTTP/9.9\r\nHost: x\r\n\r\n'
raw "header line without a colon" 400 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'
raw "Content-Length: abc" 400 'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'
raw "negative Content-Length" 'closed|400' 'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'
raw "bad chunk size" 'closed|400' \
  'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'
raw "unsupported Transfer-Encoding" 'closed|400|501' 'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'
raw "unknown method FOO: 405" 405 'FOO / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
raw "declared Content-Length of 1 TB: 413 before any body" 413 \
  'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n'
# A body cut short: the client hangs up before sending the bytes it announced.
(
  exec 3<>"/dev/tcp/127.0.0.1/$STORE_PORT" &&
    printf 'PUT /safe/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"n":' >&3
) 2>/dev/null
still_up "body cut short, client hangs up"
raw "300 kB header: 431" 431 "GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $(big 300000 b)\\r\\n\\r\\n"
raw "5000 headers" 'closed|431|400|200' "GET / HTTP/1.1\\r\\nHost: x\\r\\n$(for i in $(seq 1 5000); do printf 'X-H%d: v\\r\\n' "$i"; done)Connection: close\\r\\n\\r\\n"
raw "300 kB URL: 414" 414 "GET /$(big 300000 a) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"

# ---- bodies over --max-body --------------------------------------------------------
http PUT /safe/_doc/1 "{\"p\":\"$(big $((MAXB + 10)) x)\"}"
es_error "document over --max-body" 413 content_too_long_exception "larger than the limit of $MAXB bytes"
http POST /_bulk "$(for i in $(seq 1 5000); do printf '{"index":{"_index":"safe","_id":"%d"}}\n{"n":0}\n' "$i"; done)
" application/x-ndjson
es_error "_bulk over --max-body" 413 content_too_long_exception
HTTP_STATUS=$(big 300000 x | sed 's/^/{"p":"/; s/$/"}/' | curl -s -o "$T_DIR/.b" -w '%{http_code}' -X PUT \
  -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @- "$STORE_URL/safe/_doc/1")
HTTP_BODY=$(cat "$T_DIR/.b")
assert_eq "chunked body over --max-body: 413" 413 "$HTTP_STATUS"
assert_json "chunked body over --max-body: content_too_long_exception" .error.type '"content_too_long_exception"'
still_up "chunked body over --max-body"

# ---- invalid UTF-8 ----------------------------------------------------------------
for b in $'{"n":"\xff"}' $'{"n":"\xc0\x80"}' $'{"n":"\xed\xa0\x80"}' $'{"\xfe":1}' $'{"n":"\xe4\xb8"}'; do
  http PUT /safe/_doc/1 "$b"
  es_error "invalid UTF-8 in a document [$(printf '%q' "$b")]" 400 mapper_parsing_exception
done
http POST /safe/_update/1 $'{"doc":{"n":"\xff"}}'
es_error "invalid UTF-8 in an _update body" 400 x_content_parse_exception
http POST /_mget $'{"ids":["\xff"]}'
es_error "invalid UTF-8 in an _mget body" 400 parse_exception
http POST /_bulk $'{"index":{"_index":"safe","_id":"\xff"}}\n{"n":1}\n' application/x-ndjson
es_error "invalid UTF-8 in a _bulk action line" 400 x_content_parse_exception
http POST /_bulk $'{"index":{"_index":"safe","_id":"1"}}\n{"n":"\xff"}\n' application/x-ndjson
item_error "invalid UTF-8 in a _bulk source line" 400 mapper_parsing_exception
# utf8_answer DESC — the last answer is valid UTF-8 (JSON clients refuse anything else).
utf8_answer() { check "$1: the answer is valid UTF-8" bash -c 'iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1' _ "$T_DIR/.b"; }
http PUT '/utf%FF/_doc/1' '{"n":1}'
check "invalid UTF-8 in the index name: 201 or 400" test "$HTTP_STATUS" = 201 -o "$HTTP_STATUS" = 400
utf8_answer "invalid UTF-8 in the index name"
still_up "invalid UTF-8 in the index name"
http PUT '/utfid/_doc/%FF' '{"n":1}'
check "invalid UTF-8 in the id: 201 or 400" test "$HTTP_STATUS" = 201 -o "$HTTP_STATUS" = 400
utf8_answer "invalid UTF-8 in the id"
still_up "invalid UTF-8 in the id"
http GET /_cat/indices
utf8_answer "_cat/indices after invalid UTF-8 names"

# ---- invalid JSON ------------------------------------------------------------------
for b in '{"n":' '{"n":1,}' "{'n':1}" '{"n":01}' '{"n":1} x' '{"n":NaN}' '{"n":"a
b"}' '{"n":"\u12"}'; do
  http PUT /safe/_doc/1 "$b"
  es_error "invalid JSON document [$(printf '%q' "$b")]" 400 mapper_parsing_exception
done
http PUT /newidx '{"settings":'
es_error "invalid JSON creating an index" 400 parse_exception
http POST /safe/_update/1 '{"doc":{"n":}}'
es_error "invalid JSON _update body" 400 x_content_parse_exception
http POST /_mget '{"ids":[1,}'
es_error "invalid JSON _mget body" 400 parse_exception
http PUT /safe/_settings '{"index":'
es_error "invalid JSON _settings body" 400 parse_exception
# Lone surrogate escapes are valid JSON text; they must never cost a 500.
http POST /safe/_update/4 '{"doc":{"x":"\ude00"}}'
check "lone surrogate in an _update body: not a 5xx (got $HTTP_STATUS)" test "${HTTP_STATUS:0:1}" != 5
still_up "lone surrogate in an _update body"
http PUT /surrogate '{"settings":{"x":"\ud800"}}'
check "lone surrogate in create-index settings: not a 5xx (got $HTTP_STATUS)" test "${HTTP_STATUS:0:1}" != 5
still_up "lone surrogate in create-index settings"

# ---- deeply nested JSON (100k '[') ---------------------------------------------------
deep=$(big 100000 '[')
http PUT /safe/_doc/1 "$deep"
es_error "100k-deep document" 400 mapper_parsing_exception
http PUT /safe/_doc/1 "$(printf '{"a":%.0s' $(seq 1 20000))1$(big 20000 '}')"
es_error "100k-deep object document" 400 mapper_parsing_exception
http POST /safe/_update/1 "{\"doc\":{\"a\":$deep}}"
es_error "100k-deep _update body" 400 x_content_parse_exception
http POST /_mget "{\"docs\":$deep}"
es_error "100k-deep _mget body" 400 parse_exception
http PUT /deep "{\"settings\":$deep}"
es_error "100k-deep create-index body" 400 parse_exception
http POST /_bulk "$deep
" application/x-ndjson
es_error "100k-deep _bulk action line" 400 x_content_parse_exception
http POST /_bulk "{\"index\":{\"_index\":\"safe\",\"_id\":\"1\"}}
$deep
" application/x-ndjson
item_error "100k-deep _bulk source line" 400 mapper_parsing_exception
http PUT /safe/_doc/1 "$(big 1000 '[')$(big 1000 ']')"
es_error "1000-deep array (the limit) is not an object" 400 mapper_parsing_exception

# ---- NDJSON framing -------------------------------------------------------------------
http POST /_bulk '{"index":{"_index":"safe","_id":"1"}}
{"n":0}' application/x-ndjson
es_error "NDJSON without the final newline" 400 illegal_argument_exception 'The bulk request must be terminated by a newline \[\\n\]'
http POST /_bulk '{"delete":{"_index":"safe","_id":"1"}}' application/x-ndjson
es_error "a single delete without the final newline" 400 illegal_argument_exception 'terminated by a newline'
http POST /_bulk $'\n\n\n' application/x-ndjson
es_error "NDJSON of empty lines" 400 action_request_validation_exception 'no requests added'
http POST /_bulk '' application/x-ndjson
es_error "empty _bulk body" 400 parse_exception
http POST /_bulk $'{"index":{"_index":"safe","_id":"1"}}\n' application/x-ndjson
es_error "index action without its source line" 400 action_request_validation_exception
http POST /_bulk $'{}\n' application/x-ndjson
es_error "empty action object" 400 illegal_argument_exception 'expected FIELD_NAME but found \[END_OBJECT\]'
http POST /_bulk $'{"frob":{}}\n{}\n' application/x-ndjson
es_error "unknown bulk action" 400 illegal_argument_exception 'expected one of \[create, delete, index, update\]'
http POST /_bulk $'{"index":{"_index":"safe","_id":"1","foo":1}}\n{}\n' application/x-ndjson
es_error "unknown key in an action line" 400 illegal_argument_exception 'Action/metadata line \[1\] contains an unknown parameter \[foo\]'
http POST /_bulk $'[1]\n{}\n' application/x-ndjson
es_error "action line that is an array" 400 illegal_argument_exception 'expected START_OBJECT but found \[START_ARRAY\]'

# ---- absurd versions -------------------------------------------------------------------
for v in -1 -9223372036854775808; do
  http PUT "/safe/_doc/1?version=$v&version_type=external" '{"n":0}'
  es_error "external version $v" 400 action_request_validation_exception "illegal version value \\[$v\\] for version type \\[EXTERNAL\\]"
done
for v in 9223372036854775808 99999999999999999999 abc 1.5 1e3 0x10 '%20' ''; do
  http PUT "/safe/_doc/1?version=$v&version_type=external" '{"n":0}'
  if [ -z "$v" ]; then
    check "empty version: 4xx (got $HTTP_STATUS)" test "${HTTP_STATUS:0:1}" = 4
    still_up "empty version"
  else
    es_error "external version [$v]" 400 illegal_argument_exception 'Failed to parse long parameter \[version\]'
  fi
done
for v in -1 9223372036854775808 '"abc"' 1.5 '[1]' '{}' null true; do
  http POST /_bulk "{\"index\":{\"_index\":\"safe\",\"_id\":\"1\",\"version\":$v,\"version_type\":\"external\"}}
{\"n\":0}
" application/x-ndjson
  case "$v" in
    -1) es_error "_bulk external version $v" 400 action_request_validation_exception 'illegal version value \[-1\]' ;;
    *) es_error "_bulk external version $v" 400 illegal_argument_exception ;;
  esac
done
http PUT '/safe/_doc/1?version_type=bogus' '{"n":0}'
es_error "version_type=bogus" 400 illegal_argument_exception 'No version type match \[bogus\]'
http PUT '/safe/_doc/1?if_seq_no=-5&if_primary_term=1' '{"n":0}'
es_error "if_seq_no=-5" 400 illegal_argument_exception 'sequence numbers must be non negative'
http PUT '/safe/_doc/1?if_seq_no=abc&if_primary_term=1' '{"n":0}'
es_error "if_seq_no=abc" 400 illegal_argument_exception 'Failed to parse long parameter \[if_seq_no\]'
http PUT '/safe/_doc/1?version=3&version_type=external' '{"n":0}'
es_error "an older external version is a conflict" 409 version_conflict_engine_exception
http PUT '/safe/_create/1?version=99&version_type=external' '{"n":0}'
es_error "create with an external version" 400 action_request_validation_exception

# ---- absurd ids --------------------------------------------------------------------
id513=$(big 513 i)
http PUT "/safe/_doc/$id513" '{"n":0}'
es_error "513-byte id" 400 action_request_validation_exception 'is too long, must be no longer than 512 bytes but was: 513;$'
id2000=$(big 2000 i)
http PUT "/safe/_doc/$id2000" '{"n":0}'
es_error "2000-byte id: the reason still says why" 400 action_request_validation_exception \
  'is too long, must be no longer than 512 bytes but was: 2000;$'
http POST /_bulk "{\"index\":{\"_index\":\"safe\",\"_id\":\"$id2000\"}}
{\"n\":0}
" application/x-ndjson
es_error "_bulk with a 2000-byte id" 400 action_request_validation_exception 'but was: 2000;$'
http POST /_bulk $'{"index":{"_index":"safe","_id":""}}\n{"n":0}\n' application/x-ndjson
item_error "_bulk with an empty id" 400 illegal_argument_exception
http POST /_bulk $'{"delete":{"_index":"safe"}}\n' application/x-ndjson
es_error "_bulk delete without an id" 400 action_request_validation_exception 'id is missing'
http GET '/safe/_doc/%zz'
es_error "bad percent-escape in the id" 400 illegal_argument_exception 'unable to decode the path'
http GET '/safe/_doc/a%00b'
check "encoded NUL in an id: answered 404 or 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 404 -o "$HTTP_STATUS" = 400
still_up "encoded NUL in an id"

# ---- index names: traversal, case, leading characters ---------------------------------
# curl_path METHOD RAWPATH BODY — like http, but the path is sent exactly as written.
curl_path() {
  HTTP_STATUS=$(printf '%s' "$3" | curl -s --path-as-is -X "$1" -H 'Content-Type: application/json' \
    --data-binary @- -D "$T_DIR/.h" -o "$T_DIR/.b" -w '%{http_code}' "$STORE_URL$2")
  HTTP_BODY=$(cat "$T_DIR/.b")
  HTTP_HEADERS=$(cat "$T_DIR/.h")
}
curl_path PUT '/../_doc/1' '{"n":0}'
es_error "index name .." 400 invalid_index_name_exception "Invalid index name \\[\\.\\.\\], must not be '\\.' or '\\.\\.'"
curl_path PUT '/%2e%2e/_doc/1' '{"n":0}'
es_error "index name %2e%2e" 400 invalid_index_name_exception "must not be '\\.' or '\\.\\.'"
curl_path PUT '/./_doc/1' '{"n":0}'
check "index name . : 4xx (got $HTTP_STATUS)" test "${HTTP_STATUS:0:1}" = 4
still_up "index name ."
curl_path PUT '/%2E/_doc/1' '{"n":0}'
es_error "index name %2E" 400 invalid_index_name_exception "must not be '\\.' or '\\.\\.'"
curl_path PUT '/..%2F..%2Fetc/_doc/1' '{"n":0}'
es_error "index name ../../etc" 400 invalid_index_name_exception 'must not contain the following characters'
curl_path PUT '/a%2Fb/_doc/1' '{"n":0}'
es_error "index name a/b" 400 invalid_index_name_exception 'must not contain the following characters'
curl_path PUT '/a%5Cb/_doc/1' '{"n":0}'
es_error 'index name a\b' 400 invalid_index_name_exception 'must not contain the following characters'
curl_path PUT '/Upper/_doc/1' '{"n":0}'
es_error "uppercase index name" 400 invalid_index_name_exception 'Invalid index name \[Upper\], must be lowercase'
curl_path PUT '/-dash/_doc/1' '{"n":0}'
es_error "index name starting with -" 400 invalid_index_name_exception "must not start with '_', '-', or '\\+'"
curl_path PUT '/%2Bplus/_doc/1' '{"n":0}'
es_error "index name starting with +" 400 invalid_index_name_exception "must not start with '_', '-', or '\\+'"
curl_path PUT '/_under' '{}'
es_error "creating an index starting with _" 400 invalid_index_name_exception "must not start with '_', '-', or '\\+'"
curl_path PUT '/_under/_doc/1' '{"n":0}'
check "document in an index starting with _: 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 400
still_up "document in an index starting with _"
curl_path PUT '/a%23b/_doc/1' '{"n":0}'
es_error "index name with #" 400 invalid_index_name_exception "must not contain '#'"
curl_path PUT '/a%3Ab/_doc/1' '{"n":0}'
es_error "index name with :" 400 invalid_index_name_exception "must not contain ':'"
curl_path PUT "/$(big 256 n)/_doc/1" '{"n":0}'
es_error "256-byte index name" 400 invalid_index_name_exception 'index name is too long, \(256 > 255\)'
curl_path PUT '/a%00b/_doc/1' '{"n":0}'
es_error "encoded NUL in an index name" 400 illegal_argument_exception 'unable to decode the path'
# An upsert auto-creates its index: the same name rules apply.
for n in Upper "$(big 300 u)" "bo$(for i in $(seq 1 85); do printf '%%FF'; done)"; do
  curl_path POST "/$n/_update/1" '{"doc":{"n":0},"doc_as_upsert":true}'
  es_error "_update upsert into an invalid index [${n:0:12}…]" 400 invalid_index_name_exception
done
http GET '/_cat/indices?format=json'
utf8_answer "_cat/indices after invalid upserts"
http POST /_bulk $'{"index":{"_index":"../x","_id":"1"}}\n{"n":0}\n' application/x-ndjson
item_error "_bulk into index ../x" 400 invalid_index_name_exception
http POST /_bulk $'{"index":{"_index":"UP","_id":"1"}}\n{"n":0}\n' application/x-ndjson
item_error "_bulk into an uppercase index" 400 invalid_index_name_exception

# ---- unknown endpoints, methods, Content-Type ------------------------------------------
http GET /safe/_doc/1/extra/more
flat_error "unknown endpoint" 400 'no handler found for uri'
http PATCH /safe/_doc/1
flat_error "PATCH a document" 405 'Incorrect HTTP method for uri \[/safe/_doc/1\] and method \[PATCH\]'
http PUT /safe/_doc/1 '{"n":0}' text/plain
flat_error "Content-Type text/plain" 406 'Content-Type header \[text/plain\] is not supported'

# ---- unknown query parameters (Elasticsearch: BaseRestHandler.unrecognized) -------------
http GET '/safe/_doc/1?foo=bar'
es_error "unknown parameter on GET" 400 illegal_argument_exception '^request \[/safe/_doc/1\] contains unrecognized parameter: \[foo\]'
http PUT '/safe/_doc/1?foo=bar' '{"n":-1}'
es_error "unknown parameter on PUT" 400 illegal_argument_exception '^request \[/safe/_doc/1\] contains unrecognized parameter: \[foo\]'
http POST '/_bulk?foo=1&bar=2' $'{"index":{"_index":"safe","_id":"1"}}\n{"n":-1}\n' application/x-ndjson
es_error "unknown parameters on _bulk" 400 illegal_argument_exception '^request \[/_bulk\] contains unrecognized parameters: '
http GET '/?foo=1'
es_error "unknown parameter on /" 400 illegal_argument_exception 'contains unrecognized parameter: \[foo\]'
http GET '/safe/_doc/1?pretty&refresh=true&_source=n'
assert_eq "known parameters are still accepted" 200 "$HTTP_STATUS"

# ---- what is left -----------------------------------------------------------------------
check "verstore is still running" kill -0 "$STORE_PID"
http POST /safe/_refresh
assert_eq "protected data intact after every bad request" "$(expected_now)" "$(safe_state)"
http GET /safe/_count
assert_json "no document was added to the protected index" .count 4
for idx in newidx deep surrogate; do
  http HEAD "/$idx"
  assert_eq "rejected request created no index [$idx]" 404 "$HTTP_STATUS"
done
assert_eq "nothing new in the data directory" "$data_files_before" "$(cd "$STORE_DATA" && find . | sort)"
assert_eq "nothing written next to the data directory" "$tdir_before" "$(cd "$T_DIR" && ls -A | grep -v '^\.[hb]$' | sort)"
check "verstore exits 0 on SIGTERM" verstore_stop
check "verstore restarts on the same data" verstore_start --max-body $MAXB
assert_eq "protected data intact after a restart" "$(expected_now)" "$(safe_state)"
check "verstore exits 0 on SIGTERM again" verstore_stop

# ---- wildcard patterns that backtrack (last: a hang would hold the server) ------------------
# Elasticsearch matches these in linear time; 5 s is a deadline for a hang, not a speed goal.
check "verstore starts again" verstore_start --max-body $MAXB
stars=$(big 300 '*')
long=$(big 40 a)
http PUT "/globs/_doc/1" "{\"$long\":1}"
starsa=$(for i in $(seq 1 25); do printf '*a'; done)
for req in "/_cat/indices/${stars}x" "/globs/_doc/1?_source_includes=${stars}x" \
  "/globs/_doc/1?_source_excludes=${starsa}b"; do
  st=$(curl -s -m 5 -o "$T_DIR/.b" -w '%{http_code}' "$STORE_URL$req")
  assert_match "wildcard pattern ${req:0:30}…: answered" '^(200|404)$' "$st"
  still_up "wildcard pattern ${req:0:30}…"
done
done_testing
