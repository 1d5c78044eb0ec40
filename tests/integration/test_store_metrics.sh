#!/usr/bin/env bash
# verstore GET /_prometheus/metrics: Prometheus text format 0.0.4 (every
# sample's family has # HELP and # TYPE, every value is a number), request
# counters by endpoint name and status, bulk item results, version conflicts,
# live document and tombstone gauges per index, writer commit histograms.
. "$(dirname "$0")/lib.sh"

check "verstore starts" verstore_start || { done_testing; exit 1; }

scrape() { curl -s "$STORE_URL/_prometheus/metrics" >"$T_DIR/metrics.txt"; }
# metric 'name{labels}' — the sample's value, 0 when absent
metric() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$T_DIR/metrics.txt"; }

# the text format: HELP and TYPE before each family, numeric values, known types
format_problems() {
  awk '
    /^# HELP / { help[$3] = 1; next }
    /^# TYPE / { if (!($3 in help)) print "TYPE before HELP: " $3
                 if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) print "bad type: " $0
                 type[$3] = $4; next }
    /^#/ || /^$/ { next }
    { name = $1; sub(/\{.*/, "", name); fam = name
      if (!(fam in type)) { sub(/_(bucket|sum|count)$/, "", fam) }
      if (!(fam in type) || !(fam in help)) print "no HELP/TYPE: " $0
      if (NF != 2 || $2 !~ /^[-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN)$/) print "bad sample: " $0 }
  ' "$T_DIR/metrics.txt"
}

http GET /_prometheus/metrics
assert_eq "GET /_prometheus/metrics: 200" 200 "$HTTP_STATUS"
assert_match "text format 0.0.4 content type" "text/plain; version=0.0.4" "$(http_header Content-Type)"
http POST /_prometheus/metrics
assert_eq "POST /_prometheus/metrics: 405" 405 "$HTTP_STATUS"

scrape
assert_eq "an idle store's exposition is well formed" "" "$(format_problems)"
before_conflicts=$(metric verstore_version_conflicts_total)
before_201=$(metric 'verstore_http_requests_total{endpoint="doc_write",status="201"}')
before_fsync=$(metric verstore_fsync_seconds_count)

http PUT '/m1/_doc/1?version=5&version_type=external' '{"a":1}'
http PUT '/m1/_doc/2' '{"a":2}'
http PUT '/m1/_doc/3' '{"a":3}'
http PUT '/m1/_doc/1?version=4&version_type=external' '{"a":0}'
assert_eq "a stale external write conflicts" 409 "$HTTP_STATUS"
http DELETE /m1/_doc/2
http GET /m1/_doc/1
http GET /m1/_doc/nosuch
http GET /nosuch/_search
http POST /_bulk $'{"index":{"_index":"m1","_id":"4"}}\n{}\n{"create":{"_index":"m1","_id":"4"}}\n{}\n{"delete":{"_index":"m1","_id":"3"}}\n{"update":{"_index":"m1","_id":"4"}}\n{"doc":{}}\n'
assert_json "the bulk request had its create conflict" '[.items[] | .[] | .status]' '[201,409,200,200]'
http GET '/some/odd/path/that/is/unknown/x'

scrape
assert_eq "after writes the exposition is still well formed" "" "$(format_problems)"
assert_eq "verstore_version_conflicts_total counts the single and the bulk conflict" \
  $((before_conflicts + 2)) "$(metric verstore_version_conflicts_total)"
assert_eq "requests are counted by endpoint and status (3 document creates)" \
  $((before_201 + 3)) "$(metric 'verstore_http_requests_total{endpoint="doc_write",status="201"}')"
assert_eq "the 409 of a single write is counted" 1 "$(metric 'verstore_http_requests_total{endpoint="doc_write",status="409"}')"
assert_eq "reads are their own endpoint (found and missing)" "1 1" \
  "$(metric 'verstore_http_requests_total{endpoint="doc_read",status="200"}') $(metric 'verstore_http_requests_total{endpoint="doc_read",status="404"}')"
assert_eq "a search of a missing index is counted as a 404" 1 "$(metric 'verstore_http_requests_total{endpoint="search",status="404"}')"
assert_eq "the bulk request is counted once" 1 "$(metric 'verstore_http_requests_total{endpoint="bulk",status="200"}')"
assert_eq "unknown paths are counted under a fixed name, never the raw path" 1 \
  "$(metric 'verstore_http_requests_total{endpoint="other",status="400"}')"
check "no raw path becomes a label" bash -c "! grep -q 'odd' '$T_DIR/metrics.txt'"
assert_eq "bulk items by action and result" "1 1 1 1" \
  "$(metric 'verstore_bulk_items_total{action="index",result="created"}') $(metric 'verstore_bulk_items_total{action="create",result="conflict"}') $(metric 'verstore_bulk_items_total{action="delete",result="deleted"}') $(metric 'verstore_bulk_items_total{action="update",result="noop"}')"
assert_eq "verstore_documents: live documents of the index (1 and 4)" 2 "$(metric 'verstore_documents{index="m1"}')"
assert_eq "verstore_tombstones: the two deletes left tombstones" 2 "$(metric 'verstore_tombstones{index="m1"}')"
after_fsync=$(metric verstore_fsync_seconds_count)
check "verstore_fsync_seconds counts the writer's commits" test "$after_fsync" -gt "$before_fsync"
assert_eq "the fsync histogram's +Inf bucket equals its count" "$after_fsync" "$(metric 'verstore_fsync_seconds_bucket{le="+Inf"}')"
check "verstore_writer_batch_jobs counts committed batches" test "$(metric verstore_writer_batch_jobs_count)" -gt 0
# Analysed before the writer: documents 2 and 3 and the bulk's index item
# (the first PUT created the index, so the writer analysed it; the conflicts
# never reached analysis), each written from that work.
assert_eq "verstore_index_prepared_docs_total: used, redone" "3 0" \
  "$(metric 'verstore_index_prepared_docs_total{result="used"}') $(metric 'verstore_index_prepared_docs_total{result="redone"}')"

# the gauges are kept with the index records, so they survive a restart
check "verstore restarts" verstore_stop
check "and comes back" verstore_start
scrape
assert_eq "document gauge after a restart" 2 "$(metric 'verstore_documents{index="m1"}')"
assert_eq "tombstone gauge after a restart" 2 "$(metric 'verstore_tombstones{index="m1"}')"
http DELETE /m1
scrape
assert_eq "a deleted index leaves the gauges" 0 "$(grep -c 'index="m1"' "$T_DIR/metrics.txt")"

done_testing
