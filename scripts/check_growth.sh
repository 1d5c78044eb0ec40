#!/usr/bin/env bash
# check_growth.sh [ROOT] — heap arrays grow through common/grow.c (GROW_ARRAY,
# grow_array, grow_mul), whose sizes are overflow-checked, never through a
# hand-written doubling (`cap ? cap * 2 : 16`, `cap *= 2`) or a calloc whose
# count is multiplied before calloc can check it (`calloc(a * b, size)`).
# Prints one line per site, naming file and line, and exits 1 when there is
# any. buf.c checks its own doubling and timing.c doubles a back-off delay,
# not a size: both are exempt.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
EXEMPT='^src/common/(grow|buf|timing)\.c:'
out=$(grep -rnE --include='*.c' --include='*.h' \
        -e '[-A-Za-z_>.)]*cap[A-Za-z_]* \? [-A-Za-z_>.()]+ \* 2 :' \
        -e '[-A-Za-z_>.]*cap[A-Za-z_]* \*= 2' \
        -e '[^_a-z]calloc\([^,()]+ \* [^,()]+,' \
        src include | grep -vE "$EXEMPT")
if [ -n "$out" ]; then
  printf '%s\n' "$out" | sed -E 's/^([^:]+:[0-9]+):\s*(.*)$/\1: hand-written growth (use GROW_ARRAY or grow_mul from versync\/grow.h): \2/'
  exit 1
fi
exit 0
