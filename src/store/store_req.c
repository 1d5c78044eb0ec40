/* store_req — reading a verstore request: query parameters validated as Elasticsearch does, and the JSON body. */
#include "versync/store/store_req.h"

#include "versync/store/store_api_int.h"
#include "versync/store/store_admin.h"
#include "versync/store/store_docs.h"
#include "versync/store/store_resp.h"
#include "versync/store/store_routes.h"
#include "versync/store/store_metrics.h"
#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_bulk.h"
#include "versync/store/store_analysis.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
#include "versync/store/store_router.h"
#include "versync/store/store_search.h"
#include "versync/store/store_indices.h"
#include "versync/store/store_srcfilter.h"
#include "versync/store/store_util.h"
#include "versync/store/store_version.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- parameters ------------------------------------------------------------ */

const char *store_req_param(const store_req *req, const char *key)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].key, key) == 0)
            return req->params[i].value;
    return NULL;
}

bool store_req_param_true(const store_req *req, const char *key)
{
    const char *v = store_req_param(req, key);
    return v && (strcmp(v, "") == 0 || strcmp(v, "true") == 0);
}

bool store_req_long(const store_req *req, const char *key, int64_t *out, bool *present, store_resp *resp)
{
    const char *v = store_req_param(req, key);
    *present = v != NULL;
    if (!v)
        return true;
    if (json_parse_long(v, strlen(v), out))
        return true;
    buf caused = BUF_INIT, reason = BUF_INIT;
    buf_puts(&caused, "{\"type\":\"number_format_exception\",\"reason\":");
    buf msg = BUF_INIT;
    buf_printf(&msg, "For input string: \"%s\"", v);
    store_resp_jstr(&caused, msg.data);
    buf_putc(&caused, '}');
    buf_printf(&reason, "Failed to parse long parameter [%s] with value [%s]", key, v);
    store_resp_error_n(resp, 400, "illegal_argument_exception", reason.data, reason.len, NULL, caused.data);
    buf_free(&caused);
    buf_free(&reason);
    buf_free(&msg);
    return false;
}

/* version, version_type, if_seq_no, if_primary_term. */
bool store_req_write_params(const store_req *req, store_wparams *w, bool *has_version, bool *has_vtype, store_resp *resp)
{
    w->vtype = STORE_VT_INTERNAL;
    w->version = STORE_MATCH_ANY;
    w->if_seq_no = STORE_UNASSIGNED_SEQ_NO;
    w->if_primary_term = STORE_UNASSIGNED_TERM;
    bool present;
    if (!store_req_long(req, "version", &w->version, has_version, resp))
        return false;
    const char *vt = store_req_param(req, "version_type");
    *has_vtype = vt != NULL;
    if (vt && !store_vtype_parse(vt, &w->vtype)) {
        store_resp_errorf(resp, 400, "illegal_argument_exception", "No version type match [%s]", vt);
        return false;
    }
    if (!store_req_long(req, "if_seq_no", &w->if_seq_no, &present, resp))
        return false;
    if (present && w->if_seq_no < 0) {
        store_resp_errorf(resp, 400, "illegal_argument_exception", "sequence numbers must be non negative. got [%" PRId64 "].",
               w->if_seq_no);
        return false;
    }
    if (!store_req_long(req, "if_primary_term", &w->if_primary_term, &present, resp))
        return false;
    if (present && w->if_primary_term < 0) {
        store_resp_errorf(resp, 400, "illegal_argument_exception", "primary term must be non negative. got [%" PRId64 "]",
               w->if_primary_term);
        return false;
    }
    return true;
}

/* A boolean parameter as Elasticsearch's paramAsBoolean reads it: absent →
 * `dflt`; "", "true" → true; "false" → false; anything else is a 400. */
bool store_req_bool(const store_req *req, const char *key, bool dflt, bool *out, store_resp *resp)
{
    const char *v = store_req_param(req, key);
    *out = dflt;
    if (!v)
        return true;
    if (strcmp(v, "") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0)
        *out = false;
    else {
        store_resp_errorf(resp, 400, "illegal_argument_exception",
               "Failed to parse value [%s] as only [true] or [false] are allowed.", v);
        return false;
    }
    return true;
}

/* Parameters verstore cannot honour are refused, never ignored: ?pipeline
 * names an ingest pipeline, and verstore has none ("_none" asks for none,
 * as in Elasticsearch); ?require_data_stream=true asks for a data stream,
 * and verstore has none either. */
bool store_req_pipeline(const store_req *req, store_resp *resp)
{
    const char *v = store_req_param(req, "pipeline");
    bool ds;
    if (!store_req_bool(req, "require_data_stream", false, &ds, resp))
        return false;
    if (ds) {
        store_resp_error(resp, 400, "illegal_argument_exception",
                   "[require_data_stream] is true, and verstore has no data streams");
        return false;
    }
    if (!v || strcmp(v, "_none") == 0)
        return true;
    store_resp_errorf(resp, 400, "illegal_argument_exception", "pipeline with id [%s] does not exist", v);
    return false;
}

/* refresh=true|""|false|wait_for; sets *forced. */
bool store_req_refresh(const store_req *req, bool *forced, store_resp *resp)
{
    const char *v = store_req_param(req, "refresh");
    *forced = false;
    if (!v || strcmp(v, "false") == 0 || strcmp(v, "wait_for") == 0)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "") == 0) {
        *forced = true;
        return true;
    }
    store_resp_errorf(resp, 400, "illegal_argument_exception", "Unknown value for refresh: [%s].", v);
    return false;
}

bool store_req_content_type_ok(const char *ct)
{
    if (!ct)
        return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    static const char *ok[] = {"application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
                               "application/vnd.elasticsearch+x-ndjson"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
            return true;
    return false;
}

/* The next number literal of JSON text [*p, end), strings skipped. */
static bool next_number(const char **p, const char *end, const char **tok, size_t *len)
{
    const char *q = *p;
    while (q < end) {
        if (*q == '"') {
            for (q++; q < end && *q != '"'; q++)
                if (*q == '\\')
                    q++;
            q++;
        } else if (*q == '-' || (*q >= '0' && *q <= '9')) {
            const char *t = q;
            while (q < end && strchr("0123456789+-.eE", *q))
                q++;
            *tok = t;
            *len = (size_t)(q - t);
            *p = q;
            return true;
        } else
            q++;
    }
    *p = q;
    return false;
}

/* cJSON keeps numbers as doubles, exact only to 2^53. Integer literals of
 * more digits keep their text in the item's valuestring (cJSON_Delete frees
 * it; the type stays a number) so unsigned_long and long values past 2^53
 * reach queries and search_after exactly. Number items meet the literals in
 * text order, as cJSON keeps members and elements in order. */
static bool keep_big_ints(cJSON *it, const char **p, const char *end)
{
    for (; it; it = it->next) {
        if (cJSON_IsNumber(it)) {
            const char *t;
            size_t n;
            if (!next_number(p, end, &t, &n))
                return true;
            size_t digits = n - (t[0] == '-');
            if (digits > 15 && digits == strspn(t + (t[0] == '-'), "0123456789") && !it->valuestring &&
                !(it->valuestring = strndup(t, n)))
                return false;
        } else if (it->child && !keep_big_ints(it->child, p, end))
            return false;
    }
    return true;
}

bool store_req_keep_big_ints(cJSON *root, const char *text, size_t n)
{
    const char *p = text;
    return keep_big_ints(root, &p, text + n);
}

bool store_req_json_body(const store_req *req, cJSON **out, store_resp *resp)
{
    *out = NULL;
    if (!json_is_valid(req->body, req->body_len)) {
        store_resp_error_n(resp, 400, "parse_exception", "failed to parse the request body: malformed JSON", 48, NULL,
                     "{\"type\":\"json_parse_exception\",\"reason\":\"malformed JSON\"}");
        return false;
    }
    buf marked = BUF_INIT;
    bool nul = false;
    if (!store_json_mark_nul(req->body, req->body_len, &marked, &nul)) {
        buf_free(&marked);
        store_resp_error(resp, 500, "exception", "out of memory");
        return false;
    }
    const char *text = nul ? marked.data : req->body, *p = text;
    size_t tn = nul ? marked.len : req->body_len;
    *out = cJSON_ParseWithLength(text, tn);
    if (*out && !keep_big_ints(*out, &p, text + tn)) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    buf_free(&marked);
    if (!*out) {
        store_resp_error(resp, 500, "exception", "out of memory");
        return false;
    }
    return true;
}
