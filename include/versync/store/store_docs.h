/* store_docs — verstore's document endpoints: get, _source, _mget, index/create/update/delete, _bulk. */
#ifndef VERSYNC_STORE_DOCS_H
#define VERSYNC_STORE_DOCS_H

#include "versync/store/store_api_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void store_docs_get(store_api *api, const store_req *req, const store_match *m, bool legacy, bool source_only,
                    bool head, store_resp *r);

void store_docs_mget(store_api *api, const store_req *req, const store_match *m, store_resp *r);

store_call *store_docs_write(store_api *api, const store_req *req, store_match *m, store_opkind kind,
                             bool legacy, bool auto_id, store_resp *resp);

void store_docs_finish_write(store_call *c, store_resp *r);

store_call *store_docs_bulk(store_api *api, const store_req *req, store_match *m, store_resp *resp);

void store_docs_finish_bulk(store_call *c, store_resp *r);

#endif
