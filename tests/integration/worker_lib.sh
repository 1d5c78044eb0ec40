# worker_lib.sh — helpers shared by the test_worker_*.sh scripts (source after lib.sh).

# ws_config FILE TABLES_JSON [STORE_URL] [EXTRA_TOP_LEVEL_JSON_MEMBERS]
# Write a versync config for the throwaway PostgreSQL and verstore.
ws_config() {
  local file=$1 tables=$2 url=${3:-$STORE_URL} extra=${4:-}
  cat >"$file" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$url", "timeout_ms": 5000},
  "schema": "versync",
  "poll_interval_ms": 200,
  "batch_size": 50,
  ${extra}
  "tables": $tables
}
JSON
}

# vs ARGS… — the real versync binary with the test's config.
vs() { "$VERSYNC" -c "$CFG" "$@"; }

# once_ok LOGNAME — run `versync once` to completion; keeps its summary in ONCE_OUT.
once_ok() {
  local log=$T_DIR/${1:-once}.log
  T_LOGS+=("$log")
  ONCE_OUT=$(vs once 2>>"$log")
  local rc=$?
  echo "# $ONCE_OUT"
  return $rc
}

# summary_field NAME — a count from the last once summary ("3 stale" → 3).
summary_field() { grep -o "[0-9]* $1" <<<"$ONCE_OUT" | head -1 | cut -d' ' -f1; }

backlog() { sql "select count(*) from versync.changes"; }
# worker_up — exactly one versync worker is connected to PostgreSQL.
worker_up() { [ "$(sql "select count(*) from pg_stat_activity where application_name like 'versync worker%'")" = 1 ]; }
backlog_empty() { [ "$(backlog)" = 0 ]; }

# doc INDEX ID — the document's _source (compact, keys sorted) or "missing".
doc() {
  local id
  id=$(jq -rn --arg s "$2" '$s|@uri')
  local out
  out=$(curl -s "$STORE_URL/$1/_doc/$id")
  if [ "$(jq -r '.found' <<<"$out")" = true ]; then jq -cS '._source' <<<"$out"; else echo missing; fi
}

# doc_version INDEX ID — the stored _version, or "missing".
doc_version() {
  local id out
  id=$(jq -rn --arg s "$2" '$s|@uri')
  out=$(curl -s "$STORE_URL/$1/_doc/$id")
  if [ "$(jq -r '.found' <<<"$out")" = true ]; then jq -r '._version' <<<"$out"; else echo missing; fi
}

# mismatches INDEX SQL — how many rows of SQL (columns id, doc jsonb, v bigint
# or NULL) differ from the store, plus documents the store has beyond them.
mismatches() {
  local rows=$T_DIR/.mm_rows got=$T_DIR/.mm_got count
  sql "select coalesce(json_agg(json_build_object('id', q.id, 'doc', q.doc, 'v', q.v)), '[]') from ($2) q" >"$rows"
  count=$(curl -s "$STORE_URL/$1/_count" | jq '.count // 0')
  if [ "$(jq length "$rows")" = 0 ]; then echo "$count"; return; fi
  jq -c '{ids: [.[].id]}' "$rows" >"$got.req"
  curl -s -X POST -H 'Content-Type: application/json' "$STORE_URL/$1/_mget" --data-binary @"$got.req" >"$got"
  jq -n --slurpfile r "$rows" --slurpfile g "$got" --argjson c "$count" '
    $r[0] as $r | $g[0] as $g
    | ([range(0; $r|length) | . as $i
      | select(($g.docs[$i].found != true) or ($g.docs[$i]._source != $r[$i].doc)
               or ($r[$i].v != null and $g.docs[$i]._version != $r[$i].v))] | length)
    + (if $c > ($r|length) then $c - ($r|length) else 0 end)'
}

# converged INDEX SQL — true when the store equals SQL's rows exactly.
converged() { [ "$(mismatches "$1" "$2")" = 0 ]; }

# wal_items_start — the common start of the "capture": "wal" tests: a throwaway PostgreSQL at
# wal_level=logical, verstore, table items (id, name) mapped with "capture": "wal" in $CFG, init
# run (each a check), and Q_ITEMS, the query `converged` compares the store with.
wal_items_start() {
  PG_EXTRA_OPTS="-c wal_level=logical"
  check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
  check "verstore starts" verstore_start
  CFG=$T_DIR/versync.json
  sql "create table items (id int primary key, name text)"
  ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}]'
  check "init" vs init
  Q_ITEMS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
}
