/* store_api — verstore's Elasticsearch REST endpoints: request in, status + JSON body out, writes as engine jobs. */
#ifndef VERSYNC_STORE_API_H
#define VERSYNC_STORE_API_H

#include "versync/common/buf.h"
#include "versync/store/store_engine.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct store_api store_api;

/* A query parameter, already percent-decoded. */
typedef struct store_param {
    const char *key;
    const char *value; /* "" for a bare key */
} store_param;

/* A request as the HTTP front hands it over. Everything is borrowed. */
typedef struct store_req {
    const char *method;
    const char *path; /* raw path, still percent-encoded, without the query */
    const store_param *params;
    size_t nparams;
    const char *body;
    size_t body_len;
    const char *content_type; /* NULL when absent */
} store_req;

/* A response. `body` is JSON unless content_type says otherwise. */
/* Most documents one _mget may ask for. Elasticsearch bounds a multi get only
 * through its circuit breakers; this refuses at once (400) what would only
 * build a huge answer, before the body is parsed. */
#define STORE_MGET_MAX_DOCS 100000

typedef struct store_resp {
    int status;
    buf body;
    const char *content_type; /* static string */
    char *location;           /* heap or NULL: Location header */
    char allow[64];           /* Allow header for 405, "" otherwise */
} store_resp;

/* Start an empty 200 JSON response. */
void store_resp_init(store_resp *r);

/* Release a response's memory (body, Location); init it again to reuse it. */
void store_resp_free(store_resp *r);

/* An API over `engine` (borrowed; must outlive the api). Caller owns the
 * result (store_api_free). NULL out of memory. */
store_api *store_api_new(store_engine *engine);

/* Free an api from store_api_new; NULL is a no-op. */
void store_api_free(store_api *api);

/* Housekeeping the main loop runs about once a second: scroll contexts past
 * their keep-alive are freed even when no scroll request comes to notice. */
void store_api_tick(store_api *api);

typedef struct store_call store_call;

/* Start handling `req`. Returns NULL when `resp` is already complete.
 * Otherwise returns a call whose job (store_api_call_job) the caller must
 * submit to the engine; once the job is done, store_api_finish fills `resp`
 * and frees the call. `req` (body included) must stay valid until then. */
store_call *store_api_begin(store_api *api, const store_req *req, store_resp *resp);

/* The engine job of `call` (owned by the call). The caller sets job->done
 * and job->arg, then submits it with store_engine_submit. */
store_job *store_api_call_job(store_call *call);

/* Build the response of a call whose job has completed; frees the call. */
void store_api_finish(store_call *call, store_resp *resp);

/* Handle `req` completely on the calling thread (begin, run the job, finish). */
void store_api_handle(store_api *api, const store_req *req, store_resp *resp);

#endif
