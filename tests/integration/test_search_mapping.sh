#!/usr/bin/env bash
# GET _mapping over index expressions (issue 8): /_mapping and /_mappings
# for every index, comma lists, wildcards, aliases over one or several
# indices — one {"mappings":…} entry per concrete index, as Elasticsearch
# answers — and the 404s and empty answers for names that match nothing.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

http PUT /m1 '{"mappings":{"properties":{"k":{"type":"keyword"}}}}'
assert_eq "m1 created with a mapping" 200 "$HTTP_STATUS"
http PUT /m2/_doc/1 '{"n":5}'
assert_eq "m2 created by a document" 201 "$HTTP_STATUS"
http PUT /other/_doc/1 '{"flag":true}'
http PUT /.hidden/_doc/1 '{"h":"x"}'
http POST /_aliases '{"actions":[{"add":{"index":"m1","alias":"both"}},{"add":{"index":"m2","alias":"both"}},{"add":{"index":"other","alias":"one"}}]}'
assert_json "aliases added" . '{"acknowledged":true}'

http GET /_mapping
assert_eq "GET /_mapping: 200" 200 "$HTTP_STATUS"
assert_json "GET /_mapping: every index but dot-indices" 'keys' '["m1","m2","other"]'
assert_json "GET /_mapping: each entry is {mappings: …}" \
  '[.m1.mappings.properties.k.type, .m2.mappings.properties.n.type, .other.mappings.properties.flag.type]' \
  '["keyword","long","boolean"]'
http GET /_mappings
assert_json "GET /_mappings: the same" 'keys' '["m1","m2","other"]'
http GET /m1,other/_mapping
assert_json "a comma list" 'keys' '["m1","other"]'
http GET '/m*/_mapping'
assert_json "a wildcard" 'keys' '["m1","m2"]'
http GET '/*,-m2/_mapping'
assert_json "a wildcard with an exclusion" 'keys' '["m1","other"]'
http GET /_all/_mapping
assert_json "_all" 'keys' '["m1","m2","other"]'
http GET /_all/_count
assert_json "/_all/_count: every index but dot-indices (m1 is empty)" .count 2
http POST /_all/_search '{"query":{"exists":{"field":"n"}}}'
assert_json "/_all/_search" '[.hits.hits[] | ._index]' '["m2"]'
http GET '/.h*/_mapping'
assert_json "a dot-pattern names dot-indices" 'keys' '[".hidden"]'
http GET /both/_mapping
assert_json "an alias over two indices: one entry per index" '[keys, .m1.mappings.properties.k.type]' '[["m1","m2"],"keyword"]'
http GET /one/_mapping
assert_json "an alias over one index: the index's name" 'keys' '["other"]'
http GET /both,m1/_mapping
assert_json "an alias and one of its indices: no repeats" 'keys' '["m1","m2"]'

http GET /nosuch/_mapping
assert_json "a missing index: 404 index_not_found_exception" '[.status, .error.type, .error.reason, .error.index]' \
  '[404,"index_not_found_exception","no such index [nosuch]","nosuch"]'
http GET /m1,nosuch/_mapping
assert_json "a list with a missing index: 404" '[.status, .error.type]' '[404,"index_not_found_exception"]'
http GET '/m1,nosuch/_mapping?ignore_unavailable=true'
assert_json "ignore_unavailable: the ones that exist" 'keys' '["m1"]'
http GET '/zz*/_mapping'
assert_eq "a wildcard matching nothing: 200" 200 "$HTTP_STATUS"
assert_json "a wildcard matching nothing: {}" . '{}'
http GET '/zz*/_mapping?allow_no_indices=false'
assert_json "allow_no_indices=false: 404" '[.status, .error.type]' '[404,"index_not_found_exception"]'
http GET '/m1/_mapping?bogus=1'
assert_eq "an unknown parameter: 400" 400 "$HTTP_STATUS"
http DELETE /_mapping
assert_eq "DELETE /_mapping: 405" 405 "$HTTP_STATUS"

# PUT through an index is unchanged; the new field shows in the listing.
http PUT /m2/_mapping '{"properties":{"t":{"type":"text"}}}'
assert_json "PUT /m2/_mapping" . '{"acknowledged":true}'
http GET /m1,m2/_mapping
assert_json "the listing shows the added field" '.m2.mappings.properties | keys' '["n","t"]'

done_testing
