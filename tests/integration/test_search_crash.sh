#!/usr/bin/env bash
# verstore search structures and kill -9: writers ingest new text documents
# and overwrite older ones (whose postings must then leave their blocks) in
# _bulk requests while the store is killed. After the restart every
# acknowledged document is found exactly once by its own word, at its latest
# acknowledged version, and by a phrase; a word shared by all documents
# counts exactly the live documents. Three times on the same data directory, the last
# two with levels so small that every write transaction also merges.
. "$(dirname "$0")/lib.sh"

NCLIENT=2  # concurrent writers
NNEW=60    # new documents per bulk
NOVER=20   # documents of the first bulk each bulk overwrites

check "verstore starts (--durability request)" verstore_start --durability request || { done_testing; exit 1; }
http PUT /sc '{"mappings":{"properties":{"t":{"type":"text"},"v":{"type":"long"}}}}'
assert_eq "index created" 200 "$HTTP_STATUS"

# writer C BASE — rounds r = BASE+1, …: one _bulk of NNEW new documents
# nC-r-i and NOVER overwrites of oC-i at version r, until the store stops
# answering. "id version" of every 2xx item goes to acked.C.
writer() {
  local c=$1 r=$2 i resp
  while :; do
    r=$((r + 1))
    resp=$({
      for ((i = 0; i < NNEW; i++)); do
        printf '{"index":{"_index":"sc","_id":"n%d-%d-%d","version":%d,"version_type":"external"}}\n{"v":%d,"t":"alpha beta gamma un%dr%di%d common 乐观锁 Über"}\n' \
          "$c" "$r" "$i" "$r" "$r" "$c" "$r" "$i"
      done
      for ((i = 0; i < NOVER; i++)); do
        printf '{"index":{"_index":"sc","_id":"o%d-%d","version":%d,"version_type":"external"}}\n{"v":%d,"t":"alpha beta gamma uo%di%d common ver%d"}\n' \
          "$c" "$i" "$r" "$r" "$c" "$i" "$r"
      done
    } | curl -s -f --max-time 20 -H 'Content-Type: application/x-ndjson' --data-binary @- "$STORE_URL/_bulk") || break
    printf '%s' "$resp" | jq -er '.items[].index | select(.status >= 200 and .status < 300) | "\(._id) \(._version)"' \
      >>"$T_DIR/acked.$c" || break
  done
}

acked_total() { cat "$T_DIR"/acked.* 2>/dev/null | wc -l; }
acked_at_least() { [ "$(acked_total)" -ge "$1" ]; }
writers_done() { local p; for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }

search() { http POST /sc/_search "$1"; }

# verify CYCLE
verify() {
  local cyc=$1 id v word n=0 bad=0 got
  # the greatest acknowledged version of each id
  cat "$T_DIR"/acked.* | sort -k1,1 -k2,2n | awk '{m[$1] = $2} END {for (k in m) print k, m[k]}' >"$T_DIR/want"
  n=$(wc -l <"$T_DIR/want")
  # every live document, by a word they all hold: each acknowledged one once, at its version or later
  search '{"query":{"match":{"t":"common"}},"size":10000,"_source":["v"],"track_total_hits":true}'
  jqb '.hits.hits[] | "\(._id) \(._source.v)"' | tr -d '"' | LC_ALL=C sort >"$T_DIR/hits"
  assert_eq "cycle $cyc: no document found twice" "$(wc -l <"$T_DIR/hits")" "$(cut -d' ' -f1 "$T_DIR/hits" | sort -u | wc -l)"
  bad=$(LC_ALL=C join -a1 -e MISSING -o 0,1.2,2.2 <(LC_ALL=C sort "$T_DIR/want") "$T_DIR/hits" |
    awk '$3 == "MISSING" || $3 + 0 < $2 + 0' | tee "$T_DIR/bad" | wc -l)
  head -5 "$T_DIR/bad" | sed 's/^/#   missing or stale: /'
  # and a sample by each one's own word, which only it holds
  while read -r id v; do
    case "$id" in
      n*) IFS=- read -r c r i <<<"${id#n}"; word="un${c}r${r}i${i}" ;;
      o*) IFS=- read -r c i <<<"${id#o}"; word="uo${c}i${i}" ;;
    esac
    search "{\"query\":{\"match\":{\"t\":\"$word\"}},\"track_total_hits\":true}"
    got=$(jqb '[.hits.total.value, [.hits.hits[]._id], .hits.hits[0]._source.v]')
    if ! [[ "$got" =~ ^\[1,\[\"$id\"\],([0-9]+)\]$ ]] || [ "${BASH_REMATCH[1]}" -lt "$v" ]; then
      bad=$((bad + 1))
      echo "#   $id (acknowledged v$v): match $word gives $got"
    fi
  done < <(awk 'NR % 25 == 1' "$T_DIR/want")
  check "cycle $cyc: acknowledged documents to check ($n)" test "$n" -gt 0
  assert_eq "cycle $cyc: every acknowledged document is found once by its own word at its version" 0 "$bad"
  http GET /sc/_count
  local count
  count=$(jqb .count)
  search '{"query":{"match":{"t":"common"}},"track_total_hits":true,"size":0}'
  assert_eq "cycle $cyc: a word of every document counts every live document once" "$count" "$(jqb .hits.total.value)"
  search '{"query":{"match_phrase":{"t":"alpha beta gamma"}},"track_total_hits":true,"size":0}'
  assert_eq "cycle $cyc: the phrase of every document counts every live document once" "$count" "$(jqb .hits.total.value)"
  search '{"query":{"match":{"t":"乐"}},"track_total_hits":true,"size":0}'
  local han
  han=$(jqb .hits.total.value)
  search '{"query":{"match":{"t":"über"}},"track_total_hits":true,"size":0}'
  assert_eq "cycle $cyc: Han and German words count the same new documents" "$han" "$(jqb .hits.total.value)"
  # overwritten documents: no trace of the versions they replaced
  local stale=0 c i vv
  for ((c = 0; c < NCLIENT; c++)); do
    for ((i = 0; i < NOVER; i += 7)); do
      http GET "/sc/_doc/o$c-$i"
      vv=$(jqb ._version)
      [ "$vv" = null ] && continue
      search "{\"query\":{\"bool\":{\"must\":[{\"match\":{\"t\":\"uo${c}i${i}\"}}],\"must_not\":[{\"match\":{\"t\":\"ver$vv\"}}]}},\"track_total_hits\":true,\"size\":0}"
      [ "$(jqb .hits.total.value)" = 0 ] || stale=$((stale + 1))
    done
  done
  assert_eq "cycle $cyc: an overwritten document is found only with its current text" 0 "$stale"
}

# Cycle 1 with the default level limits; cycles 2 and 3 with the smallest, so that
# every write transaction also moves exact values and postings down a level, and the
# kill can land inside such a merge.
SMALL_LEVELS=(--values-level-entries 2 --postings-level-pages 0)
# older NAME — the sum of a level metric over every level but the newest (level 0)
older() { curl -s "$STORE_URL/_prometheus/metrics" | awk -v m="$1" 'index($1, m "{") == 1 && $1 !~ /level="0"/ {s += $2} END {print s + 0}'; }
base=0
for cyc in 1 2 3; do
  lv=()
  [ "$cyc" -gt 1 ] && lv=("${SMALL_LEVELS[@]}")
  if [ "$cyc" = 2 ]; then
    verstore_stop
    check "cycle 2: verstore restarts with the smallest levels" verstore_start --durability request "${lv[@]}"
  fi
  rm -f "$T_DIR"/acked.*
  WPIDS=()
  for ((c = 0; c < NCLIENT; c++)); do
    writer "$c" "$base" &
    WPIDS+=($!)
    T_PIDS+=($!)
  done
  check "cycle $cyc: writers get acknowledgements" wait_until 60 acked_at_least $((NCLIENT * (NNEW + NOVER) * 5))
  verstore_kill
  check "cycle $cyc: every writer notices the crash and stops" wait_until 30 writers_done
  check "cycle $cyc: verstore restarts on the same data dir" verstore_start --durability request "${lv[@]}"
  verify "$cyc"
  if [ "$cyc" -gt 1 ]; then
    check "cycle $cyc: exact values sit in older levels (merges ran)" \
      test "$(older verstore_values_level_entries)" -gt 0
    check "cycle $cyc: postings sit in the older level (merges ran)" \
      test "$(older verstore_postings_level_blocks)" -gt 0
  fi
  base=$((base + 100000))
done
check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
