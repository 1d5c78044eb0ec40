/* store_datefmt — a date field's mapping `format` ("yyyy/MM/dd HH:mm:ss||epoch_millis", named formats) applied to document values as Elasticsearch's DateFormatter parses them. */
#include "versync/store/store_datefmt.h"

#include "versync/store/store_index.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static bool digits_only(const char *s, size_t n, bool sign)
{
    size_t i = sign && n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i >= n)
        return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* epoch_millis / epoch_second: an integer (or a decimal: the fraction is the
 * sub-unit, read to the nanosecond: *sub gets the nanoseconds within the
 * millisecond). Round-up without a fraction is the unit's last nanosecond, as
 * Elasticsearch's EpochTime round-up parsers default it. */
static bool parse_epoch(const char *s, size_t n, int64_t unit, bool round_up, int64_t *ms, int32_t *sub)
{
    char tmp[40];
    if (!n || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *dot = strchr(tmp, '.');
    if (dot)
        *dot = '\0';
    if (!digits_only(tmp, strlen(tmp), true) || (dot && !digits_only(dot + 1, strlen(dot + 1), false)))
        return false;
    long long whole = strtoll(tmp, NULL, 10);
    int width = unit == 1000 ? 9 : 6; /* the fraction's digits that count: nanoseconds of the unit */
    int64_t fr = 0;
    const char *fd = dot ? dot + 1 : "";
    for (int k = 0; k < width; k++)
        fr = fr * 10 + (*fd ? *fd++ - '0' : 0);
    if (!dot && round_up)
        fr = unit == 1000 ? 999999999 : 999999;
    bool neg = tmp[0] == '-';
    /* fr: nanoseconds of the second (epoch_second) or of the millisecond (epoch_millis) */
    *ms = (int64_t)whole * unit + (neg ? -1 : 1) * (unit == 1000 ? fr / 1000000 : 0);
    *sub = neg ? 0 : (int32_t)(unit == 1000 ? fr % 1000000 : fr);
    return true;
}

/* Read exactly `w` digits (w > 0), or 1..max digits (w == 0). */
static bool num(const char *s, size_t n, size_t *i, int w, int max, long *out)
{
    size_t start = *i, lim = w ? (size_t)w : (size_t)max;
    long v = 0;
    while (*i < n && *i - start < lim && isdigit((unsigned char)s[*i]))
        v = v * 10 + (s[(*i)++] - '0');
    if (*i == start || (w && *i - start != (size_t)w))
        return false;
    *out = v;
    return true;
}

/* One java.time pattern over the whole value. `check` only validates the pattern.
 * `round_up` fills the time fields the pattern lacks with their largest value
 * (23:59:59.999) as Elasticsearch's round-up parser does for range bounds;
 * month and day still default to 1 there, so do they here. */
static bool parse_pattern(const char *pat, size_t pl, const char *s, size_t n, bool check, bool round_up, int64_t *ms,
                          int32_t *sub, bool *zoned, char *err, size_t errsz)
{
    long y = 1970, mo = 1, d = 1, h = -1, mi = -1, sec = -1, frac_ms = -1, frac_sub = 0, off_min = 0;
    int ampm = -1;
    bool h12 = false;
    size_t i = 0;
    for (size_t p = 0; p < pl;) {
        char c = pat[p];
        if (c == '\'') {
            size_t q = p + 1;
            if (q < pl && pat[q] == '\'') { /* '' is a quote */
                if (!check && (i >= n || s[i++] != '\''))
                    return false;
                p = q + 1;
                continue;
            }
            while (q < pl && pat[q] != '\'') {
                if (!check && (i >= n || s[i++] != pat[q]))
                    return false;
                q++;
            }
            if (q >= pl) {
                snprintf(err, errsz, "Invalid format: [%.*s]: Pattern ends with an incomplete string literal", (int)pl, pat);
                return false;
            }
            p = q + 1;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            if (c == '[' || c == ']' || c == '{' || c == '}' || c == '#') {
                snprintf(err, errsz, "Invalid format: [%.*s]: verstore does not support optional sections or the reserved character '%c'", (int)pl, pat, c);
                return false;
            }
            if (!check && (i >= n || s[i++] != c))
                return false;
            p++;
            continue;
        }
        size_t run = 1;
        while (p + run < pl && pat[p + run] == c)
            run++;
        int w = run >= 2 ? (int)run : 0; /* one letter: 1..max digits; more: exactly that many */
        bool ok = true;
        switch (c) {
        case 'u':
        case 'y':
            if (check)
                break;
            if (run == 2) {
                ok = num(s, n, &i, 2, 2, &y);
                y += 2000;
            } else if (p + run < pl && isalpha((unsigned char)pat[p + run])) {
                /* adjacent value parsing (yyyyMMdd): the year takes its width only */
                ok = num(s, n, &i, run >= 4 ? (int)run : 4, 9, &y);
            } else {
                size_t st = i;
                ok = num(s, n, &i, 0, 9, &y) && i - st >= (run >= 4 ? 4 : run);
            }
            break;
        case 'M': ok = check || num(s, n, &i, w, 2, &mo); break;
        case 'd': ok = check || num(s, n, &i, w, 2, &d); break;
        case 'H': ok = check || num(s, n, &i, w, 2, &h); break;
        case 'h':
            h12 = true;
            ok = check || num(s, n, &i, w, 2, &h);
            break;
        case 'm': ok = check || num(s, n, &i, w, 2, &mi); break;
        case 's': ok = check || num(s, n, &i, w, 2, &sec); break;
        case 'S':
            if (!check) {
                long f;
                size_t st = i;
                ok = num(s, n, &i, (int)run, (int)run, &f);
                size_t got = i - st;
                while (got > 9) {
                    f /= 10;
                    got--;
                }
                while (got < 9) {
                    f *= 10;
                    got++;
                }
                frac_ms = f / 1000000;
                frac_sub = f % 1000000;
            }
            break;
        case 'a':
            if (!check) {
                if (i + 2 <= n && (strncasecmp(s + i, "AM", 2) == 0 || strncasecmp(s + i, "PM", 2) == 0)) {
                    ampm = toupper((unsigned char)s[i]) == 'P';
                    i += 2;
                } else
                    ok = false;
            }
            break;
        case 'X':
        case 'Z':
        case 'x':
            if (!check) {
                *zoned = true;
                if (i < n && s[i] == 'Z' && c == 'X') {
                    i++;
                    off_min = 0;
                } else if (i < n && (s[i] == '+' || s[i] == '-')) {
                    int sg = s[i++] == '-' ? -1 : 1;
                    long oh, om = 0;
                    ok = num(s, n, &i, 2, 2, &oh);
                    if (ok && i < n && s[i] == ':')
                        i++;
                    if (ok && i < n && isdigit((unsigned char)s[i]))
                        ok = num(s, n, &i, 2, 2, &om);
                    off_min = sg * (oh * 60 + om);
                } else
                    ok = false;
            }
            break;
        default:
            snprintf(err, errsz, "Invalid format: [%.*s]: Unknown pattern letter: %c", (int)pl, pat, c);
            return false;
        }
        if (!ok)
            return false;
        p += run;
    }
    if (check)
        return true;
    if (i != n)
        return false;
    if (h < 0)
        h = round_up && !h12 ? 23 : 0;
    if (mi < 0)
        mi = round_up ? 59 : 0;
    if (sec < 0)
        sec = round_up ? 59 : 0;
    if (frac_ms < 0) {
        frac_ms = round_up ? 999 : 0;
        frac_sub = round_up ? 999999 : 0;
    }
    *sub = (int32_t)frac_sub;
    if (h12) {
        if (h < 1 || h > 12 || ampm < 0)
            return false;
        h = h % 12 + (ampm ? 12 : 0);
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || sec > 59)
        return false;
    *ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi - off_min) * 60000LL + sec * 1000LL +
          frac_ms;
    return true;
}

/* The built-in names that are ISO 8601 shapes verstore's ISO reader takes. */
static const char *const iso_names[] = {"strict_date_optional_time", "date_optional_time",
                                        "strict_date_optional_time_nanos", "iso8601", "strict_date_time",
                                        "date_time", "strict_date_time_no_millis", "date_time_no_millis",
                                        "strict_date_hour_minute_second", "date_hour_minute_second",
                                        "strict_date_hour_minute_second_millis", "date_hour_minute_second_millis",
                                        "strict_date_hour_minute_second_fraction", "date_hour_minute_second_fraction",
                                        "strict_date_hour_minute", "date_hour_minute", "strict_date_hour",
                                        "date_hour", NULL};

/* Named formats with a fixed pattern. */
static const struct { const char *name, *pattern; } named[] = {
    {"strict_date", "yyyy-MM-dd"},     {"date", "yyyy-MM-dd"},           {"basic_date", "yyyyMMdd"},
    {"strict_year_month", "yyyy-MM"},  {"year_month", "yyyy-MM"},        {"strict_year", "yyyy"},
    {"year", "yyyy"},                  {"basic_date_time", "yyyyMMdd'T'HHmmss.SSSX"},
    {"basic_date_time_no_millis", "yyyyMMdd'T'HHmmssX"}, {"strict_year_month_day", "yyyy-MM-dd"},
    {"year_month_day", "yyyy-MM-dd"}, {"strict_hour_minute_second", "HH:mm:ss"}, {"hour_minute_second", "HH:mm:ss"},
};

/* What round-up adds to an ISO 8601 value read at its own precision: the rest
 * of the day, hour, minute or second it names (none when it has a fraction). */
static int64_t iso_round_up(const char *s, size_t n)
{
    const char *t = memchr(s, 'T', n);
    if (!t)
        return 86399999;
    int digits = 0;
    for (const char *p = t + 1; p < s + n; p++) {
        if (*p == '.' || *p == ',')
            return 0;
        if (isdigit((unsigned char)*p))
            digits++;
        else if (*p != ':')
            break;
    }
    return digits <= 2 ? 3599999 : digits <= 4 ? 59999 : 999;
}

/* Whether an ISO 8601 value names its own offset (Z or ±hh[:mm] after the
 * time), so that a query's time_zone leaves it alone as java.time's parsed
 * zone does. */
static bool iso_has_offset(const char *s, size_t n)
{
    const char *t = memchr(s, 'T', n);
    if (!t)
        return false;
    for (const char *p = t + 1; p < s + n; p++)
        if (*p == 'Z' || *p == 'z' || *p == '+' || *p == '-')
            return true;
    return false;
}

/* The nanoseconds within the millisecond an ISO 8601 value's fraction gives
 * (its 4th to 9th digits). */
static int32_t iso_sub_ns(const char *s, size_t n)
{
    const char *t = memchr(s, 'T', n);
    if (!t)
        return 0;
    const char *p = t + 1;
    while (p < s + n && *p != '.' && *p != ',')
        p++;
    if (p >= s + n)
        return 0;
    p++;
    int32_t sub = 0;
    for (int k = 0; k < 9; k++) {
        int dig = p < s + n && isdigit((unsigned char)*p) ? *p++ - '0' : 0;
        if (k >= 3)
            sub = sub * 10 + dig;
    }
    return sub;
}

/* One alternative of a format. *ms the instant, *sub the nanoseconds within
 * that millisecond (date_nanos keeps them). */
static bool one(const char *f, size_t fl, const char *s, size_t n, bool number, bool check, bool round_up, int64_t *ms,
                int32_t *sub, bool *zoned, char *err, size_t errsz)
{
    *sub = 0;
    *zoned = false;
    if (fl == 12 && strncmp(f, "epoch_millis", 12) == 0)
        return *zoned = true, check || parse_epoch(s, n, 1, round_up, ms, sub);
    if (fl == 12 && strncmp(f, "epoch_second", 12) == 0)
        return *zoned = true, check || parse_epoch(s, n, 1000, round_up, ms, sub);
    for (size_t i = 0; iso_names[i]; i++)
        if (strlen(iso_names[i]) == fl && strncmp(f, iso_names[i], fl) == 0) {
            if (check)
                return true;
            /* an ISO string, never a bare number (store_index_parse_date also takes epoch millis); four digits are a year */
            if (number || (digits_only(s, n, true) && n != 4) || !store_index_parse_date(s, n, ms))
                return false;
            int64_t add = round_up ? iso_round_up(s, n) : 0;
            *ms += add;
            *zoned = iso_has_offset(s, n);
            *sub = add ? 999999 : iso_sub_ns(s, n);
            return true;
        }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == fl && strncmp(f, named[i].name, fl) == 0)
            return parse_pattern(named[i].pattern, strlen(named[i].pattern), s, n, check, round_up, ms, sub, zoned,
                                 err, errsz);
    bool letters_only = true;
    for (size_t i = 0; i < fl; i++)
        letters_only &= islower((unsigned char)f[i]) || f[i] == '_';
    if (letters_only && fl > 3 && memchr(f, '_', fl)) { /* a built-in name verstore does not know */
        snprintf(err, errsz, "Invalid format: [%.*s]: verstore does not support this built-in date format", (int)fl, f);
        return false;
    }
    return parse_pattern(f, fl, s, n, check, round_up, ms, sub, zoned, err, errsz);
}

bool store_datefmt_valid(const char *format, char *err, size_t errsz)
{
    err[0] = '\0';
    if (!format[0]) {
        snprintf(err, errsz, "Invalid format: []: empty format");
        return false;
    }
    for (const char *p = format;;) {
        const char *bar = strstr(p, "||");
        size_t fl = bar ? (size_t)(bar - p) : strlen(p);
        int64_t ms;
        int32_t sub;
        bool zoned;
        if (!one(p, fl, "", 0, false, true, false, &ms, &sub, &zoned, err, errsz))
            return false;
        if (!bar)
            return true;
        p = bar + 2;
    }
}

static bool parse_any(const char *format, const char *s, size_t n, bool number, bool round_up, int64_t *ms,
                      int32_t *sub, bool *zoned)
{
    char err[256];
    for (const char *p = format;;) {
        const char *bar = strstr(p, "||");
        size_t fl = bar ? (size_t)(bar - p) : strlen(p);
        if (one(p, fl, s, n, number, false, round_up, ms, sub, zoned, err, sizeof err))
            return true;
        if (!bar)
            return false;
        p = bar + 2;
    }
}

bool store_datefmt_parse(const char *format, const char *s, size_t n, bool number, int64_t *ms)
{
    int32_t sub;
    bool zoned;
    return parse_any(format, s, n, number, false, ms, &sub, &zoned);
}

bool store_datefmt_parse_bound(const char *format, const char *s, size_t n, bool round_up, int64_t *ms)
{
    bool zoned;
    return store_datefmt_parse_bound_zoned(format, s, n, round_up, ms, &zoned);
}

bool store_datefmt_parse_bound_zoned(const char *format, const char *s, size_t n, bool round_up, int64_t *ms,
                                     bool *zoned)
{
    int32_t sub;
    return parse_any(format ? format : STORE_DATEFMT_DEFAULT, s, n, false, round_up, ms, &sub, zoned);
}

int store_datefmt_parse_ns(const char *format, const char *s, size_t n, bool number, bool round_up, int64_t *ns)
{
    bool zoned;
    return store_datefmt_parse_ns_zoned(format, s, n, number, round_up, ns, &zoned);
}

int store_datefmt_parse_ns_zoned(const char *format, const char *s, size_t n, bool number, bool round_up, int64_t *ns,
                                 bool *zoned)
{
    int64_t ms;
    int32_t sub;
    if (!parse_any(format ? format : STORE_DATEFMT_NANOS_DEFAULT, s, n, number, round_up, &ms, &sub, zoned))
        return 0;
    /* DateUtils.toLong: 1970-01-01T00:00:00Z … 2262-04-11T23:47:16.854775807Z */
    if (ms < 0)
        return -1;
    if (ms > INT64_MAX / 1000000 || (ms == INT64_MAX / 1000000 && sub > INT64_MAX % 1000000))
        return -2;
    *ns = ms * 1000000 + sub;
    return 1;
}

void store_datefmt_instant_text(const char *format, const char *s, size_t n, bool number, char *out, size_t outsz)
{
    int64_t ms;
    int32_t sub;
    bool zoned;
    if (!parse_any(format ? format : STORE_DATEFMT_NANOS_DEFAULT, s, n, number, false, &ms, &sub, &zoned)) {
        snprintf(out, outsz, "%.*s", (int)(n > 40 ? 40 : n), s);
        return;
    }
    char iso[64];
    store_index_format_date(ms, iso, sizeof iso);
    char *dot = strchr(iso, '.');
    if (dot)
        *dot = '\0'; /* seconds; the fraction is written below as Instant.toString writes it */
    int64_t milli = ms % 1000;
    if (milli < 0)
        milli += 1000;
    int64_t nanos = milli * 1000000 + sub;
    if (nanos == 0)
        snprintf(out, outsz, "%sZ", iso);
    else if (nanos % 1000000 == 0)
        snprintf(out, outsz, "%s.%03dZ", iso, (int)(nanos / 1000000));
    else if (nanos % 1000 == 0)
        snprintf(out, outsz, "%s.%06dZ", iso, (int)(nanos / 1000));
    else
        snprintf(out, outsz, "%s.%09dZ", iso, (int)nanos);
}

/* ---- printing ---- */

/* The date of a day count since 1970-01-01 (days_from_civil's inverse). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

typedef struct tparts {
    int64_t y;
    unsigned mo, d, h, mi, s;
    int64_t ns; /* of the second */
} tparts;

static tparts split_instant(int64_t ms, int32_t sub)
{
    tparts t;
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rest = ms - days * 86400000;
    civil_from_days(days, &t.y, &t.mo, &t.d);
    t.h = (unsigned)(rest / 3600000);
    t.mi = (unsigned)(rest / 60000 % 60);
    t.s = (unsigned)(rest / 1000 % 60);
    t.ns = rest % 1000 * 1000000 + sub;
    return t;
}

static void put(char *out, size_t outsz, size_t *o, const char *fmt, long long v, int w)
{
    if (*o < outsz)
        *o += (size_t)snprintf(out + *o, outsz - *o, fmt, w, v);
}

/* The fraction of a second: `min` to `max` digits, trailing zeros beyond
 * `min` dropped (java.time's appendFraction). */
static void put_fraction(char *out, size_t outsz, size_t *o, int64_t ns, int min, int max)
{
    char dig[10];
    snprintf(dig, sizeof dig, "%09lld", (long long)ns);
    int n = max;
    while (n > min && dig[n - 1] == '0')
        n--;
    if (*o < outsz)
        *o += (size_t)snprintf(out + *o, outsz - *o, "%.*s", n, dig);
}

/* A java.time pattern (validated by parse_pattern) printed for UTC. */
static void print_pattern(const char *pat, size_t pl, const tparts *t, char *out, size_t outsz, size_t *o)
{
    for (size_t p = 0; p < pl && *o < outsz;) {
        char c = pat[p];
        if (c == '\'') {
            size_t q = p + 1;
            if (q < pl && pat[q] == '\'') {
                out[(*o)++] = '\'';
                p = q + 1;
                continue;
            }
            while (q < pl && pat[q] != '\'' && *o < outsz)
                out[(*o)++] = pat[q++];
            p = q + 1;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            out[(*o)++] = c;
            p++;
            continue;
        }
        size_t run = 1;
        while (p + run < pl && pat[p + run] == c)
            run++;
        int w = (int)run;
        switch (c) {
        case 'u':
        case 'y':
            if (run == 2)
                put(out, outsz, o, "%0*lld", t->y % 100, 2);
            else
                put(out, outsz, o, "%0*lld", t->y, w);
            break;
        case 'M': put(out, outsz, o, "%0*lld", t->mo, w); break;
        case 'd': put(out, outsz, o, "%0*lld", t->d, w); break;
        case 'H': put(out, outsz, o, "%0*lld", t->h, w); break;
        case 'h': put(out, outsz, o, "%0*lld", t->h % 12 ? t->h % 12 : 12, w); break;
        case 'm': put(out, outsz, o, "%0*lld", t->mi, w); break;
        case 's': put(out, outsz, o, "%0*lld", t->s, w); break;
        case 'S': put_fraction(out, outsz, o, t->ns, w > 9 ? 9 : w, w > 9 ? 9 : w); break;
        case 'a':
            if (*o + 2 < outsz) {
                memcpy(out + *o, t->h < 12 ? "AM" : "PM", 2);
                *o += 2;
            }
            break;
        case 'X': out[(*o)++] = 'Z'; break; /* UTC */
        case 'Z':
        case 'x':
            if (*o < outsz)
                *o += (size_t)snprintf(out + *o, outsz - *o, "%s", c == 'Z' ? "+0000" : "+00");
            break;
        default: break;
        }
        p += run;
    }
}

/* An epoch count in `unit` milliseconds, with its fraction when there is one
 * (EpochTime's printers). */
static void print_epoch(int64_t ms, int32_t sub, int64_t unit, char *out, size_t outsz)
{
    int64_t whole = ms / unit, rem = ms % unit;
    if (rem < 0) {
        whole--;
        rem += unit;
    }
    int64_t frac_ns = rem * 1000000 + sub; /* nanoseconds past the whole unit */
    int digits = unit == 1000 ? 9 : 6;
    if (!frac_ns) {
        snprintf(out, outsz, "%lld", (long long)whole);
        return;
    }
    char dig[16];
    snprintf(dig, sizeof dig, "%0*lld", digits, (long long)frac_ns);
    int n = digits;
    while (n > 1 && dig[n - 1] == '0')
        n--;
    snprintf(out, outsz, "%lld.%.*s", (long long)whole, n, dig);
}

bool store_datefmt_format(const char *format, int64_t ms, int32_t sub, bool nanos, char *out, size_t outsz)
{
    const char *bar = strstr(format, "||");
    size_t fl = bar ? (size_t)(bar - format) : strlen(format), o = 0;
    char err[128];
    if (!outsz)
        return false;
    out[0] = '\0';
    if (fl == 12 && strncmp(format, "epoch_millis", 12) == 0) {
        print_epoch(ms, sub, 1, out, outsz);
        return true;
    }
    if (fl == 12 && strncmp(format, "epoch_second", 12) == 0) {
        print_epoch(ms, sub, 1000, out, outsz);
        return true;
    }
    tparts t = split_instant(ms, sub);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(fl < sizeof name ? fl : sizeof name - 1), format);
    const char *n = strncmp(name, "strict_", 7) == 0 ? name + 7 : name;
    for (size_t i = 0; iso_names[i]; i++) {
        if (strcmp(iso_names[i], name) != 0)
            continue;
        /* the printers of the ISO names: as much as each names, UTC as Z */
        const char *pat = "yyyy-MM-dd'T'HH:mm:ss";
        bool zone = true;
        int fmin = 3, fmax = 3;
        if (strcmp(n, "date_hour") == 0)
            pat = "yyyy-MM-dd'T'HH", zone = false, fmax = 0;
        else if (strcmp(n, "date_hour_minute") == 0)
            pat = "yyyy-MM-dd'T'HH:mm", zone = false, fmax = 0;
        else if (strcmp(n, "date_hour_minute_second") == 0)
            zone = false, fmax = 0;
        else if (strncmp(n, "date_hour_minute_second_", 24) == 0)
            zone = false;
        else if (strstr(n, "no_millis"))
            fmax = 0;
        else if (strcmp(n, "date_optional_time_nanos") == 0 || (nanos && strcmp(n, "iso8601") == 0))
            fmax = 9;
        print_pattern(pat, strlen(pat), &t, out, outsz, &o);
        if (fmax && o + 1 < outsz) {
            out[o++] = '.';
            put_fraction(out, outsz, &o, t.ns, fmin, fmax);
        }
        if (zone && o + 1 < outsz)
            out[o++] = 'Z';
        out[o < outsz ? o : outsz - 1] = '\0';
        return true;
    }
    const char *pat = NULL;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(named[i].name, name) == 0)
            pat = named[i].pattern;
    size_t pl = pat ? strlen(pat) : fl;
    if (!pat) {
        pat = format;
        int64_t dummy;
        int32_t dsub;
        bool dzoned;
        if (!one(format, fl, "", 0, false, true, false, &dummy, &dsub, &dzoned, err, sizeof err))
            return false;
    }
    print_pattern(pat, pl, &t, out, outsz, &o);
    out[o < outsz ? o : outsz - 1] = '\0';
    return true;
}
