#!/usr/bin/env bash
# Heavy searches must not starve cheap requests (issue 19, item 6): searches,
# aggregations, _count, _mget and scrolls run on a bounded search pool (full:
# 429 es_rejected_execution_exception), a search stops at its `timeout` (or
# --search-timeout) and answers timed_out: true with what it found, and work
# stops when its client hangs up. Loopback only; bounded in count and time;
# latency bounds come from a baseline measured in the same run.
. "$(dirname "$0")/lib.sh"

if verstore_start; then ok "verstore starts"; else
  not_ok "verstore starts"
  done_testing
  exit 1
fi

# 3 000 documents of 1 200 words, in which "brown", "fox", "quick" and each
# of w0…w49 stand hundreds of times: a sloppy phrase of four of them matches
# every document and walks all their positions (about 25 ms on an idle
# machine), so a bool of 40 such phrases costs about a second and one of 400
# about ten.
jq -nrc '[range(0;300) | "w\(. % 50) quick brown fox"] | join(" ") as $t
  | range(0;3000) | ({index:{_index:"h",_id:"\(.)"}}, {t: $t, k: "k\(. % 10)"})' >"$T_DIR/h.ndjson"
curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @"$T_DIR/h.ndjson" "$STORE_URL/_bulk?refresh=true"
http GET /h/_count
assert_json "3000 documents indexed" .count 3000
# phrases N — N sloppy phrase clauses, as a bool's should list
phrases() { jq -nc --argjson n "$1" '[range(0; $n) | {match_phrase: {t: {query: "brown w\(. % 50) fox quick", slop: 1000}}}]'; }
heavy='"size":0,"track_total_hits":true,"query":{"bool":{"should":'"$(phrases 40)"'}}'
# ten times the work: the four concurrent searches below and the hang-up
heavier='"size":0,"query":{"bool":{"should":'"$(phrases 400)"'}}'
# The four must outlast the 60 cheap requests measured while they run, also
# when those are slowed by a busy machine: the heavier query, so they do.
printf '{%s}' "$heavier" >"$T_DIR/heavy.json"

# cheap N — N requests (GET /, _cluster/health, one document; each on a new
# connection, so they land on every HTTP thread), their times one per line.
cheap() {
  local i paths=(/ /_cluster/health /h/_doc/7)
  for ((i = 0; i < $1; i++)); do
    curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' "$STORE_URL${paths[i % 3]}"
  done
}
# pct P — the P-th percentile of the numbers on stdin.
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END{i=int((NR*p+99)/100); if(i<1)i=1; print v[i]}'; }

base=$(cheap 60)
assert_eq "baseline: every cheap request answers 200" 60 "$(grep -c '^200 ' <<<"$base")"
base_p99=$(awk '{print $2}' <<<"$base" | pct 99)

# ---- 4 heavy searches at once ----------------------------------------------------------
pids=()
for c in 1 2 3 4; do
  curl -s --max-time 300 -o "$T_DIR/heavy.$c" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$T_DIR/heavy.json" "$STORE_URL/h/_search" >"$T_DIR/heavy.code.$c" &
  pids+=($!)
  T_PIDS+=($!)
done
under=$(cheap 60)
still=$(for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && echo x; done | wc -l)
p99=$(awk '{print $2}' <<<"$under" | pct 99)
ok "baseline p99 ${base_p99}s; p99 with 4 heavy searches running ${p99}s ($still still running at the end)"
check "the 4 heavy searches ran through the whole measurement" test "$still" -eq 4
assert_eq "every cheap request answers 200 while they run" 60 "$(grep -c '^200 ' <<<"$under")"
check "p99 of cheap requests while 4 heavy searches run < max(5 x baseline p99, 1 s)" \
  awk -v m="$p99" -v b="$base_p99" 'BEGIN{l=5*b; if (l<1) l=1; exit !(m < l)}'
for p in "${pids[@]}"; do wait "$p"; done
for c in 1 2 3 4; do
  assert_eq "heavy search $c answers 200" 200 "$(cat "$T_DIR/heavy.code.$c")"
  assert_eq "heavy search $c is complete: 3000 hits, not timed out" "3000 false" \
    "$(jq -r '"\(.hits.total.value) \(.timed_out)"' "$T_DIR/heavy.$c")"
done

# ---- timeout ---------------------------------------------------------------------------
t0=$SECONDS
http POST /h/_search "{\"timeout\":\"100ms\",$heavy}"
assert_eq "timeout 100ms: 200" 200 "$HTTP_STATUS"
assert_json "... timed_out: true" .timed_out true
assert_json "... and no hit that is not a match (the cut query adds none)" .hits.total.value 0
check "... answered within 10 s" test $((SECONDS - t0)) -le 10
http POST '/h/_search?timeout=100ms' "{$heavy}"
assert_json "?timeout=100ms: timed_out: true" .timed_out true
http POST '/h/_search?timeout=100ms&allow_partial_search_results=false' "{$heavy}"
assert_eq "allow_partial_search_results=false: out of time is an error, not part of an answer" 504 "$HTTP_STATUS"
assert_json "... search_phase_execution_exception" .error.type '"search_phase_execution_exception"'
assert_json "... the shard's search_timeout_exception" '.error.root_cause[0].type' '"search_timeout_exception"'
http POST /h/_search '{"timeout":"10","query":{"match_all":{}}}'
assert_eq "timeout without a unit: 400" 400 "$HTTP_STATUS"
assert_json "... parse_exception" .error.type '"parse_exception"'
assert_match "... naming the value" 'setting \[timeout\] with value \[10\]' "$(jqb .error.reason)"
http POST /h/_search '{"timeout":"5s","query":{"term":{"k.keyword":"k7"}},"_source":false}'
assert_json "a search that finishes in time: timed_out: false, all 300 hits" '[.timed_out, .hits.total.value]' '[false,300]'
http POST /h/_search '{"timeout":"1ms","query":{"bool":{"must_not":{"term":{"k.keyword":"k7"}}}},"size":3000,"_source":["k"]}'
check "a query cut short never answers a document it excludes" \
  test "$(jqb '[.hits.hits[] | select(._source.k == "k7")] | length')" = 0

# ---- pool bound, server default timeout, client hang-up ------------------------------
verstore_stop
if verstore_start --search-threads 1 --search-queue 0 --search-timeout 150ms; then
  ok "verstore restarts with --search-threads 1 --search-queue 0 --search-timeout 150ms"
else
  not_ok "verstore restarts with --search-threads 1 --search-queue 0 --search-timeout 150ms"
  done_testing
  exit 1
fi
http POST /h/_search "{$heavy}"
assert_json "--search-timeout applies to a search without timeout: timed_out: true" .timed_out true
http POST /h/_search '{"timeout":"-1","query":{"term":{"k.keyword":"k7"}},"_source":false}'
assert_json "timeout -1 overrides it" '[.timed_out, .hits.total.value]' '[false,300]'

# A heavy search without a time limit holds the only search thread; its
# client gives up after 3 s.
heavier_start() {
  curl -s -o "$T_DIR/heavier.out" -w '%{http_code} %{time_total}' --max-time 3 -H 'Content-Type: application/json' \
    -d "{\"timeout\":\"-1\",$heavier}" "$STORE_URL/h/_search" >"$T_DIR/heavier.code" &
  hp=$!
  T_PIDS+=($hp)
}
heavier_start
count_is() { [ "$(curl -s -o "$T_DIR/c.out" -w '%{http_code}' "$STORE_URL/h/_count")" = "$1" ]; }
# A probe that lands first holds the thread for a moment and the heavy search
# is the one refused (its curl starts after the probes do): start it again.
busy() {
  count_is 429 && return 0
  if ! kill -0 "$hp" 2>/dev/null && [[ "$(cat "$T_DIR/heavier.code")" == 429* ]]; then
    wait "$hp"
    heavier_start
  fi
  return 1
}
check "while it runs, another search gets 429" wait_until 10 busy
assert_eq "... es_rejected_execution_exception" es_rejected_execution_exception \
  "$(jq -r .error.type "$T_DIR/c.out")"
assert_eq "... while GET / answers" 200 "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$STORE_URL/")"
assert_eq "... and so does a document" 200 "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$STORE_URL/h/_doc/7")"
wait "$hp"
assert_eq "the heavy search's client gave up (curl timeout)" 28 "$?"
echo "# its answer (status, seconds): $(cat "$T_DIR/heavier.code")"
check "once its client is gone the search stops and frees the thread (within 2 s, not its 10+ s)" \
  wait_until 2 count_is 200
done_testing
