/* bulk — _bulk request bodies (NDJSON), document ids, and classifying the store's answers. */
#ifndef VERSYNC_BULK_H
#define VERSYNC_BULK_H

#include "versync/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What became of one write (issue 5, "Classify each item"). */
typedef enum bulk_outcome {
    BULK_APPLIED = 0, /* 2xx, or 404 not_found on a delete: the store holds it */
    BULK_STALE,       /* 409 version_conflict_engine_exception: already newer; never retried */
    BULK_DEAD,        /* any other 4xx: the store will never take it; goes to dead_letters */
    BULK_RETRY,       /* 408, 429, 5xx: roll the whole claim back and try again later */
} bulk_outcome;

/* One item of a parsed _bulk answer. */
typedef struct bulk_item_result {
    bulk_outcome outcome;
    int status;      /* the item's HTTP status */
    char error[1024]; /* "type: reason" for failures, "" otherwise */
} bulk_item_result;

/* The greatest external version a store accepts (a Java long). */
#define BULK_VERSION_MAX INT64_MAX

/* Append the document id of a key to `out`: a one-column key is its text
 * unchanged; a composite key joins its parts with '|', each part having '|'
 * and '\' escaped with '\' (so "a|b","c" and "a","b|c" differ). A NULL part
 * is written as the empty string. False when `out` is full or out of memory. */
bool bulk_doc_id(buf *out, const char *const *parts, size_t nparts);

/* Append an index action and its document line. `versioned` false writes a
 * plain index (no version, last arrival wins: the demo's counterfactual).
 * `doc` must be one line of JSON (PostgreSQL's jsonb text output is).
 * False when `body` is full or out of memory; `body` may then hold a partial
 * line, so the caller discards the whole body. */
bool bulk_add_index(buf *body, const char *index, const char *id, size_t id_len, bool versioned, int64_t version,
                    const char *doc, size_t doc_len);

/* Append a delete action (no document line). Same contract as bulk_add_index. */
bool bulk_add_delete(buf *body, const char *index, const char *id, size_t id_len, bool versioned,
                     int64_t version);

/* Classify one item from its status, whether it was a delete, its "result"
 * (may be NULL) and its error type (NULL when it has no error object). */
bulk_outcome bulk_classify(int status, bool is_delete, const char *result, const char *error_type);

/* Classify a whole-request answer that carried no items (429, 5xx, 400 …);
 * the same rules as for an item that is not a delete. */
bulk_outcome bulk_classify_request(int status);

/* Parse a 200 answer to a _bulk of `nitems` actions into `items[0..nitems)`,
 * in request order. `is_delete[i]` says whether action i was a delete.
 * Returns false with a message in err when the body is not a bulk answer or
 * its item count differs (the caller treats that as retryable). */
bool bulk_parse_response(const char *body, size_t len, const bool *is_delete, bulk_item_result *items,
                         size_t nitems, char *err, size_t errsz);

/* Write "type: reason" of an error answer ({"error":{"type","reason"}}) into
 * out, or the body itself (truncated) when it is not one. Always terminates out. */
void bulk_error_summary(const char *body, size_t len, char *out, size_t outsz);

/* Parse a version as PostgreSQL printed it ("42"). True when it is an
 * integer in 0 … 2^63−1; otherwise false with err saying why ("is NULL",
 * "is negative (-5)", "is not an integer (4.5)", "exceeds 2^63-1 (…)"). */
bool bulk_parse_version(const char *text, int64_t *out, char *err, size_t errsz);

#endif
