#!/usr/bin/env bash
# The harness itself: a private PostgreSQL starts, answers on its own socket,
# survives an immediate restart, and wait_until honours its deadline.
. "$(dirname "$0")/lib.sh"

check "throwaway PostgreSQL starts" pg_start
assert_eq "it answers on the temp-dir socket" "$T_DIR/pgsock" "$(sql 'show unix_socket_directories')"
sql "create table t(x int); insert into t values (1)"
check "immediate restart keeps committed data" pg_restart
assert_eq "row survived the restart" "1" "$(sql 'select x from t')"
start=$SECONDS
if wait_until 1 false; then not_ok "wait_until fails a false condition"; else ok "wait_until fails a false condition"; fi
check "wait_until returns at its deadline" test $((SECONDS - start)) -le 3
done_testing
