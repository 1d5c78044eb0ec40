#!/usr/bin/env bash
# verstore external versioning: external / external_gt / external_gte, the
# 0 … 2^63−1 range, validation errors, external deletes and tombstones (kept
# across a restart), index.gc_deletes, and internal ?version= refused on modern paths.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

# put_ext ID VERSION [TYPE] [BODY] — PUT /ext/_doc/ID with an external version.
put_ext() {
  local body=${4-}
  [ -n "$body" ] || body="{\"v\":\"$2\"}"
  http PUT "/ext/_doc/$1?version=$2&version_type=${3:-external}" "$body"
}

# ---- greater-than rule -------------------------------------------------------
put_ext a 5
assert_eq "external v5 on a new doc: 201" 201 "$HTTP_STATUS"
assert_json "external v5 on a new doc: created, version 5" '[.result, ._version]' '["created",5]'
put_ext a 5
assert_eq "external v5 again: 409" 409 "$HTTP_STATUS"
assert_es_headers "external conflict"
assert_json "external v5 again: the 409 body" \
  '[.status, .error.type, .error.reason, .error.index, (.error.index_uuid|type), (.error.shard|type), .error.root_cause[0].type, .error.root_cause[0].reason, .error.root_cause[0].index]' \
  '[409,"version_conflict_engine_exception","[a]: version conflict, current version [5] is higher or equal to the one provided [5]","ext","string","string","version_conflict_engine_exception","[a]: version conflict, current version [5] is higher or equal to the one provided [5]","ext"]'
uuid409=$(printf '%s' "$HTTP_BODY" | jq -r .error.index_uuid)
http GET '/_cat/indices?format=json'
assert_eq "the 409's index_uuid is the index's uuid (as _cat/indices lists it)" "$uuid409" \
  "$(printf '%s' "$HTTP_BODY" | jq -r '.[] | select(.index == "ext") | .uuid')"
put_ext a 3
assert_eq "external v3 below v5: 409" 409 "$HTTP_STATUS"
assert_json "external v3 below v5: reason" .error.reason '"[a]: version conflict, current version [5] is higher or equal to the one provided [3]"'
put_ext a 6
assert_eq "external v6 above v5: 200" 200 "$HTTP_STATUS"
assert_json "external v6: updated, version 6 (replaced, not incremented)" '[.result, ._version]' '["updated",6]'
http GET /ext/_doc/a
assert_json "stored doc is the v6 write" '[._version, ._source.v]' '[6,"6"]'
put_ext a 1000000
assert_json "external versions may jump" '[.result, ._version]' '["updated",1000000]'

put_ext gt 2 external_gt
assert_json "external_gt is external: created" '[.result, ._version]' '["created",2]'
put_ext gt 2 external_gt
assert_eq "external_gt equal: 409" 409 "$HTTP_STATUS"
assert_json "external_gt equal: reason" .error.reason '"[gt]: version conflict, current version [2] is higher or equal to the one provided [2]"'

put_ext gte 5 external_gte
assert_json "external_gte on a new doc: created" '[.result, ._version]' '["created",5]'
put_ext gte 5 external_gte '{"v":"again"}'
assert_eq "external_gte equal: 200 (equal accepted)" 200 "$HTTP_STATUS"
assert_json "external_gte equal: updated, version 5" '[.result, ._version]' '["updated",5]'
http GET /ext/_doc/gte
assert_json "external_gte equal overwrote the source" '._source' '{"v":"again"}'
put_ext gte 4 external_gte
assert_eq "external_gte lower: 409" 409 "$HTTP_STATUS"
assert_json "external_gte lower: reason says higher than" .error.reason '"[gte]: version conflict, current version [5] is higher than the one provided [4]"'
put_ext gte 7 external_gte
assert_json "external_gte higher: updated" '[.result, ._version]' '["updated",7]'

# ---- the range -----------------------------------------------------------------
put_ext zero 0
assert_eq "external version 0 is legal: 201" 201 "$HTTP_STATUS"
assert_json "external version 0: stored as 0" ._version 0
http GET /ext/_doc/zero
assert_json "GET reads version 0" '[.found, ._version]' '[true,0]'
put_ext zero 0
assert_eq "version 0 again: 409" 409 "$HTTP_STATUS"
assert_json "version 0 again: reason" .error.reason '"[zero]: version conflict, current version [0] is higher or equal to the one provided [0]"'
put_ext zero 1
assert_json "version 1 over 0: updated" '[.result, ._version]' '["updated",1]'

max=9223372036854775807
put_ext max $max
assert_eq "external version 2^63-1: 201" 201 "$HTTP_STATUS"
assert_eq "external version 2^63-1: echoed exactly" "$max" "$(printf '%s' "$HTTP_BODY" | grep -o '"_version":[0-9]*' | cut -d: -f2)"
http GET /ext/_doc/max
assert_eq "GET reads 2^63-1 exactly" "$max" "$(printf '%s' "$HTTP_BODY" | grep -o '"_version":[0-9]*' | cut -d: -f2)"
put_ext max $max
assert_eq "2^63-1 again: 409" 409 "$HTTP_STATUS"
assert_json "2^63-1 again: reason" .error.reason "\"[max]: version conflict, current version [$max] is higher or equal to the one provided [$max]\""
put_ext big 9223372036854775808
assert_eq "external version 2^63: 400" 400 "$HTTP_STATUS"
assert_json "external version 2^63: parse error" '[.error.type, .error.reason]' \
  '["illegal_argument_exception","Failed to parse long parameter [version] with value [9223372036854775808]"]'
assert_json "external version 2^63: caused by number_format_exception" .error.caused_by.type '"number_format_exception"'
for bad in abc 1.5 99999999999999999999999; do
  put_ext big "$bad"
  assert_eq "external version [$bad]: 400" 400 "$HTTP_STATUS"
  assert_json "external version [$bad]: parse error" '[.error.type, .error.reason]' \
    "[\"illegal_argument_exception\",\"Failed to parse long parameter [version] with value [$bad]\"]"
done
put_ext neg -5
assert_eq "external version -5: 400" 400 "$HTTP_STATUS"
assert_json "external version -5: validation error" '[.error.type, .error.reason]' \
  '["action_request_validation_exception","Validation Failed: 1: illegal version value [-5] for version type [EXTERNAL];"]'
http PUT '/ext/_doc/nover?version_type=external' '{"v":1}'
assert_eq "version_type=external without version: 400" 400 "$HTTP_STATUS"
assert_json "version_type=external without version: reason" .error.reason \
  '"Validation Failed: 1: illegal version value [-3] for version type [EXTERNAL];"'
http PUT '/ext/_doc/nover?version=1&version_type=sideways' '{"v":1}'
assert_eq "unknown version_type: 400" 400 "$HTTP_STATUS"
http GET /ext/_doc/big
assert_eq "refused versions wrote nothing (big)" 404 "$HTTP_STATUS"
http GET /ext/_doc/nover
assert_eq "refused versions wrote nothing (nover)" 404 "$HTTP_STATUS"

# ---- create + external, internal ?version= on modern paths -------------------
http PUT '/ext/_create/cr?version=3&version_type=external' '{"v":1}'
assert_eq "_create with external: 400" 400 "$HTTP_STATUS"
assert_json "_create with external: reason" '[.error.type, .error.reason]' \
  '["action_request_validation_exception","Validation Failed: 1: create operations only support internal versioning. use index instead;"]'
http PUT '/ext/_doc/cr?op_type=create&version=3&version_type=external' '{"v":1}'
assert_eq "op_type=create with external: 400" 400 "$HTTP_STATUS"
assert_json "op_type=create with external: reason" .error.reason \
  '"Validation Failed: 1: create operations only support internal versioning. use index instead;"'
http GET /ext/_doc/cr
assert_eq "refused creates wrote nothing" 404 "$HTTP_STATUS"
occ='"Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead;"'
http PUT '/ext/_doc/a?version=1000000' '{"v":"internal"}'
assert_eq "PUT /_doc with internal ?version=: 400" 400 "$HTTP_STATUS"
assert_json "PUT /_doc with internal ?version=: reason" .error.reason "$occ"
http PUT '/ext/_doc/a?version=1000000&version_type=internal' '{"v":"internal"}'
assert_eq "PUT /_doc with version_type=internal: 400" 400 "$HTTP_STATUS"
assert_json "PUT /_doc with version_type=internal: reason" .error.reason "$occ"
http DELETE '/ext/_doc/a?version=1000000'
assert_eq "DELETE /_doc with internal ?version=: 400" 400 "$HTTP_STATUS"
assert_json "DELETE /_doc with internal ?version=: reason" .error.reason "$occ"
http GET /ext/_doc/a
assert_json "refused internal-version writes left the doc alone" '[._version, ._source.v]' '[1000000,"1000000"]'

# ---- external deletes and tombstones ----------------------------------------
put_ext d 5
http DELETE '/ext/_doc/d?version=4&version_type=external'
assert_eq "external delete v4 below v5: 409" 409 "$HTTP_STATUS"
assert_json "external delete v4: reason" .error.reason '"[d]: version conflict, current version [5] is higher or equal to the one provided [4]"'
http DELETE '/ext/_doc/d?version=5&version_type=external'
assert_eq "external delete at the same version: 409" 409 "$HTTP_STATUS"
http DELETE '/ext/_doc/d?version=6&version_type=external'
assert_eq "external delete v6: 200" 200 "$HTTP_STATUS"
assert_json "external delete v6: deleted, version 6" '[.result, ._version]' '["deleted",6]'
http GET /ext/_doc/d
assert_eq "deleted doc reads 404" 404 "$HTTP_STATUS"
put_ext d 6
assert_eq "stale write at the tombstone's version: 409" 409 "$HTTP_STATUS"
assert_json "stale write at the tombstone's version: reason" .error.reason '"[d]: version conflict, current version [6] is higher or equal to the one provided [6]"'
put_ext d 2
assert_eq "stale write below the tombstone: 409" 409 "$HTTP_STATUS"
http GET /ext/_doc/d
assert_eq "stale writes did not resurrect the doc" 404 "$HTTP_STATUS"
put_ext d 7
assert_eq "newer write over a tombstone: 201" 201 "$HTTP_STATUS"
assert_json "newer write over a tombstone: created, version 7" '[.result, ._version]' '["created",7]'

# A delete that arrives before its document reserves the version.
http DELETE '/ext/_doc/early?version=10&version_type=external'
assert_eq "external delete of a never-seen doc: 404" 404 "$HTTP_STATUS"
assert_json "external delete of a never-seen doc: not_found, version 10" '[.result, ._version]' '["not_found",10]'
put_ext early 9
assert_eq "older index op after the early delete: 409" 409 "$HTTP_STATUS"
assert_json "older index op after the early delete: reason" .error.reason '"[early]: version conflict, current version [10] is higher or equal to the one provided [9]"'
http DELETE '/ext/_doc/early?version=8&version_type=external'
assert_eq "older delete after the early delete: 409" 409 "$HTTP_STATUS"

# An external delete may auto-create its index; a plain delete may not.
http DELETE '/extnew/_doc/x?version=4&version_type=external'
assert_eq "external delete on a missing index: 404 not_found (index auto-created)" 404 "$HTTP_STATUS"
assert_json "external delete on a missing index: a write body" '[._index, .result, ._version]' '["extnew","not_found",4]'
http PUT '/extnew/_doc/x?version=3&version_type=external' '{"v":3}'
assert_eq "stale write after that delete: 409" 409 "$HTTP_STATUS"
http DELETE /extplain/_doc/x
assert_eq "plain delete on a missing index: 404" 404 "$HTTP_STATUS"
assert_json "plain delete on a missing index: index_not_found_exception" '[.error.type, .error.index]' '["index_not_found_exception","extplain"]'
http HEAD /extplain
assert_eq "plain delete did not create the index" 404 "$HTTP_STATUS"

# An unversioned delete of an externally versioned doc bumps its version by one.
put_ext bump 44
http DELETE /ext/_doc/bump
assert_json "unversioned delete of v44: deleted, version 45" '[.result, ._version]' '["deleted",45]'
put_ext bump 45
assert_eq "external write at 45 after that: 409" 409 "$HTTP_STATUS"
put_ext bump 46
assert_json "external write at 46: created" '[.result, ._version]' '["created",46]'

# ---- tombstones survive a restart --------------------------------------------
check "verstore stops cleanly (SIGTERM)" verstore_stop
check "verstore restarts on the same data dir" verstore_start
put_ext d 7
assert_eq "after restart: live doc still rejects an equal version" 409 "$HTTP_STATUS"
http DELETE '/ext/_doc/d?version=8&version_type=external'
assert_json "after restart: delete v8" .result '"deleted"'
check "verstore stops again" verstore_stop
check "verstore restarts again" verstore_start
put_ext d 8
assert_eq "after restart: tombstone v8 rejects v8" 409 "$HTTP_STATUS"
assert_json "after restart: tombstone's reason" .error.reason '"[d]: version conflict, current version [8] is higher or equal to the one provided [8]"'
put_ext early 9
assert_eq "after restart: early-delete tombstone v10 rejects v9" 409 "$HTTP_STATUS"
http GET /ext/_doc/early
assert_eq "after restart: rejected writes did not resurrect" 404 "$HTTP_STATUS"
put_ext early 11
assert_json "after restart: a newer write passes" '[.result, ._version]' '["created",11]'
http GET /ext/_doc/max
assert_eq "after restart: 2^63-1 kept exactly" "$max" "$(printf '%s' "$HTTP_BODY" | grep -o '"_version":[0-9]*' | cut -d: -f2)"
http GET /ext/_doc/zero
assert_json "after restart: docs kept with their versions" '[._version, ._source]' '[1,{"v":"1"}]'

# ---- index.gc_deletes --------------------------------------------------------
# A tombstone older than gc_deletes no longer counts: with 0s, a stale write
# after the delete is accepted and resurrects the doc (as in Elasticsearch).
# stale_accepted IDX — the stale v1 write is accepted (created).
stale_accepted() {
  http PUT "/$1/_doc/g?version=1&version_type=external" '{"g":"stale"}'
  [ "$HTTP_STATUS" = 201 ]
}
for form in nested flat; do
  idx=gc$form
  if [ $form = nested ]; then set_body='{"settings":{"index":{"gc_deletes":"0s"}}}'; else set_body='{"settings":{"index.gc_deletes":"0s"}}'; fi
  http PUT "/$idx" "$set_body"
  assert_eq "PUT /$idx with gc_deletes 0s ($form form): 200" 200 "$HTTP_STATUS"
  http PUT "/$idx/_doc/g?version=5&version_type=external" '{"g":"five"}'
  http DELETE "/$idx/_doc/g?version=6&version_type=external"
  assert_json "$idx: delete v6" .result '"deleted"'
  check "$idx: a stale write after the delete is accepted (gc_deletes 0s)" wait_until 10 stale_accepted "$idx"
  http GET "/$idx/_doc/g"
  assert_json "$idx: the stale write resurrected the doc at v1" '[._version, ._source.g]' '[1,"stale"]'
done
# The default index keeps tombstones: the same sequence is refused.
http PUT "/gcdefault/_doc/g?version=5&version_type=external" '{"g":"five"}'
http DELETE "/gcdefault/_doc/g?version=6&version_type=external"
http PUT "/gcdefault/_doc/g?version=1&version_type=external" '{"g":"stale"}'
assert_eq "default index: the stale write after the delete is refused" 409 "$HTTP_STATUS"
# A long gc_deletes keeps the tombstone too.
http PUT /gclong '{"settings":{"index":{"gc_deletes":"1h"}}}'
http PUT "/gclong/_doc/g?version=5&version_type=external" '{"g":"five"}'
http DELETE "/gclong/_doc/g?version=6&version_type=external"
http PUT "/gclong/_doc/g?version=1&version_type=external" '{"g":"stale"}'
assert_eq "gc_deletes 1h: the stale write is refused" 409 "$HTTP_STATUS"

# gc_deletes is part of the index: it still holds after a restart.
check "verstore stops before the gc_deletes restart check" verstore_stop
check "verstore restarts" verstore_start
http PUT "/gcnested/_doc/h?version=5&version_type=external" '{"g":"five"}'
http DELETE "/gcnested/_doc/h?version=6&version_type=external"
stale_h() {
  http PUT "/gcnested/_doc/h?version=2&version_type=external" '{"g":"stale"}'
  [ "$HTTP_STATUS" = 201 ]
}
check "after a restart gc_deletes 0s still lets a stale write through" wait_until 10 stale_h
http PUT "/gclong/_doc/g?version=2&version_type=external" '{"g":"stale"}'
assert_eq "after a restart gc_deletes 1h still keeps the tombstone" 409 "$HTTP_STATUS"

check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
