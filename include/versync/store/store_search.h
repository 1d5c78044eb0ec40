/* store_search — verstore's _search/_count/scroll: the query DSL parsed into a tree, run against the index structures, scored (BM25), sorted, paged, aggregated. */
#ifndef VERSYNC_STORE_SEARCH_H
#define VERSYNC_STORE_SEARCH_H

#include "versync/common/buf.h"
#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_error.h"
#include "versync/store/store_query.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---------------------------------------------------------------- */

/* Most aggregation buckets one search may answer with: Elasticsearch's
 * search.max_buckets default (a cluster setting there, fixed here). */
#define STORE_SEARCH_MAX_BUCKETS 65536

/* Most scroll contexts open at once: Elasticsearch's
 * search.max_open_scroll_context default. Each holds one LMDB read
 * snapshot, so the engine needs this many reader slots besides the threads'. */
#define STORE_SEARCH_MAX_SCROLLS 500

/* ---- running searches -------------------------------------------------------- */

typedef struct store_search store_search;

/* Search state over `engine` (borrowed): the open scroll contexts. Caller
 * owns it (store_search_free); NULL out of memory. */
store_search *store_search_new(store_engine *engine);

/* Free the scroll contexts past their keep-alive (and their read snapshots,
 * which keep LMDB from reusing pages). Skips a round while a scroll page
 * holds the contexts' lock rather than wait for it. */
void store_search_expire(store_search *s);

/* Free the state and every scroll context; NULL is a no-op. */
void store_search_free(store_search *s);

/* A request to one of the search endpoints. Everything is borrowed. */
typedef struct store_search_req {
    const char *index;         /* path index expression ("a,b", "logs-*", "_all") or NULL for all */
    const store_param *params; /* query parameters */
    size_t nparams;
    const cJSON *body; /* parsed body or NULL */
    const char *scroll_id; /* scroll endpoints: the id from the path, or NULL */
} store_search_req;

/* The concrete indices index expression `expr` names, resolved as _search
 * does: comma lists, wildcards over indices and aliases (dot-indices only
 * for a pattern starting with '.'), -exclusions after a wildcard, _all or
 * NULL for every index, aliases over several indices. Sorted, no repeats.
 * A missing name is a 404 index_not_found_exception (err->index_missing)
 * unless `ignore_unavailable`; so is an empty result unless
 * `allow_no_indices`. Caller owns *names (store_search_indices_free). */
bool store_search_indices(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                          char ***names, size_t *n, store_error *err);

/* Free a list from store_search_indices; NULL is a no-op. */
void store_search_indices_free(char **names, size_t n);

/* GET|POST /{index}/_search: the response body into `out` (200), or false
 * with `err` filled. */
bool store_search_run(store_search *s, const store_search_req *req, buf *out, store_error *err);

/* GET|POST /{index}/_count. */
bool store_search_count(store_search *s, const store_search_req *req, buf *out, store_error *err);

/* GET|POST /_search/scroll[/{id}]: the next page of a scroll context. */
bool store_search_scroll(store_search *s, const store_search_req *req, buf *out, store_error *err);

/* POST /{index}/_delete_by_query, /{index}/_update_by_query (`update`; no
 * script: each match is indexed again with its source, under the current
 * mapping): the body (or `q`) selects the documents on one read snapshot;
 * they are deleted (updated) in batches of scroll_size, each write
 * conditional on the seq_no the snapshot saw (a document changed since is a
 * version conflict: counted with conflicts=proceed, else the run stops after
 * its batch). The BulkByScrollResponse into `out` with *status 200, or the
 * worst failure's status (409 for a conflict); false with `err` for a
 * request refused before any write. */
bool store_search_by_query(store_search *s, const store_search_req *req, bool update, int *status, buf *out,
                           store_error *err);

/* The two halves of store_search_delete_by_query, apart so that a test can
 * write between the snapshot and the deletes. A store_dbq holds a read
 * snapshot until store_dbq_free. */
typedef struct store_dbq store_dbq;
bool store_dbq_open(store_search *s, const store_search_req *req, bool update, store_dbq **out, store_error *err);
bool store_dbq_run(store_dbq *d, buf *out, int *status, store_error *err);
void store_dbq_free(store_dbq *d);

/* DELETE /_search/scroll[/{id}|/_all]: frees contexts; *status is 200, or
 * 404 when none of the ids was found (body in `out` either way). */
bool store_search_clear_scroll(store_search *s, const store_search_req *req, int *status, buf *out,
                               store_error *err);

#endif
