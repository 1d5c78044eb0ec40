#!/usr/bin/env bash
# Hostile clients against the real verstore, bounded work and memory (issue 19,
# items 3-11): one request must not stall the others nor grow the process
# without bound. Loopback only; every case is bounded in count and time.
# Latency checks compare with a baseline measured in the same run and allow
# generous factors (the machine is shared), never fixed sleeps.
. "$(dirname "$0")/lib.sh"

if verstore_start; then ok "verstore starts"; else
  not_ok "verstore starts"
  done_testing
  exit 1
fi

# timed METHOD PATH [BODYFILE] — sets T_STATUS and T_SECS (wall time), body in $T_DIR/t.out.
timed() {
  local args=(-s -o "$T_DIR/t.out" -w '%{http_code} %{time_total}' --max-time "${T_MAX:-120}" -X "$1")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
  local r
  r=$(curl "${args[@]}" "$STORE_URL$2")
  T_STATUS=${r% *}
  T_SECS=${r#* }
}
# within DESC SECS BASE FACTOR FLOOR — SECS <= max(BASE*FACTOR, FLOOR).
within() {
  local lim
  lim=$(awk -v b="$3" -v f="$4" -v fl="$5" 'BEGIN{l=b*f; if (l<fl) l=fl; print l}')
  if awk -v s="$2" -v l="$lim" 'BEGIN{exit !(s<=l)}'; then ok "$1 (${2}s <= ${lim}s)"; else
    not_ok "$1 (${2}s > ${lim}s)"; fi
}
tbody() { jq -c "$1" "$T_DIR/t.out" 2>&1; }
tbody_r() { jq -r "$1" "$T_DIR/t.out" 2>&1; }

# ---- 3: wildcard patterns ----------------------------------------------------------
# 2000 keyword values of 400 'a's plus a distinct tail.
jq -nrc 'range(0;2000) | ({index:{_index:"w",_id:"\(.)"}}, {k: ("a" * 400 + "z\(.)")})' >"$T_DIR/w.ndjson"
curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @"$T_DIR/w.ndjson" "$STORE_URL/_bulk?refresh=true"
http GET /w/_count
assert_json "3: 2000 documents indexed" .count 2000

printf '{"query":{"wildcard":{"k":{"value":"*z7"}}},"size":0,"track_total_hits":true}' >"$T_DIR/w1.json"
timed POST /w/_search "$T_DIR/w1.json"
assert_eq "3: *z7 answers 200" 200 "$T_STATUS"
assert_eq "3: *z7 matches one document" 1 "$(tbody .hits.total.value)"
base=$T_SECS
{ printf '{"query":{"wildcard":{"k":{"value":"'; head -c 1200000 /dev/zero | tr '\0' '*'; printf 'z7"}}},"size":0,"track_total_hits":true}'; } >"$T_DIR/w2.json"
timed POST /w/_search "$T_DIR/w2.json"
assert_eq "3: 1.2 MB of '*' then z7 answers 200 (runs of * merge)" 200 "$T_STATUS"
assert_eq "3: ... and matches what *z7 matches" 1 "$(tbody .hits.total.value)"
within "3: 1.2 MB of '*' costs about what one '*' costs" "$T_SECS" "$base" 10 1.0
{ printf '{"query":{"wildcard":{"k":"'; head -c 1001 /dev/zero | tr '\0' 'a'; printf '"}}}'; } >"$T_DIR/w3.json"
timed POST /w/_search "$T_DIR/w3.json"
assert_eq "3: a 1001-character pattern is refused with 400" 400 "$T_STATUS"
assert_eq "3: ... illegal_argument_exception" '"illegal_argument_exception"' "$(tbody .error.root_cause[0].type)"
assert_match "3: ... naming the bound" 'allowed maximum of \[1000\]' "$(tbody .error.root_cause[0].reason)"
# "*aaa…ab" (1000 characters): a backtracking matcher retries the 999 'a's at
# every position of every value.
{ printf '{"query":{"wildcard":{"k":"*'; head -c 998 /dev/zero | tr '\0' 'a'; printf 'b"}},"size":0}'; } >"$T_DIR/w4.json"
timed POST /w/_search "$T_DIR/w4.json"
assert_eq "3: *aaa…ab answers 200" 200 "$T_STATUS"
within "3: *aaa…ab (1000 characters) costs about what *z7 costs" "$T_SECS" "$base" 20 1.0
# ---- 7: thousands of query parameters ----------------------------------------------
q=$(seq 1 2000 | sed 's/^/p/; s/$/=1/' | paste -sd'&')
T_MAX=15 timed GET "/?$q"
assert_eq "7: 2000 query parameters: 400 at once (not the 300 s timeout)" 400 "$T_STATUS"
assert_eq "7: ... illegal_argument_exception" '"illegal_argument_exception"' "$(tbody .error.type)"
assert_match "7: ... naming the limit" 'more than the limit of 1000' "$(tbody .error.reason)"
q=$(seq 1 800 | sed "s/^/p/; s/\$/=$(head -c 100 /dev/zero | tr '\0' v)/" | paste -sd'&')
T_MAX=15 timed GET "/?$q"
assert_eq "7: 800 parameters in an 84 kB target: 400 at once" 400 "$T_STATUS"
assert_match "7: ... naming the size" 'larger than the limit of 98304 bytes' "$(tbody .error.reason)"
timed GET "/?pretty&human"
assert_eq "7: a few parameters are still fine" 200 "$T_STATUS"

# ---- 8: a body trickling in does not hold SIGTERM ----------------------------------
# The client sends the headers and then one body byte every half second.
exec 5<>"/dev/tcp/127.0.0.1/$STORE_PORT"
printf 'PUT /slow/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{' >&5
bg bash -c 'for i in $(seq 1 240); do printf " " || exit; sleep 0.5; done' >&5
# verstore has read the headers once its socket's receive queue is empty
server_read_all() { ss -Htn state established "( sport = :$STORE_PORT )" | awk '$1 == 0 {n++} END {exit !n}'; }
wait_until 10 server_read_all
t0=$(date +%s.%N)
kill -TERM "$STORE_PID"
rc=0
wait "$STORE_PID" || rc=$?
STORE_PID=""
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
assert_eq "8: SIGTERM with a body trickling in: clean exit" 0 "$rc"
within "8: ... within the 5 s upload grace, not 60 s" "$secs" 0 1 12
exec 5>&-
kill "$BG_PID" 2>/dev/null
check "8: ... the log says the upload was cut" grep -q 'closing 1 connection(s) still sending a request body' "$STORE_LOG"
verstore_start
http GET /slow/_doc/1
assert_eq "8: the cut upload wrote nothing" 404 "$HTTP_STATUS"

# ---- 5: mapping limits, and one index's slow writes do not hold the others ---------
jq -nc '[range(0;20000) | {key: "f\(.)", value: .}] | from_entries' >"$T_DIR/f20k.json"
timed PUT /wide/_doc/1 "$T_DIR/f20k.json"
assert_eq "5: a 20 000-field document: 400" 400 "$T_STATUS"
assert_eq "5: ... Elasticsearch's total fields error" \
  '["illegal_argument_exception","Limit of total fields [1000] has been exceeded while adding new fields [20000]"]' \
  "$(tbody '[.error.type, .error.reason]')"
within "5: ... refused quickly" "$T_SECS" 0 1 5
jq -nc '[range(0;999) | {key: "f\(.)", value: .}] | from_entries' >"$T_DIR/f999.json"
timed PUT /wide/_doc/2 "$T_DIR/f999.json"
assert_eq "5: 999 fields are accepted" 201 "$T_STATUS"
http PUT /wide/_doc/3 '{"g1":1}'
assert_eq "5: the 1000th field is accepted" 201 "$HTTP_STATUS"
http PUT /wide/_doc/4 '{"g2":1}'
assert_eq "5: the 1001st field is refused" '[400,"Limit of total fields [1000] has been exceeded while adding new fields [1]"]' \
  "$(jqb '[.status, .error.reason]')"
http PUT /deep '{"settings":{"index":{"mapping":{"depth":{"limit":3},"field_name_length":{"limit":5}}}}}'
http PUT /deep/_doc/1 '{"a":{"b":{"c":1}}}'
assert_eq "5: depth 3 under index.mapping.depth.limit 3 is accepted" 201 "$HTTP_STATUS"
http PUT /deep/_doc/2 '{"x":{"y":{"z":{"w":1}}}}'
assert_eq "5: depth 4 is refused" '["illegal_argument_exception","Limit of mapping depth [3] has been exceeded due to object field [x.y.z]"]' \
  "$(jqb '[.error.type, .error.reason]')"
http PUT /deep/_doc/3 '{"abcdef":1}'
assert_eq "5: index.mapping.field_name_length.limit is honoured" \
  '["illegal_argument_exception","Field name [abcdef] is longer than the limit of [5] characters"]' "$(jqb '[.error.type, .error.reason]')"
http PUT /deep/_mapping '{"properties":{"toolong":{"type":"long"}}}'
assert_eq "5: ... also by PUT _mapping" '[400,"Field name [toolong] is longer than the limit of [5] characters"]' \
  "$(jqb '[.status, .error.reason]')"
http PUT /deep/_doc/4 '{"abcde":1}'
assert_eq "5: a 5-character name is fine" 201 "$HTTP_STATUS"
# With the limit raised, a 20 000-field mapping: later writes to it must not
# hold writes to another index for seconds.
http PUT /wide2 '{"settings":{"index.mapping.total_fields.limit":30000}}'
T_MAX=300 timed PUT /wide2/_doc/1 "$T_DIR/f20k.json"
assert_eq "5: with the limit raised to 30 000, the 20 000-field document is accepted" 201 "$T_STATUS"
other_write() { curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' -X PUT -d '{"n":1}' "$STORE_URL/calm/_doc/$1"; }
other_write 0 >/dev/null
base=$( { for i in 1 2 3 4 5; do other_write "b$i"; done; } | sort -n | sed -n 3p)
bg bash -c 'for i in $(seq 1 20); do curl -s -o /dev/null -H "Content-Type: application/json" -X PUT -d "{\"n$i\":1}" "$0/wide2/_doc/w$i"; done' "$STORE_URL"
wide_pid=$BG_PID
med=$( { for i in 1 2 3 4 5; do other_write "c$i"; done; } | sort -n | sed -n 3p)
wait "$wide_pid"
within "5: writes to another index while a 20 000-field index takes writes (median)" "$med" "$base" 20 1.0

# ---- 10, 11: _mget bounds and the memory budget (--max-memory) -------------------
jq -nc '{ids: [range(0;100001) | tostring]}' >"$T_DIR/ids.json"
timed POST /w/_mget "$T_DIR/ids.json"
assert_eq "10: _mget of 100 001 ids: 400 before building anything" 400 "$T_STATUS"
assert_match "10: ... naming the limit" 'at most 100000 documents' "$(tbody .error.reason)"
verstore_stop
if verstore_start --max-memory 16m; then ok "11: verstore restarts with --max-memory 16m"; else not_ok "11: verstore restarts with --max-memory 16m"; fi
jq -nc '{big: ("x" * 100000)}' >"$T_DIR/doc100k.json"
timed PUT /m/_doc/1 "$T_DIR/doc100k.json"
assert_eq "10: a 100 kB document is stored" 201 "$T_STATUS"
jq -nc '{ids: [range(0;5000) | "1"]}' >"$T_DIR/ids5k.json"
timed POST /m/_mget "$T_DIR/ids5k.json"
assert_eq "10: 5000 repeats of a 100 kB document (500 MB) under a 16 MB budget: 429" 429 "$T_STATUS"
assert_eq "10: ... circuit_breaking_exception with Elasticsearch's fields" \
  '["circuit_breaking_exception","circuit_breaking_exception",16777216,"TRANSIENT",429]' \
  "$(tbody '[.error.type, .error.root_cause[0].type, .error.bytes_limit, .error.durability, .status]')"
assert_match "10: ... its reason" '^\[parent\] Data too large, data for \[<mget_response>\] would be \[[0-9]+/[0-9.]+mb\], which is larger than the limit of \[16777216/16mb\]' "$(tbody_r .error.reason)"
jq -nc '{ids: ["1","1"]}' >"$T_DIR/ids2.json"
timed POST /m/_mget "$T_DIR/ids2.json"
assert_eq "11: ... then a small _mget is served" '[200,2]' "[$T_STATUS,$(tbody '.docs | length')]"
# A request body larger than the budget: refused from its Content-Length, before the upload.
head -c 20000000 /dev/zero | tr '\0' ' ' >"$T_DIR/body20m"
timed POST /m/_search "$T_DIR/body20m"
assert_eq "11: a 20 MB body under a 16 MB budget: 429" 429 "$T_STATUS"
assert_match "11: ... [parent] for <http_request>" '^\[parent\] Data too large, data for \[<http_request>\]' "$(tbody_r .error.reason)"
# ... and without a Content-Length (chunked): refused once it outgrows the budget.
st=$(curl -s -o "$T_DIR/t.out" -w '%{http_code}' --max-time 60 -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary @"$T_DIR/body20m" "$STORE_URL/m/_search")
assert_eq "11: a chunked 20 MB body: 429" 429 "$st"
for what in "/" "/_cluster/health" "/m/_doc/1"; do
  timed GET "$what"
  assert_eq "11: after the refusals GET $what answers 200" 200 "$T_STATUS"
done
timed PUT /m/_doc/2 "$T_DIR/doc100k.json"
assert_eq "11: ... and writes go on" 201 "$T_STATUS"

# ---- 4: search.max_buckets ---------------------------------------------------------
# One document with 260 values in each of two fields: a terms aggregation
# nested in another makes 260 × 260 = 67 600 buckets, past 65 536.
jq -nc '{a: [range(0;260)], b: [range(0;260)]}' >"$T_DIR/arr.json"
timed PUT "/agg/_doc/1?refresh=true" "$T_DIR/arr.json"
assert_eq "4: a document with 2 × 260 values is stored" 201 "$T_STATUS"
printf '{"size":0,"aggs":{"x":{"terms":{"field":"a","size":300},"aggs":{"y":{"terms":{"field":"b","size":300}}}}}}' >"$T_DIR/agg1.json"
timed POST /agg/_search "$T_DIR/agg1.json"
assert_eq "4: 67 600 nested buckets: 400 too_many_buckets_exception" '[400,"too_many_buckets_exception"]' "[$T_STATUS,$(tbody .error.type)]"
assert_eq "4: ... Elasticsearch's reason" '"Trying to create too many buckets. Must be less than or equal to: [65536]. This limit can be set by changing the [search.max_buckets] cluster level setting."' "$(tbody .error.reason)"
printf '{"size":0,"aggs":{"x":{"terms":{"field":"a","size":250},"aggs":{"y":{"terms":{"field":"b","size":250}}}}}}' >"$T_DIR/agg2.json"
timed POST /agg/_search "$T_DIR/agg2.json"
assert_eq "4: 62 750 buckets are answered" '[200,250,250]' "[$T_STATUS,$(tbody '.aggregations.x.buckets | length'),$(tbody '.aggregations.x.buckets[0].y.buckets | length')]"

# ---- 9: scroll contexts in bounded memory -------------------------------------------
# 3000 documents with 200-byte ids: a context used to hold ~0.7 MB of their
# ids, so the 16 MB budget took about twenty. Now a context keeps the
# request, a read snapshot and its position, whatever it matches: 80 open,
# and the limit that remains is the count (500, search.max_open_scroll_context).
jq -nrc 'range(0;3000) | ({index:{_index:"sc",_id:("\(.)-" + "i" * 200)}}, {n: .})' >"$T_DIR/sc.ndjson"
curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @"$T_DIR/sc.ndjson" "$STORE_URL/_bulk?refresh=true"
http GET /sc/_count
assert_json "9: 3000 documents indexed" .count 3000
printf '{"size":10,"query":{"match_all":{}}}' >"$T_DIR/scq.json"
opened=0 refused=""
for i in $(seq 1 80); do
  timed POST "/sc/_search?scroll=5m" "$T_DIR/scq.json"
  if [ "$T_STATUS" = 200 ]; then opened=$((opened + 1)); else refused="$T_STATUS $(tbody_r .error.type)"; break; fi
done
assert_eq "9: 80 scrolls over 3000 long ids open within the 16 MB budget" "80 " "$opened $refused"
timed GET /_cluster/health
assert_eq "9: cheap requests are still served" 200 "$T_STATUS"
http DELETE /_search/scroll/_all
assert_eq "9: clearing all scrolls frees them" "[200,$opened]" "[$HTTP_STATUS,$(jqb .num_freed)]"
timed POST "/sc/_search?scroll=5m" "$T_DIR/scq.json"
assert_eq "9: ... and a new scroll opens" 200 "$T_STATUS"

done_testing
