#!/usr/bin/env bash
# "capture": "wal" (issue 22): the slot is created and the existing rows copied (init --backfill)
# while writers keep inserting, updating and deleting rows; then once drains the stream, and the
# index equals the table: the copy (version 0, external_gte) and the stream (commit LSNs) converge.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

PG_EXTRA_OPTS="-c wal_level=logical"
check "throwaway PostgreSQL (wal_level=logical) starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table items (id int primary key, name text, n int not null default 0);
     insert into items (id, name) select g, 'seed ' || g from generate_series(1, 3000) g"
ws_config "$CFG" '[{"table": "public.items", "capture": "wal"}]'

STOP=$T_DIR/stop-writers
writer() {
  local w=$1 i=0
  while [ ! -e "$STOP" ]; do
    i=$((i + 1))
    psql -XAtq -c "update items set n = n + 1, name = 'w$w-$i' where id = (random() * 3000)::int + 1;
                   delete from items where id = (random() * 3000)::int + 1;
                   insert into items (id, name) values ((random() * 3000)::int + 1, 'ins w$w-$i')
                     on conflict (id) do update set name = excluded.name, n = items.n + 1" >/dev/null 2>&1
  done
}
bg writer 1
WP1=$BG_PID
bg writer 2
WP2=$BG_PID
writes() { sql "select n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables where relname = 'items'"; }
W0=$(writes)
writes_moved() { [ "$(writes)" -gt "$((W0 + 50))" ]; }
check "the writers are writing" wait_until 30 writes_moved
T_LOGS+=("$T_DIR/init.log")
check "init --backfill while they write" bash -c "'$VERSYNC' -c '$CFG' init --backfill >'$T_DIR/init.log' 2>&1"
W1=$(writes)
writes_moved_more() { [ "$(writes)" -gt "$((W1 + 50))" ]; }
check "they keep writing after the copy" wait_until 30 writes_moved_more
touch "$STOP"
wait "$WP1" "$WP2" # each finishes its statement in flight, then sees the stop file
check "once drains the stream" once_ok once1
Q_ITEMS="select id::text as id, to_jsonb(t) as doc, null::bigint as v from items t"
check "the index equals the table" converged items "$Q_ITEMS"
done_testing
