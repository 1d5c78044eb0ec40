#!/usr/bin/env bash
# verstore _search and _count (issue 8): every query type with the exact hits
# expected, BM25 scores as Elasticsearch 8 computes them, sorting and
# search_after, from/size and index.max_result_window, aggregations, mapping
# inference and PUT _mapping, documents refused by the mapping, index
# structures following overwrites, deletes and refused stale writes, searches
# over lists, wildcards and multi-index aliases, and 400s naming what verstore
# does not support.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# search BODY [PATH] — POST a search to /books/_search (or PATH).
search() { http POST "${2:-/books/_search}" "$1"; }
ids() { jqb '[.hits.hits[]._id]'; }
# hits DESC BODY EXPECTED_IDS [PATH] — the ids of the hits, in order.
hits() { search "$2" "${4:-}"; assert_eq "$1" "$3" "$(ids)"; }
# hit_set DESC BODY EXPECTED_IDS — the ids of the hits, as a sorted set.
hit_set() { search "$2"; assert_eq "$1" "$3" "$(jqb '[.hits.hits[]._id] | sort')"; }

http POST '/_bulk' '{"index":{"_index":"books","_id":"1"}}
{"title":"The quick brown fox","genre":"animal","year":2001,"price":10.5,"published":"2001-05-01","instock":true,"author":{"name":"Ann Lee"}}
{"index":{"_index":"books","_id":"2"}}
{"title":"Quick quick dog","genre":"animal","year":2010,"price":7.25,"published":"2010-01-15","instock":false,"author":{"name":"Bob Ray"}}
{"index":{"_index":"books","_id":"3"}}
{"title":"Lazy fox jumps over the dog","genre":"fable","year":1999,"price":12,"published":"1999-12-31T23:59:59Z","instock":true,"author":{"name":"Ann Ray"}}
{"index":{"_index":"books","_id":"4"}}
{"title":"A history of brown paper","genre":"history","year":2020,"published":"2020-06-01","author":{"name":"Cy Lee"}}
{"index":{"_index":"books","_id":"5"}}
{"title":"Foxes and hounds","genre":"animal","year":2015,"price":3}
' application/x-ndjson
assert_json "bulk load: no errors" .errors false

# ---- mapping inference --------------------------------------------------------
http GET /books/_mapping
assert_json "GET _mapping: the inferred types" \
  '.books.mappings.properties | {t: .title.type, kw: .title.fields.keyword.type, ia: .title.fields.keyword.ignore_above, year: .year.type, price: .price.type, pub: .published.type, stock: .instock.type, name: .author.properties.name.type}' \
  '{"t":"text","kw":"keyword","ia":256,"year":"long","price":"float","pub":"date","stock":"boolean","name":"text"}'

# ---- query types ----------------------------------------------------------------
hits "match_all: every document (doc order)" '{"query":{"match_all":{}}}' '["1","2","3","4","5"]'
hits "match_none" '{"query":{"match_none":{}}}' '[]'
hit_set "ids" '{"query":{"ids":{"values":["2","4","nope"]}}}' '["2","4"]'
hit_set "term on a keyword sub-field" '{"query":{"term":{"genre.keyword":"animal"}}}' '["1","2","5"]'
hit_set "term on a long" '{"query":{"term":{"year":2010}}}' '["2"]'
hit_set "term on a boolean" '{"query":{"term":{"instock":false}}}' '["2"]'
hit_set "term on a text field is not analysed (Quick ≠ quick)" '{"query":{"term":{"title":"Quick"}}}' '[]'
hit_set "term on an unmapped field matches nothing" '{"query":{"term":{"nosuch":"x"}}}' '[]'
hit_set "terms" '{"query":{"terms":{"year":[1999,2020,1234]}}}' '["3","4"]'
hit_set "range on a long (gte/lt)" '{"query":{"range":{"year":{"gte":2001,"lt":2015}}}}' '["1","2"]'
hit_set "range on a float (gt)" '{"query":{"range":{"price":{"gt":7.25}}}}' '["1","3"]'
hit_set "range on a date (ISO bounds)" '{"query":{"range":{"published":{"gte":"2001-01-01","lte":"2010-01-15"}}}}' '["1","2"]'
hit_set "range on a date (epoch millis)" '{"query":{"range":{"published":{"gt":978307200000}}}}' '["1","2","4"]'
hit_set "range on a keyword" '{"query":{"range":{"genre.keyword":{"gte":"b","lt":"h"}}}}' '["3"]'
hit_set "exists" '{"query":{"exists":{"field":"price"}}}' '["1","2","3","5"]'
hit_set "exists on an object path" '{"query":{"exists":{"field":"author"}}}' '["1","2","3","4"]'
hit_set "prefix on a keyword" '{"query":{"prefix":{"genre.keyword":"an"}}}' '["1","2","5"]'
hit_set "prefix on a text field (fox, foxes)" '{"query":{"prefix":{"title":"fox"}}}' '["1","3","5"]'
hit_set "wildcard with * on text terms" '{"query":{"wildcard":{"title":{"value":"h*s"}}}}' '["5"]'
hit_set "wildcard with ? on a keyword" '{"query":{"wildcard":{"genre.keyword":"?able"}}}' '["3"]'
hit_set "match (or)" '{"query":{"match":{"title":"quick FOX"}}}' '["1","2","3"]'
hit_set "match (and)" '{"query":{"match":{"title":{"query":"quick fox","operator":"and"}}}}' '["1"]'
hit_set "match minimum_should_match 2 of 3" '{"query":{"match":{"title":{"query":"brown fox dog","minimum_should_match":2}}}}' '["1","3"]'
hit_set "match on a dotted path" '{"query":{"match":{"author.name":"ray"}}}' '["2","3"]'
hit_set "match_phrase" '{"query":{"match_phrase":{"title":"brown fox"}}}' '["1"]'
hit_set "match_phrase: order matters" '{"query":{"match_phrase":{"title":"fox brown"}}}' '[]'
hit_set "match_phrase: terms present but apart do not match" '{"query":{"match_phrase":{"title":"brown paper history"}}}' '[]'
hit_set "multi_match over two fields" '{"query":{"multi_match":{"query":"ann","fields":["author.name","title^2"]}}}' '["1","3"]'
hit_set "query_string field:value AND NOT" '{"query":{"query_string":{"query":"title:fox AND NOT genre:fable"}}}' '["1"]'
hit_set "query_string bare terms over all fields, OR" '{"query":{"query_string":{"query":"quick OR hounds"}}}' '["1","2","5"]'
hit_set "query_string quoted phrase and parentheses" '{"query":{"query_string":{"query":"\"brown paper\" OR (genre:fable AND year:1999)"}}}' '["3","4"]'
hit_set "bool must/filter/must_not" '{"query":{"bool":{"must":{"match":{"title":"fox"}},"filter":[{"range":{"year":{"gte":1990}}}],"must_not":[{"term":{"genre.keyword":"fable"}}]}}}' '["1"]'
hit_set "bool should with minimum_should_match" '{"query":{"bool":{"should":[{"term":{"genre.keyword":"animal"}},{"range":{"year":{"gte":2010}}},{"exists":{"field":"price"}}],"minimum_should_match":2}}}' '["1","2","5"]'
hit_set "bool must_not only: everything else" '{"query":{"bool":{"must_not":{"term":{"genre.keyword":"animal"}}}}}' '["3","4"]'
http GET '/books/_search?q=genre:animal%20AND%20year:%3E2005' 
assert_eq "?q= with range syntax: 400 naming it" 400 "$HTTP_STATUS"
http GET '/books/_search?q=title:fox&df=title'
assert_eq "?q=title:fox" '["1","3"]' "$(jqb '[.hits.hits[]._id] | sort')"
http GET '/books/_count?q=animal'
assert_json "_count with q=" .count 3
http POST /books/_count '{"query":{"range":{"year":{"lt":2010}}}}'
assert_json "_count with a query body" .count 2

# ---- scores ----------------------------------------------------------------------
http PUT /one/_doc/1 '{"t":"hello"}'
search '{"query":{"match":{"t":"hello"}}}' /one/_search
assert_json "BM25 on a one-document index: idf ln(1+0.5/1.5) × 2.2/(1+1.2) = 0.2876821 (ES 8's LegacyBM25Similarity)" \
  '[.hits.max_score, .hits.hits[0]._score]' '[0.2876821,0.2876821]'
search '{"query":{"term":{"t.keyword":"hello"}}}' /one/_search
assert_json "keyword term scores the same (tf 1, length 1)" '.hits.hits[0]._score' 0.2876821
search '{"query":{"match":{"title":"quick"}}}'
assert_eq "BM25 order: tf 2 in a short title beats tf 1" '["2","1"]' "$(ids)"
# by hand: N 5, df 2 → idf ln(1 + 3.5/2.5) = 0.8754687; avgdl 21/5 = 4.2;
# Elasticsearch's LegacyBM25Similarity multiplies the boost by (k1 + 1) = 2.2:
# doc 2 (tf 2, 3 tokens): 2.2 × 0.8754687 × (1 − 1/(1 + 2/(1.2 × (0.25 + 0.75 × 3/4.2)))) = 1.3089533
# doc 1 (tf 1, 4 tokens): 2.2 × 0.8754687 × (1 − 1/(1 + 1/(1.2 × (0.25 + 0.75 × 4/4.2)))) = 0.8928621
assert_eq "BM25 scores match the formula (to 1e-6)" true \
  "$(jqb '[.hits.hits[]._score] as $s | (($s[0] - 1.3089533) | fabs) < 1e-6 and (($s[1] - 0.8928621) | fabs) < 1e-6')"
search '{"query":{"bool":{"filter":{"term":{"genre.keyword":"fable"}}}}}'
assert_json "filter context scores 0" '.hits.hits[0]._score' 0
search '{"query":{"constant_score":{"filter":{"term":{"year":2001}},"boost":2.5}}}'
assert_json "constant_score boost" '.hits.hits[0]._score' 2.5

# ---- sorting, paging -------------------------------------------------------------
hits "sort year desc" '{"sort":[{"year":"desc"}]}' '["4","5","2","1","3"]'
assert_json "sort values and null scores with a field sort" '[.hits.max_score, .hits.hits[0]._score, [.hits.hits[].sort[0]]]' '[null,null,[2020,2015,2010,2001,1999]]'
hits "sort price asc: missing last" '{"sort":[{"price":{"order":"asc"}}]}' '["5","2","1","3","4"]'
hits "sort published desc, missing _first" '{"sort":[{"published":{"order":"desc","missing":"_first"}}]}' '["5","4","2","1","3"]'
search '{"sort":[{"published":"asc"}],"size":1}'
assert_json "a date sorts by epoch milliseconds" '.hits.hits[0].sort' '[946684799000]'
hits "two keys: genre asc then year desc" '{"sort":[{"genre.keyword":"asc"},{"year":"desc"}]}' '["5","2","1","3","4"]'
hits "sort _id desc" '{"sort":[{"_id":"desc"}]}' '["5","4","3","2","1"]'
hits "sort by _score: the shorter field wins at equal idf" '{"query":{"match":{"title":"fox dog"}},"sort":["_score"]}' '["3","2","1"]'
hits "equal scores: the second key (_id desc) decides" '{"query":{"match":{"genre":"animal"}},"sort":["_score",{"_id":"desc"}]}' '["5","2","1"]'
hits "?sort=year:asc" '' '["3","1","2","5","4"]' '/books/_search?sort=year:asc'
hits "from/size" '{"sort":["_id"],"from":1,"size":2}' '["2","3"]'
hits "search_after page 1" '{"sort":["year","_id"],"size":2}' '["3","1"]'
assert_json "search_after: sort values" '.hits.hits[1].sort' '[2001,"1"]'
hits "search_after page 2" '{"sort":["year","_id"],"size":2,"search_after":[2001,"1"]}' '["2","5"]'
hits "search_after page 3" '{"sort":["year","_id"],"size":2,"search_after":[2015,"5"]}' '["4"]'
search '{"sort":[{"title":"asc"}]}'
assert_eq "sort on a text field: 400" 400 "$HTTP_STATUS"
assert_match "… with Elasticsearch's fielddata reason" 'Fielddata is disabled on \[title\] in \[books\]' "$(jqb .error.root_cause[0].reason)"
search '{"sort":[{"nosuch":"asc"}]}'
assert_json "sort on an unmapped field: 400 naming it" '[.status, .error.root_cause[0].reason]' '[400,"No mapping found for [nosuch] in order to sort on"]'
hits "… unless unmapped_type is given" '{"sort":[{"nosuch":{"unmapped_type":"long"}},"_id"],"size":2}' '["1","2"]'
search '{"from":9995,"size":10}'
assert_json "from + size over 10000: Elasticsearch's error" '[.status, .error.root_cause[0].reason]' \
  '[400,"Result window is too large, from + size must be less than or equal to: [10000] but was [10005]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting."]'
http PUT /books/_settings '{"index":{"max_result_window":3}}'
search '{"from":2,"size":2}'
assert_match "index.max_result_window is honoured" 'less than or equal to: \[3\] but was \[4\]' "$(jqb .error.root_cause[0].reason)"
http PUT /books/_settings '{"index":{"max_result_window":10000}}'
search '{"track_total_hits":2,"size":0}'
assert_json "track_total_hits 2: gte" .hits.total '{"value":2,"relation":"gte"}'
search '{"terminate_after":2,"sort":["_doc"]}'
assert_json "terminate_after" '[.terminated_early, .hits.total.value, [.hits.hits[]._id]]' '[true,2,["1","2"]]'
search '{"query":{"ids":{"values":["1"]}},"_source":["title","author.*"],"version":true,"seq_no_primary_term":true}'
assert_json "_source filtering, version, seq_no" '.hits.hits[0] | [._source, ._version, ._primary_term]' \
  '[{"title":"The quick brown fox","author":{"name":"Ann Lee"}},1,1]'

# ---- aggregations ----------------------------------------------------------------
search '{"size":0,"aggs":{"g":{"terms":{"field":"genre.keyword"},"aggs":{"y":{"max":{"field":"year"}}}},"avg_year":{"avg":{"field":"year"}},"first":{"min":{"field":"published"}},"total":{"sum":{"field":"price"}},"n":{"value_count":{"field":"price"}}}}'
assert_json "terms with a max sub-aggregation" '[.aggregations.g.buckets[] | [.key, .doc_count, .y.value]]' '[["animal",3,2015],["fable",1,1999],["history",1,2020]]'
assert_json "avg, date min, sum, value_count" '[.aggregations.avg_year.value, .aggregations.first.value_as_string, .aggregations.total.value, .aggregations.n.value]' \
  '[2009,"1999-12-31T23:59:59.000Z",32.75,4]'
search '{"query":{"term":{"genre.keyword":"animal"}},"size":0,"aggs":{"stock":{"terms":{"field":"instock","size":1}},"empty":{"avg":{"field":"nosuch"}}}}'
assert_json "aggregations follow the query; boolean keys; sum_other_doc_count; empty avg is null" \
  '[.aggregations.stock.buckets, .aggregations.stock.sum_other_doc_count, .aggregations.empty.value]' '[[{"key":0,"key_as_string":"false","doc_count":1}],1,null]'
search '{"size":0,"aggs":{"t":{"terms":{"field":"title"}}}}'
assert_match "terms aggregation on a text field: fielddata 400" 'Fielddata is disabled on \[title\]' "$(jqb .error.root_cause[0].reason)"

# ---- unsupported parts answer 400 naming them --------------------------------------
search '{"query":{"fuzzy":{"title":"fox"}}}'
assert_json "known query verstore lacks" '[.status, .error.type, .error.reason]' '[400,"illegal_argument_exception","verstore does not support the [fuzzy] query"]'
search '{"query":{"foo":{}}}'
assert_json "unknown query: parsing_exception" '[.status, .error.type, .error.reason]' '[400,"parsing_exception","unknown query [foo]"]'
search '{"collapse":{"field":"title"}}'
assert_json "collapse" .error.reason '"verstore does not support [collapse] in searches"'
search '{"aggs":{"h":{"auto_date_histogram":{"field":"published"}}}}'
assert_match "auto_date_histogram" 'auto_date_histogram' "$(jqb .error.reason)"
search '{"aggs":{"h":{"date_histogram":{"field":"published"}}}}'
assert_json "date_histogram without an interval" '[.status, .error.type, .error.reason]' '[400,"illegal_argument_exception","Invalid interval specified, must be non-null and non-empty"]'
search '{"query":{"multi_match":{"query":"x","type":"cross_fields"}}}'
assert_match "multi_match cross_fields" 'cross_fields' "$(jqb .error.reason)"
search '{"query":{"query_string":{"query":"fox~"}}}'
assert_match "query_string fuzzy" 'fuzzy' "$(jqb .error.reason)"
search '{"query":{"match":{"title":{"query":"x","fuzziness":"AUTO"}}}}'
assert_match "match fuzziness" 'fuzziness' "$(jqb .error.reason)"
search '{"query":{"term":{"year":"abc"}}}'
assert_eq "a term that cannot be a long: 400" 400 "$HTTP_STATUS"
search '{"bogus":1}'
assert_json "unknown search key" .error.reason '"Unknown key for a VALUE_NUMBER in [bogus]."'

# ---- PUT _mapping, documents the mapping refuses ---------------------------------------
http PUT /books/_mapping '{"properties":{"isbn":{"type":"keyword"}}}'
assert_json "PUT _mapping adds a field" . '{"acknowledged":true}'
http GET /books/_mapping
assert_json "… and GET shows it" .books.mappings.properties.isbn.type '"keyword"'
http PUT /books/_mapping '{"properties":{"year":{"type":"text"}}}'
assert_json "PUT _mapping changing a type: 400" '[.status, .error.type, .error.reason]' \
  '[400,"illegal_argument_exception","mapper [year] cannot be changed from type [long] to [text]"]'
http PUT /books/_doc/9 '{"year":"not a number"}'
assert_json "a document that does not fit the mapping: 400 document_parsing_exception" '[.status, .error.type]' '[400,"document_parsing_exception"]'
http GET /books/_doc/9
assert_eq "… and nothing was written" 404 "$HTTP_STATUS"
http POST /_bulk '{"index":{"_index":"books","_id":"9"}}
{"instock":"maybe"}
' application/x-ndjson
assert_json "in _bulk: the item fails with 400" '.items[0].index | [.status, .error.type]' '[400,"document_parsing_exception"]'
http GET /books/_count
assert_json "… nothing added" .count 5
http PUT /strict '{"mappings":{"dynamic":"strict","properties":{"a":{"type":"keyword"}}}}'
http PUT /strict/_doc/1 '{"b":1}'
assert_json "strict mapping refuses an unmapped field" '[.status, .error.type]' '[400,"strict_dynamic_mapping_exception"]'
http PUT /badmap '{"mappings":{"properties":{"a":{"type":"nosuchtype"}}}}'
assert_json "create index with a bad mapping: mapper_parsing_exception" '[.status, .error.type]' '[400,"mapper_parsing_exception"]'
assert_match "… Failed to parse mapping" '^"Failed to parse mapping: No handler for type \[nosuchtype\]' "$(jqb .error.reason)"

# ---- the index structures follow every write -----------------------------------------------
http PUT '/ext/_doc/1?version=5&version_type=external' '{"w":"fresh"}'
http PUT '/ext/_doc/1?version=3&version_type=external' '{"w":"stale"}'
assert_eq "a stale external write is refused" 409 "$HTTP_STATUS"
hits "… and the search finds nothing of it" '{"query":{"match":{"w":"stale"}}}' '[]' /ext/_search
hits "… the current document still matches" '{"query":{"match":{"w":"fresh"}}}' '["1"]' /ext/_search
http PUT /books/_doc/5 '{"title":"Cats and mice","genre":"animal","year":2015}'
hits "overwrite: the old terms no longer match" '{"query":{"match":{"title":"hounds"}}}' '[]'
hits "… the new ones do" '{"query":{"match":{"title":"cats"}}}' '["5"]'
hit_set "… old values are gone from exact fields" '{"query":{"exists":{"field":"price"}}}' '["1","2","3"]'
http DELETE /books/_doc/5
hits "delete: nothing matches any more" '{"query":{"match":{"title":"cats"}}}' '[]'
search '{"query":{"term":{"genre.keyword":"animal"}},"size":0}'
assert_json "… and counts follow" .hits.total.value 2

# ---- several indices, wildcards, aliases ------------------------------------------------------
http PUT /logs-a/_doc/1 '{"msg":"disk full","level":"error"}'
http PUT /logs-b/_doc/2 '{"msg":"disk ok","level":"info"}'
http PUT /logs-b/_doc/3 '{"msg":"cpu hot","level":"error"}'
http POST /_aliases '{"actions":[{"add":{"index":"logs-a","alias":"logs"}},{"add":{"index":"logs-b","alias":"logs"}}]}'
search '{"query":{"match":{"msg":"disk"}},"sort":["_id"]}' /logs/_search
assert_json "multi-index alias: hits from both indices" '[.hits.hits[] | [._index, ._id]]' '[["logs-a","1"],["logs-b","2"]]'
assert_json "… _shards counts the indices" ._shards.total 2
search '{"query":{"term":{"level.keyword":"error"}},"sort":["_id"]}' '/logs-*/_search'
assert_json "wildcard pattern" '[.hits.hits[]._index]' '["logs-a","logs-b"]'
search '{"size":0,"aggs":{"l":{"terms":{"field":"level.keyword"}}}}' '/logs-a,logs-b/_search'
assert_json "comma list; aggregations merge across indices" '[.aggregations.l.buckets[] | [.key, .doc_count]]' '[["error",2],["info",1]]'
search '{"query":{"match":{"msg":"disk"}}}' '/logs-*,-logs-b/_search'
assert_json "wildcard with an exclusion" '[.hits.hits[]._index]' '["logs-a"]'
http GET '/_search?q=msg:cpu'
assert_json "/_search over every index" '[.hits.hits[] | [._index, ._id]]' '[["logs-b","3"]]'
http GET /logs/_count
assert_json "_count through a multi-index alias" .count 3
http GET /_alias/logs
assert_json "GET _alias lists both" 'keys | sort' '["logs-a","logs-b"]'
http GET /nosuch/_search
assert_json "a missing index: 404 index_not_found_exception" '[.status, .error.type]' '[404,"index_not_found_exception"]'
http GET '/nosuch/_search?ignore_unavailable=true'
assert_json "… ignore_unavailable" '[.hits.total.value, ._shards.total]' '[0,0]'
http GET '/nomatch-*/_search'
assert_json "a wildcard matching nothing: empty result" .hits.total.value 0
http GET '/nomatch-*/_search?allow_no_indices=false'
assert_eq "… allow_no_indices=false: 404" 404 "$HTTP_STATUS"

check "verstore stops cleanly" verstore_stop
done_testing
