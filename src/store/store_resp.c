/* store_resp — verstore's response writers: JSON scalars, Elasticsearch error bodies, filter_path/pretty, the seal. */
#include "versync/store/store_resp.h"

#include "versync/store/store_api_int.h"
#include "versync/store/store_admin.h"
#include "versync/store/store_docs.h"
#include "versync/store/store_req.h"
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

void store_resp_init(store_resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = STORE_CT_JSON;
}

void store_resp_free(store_resp *r)
{
    buf_free(&r->body);
    free(r->location);
    r->location = NULL;
}

/* ---- small JSON writers ---------------------------------------------------- */

void store_resp_jstr(buf *b, const char *s) { buf_put_json_string(b, s, strlen(s)); }

void store_resp_jstrn(buf *b, const char *s, size_t n) { buf_put_json_string(b, s, n); }

/* Decimal text of `v` (printf is a hot spot in bulk responses). */
void store_resp_jint(buf *b, int64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

void store_resp_shards(buf *b, int total, int ok)
{
    if (total == 2 && ok == 1)
        buf_puts(b, "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0}");
    else
        buf_printf(b, "\"_shards\":{\"total\":%d,\"successful\":%d,\"failed\":0}", total, ok);
}

/* An Elasticsearch error object body. `extra` is a JSON fragment of more
 * members (starting with ',') repeated in root_cause and the error; `caused`
 * a complete "caused_by" object or NULL. The reason is `reason_len` bytes. */
void store_resp_error_n(store_resp *r, int status, const char *type, const char *reason, size_t reason_len,
                         const char *extra, const char *caused)
{
    buf *b = &r->body;
    buf_reset(b);
    r->status = status;
    r->content_type = STORE_CT_JSON;
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":");
    store_resp_jstr(b, type);
    buf_puts(b, ",\"reason\":");
    store_resp_jstrn(b, reason, reason_len);
    if (extra)
        buf_puts(b, extra);
    buf_puts(b, "}],\"type\":");
    store_resp_jstr(b, type);
    buf_puts(b, ",\"reason\":");
    store_resp_jstrn(b, reason, reason_len);
    if (extra)
        buf_puts(b, extra);
    if (caused) {
        buf_puts(b, ",\"caused_by\":");
        buf_puts(b, caused);
    }
    buf_printf(b, "},\"status\":%d}", status);
}

void store_resp_error(store_resp *r, int status, const char *type, const char *reason)
{
    store_resp_error_n(r, status, type, reason, strlen(reason), NULL, NULL);
}

void store_resp_errorf(store_resp *r, int status, const char *type, const char *fmt, ...)
{
    buf tmp = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    bool ok = store_util_vappend(&tmp, fmt, ap);
    va_end(ap);
    store_resp_error_n(r, status, type, ok ? tmp.data : "out of memory", ok ? tmp.len : 13, NULL, NULL);
    buf_free(&tmp);
}

void store_resp_flat_error(store_resp *r, int status, const char *msg)
{
    buf_reset(&r->body);
    r->status = status;
    r->content_type = STORE_CT_JSON;
    buf_puts(&r->body, "{\"error\":");
    store_resp_jstr(&r->body, msg);
    buf_printf(&r->body, ",\"status\":%d}", status);
}

/* ",\"index_uuid\":…,\"shard\":\"0\",\"index\":…" */
void store_resp_index_extra(buf *x, const char *uuid, const char *index)
{
    buf_puts(x, ",\"index_uuid\":");
    store_resp_jstr(x, uuid);
    buf_puts(x, ",\"shard\":\"0\",\"index\":");
    store_resp_jstr(x, index);
}

void store_resp_not_found_extra(buf *x, const char *index)
{
    buf_puts(x, ",\"resource.type\":\"index_or_alias\",\"resource.id\":");
    store_resp_jstr(x, index);
    buf_puts(x, ",\"index_uuid\":\"_na_\",\"index\":");
    store_resp_jstr(x, index);
}

void store_resp_index_not_found(store_resp *r, const char *index)
{
    buf x = BUF_INIT, reason = BUF_INIT;
    store_resp_not_found_extra(&x, index);
    buf_printf(&reason, "no such index [%s]", index);
    store_resp_error_n(r, 404, "index_not_found_exception", reason.data, reason.len, x.data, NULL);
    buf_free(&x);
    buf_free(&reason);
}

void store_resp_invalid_index(store_resp *r, const char *index, const buf *reason)
{
    buf x = BUF_INIT;
    buf_puts(&x, ",\"index_uuid\":\"_na_\",\"index\":");
    store_resp_jstr(&x, index);
    store_resp_error_n(r, 400, "invalid_index_name_exception", reason->data, reason->len, x.data, NULL);
    buf_free(&x);
}

void store_resp_flat_errorf(store_resp *r, int status, const char *fmt, ...)
{
    buf raw = BUF_INIT, msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&raw, fmt, ap);
    va_end(ap);
    store_util_utf8_sanitize(raw.data ? raw.data : "", raw.len, &msg);
    store_resp_flat_error(r, status, msg.data ? msg.data : "");
    buf_free(&raw);
    buf_free(&msg);
}

void store_resp_storage_error(store_resp *r)
{
    store_resp_error(r, 500, "exception", "storage failure, see the verstore log");
}

/* "[id]: " or "[type][id]: " followed by `rest`. */
void store_resp_id_reason(buf *out, const char *type, const char *id, size_t id_len, const char *rest)
{
    if (type) {
        buf_putc(out, '[');
        buf_puts(out, type);
        buf_putc(out, ']');
    }
    buf_putc(out, '[');
    buf_append(out, id, id_len);
    buf_puts(out, "]: ");
    buf_puts(out, rest);
}

void store_resp_conflict(store_resp *r, const char *type, const char *id, size_t id_len, const char *explain,
                           const char *uuid, const char *index)
{
    buf reason = BUF_INIT, x = BUF_INIT, rest = BUF_INIT;
    buf_printf(&rest, "version conflict, %s", explain);
    store_resp_id_reason(&reason, type, id, id_len, rest.data);
    store_resp_index_extra(&x, uuid, index);
    store_resp_error_n(r, 409, "version_conflict_engine_exception", reason.data, reason.len, x.data, NULL);
    buf_free(&reason);
    buf_free(&x);
    buf_free(&rest);
}

void store_resp_validation_error(store_resp *resp, store_msgs *m)
{
    buf reason = BUF_INIT;
    buf_puts(&reason, "Validation Failed: ");
    buf_append(&reason, m->text.data, m->text.len);
    store_resp_error_n(resp, 400, "action_request_validation_exception", reason.data, reason.len, NULL, NULL);
    buf_free(&reason);
}

/* ---- _search, _count, scroll ------------------------------------------------------- */

/* A search failure as Elasticsearch answers it: per-shard failures wrapped
 * in search_phase_execution_exception "all shards failed". */
void store_resp_search_error(store_api *api, store_resp *r, const store_error *e)
{
    const char *reason = e->reason.data ? e->reason.data : "";
    if (e->index_missing) {
        store_resp_index_not_found(r, reason);
        return;
    }
    if (!e->shard) {
        store_resp_error_n(r, e->status, e->type, reason, e->reason.len, NULL, NULL);
        return;
    }
    buf cause = BUF_INIT, *b = &r->body;
    buf_puts(&cause, "{\"type\":");
    store_resp_jstr(&cause, e->type);
    buf_puts(&cause, ",\"reason\":");
    store_resp_jstrn(&cause, reason, e->reason.len);
    if (e->shard_index[0]) {
        buf_puts(&cause, ",\"index\":");
        store_resp_jstr(&cause, e->shard_index);
    }
    buf_putc(&cause, '}');
    /* root_cause shows the shard's exception without its cause; the shard
     * failure and the top-level caused_by show it with. */
    buf full = BUF_INIT;
    buf_append(&full, cause.data, cause.len - 1);
    if (e->cause_type && e->cause_at <= e->reason.len) {
        buf_puts(&full, ",\"caused_by\":{\"type\":");
        store_resp_jstr(&full, e->cause_type);
        buf_puts(&full, ",\"reason\":");
        store_resp_jstrn(&full, reason + e->cause_at, e->reason.len - e->cause_at);
        buf_putc(&full, '}');
    }
    buf_putc(&full, '}');
    buf_reset(b);
    r->status = e->status;
    r->content_type = STORE_CT_JSON;
    buf_puts(b, "{\"error\":{\"root_cause\":[");
    buf_append(b, cause.data, cause.len);
    buf_puts(b, "],\"type\":\"search_phase_execution_exception\",\"reason\":\"all shards failed\",\"phase\":"
                "\"query\",\"grouped\":true,\"failed_shards\":[{\"shard\":");
    if (e->shard_index[0]) {
        buf_puts(b, "0,\"index\":");
        store_resp_jstr(b, e->shard_index);
        buf_puts(b, ",\"node\":");
        store_resp_jstr(b, api->node_name);
    } else {
        buf_puts(b, "-1,\"index\":null");
    }
    buf_puts(b, ",\"reason\":");
    buf_append(b, full.data, full.len);
    buf_puts(b, "}],\"caused_by\":");
    buf_append(b, full.data, full.len);
    buf_printf(b, "},\"status\":%d}", e->status);
    buf_free(&cause);
    buf_free(&full);
}

/* ---- dispatch ---------------------------------------------------------------------- */

void store_resp_pretty(store_resp *r)
{
    if (!r->body.len || strcmp(r->content_type, STORE_CT_JSON) != 0)
        return;
    buf out = BUF_INIT;
    if (store_json_pretty(r->body.data, r->body.len, &out)) {
        buf_free(&r->body);
        r->body = out;
    } else {
        buf_free(&out);
    }
}

/* ?filter_path on a JSON body (errors included, as Elasticsearch does). */
void store_resp_filter(store_resp *r, const char *filter)
{
    if (!filter || !*filter || !r->body.len || strcmp(r->content_type, STORE_CT_JSON) != 0)
        return;
    buf out = BUF_INIT;
    if (store_json_filter(r->body.data, r->body.len, filter, &out)) {
        buf_free(&r->body);
        r->body = out;
    } else {
        buf_free(&out);
    }
}

/* The one check that no text was lost while `r` was built (since
 * buf_alloc_failures() was `fails0`): appends are not checked one by one, so
 * a refused one is caught here, and the client gets a 500 (or, for the body's
 * cap, Elasticsearch's 429 circuit_breaking_exception) instead of a 200 whose
 * JSON is cut short. Should the error body itself not fit, the HTTP front
 * answers its fixed 500 (store_http's send_resp). */
void store_resp_seal(store_resp *r, unsigned long fails0)
{
    if (r->body.overflow && buf_alloc_failures() == fails0 && !r->body.failed) {
        size_t limit = r->body.max;
        char reason[160], extra[96];
        snprintf(reason, sizeof reason, "[response] Data too large, the response would be larger than the limit of [%zu/%zub]",
                 limit, limit);
        snprintf(extra, sizeof extra, ",\"bytes_limit\":%zu,\"durability\":\"TRANSIENT\"", limit);
        log_warn("api: a response exceeded its limit of %zu bytes; answered 429", limit);
        free(r->location);
        r->location = NULL;
        store_resp_error_n(r, 429, "circuit_breaking_exception", reason, strlen(reason), extra, NULL);
    } else if (!buf_ok(&r->body) || buf_alloc_failures() != fails0) {
        log_error("api: out of memory while writing a response; answered 500");
        free(r->location);
        r->location = NULL;
        store_resp_error(r, 500, "exception", "out of memory");
    }
}
