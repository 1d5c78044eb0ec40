/* scan — strict parsing of numbers, byte sizes and durations: the whole text or nothing. */
#ifndef VERSYNC_SCAN_H
#define VERSYNC_SCAN_H

#include <stdbool.h>
#include <stdint.h>

/* Every scanner takes a NUL-terminated text and accepts it only when all of
 * it is the value: no leading or trailing space, no '+', no hexadecimal, no
 * "inf"/"nan", no junk after the number, nothing out of range. On refusal it
 * returns false and leaves *out untouched; NULL text is refused. */

/* A decimal integer ("-" allowed) within [min, max]. */
bool scan_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* A decimal integer within [0, max] (no sign). */
bool scan_uint64(const char *s, uint64_t max, uint64_t *out);

/* A finite decimal number: [-]digits[.digits][(e|E)[+|-]digits]. A value
 * beyond double's range is refused; one too small to represent becomes 0. */
bool scan_double(const char *s, double *out);

enum {
    SCAN_BARE = 1,     /* scan_bytes: a number without a unit is bytes */
    SCAN_FRACTION = 2, /* scan_duration_ms: "1.5m" (Elasticsearch 6 and earlier) */
};

/* A byte size as Elasticsearch's ByteSizeValue reads it: digits and a unit,
 * b, k, kb, m, mb, g, gb, t, tb, p or pb in any case (binary multiples:
 * 1kb = 1024 b). With a unit other than b a fraction is allowed ("1.5gb"),
 * truncated to whole bytes, as Elasticsearch still accepts it. "0" alone is
 * 0; another number alone only with SCAN_BARE. False beyond UINT64_MAX. */
bool scan_bytes(const char *s, unsigned flags, uint64_t *out);

/* A duration as Elasticsearch's TimeValue reads it, in milliseconds
 * (truncated): digits and a unit, nanos, micros, ms, s, m, h or d, in any
 * case except "m" (an "M" would be months). "-1" (alone or with a unit) is
 * -1, Elasticsearch's "never"/"disabled"; "0" alone is 0. Fractions only with
 * SCAN_FRACTION. False beyond INT64_MAX milliseconds. */
bool scan_duration_ms(const char *s, unsigned flags, int64_t *out);

#endif
