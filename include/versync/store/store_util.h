/* store_util — verstore's small helpers: clock, random UUIDs, auto-generated ids, URL coding, time values. */
#ifndef VERSYNC_STORE_UTIL_H
#define VERSYNC_STORE_UTIL_H

#include "versync/common/buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Big-endian 64-bit integers: index keys that sort bytewise as the numbers do. */
void store_util_put_be64(unsigned char *p, uint64_t v);
uint64_t store_util_get_be64(const unsigned char *p);

/* A hash of `n` bytes for the writer's in-memory tables (never stored):
 * eight bytes at a time, each mixed in by a multiplication, then the bits
 * folded down so that the low ones a table uses depend on all of them. A
 * byte at a time (FNV) was a tenth of the writer's time on long terms;
 * inline because batches call it once per entry. */
static inline uint64_t store_util_hash(const void *k, size_t n)
{
    const unsigned char *p = k;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    }
    h ^= h >> 32;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* Make room for one more entry in the open-addressing table *h (capacity
 * *hcap, a power of two, linear probing; a slot holds an entry's index + 1,
 * 0 when empty) that holds entries 0 … have - 1, keeping it at most half
 * full: when needed, double it (from `first`) and place those entries again
 * by hash_of(i, arg). False out of memory, the table unchanged. The caller
 * owns *h (free). Callers test (have + 1) * 2 > *hcap first, inline. */
bool store_util_htab_fit(size_t **h, size_t *hcap, size_t have, size_t first,
                         uint64_t (*hash_of)(size_t i, const void *arg), const void *arg);

/* Milliseconds since the epoch (wall clock). */
int64_t store_util_now_ms(void);

/* Write a fresh random 22-character URL-safe base64 UUID (Elasticsearch's
 * index_uuid / cluster_uuid form) plus NUL into `out` (23 bytes). */
void store_util_uuid(char out[23]);

/* Write a new 20-character URL-safe base64 document id plus NUL into `out`
 * (21 bytes). Ids are unique within the process and ordered by time across
 * restarts, like Elasticsearch's time-based ids. Thread-safe. */
void store_util_auto_id(char out[21]);

/* Append printf-style text of any length to `b`. False out of memory. */
bool store_util_vappend(buf *b, const char *fmt, va_list ap);

/* Append `n` bytes of `s` to `out` as valid UTF-8: every byte that does not
 * start a well-formed sequence becomes U+FFFD, as Java's decoder does. */
bool store_util_utf8_sanitize(const char *s, size_t n, buf *out);

/* Percent-decode `n` bytes of `s` into `out` (appending), then make the
 * decoded text valid UTF-8 (store_util_utf8_sanitize). '+' is decoded to a
 * space only when `plus_is_space` (query strings). False on a malformed
 * escape or out of memory. */
bool store_util_url_decode(const char *s, size_t n, bool plus_is_space, buf *out);

/* Append `n` bytes of `s` percent-encoded as a path segment. */
bool store_util_url_encode(const char *s, size_t n, buf *out);

/* Parse an Elasticsearch time value ("60s", "500ms", "1m", "2h", "1d",
 * "100micros", "-1") into milliseconds: scan_duration_ms without fractions,
 * as Elasticsearch 7 and later. False when it is not one. "-1" gives -1. */
bool store_util_parse_time_ms(const char *s, int64_t *out);

/* Parse a byte size: plain digits or an Elasticsearch size ("64kb", "2g",
 * "1.5gb"; powers of 1024): scan_bytes with SCAN_BARE. False on anything
 * else or overflow. */
bool store_util_parse_bytes(const char *s, uint64_t *out);

/* Lucene's LevenshteinDistance.getDistance, which Elasticsearch uses for its
 * "did you mean" hints: 1 - edits / length of the longer string. */
float store_util_similarity(const char *a, const char *b);

/* Whether `s` (n bytes) matches `pat` (plen bytes), where '*' matches any
 * run of bytes (Elasticsearch's Regex.simpleMatch). Linear-time: a pattern
 * of many stars cannot make it backtrack exponentially. */
bool store_util_glob(const char *pat, size_t plen, const char *s, size_t n);

#endif
