#!/usr/bin/env bash
# verstore error answers: malformed JSON, empty bodies, unknown index, unknown
# endpoint / wrong method, body over --max-body (413), the 512-byte id limit,
# and hostile requests that must neither crash the server nor corrupt data.
. "$(dirname "$0")/lib.sh"

MAXB=100000
check "verstore starts with --max-body $MAXB" verstore_start --max-body $MAXB || { done_testing; exit 1; }

http PUT /err/_doc/keep '{"keep":"me"}'
assert_eq "a document to protect: 201" 201 "$HTTP_STATUS"

# error_shape DESC — the body is Elasticsearch's error object with a root_cause.
error_shape() {
  assert_json "$1: error shape" '[(.error.type|type), (.error.reason|type), (.error.root_cause|type), .status]' \
    "[\"string\",\"string\",\"array\",$HTTP_STATUS]"
}

# ---- malformed documents ---------------------------------------------------------
for bad in '{"a":' '{"a":1,}' 'not json' '{"a":1}}' '{"a":"\x"}'; do
  http PUT /err/_doc/bad "$bad"
  assert_eq "malformed JSON [$bad]: 400" 400 "$HTTP_STATUS"
  assert_es_headers "malformed JSON [$bad]"
  assert_json "malformed JSON [$bad]: mapper_parsing_exception" .error.type '"mapper_parsing_exception"'
  error_shape "malformed JSON [$bad]"
done
for bad in '[1,2]' '"text"' '42'; do
  http PUT /err/_doc/bad "$bad"
  assert_eq "JSON that is not an object [$bad]: 400" 400 "$HTTP_STATUS"
done
http POST /err/_doc '{"a":'
assert_eq "malformed JSON on auto-id POST: 400" 400 "$HTTP_STATUS"
http PUT /err/_create/bad '{"a":'
assert_eq "malformed JSON on _create: 400" 400 "$HTTP_STATUS"
http PUT /err/_doc/bad ''
assert_eq "empty body: 400" 400 "$HTTP_STATUS"
assert_json "empty body: parse_exception" '[.error.type, .error.reason]' '["parse_exception","request body is required"]'
http PUT /err/_doc/bad
assert_eq "no body at all: 400" 400 "$HTTP_STATUS"
http GET /err/_doc/bad
assert_eq "malformed writes stored nothing" 404 "$HTTP_STATUS"
http PUT /newerr/_doc/bad '{"a":'
http HEAD /newerr
assert_eq "a malformed write did not auto-create its index" 404 "$HTTP_STATUS"

# ---- unknown index ---------------------------------------------------------------
for req in "GET /nosuch/_doc/1" "GET /nosuch/_source/1" "DELETE /nosuch/_doc/1" "POST /nosuch/_refresh" "GET /nosuch"; do
  http $req
  assert_eq "$req: 404" 404 "$HTTP_STATUS"
  assert_es_headers "$req"
  assert_json "$req: index_not_found_exception" '[.error.type, .error.reason, .error.index]' \
    '["index_not_found_exception","no such index [nosuch]","nosuch"]'
done
http HEAD /nosuch/_doc/1
assert_eq "HEAD doc in a missing index: 404" 404 "$HTTP_STATUS"
assert_es_headers "HEAD doc in a missing index"
assert_eq "HEAD doc in a missing index: empty body" "" "$(head_body '/nosuch/_doc/1')"

# ---- unknown endpoint, wrong method ----------------------------------------------
for req in "GET /err/_doc/1/extra/more" "GET /_nosuchapi/x/y/z" "POST /err/_doc/1/_frobnicate/x"; do
  http $req
  assert_eq "unknown endpoint [$req]: 400" 400 "$HTTP_STATUS"
  assert_es_headers "unknown endpoint [$req]"
  assert_json "unknown endpoint [$req]: has an error and status" '[(.error != null), .status]' '[true,400]'
done
for req in "DELETE /" "PATCH /err/_doc/keep" "PATCH /_bulk" "PATCH /err"; do
  http $req
  assert_eq "wrong method [$req]: 405" 405 "$HTTP_STATUS"
  assert_es_headers "wrong method [$req]"
  assert_json "wrong method [$req]: has an error and status" '[(.error != null), .status]' '[true,405]'
done
http GET /err/_doc/keep
assert_json "wrong methods left the doc alone" '[._version, ._source]' '[1,{"keep":"me"}]'

# ---- body size ----------------------------------------------------------------
# body_of N — a JSON object of exactly N bytes.
body_of() { local n=$1; printf '{"p":"%s"}' "$(head -c $((n - 8)) /dev/zero | tr '\0' x)"; }
http PUT /err/_doc/big "$(body_of $((MAXB + 1)))"
assert_eq "body one byte over --max-body: 413" 413 "$HTTP_STATUS"
assert_es_headers "413"
http PUT /err/_doc/big "$(body_of $((MAXB * 5)))"
assert_eq "body five times --max-body: 413" 413 "$HTTP_STATUS"
http GET /err/_doc/big
assert_eq "oversized bodies stored nothing" 404 "$HTTP_STATUS"
http PUT /err/_doc/fits "$(body_of $((MAXB - 1000)))"
assert_eq "a body under --max-body: 201" 201 "$HTTP_STATUS"
bulk=$(for i in $(seq 1 3000); do printf '{"index":{"_index":"err","_id":"b%d"}}\n{"x":%d}\n' "$i" "$i"; done)
http POST /_bulk "$bulk
" application/x-ndjson
assert_eq "a bulk over --max-body: 413" 413 "$HTTP_STATUS"
http GET /err/_doc/b1
assert_eq "the oversized bulk applied nothing" 404 "$HTTP_STATUS"
st=$(body_of $((MAXB * 3)) | curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -H 'Transfer-Encoding: chunked' --data-binary @- "$STORE_URL/err/_doc/chunked")
assert_eq "a chunked body over --max-body: 413" 413 "$st"

# ---- ids -------------------------------------------------------------------------
id512=$(printf 'i%.0s' $(seq 1 512))
id513=${id512}j
http PUT "/err/_doc/$id512" '{"a":1}'
assert_eq "512-byte id: 201" 201 "$HTTP_STATUS"
http GET "/err/_doc/$id512"
assert_json "512-byte id reads back" '[.found, (._id|length)]' '[true,512]'
http PUT "/err/_doc/$id513" '{"a":1}'
assert_eq "513-byte id: 400" 400 "$HTTP_STATUS"
assert_match "513-byte id: reason" "id \\[${id513}\\] is too long, must be no longer than 512 bytes but was: 513" "$(jqb .error.reason)"
idu=$(printf 'é%.0s' $(seq 1 257))   # 257 characters, 514 bytes
http PUT "/err/_doc/$(jq -rn --arg n "$idu" '$n|@uri')" '{"a":1}'
assert_eq "id of 257 two-byte characters (514 bytes): 400" 400 "$HTTP_STATUS"
http POST /_bulk "{\"index\":{\"_index\":\"err\",\"_id\":\"$id513\"}}
{\"a\":1}
{\"index\":{\"_index\":\"err\",\"_id\":\"okid\"}}
{\"a\":1}
" application/x-ndjson
assert_eq "bulk with a 513-byte id: 400 for the whole request" 400 "$HTTP_STATUS"
http GET /err/_doc/okid
assert_eq "bulk with a 513-byte id applied nothing" 404 "$HTTP_STATUS"

# ---- hostile requests --------------------------------------------------------------
# raw BYTES [noread] — send BYTES (printf %b escapes) on a fresh connection and
# wait (at most 2 s) for an answer, unless noread: then hang up at once.
raw() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$STORE_PORT" || exit 0
    printf '%b' "$1" >&3
    [ "${2-}" = noread ] || timeout 2 head -c 200 <&3 >/dev/null
  ) 2>/dev/null
}
alive() { curl -sf -o /dev/null "$STORE_URL/"; }
raw 'GARBAGE\r\n\r\n'
check "survives a garbage request line" alive
raw 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'
check "survives a negative Content-Length" alive
raw 'PUT /err/_doc/trunc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\nConnection: close\r\n\r\n{"a":' noread
check "survives a body cut short (client hangs up)" alive
raw "GET /$(head -c 20000 /dev/zero | tr '\0' a) HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n"
check "survives a 20 kB request line" alive
raw "GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $(head -c 100000 /dev/zero | tr '\0' b)\\r\\nConnection: close\\r\\n\\r\\n"
check "survives a 100 kB header" alive
http GET '/err/_doc/%zz%'
check "a bad percent-escape gets a 4xx" test "${HTTP_STATUS:0:1}" = 4
http PUT /err/_doc/deep "$(printf '[%.0s' $(seq 1 5000))"
assert_eq "5000-deep JSON nesting: 400" 400 "$HTTP_STATUS"
http PUT /err/_doc/deepobj "$(printf '{"a":%.0s' $(seq 1 5000))1$(printf '}%.0s' $(seq 1 5000))"
check "a 5000-deep object is answered, not a crash" test -n "$HTTP_STATUS" -a "$HTTP_STATUS" != 000
http PUT '/err/_doc/nul' $'{"s":"x\\u0000y"}'
assert_eq "an escaped NUL in a string is valid JSON: 201" 201 "$HTTP_STATUS"
http GET /err/_source/nul
assert_eq "the escaped NUL is kept as sent" '{"s":"x\u0000y"}' "$HTTP_BODY"
http PUT '/err/_doc/utf' $'{"a":"\xff\xfe"}'
check "raw invalid UTF-8 bytes in a source are answered" test "$HTTP_STATUS" != 000
http POST /_bulk $'{"index":{"_index":"err","_id":"x"}}\n' application/x-ndjson
check "a bulk whose index action has no source line is answered 4xx" test "${HTTP_STATUS:0:1}" = 4
http PUT '/err/_doc/q?version=&version_type=' '{"a":1}'
check "empty version parameters are answered 4xx" test "${HTTP_STATUS:0:1}" = 4
http PUT '/err/_doc/q?refresh=true&refresh=false' '{"a":1}'
check "a repeated query parameter is answered" test "$HTTP_STATUS" != 000

check "verstore is still running" kill -0 "$STORE_PID"
http GET /err/_doc/keep
assert_json "the protected doc is intact" '[._version, ._source]' '[1,{"keep":"me"}]'
check "verstore exits 0 on SIGTERM" verstore_stop
check "verstore restarts on the same data" verstore_start --max-body $MAXB
http GET /err/_doc/keep
assert_json "the protected doc is intact after a restart" '[._version, ._source]' '[1,{"keep":"me"}]'
check "verstore exits 0 on SIGTERM again" verstore_stop
done_testing
