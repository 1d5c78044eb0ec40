#!/usr/bin/env bash
# verstore durability: concurrent bulk writers with external versions, kill -9
# while requests are in flight, restart on the same data dir — every write that
# was acknowledged (2xx item in a received response) must be there with at least
# its version, and no record may be torn. Twice, then a clean SIGTERM.
. "$(dirname "$0")/lib.sh"

NCLIENT=3   # concurrent writers
NDOC=40     # documents per writer; every bulk rewrites all of them at a new version
PAD=$(head -c 900 /dev/zero | tr '\0' p)   # ~1 KB documents

check "verstore starts (--durability request)" verstore_start --durability request || { done_testing; exit 1; }

# writer C BASE — bulk rounds r = BASE+1, BASE+2, … of client C's documents at
# version r until the store stops answering. Appends "id version" to acked.C for
# every 2xx item of every response received, and the last round sent to sent.C.
writer() {
  local c=$1 r=$2 i resp
  while :; do
    r=$((r + 1))
    echo "$r" >"$T_DIR/sent.$c"
    resp=$(for ((i = 0; i < NDOC; i++)); do
      printf '{"index":{"_index":"crash","_id":"c%d-%d","version":%d,"version_type":"external"}}\n{"c":%d,"i":%d,"v":%d,"pad":"%s"}\n' \
        "$c" "$i" "$r" "$c" "$i" "$r" "$PAD"
    done | curl -s -f --max-time 20 -H 'Content-Type: application/x-ndjson' --data-binary @- "$STORE_URL/_bulk") || break
    printf '%s' "$resp" | jq -er '.items[].index | select(.status >= 200 and .status < 300) | "\(._id) \(._version)"' \
      >>"$T_DIR/acked.$c" || break
  done
}

# put_writer BASE — single-document PUTs (one new document each, external
# version BASE+k) until the store stops answering; "id version" of every 2xx
# answer goes to putacked.
put_writer() {
  local k=0 st
  while :; do
    k=$((k + 1))
    st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X PUT -H 'Content-Type: application/json' \
      --data-binary "{\"k\":$k,\"v\":$(($1 + k))}" "$STORE_URL/crash/_doc/p$1-$k?version=$(($1 + k))&version_type=external")
    case "$st" in 2??) echo "p$1-$k $(($1 + k))" >>"$T_DIR/putacked" ;; *) break ;; esac
  done
}

acked_total() { cat "$T_DIR"/acked.* 2>/dev/null | wc -l; }
acked_at_least() { [ "$(acked_total)" -ge "$1" ]; }
writers_running() { ! writers_done; }
writers_done() { local p; for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }

# verify CYCLE — after a restart: each acknowledged doc is present, its version is
# between the greatest acknowledged and the greatest sent, and its source matches.
verify() {
  local cyc=$1 c i id want sent got bad=0 n=0 torn=0 states=()
  for ((c = 0; c < NCLIENT; c++)); do
    sent=$(cat "$T_DIR/sent.$c")
    for ((i = 0; i < NDOC; i++)); do
      id="c$c-$i"
      want=$(awk -v id="$id" '$1 == id && $2 > m {m = $2} END {print m + 0}' "$T_DIR/acked.$c" 2>/dev/null)
      http GET "/crash/_doc/$id"
      got=$(printf '%s' "$HTTP_BODY" | jq -r '[.found, ._version, ._source.v, ._source.c, ._source.i, (._source.pad | length)] | map(tostring) | join(" ")' 2>/dev/null)
      states[$i]=${got% * * * *}   # "found version"
      [ "$want" -gt 0 ] || continue
      n=$((n + 1))
      if ! [[ "$got" =~ ^true\ ([0-9]+)\ ([0-9]+)\ $c\ $i\ 900$ ]] || [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ] ||
        [ "${BASH_REMATCH[1]}" -lt "$want" ] || [ "${BASH_REMATCH[1]}" -gt "$sent" ]; then
        bad=$((bad + 1))
        [ "$bad" -le 5 ] && echo "#   $id: acknowledged v$want (sent up to v$sent), store has: $HTTP_STATUS $got"
      fi
    done
    # Each bulk rewrote all of this writer's documents in one transaction, so
    # after any crash they all carry the same version: no bulk is half applied.
    if [ "$(printf '%s\n' "${states[@]}" | sort -u | wc -l)" != 1 ]; then
      torn=$((torn + 1))
      echo "#   writer $c: documents left at different versions: $(printf '%s\n' "${states[@]}" | sort | uniq -c | tr '\n' ';')"
    fi
  done
  local inflight=0
  for ((c = 0; c < NCLIENT; c++)); do
    grep -q " $(cat "$T_DIR/sent.$c")\$" "$T_DIR/acked.$c" 2>/dev/null || inflight=$((inflight + 1))
  done
  echo "# cycle $cyc: $inflight of $NCLIENT writers had a bulk unanswered when the store was killed"
  local pbad=0 pn=0 pid_ v
  while read -r pid_ v; do
    pn=$((pn + 1))
    http GET "/crash/_doc/$pid_"
    [ "$(printf '%s' "$HTTP_BODY" | jq -c '[.found, ._version, ._source.v]')" = "[true,$v,$v]" ] || {
      pbad=$((pbad + 1))
      [ "$pbad" -le 5 ] && echo "#   $pid_: acknowledged v$v, store has: $HTTP_STATUS $HTTP_BODY"
    }
  done <"$T_DIR/putacked"
  check "cycle $cyc: some acknowledged single PUTs to check ($pn)" test "$pn" -gt 0
  assert_eq "cycle $cyc: every acknowledged single PUT survived kill -9" 0 "$pbad"
  check "cycle $cyc: some acknowledged documents to check ($n)" test "$n" -gt 0
  assert_eq "cycle $cyc: no bulk was half applied (one transaction per _bulk)" 0 "$torn"
  assert_eq "cycle $cyc: every acknowledged document survived kill -9 with its version ($n checked)" 0 "$bad"
}

base=0
for cyc in 1 2; do
  rm -f "$T_DIR"/acked.* "$T_DIR"/sent.* "$T_DIR/putacked"
  touch "$T_DIR/putacked"
  WPIDS=()
  for ((c = 0; c < NCLIENT; c++)); do
    writer "$c" "$base" &
    WPIDS+=($!)
    T_PIDS+=($!)
  done
  put_writer $((base * 1000)) &
  WPIDS+=($!)
  T_PIDS+=($!)
  # Let a good number of bulks be acknowledged, then crash with writers mid-request.
  check "cycle $cyc: writers get acknowledgements" wait_until 60 acked_at_least $((NCLIENT * NDOC * 4))
  http DELETE "/crash/_doc/tomb$cyc?version=$((base + 1000000))&version_type=external"
  assert_eq "cycle $cyc: an external delete tombstone acknowledged" 404 "$HTTP_STATUS"
  check "cycle $cyc: writers still running when the store is killed" writers_running
  verstore_kill
  check "cycle $cyc: every writer notices the crash and stops" wait_until 30 writers_done
  check "cycle $cyc: verstore restarts on the same data dir (no stale lock)" verstore_start --durability request
  verify "$cyc"
  http PUT "/crash/_doc/tomb$cyc?version=$((base + 999999))&version_type=external" '{"stale":true}'
  assert_eq "cycle $cyc: the tombstone written before the crash still rejects a stale write" 409 "$HTTP_STATUS"
  http PUT "/crash/_doc/c0-0?version=1&version_type=external" '{"stale":true}'
  assert_eq "cycle $cyc: a stale write to a crash-survivor is rejected" 409 "$HTTP_STATUS"
  # The next cycle writes above everything sent so far.
  for ((c = 0; c < NCLIENT; c++)); do
    s=$(cat "$T_DIR/sent.$c")
    [ "$s" -gt "$base" ] && base=$s
  done
  base=$((base + 1))
done

http POST /_bulk '{"index":{"_index":"crash","_id":"final"}}
{"f":1}
' application/x-ndjson
assert_json "the store writes after two crashes" '.items[0].index.status' 201
check "verstore exits 0 on SIGTERM" verstore_stop
check "verstore restarts after the clean stop" verstore_start
http GET /crash/_doc/final
assert_json "a write acknowledged before SIGTERM is kept" '[.found, ._source]' '[true,{"f":1}]'
check "verstore exits 0 on SIGTERM again" verstore_stop
done_testing
