/* store_json — verstore's JSON helpers beyond scanning (common/json.h): Java's number printing,
 * ?pretty, ?filter_path and the \u0000 guard for cJSON. */
#include "versync/store/store_json.h"
#include "versync/common/utf8.h"

#include "versync/store/store_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (depth > JSON_MAX_DEPTH)
        return false;
    size_t start = out->len;
    if (*p == '{') {
        json_iter it;
        json_tok k, v;
        int r;
        buf key = BUF_INIT;
        bool first = true, ok = true;
        json_obj_begin(&it, p, end);
        buf_putc(out, '{');
        while (ok && (r = json_obj_next(&it, &k, &v)) == 1) {
            buf_reset(&key);
            if (!json_unescape(&k, &key) || !buf_putc(&key, '\0')) {
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
                buf_append(out, v.p - (v.type == JSON_STRING),
                           v.n + (v.type == JSON_STRING ? 2 : 0));
            } else if (v.type == JSON_OBJECT || v.type == JSON_ARRAY) {
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
        const char *q = json_ws(p + 1, end);
        bool first = true;
        buf_putc(out, '[');
        while (q < end && *q != ']') {
            json_tok v;
            const char *after = json_scan(q, end, &v);
            if (!after)
                return false;
            if (v.type == JSON_OBJECT || v.type == JSON_ARRAY) {
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
            q = json_ws(after, end);
            if (q < end && *q == ',')
                q = json_ws(q + 1, end);
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
    const char *end = in + n, *p = json_ws(in, end);
    if (exclusions || np == 0 || p >= end || (*p != '{' && *p != '[')) {
        ok = buf_append(out, in, n);
        goto done;
    }
    if (!json_is_valid(in, n))
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
