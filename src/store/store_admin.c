/* store_admin — verstore's index administration: indices, settings, mappings, aliases, root and metrics. */
#include "versync/store/store_admin.h"
#include "versync/store/store_aliasopt.h"
#include "versync/store/store_mapping_rules.h"

#include "versync/store/store_api_int.h"
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

#define ES_VERSION "8.11.0"

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

/* `{"a":{},"b":{"is_write_index":true}}` of index `index`, aliases matching `only` (NULL: all). */
static size_t put_index_aliases(buf *b, const store_alias_list *l, const char *index, const char *only)
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
        buf_putc(b, ':');
        store_indices_put_alias_body(b, &l->rows[i]);
    }
    buf_putc(b, '}');
    return n;
}

/* An alias that names several indices used where one index is needed. */
static void alias_multi(store_api *api, store_resp *r, const char *name)
{
    store_alias_list l = {0};
    store_rtxn *t = store_engine_read_begin(api->e);
    if (t)
        store_indices_aliases_load(t, &l);
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
    store_indices_aliases_free(&l);
}

/* Answer a failed index lookup, given store_engine_index_resolve's result,
 * and return false; true when the index (or its alias) was found. HEAD
 * requests get a bare 404 for a missing index. */
bool store_admin_index_found(store_api *api, store_resp *r, store_lookup rc, const char *index, bool head)
{
    if (rc == STORE_LOOKUP_FOUND)
        return true;
    if (rc == STORE_LOOKUP_UNRESOLVED)
        alias_multi(api, r, index);
    else if (rc == STORE_LOOKUP_FAILED)
        store_resp_storage_error(r);
    else if (head)
        r->status = 404;
    else
        store_resp_index_not_found(r, index);
    return false;
}

/* ---- index management ---------------------------------------------------------- */


static bool valid_alias_name(const char *name, store_resp *resp);
static bool check_alias_members(const cJSON *spec, const char *what, store_resp *resp);
static bool add_action(store_call *c, store_alias_act act, const char *index, const char *alias, int w,
                       bool missing_ok, const char *opts);
static bool keep_opts(store_call *c, char *opts);

/* The `aliases` of a create-index body, `{"name": {filter, routing, is_write_index, is_hidden…}}`, as
 * ADD actions on the new index, applied by the writer with it (all or none). False after filling `resp`. */
static bool create_index_aliases(store_call *c, const cJSON *aliases, store_resp *resp)
{
    for (const cJSON *a = aliases->child; a; a = a->next) {
        char *opts = NULL;
        int w = STORE_ALIAS_WRITE_UNSET;
        if (!cJSON_IsObject(a)) {
            store_resp_errorf(resp, 400, "parse_exception", "alias [%s] must be an object", a->string);
            return false;
        }
        for (const cJSON *k = a->child; k; k = k->next)
            if (strcmp(k->string, "index") == 0 || strcmp(k->string, "indices") == 0 ||
                strncmp(k->string, "alias", 5) == 0) { /* Alias.fromXContent knows only the options */
                store_resp_errorf(resp, 400, "illegal_argument_exception", "Unknown field [%s] in alias [%s]",
                                  k->string, a->string);
                return false;
            }
        if (!valid_alias_name(a->string, resp) || !check_alias_members(a, NULL, resp))
            return false;
        const cJSON *iw = cJSON_GetObjectItemCaseSensitive(a, "is_write_index");
        if (iw && !cJSON_IsBool(iw)) {
            store_resp_error(resp, 400, "parse_exception", "[is_write_index] must be true or false");
            return false;
        }
        if (iw)
            w = cJSON_IsTrue(iw) ? 1 : 0;
        if (!store_aliasopt_build(a, a->string, &opts, resp))
            return false;
        if (!keep_opts(c, opts) || !add_action(c, STORE_ALIAS_ADD, c->m.index, a->string, w, false, opts)) {
            store_resp_error(resp, 500, "exception", "out of memory");
            return false;
        }
    }
    return true;
}

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
    const cJSON *aliases = NULL;
    char *settings = NULL, *mappings = NULL;
    int64_t gc = STORE_GC_UNSET;
    if (json_ws(req->body, req->body + req->body_len) != req->body + req->body_len) {
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
                const char *etype;
                char why[512];
                if (it->string[0] == 'm' && !store_mapping_rules_normalise(it, false, &etype, why, sizeof why)) {
                    /* as the mapper's refusals at creation: wrapped in mapper_parsing_exception */
                    buf reason = BUF_INIT, caused = BUF_INIT;
                    buf_printf(&reason, "Failed to parse mapping: %s", why);
                    buf_printf(&caused, "{\"type\":\"%s\",\"reason\":", etype);
                    store_resp_jstr(&caused, why);
                    buf_putc(&caused, '}');
                    store_resp_error_n(resp, 400, "mapper_parsing_exception", reason.data, reason.len, NULL,
                                       caused.data);
                    buf_free(&reason);
                    buf_free(&caused);
                    goto fail;
                }
                char *s = cJSON_PrintUnformatted(it);
                if (it->string[0] == 's')
                    free(settings), settings = s;
                else
                    free(mappings), mappings = s;
            } else if (strcmp(it->string, "aliases") == 0) {
                if (!cJSON_IsObject(it)) {
                    store_resp_errorf(resp, 400, "parse_exception", "[aliases] must be an object");
                    goto fail;
                }
                aliases = it;
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
    c->alias_body = body; /* the actions point into it */
    if (aliases && !create_index_aliases(c, aliases, resp)) {
        store_api_call_free(c);
        return NULL;
    }
    c->job.actions = c->actions;
    c->job.nactions = c->nactions;
    c->job.kind = STORE_JOB_CREATE_INDEX;
    c->job.index = c->m.index;
    c->job.settings = settings;
    c->job.settings_len = settings ? strlen(settings) : 0;
    c->job.mappings = mappings;
    c->job.mappings_len = mappings ? strlen(mappings) : 0;
    c->job.gc_deletes_ms = gc;
    return c;
fail:
    free(settings);
    free(mappings);
    cJSON_Delete(body);
    return NULL;
}

/* store_search_indices on a read snapshot of its own, the error answered
 * in resp (storage or the resolver's). *names is the caller's. */
static bool resolve_answered(store_api *api, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                             char ***names, size_t *n, store_resp *resp)
{
    store_error err = {0};
    store_rtxn *t = store_engine_read_begin(api->e);
    bool ok = t && store_search_indices(t, expr, ignore_unavailable, allow_no_indices, names, n, &err);
    store_engine_read_end(t);
    if (!t)
        store_resp_storage_error(resp);
    else if (!ok)
        store_resp_search_error(api, resp, &err);
    store_error_free(&err);
    return ok;
}

/* The indices PUT _mapping and PUT _settings change: the path's expression
 * (lists, wildcards, aliases with all their indices, _all) resolved as
 * Elasticsearch resolves it for these requests, whose indices options are
 * strict by default (ignore_unavailable=false, allow_no_indices=false).
 * False with the error answered. */
static bool resolve_targets(store_api *api, const store_req *req, store_call *c, store_resp *resp)
{
    const char *ani = store_req_param(req, "allow_no_indices");
    bool ok = resolve_answered(api, c->m.index, store_req_param_true(req, "ignore_unavailable"),
                               ani && strcmp(ani, "false") != 0, &c->targets, &c->ntargets, resp);
    static const char *const none[] = {NULL};
    c->job.names = c->targets ? (const char *const *)c->targets : none; /* none matched, as allowed: no change */
    c->job.nnames = c->ntargets;
    return ok;
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
    if (!resolve_targets(api, req, c, resp)) {
        store_api_call_free(c);
        c = NULL;
    }
done:
    cJSON_Delete(body);
    return c;
}

/* The index-level reads over index expressions (store_indices). */
void store_admin_index_read(store_api *api, const store_req *req, const store_match *m, bool head, store_resp *r)
{
    store_error err = {0};
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
    default:
        ok = store_indices_get(api->e, req, m->index, m->route == STORE_R_SETTINGS, head,
                               m->route == STORE_R_SETTINGS ? m->alias : NULL, r, &err);
        break;
    }
    if (!ok && head && err.index_missing) {
        buf_reset(&r->body);
        r->status = 404;
    } else if (!ok) {
        buf_reset(&r->body);
        store_resp_search_error(api, r, &err);
    }
    store_error_free(&err);
}

/* GET /_mapping, /{index}/_mapping: one entry per concrete index, the
 * expression resolved as _search resolves it (lists, wildcards, aliases). */
void store_admin_get_mappings(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    const char *ani = store_req_param(req, "allow_no_indices");
    store_error err = {0};
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
        store_lookup rc = store_engine_index_get(t, names[i], &meta, &settings, &mappings);
        if (rc == STORE_LOOKUP_FOUND) {
            if (b->len > 1)
                buf_putc(b, ',');
            store_resp_jstr(b, meta.name);
            buf_puts(b, ":{\"mappings\":");
            buf_append(b, mappings.len ? mappings.data : "{}", mappings.len ? mappings.len : 2);
            buf_putc(b, '}');
        }
        buf_free(&settings);
        buf_free(&mappings);
        if (rc == STORE_LOOKUP_FAILED) {
            store_resp_storage_error(r);
            goto done;
        }
    }
    buf_putc(b, '}');
done:
    store_search_indices_free(names, n);
    store_error_free(&err);
    store_engine_read_end(t);
}

store_call *store_admin_put_mapping(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    cJSON *body = NULL;
    if (json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
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
    const char *etype;
    char why[512];
    if (!store_mapping_rules_normalise(body, true, &etype, why, sizeof why)) {
        store_resp_error(resp, 400, etype, why);
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
    if (!resolve_targets(api, req, c, resp)) {
        store_api_call_free(c);
        c = NULL;
    }
done:
    cJSON_Delete(body);
    return c;
}

/* GET|HEAD /_alias[/{alias}], /_aliases, /{index}/_alias[/{alias}]. */
void store_admin_get_aliases(store_api *api, const store_match *m, bool head, store_resp *r)
{
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(r);
        return;
    }
    store_alias_list l = {0};
    list_ctx ix = {.only = m->index};
    bool ok = store_indices_aliases_load(t, &l) && store_engine_index_each(t, collect_index, &ix);
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
    store_indices_aliases_free(&l);
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

static bool add_action(store_call *c, store_alias_act act, const char *index, const char *alias, int w,
                       bool missing_ok, const char *opts)
{
    if (c->nactions == c->actions_cap && !GROW_ARRAY(c->actions, c->actions_cap, c->nactions + 1, 8))
        return false;
    c->actions[c->nactions++] = (store_alias_action){act, index, alias, w, missing_ok, opts};
    return true;
}

/* Hand `opts` (heap, may be NULL) to the call, which frees it with itself. False when out of memory (opts freed). */
static bool keep_opts(store_call *c, char *opts)
{
    if (!opts)
        return true;
    if (c->nopts == c->opts_cap && !GROW_ARRAY(c->alias_opts, c->opts_cap, c->nopts + 1, 8)) {
        free(opts);
        return false;
    }
    c->alias_opts[c->nopts++] = opts;
    return true;
}

/* The members an alias action (`what`: "add", "remove", "remove_index") or
 * the body of PUT _alias (`what` NULL: an add's) may have, as
 * IndicesAliasesRequest.AliasActions parses them; an unknown one is
 * Elasticsearch's x_content_parse_exception. The add options themselves
 * (filter, routing, is_hidden) are checked by store_aliasopt_build.
 * Returns false after filling `resp`. */
static bool check_alias_members(const cJSON *spec, const char *what, store_resp *resp)
{
    static const char *const names[] = {"index", "indices", "alias", "aliases", NULL};
    static const char *const add[] = {"filter", "routing", "index_routing", "indexRouting", "index-routing",
                                      "search_routing", "searchRouting", "search-routing", "is_write_index",
                                      "is_hidden", NULL};
    for (const cJSON *k = spec->child; k; k = k->next) {
        bool known = false, adding = !what || strcmp(what, "add") == 0;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(k->string, names[i]) == 0 &&
                    !(what && strcmp(what, "remove_index") == 0 && strncmp(k->string, "alias", 5) == 0);
        for (size_t i = 0; adding && add[i] && !known; i++)
            known = strcmp(k->string, add[i]) == 0;
        if (!known && what && strcmp(what, "remove") == 0)
            known = strcmp(k->string, "must_exist") == 0;
        if (!known) {
            store_resp_errorf(resp, 400, "x_content_parse_exception", "[%s] unknown field [%s]",
                              what ? what : "alias", k->string);
            return false;
        }
        if (strcmp(k->string, "must_exist") == 0 && !cJSON_IsBool(k)) {
            store_resp_error(resp, 400, "x_content_parse_exception", "[must_exist] must be true or false");
            return false;
        }
    }
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

static bool in_patterns(const char *list, const char *name);

static bool has_wildcard(const char *name) { return strchr(name, '*') || strcmp(name, "_all") == 0; }

/* An action's index pattern (`*`, `_all`) resolved to the indices it
 * matches, as IndicesAliasesRequest's options have it: open, non-hidden
 * indices, none matching is index_not_found_exception. *out is a heap array
 * (the caller frees it) of names the call owns. False after filling resp. */
static bool expand_action_indices(store_api *api, store_call *c, const char *pattern, const char *const **out,
                                  size_t *nout, store_resp *resp)
{
    char **names = NULL;
    size_t n = 0;
    bool ok = resolve_answered(api, pattern, false, false, &names, &n, resp);
    for (size_t i = 0; ok && i < n; i++) {
        ok = keep_opts(c, names[i]);
        names[i] = ok ? names[i] : NULL;
        if (!ok) {
            store_resp_error(resp, 500, "exception", "out of memory");
            for (size_t k = i + 1; k < n; k++)
                free(names[k]);
        }
    }
    if (!ok) {
        free(names);
        return false;
    }
    *out = (const char *const *)names;
    *nout = n;
    return true;
}

/* A remove action's alias pattern: one remove per alias of `index` it
 * matches (the names copied into the call). False after filling resp. */
static bool expand_action_aliases(store_api *api, store_call *c, const char *index, const char *pattern,
                                  store_resp *resp)
{
    store_alias_list l = {0};
    store_rtxn *t = store_engine_read_begin(api->e);
    bool ok = t && store_indices_aliases_load(t, &l);
    store_engine_read_end(t);
    if (!ok) {
        store_resp_storage_error(resp);
        store_indices_aliases_free(&l);
        return false;
    }
    for (size_t k = 0; ok && k < l.n; k++) {
        if (strcmp(l.rows[k].index, index) != 0 || !in_patterns(pattern, l.rows[k].alias))
            continue;
        char *alias = strdup(l.rows[k].alias);
        ok = alias && keep_opts(c, alias) && add_action(c, STORE_ALIAS_REMOVE, index, alias, STORE_ALIAS_WRITE_UNSET,
                                                        false, NULL);
    }
    if (!ok)
        store_resp_error(resp, 500, "exception", "out of memory");
    store_indices_aliases_free(&l);
    return ok;
}

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
        if (!check_alias_members(spec, spec->string, resp))
            goto fail_call;
        /* must_exist false: removing an alias that is not there is no error */
        bool missing_ok = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "must_exist"));
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
        for (int j = 0; j < na; j++)
            if (act == STORE_ALIAS_ADD && !valid_alias_name(aliases[j], resp))
                goto fail_call;
        size_t before = c->nactions;
        bool wild_alias = false;
        for (int i = 0; i < ni; i++) {
            const char *one[] = {indices[i]};
            const char *const *targets = one;
            size_t nt = 1;
            if (has_wildcard(indices[i])) {
                if (!expand_action_indices(api, c, indices[i], &targets, &nt, resp))
                    goto fail_call;
            }
            for (size_t t = 0; t < nt; t++) {
                if (act == STORE_ALIAS_REMOVE_INDEX) {
                    if (!add_action(c, act, targets[t], NULL, w, false, NULL))
                        goto oom_targets;
                    continue;
                }
                for (int j = 0; j < na; j++) {
                    char *opts = NULL;
                    if (act == STORE_ALIAS_REMOVE && has_wildcard(aliases[j])) {
                        wild_alias = true;
                        if (!expand_action_aliases(api, c, targets[t], aliases[j], resp))
                            goto fail_targets;
                        continue;
                    }
                    if (act == STORE_ALIAS_ADD && !store_aliasopt_build(spec, aliases[j], &opts, resp))
                        goto fail_targets;
                    if (!keep_opts(c, opts) || !add_action(c, act, targets[t], aliases[j], w, missing_ok, opts))
                        goto oom_targets;
                }
            }
            if (targets != one)
                free((void *)targets);
            continue;
        oom_targets:
            store_resp_error(resp, 500, "exception", "out of memory");
        fail_targets:
            if (targets != one)
                free((void *)targets);
            goto fail_call;
        }
        /* TransportIndicesAliasesAction: a remove that removed nothing is
         * aliases_not_found_exception unless must_exist is false. */
        if (wild_alias && c->nactions == before && !missing_ok) {
            buf names = BUF_INIT, reason = BUF_INIT, x = BUF_INIT;
            for (int j = 0; j < na; j++)
                buf_printf(&names, "%s%s", j ? "," : "", aliases[j]);
            buf_printf(&reason, "aliases [%s] missing", names.data);
            buf_puts(&x, ",\"resource.type\":\"aliases\",\"resource.id\":");
            store_resp_jstr(&x, names.data);
            store_resp_error_n(resp, 404, "aliases_not_found_exception", reason.data, reason.len, x.data, NULL);
            buf_free(&names);
            buf_free(&reason);
            buf_free(&x);
            goto fail_call;
        }
    }
    c->job.kind = STORE_JOB_ALIASES;
    c->job.actions = c->actions;
    c->job.nactions = c->nactions;
    return c;
fail_call:
    store_api_call_free(c);
    return NULL;
fail:
    cJSON_Delete(body);
    return NULL;
}

/* Whether `name` is one of the comma-separated patterns of `list` (_all, `*` wildcards). */
static bool in_patterns(const char *list, const char *name)
{
    bool hit = false;
    char *copy = strdup(list), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !hit; tok = strtok_r(NULL, ",", &save))
        hit = strcmp(tok, "_all") == 0 || glob(tok, name);
    free(copy);
    return hit;
}

/* PUT|DELETE /{indices}/_alias/{names} with lists, wildcards or _all, as
 * Elasticsearch expands them: the index expression to its indices (as a
 * search resolves it); for DELETE the alias patterns to the aliases those
 * indices have, none of them being aliases_not_found_exception. The names
 * are copied into the call. False after filling `resp`. */
static bool expand_one_alias(store_api *api, store_call *c, bool del, int w, const char *opts, store_resp *resp)
{
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(resp);
        return false;
    }
    store_error err = {0};
    store_alias_list l = {0};
    char **names = NULL;
    size_t n = 0, before = c->nactions;
    bool ok = store_search_indices(t, c->m.index, false, false, &names, &n, &err);
    if (!ok)
        store_resp_search_error(api, resp, &err);
    else if (del && !store_indices_aliases_load(t, &l)) {
        store_resp_storage_error(resp);
        ok = false;
    }
    store_engine_read_end(t);
    for (size_t i = 0; ok && i < n; i++) {
        char *index = strdup(names[i]);
        ok = index && keep_opts(c, index);
        if (!del) {
            ok = ok && add_action(c, STORE_ALIAS_ADD, index, c->m.alias, w, false, opts);
            continue;
        }
        for (size_t k = 0; ok && k < l.n; k++) {
            if (strcmp(l.rows[k].index, index) != 0 || !in_patterns(c->m.alias, l.rows[k].alias))
                continue;
            char *alias = strdup(l.rows[k].alias);
            ok = alias && keep_opts(c, alias) && add_action(c, STORE_ALIAS_REMOVE, index, alias, w, false, NULL);
        }
        if (!ok)
            store_resp_error(resp, 500, "exception", "out of memory");
    }
    if (ok && c->nactions == before) {
        buf reason = BUF_INIT, x = BUF_INIT;
        buf_printf(&reason, "aliases [%s] missing", c->m.alias);
        buf_puts(&x, ",\"resource.type\":\"aliases\",\"resource.id\":");
        store_resp_jstr(&x, c->m.alias);
        store_resp_error_n(resp, 404, "aliases_not_found_exception", reason.data, reason.len, x.data, NULL);
        buf_free(&reason);
        buf_free(&x);
        ok = false;
    }
    store_search_indices_free(names, n);
    store_indices_aliases_free(&l);
    store_error_free(&err);
    return ok;
}

/* PUT|POST|DELETE /{index}/_alias/{alias}. */
store_call *store_admin_one_alias(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    bool del = m->method == STORE_M_DELETE;
    int w = STORE_ALIAS_WRITE_UNSET;
    cJSON *body = NULL;
    char *opts = NULL;
    if (!del && !valid_alias_name(m->alias, resp))
        return NULL;
    if (!del && json_ws(req->body, req->body + req->body_len) != req->body + req->body_len) {
        if (!store_req_json_body(req, &body, resp))
            return NULL;
        if (cJSON_IsObject(body) && !check_alias_members(body, NULL, resp)) {
            cJSON_Delete(body);
            return NULL;
        }
        const cJSON *iw = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "is_write_index") : NULL;
        if (!cJSON_IsObject(body) || (iw && !cJSON_IsBool(iw))) {
            store_resp_error(resp, 400, "parsing_exception", "the body must be an object; [is_write_index] true or false");
            cJSON_Delete(body);
            return NULL;
        }
        if (iw)
            w = cJSON_IsTrue(iw) ? 1 : 0;
        bool built = store_aliasopt_build(body, m->alias, &opts, resp);
        cJSON_Delete(body);
        if (!built)
            return NULL;
    }
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c) {
        free(opts);
        return NULL;
    }
    if (!keep_opts(c, opts)) {
        store_api_call_free(c);
        store_resp_error(resp, 500, "exception", "out of memory");
        return NULL;
    }
    bool expr = strpbrk(c->m.index, ",*") || strcmp(c->m.index, "_all") == 0 ||
                (del && (strpbrk(c->m.alias, ",*") || strcmp(c->m.alias, "_all") == 0));
    if (expr ? !expand_one_alias(api, c, del, w, opts, resp)
             : !add_action(c, del ? STORE_ALIAS_REMOVE : STORE_ALIAS_ADD, c->m.index, c->m.alias, w, false, opts)) {
        if (!expr)
            store_resp_error(resp, 500, "exception", "out of memory");
        store_api_call_free(c);
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
    case STORE_ALIASERR_HIDDEN_MIXED: /* MetadataIndexAliasesService: one is_hidden for every index of an alias */
        buf_printf(&reason, "alias [%s] has is_hidden set to true on some of its indices but not on all; alias must "
                            "have the same is_hidden setting on all indices", a->alias);
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
