#!/usr/bin/env bash
# The start-up check of run/once/init against a target that cannot work:
# Elasticsearch 6 (incompatible), 401/403 (a security error naming the kind of
# credential, never its value), a read-only index, and an unreachable URL
# (named without its password). OpenSearch 1.x and Elasticsearch 7/8 pass. A
# canned fake server (fakees) stands in for the clusters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAKEES=${FAKEES:-$VS_BUILD/itest/fakees}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table s_t (id int primary key, n int)"
ws_config "$CFG" '[{"table": "public.s_t", "index": "s_idx"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init against verstore passes the check" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

# fake NAME ARGS… — start fakees with canned answers; sets FAKE_URL and FAKE_LOG.
fake() {
  local name=$1; shift
  FAKE_LOG=$T_DIR/$name.log
  T_LOGS+=("$FAKE_LOG")
  bg "$FAKEES" --listen 127.0.0.1:0 "$@" >"$T_DIR/$name.out" 2>"$FAKE_LOG"
  wait_until 10 grep -q 'listening on' "$T_DIR/$name.out" || return 1
  FAKE_URL=$(grep -o 'http://[0-9.:]*' "$T_DIR/$name.out")
}
# try CMD… — run versync with $T_DIR/t.json; sets RC and OUT (stdout+stderr).
try() { OUT=$("$VERSYNC" -c "$T_DIR/t.json" "$@" 2>&1); RC=$?; }
# store_cfg URL EXTRA — a config pointing at URL with extra "store" members.
store_cfg() {
  ws_config "$T_DIR/t.json" '[{"table": "public.s_t", "index": "s_idx"}]' "$1"
  [ -n "${2:-}" ] && sed -i "s|\"timeout_ms\": 5000}|\"timeout_ms\": 5000, $2}|" "$T_DIR/t.json"
  chmod 600 "$T_DIR/t.json" # it may hold a literal password: refused if others can read it
}

ES8='{"name":"n","cluster_name":"c","version":{"number":"8.13.0","build_flavor":"default"},"tagline":"You Know, for Search"}'
ES6='{"name":"n","cluster_name":"c","version":{"number":"6.8.23"},"tagline":"You Know, for Search"}'
OS1='{"name":"n","cluster_name":"c","version":{"distribution":"opensearch","number":"1.3.14"},"tagline":"The OpenSearch Project: https://opensearch.org/"}'
SEC='{"error":{"type":"security_exception","reason":"unable to authenticate user [vs] for REST request [/]"},"status":401}'

# ---- Elasticsearch 6: incompatible ----------------------------------------------------------
check "fake Elasticsearch 6 starts" fake es6 --answer / 200 "$ES6"
store_cfg "$FAKE_URL"
try once
assert_eq "once against Elasticsearch 6 exits 2" 2 "$RC"
assert_match "incompatible, naming the version and the need" \
  "store at $FAKE_URL is incompatible: Elasticsearch 6.8.23; versync needs Elasticsearch >= 7" "$OUT"
try run
assert_eq "run against Elasticsearch 6 exits 2 at once" 2 "$RC"
assert_match "with the same message" 'incompatible: Elasticsearch 6.8.23' "$OUT"
try init
assert_eq "init against Elasticsearch 6 fails with exit 2" 2 "$RC"
assert_match "init says why" 'incompatible: Elasticsearch 6.8.23' "$OUT"

# ---- OpenSearch 1.x and Elasticsearch 8 pass (nothing to do: once exits 0) ----------------------------
check "fake OpenSearch 1.3 starts" fake os1 --answer / 200 "$OS1"
store_cfg "$FAKE_URL"
try once
assert_eq "OpenSearch 1.3 passes the check (once drains nothing, exit 0)" 0 "$RC"
check "the check read the index settings" grep -q 'req GET /s_idx/_settings' "$FAKE_LOG"
check "fake Elasticsearch 8 starts" fake es8 --answer / 200 "$ES8"
store_cfg "$FAKE_URL"
try once
assert_eq "Elasticsearch 8 passes the check" 0 "$RC"

# ---- security errors: which credential kind, never its value -----------------------------------
check "fake cluster answering 401 starts" fake sec --answer / 401 "$SEC"
store_cfg "$FAKE_URL" '"username": "vs", "password": "hunter2-secret"'
try once
assert_eq "basic auth refused: exit 2" 2 "$RC"
assert_match "a security error naming basic auth and the user" \
  'security error on GET / \(HTTP 401\): basic auth as user "vs" was refused: check store.username/store.password' "$OUT"
check "the password is not printed" test "${OUT/hunter2/}" == "$OUT"
store_cfg "$FAKE_URL" '"api_key": "c2VjcmV0LWFwaS1rZXk="'
try run
assert_eq "API key refused: run exits 2" 2 "$RC"
assert_match "naming the API key as the credential" 'the API key \(store.api_key\) was refused' "$OUT"
check "the key is not printed" test "${OUT/c2VjcmV0/}" == "$OUT"
check "the key was sent as ApiKey" grep -q 'auth=ApiKey' "$FAKE_LOG"
store_cfg "$FAKE_URL"
try once
assert_match "no credentials at all: says so" 'no credentials are configured' "$OUT"

# ---- a read-only index ---------------------------------------------------------------------------
RO='{"s_idx":{"settings":{"index.number_of_shards":"1","index.blocks.read_only_allow_delete":"true"}}}'
check "fake cluster with a read-only index starts" fake ro --answer / 200 "$ES8" --answer /s_idx/_settings 200 "$RO"
store_cfg "$FAKE_URL"
try once
assert_eq "once against a read-only index exits 2" 2 "$RC"
assert_match "naming the index and the block" \
  'index "s_idx" is read-only \(index.blocks.read_only_allow_delete = true, set by Elasticsearch when a disk passes the flood-stage watermark' "$OUT"
assert_match "and how to clear it" 'PUT /s_idx/_settings \{"index.blocks.read_only_allow_delete": null\}' "$OUT"

# ---- unreachable: named without its password; once then gives up after --timeout ----------------------
store_cfg "http://vs:pw-secret@127.0.0.1:9"
sql "insert into s_t values (1, 1)"
try once --timeout 1
assert_eq "once against an unreachable store exits 3 after its timeout" 3 "$RC"
assert_match "the start-up check names the URL without the password" \
  'store at http://vs:\*\*\*@127.0.0.1:9 is unreachable' "$OUT"
check "the password is not printed" test "${OUT/pw-secret/}" == "$OUT"
try init
assert_eq "init against an unreachable store fails with exit 3" 3 "$RC"
assert_match "init names it too" 'store at http://vs:\*\*\*@127.0.0.1:9 is unreachable' "$OUT"

done_testing
