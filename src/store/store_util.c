/* store_util — verstore's small helpers: clock, random UUIDs, auto-generated ids, URL coding, time values. */
#include "versync/store/store_util.h"

#include "versync/common/grow.h"
#include "versync/common/scan.h"
#include "versync/common/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static bool url_decode_raw(const char *s, size_t n, bool plus_is_space, buf *out);

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int64_t store_util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void random_bytes(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* No entropy source: fall back to clock-seeded bytes, still unique enough for names. */
            unsigned s = (unsigned)store_util_now_ms() ^ (unsigned)clock();
            for (; got < n; got++)
                p[got] = (unsigned char)(rand_r(&s) >> 7);
            return;
        }
        got += (size_t)r;
    }
}

/* Encode `n` bytes (a multiple of 3) without padding. */
static void encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

void store_util_uuid(char out[23])
{
    unsigned char r[18];
    random_bytes(r, sizeof r);
    char tmp[25];
    encode(r, sizeof r, tmp);
    memcpy(out, tmp, 22);
    out[22] = '\0';
}

void store_util_auto_id(char out[21])
{
    /* 8 bytes of a counter that starts at the current time in microseconds
     * (so ids of a later run sort after this one's), then 7 random bytes
     * drawn once per process. */
    static atomic_uint_fast64_t counter;
    static unsigned char node[7];
    static atomic_int inited;
    if (!atomic_load(&inited)) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&inited, &expected, 1)) {
            random_bytes(node, sizeof node);
            uint64_t start = (uint64_t)store_util_now_ms() * 1000;
            uint64_t zero = 0;
            atomic_compare_exchange_strong(&counter, &zero, start);
            atomic_store(&inited, 2);
        }
        while (atomic_load(&inited) != 2)
            ;
    }
    uint64_t c = atomic_fetch_add(&counter, 1);
    unsigned char b[15];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(c >> (56 - 8 * i));
    memcpy(b + 8, node, 7);
    encode(b, sizeof b, out);
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool store_util_vappend(buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1))
        return false;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return true;
}

bool store_util_utf8_sanitize(const char *s, size_t n, buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k) {
            i += k;
            run += k;
            continue;
        }
        if (!buf_append(out, s + i - run, run) || !buf_append(out, "\xef\xbf\xbd", 3))
            return false;
        run = 0;
        i++;
    }
    return buf_append(out, s + n - run, run);
}

bool store_util_url_decode(const char *s, size_t n, bool plus_is_space, buf *out)
{
    buf raw = BUF_INIT;
    bool ok = url_decode_raw(s, n, plus_is_space, &raw) && store_util_utf8_sanitize(raw.data ? raw.data : "", raw.len, out);
    buf_free(&raw);
    return ok;
}

static bool url_decode_raw(const char *s, size_t n, bool plus_is_space, buf *out)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] != '%' && !(plus_is_space && s[run] == '+'))
            run++;
        if (!buf_append(out, s + i, run - i))
            return false;
        i = run;
        if (i >= n)
            break;
        if (s[i] == '+') {
            if (!buf_putc(out, ' '))
                return false;
            i++;
            continue;
        }
        if (i + 2 >= n)
            return false;
        int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
        if (h < 0 || l < 0)
            return false;
        if (!buf_putc(out, (char)(h << 4 | l)))
            return false;
        i += 3;
    }
    return true;
}

bool store_util_url_encode(const char *s, size_t n, buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        if (plain ? !buf_putc(out, (char)c)
                  : !(buf_putc(out, '%') && buf_putc(out, hex[c >> 4]) && buf_putc(out, hex[c & 15])))
            return false;
    }
    return true;
}

bool store_util_parse_time_ms(const char *s, int64_t *out) { return scan_duration_ms(s, 0, out); }

bool store_util_parse_bytes(const char *s, uint64_t *out) { return scan_bytes(s, SCAN_BARE, out); }

/* Lucene's LevenshteinDistance.getDistance: 1 - edits / longer length. */
float store_util_similarity(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n == 0 || m == 0)
        return n == m ? 1.0f : 0.0f;
    if (n > 64 || m > 64)
        return 0.0f;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (m + 1) * sizeof prev[0]);
    }
    return 1.0f - (float)prev[m] / (float)(n > m ? n : m);
}

bool store_util_glob(const char *pat, size_t plen, const char *s, size_t n)
{
    size_t p = 0, i = 0, star = SIZE_MAX, mark = 0;
    while (i < n) {
        if (p < plen && pat[p] == '*') {
            star = p++; /* remember the star; first let it match nothing */
            mark = i;
        } else if (p < plen && pat[p] == s[i]) {
            p++, i++;
        } else if (star != SIZE_MAX) {
            p = star + 1; /* let the last star eat one more byte */
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

void store_util_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint64_t store_util_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

bool store_util_htab_fit(size_t **h, size_t *hcap, size_t have, size_t first,
                         uint64_t (*hash_of)(size_t i, const void *arg), const void *arg)
{
    if ((have + 1) * 2 <= *hcap)
        return true;
    size_t nc = *hcap ? grow_mul(*hcap, 2) : first; /* SIZE_MAX on overflow: calloc refuses it */
    size_t *nh = calloc(nc, sizeof *nh);
    if (!nh)
        return false;
    for (size_t i = 0; i < have; i++) {
        size_t s = hash_of(i, arg) & (nc - 1);
        while (nh[s])
            s = (s + 1) & (nc - 1);
        nh[s] = i + 1;
    }
    free(*h);
    *h = nh;
    *hcap = nc;
    return true;
}
