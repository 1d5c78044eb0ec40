#!/usr/bin/env bash
# Config files with every kind of mistake (issue 11, "Bad input"): each one makes
# `versync check` exit 2 (configuration error) with one message that names the file and the JSON path
# (or line:column for syntax) and says what is wrong. Covers the file itself,
# JSON syntax, unknown keys, wrong types and ranges, missing required keys, table
# and index names, ${VAR} references, version specs, and — against a real
# PostgreSQL — tables and columns that do not exist.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.t (id int primary key, name text, v bigint, ts timestamptz, d date, gone timestamptz);
     create table public.u (id int primary key)"
F=$T_DIR/bad.json
OKT='"tables": [{"table": "public.t"}]'

# rejects DESC MESSAGE TEXT — a config of TEXT (printf %s; use $'…' for bytes) makes
# check exit 2 and print "FILE: MESSAGE" (MESSAGE is matched literally).
rejects() {
  printf '%s' "$3" >"$F"
  local err rc
  err=$("$VERSYNC" -c "$F" check 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 2 ] && [[ "$err" == *"$F: $2"* ]]; then ok "$1"; else
    not_ok "$1"
    printf '#   exit %s, stderr: %s\n#   wanted: exit 2 and %s\n' "$rc" "$(printf '%s' "$err" | head -c 600)" "$F: $2"
  fi
}
# rejects_re DESC REGEX TEXT — the same with a regex after "FILE: ".
rejects_re() {
  printf '%s' "$3" >"$F"
  local err rc LC_ALL=C # match bytes: messages may quote invalid UTF-8
  err=$("$VERSYNC" -c "$F" check 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 2 ] && [[ "$err" =~ $(printf '%q' "$F")": "$2 ]]; then ok "$1"; else
    not_ok "$1"
    printf '#   exit %s, stderr: %s\n#   wanted: exit 2 and %s: %s\n' "$rc" "$(printf '%s' "$err" | head -c 600)" "$F" "$2"
  fi
}
# cfg_of JSON_MEMBERS — a config with a working postgres and the given members.
cfg_of() { printf '{"postgres": "%s", %s}' "$PG_CONNINFO" "$1"; }

printf '%s' "$(cfg_of "$OKT")" >"$F"
"$VERSYNC" -c "$F" check >/dev/null 2>&1
assert_eq "the base config passes (so each failure below is the mistake's)" 0 "$?"

# ---- the file ---------------------------------------------------------------------
err=$("$VERSYNC" -c "$T_DIR/nope.json" check 2>&1); rc=$?
assert_eq "missing file: exit 2" 2 "$rc"
assert_match "missing file: named, with the reason" "$T_DIR/nope.json: cannot open: No such file or directory" "$err"
err=$("$VERSYNC" -c "$T_DIR" check 2>&1); rc=$?
assert_eq "a directory: exit 2" 2 "$rc"
assert_match "a directory: named" "$T_DIR: " "$err"
rejects "empty file" "the file is empty" ''
rejects "only comments" "the file is empty" $'// nothing\n/* here */\n'
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$F"
err=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a 17 MiB file: exit 2" 2 "$rc"
assert_match "a 17 MiB file: says it is too large" "$F: file too large" "$err"
printf '\xef\xbb\xbf%s' "$(cfg_of "$OKT")" >"$F"
"$VERSYNC" -c "$F" check >/dev/null 2>&1
assert_eq "a UTF-8 BOM is accepted" 0 "$?"

# ---- JSON syntax: line and column ------------------------------------------------------
rejects "trailing comma: points at the ]" "4:3: invalid JSON" $'{\n  "tables": [\n    {"table": "public.t"},\n  ]\n}'
rejects_re "unterminated string: line 2" '2:1[4-7]: invalid JSON' $'{\n  "postgres": "abc\n}'
rejects "missing closing brace: at the end" "1:35: invalid JSON (unexpected end of file)" '{"tables": [{"table": "public.t"}]'
rejects_re "garbage after the object" '1:3[5-7]: invalid JSON' '{"tables": [{"table": "public.t"}]} x'
rejects_re "single quotes" '1:[23]: invalid JSON' "{'tables': []}"
rejects "unterminated block comment" "2:1: unterminated /* comment" $'{\n/* never closed'
rejects_re "control characters only" '1:[0-9]+: invalid JSON' $'\x01\x02\x03'
rejects "top level is an array" "(top level): must be an object, not an array" '[]'
rejects "top level is a string" "(top level): must be an object, not a string" '"x"'
rejects_re "100k-deep nesting" '1:[0-9]+: ' "{\"x\": $(head -c 100000 /dev/zero | tr '\0' '[')"
rejects "invalid UTF-8 in a value" "1:" $'{"tables": [{"table": "public.t", "index": "a\xffb"}]}'
rejects_re "invalid UTF-8 in a key" '(1:[0-9]+|tables\[0\]\.[^:]*: unknown key)' $'{"tables": [{"table": "public.t", "\xfe": 1}]}'
# A bash string cannot hold a NUL byte, so this file is written by printf's format.
printf '{"tables": [{"table": "public.t"}]}\000garbage' >"$F"
err=$("$VERSYNC" -c "$F" check 2>&1 >/dev/null); rc=$?
assert_match "raw NUL byte in the file: exit 2 naming where" "^2 .*: 1:36: NUL byte in the file" "$rc $err"

# ---- keys --------------------------------------------------------------------------------
rejects "unknown top-level key" "worker: unknown key (known keys: postgres, store," '{"worker": 2, '"$OKT"'}'
rejects "unknown store key" "store.uri: unknown key (known keys: url," '{"store": {"uri": "x"}, '"$OKT"'}'
rejects "unknown table key" "tables[0].verison: unknown key" '{"tables": [{"table": "public.t", "verison": {}}]}'
rejects "unknown version key" "tables[0].version.colum: unknown key (known keys: column, timestamp, managed)" \
  '{"tables": [{"table": "public.t", "version": {"colum": "v"}}]}'
rejects "unknown soft_delete key" "tables[0].soft_delete.col: unknown key (known keys: column)" \
  '{"tables": [{"table": "public.t", "soft_delete": {"col": "gone"}}]}'
rejects "duplicate key" "tables: duplicate key" '{'"$OKT"', "tables": []}'
rejects "duplicate rename key" "tables[0].rename.name: duplicate key" \
  '{"tables": [{"table": "public.t", "rename": {"name": "a", "name": "b"}}]}'

# ---- types and ranges -----------------------------------------------------------------------
rejects "workers as a string" "workers: must be a number, not a string" '{"workers": "2", '"$OKT"'}'
rejects "workers null" "workers: must be a number, not null" '{"workers": null, '"$OKT"'}'
rejects "workers 2.5" "workers: must be a whole number, not 2.5" '{"workers": 2.5, '"$OKT"'}'
rejects "workers 0" "workers: must be between 1 and 256, not 0" '{"workers": 0, '"$OKT"'}'
rejects "workers 1e30" "workers: must be between 1 and 256" '{"workers": 1e30, '"$OKT"'}'
rejects "batch_size 100001" "batch_size: must be between 1 and 100000, not 100001" '{"batch_size": 100001, '"$OKT"'}'
rejects "poll_interval_ms -1" "poll_interval_ms: must be between 1 and 3600000, not -1" '{"poll_interval_ms": -1, '"$OKT"'}'
rejects "listen as a string" "listen: must be true or false, not a string" '{"listen": "yes", '"$OKT"'}'
rejects "postgres as a number" "postgres: must be a string, not a number" '{"postgres": 5, '"$OKT"'}'
rejects "store as an array" "store: must be an object, not an array" '{"store": [], '"$OKT"'}'
rejects "store.url not http" 'store.url: "ftp://x" must start with http:// or https://' '{"store": {"url": "ftp://x"}, '"$OKT"'}'
rejects "store.timeout_ms 0" "store.timeout_ms: must be between 1 and 3600000, not 0" '{"store": {"timeout_ms": 0}, '"$OKT"'}'
rejects "store.password a number" "store.password: must be a string, not a number" '{"store": {"password": 5}, '"$OKT"'}'
rejects "store.insecure a string" "store.insecure: must be true or false, not a string" '{"store": {"insecure": "no"}, '"$OKT"'}'
rejects "schema over 63 bytes" "schema: a PostgreSQL name is at most 63 bytes" "{\"schema\": \"$(head -c 64 /dev/zero | tr '\0' s)\", $OKT}"
rejects "schema with \$" 'schema: must not contain $' '{"schema": "a$b", '"$OKT"'}'
rejects "channel over 63 bytes" "channel: a NOTIFY channel name is at most 63 bytes" "{\"channel\": \"$(head -c 64 /dev/zero | tr '\0' c)\", $OKT}"
rejects "tables as an object" "tables: must be an array, not an object" '{"tables": {}}'
rejects "tables empty" "tables: must list at least one table" '{"tables": []}'
rejects "a table as a string" "tables[0]: must be an object, not a string" '{"tables": ["public.t"]}'
rejects "key as a string" "tables[0].key: must be an array of column names, not a string" '{"tables": [{"table": "public.t", "key": "id"}]}'
rejects "key empty" "tables[0].key: must name at least one column" '{"tables": [{"table": "public.t", "key": []}]}'
rejects "key entry a number" "tables[0].key[0]: must be a non-empty string (a column name), not a number" '{"tables": [{"table": "public.t", "key": [1]}]}'
rejects "column listed twice" 'tables[0].columns[1]: column "id" is listed twice' '{"tables": [{"table": "public.t", "columns": ["id", "id"]}]}'
rejects "exclude as a string" "tables[0].exclude: must be an array of column names, not a string" '{"tables": [{"table": "public.t", "exclude": "x"}]}'
rejects "rename as an array" "tables[0].rename: must be an object, not an array" '{"tables": [{"table": "public.t", "rename": []}]}'
rejects "rename to a number" "tables[0].rename.name: must be a non-empty string (the document field name), not a number" \
  '{"tables": [{"table": "public.t", "rename": {"name": 1}}]}'
rejects "rename to an empty name" "tables[0].rename.name: must be a non-empty string" '{"tables": [{"table": "public.t", "rename": {"name": ""}}]}'
rejects "two columns renamed to one field" 'tables[0].rename.v: field "x" is already the new name of column "name"' \
  '{"tables": [{"table": "public.t", "rename": {"name": "x", "v": "x"}}]}'
rejects "deletes: drop" 'tables[0].deletes: must be "delete" or "ignore", not "drop"' '{"tables": [{"table": "public.t", "deletes": "drop"}]}'
rejects "deletes: true" 'tables[0].deletes: must be "delete" or "ignore", not' '{"tables": [{"table": "public.t", "deletes": true}]}'
rejects "soft_delete without column" 'tables[0].soft_delete: needs "column"' '{"tables": [{"table": "public.t", "soft_delete": {}}]}'
rejects "index_settings a string" "tables[0].index_settings: must be an object, not a string" '{"tables": [{"table": "public.t", "index_settings": "x"}]}'
rejects "mappings an array" "tables[0].mappings: must be an object, not an array" '{"tables": [{"table": "public.t", "mappings": []}]}'
rejects "exclude outside columns" 'tables[0].exclude[0]: column "v" is not in "columns" anyway' \
  '{"tables": [{"table": "public.t", "columns": ["id", "name"], "exclude": ["v"]}]}'

# ---- version specs ----------------------------------------------------------------------------
rejects "version as a string" "tables[0].version: must be an object, not a string" '{"tables": [{"table": "public.t", "version": "v"}]}'
rejects "version empty" 'tables[0].version: needs "column" (an integer version column) or "timestamp"' '{"tables": [{"table": "public.t", "version": {}}]}'
rejects "version with both" 'tables[0].version: give either "column" (an integer version) or "timestamp", not both' \
  '{"tables": [{"table": "public.t", "version": {"column": "v", "timestamp": "ts"}}]}'
rejects "version.column a number" "tables[0].version.column: must be a string, not a number" '{"tables": [{"table": "public.t", "version": {"column": 1}}]}'
rejects "version.timestamp a number" "tables[0].version.timestamp: must be a string, not a number" '{"tables": [{"table": "public.t", "version": {"timestamp": 5}}]}'
rejects "version.managed a string" "tables[0].version.managed: must be true or false, not a string" \
  '{"tables": [{"table": "public.t", "version": {"column": "v", "managed": "yes"}}]}'
rejects "managed version column as the key" "tables[0].version: a managed version column cannot be a key column" \
  '{"tables": [{"table": "public.t", "key": ["v"], "version": {"column": "v", "managed": true}}]}'

# ---- table and index names ----------------------------------------------------------------------
rejects "table missing" 'tables[0].table: required' '{"tables": [{}]}'
rejects "table empty" "tables[0].table: must not be empty" '{"tables": [{"table": ""}]}'
rejects "table not schema-qualified" "tables[0].table: \"t\": must be schema-qualified" '{"tables": [{"table": "t"}]}'
rejects "table with three parts" 'tables[0].table: "a.b.c": more than two dot-separated parts' '{"tables": [{"table": "a.b.c"}]}'
rejects "unterminated quoted table name" 'tables[0].table: ""x.t": unterminated quoted name' '{"tables": [{"table": "\"x.t"}]}'
rejects "table mapped twice" "tables[1].table: public.t is already mapped by tables[0]" '{"tables": [{"table": "public.t"}, {"table": "public.t"}]}'
rejects "uppercase index" 'tables[0].index: "T" is not a valid index name: must be lowercase' '{"tables": [{"table": "public.t", "index": "T"}]}'
rejects "index .." 'tables[0].index: ".." is not a valid index name' '{"tables": [{"table": "public.t", "index": ".."}]}'
rejects "index with /" 'tables[0].index: "a/b" is not a valid index name: must not contain' '{"tables": [{"table": "public.t", "index": "a/b"}]}'
rejects "index with a space" 'tables[0].index: "a b" is not a valid index name' '{"tables": [{"table": "public.t", "index": "a b"}]}'
rejects "index starting with _" 'tables[0].index: "_t" is not a valid index name: must not start with' '{"tables": [{"table": "public.t", "index": "_t"}]}'
rejects_re "index of 256 bytes" 'tables\[0\]\.index: "i{64}…" is not a valid index name: must be at most 255 bytes' \
  "{\"tables\": [{\"table\": \"public.t\", \"index\": \"$(head -c 256 /dev/zero | tr '\0' i)\"}]}"
rejects "index empty" 'tables[0].index: must not be empty' '{"tables": [{"table": "public.t", "index": ""}]}'
rejects "default index from an uppercase table" 'tables[0].index: the default index name "T" (the table'"'"'s name) is not a valid index name: must be lowercase; set "index"' \
  '{"tables": [{"table": "public.T"}]}'
rejects "escaped uppercase index" 'tables[0].index: "A" is not a valid index name: must be lowercase' '{"tables": [{"table": "public.t", "index": "\u0041"}]}'
rejects_re "escaped NUL in the index" '1:[0-9]+: \\u0000 \(a NUL character\) is not allowed' '{"tables": [{"table": "public.t", "index": "a\u0000b"}]}'
rejects_re "escaped NUL in the table" '1:[0-9]+: \\u0000 \(a NUL character\) is not allowed' '{"tables": [{"table": "public.t\u0000x"}]}'
rejects "two tables, one index" 'tables[1].index: index "t" is already the index of tables[0]' \
  '{"tables": [{"table": "public.t"}, {"table": "public.u", "index": "t"}]}'

# ---- ${VAR} ------------------------------------------------------------------------------------
unset VS_ROBUST_UNSET
rejects "unset variable" "tables[0].index: environment variable VS_ROBUST_UNSET is not set" \
  '{"tables": [{"table": "public.t", "index": "${VS_ROBUST_UNSET}"}]}'
rejects "unset variable in postgres" "postgres: environment variable VS_ROBUST_UNSET is not set" \
  '{"postgres": "password=${VS_ROBUST_UNSET}", '"$OKT"'}'
rejects "unterminated \${" 'tables[0].index: unterminated ${ in "${X"' '{"tables": [{"table": "public.t", "index": "${X"}]}'
rejects "empty \${}" 'tables[0].index: bad variable reference in "${}"' '{"tables": [{"table": "public.t", "index": "${}"}]}'
rejects "bad variable name" 'tables[0].index: bad variable name "A-B" (letters, digits and _ only)' '{"tables": [{"table": "public.t", "index": "${A-B}"}]}'
export VS_ROBUST_SET=Upper
rejects "a variable's value is validated too" 'tables[0].index: "Upper" is not a valid index name' \
  '{"tables": [{"table": "public.t", "index": "${VS_ROBUST_SET}"}]}'
unset VS_ROBUST_SET
rejects "\$\${ stays literal (then validated as a name)" 'tables[0].index: "${X}" is not a valid index name: must be lowercase' \
  '{"tables": [{"table": "public.t", "index": "$${X}"}]}'

# ---- against the catalog (columns and tables that do not exist) ------------------------------------
rejects "table does not exist" "tables[0].table: table public.nope does not exist" "$(cfg_of '"tables": [{"table": "public.nope"}]')"
rejects "schema does not exist" "tables[0].table: table nope.t does not exist" "$(cfg_of '"tables": [{"table": "nope.t"}]')"
rejects "key column does not exist" 'tables[0].key[0]: column "nope" does not exist in public.t' "$(cfg_of '"tables": [{"table": "public.t", "key": ["nope"]}]')"
rejects "columns entry does not exist" 'tables[0].columns[1]: column "nmae" does not exist in public.t' \
  "$(cfg_of '"tables": [{"table": "public.t", "columns": ["id", "nmae"]}]')"
rejects "exclude entry does not exist" 'tables[0].exclude[0]: column "x" does not exist in public.t' "$(cfg_of '"tables": [{"table": "public.t", "exclude": ["x"]}]')"
rejects "rename of a missing column" 'tables[0].rename.x: column "x" does not exist' "$(cfg_of '"tables": [{"table": "public.t", "rename": {"x": "y"}}]')"
rejects "version column does not exist" 'tables[0].version.column: column "vv" does not exist in public.t' \
  "$(cfg_of '"tables": [{"table": "public.t", "version": {"column": "vv"}}]')"
rejects "version column of the wrong type" 'tables[0].version.column: column "name" of public.t is text, not an integer type' \
  "$(cfg_of '"tables": [{"table": "public.t", "version": {"column": "name"}}]')"
rejects "timestamp column of the wrong type" 'tables[0].version.timestamp: column "d" of public.t is date, not a timestamp type' \
  "$(cfg_of '"tables": [{"table": "public.t", "version": {"timestamp": "d"}}]')"
rejects "soft_delete column does not exist" 'tables[0].soft_delete.column: column "nope" does not exist' \
  "$(cfg_of '"tables": [{"table": "public.t", "soft_delete": {"column": "nope"}}]')"
rejects "second table's mistake names tables[1]" 'tables[1].columns[0]: column "zz" does not exist in public.u' \
  "$(cfg_of '"tables": [{"table": "public.t"}, {"table": "public.u", "columns": ["zz"]}]')"

# ---- every message is one line and carries no secret ----------------------------------------------
printf '{"postgres": "host=%s port=1 user=postgres password=hunter2 dbname=postgres", %s}' "$PGHOST" "$OKT" >"$F"
chmod 600 "$F" # else refused for the literal password before connecting (test_secrets.sh)
err=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "unreachable database: exit 3" 3 "$rc"
assert_match "unreachable database: names the file and the postgres key" "$F: postgres: cannot connect" "$err"
check "unreachable database: the password is not printed" test "${err/hunter2/}" == "$err"
printf '{"store": {"password": 5, "api_key": "k3y"}, "postgres": "password=hunter2", %s}' "$OKT" >"$F"
err=$("$VERSYNC" -c "$F" check 2>&1)
check "a type error next to secrets prints neither secret" test "${err/hunter2/}" == "$err" -a "${err/k3y/}" == "$err"

done_testing
