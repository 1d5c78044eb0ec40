#!/usr/bin/env bash
# Nested documents over partitioned tables: a partitioned root and a partitioned child. init puts
# the nested-document triggers on every partition too (a statement trigger fires only on the
# table its statement names), so rows written through the parents and straight into partitions
# reach the documents alike; rows that move between partitions, of the root and of the child;
# a partition created after init is named by check until init gives it its triggers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create table orders (id int not null, region text not null, customer text, primary key (id, region))
       partition by list (region);
     create table orders_eu partition of orders for values in ('eu');
     create table orders_us partition of orders for values in ('us') partition by range (id);
     create table orders_us_a partition of orders_us for values from (0) to (10);
     create table orders_us_rest partition of orders_us default;
     create table items (id int not null, order_id int not null, sku text, qty int,
                         primary key (id, order_id)) partition by range (order_id);
     create index on items (order_id);
     create table items_lo partition of items for values from (0) to (10);
     create table items_hi partition of items for values from (10) to (100);"
ws_config "$CFG" '[{"table": "public.orders", "key": ["id"],
  "children": [{"name": "items", "table": "public.items", "relationship": "many",
                "join": {"id": "order_id"}, "columns": ["sku", "qty"], "order_by": ["sku"]}]}]'
Q="select o.id::text as id, to_jsonb(o) || jsonb_build_object('items', coalesce(
     (select jsonb_agg(jsonb_build_object('sku', i.sku, 'qty', i.qty) order by i.sku)
        from items i where i.order_id = o.id), '[]'::jsonb)) as doc, null::bigint as v from orders o"

T_LOGS+=("$T_DIR/init.log" "$T_DIR/check.log")
check "check accepts a partitioned root and child" bash -c "'$VERSYNC' -c '$CFG' check >'$T_DIR/check.log' 2>&1"
check "init" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
# orders, orders_eu, orders_us, orders_us_a, orders_us_rest; items, items_lo, items_hi: 4 each.
assert_eq "init put the nested triggers on both parents and every partition" 32 \
  "$(sql "select count(*) from pg_trigger where tgname like 'versync_nested_%'")"
assert_eq "every partition has them" "" \
  "$(sql "select string_agg(c.relname, ',') from pg_class c where c.relname ~ '^(orders|items)_' and c.relkind in ('r','p')
            and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname like 'versync_nested_%')")"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
check "check names no partition without triggers" bash -c "! grep -q 'nested-document triggers' <<<'$out'"

# Through the parents.
sql "insert into orders values (1, 'eu', 'ann'), (2, 'us', 'bob'), (3, 'us', 'amy');
     insert into items values (1, 1, 'a', 1), (2, 1, 'b', 2), (3, 2, 'c', 3), (4, 20, 'orphan', 1);"
check "once" once_ok first
assert_eq "documents built through the parents" 0 "$(mismatches orders "$Q")"

# Straight into partitions, at every level.
sql "insert into items_lo values (10, 3, 'direct-lo', 5);
     update items_lo set qty = 7 where id = 2;
     delete from items_lo where id = 3;
     insert into orders_us_rest values (20, 'us', 'zed');
     insert into items_hi values (11, 20, 'direct-hi', 6);
     update orders_us_a set customer = 'bob2' where id = 2;"
check "once" once_ok direct
assert_eq "rows written straight into partitions reach the documents" 0 "$(mismatches orders "$Q")"
check "the order of a direct child row shows it" \
  bash -c "curl -s '$STORE_URL/orders/_doc/3' | jq -e '._source.items[] | select(.sku == \"direct-lo\")' >/dev/null"

# Rows that move between partitions: a root row (eu -> us: into a sub-partition) and a child
# row (order 1 -> order 20: items_lo -> items_hi).
sql "update orders set region = 'us' where id = 1;
     update orders set customer = 'ann2' where id = 3;
     update items set order_id = 20 where id = 1;"
check "once" once_ok moved
assert_eq "moved rows leave the documents right" 0 "$(mismatches orders "$Q")"

# A partition created after init: its rows through the parent are captured at once; check names
# it; init gives it the triggers, and rows written straight into it are captured from then on.
sql "create table items_top partition of items for values from (100) to (1000);
     insert into orders values (500, 'eu', 'new');
     insert into items values (50, 500, 'via-parent', 1);"
check "once" once_ok new_partition
assert_eq "a new partition's rows written through the parent are captured" 0 "$(mismatches orders "$Q")"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
assert_match "check names the partition that lacks the nested triggers" \
  'partition of public.items lacks versync.s nested-document triggers \(public.items_top\)' "$out"
check "init again" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
check "init replaced the nested triggers" grep -q 'replaced 36 nested-document capture triggers' "$T_DIR/init.log"
sql "insert into items_top values (51, 500, 'direct-top', 2)"
check "once" once_ok after_init
assert_eq "rows written straight into it are captured after init" 0 "$(mismatches orders "$Q")"
out=$("$VERSYNC" -c "$CFG" check 2>&1)
check "check is quiet about partitions again" bash -c "! grep -q 'nested-document triggers' <<<'$out'"

# A partition detached: its triggers go at the next init.
sql "alter table items detach partition items_top"
check "init after a detach" bash -c "'$VERSYNC' -c '$CFG' init >'$T_DIR/init.log' 2>&1"
assert_eq "the detached partition no longer carries nested triggers" 0 \
  "$(sql "select count(*) from pg_trigger where tgrelid = 'items_top'::regclass and tgname like 'versync_nested_%'")"

done_testing
