#!/usr/bin/env bash
# One exit-status scheme for every versync command (issue 23, "Exit codes, options, output"):
# 0 ok, 1 drift or work left, 2 usage or configuration error, 3 PostgreSQL or the store
# unreachable; the same in every --help, the man page, the README and the cron file. Also
# --version on both binaries (the git revision), --config=FILE as well as -c FILE, the same
# --workers limit on the command line and in the config, every option of a command in its
# usage line, and options given as --name=VALUE (getopt_long in backfill and verify).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

CMDS="check init status run once backfill verify"

# ---- a missing config: 2 for every command (check/init/status said 1) ----------------------------
for cmd in $CMDS; do
  "$VERSYNC" -c "$T_DIR/missing.json" $cmd >/dev/null 2>"$T_DIR/err"; rc=$?
  assert_eq "$cmd with a missing config exits 2" 2 "$rc"
done
assert_match "and names the file" "$T_DIR/missing.json: cannot open" "$(cat "$T_DIR/err")"

# ---- an unknown option: 2 for every command -----------------------------------------------------
for cmd in $CMDS; do
  "$VERSYNC" -c "$T_DIR/missing.json" $cmd --bogus >/dev/null 2>&1
  assert_eq "$cmd --bogus exits 2" 2 "$?"
done
"$VERSYNC" nosuchcommand >/dev/null 2>&1
assert_eq "an unknown command exits 2" 2 "$?"

# ---- --help: exit 0, the scheme, and every option the command takes in its usage line -----------
for cmd in $CMDS; do
  help=$("$VERSYNC" $cmd --help); rc=$?
  assert_eq "$cmd --help exits 0" 0 "$rc"
  usage_line=$(printf '%s\n' "$help" | sed -n '1,/^$/p')
  body=$(printf '%s\n' "$help" | sed '1,/^$/d')
  missing=""
  for opt in $(printf '%s\n' "$body" | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
    [ "$opt" = "--help" ] && continue
    [[ "$usage_line" == *"$opt"* ]] || missing="$missing $opt"
  done
  assert_eq "$cmd: every option of its help is in its usage line" "" "$missing"
  assert_match "$cmd --help states exit status 2 for a configuration error" '2 (usage|invalid|.*configuration)' "$help"
done
for cmd in check init status once backfill verify; do
  assert_match "$cmd --help states exit status 3 (unreachable)" '3 PostgreSQL( or the store)?( unreachable|$)' \
    "$("$VERSYNC" $cmd --help | tr '\n' ' ')"
done
main_help=$("$VERSYNC" --help)
assert_match "versync --help lists --version" '--version' "$main_help"
assert_match "versync --help gives the scheme" 'exit status: 0 ok; 1 drift found or work left' "$main_help"
assert_match "versync --help: 3 is unreachable" '3 PostgreSQL or the store unreachable' "$main_help"

# ---- the man page, the README and the cron file say the same ---------------------------------------
man=$("$VS_ROOT/scripts/help2man.sh" versync "$VERSYNC" "x")
for code in 0 1 2 3; do
  check "the man page has exit status $code" grep -q "^\\.B $code\$" <<<"$man"
done
assert_match "the man page: 3 is PostgreSQL or the store unreachable" 'unreachable' \
  "$(printf '%s\n' "$man" | sed -n '/^\.B 3$/,/^\.SH/p')"
readme_table=$(sed -n '/^### Exit status/,/^##/p' "$VS_ROOT/README.md")
for code in 0 1 2 3; do
  check "the README's exit status table has $code" grep -qE "^\| $code \|" <<<"$readme_table"
done
cron=$VS_ROOT/config/cron/versync.cron
check "the cron file names exit status 3" grep -qE '^#[[:space:]]+3[[:space:]]' "$cron"

# ---- --version on both binaries, with the git revision ----------------------------------------
if rev=$(git -C "$VS_ROOT" describe --always --dirty 2>/dev/null); then
  assert_eq "versync --version names the git revision" "versync $rev" "$("$VERSYNC" --version)"
  assert_eq "verstore --version names the git revision" "verstore $rev" "$("$VERSTORE" --version)"
else
  assert_match "versync --version" '^versync ' "$("$VERSYNC" --version)"
  assert_match "verstore --version" '^verstore ' "$("$VERSTORE" --version)"
fi
"$VERSYNC" --version >/dev/null
assert_eq "--version exits 0" 0 "$?"

# ---- with a real PostgreSQL ----------------------------------------------------------------------
pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 20) g"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}]'

# --config=FILE as well as -c FILE, before or after the command
"$VERSYNC" --config="$CFG" check >/dev/null 2>&1
assert_eq "--config=FILE is read" 0 "$?"
"$VERSYNC" check --config="$CFG" >/dev/null 2>&1
assert_eq "--config=FILE after the command too" 0 "$?"
"$VERSYNC" --config "$CFG" check >/dev/null 2>&1
assert_eq "--config FILE still works" 0 "$?"

# not initialised: a setup problem (2), for the commands that need the schema
for cmd in status backfill verify; do
  vs $cmd >/dev/null; rc=$?
  assert_eq "$cmd before init exits 2" 2 "$rc"
done
vs init >/dev/null
assert_eq "init exits 0" 0 "$?"
vs backfill --batch=7 >/dev/null
assert_eq "backfill takes --batch=7 (getopt_long)" 0 "$?"
vs verify --sample=5 --batch=3 >/dev/null
assert_eq "verify takes --sample=5 --batch=3" 0 "$?"
out=$(vs backfill --batch 0 2>&1); rc=$?
assert_eq "backfill --batch 0 exits 2" 2 "$rc"

# PostgreSQL unreachable: 3 for every command that needs it (check/init/status said 1, backfill and verify 2)
sed "s|\"postgres\": \"[^\"]*\"|\"postgres\": \"host=127.0.0.1 port=$(free_port) dbname=x connect_timeout=2\"|" \
  "$CFG" >"$T_DIR/nopg.json"
for cmd in check init status backfill verify; do
  "$VERSYNC" -c "$T_DIR/nopg.json" $cmd >/dev/null 2>"$T_DIR/err"; rc=$?
  assert_eq "$cmd with PostgreSQL unreachable exits 3" 3 "$rc"
done
assert_match "and says it cannot connect" 'cannot connect to PostgreSQL' "$(cat "$T_DIR/err")"

# PostgreSQL refusing the credentials is a configuration error (2), not an outage
sed "s|\"postgres\": \"[^\"]*\"|\"postgres\": \"host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=no_such_role\"|" \
  "$CFG" >"$T_DIR/norole.json"
"$VERSYNC" -c "$T_DIR/norole.json" check >/dev/null 2>"$T_DIR/err"; rc=$?
assert_eq "a role PostgreSQL does not know: check exits 2" 2 "$rc"

# the store unreachable: 3 (backfill said 1, verify 2)
sed "s#$STORE_URL#http://127.0.0.1:$(free_port)#" "$CFG" >"$T_DIR/nostore.json"
for cmd in init backfill verify; do
  "$VERSYNC" -c "$T_DIR/nostore.json" $cmd >/dev/null 2>&1; rc=$?
  assert_eq "$cmd with the store unreachable exits 3" 3 "$rc"
done

# drift: 1
curl -s -X DELETE "$STORE_URL/items/_doc/3" >/dev/null
vs verify >/dev/null
assert_eq "verify with drift exits 1" 1 "$?"

# ---- --workers: the same limit on the command line as in the config ------------------------------
"$VERSYNC" -c "$CFG" once --workers 256 --help >/dev/null 2>&1
assert_eq "once --workers 256 is accepted" 0 "$?"
err=$("$VERSYNC" -c "$CFG" once --workers 257 --help 2>&1); rc=$?
assert_eq "once --workers 257 is refused (2), as the config refuses it" 2 "$rc"
assert_match "naming the range" 'from 1 to 256' "$err"
"$VERSYNC" -c "$CFG" run --workers 1000 --help >/dev/null 2>&1
assert_eq "run --workers 1000 is refused" 2 "$?"
sed 's/"poll_interval_ms": 200,/"poll_interval_ms": 200, "workers": 257,/' "$CFG" >"$T_DIR/w257.json"
err=$("$VERSYNC" -c "$T_DIR/w257.json" check 2>&1); rc=$?
assert_eq "\"workers\": 257 in the config is refused (2)" 2 "$rc"
assert_match "with the same range" 'workers.*256' "$err"

done_testing
