/* store_bulk — parses and validates _bulk NDJSON bodies and _update bodies into engine operations. */
#ifndef VERSYNC_STORE_BULK_H
#define VERSYNC_STORE_BULK_H

#include "versync/store/store_engine.h"
#include "versync/store/store_error.h"
#include "versync/store/store_version.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum store_bulk_action {
    STORE_BULK_INDEX = 0,
    STORE_BULK_CREATE,
    STORE_BULK_UPDATE,
    STORE_BULK_DELETE,
} store_bulk_action;

/* One action of a bulk request. Strings live in the store_bulk. */
typedef struct store_bulk_item {
    store_bulk_action action;
    const char *key; /* response key: "index", "create", "update", "delete" */
    int line;        /* 1-based line of the action */
    const char *index;
    const char *id; /* NULL: auto-generated (index/create only) */
    size_t id_len;
    char auto_id[21];
    store_wparams w;
    signed char require_alias; /* the action line's require_alias: -1 not given, 0, 1 */
    const char *src; /* source line (index/create), pointing into the body */
    size_t src_len;
    store_update_spec upd; /* update: the parsed body (owned) */
    /* An error that settles this item before it runs (invalid index name,
     * empty id, source that is not a JSON object): status != 0. */
    int err_status;
    const char *err_type;
    char *err_reason; /* heap */
} store_bulk_item;

typedef struct store_bulk_block store_bulk_block;

typedef struct store_bulk {
    store_bulk_item *items;
    size_t n, cap;
    store_bulk_block *blocks; /* string arena */
} store_bulk;


/* Parse and validate a _bulk body. `default_index` (may be NULL) applies to
 * actions without _index. On success every item is ready (auto ids drawn);
 * on a request-level problem returns false with `err` filled (the caller
 * frees err->reason) — parse errors and the all-or-nothing validation.
 * The body must outlive `out`; free `out` with store_bulk_free either way. */
bool store_bulk_parse(const char *body, size_t len, const char *default_index, store_bulk *out,
                      store_error *err);

/* Release everything a parse put in `b` (items, update trees, strings). */
void store_bulk_free(store_bulk *b);

/* Parse an update body ({"doc":…,"upsert":…,"doc_as_upsert":…,
 * "detect_noop":…}) into `spec` (caller frees with store_bulk_update_free).
 * False with err filled (400) for malformed JSON, unknown fields or scripts. */
bool store_bulk_parse_update(const char *body, size_t len, store_update_spec *spec, store_error *err);

/* Free the cJSON trees of a parsed update body; the spec may be reused. */
void store_bulk_update_free(store_update_spec *spec);

#endif
