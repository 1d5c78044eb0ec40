#!/usr/bin/env bash
# What versync sends to an Elasticsearch-like target, seen through faultproxy's
# request log: every _bulk carries X-Opaque-Id versync-HOST-PID-BATCH; a 429
# with Retry-After: 1 is retried no sooner than 1 s later (checked on the
# timestamps the proxy logged, in order); a batch over store.max_bulk_bytes goes
# out as several _bulk requests of the same batch, each within the cap (a
# single larger document alone), and everything converges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table r_t (id int primary key, pad text)"
ws_config "$CFG" '[{"table": "public.r_t"}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
Q="select id::text as id, to_jsonb(t) as doc, null::bigint as v from r_t t"

# start_proxy NAME ARGS… — faultproxy in front of verstore; sets PROXY_URL and PROXY_LOG.
start_proxy() {
  local name=$1; shift
  PROXY_LOG=$T_DIR/$name.log
  T_LOGS+=("$PROXY_LOG")
  bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" "$@" >"$T_DIR/$name.out" 2>"$PROXY_LOG"
  wait_until 10 grep -q 'listening on' "$T_DIR/$name.out" || return 1
  PROXY_URL=$(grep -o 'http://[0-9.:]*' "$T_DIR/$name.out")
}

# ---- 429 with Retry-After: 1, twice --------------------------------------------------
check "faultproxy starts (2×429, Retry-After: 1)" start_proxy p429 --fault 429:2 --retry-after 1
ws_config "$T_DIR/p429.json" '[{"table": "public.r_t"}]' "$PROXY_URL"
sql "insert into r_t select g, 'x' from generate_series(1, 30) g"
out=$("$VERSYNC" -c "$T_DIR/p429.json" once 2>"$T_DIR/once429.log"); rc=$?
T_LOGS+=("$T_DIR/once429.log")
assert_eq "once through two 429s exits 0" 0 "$rc"
assert_eq "the proxy injected two 429s" 2 "$(grep -c '^fault 429' "$PROXY_LOG")"
check "the table converged" converged r_t "$Q"
grep '^req .* POST /_bulk' "$PROXY_LOG" | awk '{print $2}' >"$T_DIR/bulk_ts"
assert_eq "three _bulk attempts reached the proxy" 3 "$(wc -l <"$T_DIR/bulk_ts")"
gaps=$(awk 'NR > 1 { print ($1 - prev >= 1000 ? "waited" : "early " ($1 - prev) "ms") } { prev = $1 }' "$T_DIR/bulk_ts" | tr '\n' ' ')
assert_eq "each retry came at least Retry-After (1 s) after the 429" "waited waited " "$gaps"

# ---- X-Opaque-Id ------------------------------------------------------------------------
ids=$(grep '^req .* POST /_bulk' "$PROXY_LOG" | sed 's/.* opaque=\([^ ]*\) .*/\1/')
host=$(hostname)
bad=$(grep -cv "^versync-${host}-[0-9]*-[0-9]*$" <<<"$ids")
assert_eq "every _bulk carries X-Opaque-Id versync-HOST-PID-BATCH" 0 "$bad"
assert_eq "each attempt of the batch is told apart" 3 "$(sort -u <<<"$ids" | wc -l)"
assert_eq "all from one process" 1 "$(sed 's/-[0-9]*$//' <<<"$ids" | sort -u | wc -l)"

# ---- _bulk byte cap ------------------------------------------------------------------------
check "faultproxy starts (no faults)" start_proxy pcap
ws_config "$T_DIR/cap.json" '[{"table": "public.r_t"}]' "$PROXY_URL"
sed -i 's/"timeout_ms": 5000}/"timeout_ms": 5000, "max_bulk_bytes": 2048}/' "$T_DIR/cap.json"
check "the config takes max_bulk_bytes" grep -q max_bulk_bytes "$T_DIR/cap.json"
# 40 rows of ~300 bytes (one batch of 50 at most) and one 5000-byte row.
sql "update r_t set pad = repeat('p', 250); insert into r_t select g, repeat('q', 250) from generate_series(31, 40) g;
     insert into r_t values (99, repeat('L', 5000))"
out=$("$VERSYNC" -c "$T_DIR/cap.json" once 2>"$T_DIR/oncecap.log"); rc=$?
T_LOGS+=("$T_DIR/oncecap.log")
echo "# $out"
ONCE_OUT=$out
assert_eq "once with a 2 KiB cap exits 0" 0 "$rc"
assert_eq "all 41 writes applied" 41 "$(summary_field applied)"
check "the table converged" converged r_t "$Q"
grep '^req .* POST /_bulk' "$PROXY_LOG" >"$T_DIR/cap_reqs"
nreq=$(wc -l <"$T_DIR/cap_reqs")
check "the batch went out in several _bulk requests ($nreq)" test "$nreq" -ge 6
nbatch=$(sed 's/.* opaque=\([^ ]*\) .*/\1/' "$T_DIR/cap_reqs" | sort -u | wc -l)
assert_eq "all parts of one batch (one X-Opaque-Id)" 1 "$nbatch"
over=$(awk '{ sub(/.*bytes=/, ""); if ($1 + 0 > 2048) n++ } END { print n + 0 }' "$T_DIR/cap_reqs")
assert_eq "only the single oversized document's request exceeds the cap" 1 "$over"
assert_eq "no retries" 0 "$(summary_field retries)"

done_testing
