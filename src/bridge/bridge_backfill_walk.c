/* bridge_backfill_walk — the table and index walks backfill and verify share: a table's pages in
 * key order, which ids still have a row, a store index's ids page by page, orphan-delete versions,
 * the table lock, progress. */
#include "versync/bridge/backfill.h"
#include "versync/common/timing.h"

#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_MAX (64u << 20)
#define PROGRESS_LOG_MS 5000

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
bool backfill_id_of_key_text(const char *key_text, buf *out)
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
        if (!backfill_id_of_key_text(PQgetvalue(r, row, RENDER_COL_KEY), &id)) {
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

bool backfill_index_path(buf *out, const char *index, const char *suffix)
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
    if (!backfill_index_path(&path, index, "/_search") ||
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
    if (!backfill_index_path(&path, index, "/_count")) {
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
