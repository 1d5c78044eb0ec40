#!/usr/bin/env bash
# Layering: every header lives in include/versync/{common,store,bridge}/;
# src/store never includes a bridge header, src/bridge never a store header,
# src/common neither (scripts/check_layering.sh). The tree passes; a scratch
# copy with one bad include, or a header outside a side's folder, fails naming
# the file and line.
. "$(dirname "$0")/lib.sh"

CHECK=$VS_ROOT/scripts/check_layering.sh

out=$("$CHECK" "$VS_ROOT" 2>&1); rc=$?
assert_eq "the tree has no layering violation ($out)" "0" "$rc"
check "no header outside a side's folder" test -z "$(ls "$VS_ROOT"/include/versync/*.h 2>/dev/null)"

# scratch NAME — a copy of src/ and include/ to break on purpose.
scratch() {
  local d=$T_DIR/$1
  mkdir -p "$d"
  cp -r "$VS_ROOT/src" "$VS_ROOT/include" "$d/"
  echo "$d"
}

# inject TREE FILE INCLUDE — add an #include as the file's second line.
inject() { sed -i "2i #include \"$3\"" "$1/$2"; }

t=$(scratch bridge_to_store)
inject "$t" src/bridge/bridge_verify.c versync/store/store_engine.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a bridge file including a store header fails" "1" "$rc"
assert_match "the failure names file, line and header" \
  'src/bridge/bridge_verify.c:2: bridge file includes store header "versync/store/store_engine.h"' "$out"

t=$(scratch store_to_bridge)
inject "$t" src/store/store_docs.c versync/bridge/cfg.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a store file including a bridge header fails" "1" "$rc"
assert_match "named" 'src/store/store_docs.c:2: store file includes bridge header "versync/bridge/cfg.h"' "$out"

t=$(scratch common_to_side)
inject "$t" src/common/buf.c versync/bridge/esclient.h
inject "$t" include/versync/common/log.h versync/store/store_util.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "common code or a common header including a side's header fails" "1" "$rc"
assert_match "the .c file is named" 'src/common/buf.c:2: common file includes bridge header' "$out"
assert_match "the header is named" 'include/versync/common/log.h:2: common file includes store header' "$out"

t=$(scratch header_to_side)
inject "$t" include/versync/store/store_docs.h versync/bridge/worker.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a store header including a bridge header fails" "1" "$rc"
assert_match "a header" 'include/versync/store/store_docs.h:2: store file includes bridge header "versync/bridge/worker.h"' "$out"

# A header left at the top, or an include that names no side, has no side.
t=$(scratch misplaced)
cp "$t/include/versync/common/log.h" "$t/include/versync/stray.h"
inject "$t" src/bridge/bridge_worker.c versync/stray.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a header outside a side's folder is refused" "2" "$rc"
assert_match "the header is named" 'include/versync/stray.h: not under include/versync/\{common,store,bridge\}/' "$out"
assert_match "the include is named" 'src/bridge/bridge_worker.c:2: "versync/stray.h" is not under' "$out"

t=$(scratch missing)
inject "$t" src/store/store_docs.c versync/store/no_such.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "an include of a header that does not exist is refused" "2" "$rc"
assert_match "named" 'src/store/store_docs.c:2: "versync/store/no_such.h" does not exist' "$out"

done_testing
