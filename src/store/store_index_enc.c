/* store_index_enc — how each field type's value becomes sortable key bytes (longs, doubles, half floats) and
 * how dates are read and printed; the parts of store_index.h under "value encodings". */
#include "versync/store/store_index.h"
#include "versync/store/store_index_int.h"

#include "versync/store/store_json.h"
#include "versync/store/store_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- encodings ------------------------------------------------------------ */

void store_index_enc_long(int64_t v, unsigned char out[STORE_VAL_NUM_LEN])
{
    store_util_put_be64(out, (uint64_t)v ^ (1ULL << 63));
}

int64_t store_index_dec_long(const unsigned char in[STORE_VAL_NUM_LEN])
{
    return (int64_t)(store_util_get_be64(in) ^ (1ULL << 63));
}

void store_index_enc_double(double v, unsigned char out[STORE_VAL_NUM_LEN])
{
    if (v == 0)
        v = 0.0; /* -0.0 and 0.0 are one value */
    uint64_t u;
    memcpy(&u, &v, 8);
    u = (u >> 63) ? ~u : u ^ (1ULL << 63);
    store_util_put_be64(out, u);
}

double store_index_dec_double(const unsigned char in[STORE_VAL_NUM_LEN])
{
    uint64_t u = store_util_get_be64(in);
    u = (u >> 63) ? u ^ (1ULL << 63) : ~u;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return n > 0;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

bool store_index_parse_iso(const char *s, size_t n, bool full_date, int64_t *ms)
{
    int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac = 0;
    size_t i = 4;
    if (n < 4 || !digits(s, 4, &y))
        return false;
    if (i < n) {
        if (s[i] != '-' || n < i + 3 || !digits(s + i + 1, 2, &mo))
            return false;
        i += 3;
        if (i < n) {
            if (s[i] != '-' || n < i + 3 || !digits(s + i + 1, 2, &d))
                return false;
            i += 3;
        } else if (full_date) {
            return false;
        }
    } else if (full_date) {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    int off_min = 0;
    if (i < n) {
        if (s[i] != 'T' || n < i + 3 || !digits(s + i + 1, 2, &h))
            return false;
        i += 3;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || !digits(s + i + 1, 2, &mi))
                return false;
            i += 3;
            if (i < n && s[i] == ':') {
                if (n < i + 3 || !digits(s + i + 1, 2, &sec))
                    return false;
                i += 3;
                if (i < n && (s[i] == '.' || s[i] == ',')) {
                    size_t k = ++i;
                    int scale = 100;
                    while (i < n && s[i] >= '0' && s[i] <= '9') {
                        if (scale) {
                            frac += (s[i] - '0') * scale;
                            scale /= 10;
                        }
                        i++;
                    }
                    if (i == k || i - k > 9)
                        return false;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return false;
        if (i < n) {
            if (s[i] == 'Z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int oh, om = 0;
                int sign = s[i] == '-' ? -1 : 1;
                if (n < i + 3 || !digits(s + i + 1, 2, &oh))
                    return false;
                i += 3;
                if (i < n && s[i] == ':')
                    i++;
                if (i < n) {
                    if (n < i + 2 || !digits(s + i, 2, &om))
                        return false;
                    i += 2;
                }
                if (oh > 18 || om > 59)
                    return false;
                off_min = sign * (oh * 60 + om);
            } else {
                return false;
            }
        }
    }
    if (i != n)
        return false;
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 24 + h) * 60 + mi - off_min) * 60000LL + sec * 1000LL + frac;
    return true;
}

double store_index_half_float(double d)
{
    /* round to float, then to the nearest half (11 significant bits, ties to
     * even), as Lucene's HalfFloatPoint keeps a half_float */
    float f = (float)d;
    if (!isfinite(f))
        return f;
    float a = fabsf(f);
    if (a >= 65520.0f) /* rounds past the largest half, 65504 */
        return f > 0 ? INFINITY : -INFINITY;
    int e;
    frexpf(a, &e); /* a = m * 2^e, 0.5 <= m < 1 */
    if (e < -13)   /* subnormal halves: a fixed step of 2^-24 */
        e = -13;
    float step = ldexpf(1.0f, e - 11);
    float r = nearbyintf(a / step) * step; /* the default rounding mode: ties to even */
    return f < 0 ? -r : r;
}

bool store_index_parse_date(const char *s, size_t n, int64_t *ms)
{
    if (n > 0 && n <= 19) {
        size_t i = s[0] == '-' ? 1 : 0;
        bool all = i < n;
        for (size_t k = i; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                all = false;
        if (all && n - i != 4 && json_parse_long(s, n, ms))
            return true; /* epoch_millis; four digits read as a year, as strict_date_optional_time comes first */
    }
    return store_index_parse_iso(s, n, false, ms);
}

void store_index_format_date(int64_t ms, char *out, size_t outsz)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outsz, "%" PRId64, ms);
        return;
    }
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
}
