/* store_datefmt — a date field's mapping `format` ("yyyy/MM/dd HH:mm:ss||epoch_millis", named formats) applied to document values as Elasticsearch's DateFormatter parses them. */
#ifndef VERSYNC_STORE_DATEFMT_H
#define VERSYNC_STORE_DATEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether `format` (alternatives separated by "||": built-in names such as
 * epoch_millis, epoch_second, strict_date_optional_time, date, basic_date,
 * or java.time patterns of the letters u y M d H h m s S a X Z and quoted
 * text) is one verstore can apply; otherwise Elasticsearch's reason
 * ("Invalid format: [x]: Unknown pattern letter: q") is written to `err`. */
bool store_datefmt_valid(const char *format, char *err, size_t errsz);

/* Parse document value `s` (`n` bytes; `number` when it was a JSON number)
 * with `format`, the first alternative that takes the whole value winning, to
 * milliseconds since the epoch (UTC unless the pattern reads an offset). */
bool store_datefmt_parse(const char *format, const char *s, size_t n, bool number, int64_t *ms);

/* Elasticsearch's format for a date field whose mapping gives none. */
#define STORE_DATEFMT_DEFAULT "strict_date_optional_time||epoch_millis"

/* Parse a query bound (a range's gte/lt…, text) with `format` (NULL: the
 * default). `round_up` (gt and lte bounds) reads the value as the last
 * millisecond of what it names as Elasticsearch's round-up parser does:
 * "2024-02-01" → 2024-02-01T23:59:59.999Z, time fields a pattern lacks → their
 * maximum (month and day still default to 1, as there). */
bool store_datefmt_parse_bound(const char *format, const char *s, size_t n, bool round_up, int64_t *ms);

/* store_datefmt_parse_bound, also telling in *zoned whether the value fixed
 * its own instant (an epoch format, a Z or ±hh:mm offset): a query's
 * time_zone applies only to values that did not. */
bool store_datefmt_parse_bound_zoned(const char *format, const char *s, size_t n, bool round_up, int64_t *ms,
                                     bool *zoned);

/* Elasticsearch's format for a date_nanos field whose mapping gives none. */
#define STORE_DATEFMT_NANOS_DEFAULT "strict_date_optional_time_nanos||epoch_millis"

/* A date_nanos value (a document's: `number` when a JSON number; or a query
 * bound, `round_up` as above) with `format` (NULL: the date_nanos default) to
 * nanoseconds since the epoch, fractions kept to the nanosecond. 1 *ns set;
 * 0 in no format; -1 before 1970, -2 after 2262-04-11T23:47:16.854775807Z
 * (what a long of nanoseconds holds, as Elasticsearch's DateUtils.toLong). */
int store_datefmt_parse_ns(const char *format, const char *s, size_t n, bool number, bool round_up, int64_t *ns);

/* The instant of a date value (as store_datefmt_parse_ns reads it, at any
 * distance from 1970) as Java's Instant.toString writes it
 * ("1960-01-01T00:00:00Z", a fraction in groups of three digits when there
 * is one), for Elasticsearch's reasons; the value itself when it does not
 * parse. */
void store_datefmt_instant_text(const char *format, const char *s, size_t n, bool number, char *out, size_t outsz);

/* Print an instant (`ms` since the epoch, `sub` nanoseconds within that
 * millisecond, which date_nanos keeps) with the first alternative of
 * `format`, for UTC, as Elasticsearch's DateFormatter.format prints it:
 * epoch_millis and epoch_second as numbers in text (a fraction only when
 * there is one), the ISO names with .SSS and Z (`nanos`, a date_nanos field:
 * strict_date_optional_time_nanos keeps 3 to 9 fraction digits), patterns
 * letter by letter. False for a format store_datefmt_valid refuses. Writes a
 * NUL-terminated string into `out` (64 bytes are always enough). */
bool store_datefmt_format(const char *format, int64_t ms, int32_t sub, bool nanos, char *out, size_t outsz);

/* store_datefmt_parse_ns with *zoned as in store_datefmt_parse_bound_zoned. */
int store_datefmt_parse_ns_zoned(const char *format, const char *s, size_t n, bool number, bool round_up, int64_t *ns,
                                 bool *zoned);

#endif
