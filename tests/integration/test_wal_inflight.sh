#!/usr/bin/env bash
# "capture": "wal" with several _bulk requests in flight (issue 22, wal.inflight): the batches may be
# answered in any order, and the slot's confirmed position moves only past changes all of whose
# writes the store answered for. One document is made to fail deterministically (faultproxy answers
# its item 503 in every _bulk, store.max_item_retries 0: never given up) while later batches are
# answered: they land (the failing batch is resent after its own backoff, not the worker's), the
# slot stays before the failing one. Then versync is killed -9 with
# several requests in flight, and once (straight to the store) loses nothing and counts the
# replays stale.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
FAULTPROXY=${FAULTPROXY:-$VS_BUILD/itest/faultproxy}

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
PROXY_OUT=$T_DIR/proxy.out
T_LOGS+=("$T_DIR/proxy.log")
bg "$FAULTPROXY" --listen 127.0.0.1:0 --upstream "127.0.0.1:$STORE_PORT" --item-fault 7:503 \
  >"$PROXY_OUT" 2>"$T_DIR/proxy.log"
check "faultproxy starts" wait_until 10 grep -q 'listening on' "$PROXY_OUT"
PROXY_URL=$(grep -o 'http://[0-9.:]*' "$PROXY_OUT")

# write_cfg FILE URL — four requests in flight, small batches, an item answered 5xx never given up.
write_cfg() {
  cat >"$1" <<JSON
{
  "postgres": "$PG_CONNINFO",
  "store": {"url": "$2", "timeout_ms": 5000, "max_item_retries": 0},
  "schema": "versync",
  "poll_interval_ms": 200,
  "batch_size": 20,
  "wal": {"inflight": 4},
  "tables": [{"table": "public.items", "capture": "wal"}]
}
JSON
}
CFG=$T_DIR/versync.json
SICK=$T_DIR/sick.json
write_cfg "$CFG" "$STORE_URL"
write_cfg "$SICK" "$PROXY_URL"
sql "create table items (id int primary key, name text)"
check "init" vs init
Q_ITEMS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
count() { curl -s "$STORE_URL/items/_count" | jq '.count // 0'; }
count_is() { [ "$(count)" -eq "$1" ]; }
version_of() { curl -s "$STORE_URL/items/_doc/$1" | jq -r '._version // empty'; }
confirmed() { sql "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots where slot_name = 'versync'"; }

# Row 7 first, in its own transaction; then 200 transactions of 5 rows each after it.
sql "insert into items values (7, 'the slow one')"
sql "do \$\$ begin for t in 0..199 loop
       insert into items select 100 + t * 5 + g, 'row' from generate_series(0, 4) g; commit;
     end loop; end \$\$"
RUN_LOG=$T_DIR/run1.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$SICK" run --workers 1 2>"$RUN_LOG"
RUN_PID=$BG_PID
# (faultproxy rewrites only the answer: the store holds row 7, versync is told its write failed.)
check "every batch reaches the store (1001 rows)" wait_until 90 count_is 1001
check "the store's answer for row 7 fails again and again" wait_until 30 \
  bash -c "[ \$(grep -c 'item-fault 503 7 ' '$T_DIR/proxy.log') -ge 3 ]"
check "versync counts the later batches as applied while row 7's is still unanswered" wait_until 30 \
  grep -Eq 'last 10s: [1-9][0-9]* applied' "$RUN_LOG"
# The failing batch backs off on its own: the worker does not treat the stream as down while the
# later batches are answered, and the batch is named once, not at every resend.
check "the failing batch is named once, with what happens to it" \
  test "$(grep -c 'sent again with backoff while later batches go on' "$RUN_LOG")" -eq 1
FIRST_AFTER=$(version_of 100)
CONF=$(confirmed)
check "the slot is not confirmed past the unanswered change ($CONF < $FIRST_AFTER, the first later commit)" \
  test "$CONF" -lt "$FIRST_AFTER"
# More batches in flight when the process dies: rows updated while the one batch keeps failing.
sql "update items set name = 'again' where id between 100 and 1099"
check "run has some of the updates in the store" wait_until 60 \
  bash -c "[ \$(curl -s '$STORE_URL/items/_count?q=name:again' | jq '.count // 0') -ge 100 ]"
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
CONF2=$(confirmed)
check "killed -9: still not confirmed past row 7's transaction ($CONF2)" test "$CONF2" -lt "$FIRST_AFTER"
# once straight to the store: replays everything since row 7.
check "once after the crash" once_ok once1
check "nothing is lost" converged items "$Q_ITEMS"
check "row 7 is there now" test -n "$(version_of 7)"
STALE=$(summary_field stale)
check "the replayed writes are counted stale ($STALE >= 1000)" test "$STALE" -ge 1000
check "once afterwards finds nothing new" once_ok once2
assert_eq "nothing sent" "0" "$(summary_field applied)"
done_testing
