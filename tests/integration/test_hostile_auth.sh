#!/usr/bin/env bash
# verstore against a hostile client, authentication side (issue 19 item 13):
# a users-file hash this system cannot use is refused at start with its line
# number; a wrong password and an unknown user answer alike; 40 connections
# guessing passwords do not starve requests with valid credentials (their
# latency stays within a bound computed from a baseline and from the cost of
# one password check, measured here, never a fixed timing); the guessing
# address gets 429s once its budget of failures is spent, while cached valid
# credentials from the same address still pass. Loopback only; every curl is
# bounded (--max-time) and the guessing clients are killed by PID.
. "$(dirname "$0")/lib.sh"

yhash=$(printf 'pw\n' | "$VERSTORE" --hash-password)
shash=$(perl -e 'print crypt("pw2", q($6$) . "hostilesalt1234" . q($))')
assert_match "a SHA-512 hash for the mixed-scheme file" '^\$6\$' "$shash"
printf 'alice:%s\nbob:%s\n' "$yhash" "$shash" >"$T_DIR/users"

# ---- unusable hashes are refused at start -------------------------------------
printf 'alice:%s\n# note\ncarol:$y$j9T$abc$def\n' "$yhash" >"$T_DIR/bad-users"
out=$(timeout 30 "$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/bad" --users "$T_DIR/bad-users" 2>&1); rc=$?
assert_eq "a users file with an unusable hash: verstore refuses to start" 2 "$rc"
assert_match "  ... naming the file, the line and the user" "bad-users:3: the hash of 'carol' cannot be used" "$out"
printf 'alice:%s\ndave:%s\n' "$yhash" "${shash:0:30}" >"$T_DIR/bad-users2"
out=$(timeout 30 "$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/bad" --users "$T_DIR/bad-users2" 2>&1)
assert_match "a hash cut short is refused too" "bad-users2:2: the hash of 'dave' cannot be used" "$out"

# ---- start ------------------------------------------------------------------------
STORE_LOG=$T_DIR/verstore.log
"$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/store" --users "$T_DIR/users" >>"$STORE_LOG" 2>&1 &
STORE_PID=$!
T_LOGS+=("$STORE_LOG")
check "verstore starts with a mixed-scheme users file" wait_until 30 grep -q "verstore listening on" "$STORE_LOG" || {
  done_testing; exit 1; }
STORE_URL=$(grep -o 'verstore listening on [^ ]*' "$STORE_LOG" | tail -1 | sed 's/.* //')

code() { curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$@"; }
assert_eq "alice (yescrypt) logs in" 200 "$(code -u alice:pw "$STORE_URL/")"
assert_eq "bob (SHA-512) logs in" 200 "$(code -u bob:pw2 "$STORE_URL/")"
assert_eq "bob with a wrong password: 401" 401 "$(code -u bob:nope "$STORE_URL/")"
assert_eq "an unknown user: 401, as a wrong password" 401 "$(code -u nobody:nope "$STORE_URL/")"

# secs N — the time of each of N keep-alive GET / as alice (cached
# credentials), one per line, in seconds.
secs() {
  local urls=() i
  for ((i = 0; i < $1; i++)); do urls+=("$STORE_URL/"); done
  curl -s --max-time 120 -u alice:pw -w '\nT %{time_total}\n' "${urls[@]}" | awk '/^T /{print $2}'
}
# pct P — the P-th percentile of the numbers on stdin.
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END{i=int((NR*p+99)/100); if(i<1)i=1; print v[i]}'; }

base=$(secs 100)
base_med=$(pct 50 <<<"$base"); base_p99=$(pct 99 <<<"$base")
# the cost of one uncached password check (alice with a wrong password: one
# verification per scheme in the file), the unit of the bound below
H=$(for i in 1 2 3; do curl -s --max-time 30 -o /dev/null -w '%{time_total}\n' -u alice:nope "$STORE_URL/"; done | pct 50)
ok "baseline: median ${base_med}s, p99 ${base_p99}s; one password check ${H}s"

# ---- 40 guessing connections -------------------------------------------------------
pids=()
for ((c = 0; c < 40; c++)); do
  urls=()
  for ((i = 0; i < 150; i++)); do urls+=("$STORE_URL/"); done
  curl -s --max-time 60 --rate 5/s -N -u "guess$c:wrong$c" -o /dev/null -w '%{http_code}\n' "${urls[@]}" \
    >"$T_DIR/attack.$c" 2>/dev/null &
  pids+=($!)
  T_PIDS+=($!)
done
answered_ge() { [ "$(cat "$T_DIR"/attack.* 2>/dev/null | wc -l)" -ge "$1" ]; }
check "the guessing clients get answers" wait_until 60 answered_ge 80
under=$(secs 100)
med=$(pct 50 <<<"$under"); p99=$(pct 99 <<<"$under")
still=$(for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && echo x; done | wc -l)
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
ok "under attack ($still of 40 guessing clients still running at the end): median ${med}s, p99 ${p99}s"
check "the attack lasted the whole measurement" test "$still" -ge 20
check "median of valid requests under attack < baseline median + one password check" \
  awk -v m="$med" -v b="$base_med" -v h="$H" 'BEGIN{exit !(m < b + h)}'
check "p99 of valid requests under attack < baseline p99 + 6 password checks" \
  awk -v m="$p99" -v b="$base_p99" -v h="$H" 'BEGIN{exit !(m < b + 6 * h)}'
assert_match "the guessing address was throttled with 429" '429' "$(sort -u "$T_DIR"/attack.* | tr '\n' ' ')"
assert_eq "cached valid credentials from that address still pass" 200 "$(code -u alice:pw "$STORE_URL/")"
bob_in() { [ "$(code -u bob:pw2 "$STORE_URL/")" = 200 ]; }
check "once the budget refills, a new valid login from that address works" wait_until 30 bob_in

done_testing
