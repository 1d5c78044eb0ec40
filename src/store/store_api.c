/* store_api — verstore's Elasticsearch REST endpoints: request in, status + JSON body out, writes as engine jobs. */
#include "versync/store/store_api.h"
#include "versync/common/timing.h"
#include "versync/store/store_mapping_rules.h"
#include "versync/store/store_datemath.h"
#include "versync/store/store_api_int.h"
#include "versync/store/store_admin.h"
#include "versync/store/store_docs.h"
#include "versync/store/store_req.h"
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

void store_api_tick(store_api *api)
{
    store_search_expire(api->search);
}

void store_api_free(store_api *api)
{
    if (!api)
        return;
    store_search_free(api->search);
    free(api);
}

/* A call taking over the match's strings. Out of memory: NULL, with the
 * 500 already in `resp`. The caller owns the call (store_api_call_free). */
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
    c->start_ms = timing_now_ms();
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
    store_search_indices_free(c->targets, c->ntargets);
    free(c->filter_path);
    free(c->routing);
    free(c->actions);
    for (size_t i = 0; i < c->nopts; i++)
        free(c->alias_opts[i]);
    free(c->alias_opts);
    cJSON_Delete(c->alias_body);
    free(c);
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
        store_lookup rc = store_engine_index_resolve(t, m->index, false, &meta, &settings, &mappings);
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

/* _search, _count, /_search/scroll: the body parsed (when there is one)
 * and handed to store_search. */
void store_api_search(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    cJSON *body = NULL;
    if (json_ws(req->body, req->body + req->body_len) != req->body + req->body_len &&
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
    store_error err = {0};
    bool ok;
    int status = 200;
    if (m->route == STORE_R_COUNT)
        ok = store_search_count(api->search, &sr, &r->body, &err);
    else if (m->route == STORE_R_SEARCH)
        ok = store_search_run(api->search, &sr, &r->body, &err);
    else if (m->route == STORE_R_DELETE_BY_QUERY || m->route == STORE_R_UPDATE_BY_QUERY)
        ok = store_search_by_query(api->search, &sr, m->route == STORE_R_UPDATE_BY_QUERY, &status, &r->body, &err);
    else if (m->method == STORE_M_DELETE)
        ok = store_search_clear_scroll(api->search, &sr, &status, &r->body, &err);
    else
        ok = store_search_scroll(api->search, &sr, &r->body, &err);
    if (ok)
        r->status = status;
    else
        store_resp_search_error(api, r, &err);
    store_error_free(&err);
    cJSON_Delete(body);
}

static void no_handler(store_resp *r, const store_req *req)
{
    store_resp_flat_errorf(r, 400, "no handler found for uri [%s] and method [%s]", req->path, req->method);
}

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
    if (m.index && strchr(m.index, '<')) { /* date math in the path's index names, resolved once per request */
        char *resolved, why[512];
        const char *etype = "parse_exception";
        int rc = store_datemath_resolve_list(m.index, store_util_now_ms(), &resolved, &etype, why, sizeof why);
        if (rc != 1) {
            if (rc < 0)
                store_resp_error(resp, 500, "exception", "out of memory");
            else
                store_resp_error(resp, 400, etype, why);
            store_router_free(&m);
            goto out;
        }
        if (resolved) {
            free(m.index);
            m.index = resolved;
        }
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

/* What MapperService answers when its parser refuses a mapping: the mapper's
 * own exception wrapped in mapper_parsing_exception "Failed to parse mapping: …". */
static void mapping_parse_error(store_resp *r, const char *why)
{
    buf reason = BUF_INIT, caused = BUF_INIT;
    buf_printf(&reason, "Failed to parse mapping: %s", why);
    buf_printf(&caused, "{\"type\":\"%s\",\"reason\":", store_mapping_rules_error_type(why));
    store_resp_jstr(&caused, why);
    buf_putc(&caused, '}');
    store_resp_error_n(r, 400, "mapper_parsing_exception", reason.data, reason.len, NULL, caused.data);
    buf_free(&reason);
    buf_free(&caused);
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
        if (c->job.rc == STORE_JOB_BAD_MAPPING)
            mapping_parse_error(r, c->job.reason);
        else if (c->job.rc == STORE_JOB_ALIAS_REFUSED)
            store_admin_finish_aliases(c, r);
        else if (c->job.rc == STORE_JOB_NAME_IS_ALIAS) {
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
        if (c->job.rc == STORE_JOB_BAD_MAPPING && c->kind == CALL_PUT_MAPPING &&
            !store_mapping_rules_is_merge_error(c->job.reason))
            mapping_parse_error(r, c->job.reason);
        else if (c->job.rc == STORE_JOB_BAD_MAPPING)
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
