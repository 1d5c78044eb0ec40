#!/usr/bin/env bash
# The nightly verify of config/cron/versync.cron, run as cron runs it (sh -c, the line's own
# command with the test's binary and config): silent when the index is in sync, so cron mails
# nothing; loud on drift (the drifted table's report and the exit status), so the mail means
# something. Before, it printed its report every night.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

pg_start || exit 1
verstore_start || exit 1
T_LOGS+=("$T_DIR/versync.log")
sql "create table items (id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 50) g;
     create table other (id int primary key, name text);
     insert into other select g, 'o ' || g from generate_series(1, 5) g"
CFG=$T_DIR/v.json
bf_config "$CFG" '[{"table": "public.items"}, {"table": "public.other"}]'
vs init >/dev/null && vs backfill >/dev/null
assert_eq "set up and copied" 0 "$?"

# The verify job's command: the line without its five time fields and the user field.
line=$(grep -E '^[^#].* verify( |$)' "$VS_ROOT/config/cron/versync.cron")
cmd=$(printf '%s\n' "$line" | awk '{ for (i = 7; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "") }')
cmd=${cmd//\/usr\/local\/bin\/versync/$VERSYNC}
cmd=${cmd//\/etc\/versync\/versync.json/$CFG}
echo "# $cmd"
check "the cron file has a verify job using the test's binary and config" \
  test -n "$cmd" -a "${cmd/$VERSYNC/}" != "$cmd" -a "${cmd/$CFG/}" != "$cmd"

out=$(sh -c "$cmd" 2>&1); rc=$?
assert_eq "in sync: the job succeeds" 0 "$rc"
assert_eq "in sync: it prints nothing (cron mails nothing)" "" "$out"

curl -s -X DELETE "$STORE_URL/items/_doc/7" >/dev/null
out=$(sh -c "$cmd" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
assert_match "drift: the report names the drifted table" 'public.items -> items: .*1 missing' "$out"
assert_match "and the missing document" 'missing +7' "$out"
assert_match "and the exit status with its meaning" 'exit status 1 \(1 = drift found' "$out"
check "a table in sync is not in the mail" bash -c "! grep -q 'public.other' <<<\"\$1\"" _ "$out"

done_testing
