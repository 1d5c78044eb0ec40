/* store_router — matches a method and raw URL path against verstore's route table, and Elasticsearch's index-name rules. */
#ifndef VERSYNC_STORE_ROUTER_H
#define VERSYNC_STORE_ROUTER_H

#include "versync/common/buf.h"
#include "versync/store/store_metrics.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum store_route {
    STORE_R_NONE = 0,      /* no such endpoint */
    STORE_R_ROOT,          /* / */
    STORE_R_BULK,          /* /_bulk, /{index}/_bulk */
    STORE_R_MGET,          /* /_mget, /{index}/_mget */
    STORE_R_REFRESH,       /* /_refresh, /{index}/_refresh */
    STORE_R_CAT_INDICES,   /* /_cat/indices[/{index}] */
    STORE_R_HEALTH,        /* /_cluster/health[/{index}] */
    STORE_R_INDEX,         /* /{index} */
    STORE_R_SETTINGS,      /* /{index}/_settings */
    STORE_R_MAPPING,       /* /{index}/_mapping (GET; PUT/POST merge) */
    STORE_R_COUNT,         /* /_count, /{index}/_count */
    STORE_R_SEARCH,        /* /_search, /{index}/_search ({index}: a list, wildcards, aliases) */
    STORE_R_SCROLL,        /* /_search/scroll[/{id}]: id in `id` */
    STORE_R_DOC,           /* /{index}/_doc/{id} */
    STORE_R_DOC_AUTO,      /* /{index}/_doc */
    STORE_R_CREATE,        /* /{index}/_create/{id} */
    STORE_R_UPDATE,        /* /{index}/_update/{id} */
    STORE_R_SOURCE,        /* /{index}/_source/{id} */
    STORE_R_LEGACY_DOC,    /* /{index}/{type}/{id} */
    STORE_R_LEGACY_AUTO,   /* /{index}/{type} */
    STORE_R_LEGACY_CREATE, /* /{index}/{type}/{id}/_create */
    STORE_R_LEGACY_UPDATE, /* /{index}/{type}/{id}/_update */
    STORE_R_LEGACY_SOURCE, /* /{index}/{type}/{id}/_source */
    STORE_R_ALIASES,       /* /_aliases (POST: actions; GET: list) */
    STORE_R_ALIAS,         /* /_alias[/{alias}], /{index}/_alias[es][/{alias}] */
    STORE_R_METRICS,       /* /_prometheus/metrics */
    STORE_R_ANALYZE,       /* /_analyze, /{index}/_analyze */
    STORE_R_CAT_ALIASES,   /* /_cat/aliases[/{alias}]: names in `alias` */
    STORE_R_CAT_COUNT,     /* /_cat/count[/{index}] */
    STORE_R_DATA_STREAM,   /* /_data_stream[/{name}]: name in `index` */
    STORE_R_DELETE_BY_QUERY, /* /{index}/_delete_by_query */
    STORE_R_UPDATE_BY_QUERY, /* /{index}/_update_by_query */
} store_route;

/* Method bits. */
enum {
    STORE_M_GET = 1,
    STORE_M_HEAD = 2,
    STORE_M_POST = 4,
    STORE_M_PUT = 8,
    STORE_M_DELETE = 16,
};

/* ---- the route table ----------------------------------------------------------------
 *
 * verstore's endpoints are one table (store_routes.c): a path pattern, and per
 * method the accepted query parameters, the metrics endpoint and the handler.
 * It is the only place a route is described; the matcher below, the
 * unrecognized-parameter check, the 405 answer and the metrics all read it.
 *
 * A pattern is '/'-separated segments, matched against the percent-decoded
 * segments of the path (empty ones ignored), in table order, first match wins:
 *   _bulk          a literal segment
 *   {index}        a name: any segment not starting with '_' (such a segment
 *                  is an endpoint, never an index or a type); captured into the
 *                  match's field (index, type, id or alias)
 *   {index:expr}   an index expression: a name, or `_all` (every index)
 *   {id:any}       any segment at all
 */

struct store_api;
struct store_req;
struct store_resp;
struct store_call;
struct store_match;

/* Handle a matched request. Returns NULL when `resp` is complete, or a call
 * whose engine job the caller runs (store_api_begin's contract). The handler
 * may take over the match's strings (it then zeroes them). */
typedef struct store_call *(*store_route_handler)(struct store_api *api, const struct store_req *req,
                                                  struct store_match *m, struct store_resp *resp);

/* What one method (or several) of a route does. */
typedef struct store_route_method {
    unsigned methods;           /* STORE_M_* bits this row serves */
    const char *const *params;  /* NULL-terminated query parameters accepted besides the global ones */
    store_metrics_ep endpoint;  /* what the request counts under */
    store_route_handler handler;
} store_route_method;

#define STORE_ROUTE_MAX_METHODS 3

typedef struct store_route_def {
    const char *pattern; /* "/{index}/_doc/{id:any}" */
    store_route route;
    /* Rows in order; a method outside every row is refused (405) and counts
     * under the first row's endpoint. */
    store_route_method rows[STORE_ROUTE_MAX_METHODS];
} store_route_def;

/* The table (store_routes.c) and its length. */
extern const store_route_def store_routes[];
extern const size_t store_routes_n;

typedef struct store_match {
    const store_route_def *def;     /* the matched route, NULL for none */
    const store_route_method *row;  /* its row for the request's method, NULL when refused */
    store_route route;
    unsigned allowed; /* methods the path supports */
    unsigned method;  /* the request's method bit (0: unknown method) */
    char *index;      /* percent-decoded path parts (heap) or NULL */
    char *type;
    char *id;
    size_t id_len;
    char *alias; /* STORE_R_ALIAS: the alias name, or NULL */ /* ids may hold any byte, NUL included */
} store_match;

/* The method's bit, 0 when it is none of GET HEAD POST PUT DELETE. */
unsigned store_router_method(const char *method);

/* Split `path` (raw, still percent-encoded, no query string) and match it.
 * Empty segments are ignored. Returns false only for a malformed
 * percent-escape or out of memory; an unknown endpoint is route NONE.
 * The caller owns the strings in `out` (store_router_free). */
bool store_router_match(const char *method, const char *path, store_match *out);

/* The metrics endpoint a matched request counts under: its method's row,
 * the route's first row for a refused method, OTHER when nothing matched. */
store_metrics_ep store_router_endpoint(const store_match *m);

/* True when `pattern` follows the grammar above (the unit tests check every
 * row of the table with it). */
bool store_router_pattern_ok(const char *pattern);

/* Free the strings of a match (safe to call twice). */
void store_router_free(store_match *m);

/* "GET, HEAD, ..." for an Allow header / 405 message, into `out`. */
void store_router_allowed_text(unsigned allowed, char *out, size_t outsz);

/* Elasticsearch's index-name rules. False with the complete reason (e.g.
 * "Invalid index name [Foo], must be lowercase") appended to `reason` when
 * `name` is not valid. */
bool store_router_valid_index(const char *name, buf *reason);

#endif
