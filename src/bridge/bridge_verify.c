/* bridge_verify — `versync verify`: compare PostgreSQL with the store without stopping either; --repair
 * rewrites the drifted current rows (external_gte) or names what it cannot fix. */
#include "versync/bridge/backfill.h"
#include "versync/common/timing.h"
#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/bridge/catalog.h"
#include "versync/bridge/cli.h"
#include "versync/bridge/esclient.h"
#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/common/scan.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/target.h"
#include "versync/bridge/worker.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_MAX (256u << 20)
#define LIST_PAGE 1000
#define TEXT_SHOW 20   /* drifted keys listed per table in text output */
#define JSON_SHOW 1000 /* … and in --json */

typedef enum kind {
    K_OK = 0,
    K_MISSING, /* row, no document */
    K_EXTRA,   /* document, no row (or a soft-deleted row) */
    K_STALE,   /* document at a lower version than its row */
    K_DIFFERS, /* right version, other content */
    K_PENDING, /* a change is still waiting: not drift */
} kind;

static const char *const kind_name[] = {"ok", "missing", "extra", "stale", "differs", "pending"};

typedef struct drift {
    char *id;
    char *key_text; /* text[] literal of the key, for --repair */
    kind k;
    int64_t row_version; /* -1: none (change-sequence versions, or no row) */
    int64_t doc_version; /* -1: no document */
    bool soft;           /* the row exists but is soft-deleted */
    long long change;    /* --repair: the change row queued for it, 0 none */
    bool repaired;       /* --repair: rewritten (or deleted) in the store directly */
    int64_t wrote;       /* --repair: the version it was written with */
    char k_op;           /* --repair: its op, 'U' or 'D' */
    char would;          /* --repair --dry-run: 'W' would be written directly, 'Q' queued as a change, 0 not */
    char note[1024];     /* --repair: why it was not repaired, "" otherwise */
} drift;

typedef struct tstats {
    long long rows, docs, n[6], extra_unlisted, queued, repaired, unrepairable, would;
    bool listed; /* extras were looked for by listing the index */
    drift *d;
    size_t nd, cap;
} tstats;

/* What the store holds for one id. */
typedef struct sdoc {
    bool found;
    int64_t version;
    cJSON *source; /* owned by the parsed answer */
} sdoc;

typedef struct vctx {
    const cfg *c;
    PGconn *conn;
    esc *store;
    char *schema_q;
    int batch;
    bool repair, json;
    bool dry_run;       /* --repair --dry-run: decide every repair, make none */
    size_t max_bytes;   /* store.max_bulk_bytes */
    char err[1024];
} vctx;

static bool add_drift(tstats *s, const char *id, const char *key_text, kind k, int64_t rv, int64_t dv,
                      bool soft)
{
    s->n[k]++;
    if (k == K_PENDING)
        return true;
    if (s->nd == s->cap && !GROW_ARRAY(s->d, s->cap, s->nd + 1, 16))
        return false;
    drift *d = &s->d[s->nd];
    d->id = strdup(id);
    d->key_text = key_text ? strdup(key_text) : NULL;
    if (!d->id || (key_text && !d->key_text)) {
        free(d->id);
        free(d->key_text);
        return false;
    }
    d->k = k;
    d->row_version = rv;
    d->doc_version = dv;
    d->soft = soft;
    d->change = 0;
    d->repaired = false;
    d->wrote = -1;
    d->note[0] = '\0';
    s->nd++;
    return true;
}

static void free_stats(tstats *s)
{
    for (size_t i = 0; i < s->nd; i++) {
        free(s->d[i].id);
        free(s->d[i].key_text);
    }
    free(s->d);
}

/* POST /{index}/_mget of ids[0..n): out[i] for each; *root owns the sources. */
static bool mget(vctx *v, const char *index, const char *const *ids, size_t n, sdoc *out, cJSON **root)
{
    buf path = BUF_INIT, body = BUF_INIT, resp = BUF_INIT;
    bool ok = false;
    *root = NULL;
    memset(out, 0, n * sizeof *out);
    buf_init(&resp, RESP_MAX);
    if (!buf_printf(&path, "/%s/_mget", index) || !buf_puts(&body, "{\"ids\":["))
        goto oom;
    for (size_t i = 0; i < n; i++)
        if ((i && !buf_putc(&body, ',')) || !buf_put_json_string(&body, ids[i], strlen(ids[i])))
            goto oom;
    if (!buf_puts(&body, "]}"))
        goto oom;
    int st = -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        buf_reset(&resp);
        st = esc_request(v->store, "POST", path.data, NULL, body.data, body.len, NULL, &resp, v->err,
                         sizeof v->err);
        if (st != ESC_TRANSPORT_ERROR && st != 429 && st < 500)
            break;
        timing_sleep_ms(timing_backoff_ms(attempt), NULL);
    }
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st == 404 && resp.data && strstr(resp.data, "index_not_found_exception")) {
        ok = true; /* no index: nothing is there */
        goto done;
    }
    if (st != 200) {
        snprintf(v->err, sizeof v->err, "store answered HTTP %d to POST %s: %.300s", st, path.data,
                 resp.data ? resp.data : "");
        goto done;
    }
    *root = cJSON_ParseWithLength(resp.data, resp.len);
    cJSON *docs = cJSON_GetObjectItemCaseSensitive(*root, "docs");
    if (!cJSON_IsArray(docs) || (size_t)cJSON_GetArraySize(docs) != n) {
        snprintf(v->err, sizeof v->err, "store's answer to POST %s is not an _mget answer for %zu ids",
                 path.data, n);
        goto done;
    }
    size_t i = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, docs)
    {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "found");
        cJSON *ver = cJSON_GetObjectItemCaseSensitive(d, "_version");
        if (cJSON_GetObjectItemCaseSensitive(d, "error") && !cJSON_IsBool(f)) {
            cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "error");
            char *txt = cJSON_PrintUnformatted(e);
            snprintf(v->err, sizeof v->err, "store: _mget of %s failed: %.300s", ids[i], txt ? txt : "");
            free(txt);
            goto done;
        }
        out[i].found = cJSON_IsTrue(f);
        out[i].version = cJSON_IsNumber(ver) ? (int64_t)ver->valuedouble : -1;
        out[i].source = cJSON_GetObjectItemCaseSensitive(d, "_source");
        i++;
    }
    ok = true;
    goto done;
oom:
    snprintf(v->err, sizeof v->err, "out of memory");
done:
    buf_free(&path);
    buf_free(&body);
    buf_free(&resp);
    return ok;
}

/* Compare one rendered row with what the store holds. */
static kind classify(const cfg_table *t, const PGresult *r, int row, const sdoc *d, int64_t *rv)
{
    bool soft = strcmp(PQgetvalue(r, row, RENDER_COL_DELETED), "t") == 0 && !t->deletes_ignore;
    *rv = -1;
    if (t->version_kind != CFG_VERSION_SEQ && !PQgetisnull(r, row, RENDER_COL_VERSION)) {
        char why[160];
        if (!bulk_parse_version(PQgetvalue(r, row, RENDER_COL_VERSION), rv, why, sizeof why))
            *rv = -1;
    }
    if (soft)
        return d->found ? K_EXTRA : K_OK;
    if (!d->found)
        return K_MISSING;
    if (*rv >= 0 && d->version < *rv)
        return K_STALE;
    cJSON *want = cJSON_Parse(PQgetvalue(r, row, RENDER_COL_DOC));
    /* As JSON values: key order (and number spelling) is not the store's to keep. */
    bool same = want && d->source && cJSON_Compare(want, d->source, true);
    cJSON_Delete(want);
    return same ? K_OK : K_DIFFERS;
}

/* Keys (RENDER_COL_KEY texts) among keys[0..n) with changes waiting: pending[i]. */
static bool find_pending(vctx *v, const cfg_table *t, const char *const *keys, size_t n, bool *pending)
{
    buf arg = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
    char *sql = NULL;
    PGresult *r = NULL;
    bool ok = false;
    memset(pending, 0, n * sizeof *pending);
    if (!buf_putc(&arg, '['))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        char **parts;
        size_t np;
        if (!render_parse_text_array(keys[i], &parts, &np))
            goto oom;
        bool okp = buf_puts(&arg, i ? ",[" : "[");
        for (size_t k = 0; okp && k < np; k++)
            okp = (!k || buf_putc(&arg, ',')) && parts[k] &&
                  buf_put_json_string(&arg, parts[k], strlen(parts[k]));
        render_free_array(parts, np);
        if (!okp || !buf_putc(&arg, ']'))
            goto oom;
    }
    if (!buf_putc(&arg, ']') || !(sql = sql_render("verify_pending", v->schema_q)))
        goto oom;
    const char *p[2] = {t->ident, arg.data};
    if (!(r = pg_exec(v->conn, sql, 2, p, v->err, sizeof v->err)))
        goto done;
    /* Compare as document ids: the two array texts may quote their elements differently. */
    for (int row = 0; row < PQntuples(r); row++) {
        char **parts;
        size_t np;
        if (!render_parse_text_array(PQgetvalue(r, row, 0), &parts, &np))
            continue;
        buf_reset(&a);
        bool oka = bulk_doc_id(&a, (const char *const *)parts, np);
        render_free_array(parts, np);
        for (size_t i = 0; oka && i < n; i++) {
            if (pending[i] || !render_parse_text_array(keys[i], &parts, &np))
                continue;
            buf_reset(&b);
            bool okb = bulk_doc_id(&b, (const char *const *)parts, np);
            render_free_array(parts, np);
            if (okb && strcmp(a.data, b.data) == 0)
                pending[i] = true;
        }
    }
    ok = true;
    goto done;
oom:
    snprintf(v->err, sizeof v->err, "out of memory");
done:
    PQclear(r);
    free(sql);
    buf_free(&arg);
    buf_free(&a);
    buf_free(&b);
    return ok;
}

/* Rows of one page that looked drifted: read them and their documents again (a
 * change may have landed between the two reads), then set aside keys whose
 * changes are still waiting. What is left is drift. */
static bool confirm_rows(vctx *v, const cfg_table *t, const char *index, char **ids, size_t n, tstats *s)
{
    bool ok = false;
    bool *present = calloc(n + 1, sizeof *present), *pending = calloc(n + 1, sizeof *pending);
    sdoc *docs = calloc(n + 1, sizeof *docs);
    kind *k = calloc(n + 1, sizeof *k);
    int64_t *rv = calloc(n + 1, sizeof *rv);
    const char **keys = calloc(n + 1, sizeof *keys);
    int *rowof = calloc(n + 1, sizeof *rowof);
    PGresult *rows = NULL;
    cJSON *root = NULL;
    buf id = BUF_INIT;
    if (!present || !pending || !docs || !k || !rv || !keys || !rowof) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto done;
    }
    if (!backfill_present(v->conn, t, (const char *const *)ids, n, present, &rows, v->err, sizeof v->err) ||
        !mget(v, index, (const char *const *)ids, n, docs, &root))
        goto done;
    for (size_t i = 0; i < n; i++)
        rowof[i] = -1;
    for (int row = 0; rows && row < PQntuples(rows); row++) {
        char **parts;
        size_t np;
        if (!render_parse_text_array(PQgetvalue(rows, row, RENDER_COL_KEY), &parts, &np))
            continue;
        buf_reset(&id);
        bool idok = bulk_doc_id(&id, (const char *const *)parts, np);
        render_free_array(parts, np);
        for (size_t i = 0; idok && i < n; i++)
            if (present[i] && rowof[i] < 0 && strcmp(ids[i], id.data) == 0)
                rowof[i] = row;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (rowof[i] < 0) {
            k[i] = K_OK; /* deleted since: its delete has its own change row; the index walk sees the rest */
            continue;
        }
        k[i] = classify(t, rows, rowof[i], &docs[i], &rv[i]);
        if (k[i] != K_OK)
            keys[m++] = PQgetvalue(rows, rowof[i], RENDER_COL_KEY);
    }
    if (m && !find_pending(v, t, keys, m, pending))
        goto done;
    m = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] == K_OK)
            continue;
        bool soft = strcmp(PQgetvalue(rows, rowof[i], RENDER_COL_DELETED), "t") == 0;
        if (pending[m++])
            k[i] = K_PENDING;
        if (!add_drift(s, ids[i], PQgetvalue(rows, rowof[i], RENDER_COL_KEY), k[i], rv[i],
                       docs[i].found ? docs[i].version : -1, soft)) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto done;
        }
    }
    ok = true;
done:
    PQclear(rows);
    cJSON_Delete(root);
    buf_free(&id);
    free(present);
    free(pending);
    free(docs);
    free(k);
    free(rv);
    free(keys);
    free(rowof);
    return ok;
}

/* Phase 1: every row (or a sample) in key order against its document. */
static bool check_rows(vctx *v, const cfg_table *t, const char *index, long sample, tstats *s)
{
    bool ok = false;
    char *sql_first = backfill_page_sql(v->conn, t, false, sample > 0, v->err, sizeof v->err);
    char *sql_after = sample > 0 ? NULL : backfill_page_sql(v->conn, t, true, false, v->err, sizeof v->err);
    size_t batch = (size_t)v->batch;
    const char **params = calloc(t->nkey + 1, sizeof *params);
    char **ids = calloc(batch + 1, sizeof *ids), **sus = calloc(batch + 1, sizeof *sus);
    sdoc *docs = calloc(batch + 1, sizeof *docs);
    char **last = NULL;
    size_t nlast = 0;
    PGresult *page = NULL;
    cJSON *root = NULL;
    buf id = BUF_INIT;
    if (!sql_first || (sample <= 0 && !sql_after))
        goto done;
    if (!params || !ids || !sus || !docs) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto done;
    }
    bool estimated = false;
    long long total = sample > 0 ? sample : backfill_estimate_rows(v->conn, t, &estimated);
    backfill_progress pr;
    backfill_progress_start(&pr, t->ident, "checked", total, estimated, 0);
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", sample > 0 ? (size_t)sample : batch);
    for (;;) {
        PQclear(page);
        if (last) {
            for (size_t k = 0; k < t->nkey; k++)
                params[k] = last[k];
            params[t->nkey] = limit;
            page = pg_exec(v->conn, sql_after, (int)t->nkey + 1, params, v->err, sizeof v->err);
        } else {
            params[0] = limit;
            page = pg_exec(v->conn, sql_first, 1, params, v->err, sizeof v->err);
        }
        if (!page)
            goto done;
        int nrows = PQntuples(page);
        /* A sample comes in one query; mget it in batches. */
        for (int lo = 0; lo < nrows; lo += (int)batch) {
            int hi = lo + (int)batch < nrows ? lo + (int)batch : nrows;
            size_t n = 0, nsus = 0;
            for (int row = lo; row < hi; row++) {
                char **parts;
                size_t np;
                if (!render_parse_text_array(PQgetvalue(page, row, RENDER_COL_KEY), &parts, &np))
                    goto oom;
                buf_reset(&id);
                bool okid = bulk_doc_id(&id, (const char *const *)parts, np);
                render_free_array(parts, np);
                if (!okid || !(ids[n++] = strdup(id.data)))
                    goto oom;
            }
            cJSON_Delete(root);
            if (!mget(v, index, (const char *const *)ids, n, docs, &root))
                goto done;
            for (size_t i = 0; i < n; i++) {
                int64_t rv;
                if (docs[i].found && !(strcmp(PQgetvalue(page, lo + (int)i, RENDER_COL_DELETED), "t") == 0 &&
                                       !t->deletes_ignore))
                    s->docs++;
                if (classify(t, page, lo + (int)i, &docs[i], &rv) != K_OK)
                    sus[nsus++] = ids[i];
            }
            s->rows += (long long)n;
            if (nsus && !confirm_rows(v, t, index, sus, nsus, s))
                goto done;
            for (size_t i = 0; i < n; i++) {
                free(ids[i]);
                ids[i] = NULL;
            }
            backfill_progress_update(&pr, s->rows);
        }
        if (sample > 0 || nrows < (int)batch)
            break;
        render_free_array(last, nlast);
        last = NULL;
        if (!render_parse_text_array(PQgetvalue(page, nrows - 1, RENDER_COL_KEY), &last, &nlast))
            goto oom;
    }
    backfill_progress_end(&pr);
    ok = true;
    goto done;
oom:
    snprintf(v->err, sizeof v->err, "out of memory");
done:
    for (size_t i = 0; ids && i < batch; i++)
        free(ids[i]);
    PQclear(page);
    cJSON_Delete(root);
    render_free_array(last, nlast);
    buf_free(&id);
    free(sql_first);
    free(sql_after);
    free(params);
    free(ids);
    free(sus);
    free(docs);
    return ok;
}

/* Phase 2: documents whose rows do not exist, by listing the index. */
static bool check_extras(vctx *v, const cfg_table *t, const char *index, tstats *s)
{
    bool ok = false;
    char *after = NULL;
    backfill_doc *docs = NULL;
    int nd = 0;
    bool *present = calloc(LIST_PAGE, sizeof *present), *pending = calloc(LIST_PAGE, sizeof *pending);
    const char **ids = calloc(LIST_PAGE, sizeof *ids), **keys = calloc(LIST_PAGE, sizeof *keys);
    char **keytext = calloc(LIST_PAGE, sizeof *keytext);
    int *which = calloc(LIST_PAGE, sizeof *which);
    sdoc *again = calloc(LIST_PAGE, sizeof *again);
    cJSON *root = NULL;
    buf kb = BUF_INIT;
    size_t nk = 0;
    if (!present || !pending || !ids || !keys || !keytext || !which || !again) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto done;
    }
    for (;;) {
        backfill_free_docs(docs, nd > 0 ? (size_t)nd : 0);
        docs = NULL;
        nd = backfill_list_page(v->store, index, after, LIST_PAGE, &docs, v->err, sizeof v->err);
        if (nd == BACKFILL_LIST_UNSUPPORTED) {
            /* No listing: the count still tells whether there are documents beyond the rows. */
            log_debug("%s: %s; counting instead", index, v->err);
            nd = 0;
            long long cnt = backfill_count(v->store, index, v->err, sizeof v->err);
            if (cnt < 0)
                goto done;
            /* Documents of soft-deleted rows are in the count and already reported as extra. */
            long long known = s->docs;
            for (size_t i = 0; i < s->nd; i++)
                known += s->d[i].soft && s->d[i].k == K_EXTRA;
            if (cnt > known)
                s->extra_unlisted = cnt - known;
            ok = true;
            goto done;
        }
        if (nd < 0) {
            nd = 0;
            goto done;
        }
        s->listed = true;
        if (nd == 0)
            break;
        for (int i = 0; i < nd; i++)
            ids[i] = docs[i].id;
        if (!backfill_present(v->conn, t, ids, (size_t)nd, present, NULL, v->err, sizeof v->err))
            goto done;
        /* Absent rows: skip keys with a change waiting, then look at the document once more. */
        for (size_t i = 0; i < nk; i++)
            free(keytext[i]);
        nk = 0;
        for (int i = 0; i < nd; i++) {
            if (present[i])
                continue;
            char **parts;
            size_t np;
            which[nk] = i;
            keytext[nk] = NULL;
            if (backfill_split_id(docs[i].id, t->nkey, &parts, &np)) {
                buf_reset(&kb);
                bool okk = render_array_literal(&kb, (const char *const *)parts, np);
                render_free_array(parts, np);
                if (!okk || !(keytext[nk] = strdup(kb.data))) {
                    snprintf(v->err, sizeof v->err, "out of memory");
                    goto done;
                }
            }
            nk++;
        }
        if (nk) {
            size_t nq = 0;
            for (size_t i = 0; i < nk; i++)
                if (keytext[i])
                    keys[nq++] = keytext[i];
            bool *pq = pending;
            if (nq && !find_pending(v, t, keys, nq, pq))
                goto done;
            const char **mids = calloc(nk, sizeof *mids);
            if (!mids) {
                snprintf(v->err, sizeof v->err, "out of memory");
                goto done;
            }
            for (size_t i = 0; i < nk; i++)
                mids[i] = docs[which[i]].id;
            cJSON_Delete(root);
            bool okm = mget(v, index, mids, nk, again, &root);
            free(mids);
            if (!okm)
                goto done;
            /* Still there: has its row appeared meanwhile (a delete and a re-insert)? */
            const char **still = calloc(nk, sizeof *still);
            bool *back = calloc(nk, sizeof *back);
            size_t ns = 0;
            bool okp = still && back;
            for (size_t i = 0; okp && i < nk; i++)
                if (again[i].found)
                    still[ns++] = docs[which[i]].id;
            if (okp && ns)
                okp = backfill_present(v->conn, t, still, ns, back, NULL, v->err, sizeof v->err);
            else if (!okp)
                snprintf(v->err, sizeof v->err, "out of memory");
            free(still);
            if (!okp) {
                free(back);
                goto done;
            }
            size_t qi = 0, si = 0;
            for (size_t i = 0; i < nk; i++) {
                bool pend = keytext[i] ? pq[qi++] : false;
                if (!again[i].found)
                    continue; /* deleted since the listing */
                if (back[si++])
                    continue; /* its row exists now */
                if (!add_drift(s, docs[which[i]].id, keytext[i], pend ? K_PENDING : K_EXTRA, -1,
                               again[i].version, false)) {
                    free(back);
                    snprintf(v->err, sizeof v->err, "out of memory");
                    goto done;
                }
            }
            free(back);
        }
        free(after);
        if (!(after = strdup(docs[nd - 1].id))) {
            snprintf(v->err, sizeof v->err, "out of memory");
            goto done;
        }
    }
    ok = true;
done:
    for (size_t i = 0; keytext && i < nk; i++)
        free(keytext[i]);
    backfill_free_docs(docs, nd > 0 ? (size_t)nd : 0);
    cJSON_Delete(root);
    buf_free(&kb);
    free(after);
    free(present);
    free(pending);
    free(ids);
    free(keys);
    free(keytext);
    free(which);
    free(again);
    return ok;
}

/* The statement that lifts a regressed row's version above the store's: printed, never run. */
static void bump_command(const cfg_table *t, const drift *d, int64_t store_version, char *out, size_t outsz)
{
    buf b = BUF_INIT;
    char **key = NULL;
    size_t nk = 0;
    const char *col = t->version_column ? t->version_column : "";
    buf_printf(&b, "UPDATE %s SET \"%s\" = ", t->ident, col);
    if (t->version_kind == CFG_VERSION_TIMESTAMP)
        buf_printf(&b, "'epoch'::%s + interval '%" PRId64 " microseconds'",
                   t->version_has_tz ? "timestamptz" : "timestamp", store_version + 1);
    else
        buf_printf(&b, "%" PRId64, store_version + 1);
    if (d->key_text && render_parse_text_array(d->key_text, &key, &nk) && nk == t->nkey) {
        for (size_t i = 0; i < nk; i++) {
            buf_printf(&b, "%s\"%s\" = '", i ? " AND " : " WHERE ", t->key[i]);
            for (const char *p = key[i] ? key[i] : ""; *p; p++) {
                if (*p == '\'')
                    buf_putc(&b, '\''); /* a literal's quote is doubled */
                buf_putc(&b, *p);
            }
            buf_putc(&b, '\'');
        }
    }
    render_free_array(key, nk);
    snprintf(out, outsz, "%s", b.data && !b.overflow ? b.data : "UPDATE … (out of memory)");
    buf_free(&b);
}

/* --repair of a change-sequence table: one change row per drifted key, so the workers rewrite it
 * with a new sequence number (greater than anything the store holds). */
static bool enqueue_one(vctx *v, const cfg_table *t, const char *enq, drift *d, const char *op, const char *ver,
                        tstats *s)
{
    const char *p[4] = {t->ident, d->key_text, op, ver};
    PGresult *r = pg_exec(v->conn, enq, 4, p, v->err, sizeof v->err);
    if (!r)
        return false;
    d->change = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    d->k_op = op[0];
    snprintf(d->note, sizeof d->note, "%s", ver ? ver : "");
    PQclear(r);
    s->queued++;
    return true;
}

/* --repair: under a SHARE lock (writers of the table wait; a row found now stays as it is until
 * we commit) re-read each drifted row and write its current state with version_type=external_gte
 * at the row's own version: an equal version names the same row state under the contract, so
 * this rewrites a document left behind by a schema change or an unbumped update, and can never
 * put an older state over a newer one. A document whose row is gone is deleted one version above
 * the document's. Change-sequence tables queue a change row instead (a new sequence number). A
 * refusal of the current row at a greater version is a regressed version: named, with the
 * statement that fixes it. A "capture": "wal" table (no row versions, commit LSNs in the store)
 * is written directly too, at the WAL insert position read under the lock (verify_wal_position):
 * its changes are not in the change table, and a change row would be written at a sequence number
 * far below the LSNs, or never claimed when no table uses triggers. */
static bool repair(vctx *v, const cfg_table *t, tstats *s)
{
    char *enq = sql_render("verify_enqueue", v->schema_q);
    const char *index = t->index ? t->index : t->name;
    bool ok = false, in_tx = false;
    const char **ids = calloc(s->nd + 1, sizeof *ids);
    bool *present = calloc(s->nd + 1, sizeof *present);
    bulk_op *ops = calloc(s->nd + 1, sizeof *ops);
    size_t *opd = calloc(s->nd + 1, sizeof *opd);
    PGresult *rows = NULL;
    bulk_sender sender;
    bulk_sender_init(&sender, v->store, v->max_bytes);
    sender.max_item_retries = v->c->store.max_item_retries;
    if (!enq || !ids || !present || !ops || !opd) {
        snprintf(v->err, sizeof v->err, "out of memory");
        goto done;
    }
    /* A dry run writes nothing, so it needs no lock: it says what a repair would do now. */
    if (!v->dry_run && !backfill_lock_table(v->conn, t, v->err, sizeof v->err))
        goto done;
    in_tx = !v->dry_run;
    bool wal = t->capture == CFG_CAPTURE_WAL;
    int64_t wal_v = 0;
    if (wal) {
        PGresult *wr = pg_exec(v->conn, sql_text("verify_wal_position"), 0, NULL, v->err, sizeof v->err);
        if (!wr)
            goto done;
        wal_v = strtoll(PQgetvalue(wr, 0, 0), NULL, 10);
        PQclear(wr);
    }
    int64_t maxv = 0;
    size_t nids = 0;
    for (size_t i = 0; i < s->nd; i++) {
        drift *d = &s->d[i];
        if (d->k == K_PENDING || d->k == K_OK)
            continue;
        if (d->doc_version + 1 > maxv)
            maxv = d->doc_version + 1;
        ids[nids++] = d->id;
    }
    if (maxv > 0 && !v->dry_run && !backfill_bump_sequences(v->conn, v->schema_q, t, maxv, v->err, sizeof v->err))
        goto done;
    /* The drifted rows as they are now, rendered as the workers render them. */
    if (nids && !backfill_present(v->conn, t, ids, nids, present, &rows, v->err, sizeof v->err))
        goto done;
    size_t nops = 0, j = 0;
    buf id = BUF_INIT;
    for (size_t i = 0; i < s->nd; i++) {
        drift *d = &s->d[i];
        if (d->k == K_PENDING || d->k == K_OK)
            continue;
        bool here = present[j++];
        if (!d->key_text) {
            snprintf(d->note, sizeof d->note, "the id is no key of %s; delete it by hand", t->ident);
            s->unrepairable++;
            continue;
        }
        int row = -1;
        for (int r = 0; here && rows && r < PQntuples(rows) && row < 0; r++) {
            char **key;
            size_t kn;
            if (!render_parse_text_array(PQgetvalue(rows, r, RENDER_COL_KEY), &key, &kn))
                continue;
            buf_reset(&id);
            bool idok = bulk_doc_id(&id, (const char *const *)key, kn);
            render_free_array(key, kn);
            if (idok && strcmp(id.data, d->id) == 0)
                row = r;
        }
        bool soft = row >= 0 && strcmp(PQgetvalue(rows, row, RENDER_COL_DELETED), "t") == 0 && !t->deletes_ignore;
        if (t->version_kind == CFG_VERSION_SEQ && !wal) {
            bool del = row < 0 || soft;
            if (d->k == K_EXTRA && !del) {
                snprintf(d->note, sizeof d->note, "its row exists again; nothing to do");
                continue;
            }
            if (v->dry_run) {
                d->would = 'Q';
                d->k_op = del ? 'D' : 'U';
                s->would++;
            } else if (!enqueue_one(v, t, enq, d, del ? "D" : "U", NULL, s)) {
                goto fail_id;
            }
            continue;
        }
        bulk_op *op = &ops[nops];
        memset(op, 0, sizeof *op);
        op->index = index;
        op->id = d->id;
        op->id_len = strlen(d->id);
        op->vtype = BULK_VT_EXTERNAL_GTE;
        if (row < 0) {
            if (d->k != K_EXTRA) {
                snprintf(d->note, sizeof d->note, "its row was deleted meanwhile; its delete is on its way");
                continue;
            }
            /* Row gone: a delete that beats the orphan document (backfill_delete_version). */
            op->is_delete = true;
            op->version = wal ? wal_v : backfill_delete_version(t, d->doc_version);
        } else if (wal) {
            if (d->k == K_EXTRA && !soft) {
                snprintf(d->note, sizeof d->note, "its row exists again; nothing to do");
                continue;
            }
            op->version = wal_v;
            op->is_delete = soft;
            op->doc = PQgetvalue(rows, row, RENDER_COL_DOC);
            op->doc_len = (size_t)PQgetlength(rows, row, RENDER_COL_DOC);
            op->row_current = true; /* the SHARE lock keeps it so until COMMIT */
        } else {
            char why[160];
            const char *vt = PQgetisnull(rows, row, RENDER_COL_VERSION) ? NULL : PQgetvalue(rows, row, RENDER_COL_VERSION);
            if (!bulk_parse_version(vt, &op->version, why, sizeof why)) {
                snprintf(d->note, sizeof d->note, "its version %s; fix the row's \"%s\"", why,
                         t->version_column ? t->version_column : "");
                s->unrepairable++;
                continue;
            }
            if (d->k == K_EXTRA && !soft) {
                snprintf(d->note, sizeof d->note, "its row exists again; nothing to do");
                continue;
            }
            op->is_delete = soft;
            op->doc = PQgetvalue(rows, row, RENDER_COL_DOC);
            op->doc_len = (size_t)PQgetlength(rows, row, RENDER_COL_DOC);
            op->row_current = true; /* the SHARE lock keeps it so until COMMIT */
        }
        opd[nops++] = i;
    }
    if (v->dry_run) {
        for (size_t k = 0; k < nops; k++) {
            drift *d = &s->d[opd[k]];
            d->would = 'W';
            d->wrote = ops[k].version;
            d->k_op = ops[k].is_delete ? 'D' : 'U';
            s->would++;
        }
        nops = 0;
    }
    if (nops && (!bulk_send_retrying(&sender, ops, nops, 60000, NULL, v->err, sizeof v->err) ||
                 !bulk_judge_conflicts(&sender, ops, nops, v->err, sizeof v->err)))
        goto fail_id;
    for (size_t k = 0; k < nops; k++) {
        drift *d = &s->d[opd[k]];
        const bulk_op *op = &ops[k];
        d->wrote = op->version;
        d->k_op = op->is_delete ? 'D' : 'U';
        if (op->outcome == BULK_APPLIED) {
            d->repaired = true;
            s->repaired++;
            continue;
        }
        s->unrepairable++;
        if (wal && (op->outcome == BULK_REGRESSED || op->outcome == BULK_STALE)) {
            snprintf(d->note, sizeof d->note,
                     "the store holds version %" PRId64 ", past the current WAL position %" PRId64
                     ": something other than this slot wrote it; no change from the WAL can replace it until the "
                     "WAL passes that position. Rebuild the index with versync backfill --index NEW and switch an "
                     "alias, or delete the document by hand and run verify --repair again",
                     op->store_version, op->version);
        } else if (op->outcome == BULK_REGRESSED || (op->outcome == BULK_STALE && op->store_version > op->version)) {
            char cmd[400];
            bump_command(t, d, op->store_version, cmd, sizeof cmd);
            snprintf(d->note, sizeof d->note,
                     "version_regressed: the store holds version %" PRId64 " and the row has %" PRId64
                     ", lower; no versioned write of this row can win until its version exceeds the store's. "
                     "Fix: %s; or rebuild the index with versync backfill --index NEW and switch an alias. "
                     "To stop it recurring: \"managed\": true, or make the application bump the column",
                     op->store_version, op->version, cmd);
        } else {
            snprintf(d->note, sizeof d->note, "the store refused it (HTTP %d): %.900s", op->status, op->error);
        }
    }
    buf_free(&id);
    if (v->dry_run) {
        ok = true;
        for (size_t i = 0; !v->json && i < s->nd; i++) {
            const drift *d = &s->d[i];
            if (d->would == 'W')
                printf("  would %s %s (%s) at version %" PRId64 "\n", d->k_op == 'D' ? "delete" : "rewrite", d->id,
                       kind_name[d->k], d->wrote);
            else if (d->would == 'Q')
                printf("  would queue a %s of %s (%s) for the workers\n", d->k_op == 'D' ? "delete" : "rewrite",
                       d->id, kind_name[d->k]);
            else if (d->note[0] && d->k != K_PENDING && d->k != K_OK)
                printf("  would not repair: %s %s: %s\n", kind_name[d->k], d->id, d->note);
        }
        goto done;
    }
    if (s->queued) {
        const char *np[2] = {v->c->channel, t->ident};
        if (!pg_run(v->conn, sql_text("verify_notify"), 2, np, v->err, sizeof v->err))
            goto done;
    }
    if (!pg_run(v->conn, "COMMIT", 0, NULL, v->err, sizeof v->err))
        goto done;
    in_tx = false;
    ok = true;
    /* Printed only now: nothing is "queued" before the commit made it so. */
    for (size_t i = 0; !v->json && i < s->nd; i++) {
        const drift *d = &s->d[i];
        if (d->k == K_PENDING || d->k == K_OK)
            continue;
        if (d->repaired)
            printf("  repaired %s %s (%s) at version %" PRId64 "\n", d->k_op == 'D' ? "delete" : "rewrite", d->id,
                   kind_name[d->k], d->wrote);
        else if (d->change)
            printf("  queued %s %s (%s) as change %lld%s%s\n", d->k_op == 'D' ? "delete" : "rewrite", d->id,
                   kind_name[d->k], d->change, d->note[0] ? ", version " : "", d->note);
        else if (d->note[0])
            printf("  not repaired: %s %s: %s\n", kind_name[d->k], d->id, d->note);
    }
    goto done;
fail_id:
    buf_free(&id);
done:
    if (in_tx)
        PQclear(PQexec(v->conn, "ROLLBACK"));
    if (!ok)
        s->queued = 0;
    PQclear(rows);
    bulk_sender_free(&sender);
    free(ids);
    free(present);
    free(ops);
    free(opd);
    free(enq);
    return ok;
}

static long long drift_total(const tstats *s)
{
    return s->n[K_MISSING] + s->n[K_EXTRA] + s->n[K_STALE] + s->n[K_DIFFERS] + s->extra_unlisted;
}

static void print_text(const cfg_table *t, const char *index, const tstats *s, long sample)
{
    printf("%s -> %s: %lld rows%s, %lld documents: %lld missing, %lld extra, %lld stale, %lld differing; "
           "%lld with changes still waiting (not drift)%s\n",
           t->ident, index, s->rows, sample > 0 ? " (sample)" : "", s->docs, s->n[K_MISSING], s->n[K_EXTRA],
           s->n[K_STALE], s->n[K_DIFFERS], s->n[K_PENDING], drift_total(s) ? "" : " — in sync");
    if (s->extra_unlisted)
        printf("  %lld documents beyond the table's rows (the store cannot list its documents, so they are "
               "counted, not named)\n",
               s->extra_unlisted);
    size_t shown = 0;
    for (size_t i = 0; i < s->nd; i++) {
        const drift *d = &s->d[i];
        if (d->k == K_PENDING)
            continue;
        if (shown++ == TEXT_SHOW) {
            printf("  … (--json lists up to %d)\n", JSON_SHOW);
            break;
        }
        if (d->k == K_STALE)
            printf("  %-8s %s (document version %" PRId64 " < row version %" PRId64 ")\n", kind_name[d->k],
                   d->id, d->doc_version, d->row_version);
        else
            printf("  %-8s %s\n", kind_name[d->k], d->id);
    }
}

static void json_table(buf *b, const cfg_table *t, const char *index, const tstats *s, long sample,
                       bool repair)
{
    buf_puts(b, "{\"table\":");
    buf_put_json_string(b, t->ident, strlen(t->ident));
    buf_puts(b, ",\"index\":");
    buf_put_json_string(b, index, strlen(index));
    buf_printf(
        b,
        ",\"sample\":%ld,\"rows\":%lld,\"documents\":%lld,\"missing\":%lld,\"extra\":%lld,\"stale\":%lld,"
        "\"differs\":%lld,\"pending\":%lld,\"extra_unlisted\":%lld,\"extras_listed\":%s,\"in_sync\":%s",
        sample > 0 ? sample : 0, s->rows, s->docs, s->n[K_MISSING], s->n[K_EXTRA], s->n[K_STALE],
        s->n[K_DIFFERS], s->n[K_PENDING], s->extra_unlisted, s->listed ? "true" : "false",
        drift_total(s) ? "false" : "true");
    if (repair)
        buf_printf(b, ",\"repaired\":%lld,\"queued\":%lld,\"unrepairable\":%lld,\"would_repair\":%lld", s->repaired,
                   s->queued, s->unrepairable, s->would);
    buf_puts(b, ",\"drift\":[");
    size_t shown = 0;
    for (size_t i = 0; i < s->nd && shown < JSON_SHOW; i++) {
        const drift *d = &s->d[i];
        if (d->k == K_PENDING)
            continue;
        buf_puts(b, shown++ ? ",{\"id\":" : "{\"id\":");
        buf_put_json_string(b, d->id, strlen(d->id));
        buf_printf(b, ",\"kind\":\"%s\"", kind_name[d->k]);
        if (d->doc_version >= 0)
            buf_printf(b, ",\"document_version\":%" PRId64, d->doc_version);
        if (d->row_version >= 0)
            buf_printf(b, ",\"row_version\":%" PRId64, d->row_version);
        if (d->would == 'W')
            buf_printf(b, ",\"would\":\"%s\",\"would_version\":%" PRId64, d->k_op == 'D' ? "delete" : "rewrite",
                       d->wrote);
        else if (d->would == 'Q')
            buf_printf(b, ",\"would\":\"queue\",\"queued_op\":\"%c\"", d->k_op);
        else if (d->repaired)
            buf_printf(b, ",\"repaired\":\"%s\",\"repaired_version\":%" PRId64, d->k_op == 'D' ? "delete" : "rewrite",
                       d->wrote);
        else if (d->change)
            buf_printf(b, ",\"queued_change\":%lld,\"queued_op\":\"%c\"", d->change, d->k_op);
        else if (repair && d->note[0]) {
            buf_puts(b, ",\"not_repaired\":");
            buf_put_json_string(b, d->note, strlen(d->note));
        }
        buf_puts(b, "}");
    }
    buf_puts(b, "]}");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: versync [-c FILE] verify [TABLE...] [--repair [--dry-run]] [--sample N] [--batch N]\n"
                 "                                [--json]\n\n"
                 "Compares PostgreSQL with the store without stopping either: every row (key order, N per\n"
                 "batch, default 500) against its document (_mget), then every document against its row\n"
                 "(listing the index with _search). Reports documents missing, extra (no row), stale (a\n"
                 "lower version than the row's) and differing (same version, other content); rows with\n"
                 "changes still waiting are counted apart, not as drift.\n\n"
                 "  --repair     rewrite every drifted row's current state at its own version\n"
                 "               (external_gte, under a SHARE lock of the table), delete documents whose\n"
                 "               row is gone; change-sequence tables queue a change row for the workers.\n"
                 "               Prints what it repaired, and for what it cannot, why and what does\n"
                 "  --dry-run    with --repair: print what would be written, deleted or queued, and\n"
                 "               write nothing (no lock, no store write, no change row)\n"
                 "  --sample N   check N random rows instead of all (no search for extra documents)\n"
                 "  --batch N    rows per batch (1...10000, default 500)\n"
                 "  --json       one JSON object on stdout (also under --log-format json)\n"
                 "  -h, --help   this text\n\n"
                 "exit status: 0 in sync; 1 drift found (also after --repair: run verify again to\n"
                 "confirm); 2 usage or configuration error (refused credentials, versync init not\n"
                 "run); 3 PostgreSQL or the store unreachable\n");
}

/* Options: 0 to go on, -1 help printed, else the exit status. */
static int parse_opts(int argc, char **argv, vctx *v, long *sample, const char **names, size_t *nnames)
{
    enum { O_JSON = 1, O_REPAIR, O_DRY, O_SAMPLE, O_BATCH, O_HELP };
    static const struct option opts[] = {
        {"json", no_argument, NULL, O_JSON},       {"repair", no_argument, NULL, O_REPAIR},
        {"dry-run", no_argument, NULL, O_DRY},     {"sample", required_argument, NULL, O_SAMPLE},
        {"batch", required_argument, NULL, O_BATCH}, {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    int64_t n;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case O_JSON: v->json = true; break;
        case O_REPAIR: v->repair = true; break;
        case O_DRY: v->dry_run = true; break;
        case O_SAMPLE:
        case O_BATCH: {
            long hi = ch == O_SAMPLE ? 100000000L : 10000L;
            if (!scan_int64(optarg, 1, hi, &n)) {
                log_error("verify: %s: \"%s\" is not a number in 1...%ld", argv[optind - 1], optarg, hi);
                return CLI_EXIT_CONFIG;
            }
            if (ch == O_SAMPLE)
                *sample = n;
            else
                v->batch = (int)n;
            break;
        }
        case 'h':
        case O_HELP: usage(stdout); return -1;
        case ':':
            log_error("verify: option %s needs a value (see versync verify --help)", argv[optind - 1]);
            return CLI_EXIT_CONFIG;
        default:
            log_error("verify: unknown option \"%s\" (see versync verify --help)", argv[optind - 1]);
            return CLI_EXIT_CONFIG;
        }
    }
    if (v->dry_run && !v->repair) {
        log_error("verify: --dry-run goes with --repair (verify alone never writes)");
        return CLI_EXIT_CONFIG;
    }
    for (int i = optind; i < argc; i++)
        names[(*nnames)++] = argv[i];
    return CLI_EXIT_OK;
}

int cli_verify(const cli_globals *g, int argc, char **argv)
{
    long sample = 0;
    cfg c;
    vctx v = {.batch = 500};
    buf out = BUF_INIT;
    cfg_table **todo = NULL;
    size_t ntodo = 0;
    const char **names = calloc((size_t)argc + 1, sizeof *names);
    size_t nnames = 0;
    if (!names) {
        log_error("verify: out of memory");
        return CLI_EXIT_CONFIG;
    }
    int rc = parse_opts(argc, argv, &v, &sample, names, &nnames);
    if (rc != CLI_EXIT_OK) {
        free(names);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    v.json = cli_json(v.json);
    if ((rc = cli_open(g, "versync verify", &c, &v.conn)) != CLI_EXIT_OK) {
        free(names);
        return rc;
    }
    rc = CLI_EXIT_CONFIG;
    v.c = &c;
    v.max_bytes = c.store.max_bulk_bytes > 0 ? (size_t)c.store.max_bulk_bytes : 0;
    char sel_err[600];
    if (!cfg_select_tables(&c, names, nnames, &todo, &ntodo, sel_err, sizeof sel_err)) {
        log_error("verify: %s", sel_err);
        goto done;
    }
    if (!(v.schema_q = pg_quote_ident(v.conn, c.schema, v.err, sizeof v.err)))
        goto pgfail;
    const char *sp[1] = {c.schema};
    PGresult *ready = pg_exec(v.conn, sql_text("status_ready"), 1, sp, v.err, sizeof v.err);
    bool is_ready = ready && strcmp(PQgetvalue(ready, 0, 0), "t") == 0;
    PQclear(ready);
    if (!ready)
        goto pgfail;
    if (!is_ready) {
        log_error("versync's tables are not in schema %s of this database; run versync init", v.schema_q);
        goto done;
    }
    /* The store, as every command checks it: refused credentials get the one message. */
    target_result tr = target_check(&c, v.err, sizeof v.err);
    if (tr != TARGET_OK) {
        log_error("%s", v.err);
        rc = cli_target_exit(tr);
        goto done;
    }
    if (!(v.store = esc_new(&c.store, v.err, sizeof v.err))) {
        log_error("%s", v.err);
        goto done;
    }
    long long drift = 0;
    if (v.json)
        buf_puts(&out, "{\"tables\":[");
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < ntodo; i++) {
        cfg_table *t = todo[i];
        const char *index = t->index ? t->index : t->name;
        tstats s = {0};
        bool ok = check_rows(&v, t, index, sample, &s);
        if (ok && sample <= 0 && !t->deletes_ignore)
            ok = check_extras(&v, t, index, &s);
        if (!ok) {
            log_error("%s: %s", t->ident, v.err);
            free_stats(&s);
            rc = PQstatus(v.conn) != CONNECTION_OK || strstr(v.err, "store") ? CLI_EXIT_UNREACHABLE
                                                                              : CLI_EXIT_CONFIG;
            break;
        }
        /* --log-level warn (the cron job's) keeps a table in sync silent: mail means drift. */
        bool quiet = log_get_level() > LOG_INFO && drift_total(&s) == 0;
        if (!v.json && !quiet)
            print_text(t, index, &s, sample);
        if (v.repair && drift_total(&s) > 0) {
            if (!repair(&v, t, &s)) {
                log_error("%s: repair: %s", t->ident, v.err);
                rc = cli_exit_worst(rc, PQstatus(v.conn) != CONNECTION_OK || strstr(v.err, "store")
                                            ? CLI_EXIT_UNREACHABLE
                                            : CLI_EXIT_CONFIG);
            } else if (!v.json && v.dry_run) {
                printf("  %s: dry run: %lld repairs would be made; nothing was written\n", t->ident, s.would);
            } else if (!v.json) {
                printf("  %s: repaired %lld, queued %lld changes for the workers%s\n", t->ident, s.repaired,
                       s.queued,
                       s.unrepairable ? "; some drift cannot be repaired by a versioned write (see above)"
                                      : "");
            }
            if (s.extra_unlisted && !v.json)
                printf(
                    "  %lld unlisted extra documents cannot be repaired here: rebuild with versync backfill "
                    "--index NEW + alias switch\n",
                    s.extra_unlisted);
        }
        if (v.json) {
            if (i)
                buf_putc(&out, ',');
            json_table(&out, t, index, &s, sample, v.repair);
        }
        drift += drift_total(&s);
        free_stats(&s);
        fflush(stdout);
    }
    if (rc != CLI_EXIT_OK)
        goto done;
    rc = drift ? CLI_EXIT_DRIFT : CLI_EXIT_OK;
    if (v.json) {
        buf_printf(&out, "],\"in_sync\":%s,\"dry_run\":%s,\"exit\":%d}\n", drift ? "false" : "true",
                   v.dry_run ? "true" : "false", rc);
        if (buf_ok(&out))
            fputs(out.data, stdout);
        else
            log_error("verify: out of memory");
    } else if (drift || log_get_level() <= LOG_INFO) {
        printf(drift ? "drift found\n" : "in sync\n");
    }
    goto done;
pgfail:
    log_error("%s", v.err);
    rc = cli_pg_exit(v.conn);
done:
    buf_free(&out);
    free(todo);
    free(names);
    free(v.schema_q);
    esc_free(v.store);
    PQfinish(v.conn);
    cfg_free(&c);
    return rc;
}
