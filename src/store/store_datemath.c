/* store_datemath — Elasticsearch's date-math index names (`<logs-{now/d}>`, `<logs-{now/M{yyyy.MM|+01:00}}>`), resolved as its DateMathExpressionResolver does. */
#include "versync/store/store_datemath.h"

#include "versync/store/store_datefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define ERRF(ty, ...) (*type = (ty), snprintf(err, errsz, __VA_ARGS__), 0)

/* The expression's text between < and >, for reasons (as Elasticsearch quotes it). */
typedef struct ctx {
    const char *text;
    int len;
    const char **type;
    char *err;
    size_t errsz;
} ctx;

static const char *const month_short[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const month_long[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};

/* Open a Gregorian calendar in `zone` (Java ZoneId spellings: Z, UTC,
 * +01:00, Europe/Paris). NULL when the zone is unknown. */
static UCalendar *open_cal(const char *zone)
{
    char id[192];
    if (!zone || !*zone || strcmp(zone, "Z") == 0 || strcmp(zone, "UTC") == 0)
        snprintf(id, sizeof id, "UTC");
    else if (zone[0] == '+' || zone[0] == '-')
        snprintf(id, sizeof id, "GMT%s", zone);
    else
        snprintf(id, sizeof id, "%s", zone);
    UChar uid[128];
    UErrorCode st = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(uid, 128, &n, id, -1, &st);
    if (U_FAILURE(st))
        return NULL;
    UChar canon[128];
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(uid, n, canon, 128, &system, &st);
    if (U_FAILURE(st)) /* an ID ICU does not know (custom GMT±hh:mm IDs are canonicalised, not failed) */
        return NULL;
    UCalendar *cal = ucal_open(uid, n, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        ucal_close(cal);
        return NULL;
    }
    /* proleptic Gregorian, as java.time */
    ucal_setGregorianChange(cal, -1.7976931348623157e308, &st);
    /* a wall time a DST change repeats is its earlier instant, one it skips
     * moves on by the gap: ZonedDateTime.ofLocal's defaults */
    ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
    return cal;
}

UCalendar *store_datemath_calendar(const char *zone) { return open_cal(zone); }

static int format(UCalendar *cal, const char *pat, buf *b, const char **type, char *err, size_t errsz);

int store_datemath_format(UCalendar *cal, const char *pattern, buf *out, char *err, size_t errsz)
{
    const char *type;
    return format(cal, pattern, out, &type, err, errsz);
}

static int32_t get(UCalendar *cal, UCalendarDateFields f)
{
    UErrorCode st = U_ZERO_ERROR;
    return ucal_get(cal, f, &st);
}

static void midnight(UCalendar *cal)
{
    ucal_set(cal, UCAL_HOUR_OF_DAY, 0);
    ucal_set(cal, UCAL_MINUTE, 0);
    ucal_set(cal, UCAL_SECOND, 0);
    ucal_set(cal, UCAL_MILLISECOND, 0);
}

/* JavaDateMathParser.parseMath on "now" followed by `math`. */
static int apply_math(UCalendar *cal, const char *expr, const char *math, bool round_up, const char **type, char *err,
                      size_t errsz)
{
    UErrorCode st = U_ZERO_ERROR;
    size_t i = 0, n = strlen(math);
    while (i < n) {
        char c = math[i++];
        bool round = c == '/';
        int sign = 1;
        if (!round) {
            if (c == '-')
                sign = -1;
            else if (c != '+')
                return ERRF("parse_exception", "operator not supported for date math [%s]", math);
        }
        if (i >= n)
            return ERRF("parse_exception", "truncated date math [%s]", math);
        long num = 1;
        if (isdigit((unsigned char)math[i])) {
            size_t from = i;
            while (i < n && isdigit((unsigned char)math[i]))
                i++;
            if (i >= n)
                return ERRF("parse_exception", "truncated date math [%s]", math);
            if (i - from > 9)
                return ERRF("parse_exception", "failed to parse date field [%s]", expr);
            num = strtol(math + from, NULL, 10);
        }
        if (round && num != 1)
            return ERRF("parse_exception", "rounding `/` can only be used on single unit types [%s]", math);
        char unit = math[i++];
        int32_t amount = (int32_t)(sign * num);
        UCalendarDateFields up_field = UCAL_MILLISECOND; /* the unit a rounding up adds before its -1 ms */
        int32_t up_by = 1;
        switch (unit) {
        case 'y':
            if (round) {
                ucal_set(cal, UCAL_MONTH, 0);
                ucal_set(cal, UCAL_DATE, 1);
                midnight(cal);
                up_field = UCAL_YEAR;
            } else
                ucal_add(cal, UCAL_YEAR, amount, &st);
            break;
        case 'M':
            if (round) {
                ucal_set(cal, UCAL_DATE, 1);
                midnight(cal);
                up_field = UCAL_MONTH;
            } else
                ucal_add(cal, UCAL_MONTH, amount, &st);
            break;
        case 'w':
            if (round) { /* previous or same Monday */
                int32_t back = (get(cal, UCAL_DAY_OF_WEEK) + 5) % 7;
                ucal_add(cal, UCAL_DATE, -back, &st);
                midnight(cal);
                up_field = UCAL_DATE, up_by = 7;
            } else
                ucal_add(cal, UCAL_DATE, amount * 7, &st);
            break;
        case 'd':
            if (round) {
                midnight(cal);
                up_field = UCAL_DATE;
            } else
                ucal_add(cal, UCAL_DATE, amount, &st);
            break;
        case 'h':
        case 'H':
            if (round) {
                ucal_set(cal, UCAL_MINUTE, 0);
                ucal_set(cal, UCAL_SECOND, 0);
                ucal_set(cal, UCAL_MILLISECOND, 0);
                up_field = UCAL_HOUR_OF_DAY;
            } else
                ucal_add(cal, UCAL_HOUR_OF_DAY, amount, &st);
            break;
        case 'm':
            if (round) {
                ucal_set(cal, UCAL_SECOND, 0);
                ucal_set(cal, UCAL_MILLISECOND, 0);
                up_field = UCAL_MINUTE;
            } else
                ucal_add(cal, UCAL_MINUTE, amount, &st);
            break;
        case 's':
            if (round) {
                ucal_set(cal, UCAL_MILLISECOND, 0);
                up_field = UCAL_SECOND;
            } else
                ucal_add(cal, UCAL_SECOND, amount, &st);
            break;
        default: return ERRF("parse_exception", "unit [%c] not supported for date math [%s]", unit, math);
        }
        (void)get(cal, UCAL_YEAR); /* recompute after set() */
        if (round && round_up) { /* the last millisecond of the unit: gt and lte bounds */
            ucal_add(cal, up_field, up_by, &st);
            ucal_add(cal, UCAL_MILLISECOND, -1, &st);
        }
        if (U_FAILURE(st))
            return ERRF("parse_exception", "failed to parse date field [%s]", expr);
    }
    return 1;
}

static void pad(buf *b, long v, int width)
{
    buf_printf(b, "%0*ld", width, v);
}

/* Format the calendar's time with a java.time pattern (the letters index
 * names use: u/y year, M month, d day, D day of year, H hour, m minute, s
 * second, S fraction; quoted literals; other non-letters as they are). */
static int format(UCalendar *cal, const char *pat, buf *b, const char **type, char *err, size_t errsz)
{
    if (!*pat)
        return ERRF("illegal_argument_exception", "Invalid format: []: empty pattern");
    for (size_t i = 0; pat[i];) {
        char c = pat[i];
        if (c == '\'') {
            size_t j = i + 1;
            if (pat[j] == '\'') {
                buf_putc(b, '\'');
                i = j + 1;
                continue;
            }
            while (pat[j] && pat[j] != '\'')
                buf_putc(b, pat[j++]);
            if (!pat[j])
                return ERRF("illegal_argument_exception", "Invalid format: [%s]: Pattern ends with an incomplete string literal: %s", pat, pat);
            i = j + 1;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            if (c == '[' || c == ']' || c == '#' || c == '{' || c == '}')
                return ERRF("illegal_argument_exception", "Invalid format: [%s]: Pattern includes reserved character: '%c'", pat, c);
            buf_putc(b, c);
            i++;
            continue;
        }
        size_t run = 1;
        while (pat[i + run] == c)
            run++;
        long year = get(cal, UCAL_YEAR);
        if (get(cal, UCAL_ERA) == 0)
            year = 1 - year;
        switch (c) {
        case 'u':
        case 'y':
            if (run == 2)
                pad(b, ((year % 100) + 100) % 100, 2);
            else
                pad(b, year, (int)(run < 4 ? 1 : run));
            break;
        case 'M': {
            int32_t mo = get(cal, UCAL_MONTH);
            if (run <= 2)
                pad(b, mo + 1, (int)run);
            else
                buf_puts(b, run == 3 ? month_short[mo] : month_long[mo]);
            break;
        }
        case 'd': pad(b, get(cal, UCAL_DATE), (int)run); break;
        case 'D': pad(b, get(cal, UCAL_DAY_OF_YEAR), (int)run); break;
        case 'H': pad(b, get(cal, UCAL_HOUR_OF_DAY), (int)run); break;
        case 'm': pad(b, get(cal, UCAL_MINUTE), (int)run); break;
        case 's': pad(b, get(cal, UCAL_SECOND), (int)run); break;
        case 'h': pad(b, (get(cal, UCAL_HOUR_OF_DAY) + 11) % 12 + 1, (int)run); break;
        case 'a': buf_puts(b, get(cal, UCAL_HOUR_OF_DAY) < 12 ? "AM" : "PM"); break;
        case 'X':
        case 'x':
        case 'Z': {
            /* the offset: X prints Z for zero, x and Z digits; 1 letter +HH(mm), 2 +HHMM, 3 +HH:MM (Z: 1-3 +HHMM, 5 +HH:MM) */
            int32_t off = (get(cal, UCAL_ZONE_OFFSET) + get(cal, UCAL_DST_OFFSET)) / 60000;
            int32_t a = off < 0 ? -off : off;
            bool colon = c == 'Z' ? run == 5 : run == 3 || run == 5;
            if (off == 0 && (c == 'X' || (c == 'Z' && run == 5))) {
                buf_putc(b, 'Z');
                break;
            }
            buf_printf(b, "%c%02d", off < 0 ? '-' : '+', a / 60);
            if (c != 'Z' && run == 1 && a % 60 == 0)
                break;
            buf_printf(b, colon ? ":%02d" : "%02d", a % 60);
            break;
        }
        case 'S': {
            char ms[16];
            snprintf(ms, sizeof ms, "%03d000000", get(cal, UCAL_MILLISECOND));
            if (run > 9)
                return ERRF("illegal_argument_exception", "Invalid format: [%s]: Too many pattern letters: S", pat);
            buf_append(b, ms, run);
            break;
        }
        default:
            return ERRF("illegal_argument_exception", "Invalid format: [%s]: verstore does not support the pattern letter [%c] in index names", pat, c);
        }
        if (run > 4 && c != 'S' && !(c == 'Z' && run == 5))
            return ERRF("illegal_argument_exception", "Invalid format: [%s]: Too many pattern letters: %c", pat, c);
        i += run;
    }
    return 1;
}

/* One {math{format|zone}} placeholder (its text without the outer braces). */
static int placeholder(const ctx *x, const char *ph, int64_t now_ms, buf *out)
{
    const char **type = x->type;
    char *err = x->err;
    size_t errsz = x->errsz;
    const char *lb = strchr(ph, '{');
    size_t pl = strlen(ph);
    char math[256], pattern[128] = "uuuu.MM.dd", zone[128] = "UTC";
    if (!lb) {
        if (pl >= sizeof math)
            return ERRF("parse_exception", "invalid dynamic name expression [%.*s]. date math is too long", x->len, x->text);
        memcpy(math, ph, pl + 1);
    } else {
        if (strrchr(ph, '}') != ph + pl - 1)
            return ERRF("parse_exception", "invalid dynamic name expression [%s]. missing closing `}` for date math format", ph);
        if (lb == ph + pl - 2)
            return ERRF("parse_exception", "invalid dynamic name expression [%s]. missing date format", ph);
        size_t ml = (size_t)(lb - ph), fl = pl - ml - 2;
        if (ml >= sizeof math || fl >= sizeof pattern)
            return ERRF("parse_exception", "invalid dynamic name expression [%s]. date math is too long", ph);
        memcpy(math, ph, ml);
        math[ml] = '\0';
        char spec[128];
        memcpy(spec, lb + 1, fl);
        spec[fl] = '\0';
        char *bar = strchr(spec, '|');
        if (bar) {
            *bar = '\0';
            snprintf(zone, sizeof zone, "%s", bar + 1);
        }
        snprintf(pattern, sizeof pattern, "%s", spec);
    }
    if (strncmp(math, "now", 3) != 0)
        return ERRF("parse_exception", "failed to parse date field [%s] with format [%s]: verstore takes date math from [now] only in index names", math, pattern);
    UCalendar *cal = open_cal(zone);
    if (!cal)
        return ERRF("illegal_argument_exception", "Unknown time-zone ID: %s", zone);
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)now_ms, &st);
    int rc = U_FAILURE(st) ? ERRF("parse_exception", "failed to parse date field [%s]", math)
                           : apply_math(cal, math, math + 3, false, type, err, errsz);
    if (rc == 1)
        rc = format(cal, pattern, out, type, err, errsz);
    ucal_close(cal);
    return rc;
}

int store_datemath_resolve(const char *name, int64_t now_ms, buf *out, bool *resolved, const char **type, char *err,
                           size_t errsz)
{
    size_t n = strlen(name);
    *resolved = false;
    if (n < 2 || name[0] != '<' || name[n - 1] != '>')
        return 1;
    ctx x = {name + 1, (int)(n - 2), type, err, errsz};
    buf res = BUF_INIT, ph = BUF_INIT;
    bool escape = false, in_format = false, in_ph = false;
    int rc = 1;
    for (size_t i = 1; rc == 1 && i < n - 1; i++) {
        bool escaped = escape;
        escape = false;
        char c = name[i];
        if (c == '\\') {
            if (escaped)
                buf_putc(&res, c);
            else
                escape = true;
            continue;
        }
        if (in_ph) {
            if (c == '{') {
                if (in_format && escaped)
                    buf_putc(&ph, c);
                else if (!in_format) {
                    in_format = true;
                    buf_putc(&ph, c);
                } else
                    rc = ERRF("parse_exception", "invalid dynamic name expression [%.*s]. invalid character in placeholder at position [%zu]", x.len, x.text, i - 1);
            } else if (c == '}') {
                if (in_format && escaped) {
                    buf_putc(&ph, c);
                } else if (in_format) {
                    in_format = false;
                    buf_putc(&ph, c);
                } else {
                    if (!buf_reserve(&ph, 1)) {
                        rc = -1;
                        break;
                    }
                    rc = placeholder(&x, ph.data ? ph.data : "", now_ms, &res);
                    buf_reset(&ph);
                    in_ph = false;
                }
            } else {
                buf_putc(&ph, c);
            }
        } else if (c == '{') {
            if (escaped)
                buf_putc(&res, c);
            else
                in_ph = true;
        } else if (c == '}') {
            if (!escaped)
                rc = ERRF("parse_exception",
                          "invalid dynamic name expression [%.*s]. invalid character at position [%zu]. `{` and `}` are "
                          "reserved characters and should be escaped when used as part of the index name using `\\` "
                          "(e.g. `\\{text\\}`)",
                          x.len, x.text, i - 1);
            else
                buf_putc(&res, c);
        } else {
            buf_putc(&res, c);
        }
    }
    if (rc == 1 && in_ph)
        rc = ERRF("parse_exception", "invalid dynamic name expression [%.*s]. date math placeholder is open ended", x.len, x.text);
    if (rc == 1 && res.len == 0)
        rc = ERRF("parse_exception", "nothing captured");
    if (rc == 1 && (!res.data || !buf_append(out, res.data, res.len)))
        rc = -1;
    if (rc == 1)
        *resolved = true;
    buf_free(&res);
    buf_free(&ph);
    return rc;
}

int store_datemath_resolve_list(const char *list, int64_t now_ms, char **out, const char **type, char *err,
                                size_t errsz)
{
    *out = NULL;
    if (!strchr(list, '<'))
        return 1;
    buf all = BUF_INIT, one = BUF_INIT;
    bool any = false;
    int rc = 1;
    for (const char *p = list; rc == 1;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        buf_reset(&one);
        if (!buf_append(&one, p, len) || !buf_reserve(&one, 1)) {
            rc = -1;
            break;
        }
        bool resolved;
        if (all.len)
            buf_putc(&all, ',');
        rc = store_datemath_resolve(one.data ? one.data : "", now_ms, &all, &resolved, type, err, errsz);
        if (rc == 1 && !resolved)
            buf_append(&all, p, len);
        any |= resolved;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (rc == 1 && any && buf_reserve(&all, 1))
        *out = buf_steal(&all);
    else if (rc == 1 && any)
        rc = -1;
    buf_free(&all);
    buf_free(&one);
    return rc;
}

/* ---- date math in query values (JavaDateMathParser.parse) ---- */

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int32_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* A wall time (milliseconds as if it were UTC) read in cal's zone. */
static int64_t wall_to_instant(UCalendar *cal, int64_t wall)
{
    int64_t days = wall >= 0 ? wall / 86400000 : -((-wall + 86399999) / 86400000);
    int64_t in_day = wall - days * 86400000, y;
    int32_t m, d;
    civil_from_days(days, &y, &m, &d);
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(cal);
    ucal_setDateTime(cal, (int32_t)y, m - 1, d, (int32_t)(in_day / 3600000), (int32_t)(in_day / 60000 % 60),
                     (int32_t)(in_day / 1000 % 60), &st);
    ucal_set(cal, UCAL_MILLISECOND, (int32_t)(in_day % 1000));
    return (int64_t)ucal_getMillis(cal, &st);
}

bool store_datemath_zone_valid(const char *zone)
{
    UCalendar *cal = open_cal(zone);
    ucal_close(cal);
    return cal != NULL;
}

int64_t store_datemath_zone_shift(const char *zone, int64_t wall_ms)
{
    UCalendar *cal = open_cal(zone);
    if (!cal)
        return 0;
    int64_t shift = wall_to_instant(cal, wall_ms) - wall_ms;
    ucal_close(cal);
    return shift;
}

/* One date without math: the format's reading, a wall time in the zone unless
 * the value fixed its own offset. */
static int parse_plain(UCalendar *cal, const char *s, size_t n, const char *format, bool utc, bool round_up,
                       int64_t *ms, char *err, size_t errsz)
{
    bool zoned = false;
    if (!n) {
        snprintf(err, errsz, "cannot parse empty date");
        return 0;
    }
    if (!store_datefmt_parse_bound_zoned(format, s, n, round_up, ms, &zoned)) {
        snprintf(err, errsz, "failed to parse date field [%.*s] with format [%s]: [failed to parse date field [%.*s] with format [%s]]",
                 (int)n, s, format, (int)n, s, format);
        return 0;
    }
    if (!zoned && !utc)
        *ms = wall_to_instant(cal, *ms);
    return 1;
}

int store_datemath_parse(const char *text, const char *format, const char *zone, int64_t now_ms, bool round_up,
                         int64_t *ms, char *err, size_t errsz)
{
    const char *type;
    if (!format)
        format = STORE_DATEFMT_DEFAULT;
    UCalendar *cal = open_cal(zone);
    if (!cal) {
        snprintf(err, errsz, "Unknown time-zone ID: %s", zone);
        return 0;
    }
    bool utc = !zone || !*zone || strcmp(zone, "UTC") == 0 || strcmp(zone, "Z") == 0;
    const char *bar = strstr(text, "||");
    const char *math = NULL;
    int64_t base = now_ms;
    int rc = 1;
    if (strncmp(text, "now", 3) == 0)
        math = text + 3;
    else if (!bar)
        rc = parse_plain(cal, text, strlen(text), format, utc, round_up, ms, err, errsz);
    else if ((rc = parse_plain(cal, text, (size_t)(bar - text), format, utc, false, &base, err, errsz)) == 1)
        math = bar + 2; /* the date itself is never rounded up: its math is */
    if (rc == 1 && math) {
        UErrorCode st = U_ZERO_ERROR;
        ucal_setMillis(cal, (UDate)base, &st);
        rc = apply_math(cal, text, math, round_up, &type, err, errsz);
        *ms = (int64_t)ucal_getMillis(cal, &st);
        if (rc == 1 && U_FAILURE(st))
            rc = (snprintf(err, errsz, "failed to parse date field [%s]", text), 0);
    }
    ucal_close(cal);
    return rc;
}
