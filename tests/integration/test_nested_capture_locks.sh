#!/usr/bin/env bash
# Nested capture under concurrency (issue 18): a walk from a changed child up to its roots
# reads other rows of the tree, so a concurrent transaction that moves a row into its path
# must be waited for (edge-value advisory locks, FOR SHARE on crossed rows) and then seen.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table publisher (id int primary key, name text);
create table book (id int primary key, title text, publisher_id int);
create index on book (publisher_id);
create table users (id int primary key, username text);
create table review (id int primary key, book_id int, user_id int);
create index on review (book_id);
create index on review (user_id);
insert into publisher values (1, 'one'), (2, 'two');
insert into book values (1, 'A', 1), (2, 'B', 1), (3, 'C', 2);
insert into users values (1, 'ann'), (2, 'bob');
insert into review values (1, 1, 1), (2, 2, 2);
"
ws_config "$CFG" '[{"table": "public.book", "index": "books", "children": [
  {"name": "publisher", "table": "public.publisher", "relationship": "one", "join": {"publisher_id": "id"}},
  {"name": "reviews", "table": "public.review", "relationship": "many", "join": {"id": "book_id"},
   "children": [{"name": "user", "table": "public.users", "relationship": "one", "join": {"user_id": "id"}}]}]}]'
vs init >/dev/null
vs backfill >/dev/null
Q_BOOKS="select b.id::text as id, to_jsonb(b) || jsonb_build_object(
    'publisher', (select to_jsonb(p) from publisher p where p.id = b.publisher_id),
    'reviews', coalesce((select jsonb_agg(to_jsonb(r) || jsonb_build_object('user',
                 (select to_jsonb(u) from users u where u.id = r.user_id)) order by r.id)
               from review r where r.book_id = b.id), '[]')) as doc, null::bigint as v from book b"
books_converged() { converged books "$Q_BOOKS"; }
check "backfill: converged" books_converged

# hold SQL: run SQL in a transaction left open on fd 7 (fifo) until `release`.
hold() {
  rm -f "$T_DIR/h.fifo" "$T_DIR/h.out"; mkfifo "$T_DIR/h.fifo"
  psql -XAtq -v ON_ERROR_STOP=1 <"$T_DIR/h.fifo" >"$T_DIR/h.out" 2>&1 &
  T_PIDS+=($!)
  exec 7>"$T_DIR/h.fifo"
  echo "begin; $1; select 'held';" >&7
  wait_until 20 grep -q held "$T_DIR/h.out"
}
release() { echo "commit; select 'committed';" >&7; wait_until 20 grep -q committed "$T_DIR/h.out"; exec 7>&-; }
waiting_on() { [ "$(sql "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and wait_event = '$1' and query like '$2%'")" -ge 1 ]; }

# ---- a root moves onto a publisher while that publisher is renamed ------------------
check "T1 moves book 1 onto publisher 2 and stays open" hold "update book set publisher_id = 2 where id = 1"
sql "update publisher set name = 'two renamed' where id = 2" >"$T_DIR/t2.out" 2>&1 &
T2=$!
T_PIDS+=("$T2")
check "T2's rename waits for T1 (an advisory lock on the joined value)" wait_until 20 waiting_on advisory "update publisher"
check "T1 commits" release
wait "$T2"
assert_eq "T2 then commits" 0 "$?"
assert_eq "T2's walk saw the moved book (book 1: T1's own change and T2's)" "1:2,3:1" \
  "$(sql "select string_agg(k || ':' || n, ',' order by k) from (select key[1] k, count(*) n from versync.changes group by 1) s")"
check "once drains" once_ok once1
assert_eq "book 1 shows the renamed publisher" '"two renamed"' "$(doc books 1 | jq -c .publisher.name)"
check "converged" books_converged

# ---- a review moves to another book while its user is renamed ------------------------
check "T1 moves review 1 to book 3 and stays open" hold "update review set book_id = 3 where id = 1"
sql "update users set username = 'ann renamed' where id = 1" >"$T_DIR/t3.out" 2>&1 &
T3=$!
T_PIDS+=("$T3")
check "T3's rename waits for T1 (FOR SHARE on the review it walks through)" wait_until 20 waiting_on transactionid "update users"
check "T1 commits" release
wait "$T3"
assert_eq "T3 then commits" 0 "$?"
assert_eq "T3's walk followed the review to its new book (book 3: T1's and T3's; book 1: T1's only)" "1:1,3:2" \
  "$(sql "select string_agg(k || ':' || n, ',' order by k) from (select key[1] k, count(*) n from versync.changes group by 1) s")"
check "once drains" once_ok once2
assert_eq "book 3 shows the renamed user" '"ann renamed"' "$(doc books 3 | jq -c '.reviews[0].user.username')"
check "converged" books_converged

# ---- reviews of one book inserted by two open transactions do not wait for each other ----
check "T1 inserts a review of book 2 and stays open" hold "insert into review values (10, 2, 1)"
assert_eq "T4 inserts another review of book 2 meanwhile" 0 \
  "$(timeout 10 psql -XAtq -v ON_ERROR_STOP=1 -c 'insert into review values (11, 2, 2)' >/dev/null 2>&1; echo $?)"
check "T1 commits" release
check "once drains" once_ok once3
check "converged" books_converged

done_testing
