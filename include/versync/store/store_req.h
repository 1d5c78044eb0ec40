/* store_req — reading a verstore request: query parameters validated as Elasticsearch does, and the JSON body. */
#ifndef VERSYNC_STORE_REQ_H
#define VERSYNC_STORE_REQ_H

#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

const char *store_req_param(const store_req *req, const char *key);

bool store_req_param_true(const store_req *req, const char *key);

bool store_req_long(const store_req *req, const char *key, int64_t *out, bool *present, store_resp *resp);

/* version, version_type, if_seq_no, if_primary_term. */
bool store_req_write_params(const store_req *req, store_wparams *w, bool *has_version, bool *has_vtype,
                            store_resp *resp);

/* A boolean parameter as Elasticsearch's paramAsBoolean reads it: absent →
 * `dflt`; "", "true" → true; "false" → false; anything else is a 400. */
bool store_req_bool(const store_req *req, const char *key, bool dflt, bool *out, store_resp *resp);

/* Parameters verstore cannot honour are refused, never ignored: ?pipeline
 * names an ingest pipeline, and verstore has none ("_none" asks for none,
 * as in Elasticsearch); ?require_data_stream=true asks for a data stream,
 * and verstore has none either. */
bool store_req_pipeline(const store_req *req, store_resp *resp);

/* refresh=true|""|false|wait_for; sets *forced. */
bool store_req_refresh(const store_req *req, bool *forced, store_resp *resp);

bool store_req_content_type_ok(const char *ct);

/* Give the integer literals of `root` (parsed from text[0..n)) past 2^53
 * their exact text in valuestring, as store_req_json_body does for a body.
 * False when out of memory. */
bool store_req_keep_big_ints(cJSON *root, const char *text, size_t n);

bool store_req_json_body(const store_req *req, cJSON **out, store_resp *resp);

#endif
