/* store_rounding — Elasticsearch's Rounding for date_histogram: calendar and fixed intervals in a time zone, with an offset, and the bucket keys' text. */
#ifndef VERSYNC_STORE_ROUNDING_H
#define VERSYNC_STORE_ROUNDING_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <unicode/ucal.h>

typedef enum store_round_unit {
    STORE_ROUND_FIXED = 0, /* fixed_interval: a number of milliseconds */
    STORE_ROUND_MINUTE,
    STORE_ROUND_HOUR,
    STORE_ROUND_DAY,
    STORE_ROUND_WEEK, /* from Monday, as ISO weeks */
    STORE_ROUND_MONTH,
    STORE_ROUND_QUARTER,
    STORE_ROUND_YEAR,
} store_round_unit;

/* One rounding. Values are rounded in local time of `zone` (DST-correct:
 * a calendar day may be 23 or 25 hours), then `offset_ms` is added, as
 * Rounding.offset shifts every bucket. The last bucket found is remembered,
 * since values mostly arrive in order. */
typedef struct store_rounding {
    store_round_unit unit;
    int64_t fixed_ms; /* STORE_ROUND_FIXED */
    int64_t offset_ms;
    UCalendar *cal; /* the zone (owned; a UTC calendar when none was given) */
    bool utc;       /* UTC: no offsets to look up */
    int64_t last_key, last_next; /* the last bucket, [key, next) before the offset */
    bool have_last;
} store_rounding;

/* DateHistogramAggregationBuilder.DATE_FIELD_UNITS: minute/1m, hour/1h,
 * day/1d, week/1w, month/1M, quarter/1q, year/1y. False for anything else. */
bool store_rounding_calendar_unit(const char *s, store_round_unit *unit);

/* TimeValue.parseTimeValue in milliseconds: a whole number followed by
 * nanos, micros, ms, s, m, h or d (nanos and micros only in whole
 * milliseconds). False when it is not such a value. */
bool store_rounding_time_value(const char *s, int64_t *ms);

/* Set up `r` for `unit` (fixed_ms for STORE_ROUND_FIXED, > 0) in `zone`
 * (NULL or UTC: none). False when the zone is unknown or out of memory. */
bool store_rounding_init(store_rounding *r, store_round_unit unit, int64_t fixed_ms, int64_t offset_ms,
                         const char *zone);

/* Release r's calendar; a zeroed `r` is a no-op. */
void store_rounding_free(store_rounding *r);

/* The key of the bucket `ms` falls in: the start of its interval. */
int64_t store_rounding_round(store_rounding *r, int64_t ms);

/* The same rounding without the offset, as LongBounds.round reads
 * extended_bounds and hard_bounds (Rounding.withoutOffset). */
int64_t store_rounding_round_without_offset(store_rounding *r, int64_t ms);

/* The key of the bucket after the one whose key is `key`. */
int64_t store_rounding_next(store_rounding *r, int64_t key);

/* Append a bucket key's key_as_string: `ms` in r's zone printed with the
 * first alternative of `format` (a built-in name such as
 * strict_date_optional_time or epoch_millis, or a java.time pattern; NULL:
 * strict_date_optional_time, which prints 2024-03-01T00:00:00.000Z or
 * …+01:00). */
void store_rounding_format(store_rounding *r, const char *format, int64_t ms, buf *out);

#endif
