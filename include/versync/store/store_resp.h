/* store_resp — verstore's response writers: JSON scalars, Elasticsearch error bodies, filter_path/pretty, the seal. */
#ifndef VERSYNC_STORE_RESP_H
#define VERSYNC_STORE_RESP_H

#include "versync/common/buf.h"
#include "versync/store/store_api.h"
#include "versync/store/store_search.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_CT_JSON "application/json"

#define STORE_CT_TEXT "text/plain; charset=UTF-8"

/* Elasticsearch's answer to a write while the flood-stage watermark is
 * exceeded (a 429 clients retry); verstore also gives it when a commit
 * found no room. */
#define STORE_DISK_BLOCK_REASON                                                                              \
    "index [%s] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has "     \
    "read-only-allow-delete block];"

#define STORE_DISK_BLOCK_STATUS 429

void store_resp_jstr(buf *b, const char *s);

void store_resp_jstrn(buf *b, const char *s, size_t n);

/* Decimal text of `v` (printf is a hot spot in bulk responses). */
void store_resp_jint(buf *b, int64_t v);

void store_resp_shards(buf *b, int total, int ok);

/* An Elasticsearch error object body. `extra` is a JSON fragment of more
 * members (starting with ',') repeated in root_cause and the error; `caused`
 * a complete "caused_by" object or NULL. The reason is `reason_len` bytes. */
void store_resp_error_n(store_resp *r, int status, const char *type, const char *reason, size_t reason_len,
                        const char *extra, const char *caused);

void store_resp_error(store_resp *r, int status, const char *type, const char *reason);

void store_resp_errorf(store_resp *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void store_resp_flat_error(store_resp *r, int status, const char *msg);

/* ",\"index_uuid\":…,\"shard\":\"0\",\"index\":…" */
void store_resp_index_extra(buf *x, const char *uuid, const char *index);

void store_resp_not_found_extra(buf *x, const char *index);

void store_resp_index_not_found(store_resp *r, const char *index);

void store_resp_invalid_index(store_resp *r, const char *index, const buf *reason);

/* A flat {"error":"…","status":N} whose message quotes request text: made
 * valid UTF-8 whatever bytes the client sent. */
void store_resp_flat_errorf(store_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void store_resp_storage_error(store_resp *r);

/* "[id]: " or "[type][id]: " followed by `rest`. */
void store_resp_id_reason(buf *out, const char *type, const char *id, size_t id_len, const char *rest);

void store_resp_conflict(store_resp *r, const char *type, const char *id, size_t id_len, const char *explain,
                         const char *uuid, const char *index);

void store_resp_validation_error(store_resp *resp, store_msgs *m);

void store_resp_search_error(store_api *api, store_resp *r, const store_error *e);

void store_resp_pretty(store_resp *r);

/* ?filter_path on a JSON body (errors included, as Elasticsearch does). */
void store_resp_filter(store_resp *r, const char *filter);

/* The one check that no text was lost while `r` was built (since
 * buf_alloc_failures() was `fails0`): appends are not checked one by one, so
 * a refused one is caught here, and the client gets a 500 (or, for the body's
 * cap, Elasticsearch's 429 circuit_breaking_exception) instead of a 200 whose
 * JSON is cut short. Should the error body itself not fit, the HTTP front
 * answers its fixed 500 (store_http's send_resp). */
void store_resp_seal(store_resp *r, unsigned long fails0);

#endif
