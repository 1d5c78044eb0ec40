/* store_datemath — Elasticsearch's date-math index names (`<logs-{now/d}>`, `<logs-{now/M{yyyy.MM|+01:00}}>`), resolved as its DateMathExpressionResolver does. */
#ifndef VERSYNC_STORE_DATEMATH_H
#define VERSYNC_STORE_DATEMATH_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <unicode/ucal.h>

/* Resolve one index name: a name not of the form `<…>` is left as it is
 * (returns 1, `out` untouched, *resolved false); `<static{now±N<unit>/<unit>{format|zone}}static>`
 * is appended to `out` resolved at `now_ms` (the request's start; the default
 * format `uuuu.MM.dd`, zone UTC; `\` escapes `{` and `}`). Returns 1 on
 * success, 0 on a bad expression with Elasticsearch's exception type (static
 * string: "parse_exception" or "illegal_argument_exception") in *type and its
 * reason in `err`, -1 out of memory. */
int store_datemath_resolve(const char *name, int64_t now_ms, buf *out, bool *resolved, const char **type, char *err,
                           size_t errsz);

/* The same over a comma list (each element resolved alone, as
 * IndexNameExpressionResolver does): *out is NULL when nothing in `list` was
 * date math, else a heap copy with every element resolved (caller frees). */
int store_datemath_resolve_list(const char *list, int64_t now_ms, char **out, const char **type, char *err,
                                size_t errsz);

/* JavaDateMathParser.parse for a query value (a range bound, a term on a
 * date, a histogram's bounds): `now` (now_ms, the request's) or a date read
 * with `format` (NULL: the date default) followed by `||`, then `+N<unit>`,
 * `-N<unit>` and `/<unit>` in y M w d h H m s, worked in `zone` (Java ZoneId
 * spellings; NULL: UTC). A date without its own offset is a wall time in
 * `zone`. `round_up` (gt and lte bounds) makes each `/` rounding the unit's
 * last millisecond and a plain date the last millisecond it names. Returns 1
 * with *ms, 0 with Elasticsearch's parse_exception reason in `err`. */
int store_datemath_parse(const char *text, const char *format, const char *zone, int64_t now_ms, bool round_up,
                         int64_t *ms, char *err, size_t errsz);

/* Whether java.time's ZoneId.of would take `zone` (Z, UTC, ±hh:mm, region IDs). */
bool store_datemath_zone_valid(const char *zone);

/* What to add to a wall time (milliseconds as if UTC) in `zone` to get its
 * instant: minus the zone's offset then (0 for an unknown zone). */
int64_t store_datemath_zone_shift(const char *zone, int64_t wall_ms);

/* A proleptic Gregorian ICU calendar in `zone` (as store_datemath_zone_valid
 * reads it), resolving wall times as java.time does; NULL when the zone is
 * unknown. Caller closes it (ucal_close). */
UCalendar *store_datemath_calendar(const char *zone);

/* Append cal's current time formatted with java.time `pattern` (letters
 * u y M d D H h m s S a X x Z and quoted text). 1, or 0 with the reason
 * in `err` for a letter verstore does not print. */
int store_datemath_format(UCalendar *cal, const char *pattern, buf *out, char *err, size_t errsz);

#endif
