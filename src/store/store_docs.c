/* store_docs — verstore's document endpoints: get, _source, _mget, index/create/update/delete, _bulk. */
#include "versync/store/store_docs.h"
#include "versync/common/timing.h"

#include "versync/store/store_api_int.h"
#include "versync/store/store_admin.h"
#include "versync/store/store_req.h"
#include "versync/store/store_resp.h"
#include "versync/store/store_routes.h"
#include "versync/store/store_metrics.h"
#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_bulk.h"
#include "versync/store/store_analysis.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
#include "versync/store/store_router.h"
#include "versync/store/store_search.h"
#include "versync/store/store_indices.h"
#include "versync/store/store_srcfilter.h"
#include "versync/store/store_util.h"
#include "versync/store/store_version.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- document reads ----------------------------------------------------------- */

/* One GET-shaped object (found or not) for index `meta`/`index`. */
static void doc_object(buf *b, const char *index, const char *type, const char *id, size_t id_len,
                       const store_doc_view *v, bool found, const store_srcfilter *f)
{
    buf_puts(b, "{\"_index\":");
    store_resp_jstr(b, index);
    if (type) {
        buf_puts(b, ",\"_type\":");
        store_resp_jstr(b, type);
    }
    buf_puts(b, ",\"_id\":");
    store_resp_jstrn(b, id, id_len);
    if (!found) {
        buf_puts(b, ",\"found\":false}");
        return;
    }
    buf_printf(b, ",\"_version\":%" PRId64, v->st.version);
    if (!type)
        buf_printf(b, ",\"_seq_no\":%" PRId64 ",\"_primary_term\":%" PRId64, v->st.seq_no, v->st.term);
    buf_puts(b, ",\"found\":true");
    if ((!f || !f->none) && !v->source_disabled) {
        buf_puts(b, ",\"_source\":");
        store_srcfilter_put(b, v->src, v->src_len, f);
    }
    buf_putc(b, '}');
}

void store_docs_get(store_api *api, const store_req *req, const store_match *m, bool legacy, bool source_only,
                    bool head, store_resp *r)
{
    int64_t version = STORE_MATCH_ANY;
    bool present;
    if (!store_req_long(req, "version", &version, &present, r))
        return;
    const char *vt = store_req_param(req, "version_type");
    store_vtype vtype;
    if (vt && !store_vtype_parse(vt, &vtype)) {
        store_resp_errorf(r, 400, "illegal_argument_exception", "No version type match [%s]", vt);
        return;
    }
    if (m->id_len > STORE_MAX_ID_BYTES) {
        store_msgs msgs = {BUF_INIT, 0};
        store_msgs_add(&msgs, "id [%.*s] is too long, must be no longer than 512 bytes but was: %zu", (int)m->id_len,
                       m->id, m->id_len);
        store_resp_validation_error(r, &msgs);
        store_msgs_free(&msgs);
        return;
    }
    store_rtxn *t = store_engine_read_begin(api->e);
    if (!t) {
        store_resp_storage_error(r);
        return;
    }
    store_index_meta meta;
    store_doc_view v;
    store_srcfilter f;
    store_srcfilter_from_params(&f, store_req_param(req, "_source"), store_req_param(req, "_source_includes"), store_req_param(req, "_source_excludes"));
    store_lookup rc = store_engine_index_resolve(t, m->index, false, &meta, NULL, NULL);
    if (!store_admin_index_found(api, r, rc, m->index, head))
        goto done;
    rc = store_engine_doc_get(t, &meta, m->id, m->id_len, &v);
    if (rc == STORE_LOOKUP_FAILED) {
        store_resp_storage_error(r);
        goto done;
    }
    bool found = rc == STORE_LOOKUP_FOUND && !v.st.deleted;
    char explain[200];
    if (found && store_version_read_conflict(version, &v.st, explain, sizeof explain)) {
        store_resp_conflict(r, legacy ? m->type : NULL, m->id, m->id_len, explain, meta.uuid, meta.name);
        goto done;
    }
    /* An index whose mapping disables _source has none to show (RestGetSourceAction). */
    bool no_source = found && v.source_disabled;
    if (head) {
        r->status = found && !(source_only && no_source) ? 200 : 404;
        goto done;
    }
    if (source_only) {
        if (f.none) {
            store_msgs msgs = {BUF_INIT, 0};
            store_msgs_add(&msgs, "fetching source can not be disabled");
            store_resp_validation_error(r, &msgs);
            store_msgs_free(&msgs);
            goto done;
        }
        if (!found || no_source) {
            /* Elasticsearch 8's reasons; the typed path keeps 6.x's form */
            buf reason = BUF_INIT;
            buf_printf(&reason, "%s not found [%s]/[", found ? "Source" : "Document", meta.name);
            if (legacy)
                buf_printf(&reason, "%s]/[", m->type);
            buf_append(&reason, m->id, m->id_len);
            buf_putc(&reason, ']');
            store_resp_error_n(r, 404, "resource_not_found_exception", reason.data, reason.len, NULL, NULL);
            buf_free(&reason);
            goto done;
        }
        store_srcfilter_put(&r->body, v.src, v.src_len, &f);
        goto done;
    }
    r->status = found ? 200 : 404;
    doc_object(&r->body, meta.name, legacy ? m->type : NULL, m->id, m->id_len, &v, found, &f);
done:
    store_srcfilter_free(&f);
    store_engine_read_end(t);
}

/* Text of a string or integral number id (heap), NULL otherwise. */
static char *id_text(const cJSON *v, size_t *len)
{
    char tmp[64];
    if (cJSON_IsString(v)) {
        /* Ids are bytes, NUL included: put back the NULs the body had
         * (parse_json_body marked them). */
        buf id = BUF_INIT;
        const char *s = v->valuestring, *mk;
        size_t ml = strlen(STORE_JSON_NUL_MARK);
        while ((mk = strstr(s, STORE_JSON_NUL_MARK))) {
            buf_append(&id, s, (size_t)(mk - s));
            buf_putc(&id, '\0');
            s = mk + ml;
        }
        buf_puts(&id, s);
        if (!buf_reserve(&id, 1)) {
            buf_free(&id);
            return NULL;
        }
        *len = id.len;
        return buf_steal(&id);
    }
    if (cJSON_IsNumber(v)) {
        snprintf(tmp, sizeof tmp, "%.17g", v->valuedouble);
        *len = strlen(tmp);
        return strdup(tmp);
    }
    return NULL;
}

/* Elements of the top-level "docs" and "ids" arrays, counted without
 * building the JSON tree (what a body of millions of ids would cost). */
static size_t mget_count(const char *s, size_t n)
{
    json_iter it;
    json_tok k, v;
    size_t count = 0;
    if (!json_obj_begin(&it, s, s + n))
        return 0;
    while (json_obj_next(&it, &k, &v) == 1) {
        if (v.type != JSON_ARRAY || (!json_tok_eq(&k, "docs") && !json_tok_eq(&k, "ids")))
            continue;
        const char *p = json_ws(v.p + 1, v.p + v.n), *end = v.p + v.n - 1;
        while (p && p < end) {
            p = json_scan(p, end, NULL);
            count++;
            p = p ? json_ws(p, end) : NULL;
            if (p && *p == ',')
                p = json_ws(p + 1, end);
        }
    }
    return count;
}

void store_docs_mget(store_api *api, const store_req *req, const store_match *m, store_resp *r)
{
    uint64_t held = 0; /* bytes of the answer reserved in the memory breaker */
    cJSON *body = NULL;
    store_msgs msgs = {BUF_INIT, 0};
    store_srcfilter deff;
    store_srcfilter_from_params(&deff, store_req_param(req, "_source"), store_req_param(req, "_source_includes"), store_req_param(req, "_source_excludes"));
    store_rtxn *t = NULL;
    if (json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
        store_resp_error(r, 400, "parse_exception", "request body is required");
        goto done;
    }
    size_t count = mget_count(req->body, req->body_len);
    if (count > STORE_MGET_MAX_DOCS) {
        store_resp_errorf(r, 400, "illegal_argument_exception",
               "a multi get request may ask for at most %d documents, this one asks for %zu", STORE_MGET_MAX_DOCS,
               count);
        goto done;
    }
    if (!store_req_json_body(req, &body, r))
        goto done;
    if (!cJSON_IsObject(body)) {
        store_resp_error(r, 400, "parse_exception", "request body must be a JSON object");
        goto done;
    }
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(body, "docs");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    for (const cJSON *it = body->child; it; it = it->next)
        if (strcmp(it->string, "docs") != 0 && strcmp(it->string, "ids") != 0) {
            store_resp_errorf(r, 400, "parsing_exception", "unknown key [%s] for a multi get request", it->string);
            goto done;
        }
    if ((docs && !cJSON_IsArray(docs)) || (ids && !cJSON_IsArray(ids))) {
        store_resp_error(r, 400, "parsing_exception", "docs and ids must be arrays");
        goto done;
    }
    size_t n = (size_t)(docs ? cJSON_GetArraySize(docs) : 0) + (size_t)(ids ? cJSON_GetArraySize(ids) : 0);
    if (n == 0)
        store_msgs_add(&msgs, "no documents to get");
    const cJSON *it;
    if (docs)
        cJSON_ArrayForEach(it, docs)
        {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "_index");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "_id");
            if (!cJSON_IsObject(it)) {
                store_msgs_add(&msgs, "id is missing");
                continue;
            }
            if (!cJSON_IsString(ix) && !m->index)
                store_msgs_add(&msgs, "index is missing");
            if (!cJSON_IsString(id) && !cJSON_IsNumber(id))
                store_msgs_add(&msgs, "id is missing");
        }
    if (ids) {
        cJSON_ArrayForEach(it, ids)
        {
            if (!m->index)
                store_msgs_add(&msgs, "index is missing");
            if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
                store_msgs_add(&msgs, "id is missing");
        }
    }
    if (msgs.count) {
        store_resp_validation_error(r, &msgs);
        goto done;
    }
    if (!(t = store_engine_read_begin(api->e))) {
        store_resp_storage_error(r);
        goto done;
    }
    buf *b = &r->body;
    buf_puts(b, "{\"docs\":[");
    bool first = true;
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *arr = pass == 0 ? docs : ids;
        if (!arr)
            continue;
        cJSON_ArrayForEach(it, arr)
        {
            const char *index = m->index;
            size_t id_len = 0;
            char *id = NULL;
            store_srcfilter f = {0};
            const store_srcfilter *fp = &deff;
            int64_t version = STORE_MATCH_ANY;
            if (pass == 0) {
                const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "_index");
                if (cJSON_IsString(ix))
                    index = ix->valuestring;
                id = id_text(cJSON_GetObjectItemCaseSensitive(it, "_id"), &id_len);
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "_source");
                if (s) {
                    store_srcfilter_from_json(s, &f);
                    fp = &f;
                }
                const cJSON *ver = cJSON_GetObjectItemCaseSensitive(it, "version");
                if (cJSON_IsNumber(ver) && ver->valuedouble >= -9.2e18 && ver->valuedouble <= 9.2e18)
                    version = (int64_t)ver->valuedouble;
            } else {
                id = id_text(it, &id_len);
            }
            if (!first)
                buf_putc(b, ',');
            first = false;
            store_index_meta meta;
            store_doc_view v;
            store_lookup rc = id ? store_engine_index_resolve(t, index, false, &meta, NULL, NULL) : STORE_LOOKUP_FAILED;
            if (rc == STORE_LOOKUP_FOUND && store_engine_doc_get(t, &meta, id, id_len, &v) == STORE_LOOKUP_FAILED)
                rc = STORE_LOOKUP_FAILED;
            if (rc == STORE_LOOKUP_UNRESOLVED) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id ? id : "", id_len);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"alias has "
                            "more than one index associated with it\"}],\"type\":\"illegal_argument_exception\","
                            "\"reason\":\"alias has more than one index associated with it\"}}");
            } else if (rc == STORE_LOOKUP_FAILED) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id ? id : "", id_len);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"exception\",\"reason\":\"storage failure\"}],"
                            "\"type\":\"exception\",\"reason\":\"storage failure\"}}");
            } else if (rc == STORE_LOOKUP_MISSING) {
                buf_puts(b, "{\"_index\":");
                store_resp_jstr(b, index);
                buf_puts(b, ",\"_id\":");
                store_resp_jstrn(b, id, id_len);
                buf x = BUF_INIT, reason = BUF_INIT;
                store_resp_not_found_extra(&x, index);
                buf_printf(&reason, "no such index [%s]", index);
                buf_puts(b, ",\"error\":{\"root_cause\":[{\"type\":\"index_not_found_exception\",\"reason\":");
                store_resp_jstr(b, reason.data);
                buf_puts(b, x.data);
                buf_puts(b, "}],\"type\":\"index_not_found_exception\",\"reason\":");
                store_resp_jstr(b, reason.data);
                buf_puts(b, x.data);
                buf_puts(b, "}}");
                buf_free(&x);
                buf_free(&reason);
            } else {
                bool found = !v.st.deleted && v.st.exists;
                char explain[200];
                if (found && store_version_read_conflict(version, &v.st, explain, sizeof explain)) {
                    store_resp tmp;
                    store_resp_init(&tmp);
                    store_resp_conflict(&tmp, NULL, id, id_len, explain, meta.uuid, meta.name);
                    buf_puts(b, "{\"_index\":");
                    store_resp_jstr(b, meta.name);
                    buf_puts(b, ",\"_id\":");
                    store_resp_jstrn(b, id, id_len);
                    buf_puts(b, ",");
                    /* the error object without the outer braces and status */
                    const char *e = strstr(tmp.body.data, "\"error\":");
                    const char *s = strstr(tmp.body.data, ",\"status\":");
                    if (e && s)
                        buf_append(b, e, (size_t)(s - e));
                    buf_putc(b, '}');
                    store_resp_free(&tmp);
                } else {
                    doc_object(b, meta.name, NULL, id, id_len, &v, found, fp);
                }
            }
            free(id);
            store_srcfilter_free(&f);
            /* The answer grows with each document: hold it in the memory
             * breaker, in 1 MiB steps, and refuse rather than grow past it. */
            if (b->len > held) {
                char reason[320];
                uint64_t step = b->len - held < 1048576 ? 1048576 : b->len - held;
                if (!store_breaker_add(step, "<mget_response>", reason, sizeof reason)) {
                    store_breaker_error_body(b, reason);
                    r->status = 429;
                    goto done;
                }
                held += step;
            }
        }
    }
    buf_puts(b, "]}");
done:
    store_breaker_release(held); /* the HTTP layer accounts the finished answer */
    if (t)
        store_engine_read_end(t);
    store_msgs_free(&msgs);
    store_srcfilter_free(&deff);
    cJSON_Delete(body);
}

/* ---- document writes ------------------------------------------------------------ */

static void source_error(store_resp *r, const char *body, size_t n)
{
    if (json_ws(body, body + n) == body + n) {
        store_resp_error(r, 400, "parse_exception", "request body is required");
        return;
    }
    bool valid = json_is_valid(body, n);
    store_resp_error_n(r, 400, "mapper_parsing_exception", "failed to parse", 15, NULL,
                 valid ? "{\"type\":\"not_x_content_exception\",\"reason\":\"the document source must be a JSON object\"}"
                       : "{\"type\":\"json_parse_exception\",\"reason\":\"malformed JSON in the document source\"}");
}

store_call *store_docs_write(store_api *api, const store_req *req, store_match *m, store_opkind kind, bool legacy,
                             bool auto_id, store_resp *resp)
{
    store_wparams w;
    bool has_version, has_vtype, forced, require_alias;
    store_msgs msgs = {BUF_INIT, 0};
    if (!store_req_refresh(req, &forced, resp) || !store_req_write_params(req, &w, &has_version, &has_vtype, resp) ||
        !store_req_bool(req, "require_alias", false, &require_alias, resp) || !store_req_pipeline(req, resp))
        return NULL;
    if (kind == STORE_OP_UPDATE && store_req_param(req, "retry_on_conflict")) {
        /* Honoured trivially (one writer: an update never conflicts with a
         * concurrent one mid-way), but the value must be an int. */
        int64_t n;
        const char *v = store_req_param(req, "retry_on_conflict");
        if (!json_parse_long(v, strlen(v), &n) || n < INT32_MIN || n > INT32_MAX) {
            store_resp_errorf(resp, 400, "illegal_argument_exception",
                   "Failed to parse int parameter [retry_on_conflict] with value [%s]", v);
            return NULL;
        }
    }
    const char *op_type = store_req_param(req, "op_type");
    if (op_type && kind == STORE_OP_INDEX) {
        if (strcmp(op_type, "create") == 0)
            kind = STORE_OP_CREATE;
        else if (strcmp(op_type, "index") != 0) {
            store_resp_errorf(resp, 400, "illegal_argument_exception", "opType must be 'create' or 'index', found: [%s]", op_type);
            return NULL;
        }
    }
    w.kind = kind;
    w.legacy = legacy;
    w.has_id = !auto_id;
    if (kind == STORE_OP_UPDATE) {
        if (!legacy && store_version_update_refused(has_version, has_vtype)) {
            store_msgs_add(&msgs, "internal versioning can not be used for optimistic concurrency control. "
                                  "Please use `if_seq_no` and `if_primary_term` instead");
            store_resp_validation_error(resp, &msgs);
            store_msgs_free(&msgs);
            return NULL;
        }
        if (legacy && w.vtype != STORE_VT_INTERNAL) {
            store_msgs_add(&msgs, "version type [%s] is not supported by the update API", store_vtype_name(w.vtype));
            store_resp_validation_error(resp, &msgs);
            store_msgs_free(&msgs);
            return NULL;
        }
    }
    store_version_validate(&w, auto_id ? NULL : m->id, m->id_len, &msgs);
    if (msgs.count) {
        store_resp_validation_error(resp, &msgs);
        store_msgs_free(&msgs);
        return NULL;
    }
    /* Every write that may create the index checks its name first. */
    bool creates = kind == STORE_OP_INDEX || kind == STORE_OP_CREATE ||
                   (kind == STORE_OP_DELETE && w.vtype != STORE_VT_INTERNAL) || kind == STORE_OP_UPDATE;
    if (creates) {
        buf reason = BUF_INIT;
        bool valid = store_router_valid_index(m->index, &reason);
        if (!valid)
            store_resp_invalid_index(resp, m->index, &reason);
        buf_free(&reason);
        if (!valid)
            return NULL;
    }
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        return NULL;
    c->kind = CALL_WRITE;
    c->legacy = legacy;
    c->forced_refresh = forced;
    if (store_req_param(req, "routing") && !(c->routing = strdup(store_req_param(req, "routing")))) {
        store_resp_error(resp, 500, "exception", "out of memory");
        store_api_call_free(c);
        return NULL;
    }
    if (kind == STORE_OP_UPDATE) {
        store_error err = {0};
        if (json_ws(req->body, req->body + req->body_len) == req->body + req->body_len) {
            store_resp_error(resp, 400, "parse_exception", "request body is required");
            store_api_call_free(c);
            return NULL;
        }
        if (!store_bulk_parse_update(req->body, req->body_len, &c->upd, &err)) {
            store_resp_error_n(resp, err.status, err.type, err.reason.data, err.reason.len, NULL, NULL);
            store_error_free(&err);
            store_api_call_free(c);
            return NULL;
        }
        c->op.upd = &c->upd;
        const char *ps = store_req_param(req, "_source"), *pi = store_req_param(req, "_source_includes"),
                   *pe = store_req_param(req, "_source_excludes");
        if (ps || pi || pe) { /* the URL's _source wins over the body's, as in Elasticsearch */
            c->upd_src_params = true;
            store_srcfilter_from_params(&c->upd_filter, ps, pi, pe);
            /* tells the writer to keep a noop's source for the response */
            if (!c->upd.fetch_source && !(c->upd.fetch_source = cJSON_CreateTrue())) {
                store_resp_error(resp, 500, "exception", "out of memory");
                store_api_call_free(c);
                return NULL;
            }
        }
    } else if (kind != STORE_OP_DELETE) {
        if (!json_is_object(req->body, req->body_len)) {
            source_error(resp, req->body, req->body_len);
            store_api_call_free(c);
            return NULL;
        }
        c->op.src = req->body;
        c->op.src_len = req->body_len;
    }
    if (auto_id) {
        store_util_auto_id(c->auto_id);
        c->op.id = c->auto_id;
        c->op.id_len = 20;
        /* auto ids are fresh: the write creates (ES runs it as op_type=create) */
        if (w.kind == STORE_OP_INDEX && w.vtype == STORE_VT_INTERNAL && w.version == STORE_MATCH_ANY)
            w.kind = STORE_OP_CREATE;
    } else {
        c->op.id = c->m.id;
        c->op.id_len = c->m.id_len;
    }
    c->op.w = w;
    c->op.require_alias = require_alias;
    c->op.index = c->m.index;
    c->job.kind = STORE_JOB_DOCS;
    c->job.ops = &c->op;
    c->job.nops = 1;
    return c;
}

/* An update's "get" object, when the request asked for the source (`_source`
 * in the URL or the body, as Elasticsearch's UpdateResponse): the document as
 * written (or left, for a noop), filtered as asked. */
static void update_get(buf *b, const store_call *c, const store_op *op, bool in_bulk)
{
    if (op->w.kind != STORE_OP_UPDATE || !op->upd || !op->new_src)
        return;
    store_srcfilter body = {0};
    const store_srcfilter *f = &body;
    if (!in_bulk && c->upd_src_params)
        f = &c->upd_filter;
    else if (op->upd->fetch_source)
        store_srcfilter_from_json(op->upd->fetch_source, &body);
    else
        return;
    if (!f->none) {
        buf_puts(b, ",\"get\":{\"_seq_no\":");
        store_resp_jint(b, op->seq_no);
        buf_puts(b, ",\"_primary_term\":");
        store_resp_jint(b, op->term);
        buf_puts(b, ",\"found\":true,\"_source\":");
        store_srcfilter_put(b, op->new_src, op->new_src_len, f);
        buf_putc(b, '}');
    }
    store_srcfilter_free(&body);
}

/* The success body of a write (modern or legacy form). */
static void write_body(buf *b, const store_call *c, const store_op *op, bool in_bulk)
{
    bool legacy = c->legacy && !in_bulk;
    bool noop = op->dec.result == STORE_RES_NOOP;
    if (legacy && op->w.kind == STORE_OP_DELETE)
        buf_printf(b, "{\"found\":%s,\"_index\":", op->dec.result == STORE_RES_DELETED ? "true" : "false");
    else
        buf_puts(b, "{\"_index\":");
    store_resp_jstr(b, op->index);
    if (legacy) {
        buf_puts(b, ",\"_type\":");
        store_resp_jstr(b, c->m.type);
    }
    buf_puts(b, ",\"_id\":");
    store_resp_jstrn(b, op->id, op->id_len);
    buf_puts(b, ",\"_version\":");
    store_resp_jint(b, op->version);
    buf_puts(b, ",\"result\":\"");
    buf_puts(b, store_result_name(op->dec.result));
    buf_puts(b, "\",");
    if (c->forced_refresh && !noop)
        buf_puts(b, "\"forced_refresh\":true,");
    store_resp_shards(b, noop ? 0 : op->shards_total, noop ? 0 : 1);
    if (legacy) {
        if (op->w.kind == STORE_OP_INDEX || op->w.kind == STORE_OP_CREATE)
            buf_printf(b, ",\"created\":%s", op->dec.result == STORE_RES_CREATED ? "true" : "false");
    } else {
        buf_puts(b, ",\"_seq_no\":");
        store_resp_jint(b, op->seq_no);
        buf_puts(b, ",\"_primary_term\":");
        store_resp_jint(b, op->term);
    }
    update_get(b, c, op, in_bulk);
    if (in_bulk) {
        buf_puts(b, ",\"status\":");
        store_resp_jint(b, op->dec.status);
    }
    buf_putc(b, '}');
}

/* The error object (type, reason, extras; *cause its caused_by JSON object or
 * NULL, owned by the op) of a failed op, and its status. */
static int op_error(const store_call *c, const store_op *op, bool in_bulk, const char **type, buf *reason, buf *extra,
                    const char **cause)
{
    *cause = op->err == STORE_OPERR_MAPPING ? op->cause : NULL;
    const char *t = c->legacy && !in_bulk ? c->m.type : NULL;
    switch (op->err) {
    case STORE_OPERR_CONFLICT: {
        buf rest = BUF_INIT;
        buf_printf(&rest, "version conflict, %s", op->dec.explain);
        store_resp_id_reason(reason, t, op->id, op->id_len, rest.data ? rest.data : ""); /* NULL out of memory */
        buf_free(&rest);
        store_resp_index_extra(extra, op->uuid, op->index);
        *type = "version_conflict_engine_exception";
        return 409;
    }
    case STORE_OPERR_DOC_MISSING:
        store_resp_id_reason(reason, t, op->id, op->id_len, "document missing");
        store_resp_index_extra(extra, op->uuid, op->index);
        *type = "document_missing_exception";
        return 404;
    case STORE_OPERR_INDEX_MISSING:
        buf_printf(reason, "no such index [%s]", op->index);
        store_resp_not_found_extra(extra, op->index);
        *type = "index_not_found_exception";
        return 404;
    case STORE_OPERR_NO_WRITE_INDEX:
        buf_printf(reason,
                   "no write index is defined for alias [%s]. The write index may be explicitly disabled using "
                   "is_write_index=false or the alias points to multiple indices without one being designated as a "
                   "write index",
                   op->index);
        *type = "illegal_argument_exception";
        return 400;
    case STORE_OPERR_NOT_ALIAS:
        buf_printf(reason, "no such index [%s] and [require_alias] request flag is [true] and [%s] is not an alias",
                   op->index, op->index);
        store_resp_not_found_extra(extra, op->index);
        *type = "index_not_found_exception";
        return 404;
    case STORE_OPERR_MAPPING:
        buf_puts(reason, op->reason ? op->reason : "failed to parse");
        *type = op->reason_type ? op->reason_type : "document_parsing_exception";
        return 400;
    case STORE_OPERR_BAD_SOURCE:
        buf_puts(reason, "failed to parse the stored document");
        *type = "mapper_parsing_exception";
        return 400;
    case STORE_OPERR_DISK_FULL:
        buf_printf(reason, STORE_DISK_BLOCK_REASON, op->index);
        *type = "cluster_block_exception";
        return STORE_DISK_BLOCK_STATUS;
    default:
        buf_puts(reason, "storage failure, see the verstore log");
        *type = "exception";
        return 500;
    }
}

void store_docs_finish_write(store_call *c, store_resp *r)
{
    store_op *op = &c->op;
    if (op->err == STORE_OPERR_CONFLICT)
        store_metrics_conflict();
    if (op->err != STORE_OPERR_NONE) {
        const char *type, *cause;
        buf reason = BUF_INIT, extra = BUF_INIT;
        int status = op_error(c, op, false, &type, &reason, &extra, &cause);
        store_resp_error_n(r, status, type, reason.data, reason.len, extra.data, cause);
        buf_free(&reason);
        buf_free(&extra);
        return;
    }
    r->status = op->dec.status;
    write_body(&r->body, c, op, false);
    if (r->status == 201) {
        buf loc = BUF_INIT;
        buf_putc(&loc, '/');
        store_util_url_encode(op->index, strlen(op->index), &loc);
        buf_putc(&loc, '/');
        if (c->legacy)
            store_util_url_encode(c->m.type, strlen(c->m.type), &loc);
        else
            buf_puts(&loc, "_doc");
        buf_putc(&loc, '/');
        store_util_url_encode(op->id, op->id_len, &loc);
        if (c->routing) {
            buf_puts(&loc, "?routing=");
            store_util_url_encode(c->routing, strlen(c->routing), &loc);
        }
        r->location = buf_steal(&loc);
    }
}

/* ---- bulk ------------------------------------------------------------------------- */

store_call *store_docs_bulk(store_api *api, const store_req *req, store_match *m, store_resp *resp)
{
    bool forced, require_alias;
    if (!store_req_refresh(req, &forced, resp) || !store_req_bool(req, "require_alias", false, &require_alias, resp) ||
        !store_req_pipeline(req, resp))
        return NULL;
    store_call *c = store_api_call_new(api, m, req, resp);
    if (!c)
        return NULL;
    c->kind = CALL_BULK;
    c->forced_refresh = forced;
    store_error err = {0};
    if (!store_bulk_parse(req->body, req->body_len, c->m.index, &c->bulk, &err)) {
        store_resp_error_n(resp, err.status, err.type, err.reason.data, err.reason.len, NULL, NULL);
        store_error_free(&err);
        store_api_call_free(c);
        return NULL;
    }
    store_error_free(&err);
    size_t n = c->bulk.n;
    c->ops = calloc(n ? n : 1, sizeof *c->ops);
    c->op_of_item = calloc(n ? n : 1, sizeof *c->op_of_item);
    if (!c->ops || !c->op_of_item) {
        store_resp_error(resp, 500, "exception", "out of memory");
        store_api_call_free(c);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        store_bulk_item *it = &c->bulk.items[i];
        if (it->err_status) {
            c->op_of_item[i] = SIZE_MAX;
            continue;
        }
        store_op *op = &c->ops[k];
        op->w = it->w;
        op->require_alias = it->require_alias >= 0 ? it->require_alias != 0 : require_alias;
        op->index = it->index;
        op->id = it->id;
        op->id_len = it->id_len;
        op->src = it->src;
        op->src_len = it->src_len;
        if (it->action == STORE_BULK_UPDATE)
            op->upd = &it->upd;
        if (it->id == it->auto_id && op->w.kind == STORE_OP_INDEX)
            op->w.kind = STORE_OP_CREATE;
        c->op_of_item[i] = k++;
    }
    c->job.kind = STORE_JOB_DOCS;
    c->job.ops = c->ops;
    c->job.nops = k;
    return c;
}

static store_metrics_res metrics_result(const store_op *op);

void store_docs_finish_bulk(store_call *c, store_resp *r)
{
    buf *b = &r->body;
    bool errors = false;
    buf items = BUF_INIT;
    buf_reserve(&items, c->bulk.n * 160);
    buf reason = BUF_INIT, extra = BUF_INIT;
    for (size_t i = 0; i < c->bulk.n; i++) {
        store_bulk_item *it = &c->bulk.items[i];
        if (i)
            buf_putc(&items, ',');
        buf_puts(&items, "{\"");
        buf_puts(&items, it->key);
        buf_puts(&items, "\":");
        const store_op *op = c->op_of_item[i] == SIZE_MAX ? NULL : &c->ops[c->op_of_item[i]];
        store_metrics_res mres = metrics_result(op);
        store_metrics_bulk_item((int)it->action, mres);
        if (mres == STORE_MRES_CONFLICT)
            store_metrics_conflict();
        if (op && op->err == STORE_OPERR_NONE) {
            write_body(&items, c, op, true);
        } else {
            const char *type, *cause = NULL;
            int status;
            buf_reset(&reason);
            buf_reset(&extra);
            if (op) {
                status = op_error(c, op, true, &type, &reason, &extra, &cause);
            } else {
                status = it->err_status;
                type = it->err_type;
                buf_puts(&reason, it->err_reason ? it->err_reason : "");
                if (strcmp(type, "invalid_index_name_exception") == 0) {
                    buf_puts(&extra, ",\"index_uuid\":\"_na_\",\"index\":");
                    store_resp_jstr(&extra, it->index);
                }
            }
            errors = true;
            buf_puts(&items, "{\"_index\":");
            store_resp_jstr(&items, it->index ? it->index : "");
            buf_puts(&items, ",\"_id\":");
            if (it->id)
                store_resp_jstrn(&items, it->id, it->id_len);
            else
                buf_puts(&items, "null");
            buf_puts(&items, ",\"status\":");
            store_resp_jint(&items, status);
            buf_puts(&items, ",\"error\":{\"type\":");
            store_resp_jstr(&items, type);
            buf_puts(&items, ",\"reason\":");
            store_resp_jstrn(&items, reason.data ? reason.data : "", reason.len);
            if (extra.len)
                buf_append(&items, extra.data, extra.len);
            if (cause) {
                buf_puts(&items, ",\"caused_by\":");
                buf_puts(&items, cause);
            }
            buf_puts(&items, "}}");
        }
        buf_putc(&items, '}');
    }
    buf_printf(b, "{\"took\":%" PRId64 ",\"errors\":%s,\"items\":[", (int64_t)(timing_now_ms() - c->start_ms),
               errors ? "true" : "false");
    buf_append(b, items.data, items.len);
    buf_puts(b, "]}");
    buf_free(&items);
    buf_free(&reason);
    buf_free(&extra);
}

static store_metrics_res metrics_result(const store_op *op)
{
    if (!op)
        return STORE_MRES_ERROR;
    if (op->err == STORE_OPERR_CONFLICT)
        return STORE_MRES_CONFLICT;
    if (op->err != STORE_OPERR_NONE)
        return STORE_MRES_ERROR;
    switch (op->dec.result) {
    case STORE_RES_CREATED: return STORE_MRES_CREATED;
    case STORE_RES_UPDATED: return STORE_MRES_UPDATED;
    case STORE_RES_DELETED: return STORE_MRES_DELETED;
    case STORE_RES_NOT_FOUND: return STORE_MRES_NOT_FOUND;
    case STORE_RES_NOOP: return STORE_MRES_NOOP;
    default: return STORE_MRES_ERROR;
    }
}
