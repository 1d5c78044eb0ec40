/* store_ulong — `unsigned_long` values (0 … 2^64−1) read from documents and queries as Elasticsearch's UnsignedLongFieldMapper reads them. */
#ifndef VERSYNC_STORE_ULONG_H
#define VERSYNC_STORE_ULONG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A document value (`n` bytes of JSON text; `number` when it was a JSON
 * number). 1: *out set; 0: no value (an empty string, as Elasticsearch
 * treats it as null); -1 refused — negative, past 2^64−1, with a decimal
 * part, or not a number — with Elasticsearch's reason ("Value [-1] is out
 * of range for unsigned long.", "Value \"1.5\" has a decimal part", "For
 * input string: \"x\"") in `why`. */
int store_ulong_parse_doc(const char *s, size_t n, bool number, uint64_t *out, char *why, size_t whysz);

/* A term query value: 1 *out set; 0 no unsigned long equals it (negative,
 * a fraction, too large: the query matches nothing); -1 not a number. */
int store_ulong_parse_term(const char *s, uint64_t *out);

/* A range bound, turned into the inclusive first (lower) or last (upper)
 * value it admits, as UnsignedLongFieldType.rangeQuery does: below 0 a lower
 * bound is 0, past the maximum an upper bound is the maximum. 1 *out set;
 * 0 the range is empty; -1 not a number. */
int store_ulong_parse_bound(const char *s, bool upper, bool incl, uint64_t *out);

/* The index encoding (8 bytes, ordered as the values): big-endian. It is
 * also what store_index_enc_long gives for the value − 2^63, the "shifted"
 * long Elasticsearch indexes, so the long code paths order it right. */
void store_ulong_enc(uint64_t v, unsigned char out[8]);

/* The value a shifted long (store_index_dec_long of the encoding) stands for. */
static inline uint64_t store_ulong_unshift(int64_t l) { return (uint64_t)l ^ (1ULL << 63); }

#endif
