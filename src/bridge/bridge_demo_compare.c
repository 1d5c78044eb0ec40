/* bridge_demo_compare — the demo's verdict: every demo row compared with its document (content and
 * _version), and the race's final table. */
#include "versync/bridge/demo.h"

#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/bridge/render.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void demo_fail(demo_err *e, const char *fmt, ...)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->taken, &expected, 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* ---- pure helpers (unit-tested) ------------------------------------------ */

demo_verdict demo_compare(const char *row_json, long long row_version, const char *doc_source,
                          long long doc_version, bool check_version)
{
    if (!row_json && !doc_source)
        return DEMO_EQUAL;
    if (!doc_source)
        return DEMO_MISSING;
    if (!row_json)
        return DEMO_EXTRA;
    cJSON *a = cJSON_Parse(row_json);
    cJSON *b = cJSON_Parse(doc_source);
    bool same = a && b && cJSON_Compare(a, b, true);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (!same)
        return DEMO_STALE;
    if (check_version && row_version != doc_version)
        return DEMO_VERSION;
    return DEMO_EQUAL;
}

const char *demo_verdict_name(demo_verdict v)
{
    switch (v) {
    case DEMO_EQUAL:
        return "equal";
    case DEMO_STALE:
        return "stale content";
    case DEMO_VERSION:
        return "wrong _version";
    case DEMO_MISSING:
        return "missing document";
    case DEMO_EXTRA:
        return "document of a deleted row";
    }
    return "?";
}

bool demo_put_count(buf *b, long long n)
{
    char digits[32];
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    int len = snprintf(digits, sizeof digits, "%llu", u);
    if (n < 0 && !buf_putc(b, '-'))
        return false;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0 && !buf_putc(b, ','))
            return false;
        if (!buf_putc(b, digits[i]))
            return false;
    }
    return true;
}

/* ---- comparison ----------------------------------------------------------------- */

typedef struct demo_row {
    char *json;        /* rendered document, NULL: no row */
    long long version; /* row version */
    char *doc;         /* _source text, NULL: no document */
    long long doc_version;
} demo_row;

/* Load the rows of ids 1..n (the only ids the writers use) into rows[id-1]
 * with the workers' own re-read statement (render_reread), so each row is
 * rendered exactly as a worker would write it now. */
static bool load_rows(PGconn *c, const cfg_table *t, demo_row *rows, int n, long long *count, demo_err *e)
{
    bool ok = false;
    char err[256];
    PGresult *r = NULL;
    buf ids = BUF_INIT;
    char *q = render_reread(c, t, err, sizeof err);
    if (!q) {
        demo_fail(e, "cannot build the re-read statement: %s", err);
        goto done;
    }
    buf_putc(&ids, '{');
    for (int id = 1; id <= n; id++)
        buf_printf(&ids, "%s%d", id > 1 ? "," : "", id);
    if (!buf_putc(&ids, '}')) {
        demo_fail(e, "out of memory");
        goto done;
    }
    const char *params[] = {ids.data};
    r = PQexecParams(c, q, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        demo_fail(e, "reading the demo rows failed: %s", PQresultErrorMessage(r));
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char **key = NULL;
        size_t nkey = 0;
        if (!render_parse_text_array(PQgetvalue(r, i, RENDER_COL_KEY), &key, &nkey) || nkey != 1 || !key[0]) {
            demo_fail(e, "unexpected key %s", PQgetvalue(r, i, RENDER_COL_KEY));
            render_free_array(key, nkey);
            goto done;
        }
        long long id = atoll(key[0]);
        render_free_array(key, nkey);
        if (id < 1 || id > n || rows[id - 1].json)
            continue;
        rows[id - 1].version = atoll(PQgetvalue(r, i, RENDER_COL_VERSION));
        if (!(rows[id - 1].json = strdup(PQgetvalue(r, i, RENDER_COL_DOC)))) {
            demo_fail(e, "out of memory");
            goto done;
        }
        (*count)++;
    }
    ok = true;
done:
    PQclear(r);
    buf_free(&ids);
    free(q);
    return ok;
}

/* Fetch the documents of ids 1..n with _mget, 500 ids a request. */
static bool load_docs(esc *es, demo_row *rows, int n, long long *found, demo_err *e)
{
    for (int lo = 1; lo <= n; lo += 500) {
        int hi = lo + 499 < n ? lo + 499 : n;
        buf body = BUF_INIT;
        buf_puts(&body, "{\"ids\":[");
        for (int id = lo; id <= hi; id++)
            buf_printf(&body, "%s\"%d\"", id > lo ? "," : "", id);
        buf_puts(&body, "]}");
        cJSON *resp = NULL;
        int st = demo_store_call(es, "POST", "/" DEMO_INDEX "/_mget", body.data, &resp, e);
        buf_free(&body);
        const cJSON *docs = cJSON_GetObjectItemCaseSensitive(resp, "docs");
        if (st != 200 || cJSON_GetArraySize(docs) != hi - lo + 1) {
            if (st != ESC_TRANSPORT_ERROR)
                demo_fail(e, "_mget on %s answered HTTP %d without the %d documents asked for", DEMO_INDEX,
                          st, hi - lo + 1);
            cJSON_Delete(resp);
            return false;
        }
        const cJSON *d;
        cJSON_ArrayForEach(d, docs)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "_id");
            const cJSON *src = cJSON_GetObjectItemCaseSensitive(d, "_source");
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(d, "_version");
            long k = cJSON_IsString(id) ? strtol(id->valuestring, NULL, 10) : 0;
            if (k < lo || k > hi || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "found")))
                continue;
            rows[k - 1].doc = src ? cJSON_PrintUnformatted(src) : strdup("null");
            rows[k - 1].doc_version = cJSON_IsNumber(ver) ? (long long)ver->valuedouble : -1;
            (*found)++;
        }
        cJSON_Delete(resp);
    }
    return true;
}

/* Compare PostgreSQL with the store for ids 1..rows; fills the result's
 * comparison fields and prints up to `examples` mismatches to `out`. */
bool demo_compare_all(PGconn *c, esc *es, const cfg_table *t, int nrows, bool check_version,
                        demo_result *res, FILE *out, int examples, demo_err *e)
{
    bool ok = false;
    demo_row *rows = calloc((size_t)nrows, sizeof *rows);
    if (!rows) {
        demo_fail(e, "out of memory");
        goto done;
    }
    if (!load_rows(c, t, rows, nrows, &res->rows_compared, e) ||
        !load_docs(es, rows, nrows, &res->docs_compared, e))
        goto done;
    int shown[8];
    int nshown = 0;
    if (examples > (int)(sizeof shown / sizeof shown[0]))
        examples = (int)(sizeof shown / sizeof shown[0]);
    for (int i = 0; i < nrows; i++) {
        demo_verdict v =
            demo_compare(rows[i].json, rows[i].version, rows[i].doc, rows[i].doc_version, check_version);
        long long *counter = v == DEMO_STALE     ? &res->n_stale
                             : v == DEMO_VERSION ? &res->n_version
                             : v == DEMO_MISSING ? &res->n_missing
                             : v == DEMO_EXTRA   ? &res->n_extra
                                                 : NULL;
        if (!counter)
            continue;
        (*counter)++;
        if (nshown < examples)
            shown[nshown++] = i;
    }
    long long total = res->n_stale + res->n_version + res->n_missing + res->n_extra;
    if (out && nshown > 0)
        fprintf(out, "%s (%d of %lld shown):\n", check_version ? "MISMATCHES" : "documents that ended stale",
                nshown, total);
    for (int k = 0; out && k < nshown; k++) {
        const demo_row *row = &rows[shown[k]];
        demo_verdict v = demo_compare(row->json, row->version, row->doc, row->doc_version, check_version);
        fprintf(out, "  id %d, %s\n    postgres: ", shown[k] + 1, demo_verdict_name(v));
        if (row->json)
            fprintf(out, "version %lld  %s\n", row->version, row->json);
        else
            fprintf(out, "(no row)\n");
        fprintf(out, "    store:    ");
        if (row->doc)
            fprintf(out, "_version %lld  %s\n", row->doc_version, row->doc);
        else
            fprintf(out, "(no document)\n");
    }
    res->mismatches = res->n_stale + res->n_version + res->n_missing + res->n_extra;
    ok = true;
done:
    for (int i = 0; rows && i < nrows; i++) {
        free(rows[i].json);
        cJSON_free(rows[i].doc);
    }
    free(rows);
    return ok;
}

/* ---- output ------------------------------------------------------------------- */

static void table_line(buf *b, const char *label, long long n, const char *note)
{
    buf_printf(b, "  %-28s ", label);
    buf n_text = BUF_INIT;
    demo_put_count(&n_text, n);
    buf_printf(b, "%12s", n_text.data ? n_text.data : "0");
    buf_free(&n_text);
    if (note && *note)
        buf_printf(b, "   %s", note);
    buf_putc(b, '\n');
}

/* `n` with thousands separators, in `out` (at least 32 bytes). */
static const char *count_str(long long n, char *out, size_t outsz)
{
    buf b = BUF_INIT;
    demo_put_count(&b, n);
    snprintf(out, outsz, "%s", b.data ? b.data : "?");
    buf_free(&b);
    return out;
}

void demo_print_table(FILE *out, const demo_opts *o, const demo_result *r)
{
    buf b = BUF_INIT;
    char note[256], n1[32], n2[32], n3[32], n4[32];
    buf_printf(&b, "\nversync demo race — %s\n",
               o->no_versions ? "WITHOUT external versions (plain index requests: last arrival wins)"
                              : "external versions (version_type=external: the greater version wins)");
    buf_printf(
        &b,
        "  %d rows, %d writers, %d chaos workers (batches of %d held 0-%d ms, items shuffled), seed %llu\n\n",
        o->rows, o->writers, o->workers, o->batch_size, o->max_delay_ms, o->seed);
    snprintf(note, sizeof note, "%s updates, %s deletes, %s re-inserts, %s seed inserts",
             count_str(r->updates, n1, sizeof n1), count_str(r->deletes, n2, sizeof n2),
             count_str(r->inserts, n3, sizeof n3), count_str(r->seeded, n4, sizeof n4));
    table_line(&b, "changes written", r->written, note);
    if (r->captured != r->written && !o->nested) /* nested: one change row per root a change reaches */
        table_line(&b, "  captured by the triggers", r->captured, "DIFFERS from the changes written");
    table_line(&b, "writes sent", r->applied + r->stale + r->dead_letters, "bulk items the workers sent");
    table_line(&b, "  applied", r->applied, "");
    table_line(&b, "  stale, rejected", r->stale,
               o->no_versions ? "none: without versions the store cannot tell old from new"
                              : "version not greater than the stored one: refused with 409");
    table_line(&b, "coalesced", r->coalesced, "changes of one row claimed in one batch: one write");
    if (!o->nested) /* nested: a change reaches several roots, so writes are not changes minus skips */
        table_line(&b, "skipped", r->skipped, "row gone when re-read: its own delete change is sent");
    table_line(&b, "dead letters", r->dead_letters, "");
    if (r->retries)
        table_line(&b, "retries", r->retries, "");
    table_line(&b, "rows compared", r->rows_compared, "");
    table_line(&b, "documents compared", r->docs_compared, "");
    table_line(&b, "mismatches", r->mismatches, o->no_versions ? "documents that ended stale" : "must be 0");
    if (r->mismatches) {
        table_line(&b, "  older content", r->n_stale, "an older state of the row arrived last");
        if (!o->no_versions)
            table_line(&b, "  wrong _version", r->n_version, "");
        table_line(&b, "  missing", r->n_missing, "row exists, its document was deleted last");
        table_line(&b, "  deleted row kept", r->n_extra, "row is gone, its document came back last");
    }
    buf_printf(&b, "  %-28s %10.1f s\n", "wall time", r->wall_s);
    table_line(&b, "changes/s", r->wall_s > 0 ? (long long)((double)r->written / r->wall_s + 0.5) : 0,
               "changes written / wall time (first write to drained)");
    if (r->mismatches == 0)
        buf_puts(
            &b,
            o->nested ? "\nOK: every account's nested document equals its rows, and every document has its row.\n"
                      : "\nOK: every row equals its document (content and _version), and every document has its row.\n");
    else if (o->no_versions)
        buf_printf(&b, "\nDIFFERENT: %lld document(s) ended stale; the store no longer equals PostgreSQL.\n",
                   r->mismatches);
    else
        buf_printf(&b, "\nFAILED: %lld mismatch(es) between the store and PostgreSQL.\n", r->mismatches);
    fputs(b.data ? b.data : "", out);
    fflush(out);
    buf_free(&b);
}

void demo_print_json(FILE *out, const demo_opts *o, const demo_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", o->no_versions ? "no-versions" : "external");
    cJSON_AddNumberToObject(j, "rows", o->rows);
    cJSON_AddNumberToObject(j, "writers", o->writers);
    cJSON_AddNumberToObject(j, "workers", o->workers);
    cJSON_AddNumberToObject(j, "batch_size", o->batch_size);
    cJSON_AddNumberToObject(j, "max_delay_ms", o->max_delay_ms);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "changes_written", (double)r->written);
    cJSON_AddNumberToObject(j, "seed_inserts", (double)r->seeded);
    cJSON_AddNumberToObject(j, "updates", (double)r->updates);
    cJSON_AddNumberToObject(j, "deletes", (double)r->deletes);
    cJSON_AddNumberToObject(j, "reinserts", (double)r->inserts);
    cJSON_AddNumberToObject(j, "changes_captured", (double)r->captured);
    cJSON_AddNumberToObject(j, "writes_sent", (double)(r->applied + r->stale + r->dead_letters));
    cJSON_AddNumberToObject(j, "applied", (double)r->applied);
    cJSON_AddNumberToObject(j, "stale_rejected", (double)r->stale);
    cJSON_AddNumberToObject(j, "coalesced", (double)r->coalesced);
    cJSON_AddNumberToObject(j, "skipped", (double)r->skipped);
    cJSON_AddNumberToObject(j, "dead_letters", (double)r->dead_letters);
    cJSON_AddNumberToObject(j, "retries", (double)r->retries);
    cJSON_AddNumberToObject(j, "rows_compared", (double)r->rows_compared);
    cJSON_AddNumberToObject(j, "documents_compared", (double)r->docs_compared);
    cJSON_AddNumberToObject(j, "mismatches", (double)r->mismatches);
    cJSON_AddNumberToObject(j, "stale_documents", (double)r->n_stale);
    cJSON_AddNumberToObject(j, "wrong_versions", (double)r->n_version);
    cJSON_AddNumberToObject(j, "missing_documents", (double)r->n_missing);
    cJSON_AddNumberToObject(j, "deleted_rows_kept", (double)r->n_extra);
    cJSON_AddNumberToObject(j, "wall_time_s", (double)(long long)(r->wall_s * 1000 + 0.5) / 1000);
    cJSON_AddNumberToObject(j, "changes_per_s",
                            r->wall_s > 0 ? (double)(long long)((double)r->written / r->wall_s + 0.5) : 0);
    cJSON_AddBoolToObject(j, "drained", r->drained);
    char *text = cJSON_PrintUnformatted(j);
    if (text)
        fprintf(out, "%s\n", text);
    fflush(out);
    cJSON_free(text);
    cJSON_Delete(j);
}

