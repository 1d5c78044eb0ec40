#!/usr/bin/env bash
# A plain or materialized view cannot be captured: versync's row triggers fire only on writes
# to the table they are on, and a view has no rows of its own. check and init refuse it with
# that reason (not just "not an ordinary table") and point at the base tables.
. "$(dirname "$0")/lib.sh"

pg_start || exit 1
sql "create table public.products (id int primary key, name text);
     create view public.pview as select * from public.products;
     create materialized view public.mview as select * from public.products;"
F=$T_DIR/v.json
for v in pview mview; do
  cat >"$F" <<EOF
{ "postgres": "$PG_CONNINFO", "tables": [ {"table": "public.$v", "key": ["id"]} ] }
EOF
  for cmd in check "init --no-store"; do
    err=$("$VERSYNC" -c "$F" $cmd 2>&1 >/dev/null); rc=$?
    assert_eq "$cmd refuses public.$v (exit 2: configuration)" 2 "$rc"
    assert_match "$cmd says why a view cannot be captured" \
      "tables\[0\].table: public.$v is a (materialized )?view; a view cannot be captured: .*row triggers only fire on writes to the table they are on.*Map the base table" "$err"
  done
done
assert_eq "init created nothing" 0 "$(sql "select count(*) from pg_namespace where nspname = 'versync'")"
done_testing
