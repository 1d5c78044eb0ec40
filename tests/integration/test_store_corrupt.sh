#!/usr/bin/env bash
# A damaged data file is refused at start with a clear error naming it, never
# served: data.mdb truncated to half, its meta pages overwritten with garbage,
# or emptied. The undamaged copy still opens with every document. (Garbage
# inside document pages is not detected at start — LMDB keeps no page
# checksums; see README "Reliability".)
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start
for i in $(seq 1 300); do
  printf '{"index":{"_index":"c","_id":"%d","version":%d,"version_type":"external"}}\n{"n":%d,"pad":"%0300d"}\n' \
    "$i" $((i + 10)) "$i" 0
done >"$T_DIR/bulk.ndjson"
http POST /_bulk "$(cat "$T_DIR/bulk.ndjson")"$'\n' application/x-ndjson
assert_json "300 documents written" '[.errors, (.items|length)]' '[false,300]'
check "verstore stops cleanly" verstore_stop
GOOD=$T_DIR/good
cp -a "$STORE_DATA" "$GOOD"
SIZE=$(stat -c %s "$GOOD/data.mdb")

# start_damaged NAME — start verstore on a copy damaged by the commands on
# stdin; sets RC and OUT. A verstore that serves is stopped by timeout (RC 124).
start_damaged() {
  local dir=$T_DIR/$1
  rm -rf "$dir"
  cp -a "$GOOD" "$dir"
  (cd "$dir" && bash -e) || return 1
  OUT=$(timeout 10 "$VERSTORE" --listen 127.0.0.1:0 --data "$dir" 2>&1); RC=$?
  echo "$OUT" | sed 's/^/#   /'
}

refused() { # DESC — the last start exited non-zero, named the data file, never listened
  check "$1: verstore exits non-zero at start" test "$RC" -ne 0 -a "$RC" -ne 124
  assert_match "$1: the error names the data file and says it is corrupt" 'data\.mdb.* corrupt' "$OUT"
  check "$1: it never started serving" bash -c '! grep -q "listening on" <<<"$1"' _ "$OUT"
}

start_damaged half <<<"truncate -s $((SIZE / 2)) data.mdb"
refused "data file truncated to half"
start_damaged meta <<<"head -c 8192 /dev/urandom | dd of=data.mdb conv=notrunc status=none"
refused "meta pages overwritten with garbage"
start_damaged empty <<<": >data.mdb"
refused "data file emptied"

# The intact copy opens and serves every document with its version.
STORE_DATA=$GOOD
check "the undamaged data file starts" verstore_start
http GET /c/_count
assert_json "it holds all 300 documents" '.count' 300
http GET /c/_doc/150
assert_json "with their versions" '[._version, ._source.n]' '[160,150]'
check "verstore exits 0 on SIGTERM" verstore_stop
done_testing
