/* store_json — allocation-free JSON scanning, exact integers and small helpers for verstore. */
#include "versync/store/store_json.h"
#include "versync/common/utf8.h"

#include "versync/store/store_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_json_ws(const char *p, const char *end)
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

static const char *scan_value(const char *p, const char *end, int depth, store_json_tok *tok);

static const char *scan_container(const char *p, const char *end, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    p = store_json_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            bool esc;
            if (p >= end || *p != '"' || !(p = scan_string(p + 1, end, &esc)))
                return NULL;
            p = store_json_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = store_json_ws(p + 1, end);
        }
        if (!(p = scan_value(p, end, depth + 1, NULL)))
            return NULL;
        p = store_json_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = store_json_ws(p + 1, end);
    }
}

static const char *scan_value(const char *p, const char *end, int depth, store_json_tok *tok)
{
    if (p >= end || depth > STORE_JSON_MAX_DEPTH)
        return NULL;
    const char *start = p, *q;
    store_json_type type;
    bool esc = false;
    switch (*p) {
    case '{':
        type = STORE_JSON_OBJECT;
        q = scan_container(p, end, depth, true);
        break;
    case '[':
        type = STORE_JSON_ARRAY;
        q = scan_container(p, end, depth, false);
        break;
    case '"':
        type = STORE_JSON_STRING;
        q = scan_string(p + 1, end, &esc);
        break;
    case 't':
        type = STORE_JSON_TRUE;
        q = scan_lit(p, end, "true");
        break;
    case 'f':
        type = STORE_JSON_FALSE;
        q = scan_lit(p, end, "false");
        break;
    case 'n':
        type = STORE_JSON_NULL;
        q = scan_lit(p, end, "null");
        break;
    default:
        type = STORE_JSON_NUMBER;
        q = scan_number(p, end);
        break;
    }
    if (q && tok) {
        tok->type = type;
        tok->escaped = esc;
        if (type == STORE_JSON_STRING) {
            tok->p = start + 1;
            tok->n = (size_t)(q - start - 2);
        } else {
            tok->p = start;
            tok->n = (size_t)(q - start);
        }
    }
    return q;
}

const char *store_json_scan(const char *p, const char *end, store_json_tok *tok)
{
    return scan_value(p, end, 1, tok);
}

bool store_json_is_valid(const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = store_json_ws(s, end);
    if (!(p = scan_value(p, end, 1, NULL)))
        return false;
    return store_json_ws(p, end) == end;
}

bool store_json_is_object(const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = store_json_ws(s, end);
    if (p >= end || *p != '{')
        return false;
    return store_json_is_valid(p, (size_t)(end - p));
}

bool store_json_obj_begin(store_json_iter *it, const char *s, const char *end)
{
    const char *p = store_json_ws(s, end);
    if (p >= end || *p != '{')
        return false;
    it->p = p + 1;
    it->end = end;
    it->first = true;
    return true;
}

int store_json_obj_next(store_json_iter *it, store_json_tok *key, store_json_tok *val)
{
    const char *p = store_json_ws(it->p, it->end), *end = it->end;
    if (p < end && *p == '}') {
        it->p = p + 1;
        return 0;
    }
    if (!it->first) {
        if (p >= end || *p != ',')
            return -1;
        p = store_json_ws(p + 1, end);
    }
    it->first = false;
    if (p >= end || *p != '"' || !(p = scan_value(p, end, 2, key)))
        return -1;
    p = store_json_ws(p, end);
    if (p >= end || *p != ':')
        return -1;
    p = store_json_ws(p + 1, end);
    if (!(p = scan_value(p, end, 2, val)))
        return -1;
    it->p = p;
    return 1;
}

bool store_json_unescape(const store_json_tok *t, buf *out)
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

bool store_json_tok_eq(const store_json_tok *t, const char *s)
{
    if (t->type != STORE_JSON_STRING)
        return false;
    size_t n = strlen(s);
    if (!t->escaped)
        return t->n == n && memcmp(t->p, s, n) == 0;
    buf b = BUF_INIT;
    bool eq = store_json_unescape(t, &b) && b.len == n && memcmp(b.data, s, n) == 0;
    buf_free(&b);
    return eq;
}

bool store_json_parse_long(const char *s, size_t n, int64_t *out)
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

bool store_json_key(buf *b, const char *key)
{
    return buf_putc(b, '"') && buf_puts(b, key) && buf_append(b, "\":", 2);
}

static bool indent(buf *out, int level)
{
    if (!buf_putc(out, '\n'))
        return false;
    for (int i = 0; i < level; i++)
        if (!buf_append(out, "  ", 2))
            return false;
    return true;
}

bool store_json_pretty(const char *in, size_t n, buf *out)
{
    int level = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        char c = in[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && in[j] != '"')
                j += in[j] == '\\' ? 2 : 1;
            if (j >= n)
                j = n - 1;
            ok = buf_append(out, in + i, j - i + 1);
            i = j;
        } else if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            size_t j = i + 1;
            while (j < n && (in[j] == ' ' || in[j] == '\n'))
                j++;
            if (j < n && in[j] == close) { /* empty container stays on one line */
                ok = buf_putc(out, c) && buf_putc(out, ' ') && buf_putc(out, close);
                i = j;
            } else {
                ok = buf_putc(out, c) && indent(out, ++level);
            }
        } else if (c == '}' || c == ']') {
            ok = indent(out, level > 0 ? --level : 0) && buf_putc(out, c);
        } else if (c == ',') {
            ok = buf_putc(out, ',') && indent(out, level);
        } else if (c == ':') {
            ok = buf_append(out, " : ", 3);
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            ok = buf_putc(out, c);
        }
    }
    return ok && buf_putc(out, '\n');
}

/* ---- filter_path ---------------------------------------------------------------- */

#define FP_MAX_PATTERNS 16
#define FP_MAX_SEGS 16

typedef struct fp_pattern {
    char *segs[FP_MAX_SEGS];
    int n;
} fp_pattern;

typedef struct fp_state {
    unsigned char pat, pos;
} fp_state;

typedef struct fp_set {
    fp_state s[FP_MAX_PATTERNS * FP_MAX_SEGS];
    int n;
} fp_set;

static bool fp_glob(const char *pat, const char *s, size_t n)
{
    return store_util_glob(pat, strlen(pat), s, n);
}

static void fp_add(fp_set *set, int pat, int pos)
{
    for (int i = 0; i < set->n; i++)
        if (set->s[i].pat == pat && set->s[i].pos == pos)
            return;
    if (set->n < (int)(sizeof set->s / sizeof set->s[0]))
        set->s[set->n++] = (fp_state){(unsigned char)pat, (unsigned char)pos};
}

/* Positions reachable from `pos` without consuming a name ("**" may match nothing). */
static void fp_close(const fp_pattern *pats, fp_set *set)
{
    for (int i = 0; i < set->n; i++) {
        const fp_pattern *p = &pats[set->s[i].pat];
        int pos = set->s[i].pos;
        if (pos < p->n && strcmp(p->segs[pos], "**") == 0)
            fp_add(set, set->s[i].pat, pos + 1);
    }
}

/* States after consuming `key`; *full when some pattern is complete. */
static void fp_step(const fp_pattern *pats, const fp_set *in, const char *key, size_t klen, fp_set *out,
                    bool *full)
{
    out->n = 0;
    *full = false;
    for (int i = 0; i < in->n; i++) {
        const fp_pattern *p = &pats[in->s[i].pat];
        int pos = in->s[i].pos;
        if (pos >= p->n)
            continue;
        if (strcmp(p->segs[pos], "**") == 0)
            fp_add(out, in->s[i].pat, pos); /* ** eats this name too */
        else if (fp_glob(p->segs[pos], key, klen))
            fp_add(out, in->s[i].pat, pos + 1);
    }
    fp_close(pats, out);
    for (int i = 0; i < out->n; i++)
        if (out->s[i].pos >= pats[out->s[i].pat].n)
            *full = true;
}

/* Filter one value (object or array) into `out`; returns false on bad JSON.
 * *wrote says whether anything was kept. */
static bool fp_value(const fp_pattern *pats, const fp_set *set, const char *p, const char *end, buf *out,
                     bool *wrote, int depth)
{
    *wrote = false;
    if (depth > STORE_JSON_MAX_DEPTH)
        return false;
    size_t start = out->len;
    if (*p == '{') {
        store_json_iter it;
        store_json_tok k, v;
        int r;
        buf key = BUF_INIT;
        bool first = true, ok = true;
        store_json_obj_begin(&it, p, end);
        buf_putc(out, '{');
        while (ok && (r = store_json_obj_next(&it, &k, &v)) == 1) {
            buf_reset(&key);
            if (!store_json_unescape(&k, &key) || !buf_putc(&key, '\0')) {
                ok = false;
                break;
            }
            fp_set next;
            bool full;
            fp_step(pats, set, key.data, key.len - 1, &next, &full);
            if (!full && next.n == 0)
                continue;
            size_t mark = out->len;
            if (!first)
                buf_putc(out, ',');
            buf_putc(out, '"');
            buf_append(out, k.p, k.n);
            buf_append(out, "\":", 2);
            bool kept = full;
            if (full) {
                buf_append(out, v.p - (v.type == STORE_JSON_STRING),
                           v.n + (v.type == STORE_JSON_STRING ? 2 : 0));
            } else if (v.type == STORE_JSON_OBJECT || v.type == STORE_JSON_ARRAY) {
                ok = fp_value(pats, &next, v.p, v.p + v.n, out, &kept, depth + 1);
            }
            if (!kept) {
                out->len = mark;
                out->data[mark] = '\0';
            } else {
                first = false;
            }
        }
        buf_free(&key);
        if (!ok || r < 0)
            return false;
        buf_putc(out, '}');
        *wrote = !first;
    } else if (*p == '[') {
        const char *q = store_json_ws(p + 1, end);
        bool first = true;
        buf_putc(out, '[');
        while (q < end && *q != ']') {
            store_json_tok v;
            const char *after = store_json_scan(q, end, &v);
            if (!after)
                return false;
            if (v.type == STORE_JSON_OBJECT || v.type == STORE_JSON_ARRAY) {
                size_t mark = out->len;
                if (!first)
                    buf_putc(out, ',');
                bool kept;
                if (!fp_value(pats, set, v.p, v.p + v.n, out, &kept, depth + 1))
                    return false;
                if (kept)
                    first = false;
                else {
                    out->len = mark;
                    out->data[mark] = '\0';
                }
            }
            q = store_json_ws(after, end);
            if (q < end && *q == ',')
                q = store_json_ws(q + 1, end);
        }
        buf_putc(out, ']');
        *wrote = !first;
    }
    if (!*wrote) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return true;
}

bool store_json_filter(const char *in, size_t n, const char *filter_path, buf *out)
{
    fp_pattern pats[FP_MAX_PATTERNS];
    int np = 0;
    char *copy = strdup(filter_path);
    bool ok = false, exclusions = false;
    if (!copy)
        return false;
    char *outer;
    for (char *tok = strtok_r(copy, ",", &outer); tok && np < FP_MAX_PATTERNS;
         tok = strtok_r(NULL, ",", &outer)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '-')
            exclusions = true;
        if (!*tok)
            continue;
        fp_pattern *p = &pats[np++];
        p->n = 0;
        char *inner;
        for (char *seg = strtok_r(tok, ".", &inner); seg && p->n < FP_MAX_SEGS;
             seg = strtok_r(NULL, ".", &inner))
            p->segs[p->n++] = seg;
        if (p->n == 0)
            np--;
    }
    const char *end = in + n, *p = store_json_ws(in, end);
    if (exclusions || np == 0 || p >= end || (*p != '{' && *p != '[')) {
        ok = buf_append(out, in, n);
        goto done;
    }
    if (!store_json_is_valid(in, n))
        goto done;
    fp_set set = {.n = 0};
    for (int i = 0; i < np; i++)
        fp_add(&set, i, 0);
    fp_close(pats, &set);
    bool wrote;
    size_t start = out->len;
    ok = fp_value(pats, &set, p, end, out, &wrote, 1);
    if (ok && !wrote && out->len == start)
        ok = buf_append(out, "{}", 2);
done:
    free(copy);
    return ok;
}

/* True when the six bytes at p are the escape \u0000. */
static bool nul_escape_at(const char *p, const char *end)
{
    return end - p >= 6 && p[0] == '\\' && p[1] == 'u' && p[2] == '0' && p[3] == '0' && p[4] == '0' &&
           p[5] == '0';
}

bool store_json_mark_nul(const char *s, size_t n, buf *out, bool *found)
{
    const char *end = s + n, *p = s, *copied = s;
    bool in_str = false;
    *found = false;
    while (p < end) {
        char c = *p;
        if (!in_str) {
            in_str = c == '"';
            p++;
            continue;
        }
        if (c == '"') {
            in_str = false;
            p++;
        } else if (c != '\\') {
            p++;
        } else if (nul_escape_at(p, end)) {
            *found = true;
            if (!buf_append(out, copied, (size_t)(p - copied)) || !buf_puts(out, "\\udbff\\udfff"))
                return false;
            p += 6;
            copied = p;
        } else {
            p += 2; /* any other escape: its second byte is never a quote that ends the string */
        }
    }
    if (*found && !buf_append(out, copied, (size_t)(end - copied)))
        return false;
    return true;
}

/* ---- numbers as Java prints them ---- */

void store_json_put_double(buf *b, double d)
{
    if (!isfinite(d)) {
        buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    buf_puts(b, tmp);
    if (!strpbrk(tmp, ".eEn"))
        buf_puts(b, ".0");
}

void store_json_put_float(buf *b, float f)
{
    if (!isfinite(f)) {
        buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    buf_puts(b, tmp);
    if (!strpbrk(tmp, ".eEn"))
        buf_puts(b, ".0");
}
