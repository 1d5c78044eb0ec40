/* store_indices — verstore's index-level read endpoints over index expressions (lists, _all, wildcards, aliases): GET /{index}, _settings as Elasticsearch renders them, _refresh, _cat/indices|aliases|count, _cluster/health. */
#ifndef VERSYNC_STORE_INDICES_H
#define VERSYNC_STORE_INDICES_H

#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_search.h"

#include <stdbool.h>

/* Every function answers into `r` (body appended, content type set) and
 * returns true, or fills `err` (an Elasticsearch error: index_not_found for a
 * missing name unless ?ignore_unavailable, …) and returns false. `expr` is the
 * path's index expression, NULL for none (every index). */

/* GET|HEAD /{expr} (settings false) or GET /{expr}/_settings, /_settings
 * (settings true). Settings are normalised as Elasticsearch returns them: an
 * "index" object of string values with the defaults it adds
 * (number_of_shards, number_of_replicas, uuid, provided_name,
 * creation_date, version.created); ?flat_settings=true gives "index."-prefixed
 * keys. `names` (GET /{expr}/_settings/{names}; NULL for all) is a comma list
 * of setting names or wildcard patterns ("index.number_of_*"), matched against
 * the flat keys, the settings and the defaults alike. HEAD answers 200 or a
 * bare 404. */
bool store_indices_get(store_engine *e, const store_req *req, const char *expr, bool settings, bool head,
                       const char *names, store_resp *r, store_error *err);

/* GET|POST /_refresh, /{expr}/_refresh: verstore's writes are searchable when
 * acknowledged, so this checks the names and reports the shards. */
bool store_indices_refresh(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                           store_error *err);

/* GET /_cat/indices[/{expr}], text or ?format=json. */
bool store_indices_cat_indices(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                               store_error *err);

/* GET /_cat/aliases[/{names}]: `names` a comma list of alias names or patterns. */
bool store_indices_cat_aliases(store_engine *e, const store_req *req, const char *names, store_resp *r,
                               store_error *err);

/* GET /_cat/count[/{expr}]: live documents of the indices named. */
bool store_indices_cat_count(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                             store_error *err);

/* GET /_cluster/health[/{expr}]: shard counts of the indices named. A name
 * that does not exist answers at once what Elasticsearch answers after its
 * timeout: 408, status red, timed_out true. */
bool store_indices_health(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                          store_error *err);

/* The concrete indices `expr` names, with the request's ignore_unavailable
 * and allow_no_indices (default `allow_empty`). Caller owns *names
 * (store_search_indices_free). */
bool store_indices_resolve(store_rtxn *t, const store_req *req, const char *expr, bool allow_empty, char ***names,
                           size_t *n, store_error *err);

/* Every alias of the node, as read in one read transaction. */
typedef struct store_alias_row {
    char *alias, *index;
    int w;      /* 1 write index, 0 explicitly not, -1 unset */
    char *opts; /* filter, routing, is_hidden as a JSON object text, NULL for none */
} store_alias_row;

typedef struct store_alias_list {
    store_alias_row *rows;
    size_t n, cap;
    bool oom; /* set when a copy could not be allocated */
} store_alias_list;

/* Append every alias of `t` to `l` (zero-initialised by the caller). False on a storage error
 * or when out of memory (l->oom tells which); `l` is freed by store_indices_aliases_free either way. */
bool store_indices_aliases_load(store_rtxn *t, store_alias_list *l);

/* Append the alias row's body as GET _alias renders it: `{"filter":…,"index_routing":…,
 * "search_routing":…,"is_hidden":…,"is_write_index":…}`, each member only when set. */
void store_indices_put_alias_body(buf *b, const store_alias_row *r);

/* Free the rows of `l` and zero it; NULL is a no-op. */
void store_indices_aliases_free(store_alias_list *l);

#endif
