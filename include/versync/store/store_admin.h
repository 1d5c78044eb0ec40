/* store_admin — verstore's index administration: indices, settings, mappings, aliases, root and metrics. */
#ifndef VERSYNC_STORE_ADMIN_H
#define VERSYNC_STORE_ADMIN_H

#include "versync/store/store_api_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void store_admin_root(store_api *api, store_resp *r);

/* Answer a failed index lookup, given store_engine_index_resolve's result,
 * and return false; true when the index (or its alias) was found. HEAD
 * requests get a bare 404 for a missing index. */
bool store_admin_index_found(store_api *api, store_resp *r, store_lookup rc, const char *index, bool head);

store_call *store_admin_create_index(store_api *api, const store_req *req, store_match *m, store_resp *resp);

store_call *store_admin_put_settings(store_api *api, const store_req *req, store_match *m, store_resp *resp);

/* The index-level reads over index expressions (store_indices). */
void store_admin_index_read(store_api *api, const store_req *req, const store_match *m, bool head,
                            store_resp *r);

/* GET /_mapping, /{index}/_mapping: one entry per concrete index, the
 * expression resolved as _search resolves it (lists, wildcards, aliases). */
void store_admin_get_mappings(store_api *api, const store_req *req, const store_match *m, store_resp *r);

store_call *store_admin_put_mapping(store_api *api, const store_req *req, store_match *m, store_resp *resp);

/* GET|HEAD /_alias[/{alias}], /_aliases, /{index}/_alias[/{alias}]. */
void store_admin_get_aliases(store_api *api, const store_match *m, bool head, store_resp *r);

/* POST /_aliases {"actions":[{"add":{…}},{"remove":{…}},{"remove_index":{…}}]}. */
store_call *store_admin_update_aliases(store_api *api, const store_req *req, store_match *m,
                                       store_resp *resp);

/* PUT|POST|DELETE /{index}/_alias/{alias}. */
store_call *store_admin_one_alias(store_api *api, const store_req *req, store_match *m, store_resp *resp);

void store_admin_finish_aliases(store_call *c, store_resp *r);

void store_admin_metrics(store_api *api, store_resp *r);

#endif
