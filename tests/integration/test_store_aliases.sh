#!/usr/bin/env bash
# verstore index aliases with Elasticsearch semantics: POST /_aliases applied
# all-or-nothing, PUT/DELETE /{index}/_alias/{name}, GET/HEAD listings, reads
# and writes through an alias, write-index rules, name clashes with indices,
# aliases dropped with their index, and aliases surviving a restart.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

http PUT /v1
http PUT /v2
http PUT /v1/_doc/1 '{"from":"v1"}'
http PUT /v2/_doc/1 '{"from":"v2"}'

# ---- POST /_aliases --------------------------------------------------------
http POST /_aliases '{"actions":[{"add":{"index":"v1","alias":"live"}}]}'
assert_eq "POST /_aliases add: 200" 200 "$HTTP_STATUS"
assert_json "POST /_aliases: acknowledged" . '{"acknowledged":true}'
http GET /live/_doc/1
assert_json "GET _doc through the alias: the index's document, concrete _index" '[._index, ._source.from]' '["v1","v1"]'
http GET /live/_source/1
assert_json "GET _source through the alias" .from '"v1"'
http GET /live/_count
assert_json "_count through the alias" .count 1
http POST /live/_search '{}'
assert_json "_search through the alias" '[.hits.hits[]._index]' '["v1"]'
http POST /_mget '{"docs":[{"_index":"live","_id":"1"}]}'
assert_json "_mget through the alias" '[.docs[0]._index, .docs[0].found]' '["v1",true]'
http PUT /live/_doc/2 '{"from":"write"}'
assert_eq "write through a one-index alias: 201" 201 "$HTTP_STATUS"
assert_json "write through the alias lands in the index" ._index '"v1"'
http POST /_bulk $'{"index":{"_index":"live","_id":"3"}}\n{"b":1}\n'
assert_json "bulk through the alias lands in the index" '.items[0].index | [._index, .status]' '["v1",201]'

# the switch: one request, applied atomically
http POST /_aliases '{"actions":[{"remove":{"index":"v1","alias":"live"}},{"add":{"index":"v2","alias":"live"}}]}'
assert_json "switch: acknowledged" .acknowledged true
http GET /live/_doc/1
assert_json "after the switch the alias serves the new index" '[._index, ._source.from]' '["v2","v2"]'

# all or nothing: a failing action leaves every other action unapplied
http POST /_aliases '{"actions":[{"add":{"index":"v1","alias":"other"}},{"add":{"index":"nosuch","alias":"x"}}]}'
assert_eq "action on a missing index: 404" 404 "$HTTP_STATUS"
assert_json "action on a missing index: index_not_found_exception" '[.error.type, .error.index]' '["index_not_found_exception","nosuch"]'
http HEAD /_alias/other
assert_eq "a refused request applied none of its actions" 404 "$HTTP_STATUS"
http POST /_aliases '{"actions":[{"remove":{"index":"v1","alias":"live"}}]}'
assert_eq "remove an alias the index lacks: 404" 404 "$HTTP_STATUS"
assert_json "remove a missing alias: aliases_not_found_exception" '[.error.type, .error.reason]' '["aliases_not_found_exception","aliases [live] missing"]'
http POST /_aliases '{"actions":[]}'
assert_eq "no actions: 400" 400 "$HTTP_STATUS"
assert_json "no actions: action_request_validation_exception" .error.type '"action_request_validation_exception"'
http POST /_aliases '{"actions":[{"rename":{"index":"v1","alias":"q"}}]}'
assert_eq "unknown action: 400" 400 "$HTTP_STATUS"
http POST /_aliases '{"actions":[{"add":{"index":"v1","alias":"Bad"}}]}'
assert_json "alias name rules: invalid_alias_name_exception" '[.status, .error.type]' '[400,"invalid_alias_name_exception"]'

# array forms
http POST /_aliases '{"actions":[{"add":{"indices":["v1","v2"],"aliases":["all","both"]}}]}'
assert_json "indices/aliases arrays: acknowledged" .acknowledged true
http GET /_alias/all
assert_json "GET /_alias/{name}: every index holding it" . '{"v1":{"aliases":{"all":{}}},"v2":{"aliases":{"all":{}}}}'
http GET /_alias
assert_json "GET /_alias: every index with its aliases" . \
  '{"v1":{"aliases":{"all":{},"both":{}}},"v2":{"aliases":{"all":{},"both":{},"live":{}}}}'
http GET /_aliases
assert_json "GET /_aliases: the same listing" '.v2.aliases | keys' '["all","both","live"]'
http GET /v1/_alias
assert_json "GET /{index}/_alias" . '{"v1":{"aliases":{"all":{},"both":{}}}}'
http GET /v1/_alias/both
assert_json "GET /{index}/_alias/{name}" . '{"v1":{"aliases":{"both":{}}}}'
http GET /v2
assert_json "GET /{index} shows its aliases" '.v2.aliases | keys' '["all","both","live"]'
http GET /_alias/nosuch
assert_eq "GET a missing alias: 404" 404 "$HTTP_STATUS"
assert_json "GET a missing alias: Elasticsearch's body" . '{"error":"alias [nosuch] missing","status":404}'
http HEAD /_alias/all
assert_eq "HEAD an alias: 200" 200 "$HTTP_STATUS"
http HEAD /_alias/nosuch
assert_eq "HEAD a missing alias: 404" 404 "$HTTP_STATUS"

# ---- several indices: reads need one, writes need a write index ------------
http GET /all/_doc/1
assert_eq "single-document read through a two-index alias: 400" 400 "$HTTP_STATUS"
assert_json "two-index alias read: illegal_argument_exception" .error.type '"illegal_argument_exception"'
http PUT /all/_doc/9 '{}'
assert_eq "write to a two-index alias without a write index: 400" 400 "$HTTP_STATUS"
assert_json "no write index: Elasticsearch's error" '[.error.type, .error.reason]' \
  '["illegal_argument_exception","no write index is defined for alias [all]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"]'
http POST /_bulk $'{"index":{"_index":"all","_id":"9"}}\n{}\n'
assert_json "bulk to it: the item fails with 400" '.items[0].index | [.status, .error.type]' '[400,"illegal_argument_exception"]'
http PUT /v2/_alias/all '{"is_write_index":true}'
assert_json "PUT /{index}/_alias/{name} with is_write_index" .acknowledged true
http GET /v2/_alias/all
assert_json "is_write_index is listed" . '{"v2":{"aliases":{"all":{"is_write_index":true}}}}'
http PUT /all/_doc/9 '{"w":1}'
assert_json "write to an alias with a write index goes there" '[._index, .result]' '["v2","created"]'
http POST /_aliases '{"actions":[{"add":{"index":"v1","alias":"all","is_write_index":true}}]}'
assert_eq "a second write index: 400" 400 "$HTTP_STATUS"
assert_json "a second write index: illegal_state_exception" .error.type '"illegal_state_exception"'
http GET /v1/_alias/all
assert_json "the refused write index changed nothing" . '{"v1":{"aliases":{"all":{}}}}'
http PUT /v1/_alias/solo '{"is_write_index":false}'
http PUT /solo/_doc/1 '{}'
assert_eq "one index with is_write_index=false: writes refused" 400 "$HTTP_STATUS"

# ---- names: aliases and indices never share one ------------------------------
http PUT /v1/_alias/v2
assert_eq "alias named like an index: 400" 400 "$HTTP_STATUS"
assert_json "alias named like an index: invalid_alias_name_exception" .error.type '"invalid_alias_name_exception"'
http PUT /live
assert_eq "index named like an alias: 400" 400 "$HTTP_STATUS"
assert_json "index named like an alias: invalid_index_name_exception" '[.error.type, .error.reason]' \
  '["invalid_index_name_exception","Invalid index name [live], already exists as alias"]'
http PUT /tmpix
http POST /_aliases '{"actions":[{"add":{"index":"v2","alias":"tmpix"}},{"remove_index":{"index":"tmpix"}}]}'
assert_eq "an alias may take the name of an index removed in the same request" 200 "$HTTP_STATUS"
http GET /tmpix/_doc/1
assert_json "that alias resolves to its index" ._index '"v2"'

# ---- DELETE and index removal ------------------------------------------------
http DELETE /v1/_alias/both
assert_json "DELETE /{index}/_alias/{name}" .acknowledged true
http DELETE /v1/_alias/both
assert_eq "DELETE it again: 404" 404 "$HTTP_STATUS"
assert_json "DELETE a missing alias: aliases_not_found_exception" .error.type '"aliases_not_found_exception"'

# ---- durable ---------------------------------------------------------------
check "verstore stops cleanly (exit 0)" verstore_stop
check "verstore comes back" verstore_start
http GET /live/_doc/1
assert_json "aliases survive a restart" ._index '"v2"'

http DELETE /v2
http GET /_alias
assert_json "deleting an index removes its aliases" . '{"v1":{"aliases":{"all":{},"solo":{"is_write_index":false}}}}'
http HEAD /_alias/live
assert_eq "the alias of the deleted index is gone" 404 "$HTTP_STATUS"
http POST /_aliases '{"actions":[{"remove_index":{"index":"v1"}}]}'
assert_json "remove_index action" .acknowledged true
http HEAD /v1
assert_eq "remove_index deleted the index" 404 "$HTTP_STATUS"
http GET /_alias
assert_json "and its aliases" . '{}'

done_testing
