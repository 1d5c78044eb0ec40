#!/usr/bin/env bash
# Elasticsearch REST API conformance: the project's REST YAML tests in
# tests/conformance/*.yml (the format of Elasticsearch's rest-api-spec/test)
# run by tests/conformance/runner.py against a real verstore. Every expected
# answer is what Elasticsearch 8 documents or its own YAML tests assert.
# CONFORMANCE=file.yml[::test name] runs a subset.
. "$(dirname "$0")/lib.sh"

python3 -c 'import yaml' 2>/dev/null || { not_ok "python3 with PyYAML (python3-yaml) is installed"; done_testing; exit 1; }

dir=$VS_ROOT/tests/conformance
if [ -n "${CONFORMANCE:-}" ]; then files=("$dir/$CONFORMANCE"); else files=("$dir"/*.yml); fi

# run_files LABEL: the runner's TAP lines, renumbered after ours so the file stays one TAP stream.
run_files() {
  local label=$1 line
  while IFS= read -r line; do
    case "$line" in
      "ok "*) ok "$label${line#ok * - }" ;;
      "not ok "*) not_ok "$label${line#not ok * - }" ;;
      "1.."*) ;;
      *) echo "$line" ;;
    esac
  done < <(python3 "$dir/runner.py" "$STORE_URL" "${files[@]}" 2>&1)
}

check "verstore starts" verstore_start || { done_testing; exit 1; }
run_files ""

# Again with the smallest levels: exact-value levels of one entry and
# postings moved to the older level after every batch. Every answer must be
# the same when a field's values and a term's postings are spread over
# several levels (the default levels are far larger than these small
# indices, which would only ever use the newest; test_store_levels.sh fills
# every level).
verstore_stop
STORE_DATA=$T_DIR/store_levels
check "verstore starts with the smallest levels" \
  verstore_start --values-level-entries 1 --postings-level-pages 0 || { done_testing; exit 1; }
run_files "[smallest levels] "
done_testing
