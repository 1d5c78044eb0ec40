/* store_bulk — parses and validates _bulk NDJSON bodies and _update bodies into engine operations. */
#include "versync/store/store_bulk.h"
#include "versync/store/store_datemath.h"

#include "versync/common/grow.h"
#include "versync/store/store_json.h"
#include "versync/store/store_router.h"
#include "versync/store/store_util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_bulk_block {
    store_bulk_block *next;
    size_t used, cap;
    char data[];
};

static char *arena_dup(store_bulk *b, const char *s, size_t n)
{
    store_bulk_block *blk = b->blocks;
    if (!blk || blk->cap - blk->used < n + 1) {
        size_t cap = n + 1 > 65536 ? n + 1 : 65536;
        blk = malloc(sizeof *blk + cap);
        if (!blk)
            return NULL;
        blk->used = 0;
        blk->cap = cap;
        blk->next = b->blocks;
        b->blocks = blk;
    }
    char *p = blk->data + blk->used;
    memcpy(p, s, n);
    p[n] = '\0';
    blk->used += n + 1;
    return p;
}

static bool fail(store_error *e, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail(store_error *e, int status, const char *type, const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    buf_reset(&e->reason);
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&e->reason, fmt, ap);
    va_end(ap);
    return false;
}

void store_bulk_update_free(store_update_spec *spec)
{
    cJSON_Delete(spec->doc);
    cJSON_Delete(spec->upsert);
    cJSON_Delete(spec->fetch_source);
    spec->doc = spec->upsert = spec->fetch_source = NULL;
}

void store_bulk_free(store_bulk *b)
{
    for (size_t i = 0; i < b->n; i++) {
        store_bulk_update_free(&b->items[i].upd);
        free(b->items[i].err_reason);
    }
    free(b->items);
    while (b->blocks) {
        store_bulk_block *next = b->blocks->next;
        free(b->blocks);
        b->blocks = next;
    }
    memset(b, 0, sizeof *b);
}

static const char *token_name(const json_tok *t)
{
    switch (t->type) {
    case JSON_STRING: return "VALUE_STRING";
    case JSON_NUMBER: return "VALUE_NUMBER";
    case JSON_TRUE:
    case JSON_FALSE: return "VALUE_BOOLEAN";
    case JSON_NULL: return "VALUE_NULL";
    case JSON_ARRAY: return "START_ARRAY";
    case JSON_OBJECT: return "START_OBJECT";
    }
    return "?";
}

/* SuggestingErrorOnUnknown: " did you mean [x]?" / " did you mean any of [x, y]?" or "". */
static const char *did_you_mean(const char *field, char *out, size_t outsz)
{
    static const char *const fields[] = {"_source", "detect_noop", "doc", "doc_as_upsert", "script",
                                         "scripted_upsert", "upsert"};
    const char *hits[8];
    float score[8];
    size_t n = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        float sc = store_util_similarity(field, fields[i]);
        if (sc <= 0.5f)
            continue;
        size_t j = n++; /* insertion sort: score descending, then name */
        while (j > 0 && (score[j - 1] < sc || (score[j - 1] == sc && strcmp(hits[j - 1], fields[i]) > 0))) {
            hits[j] = hits[j - 1], score[j] = score[j - 1];
            j--;
        }
        hits[j] = fields[i], score[j] = sc;
    }
    out[0] = '\0';
    if (n == 1)
        snprintf(out, outsz, " did you mean [%s]?", hits[0]);
    else if (n > 1) {
        size_t o = (size_t)snprintf(out, outsz, " did you mean any of [");
        for (size_t i = 0; i < n && o < outsz; i++)
            o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", hits[i]);
        if (o < outsz)
            snprintf(out + o, outsz - o, "]?");
    }
    return out;
}

bool store_bulk_parse_update(const char *body, size_t len, store_update_spec *spec, store_error *err)
{
    char hint[256];
    memset(spec, 0, sizeof *spec);
    spec->detect_noop = true;
    if (!json_is_valid(body, len))
        return fail(err, 400, "x_content_parse_exception", "[1:1] failed to parse the update request: malformed JSON");
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return fail(err, 500, "exception", "out of memory parsing the update request");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, 400, "x_content_parse_exception", "[1:1] update request must be a JSON object");
    }
    bool ok = true;
    for (cJSON *it = root->child; it && ok; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "doc") == 0 || strcmp(k, "upsert") == 0) {
            if (!cJSON_IsObject(it)) {
                ok = fail(err, 400, "x_content_parse_exception", "[UpdateRequest] failed to parse field [%s]", k);
                break;
            }
            cJSON **slot = k[0] == 'd' ? &spec->doc : &spec->upsert;
            cJSON_Delete(*slot);
            *slot = cJSON_Duplicate(it, true);
            if (!*slot)
                ok = fail(err, 500, "exception", "out of memory");
        } else if (strcmp(k, "doc_as_upsert") == 0 || strcmp(k, "detect_noop") == 0 ||
                   strcmp(k, "scripted_upsert") == 0) {
            if (!cJSON_IsBool(it)) {
                ok = fail(err, 400, "x_content_parse_exception", "[UpdateRequest] failed to parse field [%s]", k);
                break;
            }
            if (k[0] == 'd' && k[1] == 'o')
                spec->doc_as_upsert = cJSON_IsTrue(it);
            else if (k[0] == 'd')
                spec->detect_noop = cJSON_IsTrue(it);
        } else if (strcmp(k, "script") == 0) {
            ok = fail(err, 400, "illegal_argument_exception", "scripts are not supported by verstore");
        } else if (strcmp(k, "_source") == 0) {
            /* the response's get._source: kept for the response writer */
            cJSON_Delete(spec->fetch_source);
            if (!(spec->fetch_source = cJSON_Duplicate(it, true)))
                ok = fail(err, 500, "exception", "out of memory");
        } else {
            ok = fail(err, 400, "x_content_parse_exception", "[UpdateRequest] unknown field [%s]%s", k,
                      did_you_mean(k, hint, sizeof hint));
        }
    }
    cJSON_Delete(root);
    if (ok && !spec->doc && !spec->upsert)
        ok = fail(err, 400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;");
    if (!ok)
        store_bulk_update_free(spec);
    return ok;
}

/* Scalar meta value as text (strings decoded, numbers as written). */
static bool tok_text(const json_tok *t, buf *out)
{
    buf_reset(out);
    if (t->type == JSON_STRING)
        return json_unescape(t, out);
    if (t->type == JSON_NUMBER)
        return buf_append(out, t->p, t->n);
    return false;
}

static bool tok_long(const json_tok *t, buf *tmp, int64_t *out)
{
    return tok_text(t, tmp) && json_parse_long(tmp->data, tmp->len, out);
}

/* A name or enumerated value: decoded text without NUL bytes (C strings
 * from here on; "external\u0000x" must not read as "external"). */
static bool tok_name(const json_tok *t, buf *out)
{
    return tok_text(t, out) && !memchr(out->data ? out->data : "", '\0', out->len);
}

/* Strict boolean as Elasticsearch parses one: true, false or "true", "false". */
static int tok_bool(const json_tok *t, buf *tmp)
{
    if (t->type == JSON_TRUE)
        return 1;
    if (t->type == JSON_FALSE)
        return 0;
    if (t->type == JSON_STRING && tok_name(t, tmp))
        return strcmp(tmp->data ? tmp->data : "", "true") == 0 ? 1 : strcmp(tmp->data ? tmp->data : "", "false") == 0 ? 0 : -1;
    return -1;
}

/* `text` with each NUL shown as \u0000, for messages (arena copy). */
static char *shown_name(store_bulk *b, const char *text, size_t n)
{
    buf s = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        if (text[i])
            buf_putc(&s, text[i]);
        else
            buf_puts(&s, "\\u0000");
    char *out = arena_dup(b, s.data ? s.data : "", s.len);
    buf_free(&s);
    return out;
}

static bool add_item(store_bulk *b, store_bulk_item **out)
{
    if (b->n == b->cap && !GROW_ARRAY(b->items, b->cap, b->n + 1, 64))
        return false;
    *out = &b->items[b->n++];
    memset(*out, 0, sizeof **out);
    return true;
}

static void item_error(store_bulk_item *it, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void item_error(store_bulk_item *it, int status, const char *type, const char *fmt, ...)
{
    buf tmp = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&tmp, fmt, ap);
    va_end(ap);
    it->err_status = status;
    it->err_type = type;
    free(it->err_reason);
    it->err_reason = buf_steal(&tmp);
}

/* Parse one action line into `it`. False with err filled on a request-level error. */
static bool parse_action(store_bulk *b, const char *p, const char *end, int line, const char *default_index,
                         const char **last_index, store_bulk_item *it, buf *tmp, store_error *err)
{
    json_iter iter;
    json_tok k, v;
    const char *s = json_ws(p, end);
    if (s >= end || *s != '{') {
        json_tok t;
        if (s < end && json_scan(s, end, &t))
            return fail(err, 400, "illegal_argument_exception",
                        "Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", line,
                        token_name(&t));
        return fail(err, 400, "x_content_parse_exception",
                    "[%d:1] Unexpected character in action/metadata line [%d]: not valid JSON", line, line);
    }
    if (!json_is_object(s, (size_t)(end - s)))
        return fail(err, 400, "x_content_parse_exception",
                    "[%d:1] Unexpected character in action/metadata line [%d]: not valid JSON", line, line);
    json_obj_begin(&iter, s, end);
    int r = json_obj_next(&iter, &k, &v);
    if (r == 0)
        return fail(err, 400, "illegal_argument_exception",
                    "Malformed action/metadata line [%d], expected FIELD_NAME but found [END_OBJECT]", line);
    if (json_tok_eq(&k, "index"))
        it->action = STORE_BULK_INDEX, it->key = "index";
    else if (json_tok_eq(&k, "create"))
        it->action = STORE_BULK_CREATE, it->key = "create";
    else if (json_tok_eq(&k, "update"))
        it->action = STORE_BULK_UPDATE, it->key = "update";
    else if (json_tok_eq(&k, "delete"))
        it->action = STORE_BULK_DELETE, it->key = "delete";
    else {
        buf_reset(tmp);
        json_unescape(&k, tmp);
        return fail(err, 400, "illegal_argument_exception",
                    "Malformed action/metadata line [%d], expected one of [create, delete, index, update] but "
                    "found [%s]",
                    line, tmp->data ? tmp->data : "");
    }
    if (v.type != JSON_OBJECT)
        return fail(err, 400, "illegal_argument_exception",
                    "Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", line,
                    token_name(&v));
    if (json_obj_next(&iter, &k, &k) != 0)
        return fail(err, 400, "illegal_argument_exception",
                    "Malformed action/metadata line [%d], expected END_OBJECT but found [FIELD_NAME]", line);

    it->line = line;
    it->w.vtype = STORE_VT_INTERNAL;
    it->w.version = STORE_MATCH_ANY;
    it->w.if_seq_no = STORE_UNASSIGNED_SEQ_NO;
    it->w.if_primary_term = STORE_UNASSIGNED_TERM;
    it->w.has_id = true;
    bool has_version = false, has_vtype = false, has_index = false;
    it->require_alias = -1;
    json_iter meta;
    json_obj_begin(&meta, v.p, v.p + v.n);
    json_tok seen[32];
    size_t nseen = 0;
    while ((r = json_obj_next(&meta, &k, &v)) == 1) {
        bool scalar = v.type == JSON_STRING || v.type == JSON_NUMBER;
        /* Elasticsearch 8 parses with strict duplicate detection: a second
         * "_index" must not silently override the first. */
        for (size_t i = 0; i < nseen; i++) {
            buf_reset(tmp);
            if (json_unescape(&k, tmp) && json_tok_eq(&seen[i], tmp->data ? tmp->data : "") &&
                !memchr(tmp->data ? tmp->data : "", '\0', tmp->len))
                return fail(err, 400, "x_content_parse_exception", "[%d:%d] Duplicate field '%s'", line,
                            (int)(k.p + k.n + 1 - p) + 1, tmp->data ? tmp->data : "");
        }
        if (nseen < sizeof seen / sizeof *seen)
            seen[nseen++] = k;
        if (json_tok_eq(&k, "_index")) {
            if (v.type != JSON_STRING || !tok_text(&v, tmp))
                return fail(err, 400, "illegal_argument_exception",
                            "Malformed action/metadata line [%d], expected a simple value for field [_index] but "
                            "found [%s]",
                            line, token_name(&v));
            if (memchr(tmp->data ? tmp->data : "", '\0', tmp->len)) {
                /* No index can hold a NUL in its name: never act on the
                 * name cut at the NUL. Deleting from it finds nothing;
                 * creating it is refused. */
                if (!(it->index = shown_name(b, tmp->data, tmp->len)))
                    return fail(err, 500, "exception", "out of memory");
                if (it->action == STORE_BULK_DELETE)
                    item_error(it, 404, "index_not_found_exception", "no such index [%s]", it->index);
                else
                    item_error(it, 400, "invalid_index_name_exception",
                               "Invalid index name [%s], must not contain a NUL character", it->index);
                has_index = true;
                continue;
            }
            if (tmp->len && tmp->data[0] == '<') { /* a date-math name, as TransportBulkAction resolves it */
                buf name = BUF_INIT;
                bool resolved;
                const char *etype = "parse_exception";
                char why[512];
                int rc = store_datemath_resolve(tmp->data, store_util_now_ms(), &name, &resolved, &etype, why, sizeof why);
                if (rc == 1 && resolved) {
                    buf_reset(tmp);
                    buf_append(tmp, name.data, name.len);
                }
                buf_free(&name);
                if (rc < 0 || (resolved && !tmp->data))
                    return fail(err, 500, "exception", "out of memory");
                if (rc == 0) {
                    if (!(it->index = arena_dup(b, tmp->data, tmp->len)))
                        return fail(err, 500, "exception", "out of memory");
                    item_error(it, 400, etype, "%s", why);
                    has_index = true;
                    continue;
                }
            }
            if (*last_index && strcmp(*last_index, tmp->data ? tmp->data : "") == 0)
                it->index = *last_index;
            else if (!(it->index = *last_index = arena_dup(b, tmp->data ? tmp->data : "", tmp->len)))
                return fail(err, 500, "exception", "out of memory");
            has_index = true;
        } else if (json_tok_eq(&k, "_id")) {
            if (!scalar || !tok_text(&v, tmp))
                return fail(err, 400, "illegal_argument_exception",
                            "Malformed action/metadata line [%d], expected a simple value for field [_id] but found "
                            "[%s]",
                            line, token_name(&v));
            if (!(it->id = arena_dup(b, tmp->data ? tmp->data : "", tmp->len)))
                return fail(err, 500, "exception", "out of memory");
            it->id_len = tmp->len;
        } else if (json_tok_eq(&k, "version")) {
            if (!scalar || !tok_long(&v, tmp, &it->w.version))
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse long value [%.*s] for field [version] in action/metadata line [%d]",
                            (int)v.n, v.p, line);
            has_version = true;
        } else if (json_tok_eq(&k, "version_type")) {
            if (!tok_name(&v, tmp) || !store_vtype_parse(tmp->data, &it->w.vtype))
                return fail(err, 400, "illegal_argument_exception", "No version type match [%.*s]",
                            (int)v.n, v.p);
            has_vtype = true;
        } else if (json_tok_eq(&k, "if_seq_no")) {
            if (!scalar || !tok_long(&v, tmp, &it->w.if_seq_no))
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse long value [%.*s] for field [if_seq_no] in action/metadata line [%d]",
                            (int)v.n, v.p, line);
            if (it->w.if_seq_no < 0 && it->w.if_seq_no != STORE_UNASSIGNED_SEQ_NO)
                return fail(err, 400, "illegal_argument_exception",
                            "sequence numbers must be non negative. got [%lld].", (long long)it->w.if_seq_no);
        } else if (json_tok_eq(&k, "if_primary_term")) {
            if (!scalar || !tok_long(&v, tmp, &it->w.if_primary_term))
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse long value [%.*s] for field [if_primary_term] in action/metadata line "
                            "[%d]",
                            (int)v.n, v.p, line);
            if (it->w.if_primary_term < 0)
                return fail(err, 400, "illegal_argument_exception", "primary term must be non negative. got [%lld]",
                            (long long)it->w.if_primary_term);
        } else if (json_tok_eq(&k, "op_type")) {
            if (!tok_name(&v, tmp))
                return fail(err, 400, "illegal_argument_exception", "opType must be 'create' or 'index', found: [%.*s]",
                            (int)v.n, v.p);
            if (strcmp(tmp->data, "create") == 0) {
                if (it->action == STORE_BULK_INDEX)
                    it->action = STORE_BULK_CREATE, it->key = "create";
            } else if (strcmp(tmp->data, "index") != 0) {
                return fail(err, 400, "illegal_argument_exception", "opType must be 'create' or 'index', found: [%s]",
                            tmp->data);
            }
        } else if (json_tok_eq(&k, "retry_on_conflict")) {
            int64_t n;
            if (!scalar || !tok_long(&v, tmp, &n) || n < INT32_MIN || n > INT32_MAX)
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse int value [%.*s] for field [retry_on_conflict] in action/metadata line "
                            "[%d]",
                            (int)v.n, v.p, line);
        } else if (json_tok_eq(&k, "require_alias")) {
            int ra = tok_bool(&v, tmp);
            if (ra < 0)
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse value [%.*s] as only [true] or [false] are allowed.", (int)v.n, v.p);
            it->require_alias = (signed char)ra;
        } else if (json_tok_eq(&k, "pipeline")) {
            /* verstore has no ingest pipelines: a named one does not exist
             * (as Elasticsearch answers for an unknown pipeline); "_none"
             * asks for none. */
            if (!tok_name(&v, tmp))
                return fail(err, 400, "illegal_argument_exception",
                            "Malformed action/metadata line [%d], expected a simple value for field [pipeline] but "
                            "found [%s]",
                            line, token_name(&v));
            if (strcmp(tmp->data ? tmp->data : "", "_none") != 0)
                item_error(it, 400, "illegal_argument_exception", "pipeline with id [%s] does not exist",
                           tmp->data ? tmp->data : "");
        } else if (json_tok_eq(&k, "require_data_stream")) {
            int rd = tok_bool(&v, tmp);
            if (rd < 0)
                return fail(err, 400, "illegal_argument_exception",
                            "Failed to parse value [%.*s] as only [true] or [false] are allowed.", (int)v.n, v.p);
            if (rd)
                item_error(it, 400, "illegal_argument_exception",
                           "[require_data_stream] is true, and verstore has no data streams");
        } else if (json_tok_eq(&k, "dynamic_templates")) {
            json_iter dt;
            json_tok dk, dv;
            if (v.type != JSON_OBJECT)
                return fail(err, 400, "illegal_argument_exception",
                            "Malformed action/metadata line [%d], expected an object for field [dynamic_templates]",
                            line);
            json_obj_begin(&dt, v.p, v.p + v.n);
            if (json_obj_next(&dt, &dk, &dv) == 1) /* an empty map asks for nothing */
                item_error(it, 400, "illegal_argument_exception", "verstore does not support dynamic templates");
        } else if (json_tok_eq(&k, "routing") || json_tok_eq(&k, "_source") ||
                   json_tok_eq(&k, "list_executed_pipelines")) {
            /* accepted; single node */
        } else {
            buf_reset(tmp);
            json_unescape(&k, tmp);
            return fail(err, 400, "illegal_argument_exception",
                        "Action/metadata line [%d] contains an unknown parameter [%s]", line,
                        tmp->data ? tmp->data : "");
        }
    }
    if (r < 0)
        return fail(err, 400, "x_content_parse_exception", "[%d:1] malformed action/metadata line [%d]", line, line);
    if (it->action == STORE_BULK_UPDATE && (has_version || has_vtype))
        return fail(err, 400, "illegal_argument_exception",
                    "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead");
    if (!has_index && default_index) {
        if (*last_index && strcmp(*last_index, default_index) == 0)
            it->index = *last_index;
        else if (!(it->index = *last_index = arena_dup(b, default_index, strlen(default_index))))
            return fail(err, 500, "exception", "out of memory");
    }
    switch (it->action) {
    case STORE_BULK_INDEX: it->w.kind = STORE_OP_INDEX; break;
    case STORE_BULK_CREATE: it->w.kind = STORE_OP_CREATE; break;
    case STORE_BULK_UPDATE: it->w.kind = STORE_OP_UPDATE; break;
    case STORE_BULK_DELETE: it->w.kind = STORE_OP_DELETE; break;
    }
    return true;
}

bool store_bulk_parse(const char *body, size_t len, const char *default_index, store_bulk *b, store_error *err)
{
    memset(b, 0, sizeof *b);
    buf tmp = BUF_INIT;
    store_msgs msgs = {BUF_INIT, 0};
    bool ok = false;
    const char *last_index = NULL;
    if (len == 0) {
        fail(err, 400, "parse_exception", "request body is required");
        goto done;
    }
    if (body[len - 1] != '\n') {
        fail(err, 400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]");
        goto done;
    }
    const char *p = body, *end = body + len;
    int line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *ls = p;
        p = nl ? nl + 1 : end;
        if (le > ls && le[-1] == '\r')
            le--;
        if (json_ws(ls, le) == le)
            continue; /* empty line */
        store_bulk_item *it;
        if (!add_item(b, &it)) {
            fail(err, 500, "exception", "out of memory");
            goto done;
        }
        if (!parse_action(b, ls, le, line, default_index, &last_index, it, &tmp, err))
            goto done;
        if (it->action == STORE_BULK_DELETE)
            continue;
        /* the source line */
        const char *ss = NULL, *se = NULL;
        while (p < end) {
            nl = memchr(p, '\n', (size_t)(end - p));
            le = nl ? nl : end;
            line++;
            ls = p;
            p = nl ? nl + 1 : end;
            if (le > ls && le[-1] == '\r')
                le--;
            if (json_ws(ls, le) == le)
                continue;
            ss = ls, se = le;
            break;
        }
        if (!ss) {
            store_msgs_add(&msgs, "source is missing");
            continue;
        }
        if (it->action == STORE_BULK_UPDATE) {
            store_error uerr = {0};
            if (!store_bulk_parse_update(ss, (size_t)(se - ss), &it->upd, &uerr)) {
                if (uerr.status == 400 && strcmp(uerr.type, "action_request_validation_exception") == 0) {
                    store_msgs_add(&msgs, "script or doc is missing");
                    store_error_free(&uerr);
                    continue;
                }
                *err = uerr;
                goto done;
            }
        } else {
            it->src = ss;
            it->src_len = (size_t)(se - ss);
        }
    }
    if (b->n == 0) {
        fail(err, 400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        goto done;
    }
    /* All-or-nothing validation, numbered across items like BulkRequest.validate. */
    for (size_t i = 0; i < b->n; i++) {
        store_bulk_item *it = &b->items[i];
        if (!it->index)
            store_msgs_add(&msgs, "index is missing");
        if (!it->id && (it->action == STORE_BULK_DELETE || it->action == STORE_BULK_UPDATE))
            store_msgs_add(&msgs, "id is missing");
        it->w.has_id = it->id != NULL;
        store_version_validate(&it->w, it->id, it->id_len, &msgs);
    }
    if (msgs.count) {
        fail(err, 400, "action_request_validation_exception", "Validation Failed: ");
        buf_append(&err->reason, msgs.text.data, msgs.text.len);
        goto done;
    }
    /* Execution-time problems settle single items. */
    for (size_t i = 0; i < b->n; i++) {
        store_bulk_item *it = &b->items[i];
        buf reason = BUF_INIT;
        if (it->err_status) { /* settled while parsing its action line */
            if (!it->id) {
                store_util_auto_id(it->auto_id);
                it->id = it->auto_id;
                it->id_len = 20;
            }
            continue;
        }
        if (!store_router_valid_index(it->index, &reason)) {
            item_error(it, 400, "invalid_index_name_exception", "%s", reason.data);
            buf_free(&reason);
            continue;
        }
        buf_free(&reason);
        if (it->id && it->id_len == 0) {
            item_error(it, 400, "illegal_argument_exception", "if _id is specified it must not be empty");
            continue;
        }
        if (!it->id) {
            store_util_auto_id(it->auto_id);
            it->id = it->auto_id;
            it->id_len = 20;
        }
        if ((it->action == STORE_BULK_INDEX || it->action == STORE_BULK_CREATE) &&
            !json_is_object(it->src, it->src_len))
            item_error(it, 400, "mapper_parsing_exception", "failed to parse");
    }
    ok = true;
done:
    buf_free(&tmp);
    store_msgs_free(&msgs);
    return ok;
}
