#!/usr/bin/env bash
# Growth: every heap array grows through versync/grow.h, whose sizes are
# overflow-checked (scripts/check_growth.sh). The tree passes; a scratch copy
# with a hand-written doubling, a `cap *= 2` and a multiplying calloc fails,
# naming each file and line.
. "$(dirname "$0")/lib.sh"

CHECK=$VS_ROOT/scripts/check_growth.sh

out=$("$CHECK" "$VS_ROOT" 2>&1); rc=$?
assert_eq "the tree has no hand-written growth ($out)" "0" "$rc"

t=$T_DIR/scratch
mkdir -p "$t"
cp -r "$VS_ROOT/src" "$VS_ROOT/include" "$t/"
sed -i '2i size_t cap = l->cap ? l->cap * 2 : 16;' "$t/src/store/store_docs.c"
sed -i '2i static void g(size_t *ncap) { *ncap *= 2; }' "$t/src/bridge/bridge_wal.c"
sed -i '2i static void *h(size_t a, size_t b) { return calloc(a * b, 8); }' "$t/src/common/utf8.c"
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "hand-written growth fails" "1" "$rc"
assert_match "a doubling, named" 'src/store/store_docs.c:2: hand-written growth' "$out"
assert_match "a *= 2, named" 'src/bridge/bridge_wal.c:2: hand-written growth' "$out"
assert_match "a multiplying calloc, named" 'src/common/utf8.c:2: hand-written growth' "$out"

done_testing
