#!/usr/bin/env bash
# check_layering.sh [ROOT] — dependencies point one way. Every header lives in
# include/versync/<side>/ with side common, store or bridge, and its folder is
# its side: src/common and include/versync/common include only common headers;
# src/store and include/versync/store never include a bridge header; src/bridge
# and include/versync/bridge never include a store header.
# Prints one line per violation, naming the file, line and header; exits 1 when
# there is any, 2 when a header is not in a side's folder (or is missing).
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2

# side_of_file PATH — the side a source or header file belongs to.
side_of_file() {
  case "$1" in
    src/common/* | include/versync/common/*) echo common ;;
    src/store/* | include/versync/store/*) echo store ;;
    src/bridge/* | include/versync/bridge/*) echo bridge ;;
    *) echo other ;;
  esac
}

violations=0
misplaced=0
# A header outside the side folders has no side: refuse it by name.
for h in include/versync/*.h include/versync/*/*.h; do
  [ -e "$h" ] || continue
  case "$h" in
    include/versync/common/*.h | include/versync/store/*.h | include/versync/bridge/*.h) ;;
    *) echo "$h: not under include/versync/{common,store,bridge}/ (move it to its side's folder)"
       misplaced=$((misplaced + 1)) ;;
  esac
done

# One grep over the tree: "file:line:#include "versync/x.h"".
while IFS= read -r hit; do
  f=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
  inc=${rest#*\"}; inc=${inc%%\"*}
  from=$(side_of_file "$f")
  [ "$from" = other ] && continue
  case "$inc" in
    versync/common/* | versync/store/* | versync/bridge/*)
      to=${inc#versync/}; to=${to%%/*} ;;
    *) echo "$f:$line: \"$inc\" is not under versync/{common,store,bridge}/"
       misplaced=$((misplaced + 1)); continue ;;
  esac
  if [ ! -f "include/$inc" ]; then
    echo "$f:$line: \"$inc\" does not exist"
    misplaced=$((misplaced + 1)); continue
  fi
  [ "$to" = common ] && continue
  [ "$from" = "$to" ] && continue
  echo "$f:$line: $from file includes $to header \"$inc\""
  violations=$((violations + 1))
done < <(grep -rnE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]+"versync/[^"]+"' src include | sort -t: -k1,1 -k2,2n)

if [ "$violations" -gt 0 ]; then
  echo "layering: $violations violation(s)"
  exit 1
fi
if [ "$misplaced" -gt 0 ]; then
  echo "layering: $misplaced header(s) outside a side's folder"
  exit 2
fi
exit 0
