/* json — allocation-free JSON scanning and exact integers, for both programs. */
#include "versync/common/json.h"

#include "versync/common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* True when one of the 8 bytes in `v` needs a closer look: a quote, a
 * backslash, a control character or a byte >= 0x80 (SWAR, no branches). */
static inline bool special8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t zq = (q - ones) & ~q, zb = (b - ones) & ~b, lt = (v - ones * 0x20) & ~v;
    return ((zq | zb | lt) & highs) | (v & highs);
}

/* p points just past the opening quote; returns the byte after the closing quote. */
static const char *scan_string(const char *p, const char *end, bool *escaped)
{
    *escaped = false;
    while (p < end) {
        /* Most string bytes are plain ASCII: skip them eight at a time. */
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (special8(v))
                break;
            p += 8;
        }
        if (p >= end)
            break;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            *escaped = true;
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p++;
                break;
            case 'u': {
                unsigned cp;
                if (!hex4(p + 1, end, &cp))
                    return NULL;
                p += 5;
                /* Surrogates must come in pairs: a lone one is no character
                 * (cJSON, used later on the same text, refuses it too). */
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return NULL;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) || lo < 0xdc00 ||
                        lo > 0xdfff)
                        return NULL;
                    p += 6;
                }
                break;
            }
            default:
                return NULL;
            }
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n = utf8_seq_len((const unsigned char *)p, (size_t)(end - p));
        if (!n)
            return NULL;
        p += n;
    }
    return NULL;
}

static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *scan_lit(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
        return NULL;
    return p + n;
}

static const char *scan_value(const char *p, const char *end, int depth, json_tok *tok);

static const char *scan_container(const char *p, const char *end, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    p = json_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            bool esc;
            if (p >= end || *p != '"' || !(p = scan_string(p + 1, end, &esc)))
                return NULL;
            p = json_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = json_ws(p + 1, end);
        }
        if (!(p = scan_value(p, end, depth + 1, NULL)))
            return NULL;
        p = json_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = json_ws(p + 1, end);
    }
}

static const char *scan_value(const char *p, const char *end, int depth, json_tok *tok)
{
    if (p >= end || depth > JSON_MAX_DEPTH)
        return NULL;
    const char *start = p, *q;
    json_type type;
    bool esc = false;
    switch (*p) {
    case '{':
        type = JSON_OBJECT;
        q = scan_container(p, end, depth, true);
        break;
    case '[':
        type = JSON_ARRAY;
        q = scan_container(p, end, depth, false);
        break;
    case '"':
        type = JSON_STRING;
        q = scan_string(p + 1, end, &esc);
        break;
    case 't':
        type = JSON_TRUE;
        q = scan_lit(p, end, "true");
        break;
    case 'f':
        type = JSON_FALSE;
        q = scan_lit(p, end, "false");
        break;
    case 'n':
        type = JSON_NULL;
        q = scan_lit(p, end, "null");
        break;
    default:
        type = JSON_NUMBER;
        q = scan_number(p, end);
        break;
    }
    if (q && tok) {
        tok->type = type;
        tok->escaped = esc;
        if (type == JSON_STRING) {
            tok->p = start + 1;
            tok->n = (size_t)(q - start - 2);
        } else {
            tok->p = start;
            tok->n = (size_t)(q - start);
        }
    }
    return q;
}

const char *json_scan(const char *p, const char *end, json_tok *tok)
{
    return scan_value(p, end, 1, tok);
}

bool json_is_valid(const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = json_ws(s, end);
    if (!(p = scan_value(p, end, 1, NULL)))
        return false;
    return json_ws(p, end) == end;
}

bool json_is_object(const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = json_ws(s, end);
    if (p >= end || *p != '{')
        return false;
    return json_is_valid(p, (size_t)(end - p));
}

static bool iter_begin(json_iter *it, const char *s, const char *end, char open)
{
    const char *p = json_ws(s, end);
    if (p >= end || *p != open)
        return false;
    it->p = p + 1;
    it->end = end;
    it->first = true;
    return true;
}

/* Move to the next member or element: 1 with *at on it, 0 at `close` (it->p then past it), -1 on
 * a syntax error. */
static int iter_step(json_iter *it, char close, const char **at)
{
    const char *p = json_ws(it->p, it->end), *end = it->end;
    if (p < end && *p == close) {
        it->p = p + 1;
        return 0;
    }
    if (!it->first) {
        if (p >= end || *p != ',')
            return -1;
        p = json_ws(p + 1, end);
    }
    it->first = false;
    *at = p;
    return 1;
}

bool json_obj_begin(json_iter *it, const char *s, const char *end) { return iter_begin(it, s, end, '{'); }

int json_obj_key(json_iter *it, json_tok *key, const char **at)
{
    const char *p, *end = it->end;
    int r = iter_step(it, '}', &p);
    if (r <= 0)
        return r;
    if (p >= end || *p != '"' || !(p = scan_value(p, end, 2, key)))
        return -1;
    p = json_ws(p, end);
    if (p >= end || *p != ':')
        return -1;
    *at = json_ws(p + 1, end);
    return 1;
}

/* The end of a step that reads its value: r is the step's result, p the value's first byte. */
static int step_value(json_iter *it, int r, const char *p, json_tok *val)
{
    if (r <= 0)
        return r;
    if (!(p = scan_value(p, it->end, 2, val)))
        return -1;
    it->p = p;
    return 1;
}

int json_obj_next(json_iter *it, json_tok *key, json_tok *val)
{
    const char *p = NULL;
    int r = json_obj_key(it, key, &p);
    return step_value(it, r, p, val);
}

bool json_arr_begin(json_iter *it, const char *s, const char *end) { return iter_begin(it, s, end, '['); }

int json_arr_at(json_iter *it, const char **at) { return iter_step(it, ']', at); }

int json_arr_next(json_iter *it, json_tok *val)
{
    const char *p = NULL;
    int r = iter_step(it, ']', &p);
    return step_value(it, r, p, val);
}

bool json_unescape(const json_tok *t, buf *out)
{
    const char *p = t->p, *end = t->p + t->n;
    if (!t->escaped)
        return buf_append(out, p, t->n);
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs)
            return buf_append(out, p, (size_t)(end - p));
        if (!buf_append(out, p, (size_t)(bs - p)) || bs + 1 >= end)
            return false;
        p = bs + 2;
        char c;
        switch (bs[1]) {
        case '"':
            c = '"';
            break;
        case '\\':
            c = '\\';
            break;
        case '/':
            c = '/';
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            if (end - bs < 6)
                return false;
            unsigned cp = 0;
            for (int i = 2; i < 6; i++)
                cp = cp << 4 | (unsigned)hexval(bs[i]);
            p = bs + 6;
            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = 0;
                for (int i = 2; i < 6; i++)
                    lo = lo << 4 | (unsigned)hexval(p[i]);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate cannot be UTF-8 */
            char u[4];
            size_t n;
            if (cp < 0x80)
                u[0] = (char)cp, n = 1;
            else if (cp < 0x800)
                u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
            else if (cp < 0x10000)
                u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
            else
                u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
            if (!buf_append(out, u, n))
                return false;
            continue;
        }
        default:
            return false;
        }
        if (!buf_putc(out, c))
            return false;
    }
    return true;
}

bool json_tok_eq(const json_tok *t, const char *s)
{
    if (t->type != JSON_STRING)
        return false;
    size_t n = strlen(s);
    if (!t->escaped)
        return t->n == n && memcmp(t->p, s, n) == 0;
    buf b = BUF_INIT;
    bool eq = json_unescape(t, &b) && b.len == n && memcmp(b.data, s, n) == 0;
    buf_free(&b);
    return eq;
}

bool json_parse_long(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (n == 1)
            return false;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}
