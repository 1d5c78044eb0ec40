#!/usr/bin/env bash
# check_layering.sh [ROOT] — dependencies point one way: src/common includes
# only common headers, src/store never includes a bridge header, src/bridge
# never includes a store header (and the headers of each side obey the same
# rule). Prints one line per violation, naming the file, line and header, and
# exits 1 when there is any; exits 2 when a header's side cannot be told.
#
# A header's side is read, in this order, from
#   1. its folder: include/versync/{common,store,bridge}/x.h;
#   2. its name: store_* / verstore_* is the store's, bridge_* the bridge's;
#   3. the .c file of the same stem: src/common/x.c, src/bridge/[bridge_]x.c,
#      src/store/[store_]x.c;
#   4. where the functions it declares are defined (src/<side>/*.c);
#   5. who includes it, when only one side does (e.g. a generated file's header).
# So the check works before and after headers move to include/versync/<side>/.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2

declare -A SIDE_OF=()

# side_of_file PATH — sets SIDE to the side a source or header file belongs to.
side_of_file() {
  case "$1" in
    src/common/*) SIDE=common ;;
    src/store/*) SIDE=store ;;
    src/bridge/*) SIDE=bridge ;;
    include/*) header_side "${1#include/}" ;;
    *) SIDE=other ;;
  esac
}

# header_side INC — sets SIDE for INC as written in #include "…" (e.g.
# versync/cfg.h); cached, as the slow rules grep the sources.
header_side() {
  local inc=$1
  if [ -z "${SIDE_OF[$inc]+x}" ]; then SIDE_OF[$inc]=$(header_side_uncached "$inc"); fi
  SIDE=${SIDE_OF[$inc]}
}

header_side_uncached() {
  local inc=$1 rel stem h names name sides s
  rel=${inc#versync/}
  case "$rel" in
    common/*) echo common; return ;;
    store/*) echo store; return ;;
    bridge/*) echo bridge; return ;;
  esac
  stem=${rel##*/}; stem=${stem%.h}
  case "$stem" in
    store_* | verstore_*) echo store; return ;;
    bridge_* | versync_*) echo bridge; return ;;
  esac
  if [ -f "src/common/$stem.c" ]; then echo common; return; fi
  if [ -f "src/bridge/bridge_$stem.c" ] || [ -f "src/bridge/$stem.c" ]; then echo bridge; return; fi
  if [ -f "src/store/store_$stem.c" ] || [ -f "src/store/$stem.c" ]; then echo store; return; fi
  h=include/$inc
  if [ -f "$h" ]; then
    # Declared functions: "type name(" at the start of a line.
    names=$(grep -E '^[A-Za-z_][A-Za-z0-9_ *]*[ *]([a-z_][a-z0-9_]*)\(' "$h" |
            sed -E 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]([a-z_][a-z0-9_]*)\(.*/\1/' | sort -u)
    sides=""
    for name in $names; do
      for s in common store bridge; do
        if grep -qE "^[A-Za-z_][A-Za-z0-9_ *]*[ *]$name\([^;]*\)? *\{?$|^[A-Za-z_][A-Za-z0-9_ *]*[ *]$name\([^;]*,$" src/$s/*.c 2>/dev/null; then
          sides="$sides $s"
        fi
      done
    done
    sides=$(echo "$sides" | tr ' ' '\n' | sed '/^$/d' | sort -u)
    if [ "$(echo "$sides" | sed '/^$/d' | wc -l)" -eq 1 ]; then echo "$sides"; return; fi
  fi
  # Only one side includes it.
  sides=""
  for s in common store bridge; do
    if grep -qF "#include \"$inc\"" src/$s/*.c 2>/dev/null; then sides="$sides $s"; fi
  done
  sides=$(echo "$sides" | tr ' ' '\n' | sed '/^$/d' | sort -u)
  if [ "$(echo "$sides" | sed '/^$/d' | wc -l)" -eq 1 ]; then echo "$sides"; return; fi
  echo unknown
}

violations=0
unknown=0
# One grep over the tree: "file:line:#include "versync/x.h"".
while IFS= read -r hit; do
  f=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
  inc=${rest#*\"}; inc=${inc%%\"*}
  side_of_file "$f"; from=$SIDE
  case "$from" in other | unknown) continue ;; esac
  header_side "$inc"; to=$SIDE
  case "$to" in
    unknown)
      echo "$f:$line: cannot tell whether \"$inc\" is common, store or bridge (name it store_*/bridge_* or move it under include/versync/<side>/)"
      unknown=$((unknown + 1))
      continue ;;
    common) continue ;;
  esac
  [ "$from" = "$to" ] && continue
  echo "$f:$line: $from file includes $to header \"$inc\""
  violations=$((violations + 1))
done < <(grep -rnE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]+"versync/[^"]+"' src include | sort -t: -k1,1 -k2,2n)

if [ "${LAYERING_VERBOSE:-0}" = 1 ]; then
  for inc in "${!SIDE_OF[@]}"; do echo "side: $inc ${SIDE_OF[$inc]}"; done | sort
fi
if [ "$violations" -gt 0 ]; then
  echo "layering: $violations violation(s)"
  exit 1
fi
if [ "$unknown" -gt 0 ]; then
  echo "layering: $unknown header(s) of unknown side"
  exit 2
fi
exit 0
