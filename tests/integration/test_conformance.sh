#!/usr/bin/env bash
# Elasticsearch REST API conformance: the project's REST YAML tests in
# tests/conformance/*.yml (the format of Elasticsearch's rest-api-spec/test)
# run by tests/conformance/runner.py against a real verstore. Every expected
# answer is what Elasticsearch 8 documents or its own YAML tests assert.
# CONFORMANCE=file.yml[::test name] runs a subset.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { not_ok "python3 with PyYAML (python3-yaml) is installed"; done_testing; exit 1; }

dir=$VS_ROOT/tests/conformance
if [ -n "${CONFORMANCE:-}" ]; then files=("$dir/$CONFORMANCE"); else files=("$dir"/*.yml); fi
# The runner's TAP lines are renumbered after ours so the file stays one TAP stream.
while IFS= read -r line; do
  case "$line" in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" ;;
    "1.."*) ;;
    *) echo "$line" ;;
  esac
done < <(python3 "$dir/runner.py" "$STORE_URL" "${files[@]}" 2>&1)
done_testing
