#!/usr/bin/env bash
# verstore access control: basic auth from --users (yescrypt hashes made with
# --hash-password), API keys, 401 answers shaped like Elasticsearch's with
# WWW-Authenticate, HTTPS with --tls-cert/--tls-key (a CA and certificate made
# here with the openssl CLI), TLS and auth together, versync `once` syncing into
# an authenticated HTTPS verstore, and the refusal to serve a non-loopback
# address without --users unless --insecure-no-auth.
. "$(dirname "$0")/lib.sh"

# ---- --hash-password and the users file ---------------------------------------
hash=$(printf 's3cret pass\n' | "$VERSTORE" --hash-password); rc=$?
assert_eq "--hash-password exits 0" 0 "$rc"
assert_match "--hash-password prints a yescrypt hash" '^\$y\$[^:[:space:]]+$' "$hash"
hash2=$(printf 's3cret pass\n' | "$VERSTORE" --hash-password)
check "each hash has its own salt" test "$hash" != "$hash2"
check "the hash verifies with the system's crypt(3) (perl)" \
  perl -e 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)' 's3cret pass' "$hash"
check "a wrong password does not verify" \
  perl -e 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 1 : 0)' 'wrong' "$hash"
keyhash=$(printf 'k3y-secret\n' | "$VERSTORE" --hash-password)
printf '# verstore users\n\nalice:%s\napikey:ingest1:%s\n' "$hash" "$keyhash" >"$T_DIR/users"

# vstart ARGS… — start verstore (not lib.sh's verstore_start: GET / needs auth).
vstart() {
  STORE_DATA=$T_DIR/store
  V_RUN=$((${V_RUN:-0} + 1))
  STORE_LOG=$T_DIR/verstore.$V_RUN.log
  "$VERSTORE" --listen 127.0.0.1:0 --data "$STORE_DATA" "$@" >>"$STORE_LOG" 2>&1 &
  STORE_PID=$!
  [[ " ${T_LOGS[*]-} " == *" $STORE_LOG "* ]] || T_LOGS+=("$STORE_LOG")
  wait_until 30 grep -q "verstore listening on" "$STORE_LOG" || return 1
  STORE_URL=$(grep -o 'verstore listening on [^ ]*' "$STORE_LOG" | tail -1 | sed 's/.* //')
  STORE_PORT=${STORE_URL##*:}
}
# code ARGS… — HTTP status of curl ARGS (body in $T_DIR/.b, headers in $T_DIR/.h).
code() { curl -s -o "$T_DIR/.b" -D "$T_DIR/.h" -w '%{http_code}' "$@"; }

vstart --users "$T_DIR/users" || exit 1
assert_match "ready line says http://" '^http://127\.0\.0\.1:[0-9]+$' "$STORE_URL"
assert_eq "GET / without credentials is 401" 401 "$(code "$STORE_URL/")"
HTTP_HEADERS=$(cat "$T_DIR/.h"); HTTP_BODY=$(cat "$T_DIR/.b")
check "401 carries WWW-Authenticate Basic" grep -qi '^WWW-Authenticate: Basic realm="verstore" charset="UTF-8"' "$T_DIR/.h"
check "401 carries WWW-Authenticate ApiKey" grep -qi '^WWW-Authenticate: ApiKey' "$T_DIR/.h"
assert_es_headers "401"
assert_json "401 body is a security_exception" '[.status, .error.type, .error.root_cause[0].type]' \
  '[401,"security_exception","security_exception"]'
assert_json "missing credentials reason" '.error.reason' '"missing authentication credentials for REST request [/]"'

assert_eq "basic auth with the right password: 200" 200 "$(code -u 'alice:s3cret pass' "$STORE_URL/")"
assert_eq "a write with basic auth" 201 "$(code -u 'alice:s3cret pass' -X PUT -H 'Content-Type: application/json' \
  --data-binary '{"a":1}' "$STORE_URL/idx/_doc/1")"
assert_eq "the same credentials again (cached): 200" 200 "$(code -u 'alice:s3cret pass' "$STORE_URL/idx/_doc/1")"
assert_eq "wrong password: 401" 401 "$(code -u 'alice:nope' "$STORE_URL/idx/_doc/1")"
HTTP_BODY=$(cat "$T_DIR/.b")
assert_json "wrong password reason names the user and path" '.error.reason' \
  '"unable to authenticate user [alice] for REST request [/idx/_doc/1]"'
check "wrong password 401 carries WWW-Authenticate" grep -qi '^WWW-Authenticate: Basic' "$T_DIR/.h"
assert_eq "unknown user: 401" 401 "$(code -u 'mallory:s3cret pass' "$STORE_URL/")"
HTTP_BODY=$(cat "$T_DIR/.b")
assert_json "unknown user reason" '.error.reason' '"unable to authenticate user [mallory] for REST request [/]"'
assert_eq "a write without credentials is refused" 401 "$(code -X PUT -H 'Content-Type: application/json' \
  --data-binary '{"a":2}' "$STORE_URL/idx/_doc/2")"
assert_eq "and did not happen" 404 "$(code -u 'alice:s3cret pass' "$STORE_URL/idx/_doc/2")"
assert_eq "garbage Authorization: 401" 401 "$(code -H 'Authorization: Basic !!!' "$STORE_URL/")"

good_key=$(printf 'ingest1:k3y-secret' | base64 -w0)
bad_key=$(printf 'ingest1:k3y-wrong' | base64 -w0)
assert_eq "API key: 200" 200 "$(code -H "Authorization: ApiKey $good_key" "$STORE_URL/idx/_doc/1")"
assert_eq "wrong API key: 401" 401 "$(code -H "Authorization: ApiKey $bad_key" "$STORE_URL/")"
assert_eq "an API key is not a user password" 401 "$(code -u 'ingest1:k3y-secret' "$STORE_URL/")"
verstore_stop; assert_eq "verstore stops cleanly" 0 "$?"
check "no password reached the log" bash -c "! grep -q 's3cret\|k3y-secret' '$STORE_LOG'"

# ---- bad users files and options -----------------------------------------------
refused() {
  local desc=$1 word=$2 out rc
  shift 2
  out=$(cd "$T_DIR" && timeout 10 "$VERSTORE" "$@" 2>&1 </dev/null)
  rc=$?
  assert_eq "$desc: exit status 2" 2 "$rc"
  if grep -qiF -- "$word" <<<"$out"; then ok "$desc: the message names [$word]"; else
    not_ok "$desc: the message names [$word]"; printf '#   output: %s\n' "$(head -c 300 <<<"$out")"; fi
}
printf 'alice:%s\nbob\n' "$hash" >"$T_DIR/bad1"
refused "users line without a hash" "bad1:2" --listen 127.0.0.1:0 --data "$T_DIR/d2" --users "$T_DIR/bad1"
printf 'carol:plaintext\n' >"$T_DIR/bad2"
refused "plain-text password in the users file" "bad2:1" --listen 127.0.0.1:0 --data "$T_DIR/d2" --users "$T_DIR/bad2"
refused "missing users file" "nonexistent" --listen 127.0.0.1:0 --data "$T_DIR/d2" --users "$T_DIR/nonexistent"
refused "0.0.0.0 without --users" "--users" --listen 0.0.0.0:0 --data "$T_DIR/d2"
refused "0.0.0.0 without --users mentions the escape hatch" "--insecure-no-auth" --listen 0.0.0.0:0 --data "$T_DIR/d2"
refused "--tls-cert without --tls-key" "--tls-key" --listen 127.0.0.1:0 --data "$T_DIR/d2" --tls-cert /etc/hostname
refused "unreadable --tls-cert" "--tls-cert" --listen 127.0.0.1:0 --data "$T_DIR/d2" \
  --tls-cert "$T_DIR/nope.pem" --tls-key "$T_DIR/nope.key"

"$VERSTORE" --listen 0.0.0.0:0 --data "$T_DIR/d3" --insecure-no-auth >"$T_DIR/open.log" 2>&1 &
open_pid=$!; T_PIDS+=("$open_pid")
if wait_until 30 grep -q 'verstore listening on http://0.0.0.0:' "$T_DIR/open.log"; then
  ok "--insecure-no-auth serves 0.0.0.0"
else not_ok "--insecure-no-auth serves 0.0.0.0"; fi
kill -TERM "$open_pid"; wait "$open_pid"; rc=$?
assert_eq "and stops cleanly" 0 "$rc"

# ---- TLS -----------------------------------------------------------------------
P=$T_DIR/pki; mkdir -p "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 \
  -subj /CN=versync-test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" -subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$P/ext"
openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
  -extfile "$P/ext" -out "$P/srv.pem" >/dev/null 2>&1
check "test certificate made" test -s "$P/srv.pem"
refused "a non-PEM --tls-key" "--tls-key" --listen 127.0.0.1:0 --data "$T_DIR/d2" \
  --tls-cert "$P/srv.pem" --tls-key /etc/hostname

vstart --tls-cert "$P/srv.pem" --tls-key "$P/srv.key" || exit 1
assert_match "ready line says https://" '^https://127\.0\.0\.1:[0-9]+$' "$STORE_URL"
assert_eq "HTTPS with the test CA: 200" 200 "$(code --cacert "$P/ca.pem" "$STORE_URL/")"
assert_eq "HTTPS without the CA is not trusted" 000 "$(code "$STORE_URL/")"
assert_eq "plain HTTP to the HTTPS port gets no HTTP answer" 000 \
  "$(code --max-time 5 "http://127.0.0.1:$STORE_PORT/")"
verstore_stop; assert_eq "verstore (TLS) stops cleanly" 0 "$?"

vstart --tls-cert "$P/srv.pem" --tls-key "$P/srv.key" --users "$T_DIR/users" || exit 1
assert_eq "TLS + auth: no credentials 401" 401 "$(code --cacert "$P/ca.pem" "$STORE_URL/")"
assert_eq "TLS + auth: basic auth 200" 200 "$(code --cacert "$P/ca.pem" -u 'alice:s3cret pass' "$STORE_URL/")"
assert_eq "TLS + auth: API key 200" 200 \
  "$(code --cacert "$P/ca.pem" -H "Authorization: ApiKey $good_key" "$STORE_URL/idx/_doc/1")"

# ---- versync once into the authenticated HTTPS verstore --------------------------
pg_start || exit 1
sql "create table public.items (id int primary key, name text)"
cat >"$T_DIR/v.json" <<JSON
{ "postgres": "$PG_CONNINFO",
  "store": {"url": "$STORE_URL", "username": "alice", "password": "s3cret pass", "ca_file": "$P/ca.pem"},
  "tables": [ {"table": "public.items"} ] }
JSON
chmod 600 "$T_DIR/v.json" # a literal password is refused in a file others can read
out=$("$VERSYNC" -c "$T_DIR/v.json" init 2>&1); rc=$?
assert_eq "versync init against HTTPS+auth exits 0" 0 "$rc"
sql "insert into public.items values (1, 'one'), (2, 'two')"
out=$("$VERSYNC" -c "$T_DIR/v.json" once 2>&1); rc=$?
assert_eq "versync once exits 0" 0 "$rc"
assert_eq "document 1 arrived" 200 "$(code --cacert "$P/ca.pem" -u 'alice:s3cret pass' "$STORE_URL/items/_doc/1")"
assert_eq "with its fields" '"one"' "$(jq -c '._source.name' "$T_DIR/.b")"
assert_eq "document 2 arrived" 200 "$(code --cacert "$P/ca.pem" -u 'alice:s3cret pass' "$STORE_URL/items/_doc/2")"
sed -i 's/"s3cret pass"/"wrong pass"/' "$T_DIR/v.json"
sql "insert into public.items values (3, 'three')"
out=$("$VERSYNC" -c "$T_DIR/v.json" once 2>&1); rc=$?
check "versync once with a wrong password fails" test "$rc" -ne 0
assert_match "and says the store refused the user" 'user "alice" was refused' "$out"
assert_eq "document 3 was not written" 404 "$(code --cacert "$P/ca.pem" -u 'alice:s3cret pass' "$STORE_URL/items/_doc/3")"
verstore_stop; assert_eq "verstore (TLS + auth) stops cleanly" 0 "$?"

done_testing
