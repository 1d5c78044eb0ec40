#!/usr/bin/env bash
# The top-k scorer (issue 17: block-max MaxScore for score-ordered match and
# term queries on text) against the exhaustive path, on the same data:
# search_topk.py indexes a few thousand documents of a Zipf vocabulary
# (multi-valued fields, overwrites, deletes) and sends ~360 random match /
# term / match_phrase queries (1-4 words, or / and / minimum_should_match,
# phrases exact and sloppy, sizes 1-100,
# from > 0, track_total_hits default / N / true / false). The same data
# directory is then served by a verstore started with
# VERSTORE_SEARCH_TOPK=off, which answers every search the exhaustive way
# (a process setting rather than a request flag, so no request can reach a
# parameter Elasticsearch does not have). Every answer must be the same:
# hits (ids, scores, order), totals, max_score. The top-k run must also have
# skipped postings blocks on their bounds (verstore_search_topk_blocks_total)
# and a phrase must have passed over documents on their bounds (and
# ranges of blocks on their impacts),
# so this cannot pass with the scorer never taken. The data is written with
# --postings-level-pages 0, so that terms have blocks in both postings
# levels and the scorer's walks cross from one to the other.
. "$(dirname "$0")/lib.sh"

py=$VS_ROOT/tests/integration/search_topk.py
metric() { # metric RESULT — verstore_search_topk_blocks_total{result=RESULT}
  curl -s "$STORE_URL/_prometheus/metrics" | awk -v r="verstore_search_topk_blocks_total{result=\"$1\"}" '$1 == r { print $2 }'
}

check "verstore starts" verstore_start --postings-level-pages 0 || { done_testing; exit 1; }
check "the documents are indexed" python3 "$py" load "$STORE_URL"
level_blocks() { curl -s "$STORE_URL/_prometheus/metrics" | awk -v r="verstore_postings_level_blocks{level=\"$1\"}" '$1 == r { print $2 }'; }
recent=$(level_blocks 0) older=$(level_blocks 1)
check "postings in both levels (recent $recent, older $older blocks)" test "${recent:-0}" -gt 0 -a "${older:-0}" -gt 0
check "the queries run with the top-k scorer" python3 "$py" query "$STORE_URL" "$T_DIR/topk.json"
skipped=$(metric skipped)
decoded=$(metric decoded)
echo "# top-k blocks: decoded $decoded, skipped $skipped"
if [ "${skipped:-0}" -gt 0 ]; then ok "the top-k scorer skipped blocks on their bounds"; else not_ok "the top-k scorer skipped blocks on their bounds ($skipped)"; fi
phrase_docs() { curl -s "$STORE_URL/_prometheus/metrics" | awk -v r="verstore_search_topk_phrase_docs_total{result=\"$1\"}" '$1 == r { print $2 }'; }
ph_read=$(phrase_docs read) ph_skipped=$(phrase_docs skipped)
echo "# phrase documents: positions read $ph_read, skipped $ph_skipped"
check "the phrase walk read positions and passed over documents on their bounds" \
  test "${ph_read:-0}" -gt 0 -a "${ph_skipped:-0}" -gt 0
ph_ranges=$(curl -s "$STORE_URL/_prometheus/metrics" | awk '$1 == "verstore_search_topk_phrase_ranges_skipped_total" { print $2 }')
check "exact phrases passed over ranges of blocks on their terms' impacts ($ph_ranges)" test "${ph_ranges:-0}" -gt 0
verstore_stop

check "verstore starts with the top-k scorer off" env VERSTORE_SEARCH_TOPK=off bash -c true
VERSTORE_SEARCH_TOPK=off verstore_start || { not_ok "verstore starts (top-k off)"; done_testing; exit 1; }
check "the queries run the exhaustive way" python3 "$py" query "$STORE_URL" "$T_DIR/exhaustive.json"
assert_eq "the exhaustive server decoded nothing through the top-k scorer" 0 "$(metric decoded)"
assert_eq "nor walked a phrase for it" 0 "$(phrase_docs read)"
while IFS= read -r line; do
  case "$line" in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" ;;
    *) echo "$line" ;;
  esac
done < <(python3 "$py" compare "$T_DIR/topk.json" "$T_DIR/exhaustive.json" 2>&1)
verstore_stop
done_testing
