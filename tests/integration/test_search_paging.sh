#!/usr/bin/env bash
# verstore _search pages (issue 8): a search sorts only its from+size window
# (partial top-k), so every page must be exactly the slice of the fully
# sorted hit list — same order, same tie-breaks (equal keys: index order,
# then document order) — for _score, field, _id and _doc sorts, with
# search_after, over two indices whose scores tie across the boundary;
# hits.total and aggregations still see every hit.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# Two indices with the same 300 documents (ids a000… and b000…): identical
# statistics, so BM25 scores tie across the two and within each in three
# levels (txt is 1, 2 or 3 words long). grp has five values; n is missing
# from every fourth document.
N=300
for ix in p1:a p2:b; do
  awk -v ix="${ix%%:*}" -v p="${ix##*:}" -v n="$N" 'BEGIN { for (i = 0; i < n; i++) {
      txt = "common"; for (k = 0; k < i % 3; k++) txt = txt " filler"
      printf "{\"index\":{\"_index\":\"%s\",\"_id\":\"%s%03d\"}}\n", ix, p, i
      if (i % 4 == 3) printf "{\"txt\":\"%s\",\"grp\":\"g%d\"}\n", txt, i % 5
      else printf "{\"txt\":\"%s\",\"grp\":\"g%d\",\"n\":%d}\n", txt, i % 5, (i * 7) % 50 } }'
done > "$T_DIR/bulk.ndjson"
curl -s -o "$T_DIR/bulk.out" -H 'Content-Type: application/x-ndjson' --data-binary @"$T_DIR/bulk.ndjson" "$STORE_URL/_bulk"
assert_eq "bulk load: no errors" false "$(jq .errors "$T_DIR/bulk.out")"
http GET /p1,p2/_count
assert_json "600 documents" .count 600

# page_of BODY [PATH] — the hits of one search (over p1,p2) as "index/id" strings.
page_of() {
  http POST "${2:-/p1,p2/_search}" "$1"
  jqb '[.hits.hits[] | ._index + "/" + ._id]'
}

# pages DESC QUERY_AND_SORT — every page (several sizes, from > 0, the last
# partial page) equals the slice of the full list (size 600, a full sort),
# and every page reports the full total.
pages() {
  local desc=$1 body=$2 full total page want from size bad=""
  http POST /p1,p2/_search "{$body,\"size\":600}"
  full=$(jqb '[.hits.hits[] | ._index + "/" + ._id]')
  total=$(jqb .hits.total.value)
  [ "$(printf '%s' "$full" | jq length)" = "$total" ] && [ "$total" -gt 100 ] ||
    { not_ok "$desc: the full list has every hit ($total)"; return; }
  for fs in 0:10 7:10 95:10 123:1 299:2 300:37 440:10 590:10 595:10 0:1 42:0; do
    from=${fs%%:*} size=${fs##*:}
    http POST /p1,p2/_search "{$body,\"from\":$from,\"size\":$size}"
    page=$(jqb '[.hits.hits[] | ._index + "/" + ._id]')
    want=$(printf '%s' "$full" | jq -c ".[$from:$((from + size))]")
    [ "$page" = "$want" ] || bad="$bad from=$from size=$size: $page != $want;"
    [ "$(jqb .hits.total.value)" = "$total" ] || bad="$bad from=$from size=$size: total $(jqb .hits.total.value);"
  done
  assert_eq "$desc: pages are slices of the full order" "" "$bad"
}

match='"query":{"match":{"txt":"common"}}'
pages "_score" "$match"
pages "_score, track_scores with a field sort" "$match,\"sort\":[{\"grp.keyword\":\"desc\"}],\"track_scores\":true"
pages "keyword asc (ties broken by index, then doc order)" "$match,\"sort\":[{\"grp.keyword\":\"asc\"}]"
pages "long desc, missing last" "$match,\"sort\":[{\"n\":\"desc\"}]"
pages "long asc, missing first" "$match,\"sort\":[{\"n\":{\"order\":\"asc\",\"missing\":\"_first\"}}]"
pages "two keys" "$match,\"sort\":[{\"grp.keyword\":\"desc\"},{\"n\":\"asc\"}]"
pages "_id desc" '"query":{"match_all":{}},"sort":[{"_id":"desc"}]'
pages "_doc over two indices" '"query":{"match_all":{}},"sort":["_doc"]'
pages "_score over a bool with a filter" '"query":{"bool":{"should":[{"match":{"txt":"filler"}}],"filter":{"exists":{"field":"n"}}}}'

# The tie-breaks spelled out: the 100 one-word documents of each index share
# the top score; p1's come first, each index's in document order.
http POST /p1,p2/_search "{$match,\"from\":97,\"size\":6}"
assert_json "equal scores across indices: p1's then p2's, each in doc order" \
  '[.hits.hits[] | ._index + "/" + ._id]' '["p1/a291","p1/a294","p1/a297","p2/b000","p2/b003","p2/b006"]'
assert_json "equal scores: all six the same" '[.hits.hits[]._score] | unique | length' 1
http POST /p1,p2/_search '{"query":{"match_all":{}},"sort":[{"grp.keyword":"asc"}],"from":58,"size":4}'
assert_json "equal sort values: index, then doc order" '[.hits.hits[] | ._id]' '["a290","a295","b000","b005"]'
http POST /p1,p2/_search '{"query":{"match_all":{}},"sort":[{"n":"asc"}],"from":448,"size":4}'
assert_json "missing values sort last, in index then doc order" '[.hits.hits[] | [._id, .sort[0] > 1e18]]' \
  '[["b157",false],["b257",false],["a003",true],["a007",true]]'

# search_after pages (size 13) concatenate to the full list.
walk() {
  local desc=$1 body=$2 path=${3:-/p1,p2/_search} full after="" got="[]" page n=0
  full=$(page_of "{$body,\"size\":600}" "$path")
  while :; do
    http POST "$path" "{$body,\"size\":13${after:+,\"search_after\":$after}}"
    page=$(jqb '[.hits.hits[] | ._index + "/" + ._id]')
    [ "$(printf '%s' "$page" | jq length)" -gt 0 ] || break
    [ "$(jqb .hits.total.value)" = "$(printf '%s' "$full" | jq length)" ] || { not_ok "$desc: total on page $n"; return; }
    got=$(jq -cn --argjson a "$got" --argjson b "$page" '$a + $b')
    after=$(jqb '.hits.hits[-1].sort')
    n=$((n + 1))
    [ "$n" -le 60 ] || { not_ok "$desc: search_after does not end"; return; }
  done
  assert_eq "$desc: search_after pages concatenate to the full order" "$full" "$got"
}
walk "search_after on _score, _id" "$match,\"sort\":[\"_score\",{\"_id\":\"asc\"}]"
walk "search_after on keyword, long, _id" "$match,\"sort\":[{\"grp.keyword\":\"desc\"},{\"n\":\"asc\"},{\"_id\":\"asc\"}]"
walk "search_after on _doc over one index" "$match,\"sort\":[\"_doc\"]" /p1/_search

# What the page does not change: the total and the aggregations see every hit.
http POST '/p1,p2/_search' "{$match,\"size\":3,\"from\":5,\"aggs\":{\"g\":{\"terms\":{\"field\":\"grp.keyword\"}},\"s\":{\"sum\":{\"field\":\"n\"}}}}"
assert_json "size 3: total counts all hits" .hits.total '{"value":600,"relation":"eq"}'
assert_json "size 3: aggregations see all hits" '[.aggregations.g.buckets[].doc_count, .aggregations.s.value]' \
  "[120,120,120,120,120,$(awk 'BEGIN { for (i = 0; i < 300; i++) if (i % 4 != 3) s += (i * 7) % 50; print 2 * s }').0]"
http POST '/p1,p2/_search' "{$match,\"size\":3,\"track_total_hits\":100}"
assert_json "track_total_hits 100: a lower bound" .hits.total '{"value":100,"relation":"gte"}'
http POST '/p1,p2/_search' "{$match,\"size\":0}"
assert_json "size 0: no hits, the total" '[(.hits.hits | length), .hits.total.value]' '[0,600]'
http POST '/p1,p2/_search' "{$match,\"from\":600,\"size\":10}"
assert_json "from past the end: no hits, the total" '[(.hits.hits | length), .hits.total.value]' '[0,600]'

# Scrolls keep the full ordered list: the pages of a scroll are the full order.
full=$(page_of "{$match,\"size\":600}")
http POST '/p1,p2/_search?scroll=1m' "{$match,\"size\":250}"
got=$(jqb '[.hits.hits[] | ._index + "/" + ._id]')
sid=$(printf '%s' "$HTTP_BODY" | jq -r ._scroll_id)
for _ in 1 2; do
  http POST /_search/scroll "{\"scroll\":\"1m\",\"scroll_id\":\"$sid\"}"
  got=$(jq -cn --argjson a "$got" --argjson b "$(jqb '[.hits.hits[] | ._index + "/" + ._id]')" '$a + $b')
done
assert_eq "scroll pages concatenate to the full order" "$full" "$got"
http DELETE /_search/scroll "{\"scroll_id\":\"$sid\"}"

# A keyword term on one index is answered off the value's entries (every
# match scores alike): the same page, scores, total and max_score as the
# general path, reached by wrapping the term in a bool.
for win in '"size":10' '"from":40,"size":7' '"size":3,"track_total_hits":5' '"size":0'; do
  http POST /p1/_search "{\"query\":{\"term\":{\"grp.keyword\":\"g1\"}},$win}"
  fast=$(jqb '[.hits.total, .hits.max_score, [.hits.hits[] | [._id, ._score]]]')
  http POST /p1/_search "{\"query\":{\"bool\":{\"must\":[{\"term\":{\"grp.keyword\":\"g1\"}}]}},$win}"
  general=$(jqb '[.hits.total, .hits.max_score, [.hits.hits[] | [._id, ._score]]]')
  assert_eq "keyword term ($win): same answer as the general path" "$general" "$fast"
done
check "keyword term: the answer is not empty" test "$(printf '%s' "$fast" | jq '.[0].value')" -gt 0
# terms: many values (repeats and misses included) collect once; the index's
# max_terms_count is enforced with Elasticsearch's error.
vals=$(for i in $(seq 0 2999); do printf '"g%d",' $((i % 7)); done)
http POST /p1/_search "{\"query\":{\"terms\":{\"grp.keyword\":[${vals%,}]}},\"size\":0}"
assert_json "terms with 3000 values (5 distinct that match): every document once" .hits.total.value 300
http PUT /capped '{"settings":{"index.max_terms_count":2}}'
http POST /capped/_search '{"query":{"terms":{"k":["a","b","c"]}}}'
assert_json "terms over index.max_terms_count: 400 with Elasticsearch's reason" \
  '[.status, .error.type, .error.root_cause[0].type, (.error.root_cause[0].reason | startswith("failed to create query: The number of terms [3] used in the Terms Query request has exceeded the allowed maximum of [2]."))]' \
  '[400,"search_phase_execution_exception","query_shard_exception",true]'
done_testing
