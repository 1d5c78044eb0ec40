/* bridge_bulk — _bulk request bodies (NDJSON), document ids, and classifying the store's answers. */
#include "versync/bridge/bulk.h"
#include "versync/common/timing.h"

#include "versync/common/json.h"
#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/bridge/worker.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_RESP_MAX (64u << 20) /* a _bulk answer for a batch is far smaller */

bool bulk_doc_id(buf *out, const char *const *parts, size_t nparts)
{
    if (nparts == 1)
        return buf_puts(out, parts[0] ? parts[0] : "");
    for (size_t i = 0; i < nparts; i++) {
        if (i > 0 && !buf_putc(out, '|'))
            return false;
        for (const char *p = parts[i] ? parts[i] : ""; *p; p++) {
            if ((*p == '|' || *p == '\\') && !buf_putc(out, '\\'))
                return false;
            if (!buf_putc(out, *p))
                return false;
        }
    }
    return true;
}

static bool add_action(buf *body, const char *action, const char *index, const char *id, size_t id_len,
                       bulk_vtype vtype, int64_t version)
{
    bool ok = buf_printf(body, "{\"%s\":{\"_index\":", action) &&
              buf_put_json_string(body, index, strlen(index)) && buf_puts(body, ",\"_id\":") &&
              buf_put_json_string(body, id, id_len);
    if (ok && vtype != BULK_VT_NONE)
        ok = buf_printf(body, ",\"version\":%" PRId64 ",\"version_type\":\"%s\"", version,
                        vtype == BULK_VT_EXTERNAL_GTE ? "external_gte" : "external");
    return ok && buf_puts(body, "}}\n");
}

bool bulk_add(buf *body, const char *index, const char *id, size_t id_len, bool is_delete, bulk_vtype vtype,
              int64_t version, const char *doc, size_t doc_len)
{
    if (is_delete)
        return add_action(body, "delete", index, id, id_len, vtype, version);
    return add_action(body, "index", index, id, id_len, vtype, version) && buf_append(body, doc, doc_len) &&
           buf_putc(body, '\n');
}

bool bulk_add_index(buf *body, const char *index, const char *id, size_t id_len, bool versioned, int64_t version,
                    const char *doc, size_t doc_len)
{
    return bulk_add(body, index, id, id_len, false, versioned ? BULK_VT_EXTERNAL : BULK_VT_NONE, version, doc,
                    doc_len);
}

bool bulk_add_delete(buf *body, const char *index, const char *id, size_t id_len, bool versioned,
                     int64_t version)
{
    return bulk_add(body, index, id, id_len, true, versioned ? BULK_VT_EXTERNAL : BULK_VT_NONE, version, NULL, 0);
}

int64_t bulk_conflict_version(const char *reason)
{
    /* Elasticsearch, OpenSearch and verstore all say "current version [C] is higher ..." (§4). */
    const char *p = reason ? strstr(reason, "current version [") : NULL;
    if (!p)
        return -1;
    p += strlen("current version [");
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno == ERANGE || *end != ']' || v > (unsigned long long)BULK_VERSION_MAX)
        return -1;
    return (int64_t)v;
}

bulk_outcome bulk_classify(int status, bool is_delete, const char *result, const char *error_type)
{
    if (status >= 200 && status < 300)
        return BULK_APPLIED;
    /* A delete of a document the store never had still leaves a tombstone at
     * our version (es-versioning.md §5): that is the outcome we wanted. */
    if (status == 404 && is_delete && (!error_type || (result && strcmp(result, "not_found") == 0)))
        return BULK_APPLIED;
    if (status == 409 && error_type && strcmp(error_type, "version_conflict_engine_exception") == 0)
        return BULK_STALE;
    if (status == 408 || status == 429 || status >= 500)
        return BULK_RETRY;
    /* A read-only index (403 cluster_block_exception, e.g. a full disk) refuses
     * every write until an operator clears it: keep the changes queued. */
    if (error_type && strcmp(error_type, "cluster_block_exception") == 0)
        return BULK_RETRY;
    return BULK_DEAD;
}

bulk_outcome bulk_classify_request(int status) { return bulk_classify(status, false, NULL, "request"); }

/* Decode string token t into the scratch buffer, NUL-terminated; returns its offset there, or -1
 * out of memory. (An escaped NUL ends the C string there, as cJSON's reading did.) */
static long scratch_put(buf *scratch, const json_tok *t)
{
    size_t off = scratch->len;
    if (!json_unescape(t, scratch) || !buf_putc(scratch, '\0'))
        return -1;
    return (long)off;
}

/* Read one item of a _bulk answer ({"index": {"status": …, "result": …, "error": …}}) at `at`
 * into r, the first occurrence of each member counting, each byte scanned once; *next is set past
 * it. 1, 0 when it has no status (err set), -1 when it is not JSON. */
static int parse_item(const char *at, const char *end, const char **next, bool is_delete, bulk_item_result *r,
                      buf *scratch, size_t i, char *err, size_t errsz)
{
    json_iter w, it;
    json_tok key, val, status = {0}, result = {0}, error = {0};
    bool has_status = false, has_result = false, has_error = false;
    int64_t code = 0;
    const char *vat;
    int k;
    if (!json_obj_begin(&w, at, end))
        goto no_status;
    if ((k = json_obj_key(&w, &key, &vat)) < 0)
        return -1;
    if (k == 0 || !json_obj_begin(&it, vat, end))
        goto no_status;
    while ((k = json_obj_next(&it, &key, &val)) == 1) {
        if (!has_status && json_tok_eq(&key, "status"))
            has_status = true, status = val;
        else if (!has_result && json_tok_eq(&key, "result"))
            has_result = true, result = val;
        else if (!has_error && json_tok_eq(&key, "error"))
            has_error = true, error = val;
    }
    if (k < 0)
        return -1;
    w.p = it.p; /* past the action's object: the wrapper's other members, if any, are skipped */
    while ((k = json_obj_next(&w, &key, &val)) == 1)
        ;
    if (k < 0)
        return -1;
    *next = w.p;
    if (!has_status || status.type != JSON_NUMBER || !json_parse_long(status.p, status.n, &code) ||
        code < INT_MIN || code > INT_MAX)
        goto no_status;
    r->status = (int)code;
    r->store_version = -1;
    r->error[0] = '\0';
    buf_reset(scratch);
    const char *etype = NULL;
    if (has_error && error.type == JSON_OBJECT) {
        json_tok type = {0}, reason = {0};
        bool has_type = false, has_reason = false;
        json_obj_begin(&it, error.p, error.p + error.n);
        while (json_obj_next(&it, &key, &val) == 1) {
            if (!has_type && json_tok_eq(&key, "type"))
                has_type = true, type = val;
            else if (!has_reason && json_tok_eq(&key, "reason"))
                has_reason = true, reason = val;
        }
        long t_off = has_type && type.type == JSON_STRING ? scratch_put(scratch, &type) : -2;
        long r_off = has_reason && reason.type == JSON_STRING ? scratch_put(scratch, &reason) : -2;
        if (t_off == -1 || r_off == -1) {
            snprintf(err, errsz, "out of memory");
            return 0;
        }
        etype = t_off >= 0 ? scratch->data + t_off : "error";
        const char *why = r_off >= 0 ? scratch->data + r_off : NULL;
        snprintf(r->error, sizeof r->error, "%s: %s", etype, why ? why : "");
        if (why)
            r->store_version = bulk_conflict_version(why);
    } else if (has_error && error.type == JSON_STRING) {
        long off = scratch_put(scratch, &error);
        if (off < 0) {
            snprintf(err, errsz, "out of memory");
            return 0;
        }
        etype = scratch->data + off;
        snprintf(r->error, sizeof r->error, "%s", etype);
    }
    /* bulk_classify only asks whether the result is "not_found". */
    const char *res = has_result && result.type == JSON_STRING ? json_tok_eq(&result, "not_found") ? "not_found" : ""
                                                               : NULL;
    r->outcome = bulk_classify(r->status, is_delete, res, etype);
    if (r->outcome != BULK_APPLIED && !r->error[0])
        snprintf(r->error, sizeof r->error, "HTTP %d", r->status);
    return 1;
no_status:
    snprintf(err, errsz, "_bulk answer item %zu has no status", i);
    return 0;
}

bool bulk_parse_response(const char *body, size_t len, const bool *is_delete, bulk_item_result *items,
                         size_t nitems, char *err, size_t errsz)
{
    /* Read in place (common/json.h), each byte once, rather than as a cJSON tree: building and
     * freeing the tree of every answer was a third of a worker's CPU in the drain. */
    bool ok = false;
    buf scratch = BUF_INIT;
    const char *end = body + len, *at, *next;
    json_iter top, arr;
    json_tok key;
    bool has_items = false;
    size_t n = 0;
    int r;
    if (!json_obj_begin(&top, body, end)) {
        snprintf(err, errsz, "_bulk answer is not a JSON object");
        goto done;
    }
    while ((r = json_obj_key(&top, &key, &at)) == 1) {
        if (has_items || !json_tok_eq(&key, "items")) {
            if (!(next = json_scan(at, end, NULL)))
                goto not_json;
            top.p = next;
            continue;
        }
        has_items = true;
        if (!json_arr_begin(&arr, at, end)) {
            snprintf(err, errsz, "_bulk answer has no items array");
            goto done;
        }
        while ((r = json_arr_at(&arr, &at)) == 1) {
            if (n < nitems) {
                int k = parse_item(at, end, &next, is_delete[n], &items[n], &scratch, n, err, errsz);
                if (k < 0)
                    goto not_json;
                if (k == 0)
                    goto done;
            } else if (!(next = json_scan(at, end, NULL))) {
                goto not_json;
            }
            arr.p = next;
            n++;
        }
        if (r < 0)
            goto not_json;
        top.p = arr.p;
    }
    if (r < 0 || json_ws(top.p, end) != end)
        goto not_json;
    if (!has_items) {
        snprintf(err, errsz, "_bulk answer has no items array");
        goto done;
    }
    if (n != nitems) {
        snprintf(err, errsz, "_bulk answer has %zu items for %zu actions", n, nitems);
        goto done;
    }
    ok = true;
    goto done;
not_json:
    snprintf(err, errsz, "_bulk answer is not JSON");
done:
    buf_free(&scratch);
    return ok;
}

void bulk_error_summary(const char *body, size_t len, char *out, size_t outsz)
{
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *e = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
    const cJSON *t = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "type") : NULL;
    const cJSON *why = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "reason") : NULL;
    if (cJSON_IsString(t))
        snprintf(out, outsz, "%s: %s", t->valuestring, cJSON_IsString(why) ? why->valuestring : "");
    else if (cJSON_IsString(e))
        snprintf(out, outsz, "%s", e->valuestring);
    else
        snprintf(out, outsz, "%.*s", (int)(len < 300 ? len : 300), body ? body : "");
    cJSON_Delete(root);
}

bool bulk_parse_version(const char *text, int64_t *out, char *err, size_t errsz)
{
    if (!text) {
        snprintf(err, errsz, "is NULL");
        return false;
    }
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    bool neg = *p == '-';
    const char *digits = p + (*p == '-' || *p == '+');
    if (!isdigit((unsigned char)*digits)) {
        snprintf(err, errsz, "is not an integer (%.60s)", text);
        return false;
    }
    const char *q = digits;
    while (isdigit((unsigned char)*q))
        q++;
    if (*q) {
        snprintf(err, errsz, "is not an integer (%.60s)", text);
        return false;
    }
    if (neg) {
        /* "-0" is zero; anything else below zero is refused by the store. */
        for (const char *d = digits; *d; d++)
            if (*d != '0') {
                snprintf(err, errsz, "is negative (%.60s), external versions are 0 … 2^63-1", text);
                return false;
            }
        *out = 0;
        return true;
    }
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (errno == ERANGE || v > (unsigned long long)BULK_VERSION_MAX) {
        snprintf(err, errsz, "exceeds 2^63-1 (%.60s), external versions are 0 … 2^63-1", text);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* ---- the one sender ------------------------------------------------------------------------ */

void bulk_sender_init(bulk_sender *s, esc *store, size_t max_bytes)
{
    memset(s, 0, sizeof *s);
    s->store = store;
    s->max_bytes = max_bytes > 0 ? max_bytes : (size_t)10 << 20;
    s->retry_after_ms = -1;
    s->max_item_retries = BULK_ITEM_RETRIES;
    buf_init(&s->resp, BULK_RESP_MAX);
}

void bulk_sender_free(bulk_sender *s)
{
    if (!s)
        return;
    buf_free(&s->body);
    buf_free(&s->resp);
    free(s->is_delete);
    free(s->results);
    s->is_delete = NULL;
    s->results = NULL;
    s->cap = 0;
}

static bool sender_room(bulk_sender *s, size_t n)
{
    if (n <= s->cap)
        return true;
    bool *d = realloc(s->is_delete, n * sizeof *d);
    if (d)
        s->is_delete = d;
    bulk_item_result *r = realloc(s->results, n * sizeof *r);
    if (r)
        s->results = r;
    if (!d || !r)
        return false;
    s->cap = n;
    return true;
}

static void set_outcome(bulk_op *op, bulk_outcome o, int status, int64_t store_version, const char *error)
{
    op->outcome = o;
    op->status = status;
    op->store_version = store_version;
    snprintf(op->error, sizeof op->error, "%s", error);
}

/* ---- items the store keeps failing --------------------------------------------------------- */

/* FNV-1a of what makes a write the same write again: index, id, version and action. A newer
 * version of the same document is a new write and starts with a clean record. */
static uint64_t item_key(const bulk_op *op)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p;
    for (p = (const unsigned char *)op->index; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (size_t i = 0; i < op->id_len; i++)
        h = (h ^ (unsigned char)op->id[i]) * 1099511628211ULL;
    h = (h ^ 0xfe) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)((uint64_t)op->version >> (8 * i))) * 1099511628211ULL;
    return (h ^ (op->is_delete ? 1u : 2u)) * 1099511628211ULL;
}

static bulk_item_fails *find_fails(bulk_sender *s, uint64_t key)
{
    for (size_t i = 0; i < s->nfails; i++)
        if (s->fails[i].key == key)
            return &s->fails[i];
    return NULL;
}

/* The store took (or refused for good) this write: forget its failures. */
static void forget_fails(bulk_sender *s, const bulk_op *op)
{
    if (s->nfails == 0)
        return;
    bulk_item_fails *f = find_fails(s, item_key(op));
    if (f)
        *f = s->fails[--s->nfails];
}

/* One more 5xx for this write; true when that makes it more than max_item_retries in a row. */
static bool count_fail(bulk_sender *s, const bulk_op *op, int *fails)
{
    uint64_t key = item_key(op);
    bulk_item_fails *f = find_fails(s, key);
    if (!f) {
        if (s->nfails < BULK_FAIL_TRACK) {
            f = &s->fails[s->nfails++];
        } else {
            f = &s->fails[0];
            for (size_t i = 1; i < s->nfails; i++)
                if (s->fails[i].fails < f->fails)
                    f = &s->fails[i];
        }
        f->key = key;
        f->fails = 0;
    }
    *fails = ++f->fails;
    if (*fails <= s->max_item_retries)
        return false;
    *f = s->fails[--s->nfails];
    return true;
}

/* POST one _bulk of the first ops that fit in max_bytes (at least one), *sent
 * saying how many. 1: each sent op classified, none BULK_RETRY; 0: retryable
 * (err set; the sent ops stay or become BULK_RETRY); -1: the whole request
 * was refused with 400/413 (*status, err say why) and nothing applied. */
static int post_one(bulk_sender *s, bulk_op *ops, size_t n, size_t *sent, int *status, char *err, size_t errsz)
{
    buf_reset(&s->body);
    for (size_t i = 0; i < n; i++) {
        size_t mark = s->body.len;
        if (!bulk_add(&s->body, ops[i].index, ops[i].id, ops[i].id_len, ops[i].is_delete, ops[i].vtype,
                      ops[i].version, ops[i].doc, ops[i].doc_len)) {
            snprintf(err, errsz, "out of memory building the bulk body");
            *sent = i;
            return 0;
        }
        if (i > 0 && s->body.len > s->max_bytes) {
            /* The rest goes in the next request. */
            s->body.len = mark;
            s->body.data[mark] = '\0';
            n = i;
            break;
        }
    }
    *sent = n;
    if (!sender_room(s, n)) {
        snprintf(err, errsz, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        s->is_delete[i] = ops[i].is_delete;
    buf_reset(&s->resp);
    s->resp.overflow = false;
    int st = esc_request(s->store, "POST", "/_bulk", "application/x-ndjson", s->body.data, s->body.len,
                         s->opaque_id, &s->resp, err, errsz);
    metrics_store_answer(st);
    *status = st;
    s->last_status = st;
    s->retry_after_ms = esc_retry_after_ms(s->store);
    if (st == ESC_TRANSPORT_ERROR)
        return 0;
    if (st != 200) {
        char why[1024];
        bulk_error_summary(s->resp.data, s->resp.len, why, sizeof why);
        if (bulk_classify_request(st) == BULK_RETRY || (st != 400 && st != 413)) {
            /* 401/403/404… are a configuration problem, not the documents': retry, never dead-letter. */
            snprintf(err, errsz, "store %s answered HTTP %d to _bulk: %s", esc_url(s->store), st, why);
            return 0;
        }
        snprintf(err, errsz, "HTTP %d: %s", st, why);
        return -1;
    }
    if (!bulk_parse_response(s->resp.data, s->resp.len, s->is_delete, s->results, n, err, errsz))
        return 0;
    int rc = 1;
    for (size_t i = 0; i < n; i++) {
        const bulk_item_result *r = &s->results[i];
        set_outcome(&ops[i], r->outcome, r->status, r->store_version, r->error);
        int fails = 0;
        if (r->outcome != BULK_RETRY) {
            forget_fails(s, &ops[i]);
        } else if (r->status >= 500 && s->max_item_retries > 0 && count_fail(s, &ops[i], &fails)) {
            /* The store answered for this item alone, again and again: its batch must not wait for it. */
            char why[sizeof ops[i].error];
            snprintf(why, sizeof why,
                     "gave up after %d attempts (store.max_item_retries is %d): the store answered HTTP %d for "
                     "this item each time: %.700s",
                     fails, s->max_item_retries, r->status, r->error);
            set_outcome(&ops[i], BULK_DEAD, r->status, -1, why);
            continue;
        }
        if (r->outcome == BULK_RETRY && rc == 1) {
            snprintf(err, errsz, "store answered %d for %s/%.*s: %s", r->status, ops[i].index, (int)ops[i].id_len,
                     ops[i].id, r->error);
            rc = 0;
        }
    }
    return rc;
}

bool bulk_send(bulk_sender *s, bulk_op *ops, size_t n, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++)
        set_outcome(&ops[i], BULK_RETRY, 0, -1, "");
    for (size_t off = 0; off < n;) {
        int status = 0;
        size_t sent = 0;
        int rc = post_one(s, ops + off, n - off, &sent, &status, err, errsz);
        if (rc == 0)
            return false;
        if (rc < 0 && sent == 1) {
            set_outcome(&ops[off], BULK_DEAD, status, -1, err);
        } else if (rc < 0) {
            /* The store refused the whole request (validation, size): find the culprits
             * one by one, so one bad document never blocks the others. */
            log_warn("store refused a bulk of %zu items (%s); sending them one by one", sent, err);
            for (size_t i = 0; i < sent; i++) {
                size_t one;
                rc = post_one(s, ops + off + i, 1, &one, &status, err, errsz);
                if (rc == 0)
                    return false;
                if (rc < 0)
                    set_outcome(&ops[off + i], BULK_DEAD, status, -1, err);
            }
        }
        off += sent;
    }
    return true;
}

bool bulk_send_retrying(bulk_sender *s, bulk_op *ops, size_t n, long give_up_ms, volatile int *stop, char *err,
                        size_t errsz)
{
    bulk_op *again = NULL;
    size_t *where = NULL;
    bool ok = false;
    if (bulk_send(s, ops, n, err, errsz))
        return true;
    /* Refused credentials do not come right by waiting: fail now, as target_check does at start. */
    if (s->last_status == 401 || s->last_status == 403) {
        size_t l = strlen(err);
        snprintf(err + l, errsz - l, " (security error: the store refuses the configured credentials)");
        return false;
    }
    if (!(again = malloc(n * sizeof *again)) || !(where = malloc(n * sizeof *where))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    long long first_fail = timing_now_ms();
    log_warn("%s; retrying with backoff", err);
    for (int attempt = 0;; attempt++) {
        if (timing_now_ms() - first_fail >= give_up_ms || (stop && *stop))
            goto done;
        long ms = timing_retry_ms(attempt, s->retry_after_ms);
        timing_sleep_ms(ms, NULL);
        /* Resend only what the store has not answered for. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (ops[i].outcome == BULK_RETRY) {
                again[m] = ops[i];
                where[m++] = i;
            }
        bool sent = bulk_send(s, again, m, err, errsz);
        for (size_t i = 0; i < m; i++)
            ops[where[i]] = again[i];
        if (sent) {
            ok = true;
            goto done;
        }
        if (s->last_status == 401 || s->last_status == 403) {
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, " (security error: the store refuses the configured credentials)");
            goto done;
        }
    }
done:
    free(again);
    free(where);
    return ok;
}

/* ---- refused writes of the current row ------------------------------------------------------ */

bulk_outcome bulk_classify_conflict(int64_t sent, int64_t store_version, int same_content)
{
    if (store_version < 0 || store_version < sent)
        return BULK_STALE;
    if (store_version > sent)
        return BULK_REGRESSED;
    return same_content == 0 ? BULK_REGRESSED : BULK_STALE;
}

static bool judged(const bulk_op *op)
{
    return op->outcome == BULK_STALE && op->row_current && !op->is_delete && op->store_version >= 0;
}

static void regressed(bulk_op *op, bool tombstone)
{
    op->outcome = BULK_REGRESSED;
    if (op->store_version > op->version)
        snprintf(op->error, sizeof op->error,
                 "version_regressed: the store holds version %" PRId64 "%s, the current row has %" PRId64
                 " (lower: its version went backwards, e.g. restarted after a delete and re-insert)",
                 op->store_version, tombstone ? " (a delete)" : "", op->version);
    else
        snprintf(op->error, sizeof op->error,
                 "version_regressed: the store holds version %" PRId64 " with %s, the current row has the "
                 "same version (a change that did not advance the version)",
                 op->store_version, tombstone ? "a delete" : "other content");
}

bool bulk_judge_conflicts(bulk_sender *s, bulk_op *ops, size_t n, char *err, size_t errsz)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (!judged(&ops[i]))
            continue;
        if (ops[i].store_version > ops[i].version)
            regressed(&ops[i], false);
        else if (ops[i].store_version == ops[i].version)
            need++;
    }
    if (need == 0)
        return true;
    /* Equal versions: read the store's documents, one _mget for all of them. */
    bool ok = false;
    cJSON *root = NULL;
    buf_reset(&s->body);
    bool built = buf_puts(&s->body, "{\"docs\":[");
    size_t k = 0;
    for (size_t i = 0; built && i < n; i++) {
        if (!judged(&ops[i]) || ops[i].store_version != ops[i].version)
            continue;
        built = (k++ == 0 || buf_putc(&s->body, ',')) && buf_puts(&s->body, "{\"_index\":") &&
                buf_put_json_string(&s->body, ops[i].index, strlen(ops[i].index)) &&
                buf_puts(&s->body, ",\"_id\":") && buf_put_json_string(&s->body, ops[i].id, ops[i].id_len) &&
                buf_putc(&s->body, '}');
    }
    if (!built || !buf_puts(&s->body, "]}")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    buf_reset(&s->resp);
    s->resp.overflow = false;
    int st = esc_request(s->store, "POST", "/_mget", NULL, s->body.data, s->body.len, s->opaque_id, &s->resp,
                         err, errsz);
    metrics_store_answer(st);
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st != 200) {
        char why[512];
        bulk_error_summary(s->resp.data, s->resp.len, why, sizeof why);
        snprintf(err, errsz, "store %s answered HTTP %d to _mget (reading refused documents): %s",
                 esc_url(s->store), st, why);
        goto done;
    }
    root = cJSON_ParseWithLength(s->resp.data, s->resp.len);
    const cJSON *docs = root ? cJSON_GetObjectItemCaseSensitive(root, "docs") : NULL;
    if (!cJSON_IsArray(docs) || (size_t)cJSON_GetArraySize(docs) != need) {
        snprintf(err, errsz, "store answered _mget without one doc per id");
        goto done;
    }
    const cJSON *d = docs->child;
    for (size_t i = 0; i < n; i++) {
        if (!judged(&ops[i]) || ops[i].store_version != ops[i].version)
            continue;
        const cJSON *found = cJSON_GetObjectItemCaseSensitive(d, "found");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(d, "_source");
        int same = 0;
        if (cJSON_IsTrue(found) && src) {
            cJSON *mine = cJSON_ParseWithLength(ops[i].doc, ops[i].doc_len);
            /* As JSON values: key order and number spelling are not the store's to keep. */
            same = mine && cJSON_Compare(mine, src, true);
            cJSON_Delete(mine);
        } else if (cJSON_GetObjectItemCaseSensitive(d, "error")) {
            same = -1; /* the store could not say: leave it stale */
        }
        if (bulk_classify_conflict(ops[i].version, ops[i].store_version, same) == BULK_REGRESSED)
            regressed(&ops[i], !cJSON_IsTrue(found));
        d = d->next;
    }
    ok = true;
done:
    cJSON_Delete(root);
    return ok;
}
