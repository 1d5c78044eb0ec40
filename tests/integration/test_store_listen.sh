#!/usr/bin/env bash
# verstore and its listening address: a second verstore started on a port one
# already listens on refuses it (exit 2, "address already in use") instead of
# sharing the port through address reuse and splitting requests between two
# data directories; a restart on the same port right after a clean stop that
# served keep-alive connections still binds (no TIME_WAIT trap).
. "$(dirname "$0")/lib.sh"

check "the first verstore starts" verstore_start
http PUT /listen/_doc/1 '{"who":"first"}'
assert_eq "the first verstore stores a document" 201 "$HTTP_STATUS"

out=$(timeout 20 "$VERSTORE" --listen "127.0.0.1:$STORE_PORT" --data "$T_DIR/second" 2>&1)
rc=$?
assert_eq "a second verstore on the same port exits 2" 2 "$rc"
assert_match "it says the address is already in use" "address already in use" "$out"
assert_match "it names the address" "127.0.0.1:$STORE_PORT" "$out"
check "it never printed a ready line" bash -c "! grep -q 'verstore listening' <<<\"\$1\"" _ "$out"

# Every request still reaches the first store's data directory.
all=1
for i in $(seq 1 20); do
  http GET /listen/_doc/1
  [ "$HTTP_STATUS" = 200 ] || all=0
done
assert_eq "20 requests in a row all reach the first store" 1 "$all"

# The listening socket carries no SO_REUSEPORT: a plain SO_REUSEPORT socket
# cannot bind the port either (it could join a socket that had set it).
rp=$(python3 - "$STORE_PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
    print("bound")
except OSError as e:
    print("refused", e.errno)
PY
)
assert_match "a SO_REUSEPORT socket cannot share the port" "^refused" "$rp"

# Restart on the same port after keep-alive connections were served.
check "the first verstore stops cleanly" verstore_stop
check "it restarts on the same port at once" verstore_start
http GET /listen/_doc/1
assert_eq "the restarted store serves its data" 200 "$HTTP_STATUS"

done_testing
