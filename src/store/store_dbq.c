/* store_dbq — _delete_by_query and _update_by_query (no script): the matches of a query on one read snapshot,
 * deleted (or indexed again with the source the snapshot holds) in batches of scroll_size through the writer,
 * each write conditional on the seq_no and primary term the snapshot saw, as Elasticsearch's
 * AbstractAsyncBulkByScrollAction runs it over a scroll. */
#include "versync/store/store_search_int.h"
#include "versync/common/timing.h"

#include "versync/store/store_deadline.h"
#include "versync/store/store_resp.h"
#include "versync/store/store_version.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SCROLL_SIZE 1000

struct store_dbq {
    store_search *s;
    bool update;   /* _update_by_query: index each match again, else delete it */
    store_rtxn *r; /* the snapshot the matches and their seq_nos come from */
    sreq q;
    sidx *ix;
    size_t nix;
    size_t at_ix, at_k; /* the next match: ix[at_ix].res.v[at_k] */
    bool proceed;       /* conflicts=proceed: count version conflicts and go on */
    int64_t max_docs;   /* -1: every match */
    int64_t scroll_size;
    double rps; /* requests_per_second as given (-1: unthrottled); echoed, not applied */
    int64_t t0, total;
};

/* RestRequest.paramAsInt: an int, or Elasticsearch's reason. */
static bool int_param(const store_search_req *r, const char *key, int64_t *out, store_error *err)
{
    const char *v = store_sreq_param(r, key);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < INT32_MIN || x > INT32_MAX)
        return seterr(err, 400, "illegal_argument_exception", "Failed to parse int parameter [%s] with value [%s]",
                      key, v);
    *out = x;
    return true;
}

static bool conflicts_of(const char *v, bool *proceed, store_error *err)
{
    if (strcmp(v, "proceed") == 0 || strcmp(v, "abort") == 0) {
        *proceed = v[0] == 'p';
        return true;
    }
    return seterr(err, 400, "illegal_argument_exception", "conflicts may only be \"proceed\" or \"abort\" but was [%s]",
                  v);
}

static bool max_docs_of(int64_t v, int64_t *out, store_error *err)
{
    if (v < 0)
        return seterr(err, 400, "illegal_argument_exception", "[max_docs] parameter cannot be negative, found [%" PRId64 "]",
                      v);
    *out = v;
    return true;
}

/* The options of the request that are not the search's: conflicts, max_docs,
 * scroll_size, slices, requests_per_second, wait_for_completion (parameters;
 * conflicts and max_docs also in the body, which wins as it does in
 * AbstractBulkByQueryRestHandler). */
static bool parse_opts(store_dbq *d, const store_search_req *r, store_error *err)
{
    d->max_docs = -1;
    d->scroll_size = DEFAULT_SCROLL_SIZE;
    d->rps = -1;
    const char *v;
    if ((v = store_sreq_param(r, "conflicts")) && !conflicts_of(v, &d->proceed, err))
        return false;
    int64_t md = -1, slices = 1;
    if (!int_param(r, "max_docs", &md, err) || (store_sreq_param(r, "max_docs") && !max_docs_of(md, &d->max_docs, err)))
        return false;
    if (!int_param(r, "scroll_size", &d->scroll_size, err))
        return false;
    if ((v = store_sreq_param(r, "slices")) && strcmp(v, "auto") != 0) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || x < 1)
            return seterr(err, 400, "illegal_argument_exception",
                          "[slices] must be a positive integer or the string \"auto\"");
        slices = x;
    }
    if ((v = store_sreq_param(r, "requests_per_second")) && strcmp(v, "-1") != 0) {
        char *end;
        double x = strtod(v, &end);
        if (!*v || *end || !(x > 0))
            return seterr(err, 400, "illegal_argument_exception",
                          "[requests_per_second] must be a float greater than 0. Use -1 to disable throttling.");
        d->rps = x;
    }
    if ((v = store_sreq_param(r, "wait_for_completion")) && strcmp(v, "false") == 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore does not support [wait_for_completion=false]: it has no tasks API");
    const cJSON *b = r->body;
    const cJSON *c = b ? cJSON_GetObjectItemCaseSensitive(b, "conflicts") : NULL;
    if (c && (!cJSON_IsString(c) || !conflicts_of(c->valuestring, &d->proceed, err)))
        return err->status || seterr(err, 400, "parsing_exception", "[conflicts] must be a string");
    const cJSON *m = b ? cJSON_GetObjectItemCaseSensitive(b, "max_docs") : NULL;
    if (m && (!cJSON_IsNumber(m) || m->valuedouble != (double)(int64_t)m->valuedouble))
        return seterr(err, 400, "parsing_exception", "[max_docs] must be an integer");
    if (m && !max_docs_of((int64_t)m->valuedouble, &d->max_docs, err))
        return false;
    if (b && cJSON_GetObjectItemCaseSensitive(b, "stored_fields"))
        return seterr(err, 400, "illegal_argument_exception", "stored_fields is not supported in this context");
    if (b && cJSON_GetObjectItemCaseSensitive(b, "slice"))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support manual [slice]");
    if (b && cJSON_GetObjectItemCaseSensitive(b, "script"))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support scripts");
    if (store_sreq_param(r, "pipeline"))
        return seterr(err, 400, "illegal_argument_exception", "verstore has no ingest pipelines");
    /* DeleteByQueryRequest.validate; an update by query without one takes every document */
    if (!d->update && !store_sreq_param(r, "q") && !(b && cJSON_GetObjectItemCaseSensitive(b, "query")))
        return seterr(err, 400, "action_request_validation_exception", "Validation Failed: 1: query is missing;");
    if (d->max_docs >= 0 && d->max_docs < slices)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [max_docs] should be >= [slices];");
    if (slices > 1)
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore has one shard and does not support [slices] greater than 1 (use 1 or auto)");
    if (d->scroll_size < 0)
        return seterr(err, 400, "illegal_argument_exception", "[size] parameter cannot be negative, found [%" PRId64 "]",
                      d->scroll_size);
    if (d->scroll_size == 0)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [size] cannot be [0] in a scroll context;");
    return true;
}

/* CCS is refused as Elasticsearch refuses it for delete-by-query. */
static bool no_remote(const char *expr, store_error *err)
{
    if (!expr || !strchr(expr, ':'))
        return true;
    buf names = BUF_INIT;
    const char *p = expr;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (memchr(p, ':', len))
            buf_printf(&names, "%s%.*s", names.len ? ", " : "", (int)len, p);
        p += len + (p[len] == ',');
    }
    seterr(err, 400, "action_request_validation_exception",
           "Validation Failed: 1: Cross-cluster calls are not supported in this context but remote indices were "
           "requested: [%s];",
           names.data ? names.data : "");
    buf_free(&names);
    return false;
}

void store_dbq_free(store_dbq *d)
{
    if (!d)
        return;
    store_sidx_free(d->ix, d->nix);
    store_engine_read_end(d->r);
    store_sreq_free(&d->q);
    free(d);
}

/* The search part of the request: what _count would parse (the query and
 * its parameters), nothing that pages or sorts. */
static bool parse_search(store_dbq *d, const store_search_req *r, store_error *err)
{
    static const char *const keep[] = {"q", "df", "default_operator", "analyzer", "analyze_wildcard", "lenient",
                                       "ignore_unavailable", "allow_no_indices", "expand_wildcards", NULL};
    store_param ps[16];
    size_t np = 0;
    for (size_t i = 0; i < r->nparams && np < 16; i++)
        for (const char *const *k = keep; *k; k++)
            if (strcmp(r->params[i].key, *k) == 0)
                ps[np++] = r->params[i];
    cJSON *body = r->body ? cJSON_Duplicate(r->body, true) : NULL;
    if (r->body && !body)
        return oom_err(err);
    cJSON_DeleteItemFromObjectCaseSensitive(body, "conflicts");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "max_docs");
    store_search_req sr = {r->index, ps, np, body, NULL};
    bool ok = store_sreq_parse(&sr, true, &d->q, err);
    cJSON_Delete(body);
    return ok;
}

bool store_dbq_open(store_search *s, const store_search_req *req, bool update, store_dbq **out, store_error *err)
{
    *out = NULL;
    store_dbq *d = calloc(1, sizeof *d);
    if (!d)
        return oom_err(err);
    d->s = s;
    d->update = update;
    d->t0 = timing_now_ms();
    bool ok = false;
    if (!no_remote(req->index, err) || !parse_opts(d, req, err) || !parse_search(d, req, err))
        goto done;
    if (!(d->r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    if (!store_search_lookup_rewrite(d->r, &d->q, err) ||
        !store_resolve(d->r, req->index, d->q.ignore_unavailable, d->q.allow_no_indices, &d->ix, &d->nix, err))
        goto done;
    for (size_t i = 0; i < d->nix; i++) { /* a scroll batch is bounded as a scroll page is */
        ex x = {d->r, &d->ix[i], err};
        if (d->scroll_size > d->ix[i].window) {
            store_eval_shard_fail(&x, "illegal_argument_exception",
                                  "Batch size is too large, size must be less than or equal to: [%" PRId64
                                  "] but was [%" PRId64 "]. Scroll batch sizes cost as much memory as result windows "
                                  "so they are controlled by the [index.max_result_window] index level setting.",
                                  d->ix[i].window, d->scroll_size);
            goto done;
        }
    }
    int terminated = -1;
    if (!store_search_eval_all(d->r, &d->q, d->ix, d->nix, &terminated, err))
        goto done;
    for (size_t i = 0; i < d->nix; i++)
        d->total += (int64_t)d->ix[i].res.n;
    if (d->max_docs >= 0 && d->total > d->max_docs)
        d->total = d->max_docs;
    ok = true;
done:
    if (!ok) {
        store_dbq_free(d);
        return false;
    }
    *out = d;
    return true;
}

/* One batch's deletes, conditional on what the snapshot saw. */
typedef struct batch {
    store_op *ops;
    size_t n;
} batch;

static bool next_batch(store_dbq *d, int64_t want, batch *b, store_error *err)
{
    b->n = 0;
    while (d->at_ix < d->nix && (int64_t)b->n < want) {
        sidx *ix = &d->ix[d->at_ix];
        if (d->at_k >= ix->res.n) {
            d->at_ix++;
            d->at_k = 0;
            continue;
        }
        const char *id;
        size_t idn;
        store_doc_view v;
        store_lookup rc = store_engine_doc_by_seq(d->r, &ix->meta, ix->res.v[d->at_k++].seq, &id, &idn, &v);
        if (rc == STORE_LOOKUP_FAILED)
            return storage_err(err);
        if (rc != STORE_LOOKUP_FOUND)
            continue;
        if (d->update && v.source_disabled) /* Reindexer: nothing to index again */
            return seterr(err, 400, "illegal_argument_exception", "[%s][%.*s] didn't store _source", ix->meta.name,
                          (int)idn, id);
        store_op *op = &b->ops[b->n++];
        memset(op, 0, sizeof *op);
        op->w = (store_wparams){d->update ? STORE_OP_INDEX : STORE_OP_DELETE, STORE_VT_INTERNAL, STORE_MATCH_ANY,
                                v.st.seq_no, v.st.term, false, true};
        op->index = ix->meta.name;
        op->id = id; /* points into the snapshot, open until the end, as does the source */
        op->id_len = idn;
        if (d->update) {
            op->src = v.src;
            op->src_len = v.src_len;
        }
    }
    return true;
}

/* A bulk failure of the response's `failures`, as BulkItemResponse.Failure renders it. */
static void put_failure(buf *f, const store_op *op, const char *uuid)
{
    int status = 500;
    const char *type = "exception";
    buf reason = BUF_INIT;
    if (op->err == STORE_OPERR_CONFLICT) {
        status = 409;
        type = "version_conflict_engine_exception";
        buf_putc(&reason, '[');
        buf_append(&reason, op->id, op->id_len);
        buf_printf(&reason, "]: version conflict, %s", op->dec.explain);
    } else if (op->err == STORE_OPERR_INDEX_MISSING) {
        status = 404;
        type = "index_not_found_exception";
        buf_printf(&reason, "no such index [%s]", op->index);
    } else if (op->err == STORE_OPERR_DISK_FULL) {
        status = STORE_DISK_BLOCK_STATUS;
        type = "cluster_block_exception";
        buf_printf(&reason, STORE_DISK_BLOCK_REASON, op->index);
    } else if (op->err == STORE_OPERR_MAPPING) { /* a mapping changed since refuses the source */
        status = 400;
        type = op->reason_type ? op->reason_type : "document_parsing_exception";
        buf_puts(&reason, op->reason ? op->reason : "failed to parse");
    } else {
        buf_puts(&reason, "storage failure, see the verstore log");
    }
    if (f->len)
        buf_putc(f, ',');
    buf_puts(f, "{\"index\":");
    jstr(f, op->index);
    buf_puts(f, ",\"id\":");
    jstrn(f, op->id, op->id_len);
    buf_puts(f, ",\"cause\":{\"type\":");
    jstr(f, type);
    buf_puts(f, ",\"reason\":");
    jstrn(f, reason.data ? reason.data : "", reason.len);
    buf_puts(f, ",\"index_uuid\":");
    jstr(f, uuid);
    buf_puts(f, ",\"shard\":\"0\",\"index\":");
    jstr(f, op->index);
    buf_printf(f, "},\"status\":%d}", status);
    buf_free(&reason);
}

bool store_dbq_run(store_dbq *d, buf *out, int *status, store_error *err)
{
    int64_t done = 0, conflicts = 0, batches = 0;
    buf failures = BUF_INIT;
    batch b = {0};
    bool ok = false, stop = false;
    *status = 200;
    size_t cap = (size_t)d->scroll_size;
    if (!(b.ops = calloc(cap, sizeof *b.ops))) {
        oom_err(err);
        goto done;
    }
    while (!stop) {
        int64_t want = d->scroll_size;
        if (d->max_docs >= 0 && d->max_docs - done < want)
            want = d->max_docs - done; /* ES cuts the batch to what max_docs leaves */
        if (want <= 0 || store_deadline_stopped())
            break;
        if (!next_batch(d, want, &b, err))
            goto done;
        if (!b.n)
            break;
        store_job job;
        memset(&job, 0, sizeof job);
        job.kind = STORE_JOB_DOCS;
        job.ops = b.ops;
        job.nops = b.n;
        store_engine_execute(d->s->e, &job);
        batches++;
        for (size_t i = 0; i < b.n; i++) {
            store_op *op = &b.ops[i];
            if (op->err == STORE_OPERR_NONE && op->dec.outcome == STORE_DEC_OK) {
                done++;
            } else {
                if (op->err == STORE_OPERR_CONFLICT || op->dec.outcome == STORE_DEC_CONFLICT) {
                    op->err = STORE_OPERR_CONFLICT;
                    conflicts++;
                    if (d->proceed)
                        continue;
                }
                /* AbstractAsyncBulkByScrollAction: any other failure, or a
                 * conflict under conflicts=abort, ends the run after this
                 * batch; the answer's status is the worst failure's. */
                put_failure(&failures, op, op->uuid[0] ? op->uuid : "_na_");
                int st = op->err == STORE_OPERR_CONFLICT ? 409
                         : op->err == STORE_OPERR_MAPPING       ? 400
                         : op->err == STORE_OPERR_INDEX_MISSING ? 404
                         : op->err == STORE_OPERR_DISK_FULL     ? STORE_DISK_BLOCK_STATUS
                                                                : 500;
                if (st > *status)
                    *status = st;
                stop = true;
            }
        }
        for (size_t i = 0; i < b.n; i++)
            store_op_clear(&b.ops[i]);
    }
    /* BulkByScrollTask.Status: _update_by_query shows `updated` (and `deleted`
     * 0), _delete_by_query only `deleted`. */
    buf_printf(out, "{\"took\":%" PRId64 ",\"timed_out\":false,\"total\":%" PRId64 ",",
               (int64_t)(timing_now_ms() - d->t0), d->total);
    if (d->update)
        buf_printf(out, "\"updated\":%" PRId64 ",\"deleted\":0,", done);
    else
        buf_printf(out, "\"deleted\":%" PRId64 ",", done);
    buf_printf(out,
               "\"batches\":%" PRId64 ",\"version_conflicts\":%" PRId64
               ",\"noops\":0,\"retries\":{\"bulk\":0,\"search\":0},\"throttled_millis\":0,\"requests_per_second\":",
               batches, conflicts);
    if (d->rps < 0)
        buf_puts(out, "-1.0");
    else
        buf_printf(out, "%.1f", d->rps);
    buf_puts(out, ",\"throttled_until_millis\":0,\"failures\":[");
    buf_append(out, failures.data ? failures.data : "", failures.len);
    buf_puts(out, "]}");
    ok = true;
done:
    free(b.ops);
    buf_free(&failures);
    return ok;
}

bool store_search_by_query(store_search *s, const store_search_req *req, bool update, int *status, buf *out,
                           store_error *err)
{
    store_dbq *d;
    if (!store_dbq_open(s, req, update, &d, err))
        return false;
    bool ok = store_dbq_run(d, out, status, err);
    store_dbq_free(d);
    return ok;
}
