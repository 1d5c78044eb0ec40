#!/usr/bin/env bash
# Every PostgreSQL type reaches the index as the JSON a search user expects: money as a number,
# bytea as base64 (Elasticsearch's binary), ranges as {gte|gt, lte|lt} objects (its range
# types), multiranges and arrays as arrays of those, intervals as ISO 8601 durations, and
# numeric/real/double NaN ±Infinity and timestamp/date ±infinity by the "special_values" rule
# ("null" by default, "clamp", "string") instead of a dead letter when the field is mapped
# numeric or date. The worker, backfill and nested children render alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

check "throwaway PostgreSQL starts" pg_start
check "verstore starts" verstore_start
CFG=$T_DIR/versync.json
sql "create domain cash as money;
     create table public.ty (id int primary key, m money, md cash, b bytea, i interval, i0 interval,
       n numeric(12,2), f real, d double precision, ts timestamp, tz timestamptz, dt date,
       r int4range, nr numrange, tr tsrange, dr daterange, mr int4multirange, ba bytea[], ma money[],
       ir int8range[], t text, ren money);
     create table public.sv (id int primary key, n numeric, f real, d double precision, ts timestamp,
       tz timestamptz, dt date, nr numrange, ok numeric);
     create table public.ss (id int primary key, n numeric, ts timestamp);
     create table public.parent (id int primary key, name text);
     create table public.kid (id int primary key, parent_id int, price money, blob bytea, span tsrange);"
cat >"$CFG" <<EOF
{ "postgres": "$PG_CONNINFO", "store": {"url": "$STORE_URL"}, "listen": false,
  "tables": [
    {"table": "public.ty", "rename": {"ren": "price"},
     "mappings": {"properties": {"n": {"type": "double"}, "f": {"type": "float"}, "d": {"type": "double"},
                                 "ts": {"type": "date"}, "tz": {"type": "date"}, "dt": {"type": "date"}}}},
    {"table": "public.sv", "special_values": "clamp",
     "mappings": {"properties": {"n": {"type": "double"}, "f": {"type": "float"}, "ts": {"type": "date"}, "tz": {"type": "date"},
                                 "dt": {"type": "date"},
                                 "nr": {"properties": {"gte": {"type": "double"}, "lt": {"type": "double"}}}}}},
    {"table": "public.ss", "special_values": "string",
     "mappings": {"properties": {"n": {"type": "keyword"}, "ts": {"type": "keyword"}}}},
    {"table": "public.parent",
     "children": [{"name": "kids", "table": "public.kid", "relationship": "many", "join": {"id": "parent_id"},
                   "exclude": ["parent_id"]}]} ] }
EOF
T_LOGS+=("$T_DIR/init.log")

ROW="'12.34', '5.5', '\\xdeadbeef', '1 year 2 months 3 days 04:05:06.5', '0', 'NaN', 'Infinity',
     '-Infinity', 'infinity', '-infinity', 'infinity', '[1,10)', '(1.5,2.5]', '[2024-01-01 10:00,)',
     'empty', '{[1,3), [5,7)}', '{\"\\\\xdead\",NULL}', '{1.50,2.25}', '{\"[1,5)\"}', 'plain', '7'"
# Row 0 exists before init: it reaches the index through backfill.
sql "insert into public.ty values (0, $ROW)"
check "versync init --backfill" bash -c "'$VERSYNC' -c '$CFG' init --backfill >'$T_DIR/init.log' 2>&1"
# Row 1 arrives through the trigger and the worker.
sql "insert into public.ty values (1, $ROW);
     insert into public.sv values (1, 'Infinity', '-Infinity', 'NaN', 'infinity', '-infinity', '-infinity',
                                  '[1,Infinity)', 3.5);
     insert into public.ss values (1, 'NaN', 'infinity');
     insert into public.parent values (1, 'p');
     insert into public.kid values (1, 1, '3.10', '\\x00ff', '[2024-05-01,2024-06-01)');"
check "once applies the changes" once_ok once
assert_eq "no dead letters" 0 "$(sql "select count(*) from versync.dead_letters")"

# same_json DESC EXPECTED ACTUAL — equal as JSON values (numbers compared as numbers).
same_json() {
  if jq -en --argjson a "$2" --argjson b "$3" '$a == $b' >/dev/null 2>&1; then ok "$1"; else
    not_ok "$1"; printf '#   wanted %s\n#   got    %s\n' "$2" "$3"
  fi
}
for id in 1 0; do
  how=$([ $id = 1 ] && echo "the worker" || echo "backfill")
  d=$(doc ty $id)
  same_json "$how: money is a number" 12.34 "$(jq -c .m <<<"$d")"
  same_json "$how: money under a domain too" 5.5 "$(jq -c .md <<<"$d")"
  same_json "$how: a renamed money column too" 7 "$(jq -c .price <<<"$d")"
  same_json "$how: bytea is base64" '"3q2+7w=="' "$(jq -c .b <<<"$d")"
  same_json "$how: interval is ISO 8601" '"P1Y2M3DT4H5M6.5S"' "$(jq -c .i <<<"$d")"
  same_json "$how: a zero interval is PT0S" '"PT0S"' "$(jq -c .i0 <<<"$d")"
  same_json "$how: numeric NaN is null" null "$(jq -c .n <<<"$d")"
  same_json "$how: real Infinity is null" null "$(jq -c .f <<<"$d")"
  same_json "$how: double -Infinity is null" null "$(jq -c .d <<<"$d")"
  same_json "$how: timestamp infinity is null" null "$(jq -c .ts <<<"$d")"
  same_json "$how: timestamptz -infinity is null" null "$(jq -c .tz <<<"$d")"
  same_json "$how: date infinity is null" null "$(jq -c .dt <<<"$d")"
  same_json "$how: int4range is {gte, lt}" '{"gte":1,"lt":10}' "$(jq -c .r <<<"$d")"
  same_json "$how: numrange keeps its bound kinds" '{"gt":1.5,"lte":2.5}' "$(jq -c .nr <<<"$d")"
  same_json "$how: an unbounded side is left out" '{"gte":"2024-01-01T10:00:00"}' "$(jq -c .tr <<<"$d")"
  same_json "$how: an empty range is null" null "$(jq -c .dr <<<"$d")"
  same_json "$how: a multirange is an array of ranges" '[{"gte":1,"lt":3},{"gte":5,"lt":7}]' "$(jq -c .mr <<<"$d")"
  same_json "$how: bytea[] is an array of base64" '["3q0=",null]' "$(jq -c .ba <<<"$d")"
  same_json "$how: money[] is an array of numbers" '[1.5,2.25]' "$(jq -c .ma <<<"$d")"
  same_json "$how: int8range[] is an array of ranges" '[{"gte":1,"lt":5}]' "$(jq -c .ir <<<"$d")"
  same_json "$how: text is unchanged" '"plain"' "$(jq -c .t <<<"$d")"
done

d=$(doc sv 1)
same_json "clamp: numeric Infinity is the largest double" 1.7976931348623157e308 "$(jq -c .n <<<"$d")"
same_json "clamp: real -Infinity is the smallest float" -3.4028235e38 "$(jq -c .f <<<"$d")"
same_json "clamp: NaN is null" null "$(jq -c .d <<<"$d")"
same_json "clamp: timestamp infinity is 9999-12-31" '"9999-12-31T00:00:00"' "$(jq -c .ts <<<"$d")"
assert_match "clamp: timestamptz -infinity is 0001-01-02" '^"0001-01-0[12]T' "$(jq -c .tz <<<"$d")"
same_json "clamp: date -infinity is 0001-01-02" '"0001-01-02"' "$(jq -c .dt <<<"$d")"
same_json "clamp: a range bound at Infinity is clamped" '{"gte":1,"lt":1.7976931348623157e308}' "$(jq -c .nr <<<"$d")"
same_json "clamp: ordinary numbers are unchanged" 3.5 "$(jq -c .ok <<<"$d")"
d=$(doc ss 1)
same_json "string: numeric NaN stays \"NaN\"" '"NaN"' "$(jq -c .n <<<"$d")"
same_json "string: timestamp infinity stays \"infinity\"" '"infinity"' "$(jq -c .ts <<<"$d")"

d=$(doc parent 1)
same_json "nested children render alike" \
  '[{"id":1,"price":3.1,"blob":"AP8=","span":{"gte":"2024-05-01T00:00:00","lt":"2024-06-01T00:00:00"}}]' \
  "$(jq -c .kids <<<"$d")"

# A wrong rule is a config error naming the path.
sed -i 's/"special_values": "clamp"/"special_values": "zero"/' "$CFG"
err=$("$VERSYNC" -c "$CFG" check 2>&1 >/dev/null)
assert_match "a bad special_values names the path" \
  'tables\[1\].special_values: must be "null", "clamp" or "string"' "$err"

done_testing
