#!/usr/bin/env bash
# versync check (and init/status) against a real catalog: a valid config passes and changes
# nothing; each kind of error names the file and the JSON path and exits 2; a database that
# cannot be reached is reported without its password and exits 3; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.products (id int primary key, name text, ver text, stamp date, version bigint,
                                   updated_at timestamptz);
     create table public.nokey (a int, b text);
     create view public.pview as select * from public.products;"
F=$T_DIR/v.json

# cfg TABLES_JSON — write a config mapping TABLES_JSON (the inside of "tables": [ … ]).
cfg() {
  cat >"$F" <<EOF
{ "postgres": "$PG_CONNINFO",
  "tables": [ $1 ] }
EOF
}

# rejects DESC EXPECTED_MESSAGE_REGEX TABLES_JSON — check exits 2 (config error) and says EXPECTED on stderr.
rejects() {
  cfg "$3"
  local err rc
  err=$("$VERSYNC" -c "$F" check 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 2 ] && [[ "$err" == *"$F: $2"* ]]; then ok "$1"; else
    not_ok "$1"
    printf '#   exit %s, stderr: %s\n#   wanted: %s\n' "$rc" "$err" "$F: $2"
  fi
}

cfg '{"table": "public.products", "version": {"column": "version"}, "exclude": ["ver"], "rename": {"name": "title"}}'
out=$("$VERSYNC" -c "$F" check); rc=$?
assert_eq "check passes a valid config" 0 "$rc"
assert_match "check summarises the table" 'public\.products -> index "products": key \(id\), 5 of 6 columns, version: column version' "$out"
assert_eq "check changes nothing" "0" "$(sql "select count(*) from pg_namespace where nspname = 'versync'")"
VERSYNC_CONFIG=$F "$VERSYNC" check >/dev/null
assert_eq "the config is found through \$VERSYNC_CONFIG" 0 "$?"
(cd "$T_DIR" && "$VERSYNC" check >/dev/null 2>&1)
assert_eq "and as ./versync.json (absent: a config error, 2)" 2 "$?"
cp "$F" "$T_DIR/versync.json"
(cd "$T_DIR" && "$VERSYNC" check >/dev/null)
assert_eq "which is used when present" 0 "$?"

# The shipped example is a valid config (given its tables and its password variable).
sql "create table public.orders (id int primary key, updated_at timestamptz, customer_id int);
     create table public.customers (id int primary key, name text);
     create table public.order_lines (order_id int, product_id int, primary key (order_id, product_id));
     alter table public.products add column price numeric, add column secret text, add column deleted_at timestamptz"
sed "s|postgresql://app@localhost/app|$PG_CONNINFO|" "$VS_ROOT/config/versync.example.json" >"$T_DIR/example.json"
out=$(ES_PASSWORD=x "$VERSYNC" -c "$T_DIR/example.json" check 2>&1); rc=$?
assert_eq "config/versync.example.json passes check" 0 "$rc" || echo "$out" | sed 's/^/# /'

# A key whose text depends on session settings is allowed, with a note.
sql "create table public.events (at timestamptz primary key)"
cfg '{"table": "public.events"}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a timestamptz key passes check" 0 "$rc"
assert_match "with a note about session settings" 'note: key column "at" of public.events is timestamp with time zone: its text \(the document id\) depends on session settings' "$out"

rejects "unknown key" 'tables[0].verison: unknown key' '{"table": "public.products", "verison": {}}'
rejects "missing table" 'tables[0].table: table public.nope does not exist' '{"table": "public.nope"}'
rejects "a view is not a table" 'tables[0].table: public.pview is a view; a view cannot be captured' \
  '{"table": "public.pview", "key": ["id"]}'
rejects "no primary key and no key" 'tables[0].key: public.nokey has no primary key' '{"table": "public.nokey"}'
rejects "key column missing" 'tables[0].key[1]: column "c" does not exist in public.nokey' \
  '{"table": "public.nokey", "key": ["a", "c"]}'
rejects "key without a unique index" 'tables[0].key: (a) is not backed by a primary key or unique index of public.nokey' \
  '{"table": "public.nokey", "key": ["a"]}'
sql "create unique index nokey_a on public.nokey (a)"
rejects "version column missing" 'tables[1].version.column: column "vers" does not exist in public.products' \
  '{"table": "public.nokey", "key": ["a"]}, {"table": "public.products", "version": {"column": "vers"}}'
rejects "version column not an integer" 'tables[0].version.column: column "ver" of public.products is text, not an integer type' \
  '{"table": "public.products", "version": {"column": "ver"}}'
rejects "timestamp column not a timestamp" 'tables[0].version.timestamp: column "stamp" of public.products is date, not a timestamp type' \
  '{"table": "public.products", "version": {"timestamp": "stamp"}}'
rejects "columns entry missing" 'tables[0].columns[1]: column "nmae" does not exist in public.products' \
  '{"table": "public.products", "columns": ["id", "nmae"]}'
rejects "exclude entry missing" 'tables[0].exclude[0]: column "x" does not exist in public.products' \
  '{"table": "public.products", "exclude": ["x"]}'
rejects "soft delete column missing" 'tables[0].soft_delete.column: column "gone" does not exist' \
  '{"table": "public.products", "soft_delete": {"column": "gone"}}'
rejects "rename of a missing column" 'tables[0].rename.x: column "x" does not exist' \
  '{"table": "public.products", "rename": {"x": "y"}}'
rejects "rename of an excluded column" 'tables[0].rename.ver: column "ver" is not in the document' \
  '{"table": "public.products", "exclude": ["ver"], "rename": {"ver": "v"}}'
rejects "rename onto another field" 'tables[0].rename.name: columns "id" and "name" would both be the document field "id"' \
  '{"table": "public.products", "rename": {"name": "id"}}'
rejects "bad index name" 'tables[0].index: "Products" is not a valid index name: must be lowercase' \
  '{"table": "public.products", "index": "Products"}'
rejects "two tables, one index" 'tables[1].index: index "products" is already the index of tables[0]' \
  '{"table": "public.products"}, {"table": "public.nokey", "key": ["a"], "index": "products"}'
rejects "unset environment variable" 'tables[0].index: environment variable VS_NOPE is not set' \
  '{"table": "public.products", "index": "${VS_NOPE}"}'
printf '{\n  "tables": [\n    {"table": "public.products",}\n  ]\n}\n' >"$F"
err=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a JSON syntax error exits 2" 2 "$rc"
assert_match "and gives line:column" "$F: 3:[0-9]+: invalid JSON" "$err"

for cmd in init status; do
  cfg '{"table": "public.products", "verison": {}}'
  err=$("$VERSYNC" -c "$F" $cmd 2>&1); rc=$?
  assert_eq "$cmd exits 2 on a config error" 2 "$rc"
  assert_match "$cmd names the file and path" "$F: tables\[0\]\.verison: unknown key" "$err"
done

err=$("$VERSYNC" -c "$T_DIR/missing.json" check 2>&1); rc=$?
assert_eq "a missing config file exits 2" 2 "$rc"
assert_match "and is named" "$T_DIR/missing.json: cannot open" "$err"

cat >"$F" <<EOF
{ "postgres": "host=$PGHOST port=1 user=postgres password=hunter2 dbname=postgres",
  "tables": [ {"table": "public.products"} ] }
EOF
chmod 600 "$F" # a literal password is refused in a file others can read
err=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "an unreachable database exits 3" 3 "$rc"
assert_match "and is reported" "$F: postgres: cannot connect to PostgreSQL" "$err"
check "without the password" test "${err/hunter2/}" == "$err"

"$VERSYNC" -c "$F" check --bogus 2>/dev/null
assert_eq "an unknown argument is a usage error (2)" 2 "$?"
"$VERSYNC" -c "$F" init --bogus 2>/dev/null
assert_eq "init: unknown argument exits 2" 2 "$?"
"$VERSYNC" -c "$F" status --bogus 2>/dev/null
assert_eq "status: unknown argument exits 2" 2 "$?"

done_testing
