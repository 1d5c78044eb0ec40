/* store_metrics — verstore's process-wide Prometheus counters and histograms (atomics) and their text rendering. */
#ifndef VERSYNC_STORE_METRICS_H
#define VERSYNC_STORE_METRICS_H

#include "versync/common/buf.h"
#include "versync/store/store_engine.h"

#include <stdbool.h>
#include <stddef.h>

/* The fixed endpoint names requests are counted under (never raw paths, so
 * the label set stays small whatever clients send). */
typedef enum store_metrics_ep {
    STORE_EP_OTHER = 0, /* unknown path or method, undecodable path */
    STORE_EP_ROOT,
    STORE_EP_BULK,
    STORE_EP_MGET,
    STORE_EP_DOC_WRITE, /* index/create/delete of one document */
    STORE_EP_DOC_READ,  /* GET/HEAD _doc and _source */
    STORE_EP_UPDATE,
    STORE_EP_SEARCH,
    STORE_EP_COUNT,
    STORE_EP_INDEX,     /* index create/get/delete, _settings, _mapping */
    STORE_EP_ALIASES,
    STORE_EP_CAT,       /* _cat/indices, _cluster/health, _refresh */
    STORE_EP_METRICS,
    STORE_EP_COUNT_,    /* number of endpoints */
} store_metrics_ep;

/* Bulk item results counted by verstore_bulk_items_total. */
typedef enum store_metrics_res {
    STORE_MRES_CREATED = 0,
    STORE_MRES_UPDATED,
    STORE_MRES_DELETED,
    STORE_MRES_NOT_FOUND,
    STORE_MRES_NOOP,
    STORE_MRES_CONFLICT,
    STORE_MRES_ERROR,
    STORE_MRES_COUNT_,
} store_metrics_res;

/* All recorders are lock-free (relaxed atomics) and safe from any thread. */

/* One HTTP request answered with `status` on endpoint `ep`. */
void store_metrics_request(store_metrics_ep ep, int status);

/* One bulk item; `action` is a store_bulk_action value (0..3). */
void store_metrics_bulk_item(int action, store_metrics_res res);

/* One version conflict answered (single write or bulk item). */
void store_metrics_conflict(void);

/* One commit (durable mode: commit + fsync) or background sync took `seconds`. */
void store_metrics_fsync(double seconds);

/* The writer committed a batch of `jobs` queued jobs in one transaction. */
void store_metrics_batch(size_t jobs);

/* Scroll contexts opened (+1) or freed (-1): each holds a read snapshot,
 * which keeps LMDB from reusing the pages it sees until it is freed. */
void store_metrics_scroll_contexts(int delta);

/* A score-ordered text search (store_topk.c) decoded `decoded` postings
 * blocks and passed over `skipped` on their stored score bounds alone. */
void store_metrics_topk_blocks(size_t decoded, size_t skipped);

/* A score-ordered phrase search read the positions of `read` documents
 * holding all its terms, passed over `skipped` on their score bound, and
 * over `ranges` ranges of blocks on their terms' impacts. */
void store_metrics_topk_phrase_docs(size_t read, size_t skipped, size_t ranges);

/* The writer met a document analysed before it reached the writer: its
 * entries were `used`, or the mapping had changed since and it was
 * analysed again. */
void store_metrics_prepared_doc(bool used);

/* Append the Prometheus text format (0.0.4) of every metric to `b`, the
 * per-index document and tombstone gauges read from `e`. False (with what
 * was appended so far) on an engine read failure. */
bool store_metrics_render(buf *b, store_engine *e);

#endif
