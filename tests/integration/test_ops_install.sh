#!/usr/bin/env bash
# make install: the DESTDIR layout (binaries, man pages from --help, systemd
# units, example config and crontab), units that pass systemd-analyze verify
# with ExecStart pointing at the installed binaries, the hardening and
# readiness settings the units promise, and a crontab whose jobs are well formed.
. "$(dirname "$0")/lib.sh"
cd "$VS_ROOT" || exit 1

# skip DESC WHY — a TAP case that could not run here, counted as passing.
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# ---- DESTDIR staging with the default PREFIX ----------------------------------

dest=$T_DIR/dest
T_LOGS+=("$T_DIR/install.log")
if ! make -s --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" >"$T_DIR/install.log" 2>&1; then
  not_ok "make install DESTDIR=… succeeds"
  done_testing
  exit 1
fi
ok "make install DESTDIR=… succeeds"
p=$dest/usr/local
for b in versync verstore; do
  assert_eq "bin/$b installed, mode 755" "755" "$(stat -c %a "$p/bin/$b" 2>/dev/null)"
  check "bin/$b is the built binary" cmp -s "$VS_BUILD/$b" "$p/bin/$b"
  man=$p/share/man/man1/$b.1
  assert_match "man1/$b.1 is a man page for $b" "^\\.TH ${b^^} 1 " "$(head -1 "$man" 2>/dev/null)"
  first=$("$VS_BUILD/$b" --help 2>/dev/null | head -1)
  [ -n "$first" ] || first=$("$VS_BUILD/$b" --help 2>&1 | head -1)
  # digits aside: a pid or a date in the text may differ from run to run
  check "man1/$b.1 carries the --help text" sh -c 'tr -d 0-9 <"$2" | grep -qF -- "$1"' - "$(printf '%s' "$first" | tr -d 0-9)" "$man"
done
for u in verstore.service versync.service versync@.service; do
  assert_eq "unit $u installed, mode 644" "644" "$(stat -c %a "$p/lib/systemd/system/$u" 2>/dev/null)"
done
assert_eq "ExecStart names the installed versync" \
  "ExecStart=/usr/local/bin/versync -c /etc/versync/versync.json run" \
  "$(grep '^ExecStart=' "$p/lib/systemd/system/versync.service")"
check "crontab example installed" test -f "$p/share/versync/versync.cron"
for f in config/*.json; do
  [ -f "$f" ] || continue
  installed=$p/share/versync/$(basename "$f")
  check "example config $(basename "$f") installed" cmp -s "$f" "$installed"
  # It must be a config versync accepts, once its ${VARS} are set.
  vars=()
  for v in $(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' "$f" | tr -d '${}' | sort -u); do vars+=("$v=x"); done
  if [ -x "$VS_BUILD/itest/cfg_check" ]; then
    check "installed $(basename "$f") passes versync's config loader" \
      env ${vars[@]+"${vars[@]}"} "$VS_BUILD/itest/cfg_check" "$installed"
  else
    not_ok "cfg_check helper built (make BUILD=$BUILD unit-bins)"
  fi
done
leftover=$(cd "$dest" && find . -mindepth 1 -not -path './usr' -not -path './usr/local' -not -path './usr/local/*')
assert_eq "nothing is written outside PREFIX (no /etc, no /var)" "" "$leftover"

# ---- a real PREFIX: the units must verify against the installed files ----------

prefix=$T_DIR/prefix
if make -s --no-print-directory BUILD="$BUILD" install PREFIX="$prefix" >>"$T_DIR/install.log" 2>&1; then
  ok "make install PREFIX=… succeeds"
else
  not_ok "make install PREFIX=… succeeds"
fi
units=$prefix/lib/systemd/system
assert_eq "ExecStart follows PREFIX" "ExecStart=$prefix/bin/versync -c /etc/versync/%i.json run" \
  "$(grep '^ExecStart=' "$units/versync@.service")"
check "installed versync runs (--help)" sh -c '"$1" --help >/dev/null' - "$prefix/bin/versync"

# Each unit promises: readiness by notify, a restart on failure but not on a
# config error, no root, a read-only system, and a state directory.
for u in verstore.service versync.service versync@.service; do
  missing=""
  for want in Type=notify Restart=on-failure RestartPreventExitStatus=2 DynamicUser=yes ProtectSystem=strict \
              NoNewPrivileges=yes StateDirectory= ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
              WantedBy=multi-user.target; do
    grep -q "^$want" "$units/$u" || missing="$missing $want"
  done
  assert_eq "$u: notify, restart and hardening settings present" "" "$missing"
done

if command -v systemd-analyze >/dev/null 2>&1; then
  # An instance of the template is verified too, so %i expands as it will.
  ln -s versync@.service "$units/versync@demo.service"
  man_opt=()
  command -v man >/dev/null 2>&1 || man_opt=(--man=no)
  # verify exits 0 even for unknown keys and bad values; any output is a failure.
  out=$(MANPATH=$prefix/share/man systemd-analyze "${man_opt[@]}" verify \
        "$units/verstore.service" "$units/versync.service" "$units/versync@.service" \
        "$units/versync@demo.service" 2>&1); rc=$?
  assert_eq "systemd-analyze verify: the units pass, with no warning" "0:" "$rc:$out"
else
  skip "systemd-analyze verify passes the units" "systemd-analyze not installed"
fi

# ---- the crontab ---------------------------------------------------------------

cron=$prefix/share/versync/versync.cron
jobs=$(grep -Ev '^[[:space:]]*(#|$)|^[A-Z_]+=' "$cron")
assert_eq "crontab has two jobs (once every few minutes, nightly verify)" 2 "$(printf '%s\n' "$jobs" | wc -l)"
bad=""
while read -r m h dom mon dow user cmd; do
  for field in "$m" "$h" "$dom" "$mon" "$dow"; do
    [[ "$field" =~ ^[0-9*/,-]+$ ]] || bad="$bad bad-time-field($field)"
  done
  [ "$user" = versync ] || bad="$bad user($user)"
  [[ "$cmd" == *%* ]] && bad="$bad percent-sign" # cron would cut the line at %
  # the versync path in every job is the installed binary
  vs=$(printf '%s\n' "$cmd" | grep -o '[^ ]*/bin/versync' | head -1)
  [ "$vs" = "$prefix/bin/versync" ] || bad="$bad versync-path($vs)"
done <<<"$jobs"
assert_eq "crontab jobs: five time fields, the user, the installed versync" "" "$bad"
check "once runs under flock -n with a distinct conflict exit code" grep -qE 'flock -n -E 75 .* once$' "$cron"
check "this flock understands -E (util-linux)" sh -c 'flock --help | grep -q -- "--conflict-exit-code"'
check "verify job reports a failure so cron mails it" grep -qE ' verify \|\| echo ' "$cron"

done_testing
