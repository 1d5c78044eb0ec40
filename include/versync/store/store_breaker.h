/* store_breaker — verstore's parent circuit breaker: one global budget (--max-memory) for the big allocations requests make. */
#ifndef VERSYNC_STORE_BREAKER_H
#define VERSYNC_STORE_BREAKER_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set the budget in bytes; 0 means none. Call before serving. */
void store_breaker_set_limit(uint64_t bytes);

uint64_t store_breaker_limit(void);

/* Bytes reserved right now. */
uint64_t store_breaker_used(void);

/* Reserve `bytes` for `label` (Elasticsearch's names: "<http_request>",
 * "<reused_arrays>", ...). Over the budget nothing is reserved and, when
 * `reason` is given, Elasticsearch's reason ("[parent] Data too large, data
 * for [<http_request>] would be [...], which is larger than the limit of
 * [...]") is written into it. Thread-safe (one atomic). */
bool store_breaker_add(uint64_t bytes, const char *label, char *reason, size_t reasonsz);

/* Reserve without checking (memory already committed, e.g. a built answer). */
void store_breaker_force(uint64_t bytes);

/* Give back what store_breaker_add/force reserved. */
void store_breaker_release(uint64_t bytes);

/* Elasticsearch's 429 body (replacing b's contents) for this thread's last
 * refusal with `reason`: circuit_breaking_exception with bytes_wanted,
 * bytes_limit and durability. */
void store_breaker_error_body(buf *b, const char *reason);

/* Writes "N/1.2mb": a byte count as Elasticsearch prints ByteSizeValues. */
void store_breaker_fmt_size(char *out, size_t outsz, uint64_t bytes);

#endif
