#!/usr/bin/env bash
# Chaos: a steady write load on PostgreSQL while, for a bounded number of rounds,
# random workers and verstore itself are killed with SIGKILL and restarted, and
# PostgreSQL is restarted once (immediate). Afterwards the change table drains,
# `versync verify` finds no drift and an independent psql-vs-_mget comparison agrees.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"
ROUNDS=${CHAOS_ROUNDS:-8}

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table t (id int primary key, n int not null, note text, version bigint)"
ws_config "$CFG" '[{"table": "public.t", "version": {"column": "version", "managed": true}}]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"

# The application: one transaction per step (insert a new row, update a random
# one, every 4th step delete one). A failed step (PostgreSQL restarting) is retried;
# the insert is idempotent so a commit whose answer was lost is not counted twice.
COMMITS=$T_DIR/commits
STOP=$T_DIR/stop-writer
: >"$COMMITS"
writer() {
  local i=1 r d stmt
  while [ ! -e "$STOP" ]; do
    r=$((RANDOM % i + 1)); d=$((RANDOM % i + 1))
    stmt="insert into t (id, n, note) values ($i, 0, 'w$i') on conflict (id) do nothing;
          update t set n = n + 1, note = 'u$i' where id = $r;"
    [ $((i % 4)) = 0 ] && stmt+=" delete from t where id = $d;"
    if psql -XAtq -v ON_ERROR_STOP=1 -c "$stmt" >/dev/null 2>>"$T_DIR/writer.log"; then
      echo "$i" >>"$COMMITS"
      i=$((i + 1))
    fi
  done
}
writer &
WPID=$!
T_PIDS+=("$WPID")
T_LOGS+=("$T_DIR/writer.log")

RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 3 2>"$RUN_LOG"
RUN=$BG_PID
workers_up() { [ "$(pgrep -P "$RUN" | wc -l)" -ge 3 ]; }
check "versync run starts 3 workers" wait_until 30 workers_up

commits() { wc -l <"$COMMITS"; }
docs() { curl -s "$STORE_URL/t/_count" | jq '.count // 0'; }
# Progress since the last round: the writer committed 40 more transactions, and the store holds documents.
LAST=0
progressed() { [ "$(commits)" -ge $((LAST + 40)) ] && [ "$(docs)" -gt 0 ]; }

survived=0
worker_kills=0
pg_round=$((ROUNDS / 2))
for round in $(seq 1 "$ROUNDS"); do
  if ! wait_until 60 progressed; then
    not_ok "round $round: progress since the last round"
    break
  fi
  LAST=$(commits)
  if [ "$round" = "$pg_round" ]; then
    echo "# round $round: PostgreSQL restart -m immediate"
    pg_restart immediate || { not_ok "round $round: PostgreSQL restarts"; break; }
  elif [ $((RANDOM % 3)) = 0 ] || [ "$round" = 1 ]; then
    echo "# round $round: SIGKILL verstore (pid $STORE_PID)"
    verstore_kill
    verstore_start || { not_ok "round $round: verstore restarts"; break; }
  else
    mapfile -t kids < <(pgrep -P "$RUN")
    if [ "${#kids[@]}" = 0 ]; then
      echo "# round $round: no worker alive to kill (all restarting)"
    else
      victim=${kids[$((RANDOM % ${#kids[@]}))]}
      echo "# round $round: SIGKILL worker pid $victim"
      kill -KILL "$victim" && worker_kills=$((worker_kills + 1))
    fi
  fi
  survived=$((survived + 1))
done
assert_eq "all $ROUNDS chaos rounds ran" "$ROUNDS" "$survived"
check "versync run is still alive" kill -0 "$RUN"

touch "$STOP"
wait "$WPID"
written=$(commits)
check "the writer committed changes" test "$written" -gt 0
check "the change table drains after the chaos" wait_until 90 backlog_empty
Q="select id::text as id, to_jsonb(t) as doc, version as v from t t"
check "the store equals the table (psql vs _mget, versions too)" wait_until 30 converged t "$Q"
out=$(vs verify 2>"$T_DIR/verify.log"); rc=$?
T_LOGS+=("$T_DIR/verify.log")
echo "$out" | sed 's/^/# /'
assert_eq "versync verify finds no drift" 0 "$rc"
killed=$(grep -c 'died with' "$RUN_LOG")
check "the supervisor saw every killed worker die ($worker_kills killed, $killed deaths logged)" \
  test "$killed" -ge "$worker_kills"
echo "# chaos: $survived rounds survived, $written transactions committed" \
  "($(sql 'select count(*) from t') rows left), $killed worker deaths seen by the supervisor, 0 lost"
kill -TERM "$RUN"
rc=0; wait "$RUN" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"

done_testing
