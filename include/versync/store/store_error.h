/* store_error — a request-level error as verstore answers it: status, Elasticsearch exception type and reason. */
#ifndef VERSYNC_STORE_ERROR_H
#define VERSYNC_STORE_ERROR_H

#include "versync/common/buf.h"
#include "versync/store/store_engine.h"

#include <stdbool.h>

/* One error for every part of the store that refuses a whole request
 * (_bulk parsing, search, the query DSL, index expressions): the answer is
 * `status` with an Elasticsearch error of `type` and `reason`. Zeroed means
 * no error. The reason is owned (store_error_free). */
typedef struct store_error {
    int status;
    const char *type; /* exception type (static string) */
    buf reason;
    /* shard: a failure Elasticsearch reports per shard (wrapped in
     * search_phase_execution_exception "all shards failed"); `shard_index`
     * names the index ("" when none, e.g. an unknown scroll context). */
    bool shard;
    char shard_index[STORE_MAX_INDEX_NAME + 1];
    bool index_missing; /* reason holds the missing index's name: index_not_found_exception */
    /* The exception this one wraps, as Elasticsearch's QueryShardException
     * "failed to create query: {cause's reason}" wraps the shard's own
     * (answered as `caused_by`): its type (static; NULL when none) and its
     * reason, the suffix of `reason` from byte `cause_at`. */
    const char *cause_type;
    size_t cause_at;
} store_error;

/* Fill `e` (status, type, printf-style reason made valid UTF-8) unless it
 * already holds an error: the first one is reported. Returns false. */
bool store_error_set(store_error *e, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Release the reason and zero `e`; NULL and a zeroed error are no-ops. */
void store_error_free(store_error *e);

#endif
