/* store_api_int — the api, the call in flight and the calls the API's files make of each other (internal). */
#ifndef VERSYNC_STORE_API_INT_H
#define VERSYNC_STORE_API_INT_H

#include "versync/store/store_api.h"
#include "versync/store/store_bulk.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_router.h"
#include "versync/store/store_search.h"
#include "versync/store/store_srcfilter.h"
#include "versync/store/store_version.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_api {
    store_engine *e;
    store_search *search; /* scroll contexts */
    char node_name[128];
};

typedef enum call_kind {
    CALL_WRITE = 0, /* single document write */
    CALL_BULK,
    CALL_CREATE_INDEX,
    CALL_DELETE_INDEX,
    CALL_PUT_SETTINGS,
    CALL_ALIASES,
    CALL_PUT_MAPPING,
} call_kind;

struct store_call {
    store_api *api;
    call_kind kind;
    store_match m;
    bool legacy;
    bool pretty;
    bool forced_refresh;
    bool head;
    store_job job;
    store_op op;
    store_update_spec upd;
    store_bulk bulk;
    store_op *ops;
    size_t *op_of_item; /* bulk: index into ops, or SIZE_MAX for a settled item */
    int64_t start_ms;
    char auto_id[21];
    char *settings, *mappings;   /* admin jobs: JSON text (heap) */
    char **targets;              /* PUT _mapping/_settings: the concrete indices (owned; job.names) */
    size_t ntargets;
    char *filter_path;           /* ?filter_path (heap) or NULL */
    char *routing;               /* ?routing (heap) or NULL: echoed in Location */
    store_alias_action *actions; /* aliases job (heap); names point into m or alias_body */
    size_t nactions, actions_cap;
    cJSON *alias_body;          /* POST /_aliases body (owned) */
    char **alias_opts;          /* aliases job: the options texts and expanded names the actions point to (owned) */
    size_t nopts, opts_cap;
    bool upd_src_params;        /* update: ?_source… given; upd_filter holds them */
    store_srcfilter upd_filter; /* update: the response's get._source filter (owned) */
};

/* A call taking over the match's strings. Out of memory: NULL, with the
 * 500 already in `resp`. The caller owns the call (store_api_call_free). */
store_call *store_api_call_new(store_api *api, store_match *m, const store_req *req, store_resp *resp);

void store_api_call_free(store_call *c);

/* GET/POST /_analyze, /{index}/_analyze: the work is store_analysis's. */
void store_api_analyze(store_api *api, const store_req *req, const store_match *m, store_resp *r);

/* _search, _count, /_search/scroll: the body parsed (when there is one)
 * and handed to store_search. */
void store_api_search(store_api *api, const store_req *req, const store_match *m, store_resp *r);

#endif
