#!/usr/bin/env bash
# Layering: src/store never includes a bridge header, src/bridge never a store
# header, src/common neither (scripts/check_layering.sh). The tree passes; a
# scratch copy with one bad include fails naming the file and line; and the
# check still works once headers move to include/versync/{bridge,store}/.
. "$(dirname "$0")/lib.sh"

CHECK=$VS_ROOT/scripts/check_layering.sh

out=$("$CHECK" "$VS_ROOT" 2>&1); rc=$?
assert_eq "the tree has no layering violation ($out)" "0" "$rc"

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
inject "$t" src/bridge/bridge_verify.c versync/store_engine.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a bridge file including a store header fails" "1" "$rc"
assert_match "the failure names file, line and header" \
  'src/bridge/bridge_verify.c:2: bridge file includes store header "versync/store_engine.h"' "$out"

t=$(scratch store_to_bridge)
inject "$t" src/store/store_docs.c versync/cfg.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "a store file including a bridge header fails" "1" "$rc"
assert_match "named" 'src/store/store_docs.c:2: store file includes bridge header "versync/cfg.h"' "$out"

t=$(scratch common_to_side)
inject "$t" src/common/buf.c versync/esclient.h
inject "$t" include/versync/log.h versync/store_util.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "common code or a common header including a side's header fails" "1" "$rc"
assert_match "the .c file is named" 'src/common/buf.c:2: common file includes bridge header' "$out"
assert_match "the header is named" 'include/versync/log.h:2: common file includes store header' "$out"

# The layout the headers will move to: include/versync/{bridge,store}/, common
# headers staying in include/versync/. Sides from the names and .c files.
t=$(scratch moved)
moves=()
for h in "$t"/include/versync/*.h; do
  stem=$(basename "$h" .h)
  if [[ $stem == store_* ]]; then side=store
  elif [ -f "$t/src/common/$stem.c" ]; then continue
  elif [[ $stem == sql_embed ]] || [ -f "$t/src/bridge/bridge_$stem.c" ] ||
       grep -rqF "versync/$stem.h" "$t"/src/bridge; then side=bridge
  else continue
  fi
  mkdir -p "$t/include/versync/$side"
  mv "$h" "$t/include/versync/$side/"
  moves+=("s|\"versync/$stem.h\"|\"versync/$side/$stem.h\"|")
done
find "$t/src" "$t/include" -name '*.[ch]' -exec sed -i "$(printf '%s;' "${moves[@]}")" {} +
check "headers were moved in the scratch tree" test -f "$t/include/versync/bridge/cfg.h" -a -f "$t/include/versync/store/store_engine.h"
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "the moved layout has no violation ($out)" "0" "$rc"
inject "$t" src/bridge/bridge_worker.c versync/store/store_version.h
inject "$t" include/versync/store/store_docs.h versync/bridge/worker.h
out=$("$CHECK" "$t" 2>&1); rc=$?
assert_eq "the moved layout still catches violations" "1" "$rc"
assert_match "a .c file" 'src/bridge/bridge_worker.c:2: bridge file includes store header "versync/store/store_version.h"' "$out"
assert_match "a header" 'include/versync/store/store_docs.h:2: store file includes bridge header "versync/bridge/worker.h"' "$out"

done_testing
