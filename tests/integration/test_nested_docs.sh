#!/usr/bin/env bash
# Nested documents (issue 18) against real PostgreSQL + verstore + versync: one, many,
# through and a three-level tree; moves between parents; deletes at every level; a shared
# row renamed reaching every root; the late-commit interleaving; check's join validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json

sql "
create table publisher (id int primary key, name text, country text, founded int);
create table book (id int primary key, title text, publisher_id int);
create index on book (publisher_id);
create table author (id int primary key, name text, born int);
create table book_author (book_id int, author_id int, primary key (book_id, author_id));
create index on book_author (author_id);
create table users (id int primary key, username text, email text);
create table review (id int primary key, book_id int, user_id int, rating int, body text);
create index on review (book_id);
create index on review (user_id);
"
ws_config "$CFG" '[
  {"table": "public.book", "index": "books",
   "children": [
     {"name": "publisher", "table": "public.publisher", "relationship": "one",
      "join": {"publisher_id": "id"}, "columns": ["name", "country"]},
     {"name": "authors", "table": "public.author", "relationship": "many",
      "through": {"table": "public.book_author", "join": {"id": "book_id"}, "to": {"author_id": "id"}},
      "columns": ["name"], "order_by": ["name"]},
     {"name": "reviews", "table": "public.review", "relationship": "many",
      "join": {"id": "book_id"}, "columns": ["rating", "body"], "rename": {"body": "text"},
      "children": [{"name": "user", "table": "public.users", "relationship": "one",
                    "join": {"user_id": "id"}, "columns": ["username"]}]}
   ]}
]'
T_LOGS+=("$T_DIR/init.log" "$T_DIR/check.log")
check "versync check accepts the tree" bash -c "'$VERSYNC' -c '$CFG' check >'$T_DIR/check.log' 2>&1"
check "versync init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
assert_eq "init installs capture on every table of the tree (4 triggers each on 6 tables)" 24 \
  "$(sql "select count(*) from pg_trigger where tgname like 'versync_nested_%'")"
INIT2=$("$VERSYNC" -c "$CFG" init 2>&1)
echo "# second init: $INIT2"
check "a second init replaces no trigger" bash -c "! grep -q 'trigger' <<<'$INIT2'"

# The documents as an independent query builds them.
Q_BOOKS="select b.id::text as id,
  to_jsonb(b) || jsonb_build_object(
    'publisher', (select jsonb_build_object('name', p.name, 'country', p.country) from publisher p where p.id = b.publisher_id),
    'authors', coalesce((select jsonb_agg(jsonb_build_object('name', a.name) order by a.name)
                           from book_author ba join author a on a.id = ba.author_id where ba.book_id = b.id), '[]'),
    'reviews', coalesce((select jsonb_agg(jsonb_build_object('rating', r.rating, 'text', r.body,
                           'user', (select jsonb_build_object('username', u.username) from users u where u.id = r.user_id))
                           order by r.id) from review r where r.book_id = b.id), '[]')) as doc,
  null::bigint as v from book b"
books_converged() { converged books "$Q_BOOKS"; }

sql "
insert into publisher values (1, 'Penguin', 'UK', 1935), (2, 'Knopf', 'US', 1915);
insert into book values (1, 'Dune', 1), (2, 'Emma', 1), (3, 'Ulysses', 2), (4, 'Orphan', null);
insert into author values (1, 'Austen', 1775), (2, 'Herbert', 1920), (3, 'Joyce', 1882);
insert into book_author values (1, 2), (2, 1), (3, 3), (3, 1);
insert into users values (1, 'ann', 'a@x'), (2, 'bob', 'b@x');
insert into review values (1, 1, 1, 5, 'great'), (2, 1, 2, 3, 'ok'), (3, 3, 1, 4, 'long');
"
check "once drains the inserts" once_ok once1
check "round 1: every book document equals its rows" books_converged
assert_eq "one: the publisher object; many: ordered arrays; three levels: the review's user" \
  '{"authors":[{"name":"Austen"},{"name":"Joyce"}],"id":3,"publisher":{"country":"US","name":"Knopf"},"publisher_id":2,"reviews":[{"rating":4,"text":"long","user":{"username":"ann"}}],"title":"Ulysses"}' \
  "$(doc books 3)"
assert_eq "no publisher is null, no reviews is []" '{"authors":[],"id":4,"publisher":null,"publisher_id":null,"reviews":[],"title":"Orphan"}' "$(doc books 4)"

# ---- a shared row renamed reaches every root ---------------------------------
sql "update publisher set name = 'Penguin Books' where id = 1"
assert_eq "one change row per root the rename touches" 2 "$(sql "select count(*) from versync.changes where tbl = 'public.book'")"
check "once drains the rename" once_ok once2
assert_eq "book 1 shows the new name" '"Penguin Books"' "$(doc books 1 | jq -c .publisher.name)"
assert_eq "book 2 shows the new name" '"Penguin Books"' "$(doc books 2 | jq -c .publisher.name)"
sql "update publisher set founded = 1936 where id = 1; update review set rating = rating where id = 1"
assert_eq "updates that change nothing a document shows write no change row" 0 "$(backlog)"
check "round 2 converged" books_converged

# ---- moves between parents ---------------------------------------------------
sql "update review set book_id = 2 where id = 2"
assert_eq "a moved child touches its old and its new parent" "1,2" \
  "$(sql "select string_agg(key[1], ',' order by key[1]) from versync.changes where tbl = 'public.book'")"
sql "update book set publisher_id = 2 where id = 2"
sql "update book_author set book_id = 4 where book_id = 3 and author_id = 1"
check "once drains the moves" once_ok once3
check "after moves: converged" books_converged
assert_eq "book 1 lost the moved review" 1 "$(doc books 1 | jq '.reviews | length')"
assert_eq "book 4 gained the moved link's author" '[{"name":"Austen"}]' "$(doc books 4 | jq -c .authors)"

# ---- through: link inserts and author renames; grandchild renames --------------
sql "insert into book_author values (1, 3); update author set name = 'J. Austen' where id = 1"
sql "update users set username = 'anne' where id = 1"
check "once drains link/author/grandchild changes" once_ok once4
check "after renames: converged" books_converged
assert_eq "a grandchild rename reaches every book its reviews are on" '"anne"' "$(doc books 3 | jq -c '.reviews[0].user.username')"

# ---- deletes at every level ----------------------------------------------------
sql "delete from users where id = 2"
sql "delete from review where id = 3"
sql "delete from book_author where book_id = 1 and author_id = 2"
sql "delete from author where id = 3"
sql "delete from publisher where id = 2"
check "once drains deletes below the root" once_ok once5
check "after child deletes: converged" books_converged
sql "delete from book where id = 4"
check "once drains a root delete" once_ok once6
assert_eq "the deleted root's document is gone" missing "$(doc books 4)"
check "after the root delete: converged" books_converged
sql "insert into book values (4, 'Orphan again', 1)"
check "once drains a re-insert" once_ok once7
check "a re-inserted root is back" books_converged

# ---- the late commit: a child change numbered first, committed last -----------
mkfifo "$T_DIR/a.fifo"
psql -XAtq -v ON_ERROR_STOP=1 <"$T_DIR/a.fifo" >"$T_DIR/a.out" 2>&1 &
T_PIDS+=($!)
exec 7>"$T_DIR/a.fifo"
echo "begin; update review set body = 'late' where id = 1; select 'held';" >&7
check "transaction A holds an uncommitted review change" wait_until 20 grep -q held "$T_DIR/a.out"
sql "update book set title = 'Dune (2nd ed.)' where id = 1"
check "a worker syncs B's root change while A is open" once_ok once8
assert_eq "the document has B's title" '"Dune (2nd ed.)"' "$(doc books 1 | jq -c .title)"
assert_eq "and not yet A's review" '"great"' "$(doc books 1 | jq -c '.reviews[0].text')"
echo "commit; select 'committed';" >&7
check "A commits" wait_until 20 grep -q committed "$T_DIR/a.out"
exec 7>&-
check "a worker syncs A's change" once_ok once9
assert_eq "A's change, numbered before B's, is in the document" '"late"' "$(doc books 1 | jq -c '.reviews[0].text')"
assert_eq "nothing was refused as stale" 0 "$(summary_field stale)"
check "after the late commit: converged" books_converged

# ---- a root deleted while a child change walks up to it --------------------------
# The delete is numbered first; the child change, numbered after it, names the root too.
# Coalesced, the batch's latest change of the root is the child's, yet the root is gone:
# the document must be deleted all the same.
sql "insert into book values (5, 'Doomed', 1); insert into review values (50, 5, 1, 1, 'x')"
check "once syncs the doomed book" once_ok once_d1
assert_eq "the doomed book is in the store" '"Doomed"' "$(doc books 5 | jq -c .title)"
mkfifo "$T_DIR/d.fifo"
psql -XAtq -v ON_ERROR_STOP=1 <"$T_DIR/d.fifo" >"$T_DIR/d.out" 2>&1 &
T_PIDS+=($!)
exec 8>"$T_DIR/d.fifo"
echo "begin; delete from book where id = 5; select 'held';" >&8
check "transaction D holds the root delete" wait_until 20 grep -q held "$T_DIR/d.out"
sql "update review set body = 'y' where id = 50"
echo "commit; select 'committed';" >&8
check "D commits after the child change" wait_until 20 grep -q committed "$T_DIR/d.out"
exec 8>&-
assert_eq "the child change names the deleted root after the delete" "D,U" \
  "$(sql "select string_agg(op::text, ',' order by seq) from versync.changes where key = '{5}'")"
check "once drains both" once_ok once_d2
assert_eq "the deleted root's document is gone" missing "$(doc books 5)"
sql "delete from review where id = 50"
check "once drains the orphan review" once_ok once_d3

# ---- a statement touching many rows writes one change row per root ---------------
sql "insert into review select g, 1 + g % 3, 1, g % 5, 'bulk' from generate_series(100, 399) g"
assert_eq "300 review inserts touching 3 books: 3 change rows" 3 "$(sql "select count(*) from versync.changes")"
check "once drains the bulk insert" once_ok once10
check "after the bulk insert: converged" books_converged

# ---- verify and verify --repair read nested documents ----------------------------
out=$(vs verify); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "verify on synced nested documents exits 0" 0 "$rc"
curl -s -o /dev/null -X DELETE "$STORE_URL/books/_doc/2"
v1=$(doc_version books 1)
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
  -d '{"id":1,"title":"Dune","publisher_id":1,"publisher":null,"authors":[],"reviews":[]}' \
  "$STORE_URL/books/_doc/1?version=$((v1 + 1))&version_type=external"
json=$(vs verify --json); rc=$?
assert_eq "drift in nested documents: exit 1" 1 "$rc"
assert_eq "a missing and a differing nested document" '[{"id":"1","kind":"differs"},{"id":"2","kind":"missing"}]' \
  "$(jq -c '[.tables[0].drift[] | {id, kind}] | sort_by(.id)' <<<"$json")"
vs verify --repair >/dev/null
check "once applies the repair" once_ok once11
assert_eq "the repair was not refused as stale" 0 "$(summary_field stale)"
out=$(vs verify); rc=$?
assert_eq "verify after --repair exits 0" 0 "$rc"
check "after the repair: converged" books_converged

# ---- backfill builds nested documents -------------------------------------------
curl -s -o /dev/null -X DELETE "$STORE_URL/books"
vs init >/dev/null
out=$(vs backfill 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "backfill exits 0" 0 "$rc"
check "backfill wrote every nested document" books_converged
sql "update users set username = 'ann2' where id = 1"
check "once after backfill" once_ok once12
assert_eq "a change after the backfill wins over its copy" 0 "$(summary_field stale)"
check "after backfill and a change: converged" books_converged

# ---- check validates every join against the catalogue ----------------------------
BAD=$T_DIR/bad.json
bad_child() {
  ws_config "$BAD" "[{\"table\": \"public.book\", \"children\": [$1]}]"
  "$VERSYNC" -c "$BAD" check 2>&1
}
out=$(bad_child '{"name": "publisher", "table": "public.publisher", "relationship": "one", "join": {"publisher": "id"}}')
assert_match "a join column missing on the parent side" "tables\[0\]\.children\[0\]\.join: column \"publisher\" does not exist in public.book" "$out"
out=$(bad_child '{"name": "publisher", "table": "public.publisher", "relationship": "one", "join": {"publisher_id": "name"}}')
assert_match "join columns of different types" "children\[0\]\.join\.publisher_id: public.book.publisher_id is integer and public.publisher.name is text" "$out"
out=$(bad_child '{"name": "title", "table": "public.publisher", "relationship": "one", "join": {"publisher_id": "id"}}')
assert_match "a child named like a field of the parent" "children\[0\]\.name: \"title\" is already a field of the parent document" "$out"
out=$(bad_child '{"name": "p", "table": "public.nosuch", "relationship": "one", "join": {"publisher_id": "id"}}')
assert_match "a child table that does not exist" "children\[0\]\.table: public.nosuch does not exist" "$out"
out=$(bad_child '{"name": "authors", "table": "public.author", "relationship": "many", "through": {"table": "public.book_author", "join": {"id": "book_id"}, "to": {"author_id": "nosuch"}}}')
assert_match "a through.to column missing on the child" "children\[0\]\.through\.to: column \"nosuch\" does not exist in public.author" "$out"
sql "create table note (id int primary key, book_ref int, body text)"
out=$(bad_child '{"name": "notes", "table": "public.note", "relationship": "many", "join": {"id": "book_ref"}}'); rc=$?
assert_eq "a join without an index is accepted" 0 "$rc"
assert_match "with a warning that the re-read will scan" "warning: tables\[0\]\.children\[0\]\.join: no index of public.note starts with \(book_ref\): the re-read of each document will scan the table" "$out"

done_testing
