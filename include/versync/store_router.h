/* store_router — maps a method and raw URL path to a verstore endpoint, and Elasticsearch's index-name rules. */
#ifndef VERSYNC_STORE_ROUTER_H
#define VERSYNC_STORE_ROUTER_H

#include "versync/buf.h"

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
} store_route;

/* Method bits. */
enum {
    STORE_M_GET = 1,
    STORE_M_HEAD = 2,
    STORE_M_POST = 4,
    STORE_M_PUT = 8,
    STORE_M_DELETE = 16,
};

typedef struct store_match {
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

/* Free the strings of a match (safe to call twice). */
void store_router_free(store_match *m);

/* "GET, HEAD, ..." for an Allow header / 405 message, into `out`. */
void store_router_allowed_text(unsigned allowed, char *out, size_t outsz);

/* Elasticsearch's index-name rules. False with the complete reason (e.g.
 * "Invalid index name [Foo], must be lowercase") appended to `reason` when
 * `name` is not valid. */
bool store_router_valid_index(const char *name, buf *reason);

#endif
