/* store_index_doc — the index entries of one document: its JSON walked against the mapping (fields inferred
 * where the mapping is dynamic), each value analyzed or encoded, and the entries sorted and folded for the
 * writer (store_index_doc, store_doc_index_free). */
#include "versync/store/store_index.h"
#include "versync/store/store_index_int.h"

#include "versync/store/store_datefmt.h"
#include "versync/store/store_ulong.h"
#include "versync/common/grow.h"
#include "versync/store/store_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- document extraction -------------------------------------------------- */

/* A field the document introduces (dynamic mapping), by path. */
typedef struct newf {
    char *path;
    store_ftype type;
} newf;

typedef struct xctx {
    store_mapping *m;
    const char *src;
    const char *id;
    size_t id_len;
    bool lenient;
    store_doc_index *out;
    const char **err_type;
    buf *reason;
    newf *nf;
    size_t nnf, nfcap;
    size_t *nfh; /* open-addressing table of nf indices + 1, nfhcap slots */
    size_t nfhcap;
    bool oom;
    /* text tokens of the current value: collected as POSTING entries with tf 1 */
    size_t cur_path;
    /* next position of each text field with values so far (several values
     * of one field are position_increment_gap apart, as in Lucene) */
    struct fpos {
        size_t path;
        uint32_t next;
    } *fp;
    size_t nfp, fpcap;
} xctx;

static bool ent_add(xctx *x, store_ent_kind k, size_t path, const void *val, size_t len)
{
    store_doc_index *d = x->out;
    if (d->n == d->cap && !GROW_ARRAY(d->ents, d->cap, d->n + 1, 32))
        return !(x->oom = true);
    size_t off = d->text.len;
    if (len && !buf_append(&d->text, val, len))
        return !(x->oom = true);
    d->ents[d->n++] = (store_ent){k, path, off, len, 1, 0, 0};
    return true;
}

static size_t path_put(xctx *x, const char *path)
{
    size_t off = x->out->text.len;
    if (!buf_append(&x->out->text, path, strlen(path) + 1)) {
        x->oom = true;
        return (size_t)-1;
    }
    return off;
}

static void where(xctx *x, const char *at, buf *b)
{
    int line = 1, col = 1;
    if (at > x->src && at[-1] == '"')
        at--; /* a string's position is its opening quote */
    for (const char *p = x->src; p < at; p++) {
        if (*p == '\n')
            line++, col = 1;
        else
            col++;
    }
    buf_printf(b, "[%d:%d] ", line, col);
}

static bool fail_value(xctx *x, const char *at, const char *path, const store_field *f, const char *val, size_t n)
{
    if (x->lenient)
        return true;
    *x->err_type = "document_parsing_exception";
    where(x, at, x->reason);
    buf_printf(x->reason, "failed to parse field [%s] of type [%s] in document with id '%.*s'. Preview of field's value: '%.*s'",
               path, f ? f->type_name : "object", (int)(x->id_len > 512 ? 512 : x->id_len), x->id,
               (int)(n > 200 ? 200 : n), val);
    return false;
}

/* fail_value with the exception Elasticsearch's document_parsing_exception
 * wraps: `type` and `reason`, and (inner_json, NULL for none) its own cause. */
static bool fail_value_cause(xctx *x, const char *at, const char *path, const store_field *f, const char *val, size_t n,
                             const char *type, const char *reason, const char *inner_json)
{
    if (x->lenient)
        return true;
    buf *c = &x->out->cause;
    buf_reset(c);
    buf_puts(c, "{\"type\":");
    buf_put_json_string(c, type, strlen(type));
    buf_puts(c, ",\"reason\":");
    buf_put_json_string(c, reason, strlen(reason));
    if (inner_json) {
        buf_puts(c, ",\"caused_by\":");
        buf_puts(c, inner_json);
    }
    buf_putc(c, '}');
    return fail_value(x, at, path, f, val, n);
}

/* The cause of a date Elasticsearch's DateFormatter could not parse. */
static bool fail_date(xctx *x, const char *at, const char *path, const store_field *f, const char *val, size_t n,
                      const char *format)
{
    buf why = BUF_INIT;
    buf_printf(&why, "failed to parse date field [%.*s] with format [%s]", (int)(n > 200 ? 200 : n), val, format);
    /* JavaDateFormatter tries each of several formats; a single one's own
     * DateTimeParseException names a position verstore does not track. */
    bool r = fail_value_cause(x, at, path, f, val, n, "illegal_argument_exception", why.data ? why.data : "",
                              strstr(format, "||") ? "{\"type\":\"date_time_parse_exception\",\"reason\":\"Failed "
                                                     "to parse with all enclosed parsers\"}"
                                                   : NULL);
    buf_free(&why);
    return r;
}

/* A keyword longer than Lucene's 32 766-byte term limit: Elasticsearch
 * refuses the document with IndexWriter's message (no ignore_above said to
 * skip the value). */
static bool fail_immense(xctx *x, const char *path, const char *val, size_t n)
{
    if (x->lenient)
        return true;
    *x->err_type = "illegal_argument_exception";
    buf_reset(x->reason);
    buf_printf(x->reason,
               "Document contains at least one immense term in field=\"%s\" (whose UTF8 encoding is longer than the "
               "max length %d), all of which were skipped.  Please correct the analyzer to not produce such terms.  "
               "The prefix of the first immense term is: '[",
               path, STORE_INDEX_MAX_TERM);
    for (size_t i = 0; i < 30 && i < n; i++)
        buf_printf(x->reason, "%s%d", i ? ", " : "", (int)(signed char)val[i]);
    buf_printf(x->reason, "]...', original message: bytes can be at most %d in length; got %zu",
               STORE_INDEX_MAX_TERM, n);
    return false;
}

static size_t path_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of `path` in the new-field table: where it is, or the empty
 * slot it would go in. A table is kept at most half full. */
static size_t nf_slot(const xctx *x, const char *path)
{
    size_t i = path_hash(path) & (x->nfhcap - 1);
    while (x->nfh[i] && strcmp(x->nf[x->nfh[i] - 1].path, path) != 0)
        i = (i + 1) & (x->nfhcap - 1);
    return i;
}

static const store_field *lookup(xctx *x, const char *path, store_ftype *type)
{
    const store_field *f = store_mapping_find(x->m, path);
    if (f) {
        *type = f->type;
        return f;
    }
    if (x->nnf) {
        size_t i = x->nfh[nf_slot(x, path)];
        if (i) {
            *type = x->nf[i - 1].type;
            return NULL;
        }
    }
    *type = STORE_FT_NONE;
    return NULL;
}

/* The dynamic setting in force for a new field at `path`. */
static int dyn_for(xctx *x, const char *path)
{
    char parent[STORE_INDEX_PATH_MAX + 1];
    store_index_path_join(parent, "", path, strlen(path));
    for (char *dot = strrchr(parent, '.'); dot; dot = strrchr(parent, '.')) {
        *dot = '\0';
        const store_field *f = store_mapping_find(x->m, parent);
        if (f && f->type == STORE_FT_OBJECT)
            return f->dynamic;
        if (f)
            break;
    }
    return x->m->dynamic;
}

static bool add_new(xctx *x, const char *path, store_ftype t)
{
    if (x->nnf == x->nfcap && !GROW_ARRAY(x->nf, x->nfcap, x->nnf + 1, 8))
        return !(x->oom = true);
    if (2 * (x->nnf + 1) > x->nfhcap) {
        size_t cap = x->nfhcap ? grow_mul(x->nfhcap, 2) : 16; /* SIZE_MAX on overflow: calloc refuses it */
        size_t *h = calloc(cap, sizeof *h);
        if (!h)
            return !(x->oom = true);
        free(x->nfh);
        x->nfh = h;
        x->nfhcap = cap;
        for (size_t i = 0; i < x->nnf; i++)
            x->nfh[nf_slot(x, x->nf[i].path)] = i + 1;
    }
    char *dup = strdup(path);
    if (!dup)
        return !(x->oom = true);
    x->nf[x->nnf++] = (newf){dup, t};
    x->nfh[nf_slot(x, dup)] = x->nnf;
    return true;
}

/* Decide what to do with an unmapped field: 1 index as `*t`, 0 skip, -1 fail. */
static int unmapped(xctx *x, const char *at, const char *path, store_ftype inferred, store_ftype *t)
{
    if (x->lenient)
        return 0;
    int dyn = dyn_for(x, path);
    if (dyn == STORE_DYN_FALSE)
        return 0;
    if (dyn == STORE_DYN_STRICT) {
        *x->err_type = "strict_dynamic_mapping_exception";
        where(x, at, x->reason);
        const char *dot = strrchr(path, '.');
        buf_printf(x->reason, "mapping set to strict, dynamic introduction of [%s] within [%.*s] is not allowed",
                   dot ? dot + 1 : path, dot ? (int)(dot - path) : 4, dot ? path : "_doc");
        return -1;
    }
    /* A dotted name ("a.b": 1) introduces its parents as objects too. */
    char parent[STORE_INDEX_PATH_MAX + 1];
    for (const char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
        store_ftype pt;
        memcpy(parent, path, (size_t)(dot - path));
        parent[dot - path] = '\0';
        lookup(x, parent, &pt);
        if (pt == STORE_FT_OBJECT)
            continue;
        if (pt != STORE_FT_NONE) {
            *x->err_type = "document_parsing_exception";
            where(x, at, x->reason);
            buf_printf(x->reason, "Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must "
                                  "be of type object but found [%s].",
                       path, parent, store_mapping_find(x->m, parent) ? store_mapping_find(x->m, parent)->type_name
                                                                       : "text");
            return -1;
        }
        if (!add_new(x, parent, STORE_FT_OBJECT))
            return -1;
    }
    if (!add_new(x, path, inferred))
        return -1;
    *t = inferred;
    return 1;
}

/* Index the tokens of one value of text field `f` at path offset `po`,
 * each posting entry carrying its position (tf 1, folded in finish). */
static bool index_text(xctx *x, const store_field *f, size_t po, const char *v, size_t vn)
{
    analysis_analyzer *a = store_index_field_analyzer(x->m, f, false, false);
    if (!a)
        return !(x->oom = true);
    struct fpos *fp = NULL;
    for (size_t i = 0; i < x->nfp && !fp; i++)
        if (strcmp(x->out->text.data + x->fp[i].path, x->out->text.data + po) == 0)
            fp = &x->fp[i];
    uint32_t base = 0;
    if (fp)
        base = fp->next + (uint32_t)analysis_pos_gap(a);
    analysis_tokens t = {0};
    bool ok = analysis_run(a, v, vn, 0, 0, &t, NULL);
    uint32_t last = 0;
    bool any = false;
    for (size_t i = 0; ok && i < t.n; i++) {
        if (!t.v[i].len)
            continue;
        uint32_t p = base + (uint32_t)(t.v[i].pos < 0 ? 0 : t.v[i].pos);
        ok = ent_add(x, STORE_ENT_POSTING, po, t.v[i].term, t.v[i].len);
        if (ok)
            x->out->ents[x->out->n - 1].pos = p;
        if (!any || p > last)
            last = p;
        any = true;
    }
    analysis_tokens_free(&t);
    if (!ok)
        return !(x->oom = true);
    if (!any)
        return true;
    if (!fp) {
        if (!GROW_ARRAY(x->fp, x->fpcap, x->nfp + 1, 8))
            return !(x->oom = true);
        fp = &x->fp[x->nfp++];
        fp->path = po;
    }
    fp->next = last + 1;
    return true;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* Index one scalar (its text `v`/`vn`: decoded string or raw literal) into
 * field `f`/type `t` at `path`. */
static bool index_scalar(xctx *x, const char *at, const char *path, const store_field *f, store_ftype t,
                         json_type jt, const char *v, size_t vn)
{
    if (f && !f->index)
        return true;
    size_t po = path_put(x, path);
    if (po == (size_t)-1)
        return false;
    unsigned char enc[STORE_VAL_NUM_LEN];
    bool ok = true;
    switch (t) {
    case STORE_FT_TEXT: {
        if (!index_text(x, f, po, v, vn))
            return false;
        /* A STAT entry per value marks the field as present even for "". */
        return ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_KEYWORD: {
        int ia = f ? f->ignore_above : 256;
        if (ia && utf8_chars(v, vn) > (size_t)ia)
            return true;
        if (vn > STORE_INDEX_MAX_TERM) /* Lucene's limit on one term, as Elasticsearch answers it */
            return fail_immense(x, path, v, vn);
        return ent_add(x, STORE_ENT_VALUE, po, v, vn) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_LONG: {
        int64_t l;
        if (jt == JSON_TRUE || jt == JSON_FALSE)
            ok = false;
        else if (!json_parse_long(v, vn, &l)) {
            char tmp[64];
            char *end;
            if (vn == 0 || vn >= sizeof tmp) {
                ok = false;
            } else {
                memcpy(tmp, v, vn);
                tmp[vn] = '\0';
                errno = 0;
                double d = strtod(tmp, &end);
                ok = *end == '\0' && errno == 0 && isfinite(d) && d >= -9223372036854775808.0 &&
                     d < 9223372036854775808.0;
                l = ok ? (int64_t)d : 0; /* coerce: the fraction is dropped */
            }
        }
        if (!ok)
            return fail_value(x, at, path, f, v, vn);
        store_index_enc_long(l, enc);
        break;
    }
    case STORE_FT_ULONG: { /* Elasticsearch's own reason is the caused_by */
        uint64_t u;
        char why[256];
        int rc = jt == JSON_TRUE || jt == JSON_FALSE
                     ? -1
                     : store_ulong_parse_doc(v, vn, jt == JSON_NUMBER, &u, why, sizeof why);
        if (rc == 0)
            return true;
        if (rc < 0)
            return jt == JSON_TRUE || jt == JSON_FALSE
                       ? fail_value(x, at, path, f, v, vn)
                       : fail_value_cause(x, at, path, f, v, vn, "illegal_argument_exception", why, NULL);
        store_ulong_enc(u, enc);
        break;
    }
    case STORE_FT_DOUBLE: {
        char tmp[400];
        char *end;
        if (jt == JSON_TRUE || jt == JSON_FALSE || vn == 0 || vn >= sizeof tmp)
            return fail_value(x, at, path, f, v, vn);
        memcpy(tmp, v, vn);
        tmp[vn] = '\0';
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end || !isfinite(d))
            return fail_value(x, at, path, f, v, vn);
        /* the precision Elasticsearch indexes the narrower types at */
        if (f && f->scaling_factor > 0) {
            double scaled = round(d * f->scaling_factor);
            if (!(fabs(scaled) < 9223372036854775808.0))
                return fail_value(x, at, path, f, v, vn);
            d = scaled / f->scaling_factor;
        } else if (f && strcmp(f->type_name, "half_float") == 0) {
            d = store_index_half_float(d);
            if (!isfinite(d))
                return fail_value(x, at, path, f, v, vn);
        }
        store_index_enc_double(d, enc);
        break;
    }
    case STORE_FT_BOOLEAN: {
        bool b;
        if (vn == 4 && memcmp(v, "true", 4) == 0)
            b = true;
        else if ((vn == 5 && memcmp(v, "false", 5) == 0) || (vn == 0 && jt == JSON_STRING))
            b = false;
        else
            return fail_value(x, at, path, f, v, vn);
        enc[0] = b ? 'T' : 'F';
        return ent_add(x, STORE_ENT_VALUE, po, enc, 1) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_DATE: {
        int64_t ms;
        if (f && f->date_format ? !store_datefmt_parse(f->date_format, v, vn, jt == JSON_NUMBER, &ms)
            : jt == JSON_NUMBER ? !json_parse_long(v, vn, &ms)
                                      : !store_index_parse_date(v, vn, &ms))
            return fail_date(x, at, path, f, v, vn,
                             f && f->date_format ? f->date_format : "strict_date_optional_time||epoch_millis");
        store_index_enc_long(ms, enc);
        break;
    }
    case STORE_FT_DATE_NANOS: { /* before 1970 or after 2262 is refused, as DateUtils.toLong refuses it */
        int64_t ns;
        int rc = store_datefmt_parse_ns(f ? f->date_format : NULL, v, vn, jt == JSON_NUMBER, false, &ns);
        if (rc == 0)
            return fail_date(x, at, path, f, v, vn, f && f->date_format ? f->date_format : STORE_DATEFMT_NANOS_DEFAULT);
        if (rc < 0) { /* DateUtils.toLong names the instant as Instant.toString writes it */
            char inst[64], why[200];
            store_datefmt_instant_text(f ? f->date_format : NULL, v, vn, jt == JSON_NUMBER, inst, sizeof inst);
            snprintf(why, sizeof why,
                     rc == -1 ? "date[%s] is before the epoch in 1970 and cannot be stored in nanosecond resolution"
                              : "date[%s] is after 2262-04-11T23:47:16.854775807 and cannot be stored in nanosecond "
                                "resolution",
                     inst);
            return fail_value_cause(x, at, path, f, v, vn, "illegal_argument_exception", why, NULL);
        }
        store_index_enc_long(ns, enc);
        break;
    }
    default: return fail_value(x, at, path, f, v, vn);
    }
    return ent_add(x, STORE_ENT_VALUE, po, enc, STORE_VAL_NUM_LEN) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
}

static bool looks_integer(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '.' || v[i] == 'e' || v[i] == 'E')
            return false;
    return true;
}

static bool leaf(xctx *x, const char *path, const json_tok *tok)
{
    buf dec = BUF_INIT;
    const char *v = tok->p;
    size_t vn = tok->n;
    bool ok = false;
    if (tok->type == JSON_STRING && tok->escaped) {
        if (!json_unescape(tok, &dec)) {
            x->oom = true;
            goto done;
        }
        v = dec.data ? dec.data : "";
        vn = dec.len;
    }
    store_ftype t;
    const store_field *f = lookup(x, path, &t);
    if (t == STORE_FT_NONE) {
        store_ftype inf;
        int64_t ms;
        if (tok->type == JSON_STRING)
            inf = vn >= 10 && store_index_parse_date(v, vn, &ms) && store_index_parse_iso(v, vn, true, &ms) ? STORE_FT_DATE
                                                                                               : STORE_FT_TEXT;
        else if (tok->type == JSON_NUMBER)
            inf = looks_integer(v, vn) ? STORE_FT_LONG : STORE_FT_DOUBLE;
        else
            inf = STORE_FT_BOOLEAN;
        int r = unmapped(x, tok->p, path, inf, &t);
        if (r <= 0) {
            ok = r == 0;
            goto done;
        }
    }
    if (t == STORE_FT_OBJECT) {
        if (!x->lenient) {
            *x->err_type = "document_parsing_exception";
            where(x, tok->p, x->reason);
            buf_printf(x->reason, "object mapping for [%s] tried to parse field [%s] as object, but found a concrete value",
                       path, path);
        }
        ok = x->lenient;
        goto done;
    }
    if (!index_scalar(x, tok->p, path, f, t, tok->type, v, vn))
        goto done;
    /* Multi-fields: mapped ones follow their parent in path order; a
     * dynamically inferred text field gets its keyword sub-field. */
    char sub[STORE_INDEX_PATH_MAX + 1];
    if (f) {
        size_t pl = strlen(path);
        for (const store_field *s = f + 1; s < x->m->fields + x->m->n && strncmp(s->path, path, pl) == 0; s++) {
            if (!s->subfield || s->path[pl] != '.' || strchr(s->path + pl + 1, '.'))
                continue;
            if (!index_scalar(x, tok->p, s->path, s, s->type, tok->type, v, vn))
                goto done;
        }
    } else if (t == STORE_FT_TEXT && store_index_path_join(sub, path, "keyword", 7)) {
        if (!index_scalar(x, tok->p, sub, NULL, STORE_FT_KEYWORD, tok->type, v, vn))
            goto done;
    }
    ok = true;
done:
    buf_free(&dec);
    return ok;
}

static bool walk_value(xctx *x, const char *path, const json_tok *tok, int depth);

static bool walk_object(xctx *x, const char *prefix, const char *p, const char *end, int depth)
{
    json_iter it;
    if (!json_obj_begin(&it, p, end))
        return false;
    json_tok k, v;
    int r;
    buf key = BUF_INIT;
    bool ok = true;
    while (ok && (r = json_obj_next(&it, &k, &v)) == 1) {
        buf_reset(&key);
        if (!json_unescape(&k, &key)) {
            x->oom = true;
            ok = false;
            break;
        }
        const char *name = key.data ? key.data : "";
        char path[STORE_INDEX_PATH_MAX + 1];
        bool bad = !key.len || memchr(name, '\0', key.len) || !store_index_path_join(path, prefix, name, key.len);
        for (size_t i = 0; !bad && i < key.len; i++)
            bad = name[i] == '.' && (i == 0 || i + 1 == key.len || name[i + 1] == '.');
        if (bad) {
            if (x->lenient)
                continue;
            *x->err_type = "document_parsing_exception";
            where(x, k.p, x->reason);
            buf_printf(x->reason, "field name cannot be an empty string or contain only dots, and paths are limited "
                                  "to %d bytes", STORE_INDEX_PATH_MAX);
            ok = false;
            break;
        }
        ok = walk_value(x, path, &v, depth);
    }
    if (ok && r < 0)
        ok = false;
    buf_free(&key);
    return ok;
}

static bool walk_value(xctx *x, const char *path, const json_tok *tok, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return false;
    switch (tok->type) {
    case JSON_NULL: return true;
    case JSON_OBJECT: {
        store_ftype t;
        const store_field *f = lookup(x, path, &t);
        if (t == STORE_FT_NONE) {
            int r = unmapped(x, tok->p, path, STORE_FT_OBJECT, &t);
            if (r <= 0)
                return r == 0;
        } else if (f && f->opaque) {
            return true; /* a range's {"gte", "lt"}: kept in _source only */
        } else if (t != STORE_FT_OBJECT) {
            if (x->lenient)
                return true;
            *x->err_type = "document_parsing_exception";
            where(x, tok->p, x->reason);
            buf_printf(x->reason, "failed to parse field [%s] of type [%s] in document with id '%.*s'. Preview of "
                                  "field's value: '%.*s'",
                       path, f ? f->type_name : "text", (int)(x->id_len > 512 ? 512 : x->id_len), x->id,
                       (int)(tok->n > 200 ? 200 : tok->n), tok->p);
            return false;
        }
        return walk_object(x, path, tok->p, tok->p + tok->n, depth + 1);
    }
    case JSON_ARRAY: {
        const char *p = json_ws(tok->p + 1, tok->p + tok->n);
        const char *end = tok->p + tok->n;
        if (p < end && *p == ']')
            return true;
        for (;;) {
            json_tok e;
            const char *after = json_scan(p, end, &e);
            if (!after || !walk_value(x, path, &e, depth + 1))
                return false;
            p = json_ws(after, end);
            if (p < end && *p == ',') {
                p = json_ws(p + 1, end);
                continue;
            }
            return p < end && *p == ']';
        }
    }
    default: return leaf(x, path, tok);
    }
}

static _Thread_local const char *ent_text; /* qsort has no argument: the text ent_cmp compares in */

static int ent_cmp(const void *a, const void *b)
{
    const store_ent *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    int c = strcmp(ent_text + x->path, ent_text + y->path);
    if (c)
        return c;
    size_t n = x->val_len < y->val_len ? x->val_len : y->val_len;
    c = n ? memcmp(ent_text + x->val, ent_text + y->val, n) : 0;
    if (c)
        return c;
    if (x->val_len != y->val_len)
        return x->val_len < y->val_len ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos); /* a term's positions in order */
}

static bool same_key(const char *t, const store_ent *a, const store_ent *b)
{
    return a->kind == b->kind && strcmp(t + a->path, t + b->path) == 0 && a->val_len == b->val_len &&
           (!a->val_len || memcmp(t + a->val, t + b->val, a->val_len) == 0);
}

/* Sort entries, fold repeated terms into tf, set field lengths, add the
 * object paths above each present field, and one STAT entry per field. */
static bool finish(xctx *x)
{
    store_doc_index *d = x->out;
    /* Object paths above present fields. */
    size_t n0 = d->n;
    for (size_t i = 0; i < n0; i++) {
        if (d->ents[i].kind != STORE_ENT_EXISTS)
            continue;
        char path[STORE_INDEX_PATH_MAX + 1];
        const char *full = d->text.data + d->ents[i].path;
        store_index_path_join(path, "", full, strlen(full));
        for (char *dot = strrchr(path, '.'); dot; dot = strrchr(path, '.')) {
            *dot = '\0';
            store_ftype t;
            lookup(x, path, &t);
            if (t != STORE_FT_OBJECT)
                continue; /* a multi-field's parent, which has its own entry */
            size_t po = path_put(x, path);
            if (po == (size_t)-1 || !ent_add(x, STORE_ENT_EXISTS, po, NULL, 0))
                return false;
        }
    }
    if (!d->n)
        return true;
    ent_text = d->text.data;
    qsort(d->ents, d->n, sizeof *d->ents, ent_cmp);
    size_t w = 0;
    d->npos = 0;
    for (size_t i = 0; i < d->n; i++) {
        bool post = d->ents[i].kind == STORE_ENT_POSTING;
        if (post && !GROW_ARRAY(d->pos, d->poscap, d->npos + 1, 64))
            return !(x->oom = true);
        if (w && same_key(d->text.data, &d->ents[w - 1], &d->ents[i])) {
            d->ents[w - 1].tf++;
            if (post)
                d->pos[d->npos++] = d->ents[i].pos;
            continue;
        }
        d->ents[w++] = d->ents[i];
        if (post) {
            d->pos[d->npos] = d->ents[i].pos;
            d->ents[w - 1].pos = (uint32_t)d->npos++;
        }
    }
    d->n = w;
    /* Field lengths and statistics: postings and values come sorted by path. */
    size_t nstat = d->n;
    for (size_t i = 0; i < nstat;) {
        store_ent_kind k = d->ents[i].kind;
        if (k != STORE_ENT_POSTING && k != STORE_ENT_VALUE) {
            i++;
            continue;
        }
        size_t j = i;
        uint32_t len = 0;
        while (j < nstat && d->ents[j].kind == k && strcmp(d->text.data + d->ents[j].path, d->text.data + d->ents[i].path) == 0) {
            len += k == STORE_ENT_POSTING ? d->ents[j].tf : 1;
            j++;
        }
        for (size_t q = i; q < j; q++)
            d->ents[q].len = len;
        if (!ent_add(x, STORE_ENT_STAT, d->ents[i].path, NULL, 0))
            return false;
        d->ents[d->n - 1].len = len;
        i = j;
    }
    return true;
}

/* Add the fields the document introduced to the mapping. */
static bool apply_new(xctx *x)
{
    if (!x->nnf)
        return true;
    cJSON *add = cJSON_CreateObject(), *props = add ? cJSON_AddObjectToObject(add, "properties") : NULL;
    bool ok = props != NULL;
    for (size_t i = 0; ok && i < x->nnf; i++) {
        cJSON *level = props;
        char *path = x->nf[i].path;
        for (char *seg = path, *dot; ok; seg = dot + 1) {
            dot = strchr(seg, '.');
            if (dot)
                *dot = '\0';
            cJSON *node = cJSON_GetObjectItemCaseSensitive(level, seg);
            if (!node)
                ok = (node = cJSON_AddObjectToObject(level, seg)) != NULL;
            if (dot)
                *dot = '.';
            if (!ok)
                break;
            if (!dot) {
                const char *tn = NULL;
                switch (x->nf[i].type) {
                case STORE_FT_TEXT: {
                    tn = "text";
                    ok = cJSON_AddStringToObject(node, "type", tn) != NULL;
                    cJSON *kw = cJSON_AddObjectToObject(cJSON_AddObjectToObject(node, "fields"), "keyword");
                    ok = kw && cJSON_AddStringToObject(kw, "type", "keyword") &&
                         cJSON_AddNumberToObject(kw, "ignore_above", 256);
                    break;
                }
                case STORE_FT_LONG: tn = "long"; break;
                case STORE_FT_DOUBLE: tn = "float"; break;
                case STORE_FT_BOOLEAN: tn = "boolean"; break;
                case STORE_FT_DATE: tn = "date"; break;
                default: break; /* object: no type key, like Elasticsearch prints it */
                }
                if (ok && tn && !cJSON_GetObjectItemCaseSensitive(node, "type"))
                    ok = cJSON_AddStringToObject(node, "type", tn) != NULL;
                if (ok && !tn && !cJSON_GetObjectItemCaseSensitive(node, "properties"))
                    ok = cJSON_AddObjectToObject(node, "properties") != NULL;
                break;
            }
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(node, "properties");
            if (!sub)
                ok = (sub = cJSON_AddObjectToObject(node, "properties")) != NULL;
            level = sub;
        }
    }
    char err[512];
    err[0] = '\0';
    bool built = ok;
    if (ok)
        ok = store_mapping_merge(x->m, add, err, sizeof err);
    cJSON_Delete(add);
    if (!ok && built && err[0] && strcmp(err, "out of memory") != 0) {
        *x->err_type = "illegal_argument_exception";
        buf_reset(x->reason);
        buf_puts(x->reason, err);
    } else if (!ok) {
        x->oom = true;
    }
    return ok;
}

bool store_index_doc(store_mapping *m, const char *src, size_t n, const char *id, size_t id_len, bool lenient,
                     store_doc_index *out, const char **err_type, buf *reason)
{
    xctx x = {.m = m, .src = src, .id = id, .id_len = id_len, .lenient = lenient, .out = out,
              .err_type = err_type, .reason = reason};
    buf_reset(&out->text);
    buf_reset(&out->cause);
    out->n = 0;
    out->mapping_changed = false;
    const char *end = src + n;
    bool ok = walk_object(&x, "", src, end, 1) && finish(&x);
    int64_t limit = m->total_fields_limit ? m->total_fields_limit : STORE_DEFAULT_TOTAL_FIELDS;
    if (ok && !lenient && x.nnf && (int64_t)(m->n + x.nnf) > limit) {
        /* Refused before the new fields are built into a mapping: the cost
         * of a wide document stays linear in its size. */
        *err_type = "illegal_argument_exception";
        buf_reset(reason);
        buf_printf(reason, "Limit of total fields [%" PRId64 "] has been exceeded while adding new fields [%zu]", limit,
                   x.nnf);
        ok = false;
    } else if (ok && !lenient) {
        ok = apply_new(&x);
        out->mapping_changed = ok && x.nnf > 0;
    }
    if (!ok && (x.oom || !reason->len)) {
        *err_type = "document_parsing_exception";
        buf_reset(reason);
        buf_puts(reason, x.oom ? "out of memory while indexing the document" : "failed to parse the document");
    }
    for (size_t i = 0; i < x.nnf; i++)
        free(x.nf[i].path);
    free(x.nf);
    free(x.nfh);
    free(x.fp);
    if (!ok)
        out->n = 0;
    return ok;
}

void store_doc_index_free(store_doc_index *d)
{
    if (!d)
        return;
    buf_free(&d->text);
    buf_free(&d->cause);
    free(d->ents);
    free(d->pos);
    memset(d, 0, sizeof *d);
}
