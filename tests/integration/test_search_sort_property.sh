#!/usr/bin/env bash
# Property test of sort: random documents (every sortable field type, values
# unique and shared, single and multi-valued, missing), random sort specs
# (every direction, one to three keys, pages), each compared with a sort done
# in tests/integration/sort_property.py the way Elasticsearch 8 defines it.
# SORT_SEEDS="1 2 3" and SORT_ROUNDS=N change the cases run.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }
for seed in ${SORT_SEEDS:-11 23 47 101}; do
  while IFS= read -r line; do
    case "$line" in
      "ok - "*) ok "seed $seed: ${line#ok - }" ;;
      "not ok - "*) not_ok "seed $seed: ${line#not ok - }" ;;
      "1.."*) ;;
      *) echo "$line" ;;
    esac
  done < <(python3 "$VS_ROOT/tests/integration/sort_property.py" "$STORE_URL" "$seed" "${SORT_ROUNDS:-40}" 2>&1)
done
done_testing
