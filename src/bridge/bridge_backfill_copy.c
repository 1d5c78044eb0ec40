/* bridge_backfill_copy — one table's backfill: copy its rows page by page, settle the refusals,
 * and prune the documents whose rows are gone. */
#include "versync/bridge/backfill_copy.h"

#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/common/signals.h"
#include "versync/bridge/sql_embed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_PAGE 1000

/* Send ops[pick[0..m)] again (they are set up to be resent) and copy the outcomes back. */
static bool resend(bulk_sender *s, bulk_op *ops, const size_t *pick, size_t m, long give_up_ms, char *err,
                   size_t errsz)
{
    bulk_op *tmp = malloc((m ? m : 1) * sizeof *tmp);
    if (!tmp) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    for (size_t i = 0; i < m; i++)
        tmp[i] = ops[pick[i]];
    bool ok = bulk_send_retrying(s, tmp, m, give_up_ms, &signals_stop, err, errsz);
    for (size_t i = 0; i < m; i++)
        ops[pick[i]] = tmp[i];
    free(tmp);
    return ok;
}

/* The page's refusals, settled: a refusal at the same version is rewritten with external_gte (an
 * equal version names the same row state under the contract, so this repairs a document left
 * behind by a schema change or an unbumped update); a refusal at a greater version is "already
 * newer" unless the row, read again now, is still what we sent and its version is the
 * application's: then its version went backwards (BULK_REGRESSED). ops[i] left BULK_APPLIED after
 * a rewrite are flagged in same[i]. */
static bool settle_refused(PGconn *conn, const cfg_table *t, bulk_sender *s, bulk_op *ops, size_t n, bool *same,
                           long give_up_ms, char *err, size_t errsz)
{
    bool ok = false;
    size_t *pick = malloc((n ? n : 1) * sizeof *pick);
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    bool *present = calloc(n ? n : 1, sizeof *present);
    PGresult *rows = NULL;
    buf id = BUF_INIT;
    if (!pick || !ids || !present) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        same[i] = false;
        if (ops[i].outcome == BULK_STALE && ops[i].store_version == ops[i].version) {
            ops[i].vtype = BULK_VT_EXTERNAL_GTE;
            pick[m++] = i;
        }
    }
    if (m && !resend(s, ops, pick, m, give_up_ms, err, errsz))
        goto done;
    for (size_t i = 0; i < m; i++)
        same[pick[i]] = ops[pick[i]].outcome == BULK_APPLIED;
    bool app = !t->managed && (t->version_kind == CFG_VERSION_COLUMN || t->version_kind == CFG_VERSION_TIMESTAMP);
    m = 0;
    for (size_t i = 0; app && i < n; i++)
        if (ops[i].outcome == BULK_STALE && !ops[i].is_delete && ops[i].store_version > ops[i].version) {
            pick[m] = i;
            ids[m++] = ops[i].id;
        }
    if (m == 0) {
        ok = true;
        goto done;
    }
    if (!backfill_present(conn, t, ids, m, present, &rows, err, errsz))
        goto done;
    for (int r = 0; rows && r < PQntuples(rows); r++) {
        char **key;
        size_t kn;
        int64_t v;
        char why[160];
        const char *vt = PQgetisnull(rows, r, RENDER_COL_VERSION) ? NULL : PQgetvalue(rows, r, RENDER_COL_VERSION);
        if (!bulk_parse_version(vt, &v, why, sizeof why) ||
            !render_parse_text_array(PQgetvalue(rows, r, RENDER_COL_KEY), &key, &kn))
            continue;
        buf_reset(&id);
        bool idok = bulk_doc_id(&id, (const char *const *)key, kn);
        render_free_array(key, kn);
        const char *doc = PQgetvalue(rows, r, RENDER_COL_DOC);
        size_t doc_len = (size_t)PQgetlength(rows, r, RENDER_COL_DOC);
        for (size_t k = 0; idok && k < m; k++) {
            bulk_op *op = &ops[pick[k]];
            if (strcmp(op->id, id.data) == 0 && op->version == v && op->doc_len == doc_len &&
                memcmp(op->doc, doc, doc_len) == 0)
                op->row_current = true;
        }
    }
    ok = bulk_judge_conflicts(s, ops, n, err, errsz);
done:
    PQclear(rows);
    buf_free(&id);
    free(pick);
    free(ids);
    free(present);
    return ok;
}

static bool set_progress(PGconn *conn, const char *sql, const cfg_table *t, const char *index,
                         const char *key, long long rows, const char *mode, char *err, size_t errsz)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", rows);
    const char *p[5] = {t->ident, index, key, n, mode};
    return pg_run(conn, sql, 5, p, err, errsz);
}

int backfill_copy_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
                          const bf_opts *o, bf_counts *c, char *err, size_t errsz)
{
    int ret = -1;
    char *sql_first = NULL, *sql_after = NULL, *sql_get = NULL, *sql_set = NULL;
    PGresult *page = NULL, *prog = NULL;
    char **last = NULL;
    size_t nlast = 0;
    long long done = 0;
    buf body = BUF_INIT, id = BUF_INIT, lastkey = BUF_INIT;
    bulk_op *ops = NULL;
    bool *same = NULL;
    size_t *idoff = NULL;
    const char **params = NULL;
    size_t *rowof = NULL;
    bulk_sender sender;
    bulk_sender_init(&sender, store, o->max_bytes);
    sender.max_item_retries = o->max_item_retries;
    if (!(sql_first = backfill_page_sql(conn, t, false, false, err, errsz)) ||
        !(sql_after = backfill_page_sql(conn, t, true, false, err, errsz)))
        goto fail;
    if (!(sql_get = sql_render("backfill_progress_get", schema_q)) ||
        !(sql_set = sql_render("backfill_progress_set", schema_q)) ||
        !(params = calloc(t->nkey + 1, sizeof *params)))
        goto oom;
    if (o->resume) {
        const char *gp[2] = {t->ident, index};
        if (!(prog = pg_exec(conn, sql_get, 2, gp, err, errsz)))
            goto fail;
        if (PQntuples(prog) == 1 && strcmp(PQgetvalue(prog, 0, 2), "t") == 0) {
            log_info("%s: the last backfill into %s completed at %s; nothing to resume (run without --resume "
                     "to copy again)",
                     t->ident, index, PQgetvalue(prog, 0, 3));
            ret = 0;
            goto done;
        }
        if (PQntuples(prog) == 1 && !PQgetisnull(prog, 0, 0)) {
            if (!render_parse_text_array(PQgetvalue(prog, 0, 0), &last, &nlast) || nlast != t->nkey) {
                snprintf(err, errsz,
                         "%s: the saved resume key %s does not fit the key; run without --resume", t->ident,
                         PQgetvalue(prog, 0, 0));
                goto fail;
            }
            done = strtoll(PQgetvalue(prog, 0, 1), NULL, 10);
            if (!buf_puts(&lastkey, PQgetvalue(prog, 0, 0)))
                goto oom;
            log_info("%s: resuming the backfill into %s after key %s (%lld rows done)", t->ident, index,
                     lastkey.data, done);
        } else {
            log_info("%s: no interrupted backfill into %s to resume; starting from the first row", t->ident,
                     index);
        }
    }
    if (!last && !o->dry_run && !set_progress(conn, sql_set, t, index, NULL, 0, "start", err, errsz))
        goto fail;
    bool estimated;
    long long total = backfill_estimate_rows(conn, t, &estimated);
    backfill_progress pr;
    backfill_progress_start(&pr, t->ident, "copied", total, estimated, done);
    size_t batch = (size_t)o->batch;
    if (!(ops = calloc(batch, sizeof *ops)) || !(idoff = calloc(batch, sizeof *idoff)) ||
        !(same = calloc(batch, sizeof *same)) ||
        !(rowof = calloc(batch, sizeof *rowof)))
        goto oom;
    buf_init(&body, 0);
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", batch);
    bool interrupted = false;
    for (;;) {
        if (signals_stop) {
            interrupted = true;
            break;
        }
        PQclear(page);
        if (last) {
            for (size_t k = 0; k < t->nkey; k++)
                params[k] = last[k];
            params[t->nkey] = limit;
            page = pg_exec(conn, sql_after, (int)t->nkey + 1, params, err, errsz);
        } else {
            params[0] = limit;
            page = pg_exec(conn, sql_first, 1, params, err, errsz);
        }
        if (!page)
            goto fail;
        int nrows = PQntuples(page);
        if (nrows == 0)
            break;
        /* One op per row, sent through the one sender (which splits at the byte cap). */
        size_t n = 0;
        buf_reset(&body);
        for (int row = 0; row < nrows; row++) {
            c->rows++;
            if (!backfill_id_of_key_text(PQgetvalue(page, row, RENDER_COL_KEY), &id))
                goto oom;
            int64_t version = 0;
            if (t->version_kind != CFG_VERSION_SEQ) {
                char why[160];
                const char *v = PQgetisnull(page, row, RENDER_COL_VERSION)
                                    ? NULL
                                    : PQgetvalue(page, row, RENDER_COL_VERSION);
                if (!bulk_parse_version(v, &version, why, sizeof why)) {
                    c->errors++;
                    log_error("%s: key %s: version %s \"%s\" %s; not copied", t->ident, id.data,
                              t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column",
                              t->version_column, why);
                    continue;
                }
            }
            /* Change-sequence tables: version 0 (see README "versync backfill": every change the
             * snapshot may have missed has a sequence number >= 1, so it always wins). */
            bulk_op *op = &ops[n];
            memset(op, 0, sizeof *op);
            op->index = index;
            op->id_len = id.len;
            idoff[n] = body.len; /* ids live in `body`, pointed at once the page is built */
            if (!buf_append(&body, id.data, id.len + 1))
                goto oom;
            op->is_delete = strcmp(PQgetvalue(page, row, RENDER_COL_DELETED), "t") == 0 && !t->deletes_ignore;
            op->vtype = BULK_VT_EXTERNAL;
            op->version = version;
            op->doc = PQgetvalue(page, row, RENDER_COL_DOC);
            op->doc_len = (size_t)PQgetlength(page, row, RENDER_COL_DOC);
            rowof[n] = (size_t)row;
            n++;
        }
        for (size_t i = 0; i < n; i++)
            ops[i].id = body.data + idoff[i];
        if (o->dry_run) {
            c->would_write += (long long)n;
            for (size_t i = 0; i < n; i++)
                log_debug("%s: would write %s at version %" PRId64, t->ident, ops[i].id, ops[i].version);
            n = 0; /* nothing was sent, so nothing to classify */
        } else if (n && (!bulk_send_retrying(&sender, ops, n, o->give_up_ms, &signals_stop, err, errsz) ||
                         !settle_refused(conn, t, &sender, ops, n, same, o->give_up_ms, err, errsz))) {
            c->store_status = sender.last_status > 0 ? sender.last_status : -1;
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, "; stopping (resume with --resume)");
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            switch (ops[i].outcome) {
            case BULK_APPLIED:
                if (same[i])
                    c->same++;
                else
                    c->applied++;
                break;
            case BULK_STALE:
                c->stale++;
                break;
            case BULK_REGRESSED: {
                c->regressed++;
                const char *kt = PQgetvalue(page, (int)rowof[i], RENDER_COL_KEY);
                log_warn("%s: key %s: %s; the application's %s \"%s\" must grow with every change of a row: "
                         "set \"managed\": true, or bump it (versync verify --repair prints the UPDATE)",
                         t->ident, kt, ops[i].error,
                         t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", t->version_column);
                break;
            }
            default: {
                c->errors++;
                const char *kt = PQgetvalue(page, (int)rowof[i], RENDER_COL_KEY);
                log_error("%s: key %s: store refused the document (HTTP %d): %s", t->ident, kt, ops[i].status,
                          ops[i].error);
            }
            }
        }
        /* The store answered for the whole page: remember its last key. */
        render_free_array(last, nlast);
        last = NULL;
        const char *kt = PQgetvalue(page, nrows - 1, RENDER_COL_KEY);
        if (!render_parse_text_array(kt, &last, &nlast))
            goto oom;
        done += nrows;
        buf_reset(&lastkey);
        if (!buf_puts(&lastkey, kt))
            goto oom;
        if (!o->dry_run && !set_progress(conn, sql_set, t, index, kt, done, "batch", err, errsz))
            goto fail;
        backfill_progress_update(&pr, done);
        if ((size_t)nrows < batch)
            break;
    }
    if (interrupted) {
        backfill_progress_end(&pr);
        log_warn("%s: stopped after %lld rows; continue with versync backfill --resume", t->ident, done);
        ret = 1;
        goto done;
    }
    if (!o->dry_run && !set_progress(conn, sql_set, t, index, lastkey.len ? lastkey.data : NULL, done, "done",
                                     err, errsz))
        goto fail;
    backfill_progress_end(&pr);
    ret = c->errors || c->regressed ? 1 : 0;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
fail:
    ret = -1;
done:
    PQclear(page);
    PQclear(prog);
    render_free_array(last, nlast);
    free(sql_first);
    free(sql_after);
    free(sql_get);
    free(sql_set);
    free(params);
    free(ops);
    free(same);
    free(idoff);
    free(rowof);
    bulk_sender_free(&sender);
    buf_free(&body);
    buf_free(&id);
    buf_free(&lastkey);
    return ret;
}

int backfill_prune_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
                           const bf_opts *o, bf_counts *c, char *err, size_t errsz)
{
    int ret = -1;
    char *after = NULL;
    backfill_doc *docs = NULL;
    int nd = 0;
    bool *present = NULL;
    bulk_op *ops = NULL;
    const char **ids = NULL;
    size_t *which = NULL;
    bulk_sender sender;
    bulk_sender_init(&sender, store, o->max_bytes);
    sender.max_item_retries = o->max_item_retries;
    if (t->deletes_ignore) {
        log_info("%s: \"deletes\": \"ignore\" keeps documents of deleted rows; not pruning %s", t->ident,
                 index);
        return 0;
    }
    if (!(present = calloc(PRUNE_PAGE, sizeof *present)) || !(ops = calloc(PRUNE_PAGE, sizeof *ops)) ||
        !(ids = calloc(PRUNE_PAGE, sizeof *ids)) || !(which = calloc(PRUNE_PAGE, sizeof *which)))
        goto oom;
    long long walked = 0;
    backfill_progress pr;
    backfill_progress_start(&pr, t->ident, "pruning: walked", -1, false, 0);
    for (;;) {
        if (signals_stop) {
            log_warn("%s: prune stopped after %lld documents", t->ident, walked);
            ret = 1;
            goto done;
        }
        backfill_free_docs(docs, nd > 0 ? (size_t)nd : 0);
        docs = NULL;
        nd = backfill_list_page(store, index, after, PRUNE_PAGE, &docs, err, errsz);
        if (nd == BACKFILL_LIST_UNSUPPORTED) {
            log_error("%s: cannot prune %s: the store cannot list its documents (%s). Rebuild instead: "
                      "versync backfill --index NEW_INDEX, then switch an alias (see README)",
                      t->ident, index, err);
            nd = 0;
            ret = 1;
            goto done;
        }
        if (nd < 0) {
            nd = 0;
            c->store_status = -1;
            goto fail;
        }
        if (nd == 0)
            break;
        for (int i = 0; i < nd; i++)
            ids[i] = docs[i].id;
        /* The SHARE lock waits for every writer of the table to finish and keeps new ones out
         * until the deletes are answered: a row absent now stays absent while we delete, and
         * any later insert draws its version after the sequences were moved past ours.
         * A dry run deletes nothing, so it takes no lock and can only say what is absent now. */
        if (!o->dry_run && !backfill_lock_table(conn, t, err, errsz))
            goto fail;
        if (!backfill_present(conn, t, ids, (size_t)nd, present, NULL, err, errsz))
            goto rollback;
        size_t n = 0;
        int64_t maxv = 0;
        for (int i = 0; i < nd; i++) {
            if (present[i])
                continue;
            int64_t v = backfill_delete_version(t, docs[i].version);
            if (v > maxv)
                maxv = v;
            bulk_op *op = &ops[n];
            memset(op, 0, sizeof *op);
            op->index = index;
            op->id = docs[i].id;
            op->id_len = strlen(docs[i].id);
            op->is_delete = true;
            op->vtype = BULK_VT_EXTERNAL;
            op->version = v;
            which[n++] = (size_t)i;
        }
        if (o->dry_run) {
            c->would_delete += (long long)n;
            for (size_t i = 0; i < n; i++)
                log_debug("%s: would delete %s from %s", t->ident, ops[i].id, index);
            n = 0;
        } else {
            if (n && !backfill_bump_sequences(conn, schema_q, t, maxv, err, errsz))
                goto rollback;
            if (n && !bulk_send_retrying(&sender, ops, n, o->give_up_ms, &signals_stop, err, errsz)) {
                c->store_status = sender.last_status > 0 ? sender.last_status : -1;
                goto rollback;
            }
            if (!pg_run(conn, "COMMIT", 0, NULL, err, errsz))
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            if (ops[i].outcome == BULK_APPLIED) {
                c->deleted++;
                log_debug("%s: pruned %s", t->ident, docs[which[i]].id);
            } else if (ops[i].outcome == BULK_STALE) {
                c->prune_stale++;
            } else {
                c->errors++;
                log_error("%s: deleting %s from %s: HTTP %d: %s", t->ident, docs[which[i]].id, index,
                          ops[i].status, ops[i].error);
            }
        }
        walked += nd;
        backfill_progress_update(&pr, walked);
        free(after);
        if (!(after = strdup(docs[nd - 1].id)))
            goto oom;
    }
    backfill_progress_end(&pr);
    ret = c->errors ? 1 : 0;
    goto done;
rollback:
    if (!o->dry_run)
        PQclear(PQexec(conn, "ROLLBACK"));
    goto fail;
oom:
    snprintf(err, errsz, "out of memory");
fail:
    ret = -1;
done:
    backfill_free_docs(docs, nd > 0 ? (size_t)nd : 0);
    free(after);
    free(present);
    free(ops);
    free(ids);
    free(which);
    bulk_sender_free(&sender);
    return ret;
}
