/* store_routes — verstore's route table (pattern, methods, parameters, handler) and the unknown-parameter check. */
#include "versync/store/store_routes.h"

#include "versync/store/store_api_int.h"
#include "versync/store/store_admin.h"
#include "versync/store/store_docs.h"
#include "versync/store/store_req.h"
#include "versync/store/store_resp.h"
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
                                    "include_unloaded_segments", "master_timeout", "pri", "s", "size", "time", "ts", "v", "local",
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

static const char *const p_dbq[] = {
    "allow_no_indices", "analyzer", "analyze_wildcard", "conflicts", "default_operator", "df", "expand_wildcards",
    "from", "ignore_unavailable", "lenient", "max_docs", "preference", "q", "refresh", "request_cache",
    "requests_per_second", "routing", "scroll", "scroll_size", "search_timeout", "search_type", "slices", "sort",
    "stats", "terminate_after", "timeout", "version", "wait_for_active_shards", "wait_for_completion", NULL};

static const char *const p_ubq[] = {
    "allow_no_indices", "analyzer", "analyze_wildcard", "conflicts", "default_operator", "df", "expand_wildcards",
    "from", "ignore_unavailable", "lenient", "max_docs", "pipeline", "preference", "q", "refresh", "request_cache",
    "requests_per_second", "routing", "scroll", "scroll_size", "search_timeout", "search_type", "slices", "sort",
    "stats", "terminate_after", "timeout", "version", "version_type", "wait_for_active_shards",
    "wait_for_completion", NULL};

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

/* ---- the route table ------------------------------------------------------------------ */

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
    {"/_settings/{alias:any}", STORE_R_SETTINGS, {{GET, p_settings_get, STORE_EP_INDEX, h_index_read}}},
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
    {"/{index:expr}/_delete_by_query", STORE_R_DELETE_BY_QUERY, {{POST, p_dbq, STORE_EP_SEARCH, h_search}}},
    {"/{index:expr}/_update_by_query", STORE_R_UPDATE_BY_QUERY, {{POST, p_ubq, STORE_EP_SEARCH, h_search}}},
    {"/{index}/_analyze", STORE_R_ANALYZE, {{GET | POST, p_analyze, STORE_EP_SEARCH, h_analyze}}},
    {"/{index}/_doc", STORE_R_DOC_AUTO, {{POST, p_index_doc, STORE_EP_DOC_WRITE, h_auto_id_doc}}},
    {"/{index}/{type}", STORE_R_LEGACY_AUTO, {{POST, p_index_doc, STORE_EP_DOC_WRITE, h_auto_id_doc}}},
    /* three segments */
    {"/{index:expr}/_settings/{alias:any}", STORE_R_SETTINGS, {{GET, p_settings_get, STORE_EP_INDEX, h_index_read}}},
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
