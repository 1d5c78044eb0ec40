#!/usr/bin/env bash
# versync against a store behind HTTPS with basic auth (tlsproxy, a
# TLS-terminating proxy in front of verstore, with a CA and certificate made
# here with the openssl CLI): with store.ca_file it verifies and converges;
# insecure: true works without the CA; the wrong CA (or none) fails at start
# with a clear TLS error; a wrong password is a security error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
TLSPROXY=${TLSPROXY:-$VS_BUILD/itest/tlsproxy}

if ! command -v openssl >/dev/null; then
  echo "ok 1 - # SKIP openssl CLI not installed"; done_testing; exit 0
fi
check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start

# ---- a test CA, a server certificate for 127.0.0.1, and an unrelated CA ----------------------
C=$T_DIR/tls
mkdir -p "$C"
mkcerts() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/ca.key" -out "$C/ca.pem" -days 2 -subj /CN=versync-test-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout "$C/srv.key" -out "$C/srv.csr" -subj /CN=127.0.0.1 &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$C/ext" &&
  openssl x509 -req -in "$C/srv.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -out "$C/srv.pem" \
    -days 2 -extfile "$C/ext" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/other.key" -out "$C/other.pem" -days 2 -subj /CN=other-ca
}
check "openssl makes a CA and a server certificate" bash -c "$(declare -f mkcerts); C='$C' mkcerts >'$C/openssl.log' 2>&1"

PROXY_LOG=$T_DIR/tlsproxy.log
T_LOGS+=("$PROXY_LOG")
bg "$TLSPROXY" --listen 0 --upstream "$STORE_URL" --cert "$C/srv.pem" --key "$C/srv.key" --user "vs:s3cret" \
  >"$T_DIR/tlsproxy.out" 2>"$PROXY_LOG"
check "tlsproxy starts" wait_until 10 grep -q 'listening on' "$T_DIR/tlsproxy.out"
TLS_URL=$(grep -o 'https://[0-9.:]*' "$T_DIR/tlsproxy.out")
check "curl trusts it with the CA" curl -sf --cacert "$C/ca.pem" -u vs:s3cret -o /dev/null "$TLS_URL/"

sql "create table tls_t (id int primary key, n int)"
Q="select id::text as id, to_jsonb(t) as doc, null::bigint as v from tls_t t"
# tls_cfg FILE STORE_MEMBERS — a config for the TLS URL with extra "store" members.
tls_cfg() {
  ws_config "$1" '[{"table": "public.tls_t"}]' "$TLS_URL"
  sed -i "s|\"timeout_ms\": 5000}|\"timeout_ms\": 5000, $2}|" "$1"
  chmod 600 "$1" # a literal password is refused in a file others can read
}
# vsc FILE ARGS… — versync with that config; sets RC and OUT (stdout+stderr).
vsc() { local f=$1; shift; OUT=$("$VERSYNC" -c "$f" "$@" 2>&1); RC=$?; }

# ---- ca_file + basic auth -------------------------------------------------------------------------
tls_cfg "$T_DIR/ca.json" "\"ca_file\": \"$C/ca.pem\", \"username\": \"vs\", \"password\": \"s3cret\""
vsc "$T_DIR/ca.json" init
assert_eq "init over HTTPS with ca_file and basic auth" 0 "$RC"
sql "insert into tls_t select g, g from generate_series(1, 25) g"
vsc "$T_DIR/ca.json" once
assert_eq "once over HTTPS exits 0" 0 "$RC"
CFG=$T_DIR/ca.json
check "the store equals the table" converged tls_t "$Q"
check "the proxy saw authenticated _bulk requests" grep -q 'req POST /_bulk.* auth=ok' "$PROXY_LOG"
check "and no refused ones" bash -c "! grep -q 'auth=refused' '$PROXY_LOG'"

# ---- insecure: true, no CA ---------------------------------------------------------------------------
tls_cfg "$T_DIR/insecure.json" '"insecure": true, "username": "vs", "password": "s3cret"'
sql "update tls_t set n = n + 100"
vsc "$T_DIR/insecure.json" once
assert_eq "insecure: true works without the CA" 0 "$RC"
check "the store equals the table" converged tls_t "$Q"

# ---- the wrong CA, or none: a clear TLS error at start -----------------------------------------------------
tls_cfg "$T_DIR/wrongca.json" "\"ca_file\": \"$C/other.pem\", \"username\": \"vs\", \"password\": \"s3cret\""
sql "update tls_t set n = n + 1 where id = 1"
vsc "$T_DIR/wrongca.json" once
assert_eq "the wrong CA: once exits 2 at start" 2 "$RC"
assert_match "with a TLS error naming the fix" "store at $TLS_URL: TLS error: .*certificate.*set store.ca_file" "$OUT"
tls_cfg "$T_DIR/noca.json" '"username": "vs", "password": "s3cret"'
vsc "$T_DIR/noca.json" run
assert_eq "no CA (system CAs only): run exits 2 at start" 2 "$RC"
assert_match "with the same TLS error" 'TLS error: .*certificate' "$OUT"
vsc "$T_DIR/wrongca.json" init
assert_eq "the wrong CA: init fails with exit 2" 2 "$RC"
assert_eq "nothing was lost: the change still waits" 1 "$(backlog)"

# ---- wrong password -----------------------------------------------------------------------------------
tls_cfg "$T_DIR/badpw.json" "\"ca_file\": \"$C/ca.pem\", \"username\": \"vs\", \"password\": \"nope-pw\""
vsc "$T_DIR/badpw.json" once
assert_eq "a wrong password: once exits 2" 2 "$RC"
assert_match "a security error naming basic auth" 'security error on GET / \(HTTP 401\): basic auth as user "vs" was refused' "$OUT"
check "the password is not printed" test "${OUT/nope-pw/}" == "$OUT"

vsc "$T_DIR/ca.json" once
assert_eq "the right config drains the rest" 0 "$RC"
check "the store equals the table" converged tls_t "$Q"
done_testing
