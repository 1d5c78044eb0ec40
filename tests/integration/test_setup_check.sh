#!/usr/bin/env bash
# versync check catches setups that lose changes without a word: a key no unique
# index backs (refused by check and init, so never set up), a timestamp version
# stamped with now(), a version column nothing bumps, a table init has not set up
# (check warns, run/once log it), and a store that refuses the configured
# credentials (401 named, exit 1).
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
sql "create table public.dup (a int, b int, name text);
     create table public.ts_now (id int primary key, name text, updated_at timestamptz not null default now());
     create table public.ts_clock (id int primary key, name text,
                                   updated_at timestamptz not null default clock_timestamp());
     create function public.bump_clock() returns trigger language plpgsql as \$\$
       begin new.updated_at := clock_timestamp(); return new; end \$\$;
     create trigger bump before update on public.ts_clock for each row execute function public.bump_clock();
     create table public.ts_trig (id int primary key, updated_at timestamp);
     create function public.bump_now() returns trigger language plpgsql as \$\$
       begin new.updated_at := now(); return new; end \$\$;
     create trigger bump before update on public.ts_trig for each row execute function public.bump_now();
     create table public.v_none (id int primary key, v bigint not null default 1);
     create table public.v_man (id int primary key, v bigint)"

hash=$(printf 'right pass\n' | "$VERSTORE" --hash-password)
printf 'alice:%s\n' "$hash" >"$T_DIR/users"
STORE_LOG=$T_DIR/verstore.log
T_LOGS+=("$STORE_LOG")
"$VERSTORE" --listen 127.0.0.1:0 --data "$T_DIR/store" --users "$T_DIR/users" >"$STORE_LOG" 2>&1 &
STORE_PID=$!
check "verstore with --users starts" wait_until 30 grep -q 'verstore listening on http://' "$STORE_LOG"
STORE_PORT=$(grep -o 'verstore listening on http://[^ ]*' "$STORE_LOG" | sed 's/.*://')
F=$T_DIR/v.json

# cfg TABLES_JSON [PASSWORD] — a config mapping TABLES_JSON against the store as alice.
cfg() {
  cat >"$F" <<EOF2
{ "postgres": "$PG_CONNINFO",
  "store": {"url": "http://127.0.0.1:$STORE_PORT", "username": "alice", "password": "\${VS_TEST_PASSWORD}"},
  "tables": [ $1 ] }
EOF2
  export VS_TEST_PASSWORD=${2:-right pass}
}

# ---- a key no unique index backs --------------------------------------------
cfg '{"table": "public.dup", "key": ["a"]}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "check refuses a key without a unique index (exit 2)" 2 "$rc"
assert_match "naming the table, the key and the fix" \
  'tables\[0\]\.key: \(a\) is not backed by a primary key or unique index of public\.dup.*CREATE UNIQUE INDEX' "$out"
out=$("$VERSYNC" -c "$F" init 2>&1); rc=$?
assert_eq "init refuses it too" 2 "$rc"
assert_match "with the same message" 'is not backed by a primary key or unique index' "$out"
sql "create unique index dup_ab on public.dup (b, a) where a > 0"
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a partial unique index does not count" 2 "$rc"
sql "create unique index dup_a on public.dup (a)"
cfg '{"table": "public.dup", "key": ["a", "b"]}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a unique index on a subset of the key backs it" 0 "$rc"

# ---- version sources that lose changes -----------------------------------------
cfg '{"table": "public.ts_now", "version": {"timestamp": "updated_at"}}'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "a now() timestamp passes check with a warning (exit 0)" 0 "$rc"
assert_match "the warning names the default and the remedies" \
  'warning: public\.ts_now: version timestamp "updated_at" defaults to now\(\).*clock_timestamp\(\), or set "managed": true' "$out"
assert_match "and that nothing bumps it on update" 'warning: public\.ts_now: nothing in the database bumps the version timestamp "updated_at"' "$out"

cfg '{"table": "public.ts_trig", "version": {"timestamp": "updated_at"}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
assert_match "a trigger stamping now() is named" 'warning: public\.ts_trig: trigger "bump" stamps the version timestamp "updated_at" with now\(\)' "$out"

cfg '{"table": "public.ts_clock", "version": {"timestamp": "updated_at"}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
check "clock_timestamp() default and bumping trigger: no version warning" \
  bash -c "! grep -q 'warning: public.ts_clock:' <<<\"\$1\"" _ "$out"

cfg '{"table": "public.v_none", "version": {"column": "v"}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
assert_match "an unmanaged column nothing bumps is named" \
  'warning: public\.v_none: nothing in the database bumps the version column "v".*"managed": true' "$out"
cfg '{"table": "public.v_man", "version": {"column": "v", "managed": true}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
check "a managed column: no version warning" bash -c "! grep -q 'warning: public.v_man: nothing' <<<\"\$1\"" _ "$out"

# ---- a table init has not set up ----------------------------------------------
cfg '{"table": "public.ts_clock", "version": {"timestamp": "updated_at"}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
assert_match "check warns about a table init has not set up" \
  'warning: public\.ts_clock is in the config but `versync init` has not set it up.*run `versync init`' "$out"
check "init sets it up" "$VERSYNC" -c "$F" init
cfg '{"table": "public.ts_clock", "version": {"timestamp": "updated_at"}}, {"table": "public.v_man", "version": {"column": "v", "managed": true}}'
out=$("$VERSYNC" -c "$F" check 2>&1)
check "check no longer warns about the table init set up" \
  bash -c "! grep -q 'public.ts_clock is in the config but' <<<\"\$1\"" _ "$out"
assert_match "but does about the one added since" 'warning: public\.v_man is in the config but `versync init` has not set it up' "$out"
out=$("$VERSYNC" -c "$F" once 2>&1)
assert_match "once logs it too" 'warn.*public\.v_man is in the config but `versync init` has not set it up' "$out"

# ---- the store with the configured credentials -----------------------------------
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "right credentials: check exits 0" 0 "$rc"
assert_match "and says the store answers" "store: http://127.0.0.1:$STORE_PORT answers with the configured credentials" "$out"
cfg '{"table": "public.ts_clock", "version": {"timestamp": "updated_at"}}' 'wrong pass'
out=$("$VERSYNC" -c "$F" check 2>&1); rc=$?
assert_eq "wrong password: check exits 2 (configuration)" 2 "$rc"
assert_match "naming the 401" '401' "$out"
check "never printing the password" bash -c "! grep -q 'wrong pass' <<<\"\$1\"" _ "$out"

done_testing
