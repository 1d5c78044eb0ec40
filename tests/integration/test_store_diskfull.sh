#!/usr/bin/env bash
# Disk full on verstore's data directory. Up to three ways, each with the same
# assertions: writes that find no room answer Elasticsearch's flood-stage 429
# (cluster_block_exception, per item in _bulk), reads go on, verstore neither
# dies nor corrupts its data, a `versync run` backs off and keeps the changes
# queued; once room returns (no restart) writes succeed, the backlog drains,
# verify finds no drift, and everything acknowledged is there after a restart.
#   tmpfs  — a real full filesystem: a 6 MiB tmpfs filled with a filler file
#            (as root, when the container allows mounting; else skipped)
#   flood  — --flood-stage 2m on that tmpfs: refused while < 2 MiB are free
#   maxdisk — --max-disk on an ordinary directory (always runs): room returns
#            by deleting a filler index, as read-only-allow-delete allows
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

MNT=""
_df_exit() {
  local rc=$?
  (exit "$rc")
  _t_cleanup
  if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; rmdir "$MNT"; fi
}
trap _df_exit EXIT

PAD=$(head -c 3000 /dev/zero | tr '\0' p)
BLOCK='blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];'

# bulk_docs INDEX FROM TO VERSION — NDJSON indexing documents dFROM..dTO at an external version.
bulk_docs() {
  local i
  for ((i = $2; i <= $3; i++)); do
    printf '{"index":{"_index":"%s","_id":"d%d","version":%d,"version_type":"external"}}\n{"i":%d,"pad":"%s"}\n' \
      "$1" "$i" "$4" "$i" "$PAD"
  done
}
# bulk INDEX FROM TO VERSION — send those documents in one _bulk (http sets HTTP_*).
bulk() { local body; body=$(bulk_docs "$@"); http POST /_bulk "$body"$'\n' application/x-ndjson; }
item_statuses() { jqb '[.items[].index.status] | unique'; }

check "throwaway PostgreSQL starts" pg_start
sql "create table t (id int primary key, n int, pad text not null default '', v bigint not null default 1)"
CFG=$T_DIR/versync.json
NEXT_ROW=1

# scenario NAME FILL FREE [VERSTORE ARGS…] — FILL and FREE are functions that
# take room away and give it back.
scenario() {
  local name=$1 fill=$2 free=$3
  shift 3
  # A fresh verstore (new port, its own log: verstore_start reads the port from the log).
  if [ -n "$STORE_LOG" ] && [ -f "$STORE_LOG" ]; then
    mv "$STORE_LOG" "$T_DIR/verstore-before-$name.log"
    T_LOGS+=("$T_DIR/verstore-before-$name.log")
  fi
  STORE_PORT="" STORE_PID=""
  check "$name: verstore starts" verstore_start --durability request "$@" || return
  ws_config "$CFG" '[{"table": "public.t", "version": {"column": "v"}}]'
  check "$name: versync init" bash -c "'$VERSYNC' -c '$CFG' init >>'$T_DIR/init.log' 2>&1"
  sql "update t set n = n + 1, v = v + 1" # rows of earlier scenarios reach this store too
  check "$name: the existing rows are copied" once_ok "once-$name"

  bulk acked 1 30 7
  assert_eq "$name: 30 documents acknowledged" '[201]' "$(item_statuses)"
  $fill
  # A write that cannot be committed: every item of the bulk gets the 429.
  bulk acked 31 70 7
  assert_eq "$name: _bulk answers 200" 200 "$HTTP_STATUS"
  assert_eq "$name: every item is refused with 429" '[429]' "$(item_statuses)"
  assert_eq "$name: item error" "{\"type\":\"cluster_block_exception\",\"reason\":\"index [acked] $BLOCK\"}" \
    "$(jqb '.items[0].index.error')"
  # Bigger than the refused bulk: it cannot fit in pages the store has free.
  http PUT /acked/_doc/big "{\"pad\":\"$(printf "$PAD%.0s" {1..70})\"}"
  assert_eq "$name: a single write answers 429" 429 "$HTTP_STATUS"
  local reason="index [acked] $BLOCK"
  assert_json "$name: Elasticsearch's flood-stage error body" . \
    "{\"error\":{\"root_cause\":[{\"type\":\"cluster_block_exception\",\"reason\":\"$reason\"}],\"type\":\"cluster_block_exception\",\"reason\":\"$reason\"},\"status\":429}"
  assert_es_headers "$name: the 429"
  # Reads keep working.
  http GET /acked/_doc/d30
  assert_eq "$name: GET a document" '[200,true,7]' "$(jqb '[200, .found, ._version]' | sed "s/^\[200/[$HTTP_STATUS/")"
  http GET /acked/_count
  assert_eq "$name: _count" 30 "$(jqb .count)"
  http POST /acked/_search '{"size":0,"track_total_hits":true}'
  assert_eq "$name: _search" 30 "$(jqb .hits.total.value)"
  check "$name: the log says why" grep -q 'writes refused until space is freed' "$STORE_LOG"

  # The bridge on the full store: backs off, loses nothing.
  local first=$NEXT_ROW last=$((NEXT_ROW + 99))
  NEXT_ROW=$((last + 1))
  # 3 kB rows: a batch of them cannot fit in the few pages a full store has free.
  sql "insert into t (id, n, pad) select g, g, repeat('r', 3000) from generate_series($first, $last) g"
  local runlog=$T_DIR/run-$name.log
  T_LOGS+=("$runlog")
  bg "$VERSYNC" -c "$CFG" run --workers 2 2>"$runlog"
  local run=$BG_PID
  check "$name: versync run is refused with 429 and backs off" \
    wait_until 30 grep -q 'store answered 429 .*cluster_block_exception' "$runlog"
  assert_eq "$name: the 100 new changes stay queued" 100 "$(backlog)"
  check "$name: verstore is still running" kill -0 "$STORE_PID"

  $free
  check "$name: after room returns the backlog drains (no restart)" wait_until 90 backlog_empty
  kill -TERM "$run"; wait "$run"
  assert_eq "$name: versync run stops cleanly" 0 "$?"
  bulk acked 31 70 7
  assert_eq "$name: the refused bulk now succeeds" '[201]' "$(item_statuses)"
  check "$name: the log says writes are accepted again" grep -q 'writes accepted again' "$STORE_LOG"
  local out rc
  out=$(vs verify 2>>"$T_DIR/verify.log"); rc=$?
  T_LOGS+=("$T_DIR/verify.log")
  echo "$out" | sed 's/^/# /'
  assert_eq "$name: versync verify finds no drift" 0 "$rc"

  verstore_stop
  assert_eq "$name: verstore stops cleanly" 0 "$?"
  check "$name: verstore restarts on the same data" verstore_start --durability request "$@"
  http GET /acked/_count
  assert_eq "$name: all 70 acknowledged documents survive the restart" 70 "$(jqb .count)"
  http GET /acked/_doc/d70
  assert_eq "$name: with their version" 7 "$(jqb ._version)"
  check "$name: the copy still equals the table" converged t "select id::text as id, jsonb_build_object('id', id, 'n', n, 'pad', pad, 'v', v) as doc, v from t"
  verstore_stop
  assert_eq "$name: verstore stops cleanly after" 0 "$?"
}

# ---- a real full filesystem ----------------------------------------------
fill_tmpfs() {
  dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
  assert_eq "tmpfs: the filesystem is full" 0 "$(stat -f -c %a "$MNT")"
}
free_filler() { rm -f "$MNT/filler"; }
# fill_flood — leave about 1 MiB free: under the 2 MiB watermark, far from ENOSPC.
fill_flood() {
  local avail
  avail=$(($(stat -f -c '%a * %S' "$MNT")))
  dd if=/dev/zero of="$MNT/filler" bs=64k count=$(((avail - (1 << 20)) / 65536)) 2>/dev/null
  avail=$(($(stat -f -c '%a * %S' "$MNT")))
  check "flood: between 0.5 and 2 MiB free ($avail)" test "$avail" -gt 524288 -a "$avail" -lt 2097152
}
if [ "$(id -u)" = 0 ] && MNT=$(mktemp -d /tmp/versync-diskfull.XXXXXX) && mount -t tmpfs -o size=6m tmpfs "$MNT" 2>/dev/null; then
  STORE_DATA=$MNT/store
  scenario tmpfs fill_tmpfs free_filler
  STORE_DATA=$MNT/flood
  scenario flood fill_flood free_filler --flood-stage 2m
  http GET /
else
  [ -n "$MNT" ] && rmdir "$MNT"
  MNT=""
  echo "# cannot mount a tmpfs here (not root, or not allowed): only the --max-disk scenario runs"
fi

# ---- --max-disk (no privileges needed) -----------------------------------
fill_index() {
  local i
  for ((i = 0; i < 200; i++)); do
    bulk filler $((i * 20)) $((i * 20 + 19)) 1
    [ "$(item_statuses)" = '[201]' ] || break
  done
  assert_eq "maxdisk: the filler index ran into the limit" '[429]' "$(item_statuses)"
}
free_index() {
  http DELETE /filler
  assert_eq "maxdisk: deleting an index is allowed on a full store" 200 "$HTTP_STATUS"
}
STORE_DATA=$T_DIR/maxdisk
scenario maxdisk fill_index free_index --max-disk 4m
check "maxdisk: the data file stayed within the limit and headroom" \
  test "$(stat -c %s "$STORE_DATA/data.mdb")" -le $((4 * 1048576 + 524288))
done_testing
