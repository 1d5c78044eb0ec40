#!/usr/bin/env bash
# verstore under racing writers, the case versync depends on: several clients
# send the same documents with external versions in different orders, through
# _bulk and single PUT/DELETE, at the same time. The store must end at the
# greatest version of every document, accept each (document, version) at most
# once, and answer every refused write 409.
. "$(dirname "$0")/lib.sh"

NW=4     # racing writers
NV=40    # versions 1..NV of every document
NDOC=8   # documents

check "verstore starts" verstore_start || { done_testing; exit 1; }

# writer W — sends every version 1..NV in a random order. Even writers use one
# _bulk per version (all documents); odd writers single PUTs. Version NV-1 is a
# delete for every writer, so tombstones race too. Appends "doc version status"
# for every answer to out.W.
writer() {
  local w=$1 v d body resp
  for v in $(seq 1 "$NV" | shuf); do
    if [ $((w % 2)) = 0 ]; then
      body=$(for ((d = 0; d < NDOC; d++)); do
        if [ "$v" = $((NV - 1)) ]; then
          printf '{"delete":{"_index":"race","_id":"d%d","version":%d,"version_type":"external"}}\n' "$d" "$v"
        else
          printf '{"index":{"_index":"race","_id":"d%d","version":%d,"version_type":"external"}}\n{"v":%d,"w":%d}\n' "$d" "$v" "$v" "$w"
        fi
      done)
      resp=$(printf '%s\n' "$body" | curl -s -H 'Content-Type: application/x-ndjson' --data-binary @- "$STORE_URL/_bulk")
      printf '%s' "$resp" | jq -r --arg v "$v" '.items[][] | "\(._id) \($v) \(.status)"' >>"$T_DIR/out.$w"
    else
      for ((d = 0; d < NDOC; d++)); do
        if [ "$v" = $((NV - 1)) ]; then
          st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$STORE_URL/race/_doc/d$d?version=$v&version_type=external")
        else
          st=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
            --data-binary "{\"v\":$v,\"w\":$w}" "$STORE_URL/race/_doc/d$d?version=$v&version_type=external")
        fi
        echo "d$d $v $st" >>"$T_DIR/out.$w"
      done
    fi
  done
}

pids=()
for ((w = 0; w < NW; w++)); do
  writer "$w" &
  pids+=($!)
  T_PIDS+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

cat "$T_DIR"/out.* >"$T_DIR/all"
assert_eq "every write was answered" $((NW * NV * NDOC)) "$(wc -l <"$T_DIR/all")"
assert_eq "every answer is success or 409 (a delete of a doc never seen or already deleted may be 404)" "" \
  "$(awk '$3 != 200 && $3 != 201 && $3 != 409 && !($2 == '$((NV - 1))' && $3 == 404)' "$T_DIR/all" | head -5)"
assert_eq "no (document, version) was accepted twice" "" \
  "$(awk '$3 == 200 || $3 == 201 || $3 == 404 {print $1, $2}' "$T_DIR/all" | sort | uniq -d | head -5)"
bad=""
for ((d = 0; d < NDOC; d++)); do
  http GET "/race/_doc/d$d"
  got=$(printf '%s' "$HTTP_BODY" | jq -c '[.found, ._version, ._source.v]')
  [ "$got" = "[true,$NV,$NV]" ] || bad="$bad d$d=$got"
  acc=$(awk -v id="d$d" '$1 == id && ($3 == 200 || $3 == 201 || $3 == 404) {print $2}' "$T_DIR/all" | sort -n | tail -1)
  [ "$acc" = "$NV" ] || bad="$bad d$d:last-accepted=$acc"
done
assert_eq "every document ends at the greatest version with its source" "" "$bad"

# Versions below the final one are all refused now, including the delete's.
http PUT "/race/_doc/d0?version=$((NV - 1))&version_type=external" '{"v":"late"}'
assert_eq "a late write below the final version is refused" 409 "$HTTP_STATUS"
check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
