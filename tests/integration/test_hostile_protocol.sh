#!/usr/bin/env bash
# verstore against a hostile client, protocol side (issue 19 items 1, 12, 14
# and 15): request framing that a proxy could read differently (duplicate
# Content-Length, Content-Length with Transfer-Encoding) is refused and the
# connection closed; query strings are decoded byte for byte (an encoded NUL
# or a bad escape is a 400, a repeated parameter takes the last value);
# numbers and enumerations in parameters are exact; the loopback check does
# not trust names. Loopback only; every request is bounded by a timeout.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# raw REQUEST — send bytes as they are, print everything the server answers
# until it closes the connection (or 5 s pass: then the last line is TIMEOUT).
raw() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$STORE_PORT" || exit 1
    printf '%b' "$1" >&3
    timeout 5 cat <&3
    [ $? = 124 ] && printf '\nTIMEOUT'
  )
}

http PUT /t
http PUT /t/_doc/1 '{"a":1}'

# ---- item 12: framing --------------------------------------------------------
out=$(raw 'POST /t/_doc/2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nContent-Length: 40\r\n\r\n{"a":1}GET /t/_doc/1 HTTP/1.1\r\nHost: x\r\n\r\n')
assert_match "conflicting Content-Length: 400" '^HTTP/1.1 400' "$out"
assert_match "conflicting Content-Length: says why" 'conflicting or malformed Content-Length' "$out"
assert_eq "conflicting Content-Length: one answer, then the connection closes" 1 "$(grep -c '^HTTP/1.1' <<<"$out")"
assert_eq "conflicting Content-Length: no hang" "" "$(grep -o TIMEOUT <<<"$out")"
http GET /t/_doc/2
assert_eq "conflicting Content-Length: nothing written" 404 "$HTTP_STATUS"

out=$(raw 'POST /t/_doc/3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"a":1}\r\n0\r\n\r\n')
assert_match "Content-Length with Transfer-Encoding: 400" '^HTTP/1.1 400' "$out"
assert_match "Content-Length with Transfer-Encoding: closes" '[Cc]onnection: close' "$out"
assert_eq "Content-Length with Transfer-Encoding: no hang" "" "$(grep -o TIMEOUT <<<"$out")"
http GET /t/_doc/3
assert_eq "Content-Length with Transfer-Encoding: nothing written" 404 "$HTTP_STATUS"

out=$(raw 'POST /t/_doc/4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"a":1}')
assert_match "identical duplicate Content-Length is accepted (RFC 9112)" '^HTTP/1.1 201' "$out"
out=$(raw 'POST /t/_doc/5 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7, 7\r\n\r\n{"a":1}')
assert_match "a Content-Length list: 400" '^HTTP/1.1 400' "$out"
out=$(raw 'POST /t/_doc/6 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\n{"a":1}\r\n0\r\n\r\n')
assert_match "chunked alone is fine" '^HTTP/1.1 201' "$out"

# ---- item 1 and 15: query strings ------------------------------------------------
http PUT '/t/_doc/7?version=5&version_type=external%00junk' '{"a":1}'
assert_eq "version_type=external%00junk: 400" 400 "$HTTP_STATUS"
assert_json "version_type with an encoded NUL: illegal_argument_exception" .error.type '"illegal_argument_exception"'
http PUT '/t/_doc/7?version=1%00&version_type=external' '{"a":1}'
assert_eq "version=1%00: 400" 400 "$HTTP_STATUS"
http GET /t/_doc/7
assert_eq "neither wrote anything" 404 "$HTTP_STATUS"
http GET '/t/_doc/1?pretty=%zz'
assert_eq "undecodable %zz: 400" 400 "$HTTP_STATUS"
assert_json "undecodable %zz: illegal_argument_exception" .error.type '"illegal_argument_exception"'
http GET '/t/_doc/1?pre%zzty'
assert_eq "undecodable parameter name: 400" 400 "$HTTP_STATUS"
http PUT '/t/_doc/8?version=1&version=7&version_type=external' '{"a":1}'
assert_eq "repeated parameter: accepted" 201 "$HTTP_STATUS"
assert_json "repeated parameter: the last value wins" ._version 7
http PUT '/t/_doc/9?version_type=bogus&version_type=external&version=3' '{"a":1}'
assert_json "repeated enumeration: the last value wins" '[._version, .result]' '[3,"created"]'
http PUT '/t/_doc/10?version=9223372036854775808&version_type=external' '{"a":1}'
assert_eq "version above a long: 400" 400 "$HTTP_STATUS"
http PUT '/t/_doc/10?if_seq_no=-9223372036854775809&if_primary_term=1' '{"a":1}'
assert_eq "if_seq_no below a long: 400" 400 "$HTTP_STATUS"
http POST '/t/_update/1?retry_on_conflict=abc' '{"doc":{"b":2}}'
assert_eq "retry_on_conflict=abc: 400" 400 "$HTTP_STATUS"
assert_json "retry_on_conflict=abc: illegal_argument_exception" .error.type '"illegal_argument_exception"'
http POST '/t/_update/1?retry_on_conflict=3' '{"doc":{"b":2}}'
assert_eq "retry_on_conflict=3: accepted" 200 "$HTTP_STATUS"
http PUT '/t/_doc/11?pipeline=p1' '{"a":1}'
assert_eq "pipeline on a write: 400 (no ingest pipelines), not ignored" 400 "$HTTP_STATUS"
http GET /t/_doc/11
assert_eq "pipeline: nothing written" 404 "$HTTP_STATUS"
http PUT '/t/_doc/12?pipeline=_none' '{"a":1}'
assert_eq "pipeline=_none means no pipeline: accepted" 201 "$HTTP_STATUS"
http POST '/_bulk?pipeline=p1' $'{"index":{"_index":"t","_id":"13"}}\n{"a":1}\n'
assert_eq "pipeline on _bulk: 400" 400 "$HTTP_STATUS"
http PUT '/t/_doc/14?require_alias=true' '{"a":1}'
assert_eq "require_alias=true on an index: 404" 404 "$HTTP_STATUS"
assert_json "require_alias=true on an index: index_not_found_exception" '[.error.type, .error.reason]' \
  '["index_not_found_exception","no such index [t] and [require_alias] request flag is [true] and [t] is not an alias"]'
http POST /_aliases '{"actions":[{"add":{"index":"t","alias":"ta"}}]}'
http PUT '/ta/_doc/14?require_alias=true' '{"a":1}'
assert_eq "require_alias=true on an alias: written" 201 "$HTTP_STATUS"
http POST '/_bulk?require_alias=true' $'{"index":{"_index":"t","_id":"15"}}\n{"a":1}\n'
assert_json "require_alias on _bulk: the item fails" '.items[0].index | [.status, .error.type]' '[404,"index_not_found_exception"]'
http POST '/_bulk' $'{"index":{"_index":"t","_id":"16","require_alias":true}}\n{"a":1}\n'
assert_json "require_alias in an action line: the item fails" '.items[0].index | [.status, .error.type]' '[404,"index_not_found_exception"]'
http PUT '/t/_doc/17?require_data_stream=true' '{"a":1}'
assert_eq "require_data_stream=true: 400 (no data streams), not ignored" 400 "$HTTP_STATUS"
http POST '/_bulk' $'{"index":{"_index":"t","_id":"18","require_data_stream":true}}\n{"a":1}\n{"index":{"_index":"t","_id":"19","dynamic_templates":{"a":"t1"}}}\n{"a":1}\n'
assert_json "require_data_stream and dynamic_templates in action lines: the items fail" '[.items[].index.status]' '[400,400]'
http GET /t/_doc/18
assert_eq "  ... nothing written" 404 "$HTTP_STATUS"

# ---- item 14: loopback is numeric ----------------------------------------------
out=$(timeout 20 "$VERSTORE" --listen 127.evil.example:0 --data "$T_DIR/evil" 2>&1)
assert_match "a name that looks like 127.x is not loopback" 'refusing to serve a non-loopback address' "$out"
out=$(timeout 20 "$VERSTORE" --listen 127.0.0.1.nip.io:0 --data "$T_DIR/evil" 2>&1)
assert_match "a name ending in a loopback address is not loopback" 'refusing to serve a non-loopback address' "$out"

done_testing
