/* buf — a growable byte buffer with a hard size cap. */
#include "versync/common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation-failure injection for the unit tests: a test binary that
 * defines buf_test_realloc gets every buffer (re)allocation routed through
 * it. No program defines it, so there it is NULL and realloc is called. */
extern void *buf_test_realloc(void *p, size_t n) __attribute__((weak));

static _Thread_local unsigned long alloc_failures;

unsigned long buf_alloc_failures(void) { return alloc_failures; }

static bool alloc_failed(buf *b)
{
    b->failed = true;
    alloc_failures++;
    return false;
}

void buf_init(buf *b, size_t max)
{
    *b = (buf)BUF_INIT;
    b->max = max;
}

bool buf_reserve(buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return alloc_failed(b);
    size_t need = b->len + extra;
    if (b->max && need > b->max) {
        b->overflow = true;
        return false;
    }
    if (need + 1 <= b->cap)
        return true;
    /* Doubling keeps appends amortised O(1); the +1 is the trailing NUL. */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    char *p = buf_test_realloc ? buf_test_realloc(b->data, cap) : realloc(b->data, cap);
    if (!p)
        return alloc_failed(b);
    b->data = p;
    b->cap = cap;
    return true;
}

bool buf_append(buf *b, const void *data, size_t n)
{
    if (!buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

bool buf_putc(buf *b, char c) { return buf_append(b, &c, 1); }

bool buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

bool buf_put_json_string(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    bool ok = buf_putc(b, '"');
    size_t run = 0; /* bytes copied verbatim are batched into one append */
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
                u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
                esc = u;
            }
        }
        if (!esc) {
            run++;
            continue;
        }
        ok = buf_append(b, s + i - run, run) && buf_puts(b, esc);
        run = 0;
    }
    ok = ok && buf_append(b, s + n - run, run) && buf_putc(b, '"');
    if (!ok && b->data) { /* all or nothing */
        b->len = start;
        b->data[start] = '\0';
    }
    return ok;
}

bool buf_read_stream(buf *b, FILE *f)
{
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!buf_append(b, chunk, n))
            return false;
    return !ferror(f);
}

void buf_reset(buf *b)
{
    b->len = 0;
    b->overflow = false;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

char *buf_steal(buf *b)
{
    char *p = b->data;
    if (!p && !(p = calloc(1, 1)))
        alloc_failures++;
    size_t max = b->max;
    buf_init(b, max);
    return p;
}

void buf_free(buf *b)
{
    if (!b)
        return;
    free(b->data);
    size_t max = b->max;
    buf_init(b, max);
}
