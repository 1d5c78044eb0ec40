#!/usr/bin/env bash
# Bounds an operator relies on (issue 23): `once --timeout N` is a bound — a store answering
# 429 with Retry-After: 30 made `once --timeout 2` sleep the whole 30 s (and a backoff could
# overshoot the same way); now it gives up at N s with exit 3 and nothing lost. And backfill
# honours store.max_bulk_bytes (it had 8 MiB hard-coded): every _bulk it sends is within the
# configured cap, as the workers' are.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, pad text);
     insert into items select g, repeat('x', 400) from generate_series(1, 2000) g"

# start_proxy NAME ARGS… — faultproxy in front of verstore; sets PROXY_URL and PROXY_LOG.
start_proxy() {
  local name=$1; shift
  PROXY_LOG=$T_DIR/$name.log
  T_LOGS+=("$PROXY_LOG")
  bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" "$@" >"$T_DIR/$name.out" 2>"$PROXY_LOG"
  wait_until 10 grep -q 'listening on' "$T_DIR/$name.out" || return 1
  PROXY_URL=$(grep -o 'http://[0-9.:]*' "$T_DIR/$name.out")
}

# ---- backfill: store.max_bulk_bytes ------------------------------------------------------------
check "faultproxy (pass-through, logging sizes) starts" start_proxy sizes
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}]'
sed -i "s#\"url\": \"$STORE_URL\"#\"url\": \"$PROXY_URL\", \"max_bulk_bytes\": 65536#" "$CFG"
check "the config caps a _bulk at 64 KiB" grep -q '"max_bulk_bytes": 65536' "$CFG"
vs init >/dev/null
out=$(vs backfill); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill exits 0" 0 "$rc"
assert_eq "every row is in the index" 2000 "$(count items)"
sizes=$(grep -E '^req [0-9]+ POST /_bulk' "$PROXY_LOG" | grep -o 'bytes=[0-9]*' | cut -d= -f2)
n=$(printf '%s\n' "$sizes" | grep -c .)
max=$(printf '%s\n' "$sizes" | sort -n | tail -1)
echo "# $n _bulk requests, the largest $max bytes"
check "the copy went out in many _bulk requests (got $n)" test "$n" -ge 10
check "none over store.max_bulk_bytes (largest $max)" test "$max" -le 65536
vs verify >/dev/null
assert_eq "verify: in sync" 0 "$?"

# ---- once --timeout is a bound -----------------------------------------------------------------
check "faultproxy answering every _bulk 429, Retry-After: 30, starts" start_proxy slow --fault 429:100000 --retry-after 30
sed "s#\"url\": \"[^\"]*\"#\"url\": \"$PROXY_URL\"#" "$CFG" >"$T_DIR/slow.json"
sql "update items set pad = 'y' where id <= 3"
start=$(date +%s%N)
out=$("$VERSYNC" -c "$T_DIR/slow.json" once --timeout 2 2>"$T_DIR/once.log"); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
T_LOGS+=("$T_DIR/once.log")
echo "# once --timeout 2 took $ms ms"
assert_eq "once gives up: exit 3 (unreachable)" 3 "$rc"
check "within the bound: 2 s and a little (took $ms ms)" test "$ms" -lt 3500
check "not before it (took $ms ms)" test "$ms" -ge 1900
assert_match "saying so" 'giving up: the store unreachable for 2 s' "$(cat "$T_DIR/once.log")"
assert_eq "nothing is lost: the changes stay queued" 3 "$(backlog)"
start=$(date +%s%N)
"$VERSYNC" -c "$T_DIR/slow.json" once --workers 2 --timeout 2 >/dev/null 2>>"$T_DIR/once.log"; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "once --workers 2: exit 3 as well" 3 "$rc"
check "and within the bound too (took $ms ms)" test "$ms" -lt 4000

done_testing
