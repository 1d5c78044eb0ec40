#!/usr/bin/env bash
# verstore's levels: the exact-value index in five (STORE_VLEVELS) and the
# text postings in two (store_postings.h). The same writes — keyword, long,
# date, boolean and keyword-array values, values too long for a key (kept cut,
# with their whole value aside), text, overwrites and deletes — go to a store
# with the default levels (everything stays in the newest) and to one with
# --values-level-entries 2 --postings-level-pages 0, where the values are
# spread over all five levels and every batch moves postings to the older
# level. Every query that reads them (term, terms, range, exists, prefix,
# sorts both ways, search_after, terms and cardinality aggregations; match,
# match_phrase with and without slop, scores included) must answer the same
# in both, and again after the second store restarts on its data.
. "$(dirname "$0")/lib.sh"

N=3000 # documents indexed; a fifth are overwritten and a tenth deleted afterwards

# The writes: bulk bodies in $T_DIR/bulk.NN, in order.
python3 - "$T_DIR" "$N" <<'EOF'
import json, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(17)
long_prefix = "p" * 560  # values past the key's inline length share it and differ after
words = ["w%d" % i for i in range(300)]  # w0 in most documents, w299 in a few
def doc(i, gen):
    src = {
        "k": "k%02d" % min(int(rnd.expovariate(0.15)), 60),
        "n": rnd.randrange(-10**12, 10**12),
        "d": "2024-%02d-%02dT%02d:00:00Z" % (rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23)),
        "b": rnd.random() < 0.3,
        "tags": ["t%d" % rnd.randrange(40) for _ in range(rnd.randrange(4))],
        "g": gen,
        "t": " ".join(words[min(int(rnd.expovariate(0.02)), len(words) - 1)] for _ in range(rnd.randint(3, 12))),
    }
    if rnd.random() < 0.1:
        src["big"] = long_prefix + "%03d" % rnd.randrange(50)
    if rnd.random() < 0.05:
        del src["n"]
    return src
ops, gen = [], 1
for i in range(n):
    ops.append(('{"index":{"_index":"lv","_id":"%d"}}' % i, doc(i, gen)))
gen = 2
for i in rnd.sample(range(n), n // 5):
    ops.append(('{"index":{"_index":"lv","_id":"%d"}}' % i, doc(i, gen)))
for i in rnd.sample(range(n), n // 10):
    ops.append(('{"delete":{"_index":"lv","_id":"%d"}}' % i, None))
for i in range(n, n + 50):  # the last writes are new documents, so the newest level ends up holding some
    ops.append(('{"index":{"_index":"lv","_id":"%d"}}' % i, doc(i, 3)))
for b in range(0, len(ops), 200):
    with open("%s/bulk.%03d" % (d, b // 200), "w") as f:
        for a, s in ops[b:b + 200]:
            f.write(a + "\n")
            if s is not None:
                f.write(json.dumps(s) + "\n")
EOF

QUERIES=(
  '{"size":0,"track_total_hits":true}'
  '{"query":{"term":{"k":"k03"}},"size":50,"sort":["_doc"],"track_total_hits":true}'
  '{"query":{"terms":{"tags":["t1","t7","t39"]}},"size":100,"sort":[{"n":"asc"},"_id"],"track_total_hits":true}'
  '{"query":{"range":{"n":{"gte":-100000000000,"lt":250000000000}}},"size":0,"track_total_hits":true}'
  '{"query":{"range":{"d":{"gte":"2024-03-01","lte":"2024-05-15"}}},"size":20,"sort":[{"d":"desc"},{"_id":"asc"}],"track_total_hits":true}'
  '{"query":{"bool":{"must_not":{"exists":{"field":"n"}}}},"size":200,"sort":["_id"],"track_total_hits":true}'
  '{"query":{"prefix":{"big":"pppp"}},"size":0,"track_total_hits":true}'
  '{"query":{"term":{"big":"PLACEHOLDER_BIG"}},"size":100,"sort":["_id"],"track_total_hits":true}'
  '{"query":{"term":{"b":true}},"size":0,"track_total_hits":true}'
  '{"size":25,"sort":[{"n":"desc"}],"_source":false}'
  '{"size":25,"sort":[{"n":"asc"}],"_source":false}'
  '{"size":25,"sort":[{"n":"asc"}],"search_after":[0],"_source":false}'
  '{"size":25,"sort":[{"tags":{"order":"desc","mode":"max"}},{"_id":"asc"}],"_source":false}'
  '{"size":0,"aggs":{"k":{"terms":{"field":"k","size":100}},"t":{"terms":{"field":"tags","size":100}},"c":{"cardinality":{"field":"n"}},"g":{"terms":{"field":"g"}}}}'
  '{"size":0,"aggs":{"big":{"terms":{"field":"big","size":100}}}}'
  '{"query":{"match":{"t":"w0"}},"size":30,"track_total_hits":true}'
  '{"query":{"match":{"t":"w3 w77 w150"}},"size":50,"track_total_hits":true}'
  '{"query":{"match":{"t":{"query":"w1 w2","operator":"and"}}},"size":50,"track_total_hits":true}'
  '{"query":{"match_phrase":{"t":"w0 w1"}},"size":50,"track_total_hits":true}'
  '{"query":{"match_phrase":{"t":{"query":"w2 w0","slop":2}}},"size":50,"track_total_hits":true}'
  '{"query":{"match":{"t":"w250"}},"size":50,"track_total_hits":true}'
)
QUERIES[7]=${QUERIES[7]/PLACEHOLDER_BIG/$(printf 'p%.0s' $(seq 560))007}

# load: create the index and send every bulk; each must answer 200 without errors.
load() {
  local f bad=0
  http PUT /lv '{"mappings":{"properties":{"k":{"type":"keyword"},"n":{"type":"long"},"d":{"type":"date"},"b":{"type":"boolean"},"tags":{"type":"keyword"},"big":{"type":"keyword"},"g":{"type":"long"},"t":{"type":"text"}}}}'
  [ "$HTTP_STATUS" = 200 ] || { bad=1; echo "# create: $HTTP_STATUS $HTTP_BODY"; }
  for f in "$T_DIR"/bulk.*; do
    http POST /_bulk "$(cat "$f")"$'\n' application/x-ndjson
    [ "$HTTP_STATUS" = 200 ] && [ "$(jqb .errors)" = false ] || { bad=1; echo "# $f: $HTTP_STATUS ${HTTP_BODY:0:300}"; }
  done
  return "$bad"
}

# answers FILE: every query's answer, without took, one line each.
answers() {
  local q
  for q in "${QUERIES[@]}"; do
    http POST /lv/_search "$q"
    printf '%s %s\n' "$HTTP_STATUS" "$(jqb 'del(.took)')"
  done >"$1"
}

check "verstore starts (default levels)" verstore_start || { done_testing; exit 1; }
check "writes to the default-level store" load
answers "$T_DIR/want"
verstore_stop

STORE_DATA=$T_DIR/store_levels
LEVELS=(--values-level-entries 2 --postings-level-pages 0)
check "verstore starts (${LEVELS[*]})" verstore_start "${LEVELS[@]}" || { done_testing; exit 1; }
check "writes to the small-level store" load
http GET /_prometheus/metrics
levels=$(printf '%s\n' "$HTTP_BODY" | awk '/^verstore_values_level_entries\{/ && $2 > 0 {n++} END {print n + 0}')
assert_eq "every one of the 5 exact-value levels holds entries" 5 "$levels"
older=$(printf '%s\n' "$HTTP_BODY" | awk '/^verstore_postings_level_blocks\{level="1"\}/ {print $2}')
check "postings were moved to the older level ($older blocks)" test "${older:-0}" -gt 0
answers "$T_DIR/got"

# The comparison must not be vacuous: the answers found documents.
assert_eq "every query answered 200" "${#QUERIES[@]}" "$(grep -c '^200 ' "$T_DIR/want")"
live=$(head -1 "$T_DIR/want" | cut -d' ' -f2- | jq .hits.total.value)
assert_eq "the live documents are counted: $N + 50 - $((N / 10)) deleted" $((N + 50 - N / 10)) "$live"
check "queries find documents (no empty answer but the ones that must be)" \
  bash -c "[ \$(grep -c '\"total\":{\"value\":0' '$T_DIR/want') -eq 0 ]"

for i in "${!QUERIES[@]}"; do
  assert_eq "same answer with small levels: ${QUERIES[$i]:0:90}" "$(sed -n "$((i + 1))p" "$T_DIR/want")" \
    "$(sed -n "$((i + 1))p" "$T_DIR/got")"
done

verstore_stop
check "verstore restarts on the small-level data" verstore_start "${LEVELS[@]}" || { done_testing; exit 1; }
answers "$T_DIR/again"
check "same answers after the restart" cmp -s "$T_DIR/want" "$T_DIR/again"
verstore_stop
done_testing
