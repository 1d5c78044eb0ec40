/* bridge_truncate — a captured TRUNCATE of a mapped table, applied through the normal change stream: delete
 * the documents of rows that no longer exist, never those of rows inserted since. */
#include "versync/bridge/truncate.h"

#include "versync/bridge/backfill.h"
#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUNCATE_PAGE 500
#define TRUNCATE_GIVE_UP_MS 60000

/* Clear the needs-resync flag the truncate trigger set, unless a later truncate set it again. */
static bool clear_flag(PGconn *conn, const char *schema_q, const cfg_table *t, char *err, size_t errsz)
{
    char *get = sql_render("backfill_resync_get", schema_q);
    char *clear = sql_render("backfill_resync_clear", schema_q);
    bool ok = false;
    PGresult *r = NULL;
    if (!get || !clear) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *p1[] = {t->ident};
    if (!(r = pg_exec(conn, get, 1, p1, err, errsz)))
        goto done;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        const char *p2[] = {t->ident, PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1)};
        if (!pg_run(conn, clear, 2, p2, err, errsz))
            goto done;
    }
    ok = true;
done:
    PQclear(r);
    free(get);
    free(clear);
    return ok;
}

int truncate_apply(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, truncate_counts *out,
                   char *err, size_t errsz)
{
    const char *index = t->index ? t->index : t->name;
    int ret = TRUNCATE_ERR_PG;
    char *after = NULL;
    backfill_doc *docs = NULL;
    int nd = 0;
    bool *present = calloc(TRUNCATE_PAGE, sizeof *present);
    bulk_op *ops = calloc(TRUNCATE_PAGE, sizeof *ops);
    const char **ids = calloc(TRUNCATE_PAGE, sizeof *ids);
    size_t *which = calloc(TRUNCATE_PAGE, sizeof *which);
    bulk_sender sender = {0};
    bulk_sender_init(&sender, store, 0);
    memset(out, 0, sizeof *out);
    if (!present || !ops || !ids || !which)
        goto oom;
    if (t->deletes_ignore) {
        /* As for row deletes: the index keeps the documents of rows deleted in PostgreSQL. */
        log_info("%s: truncated; \"deletes\": \"ignore\" keeps its documents in %s", t->ident, index);
        ret = TRUNCATE_OK;
        goto done;
    }
    for (;;) {
        backfill_free_docs(docs, nd > 0 ? (size_t)nd : 0);
        docs = NULL;
        nd = backfill_list_page(store, index, after, TRUNCATE_PAGE, &docs, err, errsz);
        if (nd == BACKFILL_LIST_UNSUPPORTED) {
            log_warn("%s: truncated, but the store cannot list the documents of %s (%s); they stay until the "
                     "index is rebuilt (versync backfill --index NEW_INDEX, then switch an alias)",
                     t->ident, index, err);
            nd = 0;
            ret = TRUNCATE_UNLISTABLE;
            goto done;
        }
        if (nd < 0) {
            nd = 0;
            ret = TRUNCATE_ERR_STORE;
            goto done;
        }
        if (nd == 0)
            break;
        for (int i = 0; i < nd; i++)
            ids[i] = docs[i].id;
        if (!backfill_present(conn, t, ids, (size_t)nd, present, NULL, err, errsz))
            goto done;
        size_t n = 0;
        for (int i = 0; i < nd; i++) {
            if (present[i] || docs[i].version < 0) {
                out->kept++;
                continue;
            }
            /* A delete that applies only while the document still holds the
             * version listed: external_gte at that version is a compare-and-set
             * that Elasticsearch honours too, and its tombstone loses to any
             * later version. */
            memset(&ops[n], 0, sizeof ops[n]);
            ops[n].index = index;
            ops[n].id = docs[i].id;
            ops[n].id_len = strlen(docs[i].id);
            ops[n].is_delete = true;
            ops[n].vtype = BULK_VT_EXTERNAL_GTE;
            ops[n].version = docs[i].version;
            which[n++] = (size_t)i;
        }
        if (n && !bulk_send_retrying(&sender, ops, n, TRUNCATE_GIVE_UP_MS, NULL, err, errsz)) {
            ret = TRUNCATE_ERR_STORE;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if (ops[i].outcome == BULK_APPLIED) {
                out->deleted++;
            } else if (ops[i].outcome == BULK_STALE) {
                out->kept++; /* rewritten since we listed it: a newer state stays */
            } else {
                out->errors++;
                log_error("%s: truncate: deleting %s from %s: HTTP %d: %s", t->ident, docs[which[i]].id,
                          index, ops[i].status, ops[i].error);
            }
        }
        out->walked += nd;
        free(after);
        if (!(after = strdup(docs[nd - 1].id)))
            goto oom;
    }
    if (!clear_flag(conn, schema_q, t, err, errsz))
        goto done;
    log_info("%s: truncate applied to %s: %lld documents deleted, %lld kept (rows inserted since, or newer), "
             "%lld errors",
             t->ident, index, out->deleted, out->kept, out->errors);
    ret = TRUNCATE_OK;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
    ret = TRUNCATE_ERR_PG;
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
