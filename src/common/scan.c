/* scan — strict parsing of numbers, byte sizes and durations: the whole text or nothing. */
#include "versync/common/scan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Not isdigit: that depends on the locale and takes an int. */
static bool digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Digits from *p into *v; false on none or beyond UINT64_MAX. */
static bool digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (!digit(*s))
        return false;
    for (; digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return true;
}

bool scan_uint64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (!s || !digits(&s, &v) || *s || v > max)
        return false;
    *out = v;
    return true;
}

bool scan_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s)
        return false;
    bool neg = *s == '-';
    uint64_t v;
    const char *p = s + neg;
    if (!digits(&p, &v) || *p)
        return false;
    int64_t r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        r = (int64_t)v;
    }
    if (r < min || r > max)
        return false;
    *out = r;
    return true;
}

bool scan_double(const char *s, double *out)
{
    if (!s)
        return false;
    /* The grammar first: strtod alone takes " 5", "0x10", "inf", "nan". */
    const char *p = s;
    if (*p == '-')
        p++;
    if (!digit(*p))
        return false;
    while (digit(*p))
        p++;
    if (*p == '.') {
        p++;
        if (!digit(*p))
            return false;
        while (digit(*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!digit(*p))
            return false;
        while (digit(*p))
            p++;
    }
    if (*p)
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end != p || !isfinite(v))
        return false;
    *out = v; /* ERANGE with a finite value is an underflow: 0 or a subnormal */
    return true;
}

/* A number with an optional fraction: integer part `ip`, the fraction's
 * first 9 digits as `frac` over `scale` (10^digits kept; later digits are
 * below any unit's resolution we report and are only checked). */
typedef struct number {
    uint64_t ip, frac, scale;
    bool has_frac;
} number;

static bool scan_number(const char **p, number *n)
{
    *n = (number){0, 0, 1, false};
    if (!digits(p, &n->ip))
        return false;
    if (**p != '.')
        return true;
    const char *s = *p + 1;
    if (!digit(*s))
        return false;
    for (int k = 0; digit(*s); s++, k++)
        if (k < 9) {
            n->frac = n->frac * 10 + (uint64_t)(*s - '0');
            n->scale *= 10;
        }
    n->has_frac = true;
    *p = s;
    return true;
}

/* Case-insensitive whole-string compare of the unit `u` with `name`. */
static bool unit_is(const char *u, const char *name)
{
    for (; *u && *name; u++, name++)
        if (lower(*u) != *name)
            return false;
    return !*u && !*name;
}

bool scan_bytes(const char *s, unsigned flags, uint64_t *out)
{
    if (!s)
        return false;
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {{"b", 0},   {"k", 10},  {"kb", 10}, {"m", 20},  {"mb", 20}, {"g", 30},
                 {"gb", 30}, {"t", 40},  {"tb", 40}, {"p", 50},  {"pb", 50}};
    const char *p = s;
    number n;
    if (!scan_number(&p, &n))
        return false;
    if (!*p) { /* no unit */
        if (n.has_frac || (n.ip != 0 && !(flags & SCAN_BARE)))
            return false;
        *out = n.ip;
        return true;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!unit_is(p, units[i].name))
            continue;
        if (n.has_frac && units[i].shift == 0)
            return false; /* no fraction of a byte */
        unsigned __int128 v = ((unsigned __int128)n.ip << units[i].shift) +
                              (((unsigned __int128)n.frac << units[i].shift) / n.scale);
        if (n.ip > (UINT64_MAX >> units[i].shift) || v > UINT64_MAX)
            return false;
        *out = (uint64_t)v;
        return true;
    }
    return false;
}

bool scan_duration_ms(const char *s, unsigned flags, int64_t *out)
{
    if (!s)
        return false;
    /* milliseconds per unit as num/den */
    static const struct {
        const char *name;
        uint64_t num, den;
    } units[] = {{"nanos", 1, 1000000}, {"micros", 1, 1000}, {"ms", 1, 1},           {"s", 1000, 1},
                 {"m", 60000, 1},       {"h", 3600000, 1},   {"d", 86400000, 1}};
    const char *p = s;
    bool neg = *p == '-';
    p += neg;
    number n;
    if (!scan_number(&p, &n))
        return false;
    if (neg) { /* Elasticsearch's magic -1, alone or with a unit; no other negative */
        if (n.ip != 1 || n.has_frac)
            return false;
    } else if (n.has_frac && !(flags & SCAN_FRACTION)) {
        return false; /* "fractional time values are not supported" */
    }
    if (!*p) { /* no unit: only -1 and 0 */
        if (!neg && (n.ip != 0 || n.has_frac))
            return false;
        *out = neg ? -1 : 0;
        return true;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!unit_is(p, units[i].name))
            continue;
        if (units[i].name[0] == 'm' && !units[i].name[1] && *p != 'm')
            return false; /* "M" is months, which Elasticsearch does not take here */
        if (neg) {
            *out = -1;
            return true;
        }
        unsigned __int128 num = (unsigned __int128)n.ip * n.scale + n.frac; /* value * scale */
        unsigned __int128 ms = num * units[i].num / units[i].den / n.scale;
        if (ms > INT64_MAX)
            return false;
        *out = (int64_t)ms;
        return true;
    }
    return false;
}
