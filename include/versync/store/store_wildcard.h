/* store_wildcard — wildcard patterns ('*' any run, '?' one character) compiled once and matched in bounded time. */
#ifndef VERSYNC_STORE_WILDCARD_H
#define VERSYNC_STORE_WILDCARD_H

#include <stdbool.h>
#include <stddef.h>

/* Longest pattern accepted, in characters once runs of '*' are merged into
 * one: Elasticsearch's index.max_regex_length default. Matching costs the
 * value's length times (this / 64) machine words, so the bound is what keeps
 * one query from stalling the others. */
#define STORE_WILDCARD_MAX_LEN 1000

typedef struct store_wildcard store_wildcard;

/* Compile `pat` (pn bytes, UTF-8; invalid bytes stand for themselves).
 * Returns NULL when the merged pattern is longer than STORE_WILDCARD_MAX_LEN
 * (*len_out then holds its length) or when out of memory (*len_out is 0).
 * The caller owns the result: store_wildcard_free. */
store_wildcard *store_wildcard_compile(const char *pat, size_t pn, size_t *len_out);

/* Whether the whole value `s` (n bytes) matches. Cost O(n * (len/64 + 1)),
 * independent of how the stars fall (no backtracking). */
bool store_wildcard_match(const store_wildcard *w, const char *s, size_t n);

/* NULL is a no-op. */
void store_wildcard_free(store_wildcard *w);

#endif
