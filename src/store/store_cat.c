/* store_cat — the one table renderer of the _cat APIs, as Elasticsearch's RestTable: h, s, help, v, bytes, format. */
#include "versync/store/store_cat.h"

#include "versync/common/grow.h"

#include "versync/store/store_req.h"
#include "versync/store/store_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_TYPE "text/plain; charset=UTF-8"

void store_cat_init(store_cat_table *t, const store_cat_col *cols, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    t->ncols = ncols;
}

store_cat_cell *store_cat_row(store_cat_table *t)
{
    size_t need = grow_mul(t->nrows + 1, t->ncols);
    if (need == SIZE_MAX || !GROW_ARRAY(t->cells, t->cap, need, 16 * t->ncols))
        return NULL;
    store_cat_cell *row = &t->cells[t->nrows * t->ncols];
    memset(row, 0, t->ncols * sizeof *row);
    t->nrows++;
    return row;
}

bool store_cat_str(store_cat_cell *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return false;
    free(c->s);
    c->kind = STORE_CAT_STR;
    c->s = d;
    return true;
}

void store_cat_long(store_cat_cell *c, int64_t n)
{
    c->kind = STORE_CAT_LONG;
    c->n = n;
}

void store_cat_bytes(store_cat_cell *c, int64_t n)
{
    c->kind = STORE_CAT_BYTES;
    c->n = n;
}

void store_cat_free(store_cat_table *t)
{
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        free(t->cells[i].s);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* ---- parameters ----------------------------------------------------------------- */

/* paramAsBoolean: absent → dflt, "" and "true" → true, "false" → false. */
static bool flag(const store_req *req, const char *key, bool dflt, bool *out, store_error *err)
{
    const char *v = store_req_param(req, key);
    *out = dflt;
    if (!v)
        return true;
    if (strcmp(v, "") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0)
        *out = false;
    else
        return store_error_set(err, 400, "illegal_argument_exception",
                               "Failed to parse value [%s] as only [true] or [false] are allowed.", v);
    return true;
}

/* XContentType.fromFormat: json, yaml, smile and cbor are content types;
 * any other value (txt, text, …) leaves the answer text. */
static bool want_json(const store_req *req)
{
    const char *f = store_req_param(req, "format");
    return f && strcasecmp(f, "json") == 0;
}

bool store_cat_check(const store_req *req, store_error *err)
{
    bool b;
    static const char *const bools[] = {"v", "help", "ts", "pri"};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (!flag(req, bools[i], false, &b, err))
            return false;
    const char *f = store_req_param(req, "format");
    /* verstore writes JSON and text only: a binary or YAML table is refused
     * rather than answered in a format the client did not ask for. */
    if (f && (strcasecmp(f, "yaml") == 0 || strcasecmp(f, "smile") == 0 || strcasecmp(f, "cbor") == 0))
        return store_error_set(err, 400, "illegal_argument_exception",
                               "verstore answers _cat as [json] or text, not as [%s]", f);
    return true;
}

bool store_cat_help_wanted(const store_req *req)
{
    const char *v = store_req_param(req, "help");
    return v && (strcmp(v, "") == 0 || strcmp(v, "true") == 0);
}

/* ---- values ----------------------------------------------------------------------- */

void store_cat_human_bytes(int64_t bytes, char *out, size_t n)
{
    static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
    uint64_t v = bytes < 0 ? 0 : (uint64_t)bytes;
    int u = 0;
    while (u < 5 && v >= (1ULL << (10 * (u + 1))))
        u++;
    uint64_t whole = v >> (10 * u), rest = v & ((1ULL << (10 * u)) - 1);
    /* format1Decimals: the first decimal, truncated; none when it is 0.
     * rest < 2^50, so rest·10 cannot overflow. */
    unsigned dec = (unsigned)((rest * 10) >> (10 * u));
    if (dec)
        snprintf(out, n, "%" PRIu64 ".%u%s", whole, dec, units[u]);
    else
        snprintf(out, n, "%" PRIu64 "%s", whole, units[u]);
}

/* renderValue: the cell's text in `out`, or NULL for a null cell. */
static const char *render(const store_cat_cell *c, const char *bytes_unit, char *out, size_t n)
{
    switch (c->kind) {
    case STORE_CAT_NULL: return NULL;
    case STORE_CAT_STR: return c->s;
    case STORE_CAT_LONG: snprintf(out, n, "%" PRId64, c->n); return out;
    case STORE_CAT_BYTES: break;
    }
    static const char *const units[] = {"b", "k", "kb", "m", "mb", "g", "gb", "t", "tb", "p", "pb"};
    static const int shift[] = {0, 10, 10, 20, 20, 30, 30, 40, 40, 50, 50};
    for (size_t i = 0; bytes_unit && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(bytes_unit, units[i]) == 0) {
            snprintf(out, n, "%" PRId64, c->n < 0 ? c->n : c->n >> shift[i]);
            return out;
        }
    store_cat_human_bytes(c->n, out, n);
    return out;
}

/* String.length(): UTF-16 code units, what Elasticsearch pads by. */
static size_t u16len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; s && *p; p++) {
        if ((*p & 0xC0) != 0x80)
            n++;
        if (*p >= 0xF0)
            n++; /* a supplementary character is a surrogate pair */
    }
    return n;
}

/* ---- columns ---------------------------------------------------------------------- */

typedef struct dhead {
    size_t col;        /* index in t->cols */
    const char *disp;  /* the name the request used (borrowed from the request or the columns) */
    size_t disp_len;
    bool pri;          /* the "pri." sibling of `col`: its key is "pri." + disp */
} dhead;

typedef struct dlist {
    dhead *v;
    size_t n, cap;
} dlist;

static bool dl_add(dlist *l, size_t col, const char *disp, size_t len, bool pri)
{
    if (!GROW_ARRAY(l->v, l->cap, l->n + 1, 16))
        return false;
    l->v[l->n++] = (dhead){col, disp, len, pri};
    return true;
}

static bool alias_has(const char *aliases, const char *s, size_t n, bool glob)
{
    for (const char *p = aliases; p && *p;) {
        size_t len = strcspn(p, ",");
        if (glob ? store_util_glob(s, n, p, len) : (len == n && memcmp(p, s, n) == 0))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* Table.getAliasMap: every name and alias, a later column overriding an
 * earlier one's alias. SIZE_MAX when none. */
static size_t alias_map(const store_cat_table *t, const char *s, size_t n)
{
    size_t hit = SIZE_MAX;
    for (size_t i = 0; i < t->ncols; i++)
        if ((strlen(t->cols[i].name) == n && memcmp(t->cols[i].name, s, n) == 0) ||
            alias_has(t->cols[i].aliases, s, n, false))
            hit = i;
    return hit;
}

static bool is_ts(const store_cat_col *c) { return strcmp(c->name, "epoch") == 0 || strcmp(c->name, "timestamp") == 0; }

/* The name that `p` (n bytes) is in `names` (n entries of (ptr,len)) already? */
typedef struct span {
    const char *p;
    size_t n;
} span;

static bool span_has(const span *v, size_t k, const char *p, size_t n)
{
    for (size_t i = 0; i < k; i++)
        if (v[i].n == n && memcmp(v[i].p, p, n) == 0)
            return true;
    return false;
}

/* buildDisplayHeaders. False when out of memory. */
static bool display_headers(const store_cat_table *t, const store_req *req, dlist *out)
{
    bool ts = true, pri = false;
    const char *v = store_req_param(req, "ts");
    ts = !v || strcmp(v, "false") != 0;
    v = store_req_param(req, "pri");
    pri = v && (strcmp(v, "") == 0 || strcmp(v, "true") == 0);
    const char *h = store_req_param(req, "h");
    if (!h) {
        for (size_t i = 0; i < t->ncols; i++)
            if (!t->cols[i].hidden && (ts || !is_ts(&t->cols[i])) &&
                !dl_add(out, i, t->cols[i].name, strlen(t->cols[i].name), false))
                return false;
        return true;
    }
    /* expandHeadersFromRequest: an insertion-ordered set of the names asked
     * for, a wildcard expanded to the column names it matches (by name or
     * alias); its size is bounded by the columns plus the length of `h`. */
    span *set = NULL;
    size_t k = 0, cap = 0;
    bool ok = true;
    for (const char *p = h; ok && *p;) {
        size_t len = strcspn(p, ",");
        if (memchr(p, '*', len)) {
            for (size_t i = 0; ok && i < t->ncols; i++) {
                const char *nm = t->cols[i].name;
                if ((store_util_glob(p, len, nm, strlen(nm)) || alias_has(t->cols[i].aliases, p, len, true)) &&
                    !span_has(set, k, nm, strlen(nm))) {
                    ok = GROW_ARRAY(set, cap, k + 1, 16);
                    if (ok)
                        set[k++] = (span){nm, strlen(nm)};
                }
            }
        } else if (!span_has(set, k, p, len)) {
            ok = GROW_ARRAY(set, cap, k + 1, 16);
            if (ok)
                set[k++] = (span){p, len};
        }
        p += len + (p[len] == ',');
    }
    for (size_t j = 0; ok && j < k; j++) {
        size_t col = SIZE_MAX;
        for (size_t i = 0; i < t->ncols && col == SIZE_MAX; i++)
            if (strlen(t->cols[i].name) == set[j].n && memcmp(t->cols[i].name, set[j].p, set[j].n) == 0)
                col = i;
        if (col == SIZE_MAX) /* the last column with that alias, as RestTable's loop finds it */
            for (size_t i = 0; i < t->ncols; i++)
                if (alias_has(t->cols[i].aliases, set[j].p, set[j].n, false))
                    col = i;
        if (col == SIZE_MAX || (!ts && is_ts(&t->cols[col])))
            continue; /* Elasticsearch skips a name it does not know */
        ok = dl_add(out, col, set[j].p, set[j].n, false);
        if (ok && pri && t->cols[col].sibling_pri) {
            char sib[128];
            snprintf(sib, sizeof sib, "pri.%s", t->cols[col].name);
            for (size_t i = 0; i < t->ncols; i++)
                if (strcmp(t->cols[i].name, sib) == 0) {
                    ok = dl_add(out, i, set[j].p, set[j].n, true);
                    break;
                }
        }
    }
    free(set);
    return ok;
}

/* ---- row order --------------------------------------------------------------------- */

typedef struct okey {
    size_t col;
    bool desc;
} okey;

typedef struct octx {
    const store_cat_table *t;
    const okey *keys;
    size_t nkeys;
} octx;

static int cmp_cells(const store_cat_cell *a, const store_cat_cell *b)
{
    if (a->kind == STORE_CAT_NULL || b->kind == STORE_CAT_NULL)
        return (a->kind != STORE_CAT_NULL) - (b->kind != STORE_CAT_NULL); /* null first */
    if (a->kind == b->kind && a->kind != STORE_CAT_STR)
        return (a->n > b->n) - (a->n < b->n);
    char ab[32], bb[32];
    const char *as = render(a, NULL, ab, sizeof ab), *bs = render(b, NULL, bb, sizeof bb);
    return strcmp(as, bs);
}

static int cmp_rows(const octx *c, size_t x, size_t y)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        size_t col = c->keys[i].col;
        int r = cmp_cells(&c->t->cells[x * c->t->ncols + col], &c->t->cells[y * c->t->ncols + col]);
        if (r)
            return c->keys[i].desc ? -r : r;
    }
    return 0;
}

/* Collections.sort is stable: a merge sort of the row numbers, not qsort. */
static void merge_sort(const octx *c, size_t *v, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(c, v, tmp, h);
    merge_sort(c, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_rows(c, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

/* getRowOrder. Caller frees *order. */
static bool row_order(const store_cat_table *t, const store_req *req, size_t **order, store_error *err)
{
    size_t *v = malloc(grow_mul(t->nrows ? t->nrows : 1, sizeof *v)), *tmp = NULL;
    okey *keys = NULL;
    size_t nk = 0, kcap = 0;
    bool ok = false;
    if (!v)
        goto oom;
    for (size_t i = 0; i < t->nrows; i++)
        v[i] = i;
    const char *s = store_req_param(req, "s");
    if (s && *s) {
        for (const char *p = s; *p;) {
            size_t len = strcspn(p, ",");
            bool desc = false;
            if (len >= 5 && memcmp(p + len - 5, ":desc", 5) == 0) {
                desc = true;
                len -= 5;
            } else if (len >= 4 && memcmp(p + len - 4, ":asc", 4) == 0) {
                len -= 4;
            }
            size_t col = alias_map(t, p, len);
            if (col == SIZE_MAX) {
                store_error_set(err, 500, "unsupported_operation_exception",
                                "Unable to sort by unknown sort key `%.*s`", (int)len, p);
                goto done;
            }
            if (!GROW_ARRAY(keys, kcap, nk + 1, 8))
                goto oom;
            keys[nk++] = (okey){col, desc};
            p += strcspn(p, ",");
            p += *p == ',';
        }
        tmp = malloc(grow_mul(t->nrows ? t->nrows : 1, sizeof *tmp));
        if (!tmp)
            goto oom;
        octx c = {t, keys, nk};
        merge_sort(&c, v, tmp, t->nrows);
    }
    *order = v;
    v = NULL;
    ok = true;
    goto done;
oom:
    store_error_set(err, 500, "exception", "out of memory");
done:
    free(v);
    free(tmp);
    free(keys);
    return ok;
}

/* ---- output ----------------------------------------------------------------------- */

/* RestTable.pad. The padding is computed in a Java byte, so a cell more than
 * 127 columns narrower than its column gets none; answers keep that. */
static void pad(buf *b, const char *s, size_t slen_u16, size_t width, bool right, bool last)
{
    int8_t left = (int8_t)(uint8_t)(width - slen_u16);
    if (left > 0 && right) {
        for (int i = 0; i < left; i++)
            buf_putc(b, ' ');
        if (s)
            buf_puts(b, s);
        return;
    }
    if (s)
        buf_puts(b, s);
    for (int i = 0; !last && i < left; i++)
        buf_putc(b, ' ');
}

static void help(const store_cat_table *t, store_resp *r)
{
    size_t w[3] = {0, 0, 0};
    for (size_t i = 0; i < t->ncols; i++) {
        const store_cat_col *c = &t->cols[i];
        size_t a = u16len(c->name), b = u16len(c->aliases ? c->aliases : ""),
               d = u16len(c->desc ? c->desc : "not available");
        w[0] = a > w[0] ? a : w[0];
        w[1] = b > w[1] ? b : w[1];
        w[2] = d > w[2] ? d : w[2];
    }
    r->content_type = TEXT_TYPE;
    for (size_t i = 0; i < t->ncols; i++) {
        const store_cat_col *c = &t->cols[i];
        const char *al = c->aliases ? c->aliases : "", *d = c->desc ? c->desc : "not available";
        pad(&r->body, c->name, u16len(c->name), w[0], false, false);
        buf_puts(&r->body, " | ");
        pad(&r->body, al, u16len(al), w[1], false, false);
        buf_puts(&r->body, " | ");
        pad(&r->body, d, u16len(d), w[2], false, false);
        buf_putc(&r->body, '\n');
    }
}

static void put_key(buf *b, const dhead *h)
{
    if (!h->pri) {
        buf_put_json_string(b, h->disp, h->disp_len);
        return;
    }
    buf tmp = BUF_INIT;
    buf_printf(&tmp, "pri.%.*s", (int)h->disp_len, h->disp);
    buf_put_json_string(b, tmp.data ? tmp.data : "", tmp.len);
    buf_free(&tmp);
}

bool store_cat_render(const store_cat_table *t, const store_req *req, store_resp *r, store_error *err)
{
    dlist hs = {0};
    size_t *order = NULL, *width = NULL;
    char tmp[48];
    bool ok = false;
    if (store_cat_help_wanted(req)) {
        help(t, r);
        return true;
    }
    if (!store_cat_check(req, err))
        return false;
    const char *unit = store_req_param(req, "bytes");
    bool verbose = store_req_param_true(req, "v");
    if (!display_headers(t, req, &hs)) {
        store_error_set(err, 500, "exception", "out of memory");
        goto done;
    }
    if (!row_order(t, req, &order, err))
        goto done;
    buf *b = &r->body;
    if (want_json(req)) {
        buf_putc(b, '[');
        for (size_t k = 0; k < t->nrows; k++) {
            buf_puts(b, k ? ",{" : "{");
            for (size_t j = 0; j < hs.n; j++) {
                const char *v = render(&t->cells[order[k] * t->ncols + hs.v[j].col], unit, tmp, sizeof tmp);
                if (j)
                    buf_putc(b, ',');
                put_key(b, &hs.v[j]);
                buf_putc(b, ':');
                if (v)
                    buf_put_json_string(b, v, strlen(v));
                else
                    buf_puts(b, "null");
            }
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
        ok = true;
        goto done;
    }
    r->content_type = TEXT_TYPE;
    if (!verbose && t->nrows == 0) {
        ok = true;
        goto done;
    }
    width = calloc(hs.n ? hs.n : 1, sizeof *width);
    if (!width) {
        store_error_set(err, 500, "exception", "out of memory");
        goto done;
    }
    for (size_t j = 0; j < hs.n; j++) {
        if (verbose)
            width[j] = hs.v[j].disp_len + (hs.v[j].pri ? 4 : 0);
        for (size_t k = 0; k < t->nrows; k++) {
            size_t l = u16len(render(&t->cells[k * t->ncols + hs.v[j].col], unit, tmp, sizeof tmp));
            width[j] = l > width[j] ? l : width[j];
        }
    }
    if (verbose) {
        buf nm = BUF_INIT;
        for (size_t j = 0; j < hs.n; j++) {
            bool last = j + 1 == hs.n;
            buf_reset(&nm);
            buf_printf(&nm, "%s%.*s", hs.v[j].pri ? "pri." : "", (int)hs.v[j].disp_len, hs.v[j].disp);
            /* the header cell takes its column's alignment */
            const char *s = nm.data ? nm.data : "";
            pad(b, s, u16len(s), width[j], t->cols[hs.v[j].col].right, last);
            if (!last)
                buf_putc(b, ' ');
        }
        buf_free(&nm);
        buf_putc(b, '\n');
    }
    for (size_t k = 0; k < t->nrows; k++) {
        for (size_t j = 0; j < hs.n; j++) {
            bool last = j + 1 == hs.n;
            const char *v = render(&t->cells[order[k] * t->ncols + hs.v[j].col], unit, tmp, sizeof tmp);
            pad(b, v, u16len(v), width[j], t->cols[hs.v[j].col].right, last);
            if (!last)
                buf_putc(b, ' ');
        }
        buf_putc(b, '\n');
    }
    ok = true;
done:
    free(width);
    free(order);
    free(hs.v);
    return ok;
}
