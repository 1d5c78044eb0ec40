/* bulk — _bulk request bodies (NDJSON), document ids, and classifying the store's answers. */
#ifndef VERSYNC_BULK_H
#define VERSYNC_BULK_H

#include "versync/common/buf.h"
#include "versync/bridge/esclient.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What became of one write (issue 5, "Classify each item"). */
typedef enum bulk_outcome {
    BULK_APPLIED = 0, /* 2xx, or 404 not_found on a delete: the store holds it */
    BULK_STALE,       /* 409 version_conflict_engine_exception: already newer; never retried */
    BULK_DEAD,        /* any other 4xx: the store will never take it; goes to dead_letters */
    BULK_RETRY,       /* 408, 429, 5xx: roll the whole claim back and try again later */
    BULK_REGRESSED,   /* 409 although the row just re-read is current: the application's version did
                       * not advance (bulk_judge_conflicts); a dead letter of its own kind */
} bulk_outcome;

/* One item of a parsed _bulk answer. */
typedef struct bulk_item_result {
    bulk_outcome outcome;
    int status;      /* the item's HTTP status */
    int64_t store_version; /* 409: the version the store holds (from its reason), -1 unknown */
    char error[1024]; /* "type: reason" for failures, "" otherwise */
} bulk_item_result;

/* How a write is versioned (es-versioning.md §3). */
typedef enum bulk_vtype {
    BULK_VT_NONE = 0,     /* no version: last arrival wins (the demo's counterfactual) */
    BULK_VT_EXTERNAL,     /* kept only when greater than the stored version: the live stream */
    BULK_VT_EXTERNAL_GTE, /* kept when greater or equal: re-rendering the current row (backfill, repair) */
} bulk_vtype;

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

/* Append the action (and, for an index, the document line) with an explicit version type. */
bool bulk_add(buf *body, const char *index, const char *id, size_t id_len, bool is_delete, bulk_vtype vtype,
              int64_t version, const char *doc, size_t doc_len);

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

/* The version the store holds, from a version conflict's reason
 * ("... current version [C] is higher ..."), or -1 when it does not say. */
int64_t bulk_conflict_version(const char *reason);

/* ---- the one _bulk sender (worker, cursor poller, backfill, verify --repair) ---------------- */

/* One write. The caller sets the inputs (strings are borrowed until the send
 * returns); bulk_send sets the outcome fields. */
typedef struct bulk_op {
    const char *index;
    const char *id;
    size_t id_len;
    bool is_delete;
    bulk_vtype vtype;
    int64_t version;
    const char *doc; /* index only: one line of JSON */
    size_t doc_len;
    bool row_current; /* for bulk_judge_conflicts: the caller checked that the row it rendered is
                       * still the row's current state (same version, same document) */
    /* set by bulk_send */
    bulk_outcome outcome; /* BULK_RETRY until the store answered for it */
    int status;           /* HTTP status of the answer for it, 0 if none */
    int64_t store_version; /* on a conflict, the store's version (-1 unknown) */
    char error[1024];
} bulk_op;

/* How many distinct items a sender remembers 5xx answers for (bounded memory; when full, the
 * entry with the fewest failures makes room). */
#define BULK_FAIL_TRACK 256
/* store.max_item_retries when the config does not say. */
#define BULK_ITEM_RETRIES 10

/* Consecutive 5xx answers for one item: index, id, version and action, hashed. */
typedef struct bulk_item_fails {
    uint64_t key;
    int fails;
} bulk_item_fails;

/* Sender state kept between sends (bodies, answers); zero it, then bulk_sender_init. */
typedef struct bulk_sender {
    esc *store;           /* borrowed */
    size_t max_bytes;     /* one request body at most this big (at least one action each) */
    const char *opaque_id; /* X-Opaque-Id, or NULL; borrowed */
    long retry_after_ms;  /* Retry-After of the last answer, -1 none */
    int max_item_retries; /* store.max_item_retries: 5xx answers for one item beyond its first
                           * attempt before it is given up as BULK_DEAD; 0 never. bulk_sender_init
                           * sets BULK_ITEM_RETRIES; callers with a config set it from there */
    bulk_item_fails fails[BULK_FAIL_TRACK];
    size_t nfails;
    int last_status;      /* HTTP status of the last _bulk request (ESC_TRANSPORT_ERROR: no answer), 0 none */
    buf body, resp;
    bool *is_delete;
    bulk_item_result *results;
    size_t cap;
} bulk_sender;

void bulk_sender_init(bulk_sender *s, esc *store, size_t max_bytes);
/* Frees what the sender holds (not the store); a zeroed sender is a no-op. */
void bulk_sender_free(bulk_sender *s);

/* POST ops[0..n) in as many _bulk requests as max_bytes needs, and classify
 * each op with one rule for every caller:
 *   2xx, or 404 not_found on a delete      → BULK_APPLIED
 *   409 version_conflict_engine_exception  → BULK_STALE (store_version set when the reason says it)
 *   408, 429, 5xx, cluster_block, transport, an unparsable answer, or a whole
 *   request refused with anything but 400/413 (401/403/404 are configuration,
 *   not the documents)                     → BULK_RETRY, and bulk_send stops
 *   any other item 4xx                      → BULK_DEAD
 *   an item answered 5xx (in a 200 answer) more than max_item_retries times in
 *   a row across sends of this sender      → BULK_DEAD ("gave up after N …"),
 *                                             so one poisoned item cannot hold
 *                                             its batch back for ever
 * A whole request refused with 400/413 is resent one op at a time, so one bad
 * document never takes the others with it; a single op refused so is BULK_DEAD.
 * True when every op has an outcome other than BULK_RETRY; false (err set)
 * when some are left BULK_RETRY: the caller rolls back (worker, cursor) or
 * resends just those (bulk_send_retrying). Logs only the one-by-one fallback. */
bool bulk_send(bulk_sender *s, bulk_op *ops, size_t n, char *err, size_t errsz);

/* What a refused write (409) of the row's current state means: the store holds
 * `store_version` (< 0: unknown), we sent `sent`. Greater than ours: no state of
 * a row that keeps the contract can carry a lower version than an earlier one,
 * so the version regressed. Equal: a replay or another worker's write of the
 * same state (same_content > 0) is stale; other content at the same version
 * (same_content == 0, including a tombstone) is a version that did not advance.
 * same_content < 0: not known, so stale. */
bulk_outcome bulk_classify_conflict(int64_t sent, int64_t store_version, int same_content);

/* For every op of ops[0..n) that bulk_send left BULK_STALE, is not a delete and
 * has row_current set, decide with bulk_classify_conflict whether it is
 * BULK_REGRESSED; an equal version is settled by reading the store's document
 * (one _mget for all of them) and comparing it as JSON with op->doc. Sets
 * op->error to a "version_regressed: …" line naming the versions for the ops
 * it changes. False (err set) when the store could not be read: the caller
 * retries as for any store failure. */
bool bulk_judge_conflicts(bulk_sender *s, bulk_op *ops, size_t n, char *err, size_t errsz);

/* bulk_send, resending only the ops left BULK_RETRY with capped exponential
 * backoff (honouring Retry-After) for up to give_up_ms; `stop`, when set, ends
 * the retries early, and a request refused with 401/403 ends them at once
 * (credentials do not come right by waiting; s->last_status says which). True
 * when every op has a final outcome. */
bool bulk_send_retrying(bulk_sender *s, bulk_op *ops, size_t n, long give_up_ms, volatile int *stop, char *err,
                        size_t errsz);

#endif
