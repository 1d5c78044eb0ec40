/* store_api — verstore's Elasticsearch REST endpoints: request in, status + JSON body out, writes as engine jobs. */
#include "versync/store_api.h"
#include "versync/store_api_int.h"
#include "versync/store_admin.h"
#include "versync/store_docs.h"
#include "versync/store_req.h"
#include "versync/store_resp.h"
#include "versync/store_routes.h"
#include "versync/store_metrics.h"

#include "versync/grow.h"
#include "versync/log.h"
#include "versync/store_breaker.h"
#include "versync/store_bulk.h"
#include "versync/store_analysis.h"
#include "versync/store_index.h"
#include "versync/store_json.h"
#include "versync/store_router.h"
#include "versync/store_search.h"
#include "versync/store_indices.h"
#include "versync/store_srcfilter.h"
#include "versync/store_util.h"
#include "versync/store_version.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ES_VERSION "8.11.0"

void store_resp_init(store_resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = STORE_CT_JSON;
}

void store_resp_free(store_resp *r)
{
    buf_free(&r->body);
    free(r->location);
    r->location = NULL;
}

store_api *store_api_new(store_engine *engine)
{
    store_api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->e = engine;
    if (!(a->search = store_search_new(engine))) {
        free(a);
        return NULL;
    }
    if (gethostname(a->node_name, sizeof a->node_name - 1) != 0 || !a->node_name[0])
        snprintf(a->node_name, sizeof a->node_name, "verstore");
    return a;
}

void store_api_free(store_api *api)
{
    if (!api)
        return;
    store_search_free(api->search);
    free(api);
}

/* ---- small JSON writers ---------------------------------------------------- */

void store_resp_jstr(buf *b, const char *s) { buf_put_json_string(b, s, strlen(s)); }
void store_resp_jstrn(buf *b, const char *s, size_t n) { buf_put_json_string(b, s, n); }

/* Decimal text of `v` (printf is a hot spot in bulk responses). */
void store_resp_jint(buf *b, int64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

void store_resp_shards(buf *b, int total, int ok)
{
    if (total == 2 && ok == 1)
        buf_puts(b, "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0}");
    else
        buf_printf(b, "\"_shards\":{\"total\":%d,\"successful\":%d,\"failed\":0}", total, ok);
}

/* An Elasticsearch error object body. `extra` is a JSON fragment of more
 * members (starting with ',') repeated in root_cause and the error; `caused`
 * a complete "caused_by" object or NULL. The reason is `reason_len` bytes. */
void store_resp_error_n(store_resp *r, int status, const char *type, const char *reason, size_t reason_len,
                         const char *extra, const char *caused)
{
    buf *b = &r->body;
    buf_reset(b);
    r->status = status;
    r->content_type = STORE_CT_JSON;
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":");
    store_resp_jstr(b, type);
    buf_puts(b, ",\"reason\":");
    store_resp_jstrn(b, reason, reason_len);
    if (extra)
        buf_puts(b, extra);
    buf_puts(b, "}],\"type\":");
    store_resp_jstr(b, type);
    buf_puts(b, ",\"reason\":");
    store_resp_jstrn(b, reason, reason_len);
    if (extra)
        buf_puts(b, extra);
    if (caused) {
        buf_puts(b, ",\"caused_by\":");
        buf_puts(b, caused);
    }
    buf_printf(b, "},\"status\":%d}", status);
}

void store_resp_error(store_resp *r, int status, const char *type, const char *reason)
{
    store_resp_error_n(r, status, type, reason, strlen(reason), NULL, NULL);
}

void store_resp_errorf(store_resp *r, int status, const char *type, const char *fmt, ...)
{
    buf tmp = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    bool ok = store_util_vappend(&tmp, fmt, ap);
    va_end(ap);
    store_resp_error_n(r, status, type, ok ? tmp.data : "out of memory", ok ? tmp.len : 13, NULL, NULL);
    buf_free(&tmp);
}

void store_resp_flat_error(store_resp *r, int status, const char *msg)
{
    buf_reset(&r->body);
    r->status = status;
    r->content_type = STORE_CT_JSON;
    buf_puts(&r->body, "{\"error\":");
    store_resp_jstr(&r->body, msg);
    buf_printf(&r->body, ",\"status\":%d}", status);
}

/* ",\"index_uuid\":…,\"shard\":\"0\",\"index\":…" */
void store_resp_index_extra(buf *x, const char *uuid, const char *index)
{
    buf_puts(x, ",\"index_uuid\":");
    store_resp_jstr(x, uuid);
    buf_puts(x, ",\"shard\":\"0\",\"index\":");
    store_resp_jstr(x, index);
}

void store_resp_not_found_extra(buf *x, const char *index)
{
    buf_puts(x, ",\"resource.type\":\"index_or_alias\",\"resource.id\":");
    store_resp_jstr(x, index);
    buf_puts(x, ",\"index_uuid\":\"_na_\",\"index\":");
    store_resp_jstr(x, index);
}

void store_resp_index_not_found(store_resp *r, const char *index)
{
    buf x = BUF_INIT, reason = BUF_INIT;
    store_resp_not_found_extra(&x, index);
    buf_printf(&reason, "no such index [%s]", index);
    store_resp_error_n(r, 404, "index_not_found_exception", reason.data, reason.len, x.data, NULL);
    buf_free(&x);
    buf_free(&reason);
}

void store_resp_invalid_index(store_resp *r, const char *index, const buf *reason)
{
    buf x = BUF_INIT;
    buf_puts(&x, ",\"index_uuid\":\"_na_\",\"index\":");
    store_resp_jstr(&x, index);
    store_resp_error_n(r, 400, "invalid_index_name_exception", reason->data, reason->len, x.data, NULL);
    buf_free(&x);
}

void store_resp_flat_errorf(store_resp *r, int status, const char *fmt, ...)
{
    buf raw = BUF_INIT, msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&raw, fmt, ap);
    va_end(ap);
    store_util_utf8_sanitize(raw.data ? raw.data : "", raw.len, &msg);
    store_resp_flat_error(r, status, msg.data ? msg.data : "");
    buf_free(&raw);
    buf_free(&msg);
}

void store_resp_storage_error(store_resp *r)
{
    store_resp_error(r, 500, "exception", "storage failure, see the verstore log");
}

/* "[id]: " or "[type][id]: " followed by `rest`. */
void store_resp_id_reason(buf *out, const char *type, const char *id, size_t id_len, const char *rest)
{
    if (type) {
        buf_putc(out, '[');
        buf_puts(out, type);
        buf_putc(out, ']');
    }
    buf_putc(out, '[');
    buf_append(out, id, id_len);
    buf_puts(out, "]: ");
    buf_puts(out, rest);
}

void store_resp_conflict(store_resp *r, const char *type, const char *id, size_t id_len, const char *explain,
                           const char *uuid, const char *index)
{
    buf reason = BUF_INIT, x = BUF_INIT, rest = BUF_INIT;
    buf_printf(&rest, "version conflict, %s", explain);
    store_resp_id_reason(&reason, type, id, id_len, rest.data);
    store_resp_index_extra(&x, uuid, index);
    store_resp_error_n(r, 409, "version_conflict_engine_exception", reason.data, reason.len, x.data, NULL);
    buf_free(&reason);
    buf_free(&x);
    buf_free(&rest);
}

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
    if (store_json_parse_long(v, strlen(v), out))
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

void store_resp_validation_error(store_resp *resp, store_msgs *m)
{
    buf reason = BUF_INIT;
    buf_puts(&reason, "Validation Failed: ");
    buf_append(&reason, m->text.data, m->text.len);
    store_resp_error_n(resp, 400, "action_request_validation_exception", reason.data, reason.len, NULL, NULL);
    buf_free(&reason);
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

static bool glob(const char *pat, const char *s) { return store_util_glob(pat, strlen(pat), s, strlen(s)); }

/* ---- root, cluster ------------------------------------------------------------ */

void store_admin_root(store_api *api, store_resp *r)
{
    buf *b = &r->body;
    buf_puts(b, "{\"name\":");
    store_resp_jstr(b, api->node_name);
    buf_puts(b, ",\"cluster_name\":\"verstore\",\"cluster_uuid\":");
    store_resp_jstr(b, store_engine_cluster_uuid(api->e));
    buf_puts(b, ",\"version\":{\"number\":\"" ES_VERSION "\",\"build_flavor\":\"default\",\"build_type\":\"tar\","
                "\"build_hash\":\"verstore\",\"build_date\":\"2026-11-21T00:00:00.000Z\",\"build_snapshot\":false,"
                "\"lucene_version\":\"9.8.0\",\"minimum_wire_compatibility_version\":\"7.17.0\","
                "\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":\"You Know, for Search\"}");
}

typedef struct list_ctx {
    buf *b;
    int count;
    const char *only;
    bool json;
    bool header;
    store_index_meta *metas;
    size_t n, cap;
} list_ctx;

static bool collect_index(const store_index_meta *m, void *arg)
{
    list_ctx *c = arg;
    if (c->only && strcmp(c->only, m->name) != 0 && !glob(c->only, m->name))
        return true;
    if (c->n == c->cap && !GROW_ARRAY(c->metas, c->cap, c->n + 1, 16))
        return false;
    c->metas[c->n++] = *m;
    return true;
}

/* ---- aliases ------------------------------------------------------------------------ */

typedef struct alias_row {
    char *alias, *index;
    int w;
} alias_row;

typedef struct alias_list {
    alias_row *rows;
    size_t n, cap;
    bool oom;
} alias_list;

static bool collect_alias(const char *alias, const char *index, int w, void *arg)
{
    alias_list *l = arg;
    if (l->n == l->cap && !GROW_ARRAY(l->rows, l->cap, l->n + 1, 16)) {
        l->oom = true;
        return false;
    }
    alias_row *r = &l->rows[l->n];
    r->alias = strdup(alias);
    r->index = strdup(index);
    r->w = w;
    if (!r->alias || !r->index) {
        free(r->alias);
        free(r->index);
        l->oom = true;
        return false;
    }
    l->n++;
    return true;
}

static void alias_list_free(alias_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->rows[i].alias);
        free(l->rows[i].index);
    }
    free(l->rows);
    memset(l, 0, sizeof *l);
}

/* `{"a":{},"b":{"is_write_index":true}}` of index `index`, aliases matching `only` (NULL: all). */
static size_t put_index_aliases(buf *b, const alias_list *l, const char *index, const char *only)
{
    size_t n = 0;
    buf_putc(b, '{');
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->rows[i].index, index) != 0)
            continue;
        if (only) {
            bool hit = false;
            char *list = strdup(only), *save = NULL;
            for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok && !hit; tok = strtok_r(NULL, ",", &save))
                hit = strcmp(tok, "_all") == 0 || glob(tok, l->rows[i].alias);
            free(list);
            if (!hit)
                continue;
        }
        if (n++)
            buf_putc(b, ',');
        store_resp_jstr(b, l->rows[i].alias);
        if (l->rows[i].w == 1)
            buf_puts(b, ":{\"is_write_index\":true}");
        else if (l->rows[i].w == 0)
            buf_puts(b, ":{\"is_write_index\":false}");
        else
            buf_puts(b, ":{}");
    }
    buf_putc(b, '}');
    return n;
}

static bool load_aliases(store_rtxn *t, alias_list *l)
{
    return store_engine_alias_each(t, collect_alias, l) && !l->oom;
}

/* An alias that names several indices used where one index is needed. */
static void alias_multi(store_api *api, store_resp *r, const char *name)
{
    alias_list l = {0};
    store_rtxn *t = store_engine_read_begin(api->e);
    if (t)
        load_aliases(t, &l);
    store_engine_read_end(t);
    buf reason = BUF_INIT;
    buf_printf(&reason, "alias [%s] has more than one index associated with it [", name);
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.rows[i].alias, name) == 0)
            buf_printf(&reason, "%s%s", k++ ? ", " : "", l.rows[i].index);
    buf_puts(&reason, "], can't execute a single index op");
    store_resp_error_n(r, 400, "illegal_argument_exception", reason.data, reason.len, NULL, NULL);
    buf_free(&reason);
    alias_list_free(&l);
}

/* Answer a failed index lookup, given store_engine_index_resolve's result,
 * and return false; true when the index (or its alias) was found. HEAD
 * requests get a bare 404 for a missing index. */
bool store_admin_index_found(store_api *api, store_resp *r, int rc, const char *index, bool head)
{
    if (rc == 1)
        return true;
    if (rc == -2)
        alias_multi(api, r, index);
    else if (rc < 0)
        store_resp_storage_error(r);
    else if (head)
        r->status = 404;
    else
        store_resp_index_not_found(r, index);
    return false;
}

/* ---- index management ---------------------------------------------------------- */

/* Find index.gc_deletes in a settings object in any of its spellings. */
static bool settings_gc(const cJSON *settings, int64_t *gc, store_resp *resp)
{
    *gc = STORE_GC_UNSET;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, "index.gc_deletes");
    if (!v) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(settings, "index");
        v = cJSON_IsObject(idx) ? cJSON_GetObjectItemCaseSensitive(idx, "gc_deletes") : NULL;
    }
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(settings, "gc_deletes");
    if (!v)
        return true;
    char text[64] = "";
    if (cJSON_IsString(v))
        snprintf(text, sizeof text, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(text, sizeof text, "%.0f", v->valuedouble);
    int64_t ms;
    if (!store_util_parse_time_ms(text, &ms)) {
        store_resp_errorf(resp, 400, "illegal_argument_exception",
               "failed to parse setting [index.gc_deletes] with value [%s] as a time value: unit is missing or "
               "unrecognized",
               text);
        return false;
    }
    *gc = ms < 0 ? STORE_GC_FOREVER : ms;
    return true;
}

bool store_req_json_body(const store_req *req, cJSON **out, store_resp *resp)
{
    *out = NULL;
    if (!store_json_is_valid(req->body, req->body_len)) {
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
    *out = nul ? cJSON_ParseWithLength(marked.data, marked.len) : cJSON_ParseWithLength(req->body, req->body_len);
    buf_free(&marked);
    if (!*out) {
        store_resp_error(resp, 500, "exception", "out of memory");
        return false;
    }
    return true;
}

/* A call taking over the match's strings. Out of memory: NULL, with the
 * 500 already in `resp`. The caller owns the call (call_free). */
store_call *store_api_call_new(store_api *api, store_match *m, const store_req *req, store_resp *resp)
{
    store_call *c = calloc(1, sizeof *c);
    if (!c) {
        store_resp_error(resp, 500, "exception", "out of memory");
        return NULL;
    }
    c->api = api;
    c->m = *m;
    memset(m, 0, sizeof *m); /* the call owns the strings now */
    c->pretty = store_req_param(req, "pretty") && !(strcmp(store_req_param(req, "pretty"), "false") == 0);
    c->start_ms = store_util_mono_ms();
    if (store_req_param(req, "filter_path") && !(c->filter_path = strdup(store_req_param(req, "filter_path")))) {
        store_router_free(&c->m);
        free(c);
        store_resp_error(resp, 500, "exception", "out of memory");
        return NULL;
    }
    return c;
}

void store_api_call_free(store_call *c)
{
    if (!c)
        return;
    store_router_free(&c->m);
    store_op_clear(&c->op);
    store_bulk_update_free(&c->upd);
    store_srcfilter_free(&c->upd_filter);
    if (c->ops) {
        for (size_t i = 0; i < c->job.nops; i++)
            store_op_clear(&c->ops[i]);
        free(c->ops);
    }
    free(c->op_of_item);
    store_bulk_free(&c->bulk);
    free(c->settings);
    free(c->mappings);
    free(c->filter_path);
    free(c->routing);
    free(c->actions);
    cJSON_Delete(c->alias_body);
    free(c);
}

store_call *store_admin_create_index(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    buf reason = BUF_INIT;
    if (!store_router_valid_index(m->index, &reason)) {
        store_resp_invalid_index(resp, m->index, &reason);
        buf_free(&reason);
        return NULL;
    }
    buf_free(&reason);
    cJSON *body = NULL;
    char *settings = NULL, *mappings = NULL;
    int64_t gc = STORE_GC_UNSET;
    if (store_json_ws(req->body, req->body + req->body_len) != req->body + req->body_len) {
        if (!store_req_json_body(req, &body, resp))
            return NULL;
        if (!cJSON_IsObject(body)) {
            store_resp_error(resp, 400, "parse_exception", "request body must be a JSON object");
            goto fail;
        }
        for (cJSON *it = body->child; it; it = it->next) {
            if (strcmp(it->string, "settings") == 0 || strcmp(it->string, "mappings") == 0) {
                if (!cJSON_IsObject(it)) {
                    store_resp_errorf(resp, 400, "parse_exception", "[%s] must be an object", it->string);
                    goto fail;
                }
                char *s = cJSON_PrintUnformatted(it);
                if (it->string[0] == 's')
                    free(settings), settings = s;
                else
                    free(mappings), mappings = s;
            } else if (strcmp(it->string, "aliases") == 0) {
                /* not applied at creation yet: refused rather than dropped */
                if (!cJSON_IsObject(it)) {
                    store_resp_errorf(resp, 400, "parse_exception", "[aliases] must be an object");
                    goto fail;
                }
                if (it->child) {
                    store_resp_errorf(resp, 400, "illegal_argument_exception",
                           "verstore does not support [aliases] in create index; add them with POST /_aliases");
                    goto fail;
                }
            } else {
                store_resp_errorf(resp, 400, "parse_exception", "unknown key [%s] for create index", it->string);
                goto fail;
            }
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "settings");
        if (st && !settings_gc(st, &gc, resp))
            goto fail;
        /* Analysis settings are checked now: a broken analyzer is refused
         * with the index, never found later by a document or a query. */
        char why[512];
        analysis_registry *an = settings ? analysis_registry_new(settings, strlen(settings), why, sizeof why) : NULL;
        if (settings && !an) {
            store_resp_error(resp, 400, "illegal_argument_exception", why);
            goto fail;
        }
        analysis_registry_free(an);
    }
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        goto fail;
    c->kind = CALL_CREATE_INDEX;
    c->settings = settings;
    c->mappings = mappings;
    c->job.kind = STORE_JOB_CREATE_INDEX;
    c->job.index = c->m.index;
    c->job.settings = settings;
    c->job.settings_len = settings ? strlen(settings) : 0;
    c->job.mappings = mappings;
    c->job.mappings_len = mappings ? strlen(mappings) : 0;
    c->job.gc_deletes_ms = gc;
    cJSON_Delete(body);
    return c;
fail:
    free(settings);
    free(mappings);
    cJSON_Delete(body);
    return NULL;
}

store_call *store_admin_put_settings(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    cJSON *body = NULL;
    if (!store_req_json_body(req, &body, resp))
        return NULL;
    store_call *c = NULL;
    if (!cJSON_IsObject(body)) {
        store_resp_error(resp, 400, "parse_exception", "request body must be a JSON object");
        goto done;
    }
    cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "settings");
    if (!cJSON_IsObject(st))
        st = body;
    int64_t gc;
    if (!settings_gc(st, &gc, resp))
        goto done;
    if (!(c = store_api_call_new(api, m, req, resp)))
        goto done;
    c->kind = CALL_PUT_SETTINGS;
    c->settings = cJSON_PrintUnformatted(st);
    c->job.kind = STORE_JOB_PUT_SETTINGS;
    c->job.index = c->m.index;
    c->job.settings = c->settings;
    c->job.settings_len = c->settings ? strlen(c->settings) : 0;
    c->job.gc_deletes_ms = gc;
done:
    cJSON_Delete(body);
    return c;
}

static const char *analyze_field(const char *field, void *arg)
{
    store_mapping *map = arg;
    const store_field *f = store_mapping_find(map, field);
    return f && f->type == STORE_FT_TEXT ? (f->analyzer ? f->analyzer : "default") : f ? "keyword" : NULL;
}

/* GET/POST /_analyze, /{index}/_analyze: the work is store_analysis's. */
void store_api_analyze(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    cJSON *body = NULL;
    if (req->body_len == 0 ? !(body = cJSON_CreateObject()) : !store_req_json_body(req, &body, r)) {
        if (!body && req->body_len == 0)
            store_resp_error(r, 500, "exception", "out of memory");
        return;
    }
    store_mapping map = {0};
    buf settings = BUF_INIT, mappings = BUF_INIT, reason = BUF_INIT;
    if (m->index) {
        store_rtxn *t = store_engine_read_begin(api->e);
        if (!t) {
            store_resp_storage_error(r);
            goto done;
        }
        store_index_meta meta;
        int rc = store_engine_index_resolve(t, m->index, false, &meta, &settings, &mappings);
        store_engine_read_end(t);
        if (!store_admin_index_found(api, r, rc, m->index, false))
            goto done;
        char why[256];
        if (!store_mapping_parse(mappings.data ? mappings.data : "", mappings.len, &map, why, sizeof why))
            store_mapping_parse(NULL, 0, &map, why, sizeof why);
        store_mapping_set_analysis(&map, settings.data, settings.len, why, sizeof why);
    }
    const char *etype = NULL;
    int st = analysis_api(map.an, body, m->index ? analyze_field : NULL, &map, &r->body, &etype, &reason);
    if (st != 200)
        store_resp_error(r, st, etype, reason.data ? reason.data : "");
done:
    cJSON_Delete(body);
    store_mapping_free(&map);
    buf_free(&settings);
    buf_free(&mappings);
    buf_free(&reason);
}

/* The index-level reads over index expressions (store_indices). */
void store_admin_index_read(store_api *api, const store_req *req, const store_match *m, bool head, store_resp *r)
{
    store_search_err err = {0};
    bool ok;
    switch (m->route) {
    case STORE_R_REFRESH: ok = store_indices_refresh(api->e, req, m->index, r, &err); break;
    case STORE_R_CAT_INDICES: ok = store_indices_cat_indices(api->e, req, m->index, r, &err); break;
    case STORE_R_CAT_ALIASES: ok = store_indices_cat_aliases(api->e, req, m->alias, r, &err); break;
    case STORE_R_CAT_COUNT: ok = store_indices_cat_count(api->e, req, m->index, r, &err); break;
    case STORE_R_HEALTH: ok = store_indices_health(api->e, req, m->index, r, &err); break;
    case STORE_R_DATA_STREAM: /* verstore has no data streams: none to list, any name is missing */
        if (m->index)
            store_resp_index_not_found(r, m->index);
        else
            buf_puts(&r->body, "{\"data_streams\":[]}");
        return;
    default: ok = store_indices_get(api->e, req, m->index, m->route == STORE_R_SETTINGS, head, r, &err); break;
    }
    if (!ok && head && err.index_missing) {
        buf_reset(&r->body);
        r->status = 404;
    } else if (!ok) {
        buf_reset(&r->body);
        store_resp_search_error(api, r, &err);
    }
    store_search_err_free(&err);
}

/* GET /_mapping, /{index}/_mapping: one entry per concrete index, the
 * expression resolved as _search resolves it (lists, wildcards, aliases). */
void store_admin_get_mappings(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    const char *ani = store_req_param(req, "allow_no_indices");
    store_search_err err = {0};
    char **names = NULL;
    size_t n = 0;
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(r);
        return;
    }
    if (!store_search_indices(t, m->index, store_req_param_true(req, "ignore_unavailable"), !ani || strcmp(ani, "false") != 0,
                              &names, &n, &err)) {
        store_resp_search_error(api, r, &err);
        goto done;
    }
    buf *b = &r->body;
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        store_index_meta meta;
        buf settings = BUF_INIT, mappings = BUF_INIT;
        int rc = store_engine_index_get(t, names[i], &meta, &settings, &mappings);
        if (rc == 1) {
            if (b->len > 1)
                buf_putc(b, ',');
            store_resp_jstr(b, meta.name);
            buf_puts(b, ":{\"mappings\":");
            buf_append(b, mappings.len ? mappings.data : "{}", mappings.len ? mappings.len : 2);
            buf_putc(b, '}');
        }
        buf_free(&settings);
        buf_free(&mappings);
        if (rc < 0) {
            store_resp_storage_error(r);
            goto done;
        }
    }
    buf_putc(b, '}');
done:
    store_search_indices_free(names, n);
    store_search_err_free(&err);
    store_engine_read_end(t);
}

/* ---- _search, _count, scroll ------------------------------------------------------- */

/* A search failure as Elasticsearch answers it: per-shard failures wrapped
 * in search_phase_execution_exception "all shards failed". */
void store_resp_search_error(store_api *api, store_resp *r, const store_search_err *e)
{
    const char *reason = e->reason.data ? e->reason.data : "";
    if (e->index_missing) {
        store_resp_index_not_found(r, reason);
        return;
    }
    if (!e->shard) {
        store_resp_error_n(r, e->status, e->type, reason, e->reason.len, NULL, NULL);
        return;
    }
    buf cause = BUF_INIT, *b = &r->body;
    buf_puts(&cause, "{\"type\":");
    store_resp_jstr(&cause, e->type);
    buf_puts(&cause, ",\"reason\":");
    store_resp_jstrn(&cause, reason, e->reason.len);
    if (e->shard_index[0]) {
        buf_puts(&cause, ",\"index\":");
        store_resp_jstr(&cause, e->shard_index);
    }
    buf_putc(&cause, '}');
    buf_reset(b);
    r->status = e->status;
    r->content_type = STORE_CT_JSON;
    buf_puts(b, "{\"error\":{\"root_cause\":[");
    buf_append(b, cause.data, cause.len);
    buf_puts(b, "],\"type\":\"search_phase_execution_exception\",\"reason\":\"all shards failed\",\"phase\":"
                "\"query\",\"grouped\":true,\"failed_shards\":[{\"shard\":");
    if (e->shard_index[0]) {
        buf_puts(b, "0,\"index\":");
        store_resp_jstr(b, e->shard_index);
        buf_puts(b, ",\"node\":");
        store_resp_jstr(b, api->node_name);
    } else {
        buf_puts(b, "-1,\"index\":null");
    }
    buf_puts(b, ",\"reason\":");
    buf_append(b, cause.data, cause.len);
    buf_puts(b, "}],\"caused_by\":");
    buf_append(b, cause.data, cause.len);
    buf_printf(b, "},\"status\":%d}", e->status);
    buf_free(&cause);
}

/* _search, _count, /_search/scroll: the body parsed (when there is one)
 * and handed to store_search. */
void store_api_search(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    cJSON *body = NULL;
    if (store_json_ws(req->body, req->body + req->body_len) != req->body + req->body_len &&
        !store_req_json_body(req, &body, r))
        return;
    store_search_req sr = {m->index, req->params, req->nparams, body, NULL};
    if (m->route == STORE_R_SCROLL && m->id) {
        if (strlen(m->id) != m->id_len) {
            store_resp_error(r, 400, "illegal_argument_exception", "Cannot parse scroll id");
            cJSON_Delete(body);
            return;
        }
        sr.scroll_id = m->id;
    }
    store_search_err err = {0};
    bool ok;
    int status = 200;
    if (m->route == STORE_R_COUNT)
        ok = store_search_count(api->search, &sr, &r->body, &err);
    else if (m->route == STORE_R_SEARCH)
        ok = store_search_run(api->search, &sr, &r->body, &err);
    else if (m->method == STORE_M_DELETE)
        ok = store_search_clear_scroll(api->search, &sr, &status, &r->body, &err);
    else
        ok = store_search_scroll(api->search, &sr, &r->body, &err);
    if (ok)
        r->status = status;
    else
        store_resp_search_error(api, r, &err);
    store_search_err_free(&err);
    cJSON_Delete(body);
}

store_call *store_admin_put_mapping(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    cJSON *body = NULL;
    if (store_json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
        store_resp_error(resp, 400, "action_request_validation_exception", "Validation Failed: 1: mapping source is required;");
        return NULL;
    }
    if (!store_req_json_body(req, &body, resp))
        return NULL;
    store_call *c = NULL;
    if (!cJSON_IsObject(body)) {
        store_resp_error(resp, 400, "parse_exception", "request body must be a JSON object");
        goto done;
    }
    if (!(c = store_api_call_new(api, m, req, resp)))
        goto done;
    c->kind = CALL_PUT_MAPPING;
    c->mappings = cJSON_PrintUnformatted(body);
    c->job.kind = STORE_JOB_PUT_MAPPING;
    c->job.index = c->m.index;
    c->job.mappings = c->mappings;
    c->job.mappings_len = c->mappings ? strlen(c->mappings) : 0;
done:
    cJSON_Delete(body);
    return c;
}

/* ---- document reads ----------------------------------------------------------- */

/* One GET-shaped object (found or not) for index `meta`/`index`. */
static void doc_object(buf *b, const char *index, const char *type, const char *id, size_t id_len,
                       const store_doc_view *v, bool found, const store_srcfilter *f)
{
    buf_puts(b, "{\"_index\":");
    store_resp_jstr(b, index);
    if (type) {
        buf_puts(b, ",\"_type\":");
        store_resp_jstr(b, type);
    }
    buf_puts(b, ",\"_id\":");
    store_resp_jstrn(b, id, id_len);
    if (!found) {
        buf_puts(b, ",\"found\":false}");
        return;
    }
    buf_printf(b, ",\"_version\":%" PRId64, v->st.version);
    if (!type)
        buf_printf(b, ",\"_seq_no\":%" PRId64 ",\"_primary_term\":%" PRId64, v->st.seq_no, v->st.term);
    buf_puts(b, ",\"found\":true");
    if (!f || !f->none) {
        buf_puts(b, ",\"_source\":");
        store_srcfilter_put(b, v->src, v->src_len, f);
    }
    buf_putc(b, '}');
}

void store_docs_get(store_api *api, const store_req *req, const store_match *m, bool legacy, bool source_only,
                    bool head, store_resp *r)
{
    int64_t version = STORE_MATCH_ANY;
    bool present;
    if (!store_req_long(req, "version", &version, &present, r))
        return;
    const char *vt = store_req_param(req, "version_type");
    store_vtype vtype;
    if (vt && !store_vtype_parse(vt, &vtype)) {
        store_resp_errorf(r, 400, "illegal_argument_exception", "No version type match [%s]", vt);
        return;
    }
    if (m->id_len > STORE_MAX_ID_BYTES) {
        store_msgs msgs = {BUF_INIT, 0};
        store_msgs_add(&msgs, "id [%.*s] is too long, must be no longer than 512 bytes but was: %zu", (int)m->id_len,
                       m->id, m->id_len);
        store_resp_validation_error(r, &msgs);
        store_msgs_free(&msgs);
        return;
    }
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(r);
        return;
    }
    store_index_meta meta;
    store_doc_view v;
    store_srcfilter f;
    store_srcfilter_from_params(&f, store_req_param(req, "_source"), store_req_param(req, "_source_includes"), store_req_param(req, "_source_excludes"));
    int rc = store_engine_index_resolve(t, m->index, false, &meta, NULL, NULL);
    if (!store_admin_index_found(api, r, rc, m->index, head))
        goto done;
    rc = store_engine_doc_get(t, &meta, m->id, m->id_len, &v);
    if (rc < 0) {
        store_resp_storage_error(r);
        goto done;
    }
    bool found = rc == 1 && !v.st.deleted;
    char explain[200];
    if (found && store_version_read_conflict(version, &v.st, explain, sizeof explain)) {
        store_resp_conflict(r, legacy ? m->type : NULL, m->id, m->id_len, explain, meta.uuid, meta.name);
        goto done;
    }
    if (head) {
        r->status = found ? 200 : 404;
        goto done;
    }
    if (source_only) {
        if (!found || f.none) {
            buf reason = BUF_INIT;
            buf_printf(&reason, "Document not found [%s]/[%s]/[", meta.name, legacy ? m->type : "_doc");
            buf_append(&reason, m->id, m->id_len);
            buf_putc(&reason, ']');
            store_resp_error_n(r, 404, "resource_not_found_exception", reason.data, reason.len, NULL, NULL);
            buf_free(&reason);
            goto done;
        }
        store_srcfilter_put(&r->body, v.src, v.src_len, &f);
        goto done;
    }
    r->status = found ? 200 : 404;
    doc_object(&r->body, meta.name, legacy ? m->type : NULL, m->id, m->id_len, &v, found, &f);
done:
    store_srcfilter_free(&f);
    store_engine_read_end(t);
}

/* Text of a string or integral number id (heap), NULL otherwise. */
static char *id_text(const cJSON *v, size_t *len)
{
    char tmp[64];
    if (cJSON_IsString(v)) {
        /* Ids are bytes, NUL included: put back the NULs the body had
         * (parse_json_body marked them). */
        buf id = BUF_INIT;
        const char *s = v->valuestring, *mk;
        size_t ml = strlen(STORE_JSON_NUL_MARK);
        while ((mk = strstr(s, STORE_JSON_NUL_MARK))) {
            buf_append(&id, s, (size_t)(mk - s));
            buf_putc(&id, '\0');
            s = mk + ml;
        }
        buf_puts(&id, s);
        if (!buf_reserve(&id, 1)) {
            buf_free(&id);
            return NULL;
        }
        *len = id.len;
        return buf_steal(&id);
    }
    if (cJSON_IsNumber(v)) {
        snprintf(tmp, sizeof tmp, "%.17g", v->valuedouble);
        *len = strlen(tmp);
        return strdup(tmp);
    }
    return NULL;
}

/* Elements of the top-level "docs" and "ids" arrays, counted without
 * building the JSON tree (what a body of millions of ids would cost). */
static size_t mget_count(const char *s, size_t n)
{
    store_json_iter it;
    store_json_tok k, v;
    size_t count = 0;
    if (!store_json_obj_begin(&it, s, s + n))
        return 0;
    while (store_json_obj_next(&it, &k, &v) == 1) {
        if (v.type != STORE_JSON_ARRAY || (!store_json_tok_eq(&k, "docs") && !store_json_tok_eq(&k, "ids")))
            continue;
        const char *p = store_json_ws(v.p + 1, v.p + v.n), *end = v.p + v.n - 1;
        while (p && p < end) {
            p = store_json_scan(p, end, NULL);
            count++;
            p = p ? store_json_ws(p, end) : NULL;
            if (p && *p == ',')
                p = store_json_ws(p + 1, end);
        }
    }
    return count;
}

void store_docs_mget(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    uint64_t held = 0; /* bytes of the answer reserved in the memory breaker */
    cJSON *body = NULL;
    store_msgs msgs = {BUF_INIT, 0};
    store_srcfilter deff;
    store_srcfilter_from_params(&deff, store_req_param(req, "_source"), store_req_param(req, "_source_includes"), store_req_param(req, "_source_excludes"));
    store_rtxn *t = NULL;
    if (store_json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
        store_resp_error(r, 400, "parse_exception", "request body is required");
        goto done;
    }
    size_t count = mget_count(req->body, req->body_len);
    if (count > STORE_MGET_MAX_DOCS) {
        store_resp_errorf(r, 400, "illegal_argument_exception",
               "a multi get request may ask for at most %d documents, this one asks for %zu", STORE_MGET_MAX_DOCS,
               count);
        goto done;
    }
    if (!store_req_json_body(req, &body, r))
        goto done;
    if (!cJSON_IsObject(body)) {
        store_resp_error(r, 400, "parse_exception", "request body must be a JSON object");
        goto done;
    }
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(body, "docs");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    for (const cJSON *it = body->child; it; it = it->next)
        if (strcmp(it->string, "docs") != 0 && strcmp(it->string, "ids") != 0) {
            store_resp_errorf(r, 400, "parsing_exception", "unknown key [%s] for a multi get request", it->string);
            goto done;
        }
    if ((docs && !cJSON_IsArray(docs)) || (ids && !cJSON_IsArray(ids))) {
        store_resp_error(r, 400, "parsing_exception", "docs and ids must be arrays");
        goto done;
    }
    size_t n = (size_t)(docs ? cJSON_GetArraySize(docs) : 0) + (size_t)(ids ? cJSON_GetArraySize(ids) : 0);
    if (n == 0)
        store_msgs_add(&msgs, "no documents to get");
    const cJSON *it;
    if (docs)
        cJSON_ArrayForEach(it, docs)
        {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "_index");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "_id");
            if (!cJSON_IsObject(it)) {
                store_msgs_add(&msgs, "id is missing");
                continue;
            }
            if (!cJSON_IsString(ix) && !m->index)
                store_msgs_add(&msgs, "index is missing");
            if (!cJSON_IsString(id) && !cJSON_IsNumber(id))
                store_msgs_add(&msgs, "id is missing");
        }
    if (ids) {
        cJSON_ArrayForEach(it, ids)
        {
            if (!m->index)
                store_msgs_add(&msgs, "index is missing");
            if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
                store_msgs_add(&msgs, "id is missing");
        }
    }
    if (msgs.count) {
        store_resp_validation_error(r, &msgs);
        goto done;
    }
    if (!(t = store_engine_read_begin(api->e))) {
        store_resp_storage_error(r);
        goto done;
    }
    buf *b = &r->body;
    buf_puts(b, "{\"docs\":[");
    bool first = true;
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *arr = pass == 0 ? docs : ids;
        if (!arr)
            continue;
        cJSON_ArrayForEach(it, arr)
        {
            const char *index = m->index;
            size_t id_len = 0;
            char *id = NULL;
            store_srcfilter f = {0};
            const store_srcfilter *fp = &deff;
            int64_t version = STORE_MATCH_ANY;
            if (pass == 0) {
                const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "_index");
                if (cJSON_IsString(ix))
                    index = ix->valuestring;
                id = id_text(cJSON_GetObjectItemCaseSensitive(it, "_id"), &id_len);
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "_source");
                if (s) {
                    store_srcfilter_from_json(s, &f);
                    fp = &f;
                }
                const cJSON *ver = cJSON_GetObjectItemCaseSensitive(it, "version");
                if (cJSON_IsNumber(ver) && ver->valuedouble >= -9.2e18 && ver->valuedouble <= 9.2e18)
                    version = (int64_t)ver->valuedouble;
            } else {
                id = id_text(it, &id_len);
            }
            if (!first)
                buf_putc(b, ',');
            first = false;
            store_index_meta meta;
            store_doc_view v;
            int rc = id ? store_engine_index_resolve(t, index, false, &meta, NULL, NULL) : -1;
            if (rc == 1)
                rc = store_engine_doc_get(t, &meta, id, id_len, &v) < 0 ? -1 : 1;
            if (rc == -2) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id ? id : "", id_len);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"alias has "
                            "more than one index associated with it\"}],\"type\":\"illegal_argument_exception\","
                            "\"reason\":\"alias has more than one index associated with it\"}}");
            } else if (rc < 0) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id ? id : "", id_len);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"exception\",\"reason\":\"storage failure\"}],"
                            "\"type\":\"exception\",\"reason\":\"storage failure\"}}");
            } else if (rc == 0) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id, id_len);
                buf x = BUF_INIT, reason = BUF_INIT;
                store_resp_not_found_extra(&x, index);
                buf_printf(&reason, "no such index [%s]", index);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"index_not_found_exception\",\"reason\":");
                store_resp_jstr(b, reason.data);
                buf_puts(b, x.data);
                buf_puts(b, "}],\"type\":\"index_not_found_exception\",\"reason\":");
                store_resp_jstr(b, reason.data);
                buf_puts(b, x.data);
                buf_puts(b, "}}");
                buf_free(&x);
                buf_free(&reason);
            } else {
                bool found = !v.st.deleted && v.st.exists;
                char explain[200];
                if (found && store_version_read_conflict(version, &v.st, explain, sizeof explain)) {
                    store_resp tmp;
                    store_resp_init(&tmp);
                    store_resp_conflict(&tmp, NULL, id, id_len, explain, meta.uuid, meta.name);
                    buf_puts(b, "{\"_index\":");
                    store_resp_jstr(b, meta.name);
                    buf_puts(b, ",\"_id\":");
                    store_resp_jstrn(b, id, id_len);
                    buf_puts(b, ",");
                    /* the error object without the outer braces and status */
                    const char *e = strstr(tmp.body.data, "\"error\":");
                    const char *s = strstr(tmp.body.data, ",\"status\":");
                    if (e && s)
                        buf_append(b, e, (size_t)(s - e));
                    buf_putc(b, '}');
                    store_resp_free(&tmp);
                } else {
                    doc_object(b, meta.name, NULL, id, id_len, &v, found, fp);
                }
            }
            free(id);
            store_srcfilter_free(&f);
            /* The answer grows with each document: hold it in the memory
             * breaker, in 1 MiB steps, and refuse rather than grow past it. */
            if (b->len > held) {
                char reason[320];
                uint64_t step = b->len - held < 1048576 ? 1048576 : b->len - held;
                if (!store_breaker_add(step, "<mget_response>", reason, sizeof reason)) {
                    store_breaker_error_body(b, reason);
                    r->status = 429;
                    goto done;
                }
                held += step;
            }
        }
    }
    buf_puts(b, "]}");
done:
    store_breaker_release(held); /* the HTTP layer accounts the finished answer */
    if (t)
        store_engine_read_end(t);
    store_msgs_free(&msgs);
    store_srcfilter_free(&deff);
    cJSON_Delete(body);
}

/* ---- document writes ------------------------------------------------------------ */

static void source_error(store_resp *r, const char *body, size_t n)
{
    if (store_json_ws(body, body + n) == body + n) {
        store_resp_error(r, 400, "parse_exception", "request body is required");
        return;
    }
    bool valid = store_json_is_valid(body, n);
    store_resp_error_n(r, 400, "mapper_parsing_exception", "failed to parse", 15, NULL,
                 valid ? "{\"type\":\"not_x_content_exception\",\"reason\":\"the document source must be a JSON object\"}"
                       : "{\"type\":\"json_parse_exception\",\"reason\":\"malformed JSON in the document source\"}");
}

store_call *store_docs_write(store_api *api, const store_req *req, store_match *m, store_opkind kind, bool legacy,
                             bool auto_id, store_resp *resp)
{
    store_wparams w;
    bool has_version, has_vtype, forced, require_alias;
    store_msgs msgs = {BUF_INIT, 0};
    if (!store_req_refresh(req, &forced, resp) || !store_req_write_params(req, &w, &has_version, &has_vtype, resp) ||
        !store_req_bool(req, "require_alias", false, &require_alias, resp) || !store_req_pipeline(req, resp))
        return NULL;
    if (kind == STORE_OP_UPDATE && store_req_param(req, "retry_on_conflict")) {
        /* Honoured trivially (one writer: an update never conflicts with a
         * concurrent one mid-way), but the value must be an int. */
        int64_t n;
        const char *v = store_req_param(req, "retry_on_conflict");
        if (!store_json_parse_long(v, strlen(v), &n) || n < INT32_MIN || n > INT32_MAX) {
            store_resp_errorf(resp, 400, "illegal_argument_exception",
                   "Failed to parse int parameter [retry_on_conflict] with value [%s]", v);
            return NULL;
        }
    }
    const char *op_type = store_req_param(req, "op_type");
    if (op_type && kind == STORE_OP_INDEX) {
        if (strcmp(op_type, "create") == 0)
            kind = STORE_OP_CREATE;
        else if (strcmp(op_type, "index") != 0) {
            store_resp_errorf(resp, 400, "illegal_argument_exception", "opType must be 'create' or 'index', found: [%s]", op_type);
            return NULL;
        }
    }
    w.kind = kind;
    w.legacy = legacy;
    w.has_id = !auto_id;
    if (kind == STORE_OP_UPDATE) {
        if (!legacy && store_version_update_refused(has_version, has_vtype)) {
            store_msgs_add(&msgs, "internal versioning can not be used for optimistic concurrency control. "
                                  "Please use `if_seq_no` and `if_primary_term` instead");
            store_resp_validation_error(resp, &msgs);
            store_msgs_free(&msgs);
            return NULL;
        }
        if (legacy && w.vtype != STORE_VT_INTERNAL) {
            store_msgs_add(&msgs, "version type [%s] is not supported by the update API", store_vtype_name(w.vtype));
            store_resp_validation_error(resp, &msgs);
            store_msgs_free(&msgs);
            return NULL;
        }
    }
    store_version_validate(&w, auto_id ? NULL : m->id, m->id_len, &msgs);
    if (msgs.count) {
        store_resp_validation_error(resp, &msgs);
        store_msgs_free(&msgs);
        return NULL;
    }
    /* Every write that may create the index checks its name first. */
    bool creates = kind == STORE_OP_INDEX || kind == STORE_OP_CREATE ||
                   (kind == STORE_OP_DELETE && w.vtype != STORE_VT_INTERNAL) || kind == STORE_OP_UPDATE;
    if (creates) {
        buf reason = BUF_INIT;
        bool valid = store_router_valid_index(m->index, &reason);
        if (!valid)
            store_resp_invalid_index(resp, m->index, &reason);
        buf_free(&reason);
        if (!valid)
            return NULL;
    }
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        return NULL;
    c->kind = CALL_WRITE;
    c->legacy = legacy;
    c->forced_refresh = forced;
    if (store_req_param(req, "routing") && !(c->routing = strdup(store_req_param(req, "routing")))) {
        store_resp_error(resp, 500, "exception", "out of memory");
        store_api_call_free(c);
        return NULL;
    }
    if (kind == STORE_OP_UPDATE) {
        store_bulk_error err = {0, NULL, BUF_INIT};
        if (store_json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
            store_resp_error(resp, 400, "parse_exception", "request body is required");
            store_api_call_free(c);
            return NULL;
        }
        if (!store_bulk_parse_update(req->body, req->body_len, &c->upd, &err)) {
            store_resp_error_n(resp, err.status, err.type, err.reason.data, err.reason.len, NULL, NULL);
            store_bulk_error_free(&err);
            store_api_call_free(c);
            return NULL;
        }
        c->op.upd = &c->upd;
        const char *ps = store_req_param(req, "_source"), *pi = store_req_param(req, "_source_includes"),
                   *pe = store_req_param(req, "_source_excludes");
        if (ps || pi || pe) { /* the URL's _source wins over the body's, as in Elasticsearch */
            c->upd_src_params = true;
            store_srcfilter_from_params(&c->upd_filter, ps, pi, pe);
            /* tells the writer to keep a noop's source for the response */
            if (!c->upd.fetch_source && !(c->upd.fetch_source = cJSON_CreateTrue())) {
                store_resp_error(resp, 500, "exception", "out of memory");
                store_api_call_free(c);
                return NULL;
            }
        }
    } else if (kind != STORE_OP_DELETE) {
        if (!store_json_is_object(req->body, req->body_len)) {
            source_error(resp, req->body, req->body_len);
            store_api_call_free(c);
            return NULL;
        }
        c->op.src = req->body;
        c->op.src_len = req->body_len;
    }
    if (auto_id) {
        store_util_auto_id(c->auto_id);
        c->op.id = c->auto_id;
        c->op.id_len = 20;
        /* auto ids are fresh: the write creates (ES runs it as op_type=create) */
        if (w.kind == STORE_OP_INDEX && w.vtype == STORE_VT_INTERNAL && w.version == STORE_MATCH_ANY)
            w.kind = STORE_OP_CREATE;
    } else {
        c->op.id = c->m.id;
        c->op.id_len = c->m.id_len;
    }
    c->op.w = w;
    c->op.require_alias = require_alias;
    c->op.index = c->m.index;
    c->job.kind = STORE_JOB_DOCS;
    c->job.ops = &c->op;
    c->job.nops = 1;
    return c;
}

/* An update's "get" object, when the request asked for the source (`_source`
 * in the URL or the body, as Elasticsearch's UpdateResponse): the document as
 * written (or left, for a noop), filtered as asked. */
static void update_get(buf *b, const store_call *c, const store_op *op, bool in_bulk)
{
    if (op->w.kind != STORE_OP_UPDATE || !op->upd || !op->new_src)
        return;
    store_srcfilter body = {0};
    const store_srcfilter *f = &body;
    if (!in_bulk && c->upd_src_params)
        f = &c->upd_filter;
    else if (op->upd->fetch_source)
        store_srcfilter_from_json(op->upd->fetch_source, &body);
    else
        return;
    if (!f->none) {
        buf_puts(b, ",\"get\":{\"_seq_no\":");
        store_resp_jint(b, op->seq_no);
        buf_puts(b, ",\"_primary_term\":");
        store_resp_jint(b, op->term);
        buf_puts(b, ",\"found\":true,\"_source\":");
        store_srcfilter_put(b, op->new_src, op->new_src_len, f);
        buf_putc(b, '}');
    }
    store_srcfilter_free(&body);
}

/* The success body of a write (modern or legacy form). */
static void write_body(buf *b, const store_call *c, const store_op *op, bool in_bulk)
{
    bool legacy = c->legacy && !in_bulk;
    bool noop = op->dec.result == STORE_RES_NOOP;
    if (legacy && op->w.kind == STORE_OP_DELETE)
        buf_printf(b, "{\"found\":%s,\"_index\":", op->dec.result == STORE_RES_DELETED ? "true" : "false");
    else
        buf_puts(b, "{\"_index\":");
    store_resp_jstr(b, op->index);
    if (legacy) {
        buf_puts(b, ",\"_type\":");
        store_resp_jstr(b, c->m.type);
    }
    buf_puts(b, ",\"_id\":");
    store_resp_jstrn(b, op->id, op->id_len);
    buf_puts(b, ",\"_version\":");
    store_resp_jint(b, op->version);
    buf_puts(b, ",\"result\":\"");
    buf_puts(b, store_result_name(op->dec.result));
    buf_puts(b, "\",");
    if (c->forced_refresh && !noop)
        buf_puts(b, "\"forced_refresh\":true,");
    store_resp_shards(b, noop ? 0 : 2, noop ? 0 : 1);
    if (legacy) {
        if (op->w.kind == STORE_OP_INDEX || op->w.kind == STORE_OP_CREATE)
            buf_printf(b, ",\"created\":%s", op->dec.result == STORE_RES_CREATED ? "true" : "false");
    } else {
        buf_puts(b, ",\"_seq_no\":");
        store_resp_jint(b, op->seq_no);
        buf_puts(b, ",\"_primary_term\":");
        store_resp_jint(b, op->term);
    }
    update_get(b, c, op, in_bulk);
    if (in_bulk) {
        buf_puts(b, ",\"status\":");
        store_resp_jint(b, op->dec.status);
    }
    buf_putc(b, '}');
}

/* The error object (type, reason, extras) of a failed op into `err`, and its status. */
static int op_error(const store_call *c, const store_op *op, bool in_bulk, const char **type, buf *reason, buf *extra)
{
    const char *t = c->legacy && !in_bulk ? c->m.type : NULL;
    switch (op->err) {
    case STORE_OPERR_CONFLICT: {
        buf rest = BUF_INIT;
        buf_printf(&rest, "version conflict, %s", op->dec.explain);
        store_resp_id_reason(reason, t, op->id, op->id_len, rest.data ? rest.data : ""); /* NULL out of memory */
        buf_free(&rest);
        store_resp_index_extra(extra, op->uuid, op->index);
        *type = "version_conflict_engine_exception";
        return 409;
    }
    case STORE_OPERR_DOC_MISSING:
        store_resp_id_reason(reason, t, op->id, op->id_len, "document missing");
        store_resp_index_extra(extra, op->uuid, op->index);
        *type = "document_missing_exception";
        return 404;
    case STORE_OPERR_INDEX_MISSING:
        buf_printf(reason, "no such index [%s]", op->index);
        store_resp_not_found_extra(extra, op->index);
        *type = "index_not_found_exception";
        return 404;
    case STORE_OPERR_NO_WRITE_INDEX:
        buf_printf(reason,
                   "no write index is defined for alias [%s]. The write index may be explicitly disabled using "
                   "is_write_index=false or the alias points to multiple indices without one being designated as a "
                   "write index",
                   op->index);
        *type = "illegal_argument_exception";
        return 400;
    case STORE_OPERR_NOT_ALIAS:
        buf_printf(reason, "no such index [%s] and [require_alias] request flag is [true] and [%s] is not an alias",
                   op->index, op->index);
        store_resp_not_found_extra(extra, op->index);
        *type = "index_not_found_exception";
        return 404;
    case STORE_OPERR_MAPPING:
        buf_puts(reason, op->reason ? op->reason : "failed to parse");
        *type = op->reason_type ? op->reason_type : "document_parsing_exception";
        return 400;
    case STORE_OPERR_BAD_SOURCE:
        buf_puts(reason, "failed to parse the stored document");
        *type = "mapper_parsing_exception";
        return 400;
    case STORE_OPERR_DISK_FULL:
        buf_printf(reason, STORE_DISK_BLOCK_REASON, op->index);
        *type = "cluster_block_exception";
        return STORE_DISK_BLOCK_STATUS;
    default:
        buf_puts(reason, "storage failure, see the verstore log");
        *type = "exception";
        return 500;
    }
}

void store_docs_finish_write(store_call *c, store_resp *r)
{
    store_op *op = &c->op;
    if (op->err == STORE_OPERR_CONFLICT)
        store_metrics_conflict();
    if (op->err != STORE_OPERR_NONE) {
        const char *type;
        buf reason = BUF_INIT, extra = BUF_INIT;
        int status = op_error(c, op, false, &type, &reason, &extra);
        store_resp_error_n(r, status, type, reason.data, reason.len, extra.data, NULL);
        buf_free(&reason);
        buf_free(&extra);
        return;
    }
    r->status = op->dec.status;
    write_body(&r->body, c, op, false);
    if (r->status == 201) {
        buf loc = BUF_INIT;
        buf_putc(&loc, '/');
        store_util_url_encode(op->index, strlen(op->index), &loc);
        buf_putc(&loc, '/');
        if (c->legacy)
            store_util_url_encode(c->m.type, strlen(c->m.type), &loc);
        else
            buf_puts(&loc, "_doc");
        buf_putc(&loc, '/');
        store_util_url_encode(op->id, op->id_len, &loc);
        if (c->routing) {
            buf_puts(&loc, "?routing=");
            store_util_url_encode(c->routing, strlen(c->routing), &loc);
        }
        r->location = buf_steal(&loc);
    }
}

/* ---- bulk ------------------------------------------------------------------------- */

store_call *store_docs_bulk(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    bool forced, require_alias;
    if (!store_req_refresh(req, &forced, resp) || !store_req_bool(req, "require_alias", false, &require_alias, resp) ||
        !store_req_pipeline(req, resp))
        return NULL;
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        return NULL;
    c->kind = CALL_BULK;
    c->forced_refresh = forced;
    store_bulk_error err = {0, NULL, BUF_INIT};
    if (!store_bulk_parse(req->body, req->body_len, c->m.index, &c->bulk, &err)) {
        store_resp_error_n(resp, err.status, err.type, err.reason.data, err.reason.len, NULL, NULL);
        store_bulk_error_free(&err);
        store_api_call_free(c);
        return NULL;
    }
    store_bulk_error_free(&err);
    size_t n = c->bulk.n;
    c->ops = calloc(n ? n : 1, sizeof *c->ops);
    c->op_of_item = calloc(n ? n : 1, sizeof *c->op_of_item);
    if (!c->ops || !c->op_of_item) {
        store_resp_error(resp, 500, "exception", "out of memory");
        store_api_call_free(c);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        store_bulk_item *it = &c->bulk.items[i];
        if (it->err_status) {
            c->op_of_item[i] = SIZE_MAX;
            continue;
        }
        store_op *op = &c->ops[k];
        op->w = it->w;
        op->require_alias = it->require_alias >= 0 ? it->require_alias != 0 : require_alias;
        op->index = it->index;
        op->id = it->id;
        op->id_len = it->id_len;
        op->src = it->src;
        op->src_len = it->src_len;
        if (it->action == STORE_BULK_UPDATE)
            op->upd = &it->upd;
        if (it->id == it->auto_id && op->w.kind == STORE_OP_INDEX)
            op->w.kind = STORE_OP_CREATE;
        c->op_of_item[i] = k++;
    }
    c->job.kind = STORE_JOB_DOCS;
    c->job.ops = c->ops;
    c->job.nops = k;
    return c;
}

static store_metrics_res metrics_result(const store_op *op);

void store_docs_finish_bulk(store_call *c, store_resp *r)
{
    buf *b = &r->body;
    bool errors = false;
    buf items = BUF_INIT;
    buf_reserve(&items, c->bulk.n * 160);
    buf reason = BUF_INIT, extra = BUF_INIT;
    for (size_t i = 0; i < c->bulk.n; i++) {
        store_bulk_item *it = &c->bulk.items[i];
        if (i)
            buf_putc(&items, ',');
        buf_puts(&items, "{\"");
        buf_puts(&items, it->key);
        buf_puts(&items, "\":");
        const store_op *op = c->op_of_item[i] == SIZE_MAX ? NULL : &c->ops[c->op_of_item[i]];
        store_metrics_res mres = metrics_result(op);
        store_metrics_bulk_item((int)it->action, mres);
        if (mres == STORE_MRES_CONFLICT)
            store_metrics_conflict();
        if (op && op->err == STORE_OPERR_NONE) {
            write_body(&items, c, op, true);
        } else {
            const char *type;
            int status;
            buf_reset(&reason);
            buf_reset(&extra);
            if (op) {
                status = op_error(c, op, true, &type, &reason, &extra);
            } else {
                status = it->err_status;
                type = it->err_type;
                buf_puts(&reason, it->err_reason ? it->err_reason : "");
                if (strcmp(type, "invalid_index_name_exception") == 0) {
                    buf_puts(&extra, ",\"index_uuid\":\"_na_\",\"index\":");
                    store_resp_jstr(&extra, it->index);
                }
            }
            errors = true;
            buf_puts(&items, "{\"_index\":");
            store_resp_jstr(&items, it->index ? it->index : "");
            buf_puts(&items, ",\"_id\":");
            if (it->id)
                store_resp_jstrn(&items, it->id, it->id_len);
            else
                buf_puts(&items, "null");
            buf_puts(&items, ",\"status\":");
            store_resp_jint(&items, status);
            buf_puts(&items, ",\"error\":{\"type\":");
            store_resp_jstr(&items, type);
            buf_puts(&items, ",\"reason\":");
            store_resp_jstrn(&items, reason.data ? reason.data : "", reason.len);
            if (extra.len)
                buf_append(&items, extra.data, extra.len);
            buf_puts(&items, "}}");
        }
        buf_putc(&items, '}');
    }
    buf_printf(b, "{\"took\":%" PRId64 ",\"errors\":%s,\"items\":[", store_util_mono_ms() - c->start_ms,
               errors ? "true" : "false");
    buf_append(b, items.data, items.len);
    buf_puts(b, "]}");
    buf_free(&items);
    buf_free(&reason);
    buf_free(&extra);
}

/* ---- dispatch ---------------------------------------------------------------------- */

void store_resp_pretty(store_resp *r)
{
    if (!r->body.len || strcmp(r->content_type, STORE_CT_JSON) != 0)
        return;
    buf out = BUF_INIT;
    if (store_json_pretty(r->body.data, r->body.len, &out)) {
        buf_free(&r->body);
        r->body = out;
    } else {
        buf_free(&out);
    }
}

/* ---- query parameters each endpoint knows (Elasticsearch's REST spec) ------------------ */

#define P_SRC "_source", "_source_excludes", "_source_includes"
#define P_WRITE "refresh", "routing", "timeout", "wait_for_active_shards", "if_seq_no", "if_primary_term", \
    "version", "version_type"
static const char *const p_global[] = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type",
                                       NULL};
static const char *const p_bulk[] = {"pipeline", "refresh", "routing", "timeout", "type", P_SRC, "wait_for_active_shards",
                                     "require_alias", "require_data_stream", "list_executed_pipelines",
                                     "include_source_on_error", NULL};
static const char *const p_get[] = {"preference", "realtime", "refresh", "routing", "stored_fields", P_SRC, "version",
                                    "version_type", "force_synthetic_source", NULL};
static const char *const p_mget[] = {"preference", "realtime", "refresh", "routing", "stored_fields", P_SRC,
                                     "force_synthetic_source", NULL};
static const char *const p_refresh[] = {"allow_no_indices", "expand_wildcards", "ignore_unavailable", "ignore_throttled",
                                        NULL};
static const char *const p_cat[] = {"bytes", "expand_wildcards", "format", "h", "help", "health",
                                    "include_unloaded_segments", "master_timeout", "pri", "s", "time", "v", "local",
                                    NULL};
static const char *const p_health[] = {"expand_wildcards", "level", "local", "master_timeout", "timeout",
                                       "wait_for_active_shards", "wait_for_events", "wait_for_nodes",
                                       "wait_for_no_initializing_shards", "wait_for_no_relocating_shards",
                                       "wait_for_status", NULL};
static const char *const p_index_put[] = {"master_timeout", "timeout", "wait_for_active_shards", "include_type_name",
                                          NULL};
static const char *const p_index_delete[] = {"allow_no_indices", "expand_wildcards", "ignore_unavailable",
                                             "master_timeout", "timeout", NULL};
static const char *const p_index_get[] = {"allow_no_indices", "expand_wildcards", "flat_settings", "ignore_unavailable",
                                          "include_defaults", "local", "master_timeout", "features", NULL};
static const char *const p_settings_get[] = {"allow_no_indices", "expand_wildcards", "flat_settings",
                                             "ignore_unavailable", "include_defaults", "local", "master_timeout",
                                             "name", NULL};
static const char *const p_settings_put[] = {"allow_no_indices", "expand_wildcards", "flat_settings",
                                             "ignore_unavailable", "master_timeout", "preserve_existing", "timeout",
                                             "reopen", NULL};
static const char *const p_mapping[] = {"allow_no_indices", "expand_wildcards", "ignore_unavailable", "local",
                                        "master_timeout", "timeout", "write_index_only", NULL};
static const char *const p_scroll[] = {"scroll", "scroll_id", "rest_total_hits_as_int", NULL};
static const char *const p_count[] = {"allow_no_indices", "analyzer", "analyze_wildcard", "default_operator", "df",
                                      "expand_wildcards", "ignore_throttled", "ignore_unavailable", "lenient",
                                      "min_score", "preference", "q", "routing", "terminate_after", NULL};
static const char *const p_search[] = {
    "allow_no_indices", "allow_partial_search_results", "analyzer", "analyze_wildcard", "batched_reduce_size",
    "ccs_minimize_roundtrips", "default_operator", "df", "docvalue_fields", "expand_wildcards", "explain", "from",
    "ignore_throttled", "ignore_unavailable", "include_named_queries_score", "lenient",
    "max_concurrent_shard_requests", "preference", "pre_filter_shard_size", "request_cache", "routing", "scroll",
    "search_type", "seq_no_primary_term", "size", "sort", P_SRC, "stats", "stored_fields", "suggest_field",
    "suggest_mode", "suggest_size", "suggest_text", "terminate_after", "timeout", "track_scores", "track_total_hits",
    "typed_keys", "rest_total_hits_as_int", "version", "q", "force_synthetic_source", NULL};
static const char *const p_index_doc[] = {P_WRITE, "op_type", "pipeline", "require_alias", "require_data_stream",
                                          "include_source_on_error", "list_executed_pipelines", NULL};
static const char *const p_delete_doc[] = {P_WRITE, NULL};
static const char *const p_update[] = {P_WRITE, "lang", "require_alias", "retry_on_conflict", P_SRC,
                                       "include_source_on_error", NULL};
static const char *const p_none[] = {NULL};
static const char *const p_analyze[] = {"index", NULL};
static const char *const p_data_stream[] = {"expand_wildcards", "include_defaults", "verbose", "master_timeout", NULL};
static const char *const p_alias[] = {"master_timeout", "timeout", "local", "expand_wildcards", "ignore_unavailable",
                                      "allow_no_indices", NULL};

static bool in_list(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (strcmp(*list, k) == 0)
            return true;
    return false;
}

typedef struct scored {
    float score;
    const char *name;
} scored;

static int scored_cmp(const void *x, const void *y)
{
    const scored *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int str_cmp(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

/* BaseRestHandler.unrecognized: 400 when the request carries parameters the
 * endpoint does not know. Returns false (resp filled) in that case. */
bool store_routes_check_params(const store_req *req, const store_match *m, store_resp *resp)
{
    const char *const *known = m->row->params;
    const char *bad[32];
    size_t nbad = 0;
    for (size_t i = 0; i < req->nparams && nbad < 32; i++) {
        const char *k = req->params[i].key;
        if (in_list(known, k) || in_list(p_global, k))
            continue;
        bool dup = false;
        for (size_t j = 0; j < nbad; j++)
            dup |= strcmp(bad[j], k) == 0;
        if (!dup)
            bad[nbad++] = k;
    }
    if (!nbad)
        return true;
    qsort(bad, nbad, sizeof bad[0], str_cmp);
    buf path = BUF_INIT, msg = BUF_INIT, reason = BUF_INIT;
    store_util_url_decode(req->path, strlen(req->path), false, &path);
    buf_printf(&msg, "request [%s] contains unrecognized parameter%s: ", path.data ? path.data : req->path,
               nbad > 1 ? "s" : "");
    for (size_t i = 0; i < nbad; i++) {
        scored cand[128];
        size_t nc = 0;
        const char *const *lists[2] = {known, p_global};
        for (int l = 0; l < 2; l++)
            for (const char *const *c = lists[l]; *c && nc < 128; c++) {
                float sc = store_util_similarity(bad[i], *c);
                if (sc > 0.5f)
                    cand[nc++] = (scored){sc, *c};
            }
        qsort(cand, nc, sizeof cand[0], scored_cmp);
        buf_printf(&msg, "%s[%s]", i ? ", " : "", bad[i]);
        if (nc == 1) {
            buf_printf(&msg, " -> did you mean [%s]?", cand[0].name);
        } else if (nc > 1) {
            buf_puts(&msg, " -> did you mean any of [");
            for (size_t j = 0; j < nc; j++)
                buf_printf(&msg, "%s%s", j ? ", " : "", cand[j].name);
            buf_puts(&msg, "]?");
        }
    }
    store_util_utf8_sanitize(msg.data, msg.len, &reason);
    store_resp_error_n(resp, 400, "illegal_argument_exception", reason.data, reason.len, NULL, NULL);
    buf_free(&path);
    buf_free(&msg);
    buf_free(&reason);
    return false;
}

/* ?filter_path on a JSON body (errors included, as Elasticsearch does). */
void store_resp_filter(store_resp *r, const char *filter)
{
    if (!filter || !*filter || !r->body.len || strcmp(r->content_type, STORE_CT_JSON) != 0)
        return;
    buf out = BUF_INIT;
    if (store_json_filter(r->body.data, r->body.len, filter, &out)) {
        buf_free(&r->body);
        r->body = out;
    } else {
        buf_free(&out);
    }
}

/* GET|HEAD /_alias[/{alias}], /_aliases, /{index}/_alias[/{alias}]. */
void store_admin_get_aliases(store_api *api, const store_match *m, bool head, store_resp *r)
{
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(r);
        return;
    }
    alias_list l = {0};
    list_ctx ix = {.only = m->index};
    bool ok = load_aliases(t, &l) && store_engine_index_each(t, collect_index, &ix);
    store_engine_read_end(t);
    if (!ok) {
        store_resp_storage_error(r);
        goto done;
    }
    if (m->index && ix.n == 0 && !strchr(m->index, '*')) {
        if (head)
            r->status = 404;
        else
            store_resp_index_not_found(r, m->index);
        goto done;
    }
    buf *b = &r->body;
    size_t found = 0, listed = 0;
    buf_putc(b, '{');
    for (size_t i = 0; i < ix.n; i++) {
        size_t mark = b->len;
        buf_puts(b, listed ? "," : "");
        store_resp_jstr(b, ix.metas[i].name);
        buf_puts(b, ":{\"aliases\":");
        size_t n = put_index_aliases(b, &l, ix.metas[i].name, m->alias);
        buf_putc(b, '}');
        if (m->alias && n == 0) { /* with an alias filter only indices that have it are shown */
            b->len = mark;
            b->data[b->len] = '\0';
            continue;
        }
        listed++;
        found += n;
    }
    buf_putc(b, '}');
    if (m->alias && found == 0) {
        if (head) {
            buf_reset(b);
            r->status = 404;
        } else {
            buf msg = BUF_INIT;
            buf_printf(&msg, "alias [%s] missing", m->alias);
            store_resp_flat_error(r, 404, msg.data);
            buf_free(&msg);
        }
    } else if (head) {
        buf_reset(b);
    }
done:
    free(ix.metas);
    alias_list_free(&l);
}

static bool valid_alias_name(const char *name, store_resp *resp)
{
    buf reason = BUF_INIT, msg = BUF_INIT;
    bool ok = store_router_valid_index(name, &reason);
    if (!ok) {
        /* Elasticsearch checks alias names with the index-name rules. */
        const char *why = strstr(reason.data, "], ");
        buf_printf(&msg, "Invalid alias name [%s]%s", name, why ? why + 1 : "");
        store_resp_error_n(resp, 400, "invalid_alias_name_exception", msg.data, msg.len, NULL, NULL);
    }
    buf_free(&reason);
    buf_free(&msg);
    return ok;
}

static bool add_action(store_call *c, store_alias_act act, const char *index, const char *alias, int w)
{
    if (c->nactions == c->actions_cap && !GROW_ARRAY(c->actions, c->actions_cap, c->nactions + 1, 8))
        return false;
    c->actions[c->nactions++] = (store_alias_action){act, index, alias, w};
    return true;
}

/* The names of `key` (a string) or `keys` (an array of strings) in `o`,
 * pointing into `o`. Returns the count, -1 after an error response. */
static int name_list(const cJSON *o, const char *key, const char *keys, const char **out, int max, store_resp *resp)
{
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(o, key);
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(o, keys);
    int n = 0;
    if (one) {
        if (!cJSON_IsString(one)) {
            store_resp_errorf(resp, 400, "parsing_exception", "[%s] must be a string", key);
            return -1;
        }
        out[n++] = one->valuestring;
    }
    if (many) {
        const cJSON *it;
        if (cJSON_IsString(many)) {
            out[n++] = many->valuestring;
        } else if (cJSON_IsArray(many)) {
            cJSON_ArrayForEach(it, many)
            {
                if (!cJSON_IsString(it)) {
                    store_resp_errorf(resp, 400, "parsing_exception", "[%s] must be an array of strings", keys);
                    return -1;
                }
                if (n == max) {
                    store_resp_errorf(resp, 400, "illegal_argument_exception", "too many [%s] in one action", keys);
                    return -1;
                }
                out[n++] = it->valuestring;
            }
        } else {
            store_resp_errorf(resp, 400, "parsing_exception", "[%s] must be an array of strings", keys);
            return -1;
        }
    }
    return n;
}

#define ALIAS_MAX_NAMES 256

/* POST /_aliases {"actions":[{"add":{…}},{"remove":{…}},{"remove_index":{…}}]}. */
store_call *store_admin_update_aliases(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    cJSON *body = NULL;
    store_call *c = NULL;
    if (!store_req_json_body(req, &body, resp))
        return NULL;
    const cJSON *actions = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "actions") : NULL;
    if (!cJSON_IsArray(actions) || cJSON_GetArraySize(actions) == 0) {
        store_resp_error(resp, 400, "action_request_validation_exception", "Validation Failed: 1: no action specified;");
        goto fail;
    }
    if (!(c = store_api_call_new(api, m, req, resp)))
        goto fail;
    c->kind = CALL_ALIASES;
    c->alias_body = body;
    const cJSON *item;
    cJSON_ArrayForEach(item, actions)
    {
        const cJSON *spec = cJSON_IsObject(item) ? item->child : NULL;
        if (!spec || spec->next || !cJSON_IsObject(spec)) {
            store_resp_error(resp, 400, "parsing_exception", "an alias action must be an object with one of [add], "
                                                       "[remove] or [remove_index]");
            goto fail_call;
        }
        store_alias_act act;
        if (strcmp(spec->string, "add") == 0)
            act = STORE_ALIAS_ADD;
        else if (strcmp(spec->string, "remove") == 0)
            act = STORE_ALIAS_REMOVE;
        else if (strcmp(spec->string, "remove_index") == 0)
            act = STORE_ALIAS_REMOVE_INDEX;
        else {
            store_resp_errorf(resp, 400, "parsing_exception", "unknown alias action [%s]; expected add, remove or remove_index",
                   spec->string);
            goto fail_call;
        }
        const char *indices[ALIAS_MAX_NAMES], *aliases[ALIAS_MAX_NAMES];
        int ni = name_list(spec, "index", "indices", indices, ALIAS_MAX_NAMES, resp);
        if (ni < 0)
            goto fail_call;
        int na = act == STORE_ALIAS_REMOVE_INDEX ? 0 : name_list(spec, "alias", "aliases", aliases, ALIAS_MAX_NAMES, resp);
        if (na < 0)
            goto fail_call;
        if (ni == 0 || (act != STORE_ALIAS_REMOVE_INDEX && na == 0)) {
            store_resp_error(resp, 400, "action_request_validation_exception",
                       ni == 0 ? "Validation Failed: 1: One of [index] or [indices] is required;"
                               : "Validation Failed: 1: One of [alias] or [aliases] is required;");
            goto fail_call;
        }
        int w = STORE_ALIAS_WRITE_UNSET;
        const cJSON *iw = cJSON_GetObjectItemCaseSensitive(spec, "is_write_index");
        if (iw) {
            if (!cJSON_IsBool(iw) || act != STORE_ALIAS_ADD) {
                store_resp_error(resp, 400, "parsing_exception",
                           "[is_write_index] must be true or false and is only allowed in [add]");
                goto fail_call;
            }
            w = cJSON_IsTrue(iw) ? 1 : 0;
        }
        for (int i = 0; i < ni; i++) {
            if (act == STORE_ALIAS_REMOVE_INDEX) {
                if (!add_action(c, act, indices[i], NULL, w))
                    goto oom;
                continue;
            }
            for (int j = 0; j < na; j++) {
                if (act == STORE_ALIAS_ADD && !valid_alias_name(aliases[j], resp))
                    goto fail_call;
                if (!add_action(c, act, indices[i], aliases[j], w))
                    goto oom;
            }
        }
    }
    c->job.kind = STORE_JOB_ALIASES;
    c->job.actions = c->actions;
    c->job.nactions = c->nactions;
    return c;
oom:
    store_resp_error(resp, 500, "exception", "out of memory");
fail_call:
    store_api_call_free(c);
    return NULL;
fail:
    cJSON_Delete(body);
    return NULL;
}

/* PUT|POST|DELETE /{index}/_alias/{alias}. */
store_call *store_admin_one_alias(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    bool del = m->method == STORE_M_DELETE;
    int w = STORE_ALIAS_WRITE_UNSET;
    cJSON *body = NULL;
    if (!del && !valid_alias_name(m->alias, resp))
        return NULL;
    if (!del && store_json_ws(req->body, req->body + req->body_len) != req->body + req->body_len) {
        if (!store_req_json_body(req, &body, resp))
            return NULL;
        const cJSON *iw = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "is_write_index") : NULL;
        if (!cJSON_IsObject(body) || (iw && !cJSON_IsBool(iw))) {
            store_resp_error(resp, 400, "parsing_exception", "the body must be an object; [is_write_index] true or false");
            cJSON_Delete(body);
            return NULL;
        }
        if (iw)
            w = cJSON_IsTrue(iw) ? 1 : 0;
        cJSON_Delete(body);
    }
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        return NULL;
    if (!add_action(c, del ? STORE_ALIAS_REMOVE : STORE_ALIAS_ADD, c->m.index, c->m.alias, w)) {
        store_api_call_free(c);
        store_resp_error(resp, 500, "exception", "out of memory");
        return NULL;
    }
    c->kind = CALL_ALIASES;
    c->job.kind = STORE_JOB_ALIASES;
    c->job.actions = c->actions;
    c->job.nactions = c->nactions;
    return c;
}

void store_admin_finish_aliases(store_call *c, store_resp *r)
{
    if (c->job.rc == STORE_JOB_OK) {
        buf_puts(&r->body, "{\"acknowledged\":true}");
        return;
    }
    const store_alias_action *a = &c->actions[c->job.alias_err_at];
    buf reason = BUF_INIT, x = BUF_INIT;
    switch (c->job.alias_err) {
    case STORE_ALIASERR_INDEX_MISSING:
        store_resp_index_not_found(r, a->index);
        break;
    case STORE_ALIASERR_ALIAS_MISSING:
        buf_printf(&reason, "aliases [%s] missing", a->alias);
        buf_puts(&x, ",\"resource.type\":\"aliases\",\"resource.id\":");
        store_resp_jstr(&x, a->alias);
        store_resp_error_n(r, 404, "aliases_not_found_exception", reason.data, reason.len, x.data, NULL);
        break;
    case STORE_ALIASERR_NAME_IS_INDEX:
        buf_printf(&reason, "Invalid alias name [%s]: an index or data stream exists with the same name as the alias",
                   a->alias);
        buf_puts(&x, ",\"index_uuid\":\"_na_\",\"index\":");
        store_resp_jstr(&x, a->alias);
        store_resp_error_n(r, 400, "invalid_alias_name_exception", reason.data, reason.len, x.data, NULL);
        break;
    case STORE_ALIASERR_MANY_WRITE:
        buf_printf(&reason, "alias [%s] has more than one write index", a->alias);
        store_resp_error_n(r, 400, "illegal_state_exception", reason.data, reason.len, NULL, NULL);
        break;
    default: store_resp_storage_error(r); break;
    }
    buf_free(&reason);
    buf_free(&x);
}

/* ---- metrics ------------------------------------------------------------------------ */

void store_admin_metrics(store_api *api, store_resp *r)
{
    if (!store_metrics_render(&r->body, api->e)) {
        store_resp_storage_error(r);
        return;
    }
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static store_metrics_res metrics_result(const store_op *op)
{
    if (!op)
        return STORE_MRES_ERROR;
    if (op->err == STORE_OPERR_CONFLICT)
        return STORE_MRES_CONFLICT;
    if (op->err != STORE_OPERR_NONE)
        return STORE_MRES_ERROR;
    switch (op->dec.result) {
    case STORE_RES_CREATED: return STORE_MRES_CREATED;
    case STORE_RES_UPDATED: return STORE_MRES_UPDATED;
    case STORE_RES_DELETED: return STORE_MRES_DELETED;
    case STORE_RES_NOT_FOUND: return STORE_MRES_NOT_FOUND;
    case STORE_RES_NOOP: return STORE_MRES_NOOP;
    default: return STORE_MRES_ERROR;
    }
}

/* The one check that no text was lost while `r` was built (since
 * buf_alloc_failures() was `fails0`): appends are not checked one by one, so
 * a refused one is caught here, and the client gets a 500 (or, for the body's
 * cap, Elasticsearch's 429 circuit_breaking_exception) instead of a 200 whose
 * JSON is cut short. Should the error body itself not fit, the HTTP front
 * answers its fixed 500 (store_http's send_resp). */
void store_resp_seal(store_resp *r, unsigned long fails0)
{
    if (r->body.overflow && buf_alloc_failures() == fails0 && !r->body.failed) {
        size_t limit = r->body.max;
        char reason[160], extra[96];
        snprintf(reason, sizeof reason, "[response] Data too large, the response would be larger than the limit of [%zu/%zub]",
                 limit, limit);
        snprintf(extra, sizeof extra, ",\"bytes_limit\":%zu,\"durability\":\"TRANSIENT\"", limit);
        log_warn("api: a response exceeded its limit of %zu bytes; answered 429", limit);
        free(r->location);
        r->location = NULL;
        store_resp_error_n(r, 429, "circuit_breaking_exception", reason, strlen(reason), extra, NULL);
    } else if (!buf_ok(&r->body) || buf_alloc_failures() != fails0) {
        log_error("api: out of memory while writing a response; answered 500");
        free(r->location);
        r->location = NULL;
        store_resp_error(r, 500, "exception", "out of memory");
    }
}

static void no_handler(store_resp *r, const store_req *req)
{
    store_resp_flat_errorf(r, 400, "no handler found for uri [%s] and method [%s]", req->path, req->method);
}

/* ---- the route table ------------------------------------------------------------------ */

/* Handlers as the table calls them (store_route_handler): each adapts one
 * endpoint function to the common signature. */

static bool legacy_route(const store_match *m)
{
    return m->route == STORE_R_LEGACY_DOC || m->route == STORE_R_LEGACY_AUTO || m->route == STORE_R_LEGACY_CREATE ||
           m->route == STORE_R_LEGACY_UPDATE || m->route == STORE_R_LEGACY_SOURCE;
}

static store_call *h_root(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    (void)req, (void)m;
    store_admin_root(api, r);
    return NULL;
}

static store_call *h_metrics(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    (void)req, (void)m;
    store_admin_metrics(api, r);
    return NULL;
}

static store_call *h_mget(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_docs_mget(api, req, m, r);
    return NULL;
}

static store_call *h_index_read(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_admin_index_read(api, req, m, m->method == STORE_M_HEAD, r);
    return NULL;
}

static store_call *h_delete_index(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_call *c = store_api_call_new(api, m, req, r);
    if (!c)
        return NULL;
    c->kind = CALL_DELETE_INDEX;
    c->job.kind = STORE_JOB_DELETE_INDEX;
    c->job.index = c->m.index;
    return c;
}

static store_call *h_get_mappings(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_admin_get_mappings(api, req, m, r);
    return NULL;
}

static store_call *h_search(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_api_search(api, req, m, r);
    return NULL;
}

static store_call *h_analyze(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_api_analyze(api, req, m, r);
    return NULL;
}

static store_call *h_get_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_docs_get(api, req, m, legacy_route(m), false, m->method == STORE_M_HEAD, r);
    return NULL;
}

static store_call *h_get_source(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    store_docs_get(api, req, m, legacy_route(m), true, m->method == STORE_M_HEAD, r);
    return NULL;
}

static store_call *h_index_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    return store_docs_write(api, req, m, STORE_OP_INDEX, legacy_route(m), false, r);
}

static store_call *h_auto_id_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    return store_docs_write(api, req, m, STORE_OP_INDEX, legacy_route(m), true, r);
}

static store_call *h_delete_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    return store_docs_write(api, req, m, STORE_OP_DELETE, legacy_route(m), false, r);
}

static store_call *h_create_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    return store_docs_write(api, req, m, STORE_OP_CREATE, legacy_route(m), false, r);
}

static store_call *h_update_doc(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    return store_docs_write(api, req, m, STORE_OP_UPDATE, legacy_route(m), false, r);
}

static store_call *h_get_aliases(store_api *api, const store_req *req, store_match *m, store_resp *r)
{
    (void)req;
    store_admin_get_aliases(api, m, m->method == STORE_M_HEAD, r);
    return NULL;
}

#define GET STORE_M_GET
#define HEAD STORE_M_HEAD
#define POST STORE_M_POST
#define PUT STORE_M_PUT
#define DELETE STORE_M_DELETE

/* Every endpoint, in matching order (first match wins; see store_router.h
 * for the pattern grammar). The literal routes of a length come before the
 * ones starting with a name, and `/{index}/{type}...` (the typeless API's
 * legacy form) after every `/{index}/_endpoint`. */
const store_route_def store_routes[] = {
    {"/", STORE_R_ROOT, {{GET | HEAD, p_none, STORE_EP_ROOT, h_root}}},
    /* one segment */
    {"/_bulk", STORE_R_BULK, {{POST | PUT, p_bulk, STORE_EP_BULK, store_docs_bulk}}},
    {"/_mget", STORE_R_MGET, {{GET | POST | PUT, p_mget, STORE_EP_MGET, h_mget}}},
    {"/_refresh", STORE_R_REFRESH, {{GET | POST, p_refresh, STORE_EP_CAT, h_index_read}}},
    {"/_aliases", STORE_R_ALIASES,
     {{POST, p_alias, STORE_EP_ALIASES, store_admin_update_aliases}, {GET, p_alias, STORE_EP_ALIASES, h_get_aliases}}},
    {"/_alias", STORE_R_ALIAS, {{GET, p_alias, STORE_EP_ALIASES, h_get_aliases}}},
    {"/_search", STORE_R_SEARCH, {{GET | POST, p_search, STORE_EP_SEARCH, h_search}}},
    {"/_count", STORE_R_COUNT, {{GET | POST, p_count, STORE_EP_COUNT, h_search}}},
    {"/_mapping", STORE_R_MAPPING, {{GET, p_mapping, STORE_EP_INDEX, h_get_mappings}}},
    {"/_mappings", STORE_R_MAPPING, {{GET, p_mapping, STORE_EP_INDEX, h_get_mappings}}},
    {"/_analyze", STORE_R_ANALYZE, {{GET | POST, p_analyze, STORE_EP_SEARCH, h_analyze}}},
    {"/_settings", STORE_R_SETTINGS,
     {{GET, p_settings_get, STORE_EP_INDEX, h_index_read}, {PUT, p_settings_put, STORE_EP_INDEX, store_admin_put_settings}}},
    {"/_data_stream", STORE_R_DATA_STREAM, {{GET, p_data_stream, STORE_EP_INDEX, h_index_read}}},
    /* "_x" too: creating it fails the index-name rules, as in Elasticsearch */
    {"/{index:any}", STORE_R_INDEX,
     {{GET | HEAD, p_index_get, STORE_EP_INDEX, h_index_read},
      {PUT, p_index_put, STORE_EP_INDEX, store_admin_create_index},
      {DELETE, p_index_delete, STORE_EP_INDEX, h_delete_index}}},
    /* two segments */
    {"/_cat/indices", STORE_R_CAT_INDICES, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_cat/aliases", STORE_R_CAT_ALIASES, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_cat/count", STORE_R_CAT_COUNT, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_data_stream/{index:any}", STORE_R_DATA_STREAM, {{GET, p_data_stream, STORE_EP_INDEX, h_index_read}}},
    {"/_cluster/health", STORE_R_HEALTH, {{GET, p_health, STORE_EP_CAT, h_index_read}}},
    {"/_alias/{alias:any}", STORE_R_ALIAS, {{GET | HEAD, p_alias, STORE_EP_ALIASES, h_get_aliases}}},
    {"/_prometheus/metrics", STORE_R_METRICS, {{GET, p_none, STORE_EP_METRICS, h_metrics}}},
    {"/_search/scroll", STORE_R_SCROLL, {{GET | POST | DELETE, p_scroll, STORE_EP_SEARCH, h_search}}},
    {"/{index:expr}/_alias", STORE_R_ALIAS, {{GET, p_alias, STORE_EP_ALIASES, h_get_aliases}}},
    {"/{index:expr}/_aliases", STORE_R_ALIAS, {{GET, p_alias, STORE_EP_ALIASES, h_get_aliases}}},
    {"/{index}/_bulk", STORE_R_BULK, {{POST | PUT, p_bulk, STORE_EP_BULK, store_docs_bulk}}},
    {"/{index}/_mget", STORE_R_MGET, {{GET | POST | PUT, p_mget, STORE_EP_MGET, h_mget}}},
    {"/{index:expr}/_refresh", STORE_R_REFRESH, {{GET | POST, p_refresh, STORE_EP_CAT, h_index_read}}},
    {"/{index:expr}/_settings", STORE_R_SETTINGS,
     {{GET, p_settings_get, STORE_EP_INDEX, h_index_read}, {PUT, p_settings_put, STORE_EP_INDEX, store_admin_put_settings}}},
    {"/{index:expr}/_mapping", STORE_R_MAPPING,
     {{GET, p_mapping, STORE_EP_INDEX, h_get_mappings}, {PUT | POST, p_mapping, STORE_EP_INDEX, store_admin_put_mapping}}},
    {"/{index:expr}/_mappings", STORE_R_MAPPING,
     {{GET, p_mapping, STORE_EP_INDEX, h_get_mappings}, {PUT | POST, p_mapping, STORE_EP_INDEX, store_admin_put_mapping}}},
    {"/{index:expr}/_search", STORE_R_SEARCH, {{GET | POST, p_search, STORE_EP_SEARCH, h_search}}},
    {"/{index:expr}/_count", STORE_R_COUNT, {{GET | POST, p_count, STORE_EP_COUNT, h_search}}},
    {"/{index}/_analyze", STORE_R_ANALYZE, {{GET | POST, p_analyze, STORE_EP_SEARCH, h_analyze}}},
    {"/{index}/_doc", STORE_R_DOC_AUTO, {{POST, p_index_doc, STORE_EP_DOC_WRITE, h_auto_id_doc}}},
    {"/{index}/{type}", STORE_R_LEGACY_AUTO, {{POST, p_index_doc, STORE_EP_DOC_WRITE, h_auto_id_doc}}},
    /* three segments */
    {"/_cat/indices/{index:any}", STORE_R_CAT_INDICES, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_cat/aliases/{alias:any}", STORE_R_CAT_ALIASES, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_cat/count/{index:any}", STORE_R_CAT_COUNT, {{GET, p_cat, STORE_EP_CAT, h_index_read}}},
    {"/_cluster/health/{index:any}", STORE_R_HEALTH, {{GET, p_health, STORE_EP_CAT, h_index_read}}},
    {"/_search/scroll/{id:any}", STORE_R_SCROLL, {{GET | POST | DELETE, p_scroll, STORE_EP_SEARCH, h_search}}},
    {"/{index:expr}/_alias/{alias:any}", STORE_R_ALIAS,
     {{GET | HEAD, p_alias, STORE_EP_ALIASES, h_get_aliases}, {PUT | POST | DELETE, p_alias, STORE_EP_ALIASES, store_admin_one_alias}}},
    {"/{index:expr}/_aliases/{alias:any}", STORE_R_ALIAS,
     {{GET | HEAD, p_alias, STORE_EP_ALIASES, h_get_aliases}, {PUT | POST | DELETE, p_alias, STORE_EP_ALIASES, store_admin_one_alias}}},
    /* The write row first: an unknown method counts as a write, as before the table. */
    {"/{index}/_doc/{id:any}", STORE_R_DOC,
     {{PUT | POST, p_index_doc, STORE_EP_DOC_WRITE, h_index_doc},
      {DELETE, p_delete_doc, STORE_EP_DOC_WRITE, h_delete_doc},
      {GET | HEAD, p_get, STORE_EP_DOC_READ, h_get_doc}}},
    {"/{index}/_create/{id:any}", STORE_R_CREATE, {{PUT | POST, p_index_doc, STORE_EP_DOC_WRITE, h_create_doc}}},
    {"/{index}/_update/{id:any}", STORE_R_UPDATE, {{POST, p_update, STORE_EP_UPDATE, h_update_doc}}},
    {"/{index}/_source/{id:any}", STORE_R_SOURCE, {{GET | HEAD, p_get, STORE_EP_DOC_READ, h_get_source}}},
    {"/{index}/{type}/{id:any}", STORE_R_LEGACY_DOC,
     {{PUT | POST, p_index_doc, STORE_EP_DOC_WRITE, h_index_doc},
      {DELETE, p_delete_doc, STORE_EP_DOC_WRITE, h_delete_doc},
      {GET | HEAD, p_get, STORE_EP_DOC_READ, h_get_doc}}},
    /* four segments */
    {"/{index}/{type}/{id:any}/_create", STORE_R_LEGACY_CREATE,
     {{PUT | POST, p_index_doc, STORE_EP_DOC_WRITE, h_create_doc}}},
    {"/{index}/{type}/{id:any}/_update", STORE_R_LEGACY_UPDATE, {{POST, p_update, STORE_EP_UPDATE, h_update_doc}}},
    {"/{index}/{type}/{id:any}/_source", STORE_R_LEGACY_SOURCE,
     {{GET | HEAD, p_get, STORE_EP_DOC_READ, h_get_source}}},
};
const size_t store_routes_n = sizeof store_routes / sizeof store_routes[0];

#undef GET
#undef HEAD
#undef POST
#undef PUT
#undef DELETE

store_call *store_api_begin(store_api *api, const store_req *req, store_resp *resp)
{
    store_match m;
    store_call *c = NULL;
    unsigned long fails0 = buf_alloc_failures();
    buf_reset(&resp->body);
    resp->status = 200;
    resp->content_type = STORE_CT_JSON;
    free(resp->location);
    resp->location = NULL;
    resp->allow[0] = '\0';
    bool pretty = store_req_param(req, "pretty") && strcmp(store_req_param(req, "pretty"), "false") != 0;
    if (!store_router_match(req->method, req->path, &m)) {
        buf p = BUF_INIT;
        store_util_utf8_sanitize(req->path, strlen(req->path), &p);
        store_resp_errorf(resp, 400, "illegal_argument_exception", "unable to decode the path [%s]", p.data ? p.data : "");
        buf_free(&p);
        goto out;
    }
    if (m.route == STORE_R_NONE) {
        no_handler(resp, req);
        store_router_free(&m);
        goto out;
    }
    if (!(m.allowed & m.method)) {
        char allowed[64];
        store_router_allowed_text(m.allowed, allowed, sizeof allowed);
        snprintf(resp->allow, sizeof resp->allow, "%s", allowed);
        store_resp_flat_errorf(resp, 405, "Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]", req->path,
                    req->method, allowed);
        store_router_free(&m);
        goto out;
    }
    if (req->body_len && !store_req_content_type_ok(req->content_type)) {
        store_resp_flat_errorf(resp, 406, "Content-Type header [%s] is not supported", req->content_type);
        store_router_free(&m);
        goto out;
    }
    if (!store_routes_check_params(req, &m, resp)) {
        store_router_free(&m);
        goto out;
    }
    bool head = m.method == STORE_M_HEAD;
    c = m.row->handler(api, req, &m, resp);
    if (c) {
        c->head = head;
        store_router_free(&m);
        return c;
    }
    store_router_free(&m);
out:
    store_resp_filter(resp, store_req_param(req, "filter_path"));
    if (pretty)
        store_resp_pretty(resp);
    if (resp->body.data == NULL)
        buf_reserve(&resp->body, 1);
    store_resp_seal(resp, fails0);
    store_metrics_request(store_router_endpoint(&m), resp->status);
    return NULL;
}

store_job *store_api_call_job(store_call *call) { return &call->job; }

void store_api_finish(store_call *c, store_resp *r)
{
    unsigned long fails0 = buf_alloc_failures();
    buf_reset(&r->body);
    free(r->location);
    r->location = NULL;
    r->allow[0] = '\0';
    r->status = 200;
    r->content_type = STORE_CT_JSON;
    if (c->job.rc == STORE_JOB_FAILED && c->kind != CALL_WRITE && c->kind != CALL_BULK) {
        if (c->job.disk_full)
            store_resp_errorf(r, STORE_DISK_BLOCK_STATUS, "cluster_block_exception", STORE_DISK_BLOCK_REASON,
                   c->m.index ? c->m.index : c->job.nactions ? c->job.actions[0].index : "_all");
        else
            store_resp_storage_error(r);
        goto done;
    }
    switch (c->kind) {
    case CALL_WRITE:
        store_docs_finish_write(c, r);
        break;
    case CALL_BULK:
        store_docs_finish_bulk(c, r);
        break;
    case CALL_CREATE_INDEX:
        if (c->job.rc == STORE_JOB_BAD_MAPPING) {
            buf reason = BUF_INIT, caused = BUF_INIT;
            buf_printf(&reason, "Failed to parse mapping: %s", c->job.reason);
            buf_puts(&caused, "{\"type\":\"mapper_parsing_exception\",\"reason\":");
            store_resp_jstr(&caused, c->job.reason);
            buf_putc(&caused, '}');
            store_resp_error_n(r, 400, "mapper_parsing_exception", reason.data, reason.len, NULL, caused.data);
            buf_free(&reason);
            buf_free(&caused);
        } else if (c->job.rc == STORE_JOB_NAME_IS_ALIAS) {
            buf reason = BUF_INIT;
            buf_printf(&reason, "Invalid index name [%s], already exists as alias", c->m.index);
            store_resp_invalid_index(r, c->m.index, &reason);
            buf_free(&reason);
        } else if (c->job.rc == STORE_JOB_EXISTS) {
            buf reason = BUF_INIT, x = BUF_INIT;
            buf_printf(&reason, "index [%s/%s] already exists", c->job.meta.name, c->job.meta.uuid);
            buf_puts(&x, ",\"index_uuid\":");
            store_resp_jstr(&x, c->job.meta.uuid);
            buf_puts(&x, ",\"index\":");
            store_resp_jstr(&x, c->job.meta.name);
            store_resp_error_n(r, 400, "resource_already_exists_exception", reason.data, reason.len, x.data, NULL);
            buf_free(&reason);
            buf_free(&x);
        } else {
            buf_puts(&r->body, "{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":");
            store_resp_jstr(&r->body, c->job.meta.name);
            buf_putc(&r->body, '}');
        }
        break;
    case CALL_ALIASES:
        store_admin_finish_aliases(c, r);
        break;
    case CALL_DELETE_INDEX:
    case CALL_PUT_SETTINGS:
    case CALL_PUT_MAPPING:
        if (c->job.rc == STORE_JOB_BAD_MAPPING)
            store_resp_error(r, 400, "illegal_argument_exception", c->job.reason);
        else if (c->job.rc == STORE_JOB_MISSING)
            store_resp_index_not_found(r, c->m.index);
        else
            buf_puts(&r->body, "{\"acknowledged\":true}");
        break;
    }
done:
    store_resp_filter(r, c->filter_path);
    if (c->pretty)
        store_resp_pretty(r);
    store_resp_seal(r, fails0);
    store_metrics_request(store_router_endpoint(&c->m), r->status);
    store_api_call_free(c);
}

void store_api_handle(store_api *api, const store_req *req, store_resp *resp)
{
    store_call *c = store_api_begin(api, req, resp);
    if (!c)
        return;
    store_engine_execute(api->e, store_api_call_job(c));
    store_api_finish(c, resp);
}
