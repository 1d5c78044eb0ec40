/* bridge_backfill — `versync backfill`: copy existing rows into the store, and the table and index walks
 * verify shares. */
#include "versync/backfill.h"
#include "versync/timing.h"

#include "versync/catalog.h"
#include "versync/cli.h"
#include "versync/log.h"
#include "versync/mapping.h"
#include "versync/pg.h"
#include "versync/render.h"
#include "versync/scan.h"
#include "versync/signals.h"
#include "versync/target.h"
#include "versync/sql_embed.h"
#include "versync/worker.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESP_MAX (64u << 20)
#define PROGRESS_LOG_MS 5000
#define PRUNE_PAGE 1000

static const char alias[] = "vs_r";

/* ---- SQL builders -------------------------------------------------------------------------- */

static bool put_key_list(PGconn *conn, const cfg_table *t, buf *out, char *err, size_t errsz)
{
    for (size_t i = 0; i < t->nkey; i++) {
        if (!buf_puts(out, i ? ", " : "") || !buf_puts(out, alias) || !buf_putc(out, '.')) {
            snprintf(err, errsz, "out of memory rendering SQL");
            return false;
        }
        if (!pg_put_ident(conn, out, t->key[i], err, errsz))
            return false;
    }
    return true;
}

char *backfill_page_sql(PGconn *conn, const cfg_table *t, bool after, bool random, char *err, size_t errsz)
{
    buf b = BUF_INIT;
    if (!t->key_types || t->nkey == 0) {
        snprintf(err, errsz, "table %s: key columns unknown", t->ident);
        return NULL;
    }
    if (!buf_puts(&b, "SELECT ") || !render_select_list(conn, t, alias, &b, err, errsz) ||
        !buf_puts(&b, " FROM ") || !render_table_name(conn, t, &b, err, errsz) ||
        !buf_printf(&b, " %s", alias))
        goto fail;
    if (random) {
        /* A bounded top-N sort: memory stays at $1 rows whatever the table's size. */
        if (!buf_puts(&b, " ORDER BY random() LIMIT $1"))
            goto oom;
        return buf_steal(&b);
    }
    if (after) {
        /* (k1, k2) > ($1::t1, $2::t2): a row comparison the key's btree index answers as a range scan. */
        if (!buf_puts(&b, " WHERE (") || !put_key_list(conn, t, &b, err, errsz) || !buf_puts(&b, ") > ("))
            goto fail;
        for (size_t i = 0; i < t->nkey; i++)
            /* format_type() output from the catalog: a type name, already quoted where needed. */
            if (!buf_printf(&b, "%s$%zu::%s", i ? ", " : "", i + 1, t->key_types[i]))
                goto oom;
        if (!buf_puts(&b, ")"))
            goto oom;
    }
    if (!buf_puts(&b, " ORDER BY ") || !put_key_list(conn, t, &b, err, errsz) ||
        !buf_printf(&b, " LIMIT $%zu", after ? t->nkey + 1 : 1))
        goto fail;
    return buf_steal(&b);
oom:
    snprintf(err, errsz, "out of memory rendering SQL");
fail:
    buf_free(&b);
    return NULL;
}

/* ---- ids ------------------------------------------------------------------------------------ */

bool backfill_split_id(const char *id, size_t nkey, char ***parts, size_t *n)
{
    *parts = NULL;
    *n = 0;
    char **v = calloc(nkey ? nkey : 1, sizeof *v);
    if (!v)
        return false;
    if (nkey == 1) {
        /* A one-column key's id is its text unchanged (bulk_doc_id). */
        if (!(v[0] = strdup(id))) {
            free(v);
            return false;
        }
        *parts = v;
        *n = 1;
        return true;
    }
    buf part = BUF_INIT;
    size_t k = 0;
    for (const char *p = id;; p++) {
        if (*p == '\\') {
            if (!p[1])
                goto fail;
            p++;
            if (!buf_putc(&part, *p))
                goto fail;
            continue;
        }
        if (*p == '|' || !*p) {
            if (k >= nkey || !(v[k++] = strdup(part.data ? part.data : "")))
                goto fail;
            buf_reset(&part);
            if (!*p)
                break;
            continue;
        }
        if (!buf_putc(&part, *p))
            goto fail;
    }
    buf_free(&part);
    if (k != nkey) {
        render_free_array(v, k);
        return false;
    }
    *parts = v;
    *n = k;
    return true;
fail:
    buf_free(&part);
    render_free_array(v, nkey);
    return false;
}

/* Document id of a RENDER_COL_KEY value, into `out` (reset first). */
static bool id_of_key_text(const char *key_text, buf *out)
{
    char **key;
    size_t kn;
    buf_reset(out);
    if (!render_parse_text_array(key_text, &key, &kn))
        return false;
    bool ok = bulk_doc_id(out, (const char *const *)key, kn);
    render_free_array(key, kn);
    return ok;
}

/* One render_reread of the ids named by idx[0..m): true with *res, or false
 * with *cast_failed set when the server rejected a value for a key type. */
static bool present_query(PGconn *conn, const cfg_table *t, const char *sql, const char *const *ids,
                          const size_t *idx, size_t m, PGresult **res, bool *cast_failed, char *err,
                          size_t errsz)
{
    size_t nk = t->nkey;
    bool ok = false;
    *res = NULL;
    *cast_failed = false;
    buf *arrs = calloc(nk, sizeof *arrs);
    const char **params = calloc(nk, sizeof *params);
    const char **col = calloc(m + 1, sizeof *col);
    char ***parts = calloc(m + 1, sizeof *parts);
    size_t *np = calloc(m + 1, sizeof *np);
    size_t used = 0;
    if (!arrs || !params || !col || !parts || !np) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m; i++)
        if (backfill_split_id(ids[idx[i]], nk, &parts[used], &np[used]))
            used++;
    if (used == 0) {
        ok = true;
        goto done;
    }
    for (size_t k = 0; k < nk; k++) {
        for (size_t i = 0; i < used; i++)
            col[i] = parts[i][k];
        if (!render_array_literal(&arrs[k], col, used)) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        params[k] = arrs[k].data;
    }
    PGresult *r = PQexecParams(conn, sql, (int)nk, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        *res = r;
        ok = true;
        goto done;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* Class 22 (data exception): an id that is no value of the key's type, e.g. "x" for an integer key. */
    *cast_failed = state && strncmp(state, "22", 2) == 0;
    snprintf(err, errsz, "%s: %s", t->ident, PQresultErrorMessage(r));
    PQclear(r);
done:
    for (size_t i = 0; i < used; i++)
        render_free_array(parts[i], np[i]);
    for (size_t k = 0; arrs && k < nk; k++)
        buf_free(&arrs[k]);
    free(arrs);
    free(params);
    free(col);
    free(parts);
    free(np);
    return ok;
}

/* Merge the rows of `r` into present[] by id; keep r in *keep (appending is
 * not possible with PGresult, so the caller passes one result at a time). */
static bool mark_present(const PGresult *r, const char *const *ids, const size_t *idx, size_t m,
                         bool *present)
{
    buf id = BUF_INIT;
    bool ok = true;
    for (int row = 0; r && row < PQntuples(r); row++) {
        if (!id_of_key_text(PQgetvalue(r, row, RENDER_COL_KEY), &id)) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < m; i++)
            if (strcmp(ids[idx[i]], id.data) == 0)
                present[idx[i]] = true;
    }
    buf_free(&id);
    return ok;
}

bool backfill_present(PGconn *conn, const cfg_table *t, const char *const *ids, size_t n, bool *present,
                      PGresult **rows, char *err, size_t errsz)
{
    bool ok = false, in_tx = PQtransactionStatus(conn) == PQTRANS_INTRANS;
    char *sql = render_reread(conn, t, err, errsz);
    size_t *idx = calloc(n + 1, sizeof *idx);
    PGresult *r = NULL;
    if (rows)
        *rows = NULL;
    memset(present, 0, n * sizeof *present);
    if (!sql || !idx) {
        if (sql)
            snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    bool cast_failed;
    if (in_tx && !pg_run(conn, "SAVEPOINT vs_present", 0, NULL, err, errsz))
        goto done;
    if (present_query(conn, t, sql, ids, idx, n, &r, &cast_failed, err, errsz)) {
        if (!mark_present(r, ids, idx, n, present)) {
            snprintf(err, errsz, "%s: cannot parse a key", t->ident);
            goto done;
        }
        if (rows) {
            *rows = r;
            r = NULL;
        }
        ok = !in_tx || pg_run(conn, "RELEASE SAVEPOINT vs_present", 0, NULL, err, errsz);
        goto done;
    }
    if (!cast_failed)
        goto done;
    /* Some id is no value of the key type: ask one id at a time; the ones the
     * server rejects cannot name a row. Rare (foreign documents only). */
    if (in_tx && !pg_run(conn, "ROLLBACK TO SAVEPOINT vs_present", 0, NULL, err, errsz))
        goto done;
    for (size_t i = 0; i < n; i++) {
        PGresult *one = NULL;
        if (present_query(conn, t, sql, ids, &idx[i], 1, &one, &cast_failed, err, errsz)) {
            bool parsed = mark_present(one, ids, &idx[i], 1, present);
            PQclear(one);
            if (!parsed)
                goto done;
        } else if (!cast_failed) {
            goto done;
        }
        if (in_tx && !pg_run(conn, "ROLLBACK TO SAVEPOINT vs_present", 0, NULL, err, errsz))
            goto done;
    }
    if (rows) {
        /* The caller wants the rendered rows: one more query over the ids that exist. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (present[i])
                idx[m++] = i;
        if (m && !present_query(conn, t, sql, ids, idx, m, rows, &cast_failed, err, errsz))
            goto done;
    }
    ok = !in_tx || pg_run(conn, "RELEASE SAVEPOINT vs_present", 0, NULL, err, errsz);
done:
    PQclear(r);
    free(sql);
    free(idx);
    return ok;
}

/* ---- store reads ---------------------------------------------------------------------------- */

void backfill_free_docs(backfill_doc *docs, size_t n)
{
    if (!docs)
        return;
    for (size_t i = 0; i < n; i++)
        free(docs[i].id);
    free(docs);
}

static bool index_path(buf *out, const char *index, const char *suffix)
{
    /* Index names cannot hold characters that need escaping in a path (ES rules, checked by cfg). */
    return buf_printf(out, "/%s%s", index, suffix);
}

int backfill_list_page(esc *store, const char *index, const char *after, size_t size, backfill_doc **docs,
                       char *err, size_t errsz)
{
    buf path = BUF_INIT, body = BUF_INIT, resp = BUF_INIT;
    cJSON *root = NULL;
    int ret = BACKFILL_LIST_ERROR;
    *docs = NULL;
    buf_init(&resp, RESP_MAX);
    if (!index_path(&path, index, "/_search") ||
        !buf_printf(&body,
                    "{\"size\":%zu,\"query\":{\"match_all\":{}},\"sort\":[{\"_id\":\"asc\"}],"
                    "\"_source\":false,\"version\":true,\"track_total_hits\":false",
                    size))
        goto oom;
    if (after) {
        if (!buf_puts(&body, ",\"search_after\":[") || !buf_put_json_string(&body, after, strlen(after)) ||
            !buf_puts(&body, "]"))
            goto oom;
    }
    if (!buf_puts(&body, "}"))
        goto oom;
    int st = esc_request(store, "POST", path.data, NULL, body.data, body.len, NULL, &resp, err, errsz);
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st == 400 || st == 404 || st == 405 || st == 501) {
        /* verstore before its search endpoint: "no handler found"; other stores: no such index. */
        if (st == 404 && resp.data && strstr(resp.data, "index_not_found_exception")) {
            ret = 0;
            goto done;
        }
        snprintf(err, errsz, "store answered HTTP %d to POST %s: %.200s", st, path.data,
                 resp.data ? resp.data : "");
        ret = BACKFILL_LIST_UNSUPPORTED;
        goto done;
    }
    if (st != 200) {
        snprintf(err, errsz, "store answered HTTP %d to POST %s: %.200s", st, path.data,
                 resp.data ? resp.data : "");
        goto done;
    }
    root = cJSON_ParseWithLength(resp.data, resp.len);
    cJSON *hits = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "hits"), "hits");
    if (!cJSON_IsArray(hits)) {
        snprintf(err, errsz, "store's answer to POST %s has no hits.hits", path.data);
        goto done;
    }
    int nh = cJSON_GetArraySize(hits);
    backfill_doc *d = calloc((size_t)nh + 1, sizeof *d);
    if (!d)
        goto oom;
    int k = 0;
    cJSON *h;
    cJSON_ArrayForEach(h, hits)
    {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "_id");
        cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "_version");
        if (!cJSON_IsString(id))
            continue;
        if (!(d[k].id = strdup(id->valuestring))) {
            backfill_free_docs(d, (size_t)k);
            goto oom;
        }
        d[k].version = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
        k++;
    }
    *docs = d;
    ret = k;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    cJSON_Delete(root);
    buf_free(&path);
    buf_free(&body);
    buf_free(&resp);
    return ret;
}

long long backfill_count(esc *store, const char *index, char *err, size_t errsz)
{
    buf path = BUF_INIT, resp = BUF_INIT;
    long long n = -1;
    if (!index_path(&path, index, "/_count")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    int st = esc_request(store, "GET", path.data, NULL, NULL, 0, NULL, &resp, err, errsz);
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st != 200) {
        snprintf(err, errsz, "store answered HTTP %d to GET %s: %.200s", st, path.data,
                 resp.data ? resp.data : "");
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(resp.data, resp.len);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "count");
    if (cJSON_IsNumber(c))
        n = (long long)c->valuedouble;
    else
        snprintf(err, errsz, "store's answer to GET %s has no count", path.data);
    cJSON_Delete(root);
done:
    buf_free(&path);
    buf_free(&resp);
    return n;
}

/* ---- versions of orphan deletes -------------------------------------------------------------- */

int64_t backfill_delete_version(const cfg_table *t, int64_t doc_version)
{
    (void)t; /* one version step is one microsecond for timestamps, one unit otherwise */
    if (doc_version < 0)
        doc_version = 0;
    return doc_version >= BULK_VERSION_MAX ? BULK_VERSION_MAX : doc_version + 1;
}

bool backfill_bump_sequences(PGconn *conn, const char *schema_q, const cfg_table *t, int64_t version,
                             char *err, size_t errsz)
{
    /* WAL capture draws no sequence: its versions are commit positions, all >= 1. */
    if (t->capture == CFG_CAPTURE_WAL ||
        (t->version_kind != CFG_VERSION_SEQ && !(t->version_kind == CFG_VERSION_COLUMN && t->managed)))
        return true;
    char *sql = sql_render("backfill_changes_seq", schema_q);
    PGresult *r = NULL;
    bool ok = false;
    if (!sql) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    const char *p[1] = {t->ident};
    if (!(r = pg_exec(conn, sql, 1, p, err, errsz)))
        goto done;
    int col = t->version_kind == CFG_VERSION_SEQ ? 0 : 1;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, col)) {
        snprintf(err, errsz, "%s: cannot find the %s sequence (has versync init run?)", t->ident,
                 col ? "managed version" : "change");
        goto done;
    }
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, version);
    const char *bp[2] = {PQgetvalue(r, 0, col), v};
    ok = pg_run(conn, sql_text("backfill_bump_seq"), 2, bp, err, errsz);
done:
    PQclear(r);
    free(sql);
    return ok;
}

bool backfill_lock_table(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    buf sql = BUF_INIT;
    bool ok = false;
    if (!buf_puts(&sql, "LOCK TABLE ")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (!render_table_name(conn, t, &sql, err, errsz))
        goto done;
    if (!buf_puts(&sql, " IN SHARE MODE")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    long long deadline = timing_now_ms() + 60000;
    for (int attempt = 0;; attempt++) {
        if (!pg_run(conn, "BEGIN", 0, NULL, err, errsz))
            goto done;
        if (pg_run(conn, "SET LOCAL lock_timeout = '2s'", 0, NULL, err, errsz)) {
            PGresult *r = PQexec(conn, sql.data);
            ExecStatusType st = PQresultStatus(r);
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            bool busy = state && strcmp(state, "55P03") == 0; /* lock_not_available */
            if (st != PGRES_COMMAND_OK)
                snprintf(err, errsz, "%s: %s", t->ident, PQresultErrorMessage(r));
            PQclear(r);
            if (st == PGRES_COMMAND_OK && pg_run(conn, "SET LOCAL lock_timeout = 0", 0, NULL, err, errsz)) {
                ok = true;
                goto done;
            }
            PQclear(PQexec(conn, "ROLLBACK"));
            if (!busy || timing_now_ms() >= deadline)
                goto done;
            log_info("%s: a long transaction holds the table; waiting for it before locking again", t->ident);
            timing_sleep_ms(timing_backoff_ms(attempt), NULL);
            continue;
        }
        PQclear(PQexec(conn, "ROLLBACK"));
        goto done;
    }
done:
    buf_free(&sql);
    return ok;
}

/* ---- progress ------------------------------------------------------------------------------- */

static void fmt_duration(char *out, size_t n, double s)
{
    if (s < 0 || s > 360000)
        snprintf(out, n, "--:--");
    else if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else
        snprintf(out, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void progress_print(backfill_progress *p, long long now, bool final)
{
    double secs = (now - p->started_ms) / 1000.0;
    double rate = secs > 0 ? (p->done - p->start_done) / secs : 0;
    long long total = p->total;
    if (total >= 0 && p->done > total)
        total = p->done; /* the estimate was low */
    char eta[32] = "--:--";
    if (final)
        fmt_duration(eta, sizeof eta, secs);
    else if (total >= 0 && rate > 0)
        fmt_duration(eta, sizeof eta, (total - p->done) / rate);
    if (p->tty) {
        char bar[31];
        int fill = total > 0 ? (int)(30.0 * p->done / total) : (final ? 30 : 0);
        if (fill > 30)
            fill = 30;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %lld/%s%lld rows %.0f rows/s %s %s\033[K%s", p->what, bar, p->done,
                p->estimated && !final ? "~" : "", total >= 0 ? total : 0, rate, final ? "in" : "ETA", eta,
                final ? "\n" : "");
        fflush(stderr);
    } else {
        char tot[48] = "?";
        if (total >= 0)
            snprintf(tot, sizeof tot, "%s%lld", p->estimated && !final ? "~" : "", total);
        log_info("%s: %s %lld/%s rows, %.0f rows/s, %s %s", p->what, p->verb, p->done, tot, rate,
                 final ? "took" : "ETA", eta);
    }
}

void backfill_progress_start(backfill_progress *p, const char *what, const char *verb, long long total,
                             bool estimated, long long done)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->verb = verb;
    p->total = total;
    p->estimated = estimated;
    p->done = p->start_done = done;
    p->started_ms = p->last_ms = timing_now_ms();
    p->tty = isatty(STDERR_FILENO) && log_get_level() <= LOG_INFO && log_get_format() == LOG_FORMAT_TEXT;
}

void backfill_progress_update(backfill_progress *p, long long done)
{
    p->done = done;
    long long now = timing_now_ms();
    if (now - p->last_ms >= (p->tty ? 200 : PROGRESS_LOG_MS)) {
        p->last_ms = now;
        progress_print(p, now, false);
    }
}

void backfill_progress_end(backfill_progress *p)
{
    if (p->tty || log_get_level() <= LOG_INFO)
        progress_print(p, timing_now_ms(), true);
}

long long backfill_estimate_rows(PGconn *conn, const cfg_table *t, bool *estimated)
{
    char err[512];
    buf name = BUF_INIT, q = BUF_INIT;
    long long n = -1;
    *estimated = true;
    if (!render_table_name(conn, t, &name, err, sizeof err))
        goto done;
    const char *p[1] = {name.data};
    PGresult *r = pg_exec(conn, sql_text("backfill_estimate"), 1, p, err, sizeof err);
    if (r && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (n >= 0)
        goto done;
    /* Never analysed (reltuples -1): count, once. */
    *estimated = false;
    if (!buf_puts(&q, "SELECT count(*) FROM ") || !buf_puts(&q, name.data))
        goto done;
    r = pg_exec(conn, q.data, 0, NULL, err, sizeof err);
    if (r && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
done:
    buf_free(&name);
    buf_free(&q);
    return n;
}

/* ---- versync backfill ------------------------------------------------------------------------- */


typedef struct bf_opts {
    bool prune, resume;
    bool dry_run;      /* read and count, write nothing (neither the store nor the progress rows) */
    bool json;         /* one JSON object on stdout instead of a line per table */
    const char *index; /* --index, or NULL */
    int batch;
    long give_up_ms;
    int max_item_retries; /* store.max_item_retries */
    size_t max_bytes; /* store.max_bulk_bytes: one _bulk body at most this big */
} bf_opts;

typedef struct bf_counts {
    long long rows, applied, same, stale, regressed, errors, deleted, prune_stale;
    long long would_write, would_delete; /* --dry-run */
    double seconds;
    int store_status; /* a failure of the store: 0 none, -1 no answer, else the HTTP status that stopped it */
} bf_counts;

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

static const char *index_of(const cfg_table *t, const bf_opts *o)
{
    return o->index ? o->index : t->index ? t->index : t->name;
}

/* Create `index` with the table's settings and the mapping it implies (mapping.h) when the store
 * lacks it (--index NEW): the new index of a reindex gets the same mapping init creates. */
static bool ensure_index(PGconn *conn, esc *store, const cfg_table *t, const char *index, char *err, size_t errsz)
{
    buf path = BUF_INIT, resp = BUF_INIT;
    char *body = NULL;
    bool ok = false;
    if (!index_path(&path, index, "")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    int st = esc_request(store, "HEAD", path.data, NULL, NULL, 0, NULL, &resp, err, errsz);
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st == 200) {
        ok = true;
        goto done;
    }
    if (!(body = mapping_index_body(conn, t, err, errsz)))
        goto done;
    buf_reset(&resp);
    st = esc_request(store, "PUT", path.data, NULL, body, strlen(body), NULL, &resp, err, errsz);
    if (st == ESC_TRANSPORT_ERROR)
        goto done;
    if (st != 200 && !(st == 400 && resp.data && strstr(resp.data, "already_exists"))) {
        snprintf(err, errsz, "creating index \"%s\": HTTP %d: %.300s", index, st, resp.data ? resp.data : "");
        goto done;
    }
    log_info("created index %s", index);
    ok = true;
done:
    buf_free(&path);
    free(body);
    buf_free(&resp);
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

/* Copy every row of `t` into `index`, page by page (--dry-run: only count them). Returns 0, 1
 * (documents refused, or stopped) or -1 with err set (the caller logs it, once). */
static int copy_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
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
            if (!id_of_key_text(PQgetvalue(page, row, RENDER_COL_KEY), &id))
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

/* Delete the documents of `index` whose rows no longer exist (--dry-run: only count them).
 * Returns 0, 1 or -1 as copy_table. */
static int prune_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: versync [-c FILE] backfill [TABLE...] [--prune] [--index NAME] [--batch N] [--resume]\n"
            "                                  [--dry-run] [--json]\n\n"
            "Copies every existing row of the named tables (default: all mapped tables) to the store,\n"
            "in key order, N rows per query (default 1000) in _bulk requests of at most\n"
            "store.max_bulk_bytes, each with its external version; safe while `versync run` is live\n"
            "(a write that loses to a newer change is counted stale).\n\n"
            "  --prune        then delete documents whose rows no longer exist, and clear the table's\n"
            "                 \"needs resync\" flag (after a TRUNCATE)\n"
            "  --index NAME   write into index NAME instead (created if missing); one table only. Build\n"
            "                 a fresh index beside the live one, then switch an alias (see README)\n"
            "  --batch N      rows per page (1...100000)\n"
            "  --resume       continue an interrupted backfill after its last completed key\n"
            "  --dry-run      read the rows (and with --prune list the index) and say how many\n"
            "                 documents would be written and deleted; write nothing anywhere\n"
            "  --json         one JSON object on stdout: {\"tables\":[...],\"dry_run\",\"exit\"}\n"
            "  -h, --help     this text\n\n"
            "exit status: 0 done; 1 the store refused documents, a version was unusable, or a\n"
            "signal interrupted the copy (resume with --resume); 2 usage or configuration error\n"
            "(refused credentials, versync init not run); 3 PostgreSQL or the store unreachable\n");
}

/* Options: 0 to go on, or the exit status (help printed: -1 → 0). */
static int parse_opts(int argc, char **argv, bf_opts *o, const char **names, size_t *nnames)
{
    enum { O_PRUNE = 1, O_RESUME, O_INDEX, O_BATCH, O_DRY, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"prune", no_argument, NULL, O_PRUNE},   {"resume", no_argument, NULL, O_RESUME},
        {"index", required_argument, NULL, O_INDEX}, {"batch", required_argument, NULL, O_BATCH},
        {"dry-run", no_argument, NULL, O_DRY},   {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},     {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case O_PRUNE: o->prune = true; break;
        case O_RESUME: o->resume = true; break;
        case O_DRY: o->dry_run = true; break;
        case O_JSON: o->json = true; break;
        case O_INDEX: o->index = optarg; break;
        case O_BATCH: {
            int64_t v;
            if (!scan_int64(optarg, 1, 100000, &v)) {
                log_error("backfill: --batch: \"%s\" is not a number in 1...100000", optarg);
                return CLI_EXIT_CONFIG;
            }
            o->batch = (int)v;
            break;
        }
        case 'h':
        case O_HELP: usage(stdout); return -1;
        case ':':
            log_error("backfill: option %s needs a value (see versync backfill --help)", argv[optind - 1]);
            return CLI_EXIT_CONFIG;
        default:
            log_error("backfill: unknown option \"%s\" (see versync backfill --help)", argv[optind - 1]);
            return CLI_EXIT_CONFIG;
        }
    }
    for (int i = optind; i < argc; i++)
        names[(*nnames)++] = argv[i];
    return CLI_EXIT_OK;
}

static void report_table(buf *json, const cfg_table *t, const char *index, const bf_opts *o, const bf_counts *n)
{
    if (!json) {
        if (o->dry_run)
            printf("%s -> %s: %lld rows read, %lld documents would be written (each kept only where newer), "
                   "%lld errors%s\n",
                   t->ident, index, n->rows, n->would_write, n->errors, " (dry run: nothing written)");
        else
            printf("%s -> %s: %lld rows read, %lld written, %lld stale (already newer), %lld errors, %lld "
                   "rewritten at the same version, %lld version_regressed in %.1f s\n",
                   t->ident, index, n->rows, n->applied, n->stale, n->errors, n->same, n->regressed, n->seconds);
        if (o->prune && o->dry_run)
            printf("%s -> %s: %lld documents would be pruned (their rows do not exist now)\n", t->ident, index,
                   n->would_delete);
        else if (o->prune)
            printf("%s -> %s: %lld documents pruned, %lld rewritten meanwhile (stale delete)\n", t->ident, index,
                   n->deleted, n->prune_stale);
        fflush(stdout);
        return;
    }
    buf_puts(json, json->len && json->data[json->len - 1] == '[' ? "{\"table\":" : ",{\"table\":");
    buf_put_json_string(json, t->ident, strlen(t->ident));
    buf_puts(json, ",\"index\":");
    buf_put_json_string(json, index, strlen(index));
    buf_printf(json, ",\"rows\":%lld,\"errors\":%lld,\"seconds\":%.3f", n->rows, n->errors, n->seconds);
    if (o->dry_run)
        buf_printf(json, ",\"would_write\":%lld", n->would_write);
    else
        buf_printf(json, ",\"written\":%lld,\"stale\":%lld,\"same_version\":%lld,\"version_regressed\":%lld",
                   n->applied, n->stale, n->same, n->regressed);
    if (o->prune && o->dry_run)
        buf_printf(json, ",\"would_prune\":%lld", n->would_delete);
    else if (o->prune)
        buf_printf(json, ",\"pruned\":%lld,\"prune_stale\":%lld", n->deleted, n->prune_stale);
    buf_putc(json, '}');
}

/* The --prune of one table, after its copy: the walk, then the needs-resync flag. Returns 0, 1 or -1
 * (err set) as copy_table. */
static int prune_and_clear(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
                           const bf_opts *o, bf_counts *cnt, char *err, size_t errsz)
{
    char *seen_truncate = NULL;
    bool flagged = false;
    char *gs = sql_render("backfill_resync_get", schema_q);
    const char *p[2] = {t->ident, NULL};
    PGresult *r = gs ? pg_exec(conn, gs, 1, p, err, errsz) : NULL;
    free(gs);
    if (!r)
        return -1;
    /* The flag speaks of the table's live index: a prune of another one does not clear it. */
    if (PQntuples(r) == 1 && strcmp(index, t->index ? t->index : t->name) == 0) {
        flagged = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        if (!PQgetisnull(r, 0, 1))
            seen_truncate = strdup(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    int rc = prune_table(conn, store, schema_q, t, index, o, cnt, err, errsz);
    if (rc == 0 && flagged && !o->dry_run) {
        char *cs = sql_render("backfill_resync_clear", schema_q);
        p[1] = seen_truncate;
        r = cs ? pg_exec(conn, cs, 2, p, err, errsz) : NULL;
        free(cs);
        if (!r)
            rc = -1;
        else if (strcmp(PQcmdTuples(r), "1") == 0)
            log_info("%s: cleared the needs-resync flag", t->ident);
        else
            log_warn("%s: truncated again while backfilling; run versync backfill --prune again", t->ident);
        PQclear(r);
    }
    free(seen_truncate);
    return rc;
}

int cli_backfill(const cli_globals *g, int argc, char **argv)
{
    bf_opts o = {.batch = 1000, .give_up_ms = 120000};
    cfg c;
    PGconn *conn = NULL;
    esc *store = NULL;
    char err[1024];
    char *schema_q = NULL, *sql = NULL;
    cfg_table **todo = NULL;
    size_t ntodo = 0;
    buf json = BUF_INIT;
    const char **names = calloc((size_t)argc + 1, sizeof *names);
    size_t nnames = 0;
    if (!names) {
        log_error("backfill: out of memory");
        return CLI_EXIT_CONFIG;
    }
    int rc = parse_opts(argc, argv, &o, names, &nnames);
    if (rc != CLI_EXIT_OK) {
        free(names);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    o.json = cli_json(o.json);
    if ((rc = cli_open(g, "versync backfill", &c, &conn)) != CLI_EXIT_OK) {
        free(names);
        return rc;
    }
    o.max_bytes = c.store.max_bulk_bytes > 0 ? (size_t)c.store.max_bulk_bytes : 0;
    rc = CLI_EXIT_CONFIG;
    char sel_err[600];
    if (!cfg_select_tables(&c, names, nnames, &todo, &ntodo, sel_err, sizeof sel_err)) {
        log_error("backfill: %s", sel_err);
        goto done;
    }
    if (o.index && ntodo != 1) {
        log_error("backfill: --index names one index, so give exactly one table (%zu selected)", ntodo);
        goto done;
    }
    if (!(schema_q = pg_quote_ident(conn, c.schema, err, sizeof err)))
        goto pgfail;
    const char *sp[1] = {c.schema};
    PGresult *ready = pg_exec(conn, sql_text("status_ready"), 1, sp, err, sizeof err);
    bool is_ready = ready && strcmp(PQgetvalue(ready, 0, 0), "t") == 0;
    PQclear(ready);
    if (!is_ready) {
        log_error("versync's tables are not in schema %s of this database; run versync init first", schema_q);
        goto done;
    }
    if (!o.dry_run &&
        (!(sql = sql_render("backfill_schema", schema_q)) || !pg_run(conn, sql, 0, NULL, err, sizeof err)))
        goto pgfail;
    o.max_item_retries = c.store.max_item_retries;
    /* The store, as every command checks it: refused credentials fail now, with the same message,
     * rather than after two minutes of retries. */
    target_result tr = target_check(&c, err, sizeof err);
    if (tr != TARGET_OK) {
        log_error("%s", err);
        rc = cli_target_exit(tr);
        goto done;
    }
    if (!(store = esc_new(&c.store, err, sizeof err))) {
        log_error("%s", err);
        goto done;
    }
    /* The first SIGTERM/SIGINT finishes the batch in flight; a second ends the copy now. */
    (void)signals_init(SIGNALS_SECOND_EXITS, NULL, NULL, 0);
    if (o.json)
        buf_puts(&json, "{\"tables\":[");
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < ntodo && !signals_stop; i++) {
        cfg_table *t = todo[i];
        const char *index = index_of(t, &o);
        bf_counts cnt = {0};
        long long t0 = timing_now_ms();
        if (o.index && o.dry_run) {
            log_info("%s: dry run: index %s is created if missing when run for real", t->ident, index);
        } else if (o.index && !ensure_index(conn, store, t, index, err, sizeof err)) {
            log_error("%s", err);
            rc = CLI_EXIT_UNREACHABLE;
            break;
        }
        log_info("%s: %s %s", t->ident, o.dry_run ? "dry run: reading the rows for" : "backfilling into", index);
        int r1 = copy_table(conn, store, schema_q, t, index, &o, &cnt, err, sizeof err);
        int r2 = 0;
        if (r1 == 0 && o.prune)
            r2 = prune_and_clear(conn, store, schema_q, t, index, &o, &cnt, err, sizeof err);
        cnt.seconds = (timing_now_ms() - t0) / 1000.0;
        if (r1 < 0 || r2 < 0) {
            /* The one place a failed copy is logged. */
            log_error("%s: %s", t->ident, err);
            bool refused = cnt.store_status == 401 || cnt.store_status == 403;
            rc = cli_exit_worst(rc, refused                                              ? CLI_EXIT_CONFIG
                                    : cnt.store_status || PQstatus(conn) != CONNECTION_OK ? CLI_EXIT_UNREACHABLE
                                                                                          : CLI_EXIT_CONFIG);
            break;
        }
        report_table(o.json ? &json : NULL, t, index, &o, &cnt);
        if (cnt.stale && t->version_kind == CFG_VERSION_SEQ)
            log_info("%s: %lld documents were written by the workers at a change sequence number, above the "
                     "backfill's version 0, and were kept; to re-render them (after a schema change, say) run "
                     "versync verify --repair",
                     t->ident, cnt.stale);
        if (r1 != 0 || r2 != 0)
            rc = cli_exit_worst(rc, CLI_EXIT_DRIFT);
    }
    if (signals_stop)
        rc = cli_exit_worst(rc, CLI_EXIT_DRIFT);
    if (o.json) {
        buf_printf(&json, "],\"dry_run\":%s,\"exit\":%d}\n", o.dry_run ? "true" : "false", rc);
        if (buf_ok(&json))
            fputs(json.data, stdout);
        else
            log_error("backfill: out of memory");
    }
    goto done;
pgfail:
    log_error("%s", err);
    rc = cli_pg_exit(conn);
done:
    buf_free(&json);
    free(sql);
    free(schema_q);
    free(todo);
    free(names);
    esc_free(store);
    PQfinish(conn);
    cfg_free(&c);
    return rc;
}
