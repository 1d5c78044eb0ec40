#!/usr/bin/env bash
# Nested documents under a race (issue 18): four workers with chaos delays drain while three
# writers make random changes at every level of a three-level tree in many small
# transactions (child moves, shared renames, root deletes and re-inserts, link changes,
# transactions held open across a worker's batch). The store must end equal to the rows and
# versync verify must find nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table publisher (id int primary key, name text);
create table book (id int primary key, title text, publisher_id int);
create index on book (publisher_id);
create table author (id int primary key, name text);
create table book_author (book_id int, author_id int, primary key (book_id, author_id));
create index on book_author (author_id);
create table users (id int primary key, username text);
create table review (id int primary key, book_id int, user_id int, rating int);
create index on review (book_id);
create index on review (user_id);
insert into publisher select g, 'p' || g from generate_series(1, 5) g;
insert into book select g, 'b' || g, 1 + g % 5 from generate_series(1, 12) g;
insert into author select g, 'a' || g from generate_series(1, 10) g;
insert into book_author select g, 1 + g % 10 from generate_series(1, 12) g;
insert into users select g, 'u' || g from generate_series(1, 10) g;
insert into review select g, 1 + g % 12, 1 + g % 10, g % 5 from generate_series(1, 120) g;
"
ws_config "$CFG" '[
  {"table": "public.book", "index": "books",
   "children": [
     {"name": "publisher", "table": "public.publisher", "relationship": "one", "join": {"publisher_id": "id"}},
     {"name": "authors", "table": "public.author", "relationship": "many",
      "through": {"table": "public.book_author", "join": {"id": "book_id"}, "to": {"author_id": "id"}},
      "order_by": ["name", "id"]},
     {"name": "reviews", "table": "public.review", "relationship": "many", "join": {"id": "book_id"},
      "columns": ["id", "rating"],
      "children": [{"name": "user", "table": "public.users", "relationship": "one", "join": {"user_id": "id"}}]}
   ]}
]'
T_LOGS+=("$T_DIR/init.log")
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
check "backfill copies the starting documents" bash -c "'$VERSYNC' -c '$CFG' backfill >/dev/null 2>&1"

Q_BOOKS="select b.id::text as id,
  to_jsonb(b) || jsonb_build_object(
    'publisher', (select to_jsonb(p) from publisher p where p.id = b.publisher_id),
    'authors', coalesce((select jsonb_agg(to_jsonb(a) order by a.name, a.id)
                           from book_author ba join author a on a.id = ba.author_id where ba.book_id = b.id), '[]'),
    'reviews', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'rating', r.rating,
                           'user', (select to_jsonb(u) from users u where u.id = r.user_id)) order by r.id)
                         from review r where r.book_id = b.id), '[]')) as doc,
  null::bigint as v from book b"
books_converged() { converged books "$Q_BOOKS"; }

RUN_LOG=$T_DIR/run.log
T_LOGS+=("$RUN_LOG")
bg "$VERSYNC" -c "$CFG" run --workers 4 --chaos-max-delay-ms 5 2>"$RUN_LOG"
RUN=$BG_PID

# One writer: $1 rounds of one random change per transaction, some held open for a while so
# a worker's batch runs in between; deadlocks between writers are retried by the next round.
writer() {
  psql -XAtq -v ON_ERROR_STOP=1 -c "
  do \$\$
  declare
    op int;
  begin
    perform setseed($2 / 10.0);
    for r in 1..$1 loop
      begin
        op := floor(random() * 14);
        if op = 0 then update publisher set name = 'p' || id || '-' || r where id = 1 + floor(random() * 5);
        elsif op = 1 then update book set publisher_id = 1 + floor(random() * 5) where id = 1 + floor(random() * 12);
        elsif op = 2 then update book set title = 't' || r where id = 1 + floor(random() * 12);
        elsif op = 3 then insert into review values (1000 * $2 + r, 1 + floor(random() * 12), 1 + floor(random() * 10), r % 5);
        elsif op = 4 then delete from review where id = (select id from review order by random() limit 1);
        elsif op = 5 then update review set book_id = 1 + floor(random() * 12) where id = (select id from review order by random() limit 1);
        elsif op = 6 then update users set username = 'u' || id || '-' || r where id = 1 + floor(random() * 10);
        elsif op = 7 then insert into book_author values (1 + floor(random() * 12), 1 + floor(random() * 10)) on conflict do nothing;
        elsif op = 8 then delete from book_author where (book_id, author_id) = (select book_id, author_id from book_author order by random() limit 1);
        elsif op = 9 then update author set name = 'a' || id || '-' || r where id = 1 + floor(random() * 10);
        elsif op = 10 then
          delete from book where id = 1 + floor(random() * 12);
          insert into book select g, 'again' || r, 1 + g % 5 from generate_series(1, 12) g on conflict do nothing;
        else
          -- A change numbered now and committed later, while other writers change the same books.
          update review set rating = r % 5 where book_id = 1 + floor(random() * 12);
          perform pg_sleep(random() * 0.05);
        end if;
      exception when deadlock_detected or unique_violation then
        null;
      end;
      commit;
    end loop;
  end \$\$;"
}
writer 300 1 >"$T_DIR/w1.log" 2>&1 &
W1=$!
writer 300 2 >"$T_DIR/w2.log" 2>&1 &
W2=$!
writer 300 3 >"$T_DIR/w3.log" 2>&1 &
W3=$!
T_PIDS+=("$W1" "$W2" "$W3")
T_LOGS+=("$T_DIR/w1.log" "$T_DIR/w2.log" "$T_DIR/w3.log")
rc=0
wait "$W1" || rc=1
wait "$W2" || rc=1
wait "$W3" || rc=1
assert_eq "the three writers finish" 0 "$rc"
# The end must not hide a late commit behind later changes: every book's last change is one
# numbered before a change the workers sync, and committed after it.
mkfifo "$T_DIR/late.fifo"
psql -XAtq -v ON_ERROR_STOP=1 <"$T_DIR/late.fifo" >"$T_DIR/late.out" 2>&1 &
T_PIDS+=($!)
exec 7>"$T_DIR/late.fifo"
echo "begin; update review set rating = rating + 1; select 'held';" >&7
check "a transaction holds a change to every book's reviews" wait_until 20 grep -q held "$T_DIR/late.out"
sql "update book set title = title || '+'"
check "the workers sync the later-numbered title changes meanwhile" wait_until 60 backlog_empty
echo "commit; select 'committed';" >&7
check "the held transaction commits" wait_until 20 grep -q committed "$T_DIR/late.out"
exec 7>&-
echo "# changes captured: $(sql "select last_value from versync.changes_seq_seq")"
check "the change table drains" wait_until 120 backlog_empty
check "every book document equals its rows" wait_until 60 books_converged
out=$(vs verify); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "versync verify finds nothing" 0 "$rc"
dl=$(sql "select count(*) from versync.dead_letters")
assert_eq "no dead letters" 0 "$dl"
kill -TERM "$RUN"
rc=0; wait "$RUN" || rc=$?
assert_eq "run exits 0 on SIGTERM" 0 "$rc"
done_testing
