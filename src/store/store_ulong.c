/* store_ulong — `unsigned_long` values (0 … 2^64−1) read from documents and queries as Elasticsearch's UnsignedLongFieldMapper reads them. */
#include "versync/store/store_ulong.h"

#include "versync/store/store_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number as Java's BigDecimal reads it ([+-]digits[.digits][e[+-]digits]),
 * reduced to what the unsigned_long rules need. */
typedef struct dec {
    bool neg;      /* below zero (not for -0) */
    bool zero;     /* the value is 0 */
    bool frac;     /* a non-zero fraction */
    bool over;     /* the integer part is past 2^64−1 */
    uint64_t ipart; /* the integer part (toward zero) when !over */
} dec;

static bool dec_parse(const char *s, size_t n, dec *d)
{
    memset(d, 0, sizeof *d);
    size_t i = 0;
    bool minus = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        minus = s[i++] == '-';
    /* digits with the decimal point's place: digits[0..nd), point after ip of them */
    size_t start = i, nd = 0, ip = 0;
    bool point = false, any = false;
    for (; i < n; i++) {
        if (isdigit((unsigned char)s[i])) {
            any = true;
            nd++;
            if (!point)
                ip++;
        } else if (s[i] == '.' && !point)
            point = true;
        else
            break;
    }
    if (!any)
        return false;
    long long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || !isdigit((unsigned char)s[i]))
            return false;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            if (exp < 100000)
                exp = exp * 10 + (s[i] - '0');
        if (eneg)
            exp = -exp;
    }
    if (i != n)
        return false;
    long long pointat = (long long)ip + exp; /* digits before the point after the exponent */
    d->zero = true;
    size_t k = 0;
    for (size_t j = start; j < n && k < nd; j++) {
        if (!isdigit((unsigned char)s[j]))
            continue;
        int dig = s[j] - '0';
        if (dig)
            d->zero = false;
        if ((long long)k < pointat) {
            if (!d->over) {
                if (d->ipart > (UINT64_MAX - (uint64_t)dig) / 10)
                    d->over = true;
                else
                    d->ipart = d->ipart * 10 + (uint64_t)dig;
            }
        } else if (dig)
            d->frac = true;
        k++;
    }
    /* trailing zeros the exponent adds to the integer part */
    for (long long z = (long long)nd; z < pointat && !d->over && !d->zero; z++) {
        if (d->ipart > UINT64_MAX / 10)
            d->over = true;
        else
            d->ipart *= 10;
    }
    d->neg = minus && !d->zero;
    return true;
}

/* Java's Double.toString of `d`: the shortest digits that read back as d,
 * plain between 10^-3 and 10^7 ("10.0", "0.5"), else "1.0E20", "1.5E-5". */
static void java_double(double d, char *out, size_t outsz)
{
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is "[-]D[.DDD]e[+-]XX": its digits and exponent */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    bool neg = *q == '-';
    if (neg)
        q++;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q) && nd < sizeof digits - 1)
            digits[nd++] = *q;
    digits[nd] = '\0';
    int x = *q == 'e' ? atoi(q + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    double a = fabs(d);
    size_t o = 0;
#define PUT(c) (o + 1 < outsz ? (void)(out[o++] = (c)) : (void)0)
    if (neg)
        PUT('-');
    if (a >= 1e-3 && a < 1e7) {
        if (x < 0) {
            PUT('0');
            PUT('.');
            for (int z = -1; z > x; z--)
                PUT('0');
            for (size_t i = 0; i < nd; i++)
                PUT(digits[i]);
        } else {
            for (int i = 0; i <= x; i++)
                PUT((size_t)i < nd ? digits[i] : '0');
            PUT('.');
            if ((size_t)x + 1 >= nd)
                PUT('0');
            for (size_t i = (size_t)x + 1; i < nd; i++)
                PUT(digits[i]);
        }
        out[o] = '\0';
    } else {
        PUT(digits[0]);
        PUT('.');
        if (nd == 1)
            PUT('0');
        for (size_t i = 1; i < nd; i++)
            PUT(digits[i]);
        out[o] = '\0';
        snprintf(out + o, outsz - o, "E%d", x);
    }
#undef PUT
}

int store_ulong_parse_doc(const char *s, size_t n, bool number, uint64_t *out, char *why, size_t whysz)
{
    if (!number && n == 0)
        return 0;
    dec d;
    bool plain = n > 0 && n <= 64 && !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n);
    if (number && !plain && n < 400) {
        /* A JSON number with a fraction or an exponent is a Double to
         * Elasticsearch's parser, which parseUnsignedLong refuses whatever
         * its value ("For input string: [1000.0]."). */
        char tmp[400], jd[64];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        java_double(strtod(tmp, NULL), jd, sizeof jd);
        snprintf(why, whysz, "For input string: [%s].", jd);
        return -1;
    }
    if (!dec_parse(s, n, &d)) {
        snprintf(why, whysz, "For input string: \"%.*s\"", (int)(n > 200 ? 200 : n), s);
        return -1;
    }
    if (d.frac) {
        snprintf(why, whysz, "Value \"%.*s\" has a decimal part", (int)(n > 200 ? 200 : n), s);
        return -1;
    }
    if (d.neg || d.over) {
        /* a JSON integer in a long's range says it with a full stop, a big one (BigInteger) without */
        bool small = number && plain && d.neg && n <= 20;
        snprintf(why, whysz, "Value [%.*s] is out of range for unsigned long%s", (int)(n > 200 ? 200 : n), s,
                 small ? "." : "");
        return -1;
    }
    *out = d.zero ? 0 : d.ipart;
    return 1;
}

int store_ulong_parse_term(const char *s, uint64_t *out)
{
    dec d;
    if (!dec_parse(s, strlen(s), &d))
        return -1;
    if (d.neg || d.over || d.frac)
        return 0;
    *out = d.zero ? 0 : d.ipart;
    return 1;
}

int store_ulong_parse_bound(const char *s, bool upper, bool incl, uint64_t *out)
{
    dec d;
    if (!dec_parse(s, strlen(s), &d))
        return -1;
    if (!upper) {
        if (d.neg || d.zero) { /* every value is at or above 0 (and gt -0.5 too) */
            *out = d.zero && !incl ? 1 : 0;
            return 1;
        }
        if (d.over || (d.ipart == UINT64_MAX && (!incl || d.frac)))
            return 0;
        *out = d.ipart + (!incl || d.frac ? 1 : 0);
        return 1;
    }
    if (d.neg || (d.zero && !incl))
        return 0;
    if (d.over) {
        *out = UINT64_MAX;
        return 1;
    }
    /* a fraction: the integer part is below it either way */
    *out = d.zero ? 0 : d.ipart - (!incl && !d.frac ? 1 : 0);
    return 1;
}

void store_ulong_enc(uint64_t v, unsigned char out[8])
{
    store_util_put_be64(out, v);
}
