/* store_aliasopt — an alias's options (filter, routing, is_hidden): checked from an add action and kept as one JSON text. */
#ifndef VERSYNC_STORE_ALIASOPT_H
#define VERSYNC_STORE_ALIASOPT_H

#include "versync/store/store_resp.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The options of an add action (or a PUT _alias body) `spec` for alias
 * `alias`, as Elasticsearch's AliasActions takes them: `filter` (a query,
 * parsed here so a bad one is refused at creation), `routing` (sets both),
 * `index_routing`, `search_routing` (a string or a number), `is_hidden`.
 * *out gets `{"is_hidden":…,"filter":…,"index_routing":…,"search_routing":…}`
 * with only the members given (is_hidden first, so store_aliasopt_hidden
 * reads a prefix), or NULL when there are none; the caller frees it.
 * Returns false after filling `resp` with Elasticsearch's 400. */
bool store_aliasopt_build(const cJSON *spec, const char *alias, char **out, store_resp *resp);

/* True when the options text (NULL: none) marks the alias hidden. */
bool store_aliasopt_hidden(const char *opts);

#endif
