/* store_rounding — Elasticsearch's Rounding for date_histogram: calendar and fixed intervals in a time zone, with an offset, and the bucket keys' text. */
#include "versync/store/store_rounding.h"

#include "versync/store/store_datemath.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

bool store_rounding_calendar_unit(const char *s, store_round_unit *unit)
{
    static const struct {
        const char *name, *short_name;
        store_round_unit unit;
    } units[] = {
        {"minute", "1m", STORE_ROUND_MINUTE}, {"hour", "1h", STORE_ROUND_HOUR},     {"day", "1d", STORE_ROUND_DAY},
        {"week", "1w", STORE_ROUND_WEEK},     {"month", "1M", STORE_ROUND_MONTH},   {"quarter", "1q", STORE_ROUND_QUARTER},
        {"year", "1y", STORE_ROUND_YEAR},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(s, units[i].name) == 0 || strcmp(s, units[i].short_name) == 0)
            return *unit = units[i].unit, true;
    return false;
}

bool store_rounding_time_value(const char *s, int64_t *ms)
{
    static const struct {
        const char *suffix;
        int64_t num, den; /* milliseconds = value * num / den */
    } units[] = {{"nanos", 1, 1000000}, {"micros", 1, 1000}, {"ms", 1, 1}, {"s", 1000, 1},
                 {"m", 60000, 1},       {"h", 3600000, 1},   {"d", DAY_MS, 1}};
    size_t n = strlen(s), digits = 0;
    while (digits < n && isdigit((unsigned char)s[digits]))
        digits++;
    if (!digits || digits > 15)
        return false;
    int64_t v = strtoll(s, NULL, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + digits, units[i].suffix) != 0)
            continue;
        if (v > INT64_MAX / units[i].num || (v * units[i].num) % units[i].den)
            return false;
        *ms = v * units[i].num / units[i].den;
        return true;
    }
    return false;
}

bool store_rounding_init(store_rounding *r, store_round_unit unit, int64_t fixed_ms, int64_t offset_ms,
                         const char *zone)
{
    memset(r, 0, sizeof *r);
    r->unit = unit;
    r->fixed_ms = unit == STORE_ROUND_MINUTE ? 60000 : unit == STORE_ROUND_HOUR ? 3600000 : fixed_ms;
    r->offset_ms = offset_ms;
    r->utc = !zone || strcmp(zone, "UTC") == 0 || strcmp(zone, "Z") == 0 || strcmp(zone, "+00:00") == 0;
    r->cal = store_datemath_calendar(r->utc ? NULL : zone);
    return r->cal != NULL;
}

void store_rounding_free(store_rounding *r)
{
    if (r->cal)
        ucal_close(r->cal);
    r->cal = NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int32_t get(UCalendar *cal, UCalendarDateFields f)
{
    UErrorCode st = U_ZERO_ERROR;
    return ucal_get(cal, f, &st);
}

/* The zone's offset from UTC at instant `ms`. */
static int64_t offset_at(store_rounding *r, int64_t ms)
{
    if (r->utc)
        return 0;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(r->cal, (UDate)ms, &st);
    return (int64_t)get(r->cal, UCAL_ZONE_OFFSET) + get(r->cal, UCAL_DST_OFFSET);
}

/* Fixed intervals (and minutes, hours) count in local time, as
 * TimeIntervalRounding does: round the wall time, then find the instant of
 * that wall time under the offset in force there. */
static int64_t round_fixed(store_rounding *r, int64_t v)
{
    int64_t off = offset_at(r, v), wall = floor_div(v + off, r->fixed_ms) * r->fixed_ms;
    int64_t key = wall - off, off2 = offset_at(r, key);
    if (off2 != off && wall - off2 <= v && offset_at(r, wall - off2) == off2)
        key = wall - off2; /* a DST change between the key and v */
    return key <= v ? key : wall - off;
}

static void midnight(UCalendar *cal)
{
    ucal_set(cal, UCAL_HOUR_OF_DAY, 0);
    ucal_set(cal, UCAL_MINUTE, 0);
    ucal_set(cal, UCAL_SECOND, 0);
    ucal_set(cal, UCAL_MILLISECOND, 0);
}

/* Calendar units from a day up: the start of the local day, week (Monday),
 * month, quarter or year. A midnight a DST change skips is the first instant
 * of the day, as java.time's atStartOfDay. */
static int64_t round_calendar(store_rounding *r, int64_t v)
{
    if (r->utc && r->unit == STORE_ROUND_DAY)
        return floor_div(v, DAY_MS) * DAY_MS;
    if (r->utc && r->unit == STORE_ROUND_WEEK) { /* 1970-01-01 was a Thursday */
        int64_t days = floor_div(v, DAY_MS);
        return (days - ((days % 7 + 7 + 3) % 7)) * DAY_MS;
    }
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = r->cal;
    ucal_setMillis(cal, (UDate)v, &st);
    switch (r->unit) {
    case STORE_ROUND_WEEK:
        ucal_add(cal, UCAL_DATE, -((get(cal, UCAL_DAY_OF_WEEK) + 5) % 7), &st);
        break;
    case STORE_ROUND_MONTH:
        ucal_set(cal, UCAL_DATE, 1);
        break;
    case STORE_ROUND_QUARTER:
        ucal_set(cal, UCAL_MONTH, get(cal, UCAL_MONTH) / 3 * 3);
        ucal_set(cal, UCAL_DATE, 1);
        break;
    case STORE_ROUND_YEAR:
        ucal_set(cal, UCAL_MONTH, 0);
        ucal_set(cal, UCAL_DATE, 1);
        break;
    default:
        break;
    }
    midnight(cal);
    int64_t key = (int64_t)ucal_getMillis(cal, &st);
    return U_FAILURE(st) || key > v ? v : key; /* past ICU's range: the value is its own bucket */
}

static int64_t inner_round(store_rounding *r, int64_t v)
{
    return r->fixed_ms && r->unit <= STORE_ROUND_HOUR ? round_fixed(r, v) : round_calendar(r, v);
}

static int64_t inner_next(store_rounding *r, int64_t key)
{
    int64_t next;
    if (r->unit <= STORE_ROUND_HOUR) {
        next = inner_round(r, key + r->fixed_ms);
        if (next <= key) /* a longer local day: step past its extra hour(s) */
            next = inner_round(r, key + r->fixed_ms + 2 * 3600000);
        return next > key ? next : key + r->fixed_ms;
    }
    if (r->utc && (r->unit == STORE_ROUND_DAY || r->unit == STORE_ROUND_WEEK))
        return key + (r->unit == STORE_ROUND_DAY ? DAY_MS : 7 * DAY_MS);
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(r->cal, (UDate)key, &st);
    switch (r->unit) {
    case STORE_ROUND_DAY: ucal_add(r->cal, UCAL_DATE, 1, &st); break;
    case STORE_ROUND_WEEK: ucal_add(r->cal, UCAL_DATE, 7, &st); break;
    case STORE_ROUND_MONTH: ucal_add(r->cal, UCAL_MONTH, 1, &st); break;
    case STORE_ROUND_QUARTER: ucal_add(r->cal, UCAL_MONTH, 3, &st); break;
    default: ucal_add(r->cal, UCAL_YEAR, 1, &st); break;
    }
    /* the day after a skipped midnight starts at midnight again: round the sum */
    next = inner_round(r, (int64_t)ucal_getMillis(r->cal, &st) + 3 * 3600000);
    return U_FAILURE(st) || next <= key ? key + DAY_MS : next;
}

/* The bucket of v (offset removed), remembered for the next value. */
static int64_t cached_round(store_rounding *r, int64_t v)
{
    if (!r->have_last || v < r->last_key || v >= r->last_next) {
        r->last_key = inner_round(r, v);
        r->last_next = inner_next(r, r->last_key);
        r->have_last = true;
    }
    return r->last_key;
}

/* Past about three million years from 1970 ICU's calendar stops and the
 * arithmetic would near int64's ends: such a value is its own bucket. */
#define FAR_MS 100000000000000000LL

int64_t store_rounding_round(store_rounding *r, int64_t ms)
{
    if (ms > FAR_MS || ms < -FAR_MS)
        return ms;
    return cached_round(r, ms - r->offset_ms) + r->offset_ms;
}

int64_t store_rounding_round_without_offset(store_rounding *r, int64_t ms)
{
    return ms > FAR_MS || ms < -FAR_MS ? ms : cached_round(r, ms);
}

int64_t store_rounding_next(store_rounding *r, int64_t key)
{
    if (key > FAR_MS || key < -FAR_MS)
        return key < INT64_MAX ? key + 1 : key;
    int64_t v = key - r->offset_ms;
    if (r->have_last && v == r->last_key)
        return r->last_next + r->offset_ms;
    return inner_next(r, v) + r->offset_ms;
}

/* The printing pattern of Elasticsearch's built-in date formats. */
static const char *builtin_pattern(const char *name)
{
    static const struct {
        const char *name, *pattern;
    } named[] = {
        {"strict_date_optional_time", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"date_optional_time", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"strict_date_optional_time_nanos", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"iso8601", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"strict_date_time", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"date_time", "uuuu-MM-dd'T'HH:mm:ss.SSSXXX"},
        {"strict_date_time_no_millis", "uuuu-MM-dd'T'HH:mm:ssXXX"},
        {"date_time_no_millis", "uuuu-MM-dd'T'HH:mm:ssXXX"},
        {"strict_date_hour_minute_second_millis", "uuuu-MM-dd'T'HH:mm:ss.SSS"},
        {"date_hour_minute_second_millis", "uuuu-MM-dd'T'HH:mm:ss.SSS"},
        {"strict_date_hour_minute_second_fraction", "uuuu-MM-dd'T'HH:mm:ss.SSS"},
        {"date_hour_minute_second_fraction", "uuuu-MM-dd'T'HH:mm:ss.SSS"},
        {"strict_date_hour_minute_second", "uuuu-MM-dd'T'HH:mm:ss"},
        {"date_hour_minute_second", "uuuu-MM-dd'T'HH:mm:ss"},
        {"strict_date_hour_minute", "uuuu-MM-dd'T'HH:mm"},
        {"date_hour_minute", "uuuu-MM-dd'T'HH:mm"},
        {"strict_date_hour", "uuuu-MM-dd'T'HH"},
        {"date_hour", "uuuu-MM-dd'T'HH"},
        {"strict_date", "uuuu-MM-dd"},
        {"date", "uuuu-MM-dd"},
        {"strict_year_month_day", "uuuu-MM-dd"},
        {"year_month_day", "uuuu-MM-dd"},
        {"strict_year_month", "uuuu-MM"},
        {"year_month", "uuuu-MM"},
        {"strict_year", "uuuu"},
        {"year", "uuuu"},
        {"basic_date", "uuuuMMdd"},
        {"strict_hour_minute_second", "HH:mm:ss"},
        {"hour_minute_second", "HH:mm:ss"},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(name, named[i].name) == 0)
            return named[i].pattern;
    return NULL;
}

void store_rounding_format(store_rounding *r, const char *format, int64_t ms, buf *out)
{
    static const char iso[] = "uuuu-MM-dd'T'HH:mm:ss.SSSXXX";
    char first[256];
    const char *bar = format ? strstr(format, "||") : NULL;
    snprintf(first, sizeof first, "%.*s", format ? (int)(bar ? (size_t)(bar - format) : strlen(format)) : 0,
             format ? format : "");
    if (strcmp(first, "epoch_millis") == 0) {
        buf_printf(out, "%" PRId64, ms);
        return;
    }
    if (strcmp(first, "epoch_second") == 0) {
        if (ms % 1000)
            buf_printf(out, "%.3f", (double)ms / 1000.0);
        else
            buf_printf(out, "%" PRId64, ms / 1000);
        return;
    }
    const char *pattern = !first[0] ? iso : builtin_pattern(first) ? builtin_pattern(first) : first;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(r->cal, (UDate)ms, &st);
    buf tmp = BUF_INIT;
    char err[256];
    if (store_datemath_format(r->cal, pattern, &tmp, err, sizeof err) != 1) {
        buf_reset(&tmp); /* a built-in name verstore has no printer for: ISO 8601 */
        store_datemath_format(r->cal, iso, &tmp, err, sizeof err);
    }
    if (tmp.data)
        buf_append(out, tmp.data, tmp.len);
    buf_free(&tmp);
}
