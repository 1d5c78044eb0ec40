# contract_lib.sh — helpers for the test_contract_*.sh scripts (source after lib.sh and worker_lib.sh):
# one table, unmanaged versions, batch_size 1 so a delete and its re-insert are never coalesced.

# ct_config FILE VERSION_JSON [MORE_TABLES_JSON] — config for public.p with the given version
# source (and more table entries, comma-led).
ct_config() {
  cat >"$1" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "timeout_ms": 5000},
  "schema": "versync",
  "poll_interval_ms": 200,
  "batch_size": 1,
  "tables": [{"table": "public.p", "version": $2}${3:-}]
}
JSON
}

# store_doc ID — the _source of p's document ID (compact, keys sorted), or "missing".
store_doc() { doc p "$1"; }
