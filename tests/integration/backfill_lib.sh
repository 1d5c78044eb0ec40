# backfill_lib.sh — helpers shared by test_backfill_*.sh and test_verify_*.sh (source after lib.sh).

# bf_config FILE TABLES_JSON — a versync config for the throwaway PostgreSQL and verstore.
bf_config() {
  cat >"$1" <<JSON
{ "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "timeout_ms": 5000},
  "poll_interval_ms": 200,
  "batch_size": 200,
  "tables": $2 }
JSON
}

# vs ARGS… — the real versync with the test's config ($CFG); stderr goes to $T_DIR/versync.log.
vs() { "$VERSYNC" -c "$CFG" "$@" 2>>"$T_DIR/versync.log"; }

# doc_field INDEX ID FILTER — jq FILTER over GET /INDEX/_doc/ID (id URL-encoded).
doc_field() {
  local id
  id=$(jq -rn --arg s "$2" '$s|@uri')
  curl -s "$STORE_URL/$1/_doc/$id" | jq -c "$3"
}

# count INDEX — live documents in INDEX.
count() { curl -s "$STORE_URL/$1/_count" | jq -r '.count'; }

backlog() { sql "select count(*) from versync.changes"; }
backlog_empty() { [ "$(backlog)" = 0 ]; }

# can_list INDEX — does the store answer POST /INDEX/_search (document listing)?
can_list() {
  local st
  st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"query":{"match_all":{}},"size":1}' "$STORE_URL/$1/_search")
  [ "$st" = 200 ]
}

# skip DESC REASON — a TAP test that did not run.
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
