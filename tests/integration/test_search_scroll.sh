#!/usr/bin/env bash
# verstore scroll and search_after over 25,000 documents (issue 8): every
# document exactly once, in order, with no gaps; DELETE /_search/scroll in
# its forms and the 404 for an unknown or freed context; an elasticdump-style
# session (stored_fields ["*"], scroll=10m, sort _doc, DELETE at the end);
# a scroll is a point in time (a document deleted or updated after its first
# page comes as it was).
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

N=25000
# bulk-load N documents in batches of 5000; ids are zero-padded so _id order is numeric order
for start in $(seq 0 5000 $((N - 1))); do
  awk -v s="$start" 'BEGIN { for (i = s; i < s + 5000; i++) {
      printf "{\"index\":{\"_index\":\"big\",\"_id\":\"d%05d\"}}\n{\"n\":%d,\"grp\":\"g%d\",\"txt\":\"word%d common\"}\n", i, i, i % 7, i % 13 } }' \
    > "$T_DIR/bulk.ndjson"
  curl -s -o "$T_DIR/bulk.out" -H 'Content-Type: application/x-ndjson' --data-binary @"$T_DIR/bulk.ndjson" "$STORE_URL/_bulk"
  [ "$(jq .errors "$T_DIR/bulk.out")" = false ] || not_ok "bulk batch at $start had errors"
done
http GET /big/_count
assert_json "25,000 documents loaded" .count $N
seq -f 'd%05g' 0 $((N - 1)) > "$T_DIR/all.ids"

# ---- scroll ------------------------------------------------------------------------------
: > "$T_DIR/scroll.ids"
http POST '/big/_search?scroll=1m' '{"size":1000,"query":{"match":{"txt":"common"}},"sort":["_doc"]}'
assert_json "scroll: first page has 1000 hits and the total" '[(.hits.hits | length), .hits.total.value, .hits.total.relation]' '[1000,10000,"gte"]'
sid=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
pages=1
printf '%s' "$HTTP_BODY" | jq -r '.hits.hits[]._id' >> "$T_DIR/scroll.ids"
while :; do
  http POST /_search/scroll "{\"scroll\":\"1m\",\"scroll_id\":\"$sid\"}"
  [ "$HTTP_STATUS" = 200 ] || { not_ok "scroll page $pages: status $HTTP_STATUS"; break; }
  n=$(jqb '.hits.hits | length')
  [ "$n" -gt 0 ] || break
  printf '%s' "$HTTP_BODY" | jq -r '.hits.hits[]._id' >> "$T_DIR/scroll.ids"
  pages=$((pages + 1))
  [ "$pages" -le 30 ] || { not_ok "scroll does not end"; break; }
done
assert_eq "scroll: 25 pages" 25 "$pages"
assert_eq "scroll: every document exactly once, in _doc order" "$(md5sum < "$T_DIR/all.ids")" "$(md5sum < "$T_DIR/scroll.ids")"
assert_eq "scroll: no duplicates" 0 "$(sort "$T_DIR/scroll.ids" | uniq -d | wc -l)"
http DELETE /_search/scroll "{\"scroll_id\":\"$sid\"}"
assert_json "an exhausted scroll still counts as freed" '[.succeeded, .num_freed]' '[true,1]'

# ---- search_after --------------------------------------------------------------------------
: > "$T_DIR/after.ids"
body='{"size":2000,"sort":[{"grp.keyword":"asc"},{"n":"desc"}]}'
pages=0
while :; do
  http POST /big/_search "$body"
  [ "$HTTP_STATUS" = 200 ] || { not_ok "search_after page $pages: status $HTTP_STATUS"; break; }
  n=$(jqb '.hits.hits | length')
  [ "$n" -gt 0 ] || break
  printf '%s' "$HTTP_BODY" | jq -r '.hits.hits[] | "\(._id) \(.sort[0]) \(.sort[1])"' >> "$T_DIR/after.ids"
  last=$(jqb '.hits.hits[-1].sort')
  body="{\"size\":2000,\"sort\":[{\"grp.keyword\":\"asc\"},{\"n\":\"desc\"}],\"search_after\":$last}"
  pages=$((pages + 1))
  [ "$pages" -le 20 ] || { not_ok "search_after does not end"; break; }
done
assert_eq "search_after: 13 pages of 2000" 13 "$pages"
assert_eq "search_after: every document exactly once" "$(md5sum < "$T_DIR/all.ids")" "$(cut -d' ' -f1 "$T_DIR/after.ids" | sort | md5sum)"
check "search_after: in (grp asc, n desc) order" sh -c "cut -d' ' -f2,3 '$T_DIR/after.ids' | sort -s -k1,1 -k2,2nr -c"

# ---- deep from/size and the window ----------------------------------------------------------
http POST /big/_search '{"from":9990,"size":10,"sort":["_id"]}'
assert_json "from 9990 size 10 (sorted by _id)" '[.hits.hits[0]._id, .hits.hits[9]._id, .hits.total.value]' '["d09990","d09999",10000]'
http POST /big/_search '{"from":9991,"size":10}'
assert_eq "from 9991 + size 10: 400" 400 "$HTTP_STATUS"

# ---- DELETE /_search/scroll -------------------------------------------------------------------
http POST '/big/_search?scroll=1m&size=10' '{}'
s1=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
http POST '/big/_search?scroll=1m&size=10' '{}'
s2=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
http POST '/big/_search?scroll=1m&size=10' '{}'
s3=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
http DELETE /_search/scroll "{\"scroll_id\":[\"$s1\",\"$s2\"]}"
assert_json "DELETE with a body list frees both" '[.succeeded, .num_freed]' '[true,2]'
assert_eq "… 200" 200 "$HTTP_STATUS"
http GET "/_search/scroll/$s1?scroll=1m"
assert_json "a freed context: 404 search_context_missing_exception" '[.status, .error.root_cause[0].type]' '[404,"search_context_missing_exception"]'
http DELETE "/_search/scroll/$s1"
assert_json "freeing it again: 404, num_freed 0" '[.num_freed]' '[0]'
assert_eq "… status 404" 404 "$HTTP_STATUS"
http DELETE "/_search/scroll/$s3"
assert_json "DELETE /_search/scroll/{id}" .num_freed 1
http DELETE /_search/scroll/not-a-scroll-id
assert_eq "a malformed id: 400" 400 "$HTTP_STATUS"
http POST '/big/_search?scroll=1m&size=10' '{}'
http POST '/big/_search?scroll=1m&size=10' '{}'
http DELETE /_search/scroll/_all
assert_json "DELETE /_search/scroll/_all" '[.succeeded, .num_freed]' '[true,2]'

# ---- a scroll is a point in time: writes after its first page are not seen -------------------------
http POST '/big/_search?scroll=1m' '{"size":3,"query":{"ids":{"values":["d00001","d00002","d00003","d00004","d00005","d00006"]}},"sort":["_id"]}'
sid=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
http DELETE /big/_doc/d00005
http PUT '/big/_doc/d00006?refresh=true' '{"n":-6}'
http POST /_search/scroll "{\"scroll_id\":\"$sid\"}"
assert_json "a document deleted meanwhile is still returned, an updated one as it was" \
  '[.hits.hits[] | [._id, ._source.n]]' '[["d00004",4],["d00005",5],["d00006",6]]'
http DELETE /_search/scroll "{\"scroll_id\":\"$sid\"}"
http GET /big/_doc/d00005
assert_eq "… while a plain read sees the delete" 404 "$HTTP_STATUS"

# ---- elasticdump-style session --------------------------------------------------------------------
http POST '/big/_search?scroll=10m&size=5000' '{"query":{"match_all":{}},"stored_fields":["*"],"_source":true,"sort":["_doc"]}'
assert_eq "elasticdump first request: 200" 200 "$HTTP_STATUS"
sid=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
got=$(jqb '.hits.hits | length')
while :; do
  http GET "/_search/scroll?scroll=10m&scroll_id=$sid"
  n=$(jqb '.hits.hits | length')
  [ "$HTTP_STATUS" = 200 ] && [ "$n" -gt 0 ] || break
  got=$((got + n))
done
assert_eq "elasticdump: every document, with _source" $((N - 1)) "$got"
http DELETE /_search/scroll "{\"scroll_id\":\"$sid\"}"
assert_eq "elasticdump: DELETE of the exhausted scroll is 2xx" 200 "$HTTP_STATUS"
assert_json "… and frees it" .num_freed 1

check "verstore stops cleanly" verstore_stop
done_testing
