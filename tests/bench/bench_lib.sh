# bench_lib.sh — number formatting and summaries shared by run.sh and search.sh (source it).

# median — of the numbers on stdin (one a line); "failed" when there are none.
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "failed"; else if (NR % 2) print a[(NR+1)/2];
                                 else printf "%.6g\n", (a[NR/2] + a[NR/2+1]) / 2}'
}
now() { date +%s.%N; }
# fmt N — thousands with a thin space as the README does (1 234 567); "failed" stays.
fmt() {
  [[ "${1:-}" =~ ^[0-9.]+$ ]] || { echo "${1:-failed}"; return; }
  awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); o = ""
    while (length(s) > 3) { o = " " substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'
}
# ms X [DECIMALS] — milliseconds with one decimal (or DECIMALS); "failed" stays.
ms() { [[ "${1:-}" =~ ^[0-9.]+$ ]] && printf "%.${2:-1}f" "$1" || echo "${1:-failed}"; }
mb() { [[ "$1" =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN{printf "%.1f MB", k/1024}' || echo "${1:-failed}"; }
# goal VALUE OP LIMIT — "met" / "missed" (numeric comparison), "failed" when VALUE is not a number.
goal() {
  [[ "$1" =~ ^-?[0-9.]+$ ]] || { echo failed; return; }
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? v >= l : v <= l; print ok ? "met" : "missed" }'
}
