/* store_router — maps a method and raw URL path to a verstore endpoint, and Elasticsearch's index-name rules. */
#include "versync/store/store_router.h"

#include "versync/common/buf.h"
#include "versync/store/store_json.h"
#include "versync/store/store_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 5

unsigned store_router_method(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return STORE_M_GET;
    if (strcmp(m, "HEAD") == 0)
        return STORE_M_HEAD;
    if (strcmp(m, "POST") == 0)
        return STORE_M_POST;
    if (strcmp(m, "PUT") == 0)
        return STORE_M_PUT;
    if (strcmp(m, "DELETE") == 0)
        return STORE_M_DELETE;
    return 0;
}

void store_router_free(store_match *m)
{
    free(m->index);
    free(m->type);
    free(m->id);
    free(m->alias);
    m->index = m->type = m->id = m->alias = NULL;
}

/* One pattern segment: a literal, or a capture into one of the match's fields. */
typedef enum seg_kind { SEG_LITERAL, SEG_NAME, SEG_EXPR, SEG_ANY } seg_kind;
typedef enum seg_field { F_NONE, F_INDEX, F_TYPE, F_ID, F_ALIAS } seg_field;

typedef struct pat_seg {
    seg_kind kind;
    seg_field field;
    const char *text; /* literal: its bytes (not NUL-terminated) */
    size_t len;
} pat_seg;

static seg_field field_of(const char *s, size_t n)
{
    static const struct { const char *name; seg_field f; } fields[] = {
        {"index", F_INDEX}, {"type", F_TYPE}, {"id", F_ID}, {"alias", F_ALIAS},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i].name) == n && memcmp(fields[i].name, s, n) == 0)
            return fields[i].f;
    return F_NONE;
}

/* Split a table pattern into its segments. The table is static and checked
 * by the unit tests (every pattern parses), so a bad one here is a
 * programming error: it matches nothing. */
static int parse_pattern(const char *pat, pat_seg *out, int max)
{
    int n = 0;
    for (const char *p = pat; *p;) {
        if (*p == '/') {
            p++;
            continue;
        }
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max)
            return -1;
        pat_seg *sg = &out[n++];
        if (p[0] == '{' && len > 2 && p[len - 1] == '}') {
            const char *colon = memchr(p, ':', len);
            size_t flen = colon ? (size_t)(colon - p - 1) : len - 2;
            sg->field = field_of(p + 1, flen);
            sg->kind = SEG_NAME;
            if (colon) {
                size_t clen = (size_t)(p + len - 1 - colon - 1);
                if (clen == 4 && memcmp(colon + 1, "expr", 4) == 0)
                    sg->kind = SEG_EXPR;
                else if (clen == 3 && memcmp(colon + 1, "any", 3) == 0)
                    sg->kind = SEG_ANY;
                else
                    return -1;
            }
            if (sg->field == F_NONE)
                return -1;
        } else {
            sg->kind = SEG_LITERAL;
            sg->field = F_NONE;
        }
        sg->text = p;
        sg->len = len;
        p += len;
    }
    return n;
}

static bool seg_matches(const pat_seg *sg, const char *seg, size_t seglen)
{
    switch (sg->kind) {
    case SEG_LITERAL: return sg->len == seglen && memcmp(sg->text, seg, seglen) == 0;
    case SEG_NAME: return seg[0] != '_';
    case SEG_EXPR: return seg[0] != '_' || strcmp(seg, "_all") == 0;
    case SEG_ANY: return true;
    }
    return false;
}

/* The route table's patterns, parsed once (the table is static): matching a
 * request then compares segments without re-reading pattern strings. */
typedef struct compiled_route {
    int n; /* segments, -1: the pattern does not parse (matches nothing) */
    pat_seg seg[MAX_SEGS];
} compiled_route;

static compiled_route *compiled;
static pthread_once_t compiled_once = PTHREAD_ONCE_INIT;

static void compile_routes(void)
{
    compiled_route *c = calloc(store_routes_n, sizeof *c);
    for (size_t r = 0; c && r < store_routes_n; r++)
        c[r].n = parse_pattern(store_routes[r].pattern, c[r].seg, MAX_SEGS);
    compiled = c;
}

/* The first route whose pattern matches the `n` segments, or NULL;
 * `which[i]` gets the field segment i is captured into. */
static const store_route_def *find_route(char **seg, const size_t *seglen, int n, seg_field *which)
{
    pthread_once(&compiled_once, compile_routes);
    for (size_t r = 0; r < store_routes_n; r++) {
        pat_seg local[MAX_SEGS];
        const pat_seg *ps = local;
        int np;
        if (compiled) { /* NULL only when out of memory at the first request: parse as we go */
            np = compiled[r].n;
            ps = compiled[r].seg;
        } else {
            np = parse_pattern(store_routes[r].pattern, local, MAX_SEGS);
        }
        if (np != n)
            continue;
        bool hit = true;
        for (int i = 0; hit && i < n; i++)
            hit = seg_matches(&ps[i], seg[i], seglen[i]);
        if (!hit)
            continue;
        for (int i = 0; i < n; i++)
            which[i] = ps[i].field;
        return &store_routes[r];
    }
    return NULL;
}

bool store_router_pattern_ok(const char *pattern)
{
    pat_seg ps[MAX_SEGS];
    return parse_pattern(pattern, ps, MAX_SEGS) >= 0;
}

bool store_router_match(const char *method, const char *path, store_match *out)
{
    memset(out, 0, sizeof *out);
    out->method = store_router_method(method);
    char *seg[MAX_SEGS] = {0};
    size_t seglen[MAX_SEGS] = {0};
    int n = 0;
    bool ok = true;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == MAX_SEGS)
            goto done; /* longer than any route: none */
        buf b = BUF_INIT;
        if (!store_util_url_decode(p, len, false, &b) || !buf_reserve(&b, 1)) {
            buf_free(&b);
            ok = false;
            goto done;
        }
        seglen[n] = b.len;
        seg[n++] = buf_steal(&b);
        p += len;
    }
    seg_field which[MAX_SEGS] = {0};
    const store_route_def *def = find_route(seg, seglen, n, which);
    if (!def)
        goto done;
    out->def = def;
    out->route = def->route;
    for (int r = 0; r < STORE_ROUTE_MAX_METHODS && def->rows[r].methods; r++) {
        out->allowed |= def->rows[r].methods;
        if (!out->row && (def->rows[r].methods & out->method))
            out->row = &def->rows[r];
    }
    /* Names are C strings: an encoded NUL cannot be part of one (ids may hold any byte). */
    for (int i = 0; i < n; i++)
        if (which[i] != F_NONE && which[i] != F_ID && strlen(seg[i]) != seglen[i]) {
            ok = false;
            goto done;
        }
    for (int i = 0; i < n; i++) {
        char **slot = which[i] == F_INDEX ? &out->index : which[i] == F_TYPE ? &out->type
                    : which[i] == F_ID    ? &out->id    : which[i] == F_ALIAS ? &out->alias : NULL;
        if (!slot)
            continue;
        if (which[i] == F_ID)
            out->id_len = seglen[i];
        *slot = seg[i];
        seg[i] = NULL;
    }
done:
    for (int i = 0; i < n; i++)
        free(seg[i]);
    if (!ok)
        store_router_free(out);
    return ok;
}

store_metrics_ep store_router_endpoint(const store_match *m)
{
    if (!m->def)
        return STORE_EP_OTHER;
    return m->row ? m->row->endpoint : m->def->rows[0].endpoint;
}

void store_router_allowed_text(unsigned allowed, char *out, size_t outsz)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {STORE_M_GET, "GET"}, {STORE_M_HEAD, "HEAD"}, {STORE_M_POST, "POST"},
        {STORE_M_PUT, "PUT"}, {STORE_M_DELETE, "DELETE"},
    };
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (allowed & names[i].bit) {
            int w = snprintf(out + o, outsz - o, "%s%s", o ? ", " : "", names[i].name);
            if (w < 0 || (size_t)w >= outsz - o)
                break;
            o += (size_t)w;
        }
}

bool store_router_valid_index(const char *name, buf *reason)
{
    /* Same checks in the same order as MetadataCreateIndexService. */
    size_t n = strlen(name);
    const char *why = NULL;
    char toolong[64];
    if (n == 0)
        why = "must not be empty";
    for (size_t i = 0; !why && i < n; i++)
        if (strchr("\\/*?\"<>| ,", name[i]))
            why = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]";
    /* A NUL from a JSON body arrives as U+10FFFF (store_json_mark_nul). */
    if (!why && strstr(name, STORE_JSON_NUL_MARK))
        why = "must not contain a NUL character";
    if (!why && strchr(name, '#'))
        why = "must not contain '#'";
    if (!why && strchr(name, ':'))
        why = "must not contain ':'";
    if (!why && (name[0] == '_' || name[0] == '-' || name[0] == '+'))
        why = "must not start with '_', '-', or '+'";
    if (!why && n > 255) {
        snprintf(toolong, sizeof toolong, "index name is too long, (%zu > 255)", n);
        why = toolong;
    }
    if (!why && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
        why = "must not be '.' or '..'";
    for (size_t i = 0; !why && i < n; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            why = "must be lowercase";
    if (!why)
        return true;
    buf_puts(reason, "Invalid index name [");
    buf_puts(reason, name);
    buf_puts(reason, "], ");
    buf_puts(reason, why);
    return false;
}
