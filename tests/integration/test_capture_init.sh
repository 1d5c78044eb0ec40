#!/usr/bin/env bash
# versync init against a real PostgreSQL: --dry-run changes nothing, init creates the schema
# and triggers and sets the change table's autovacuum (unless its owner did), a second init is a no-op, config edits converge (replace, drop), TRUNCATE
# marks the table for resync, status reports backlog (text and --json), and a store that
# is down fails init after the PostgreSQL part is committed.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.products (id int primary key, name text, price numeric, secret text);
     create table public.old (id int primary key, v text);"

write_cfg() { # write_cfg EXTRA_TABLE_KEYS_FOR_PRODUCTS [SECOND_TABLE_JSON]
  cat >"$T_DIR/v.json" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "http://127.0.0.1:9"},
  "tables": [ {"table": "public.products"$1}${2:+, $2} ] }
EOF
}
vs() { "$VERSYNC" -c "$T_DIR/v.json" "$@"; }
trigger_oids() { sql "select string_agg(oid::text || tgname, ',' order by tgname) from pg_trigger where tgrelid = 'public.products'::regclass"; }

write_cfg "" '{"table": "public.old"}'

out=$(vs init --dry-run --no-store); rc=$?
assert_eq "init --dry-run exits 0" 0 "$rc"
assert_match "--dry-run prints the CREATE SCHEMA" 'CREATE SCHEMA IF NOT EXISTS "versync"' "$out"
assert_match "--dry-run prints the CREATE TRIGGER" 'CREATE TRIGGER versync_capture AFTER INSERT OR UPDATE OR DELETE ON "public"."products"' "$out"
assert_eq "--dry-run changed nothing" "0" "$(sql "select count(*) from pg_namespace where nspname = 'versync'")"

out=$(vs init --no-store); rc=$?
assert_eq "init exits 0" 0 "$rc"
assert_match "init reports the schema" 'created schema "versync"' "$out"
assert_match "init reports the functions" 'installed the trigger functions' "$out"
assert_match "init reports the triggers on products" 'created triggers on public.products' "$out"
assert_match "init reports the triggers on old" 'created triggers on public.old' "$out"
assert_match "init reports the change table's autovacuum" 'set autovacuum on "versync".changes' "$out"
assert_eq "the change table is vacuumed as a queue: fixed threshold, unthrottled" \
  "{autovacuum_vacuum_scale_factor=0,autovacuum_vacuum_threshold=10000,autovacuum_vacuum_cost_delay=0}" \
  "$(sql "select reloptions from pg_class where oid = 'versync.changes'::regclass")"
assert_eq "capture, notify and truncate triggers exist" "versync_capture,versync_notify,versync_truncate" \
  "$(sql "select string_agg(tgname, ',' order by tgname) from pg_trigger where tgrelid = 'public.products'::regclass")"
assert_eq "schema version recorded" "1" "$(sql "select value from versync.meta where key = 'schema_version'")"
assert_eq "mapped tables recorded" "public.old=old,public.products=products" \
  "$(sql "select string_agg(tbl || '=' || index_name, ',' order by tbl) from versync.tables")"

before=$(trigger_oids)
out=$(vs init --no-store); rc=$?
assert_eq "second init exits 0" 0 "$rc"
assert_eq "second init has nothing to change" "nothing to change" "$out"
assert_eq "second init left the triggers alone" "$before" "$(trigger_oids)"
out=$(vs init --dry-run --no-store)
assert_eq "--dry-run on a converged database" "-- PostgreSQL: nothing to change" "$out"

# An owner's own autovacuum setting on the change table is theirs: init leaves it alone.
sql "alter table versync.changes reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
       autovacuum_vacuum_cost_delay); alter table versync.changes set (autovacuum_vacuum_threshold = 500)"
assert_eq "init leaves an owner's autovacuum setting alone" "nothing to change" "$(vs init --no-store)"
assert_eq "which is still theirs" "{autovacuum_vacuum_threshold=500}" \
  "$(sql "select reloptions from pg_class where oid = 'versync.changes'::regclass")"
sql "alter table versync.changes reset (autovacuum_vacuum_threshold)"
assert_match "with none, init sets versync's again" 'set autovacuum on "versync".changes' "$(vs init --no-store)"
assert_match "and it is set" "autovacuum_vacuum_threshold=10000" \
  "$(sql "select reloptions from pg_class where oid = 'versync.changes'::regclass")"

# Editing the mapping replaces the triggers of that table only.
old_oids=$(sql "select string_agg(oid::text, ',') from pg_trigger where tgrelid = 'public.old'::regclass")
write_cfg ', "exclude": ["secret"]' '{"table": "public.old"}'
out=$(vs init --no-store); rc=$?
assert_eq "init after a config edit exits 0" 0 "$rc"
assert_eq "it replaced the products triggers and nothing else" \
  "replaced triggers on public.products (their definition changed)" "$out"
check "the triggers really were recreated" test "$before" != "$(trigger_oids)"
assert_eq "the other table's triggers are untouched" "$old_oids" \
  "$(sql "select string_agg(oid::text, ',') from pg_trigger where tgrelid = 'public.old'::regclass")"
sql "update products set secret = 's'" # no rows, but the statement must work
sql "insert into products values (1, 'a', 1, 's')"
sql "update products set secret = 't' where id = 1"
assert_eq "an update of an excluded column records nothing" "I" "$(sql "select string_agg(op::text, ',' order by seq) from versync.changes")"

# A triggers someone dropped by hand come back.
sql "drop trigger versync_notify on public.products"
out=$(vs init --no-store)
assert_eq "init restores a trigger dropped by hand" "replaced triggers on public.products (their definition changed)" "$out"

# Removing a table from the config drops its triggers.
write_cfg ', "exclude": ["secret"]'
out=$(vs init --no-store); rc=$?
assert_eq "init after removing a table exits 0" 0 "$rc"
assert_eq "it dropped the removed table's triggers" "dropped triggers on public.old (no longer in the config)" "$out"
assert_eq "no versync trigger is left on public.old" "0" "$(sql "select count(*) from pg_trigger where tgrelid = 'public.old'::regclass")"
assert_eq "public.old is no longer registered" "public.products" "$(sql "select string_agg(tbl, ',') from versync.tables")"
assert_eq "and a further init is a no-op" "nothing to change" "$(vs init --no-store)"

# A schema dropped by hand is recreated, table by table.
sql "drop table versync.dead_letters"
out=$(vs init --no-store)
assert_match "init recreates a missing table" 'created the missing tables \{dead_letters\}' "$out"

# status
out=$(vs status); rc=$?
assert_eq "status exits 0" 0 "$rc"
assert_match "status lists the table with its backlog" 'public\.products +products +1 ' "$out"
json=$(vs status --json); rc=$?
assert_eq "status --json exits 0" 0 "$rc"
assert_eq "status --json: backlog" "1" "$(printf '%s' "$json" | jq '.tables[0].backlog')"
assert_eq "status --json: dead letters" "0" "$(printf '%s' "$json" | jq '.tables[0].dead_letters')"
assert_eq "status --json: oldest age is a number" "number" "$(printf '%s' "$json" | jq -r '.tables[0].oldest_age_ms | type')"
assert_eq "status --json: no resync needed" "false" "$(printf '%s' "$json" | jq '.tables[0].needs_resync')"
assert_eq "status --json: worker counters" "0" "$(printf '%s' "$json" | jq '.workers.applied')"
sql "insert into versync.dead_letters (seq, tbl, key, op, changed_at, error) values (99, 'public.products', '{9}', 'I', now(), 'mapper_parsing_exception')"

# TRUNCATE is recorded and flags the table.
sql "truncate public.products"
assert_eq "truncate records one T change" "T|" "$(sql "select op, key from versync.changes where op = 'T'")"
json=$(vs status --json)
assert_eq "status shows the table needs a resync" "true" "$(printf '%s' "$json" | jq '.tables[0].needs_resync')"
assert_eq "status counts the dead letter" "1" "$(printf '%s' "$json" | jq '.tables[0].dead_letters')"
assert_match "text status says the workers apply it" 'truncated \(the workers apply it from the backlog\)' "$(vs status)"

# A store that is down: the PostgreSQL part is committed, init says so and exits 3 (unreachable).
write_cfg ', "exclude": ["secret", "price"]'
out=$(vs init 2>"$T_DIR/err"); rc=$?
assert_eq "init with the store down exits 3" 3 "$rc"
assert_match "it names the unreachable store" 'store at http://127.0.0.1:9 is unreachable' "$(cat "$T_DIR/err")"
assert_match "it says the PostgreSQL part is committed" 'PostgreSQL part of init is committed' "$(cat "$T_DIR/err")"
assert_eq "and that part really is" "nothing to change" "$(vs init --no-store)"

# Status before init is a clear failure.
sql "set client_min_messages = warning; drop schema versync cascade"
vs status >/dev/null 2>"$T_DIR/err"; rc=$?
assert_eq "status before init exits 2 (not set up)" 2 "$rc"
assert_match "and says to run init" 'run versync init' "$(cat "$T_DIR/err")"
assert_eq "init converges again after the schema was dropped" 0 "$(vs init --no-store >/dev/null; echo $?)"
assert_eq "with the triggers restored" "3" "$(sql "select count(*) from pg_trigger where tgrelid = 'public.products'::regclass")"

# A schema and channel that need quoting.
sql "create table public.other (id int primary key)"
cat >"$T_DIR/q.json" <<EOF
{ "postgres": "$PG_CONNINFO", "schema": "My \"Sync\"", "channel": "my chan",
  "tables": [ {"table": "public.other"} ] }
EOF
out=$("$VERSYNC" -c "$T_DIR/q.json" init --no-store); rc=$?
assert_eq "init into a schema whose name needs quoting exits 0" 0 "$rc"
assert_match "and names it quoted" 'created schema "My ""Sync"""' "$out"
out=$(psql -X -c 'LISTEN "my chan"' -c "insert into public.other values (1)" 2>&1)
assert_match "its trigger notifies the configured channel" 'notification "my chan" with payload "public.other"' "$out"
assert_eq "and writes to that schema's change table" "public.other|{1}|I" \
  "$(sql 'select tbl, key, op from "My ""Sync""".changes')"
assert_eq "a second init there is a no-op" "nothing to change" "$("$VERSYNC" -c "$T_DIR/q.json" init --no-store)"
assert_eq "status reads that schema" "1" "$("$VERSYNC" -c "$T_DIR/q.json" status --json | jq '.tables[0].backlog')"

done_testing
