/* bridge_partition — capture of partitioned tables: the statement triggers on their partitions, moves between partitions, what check reports. */
#include "versync/bridge/partition.h"

#include "versync/bridge/init.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_BASE PARTITION_TRIGGER_PREFIX "notify"
#define TRUNCATE_BASE PARTITION_TRIGGER_PREFIX "truncate"

char *partition_moved_query(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    buf q = BUF_INIT;
    char *sq = pg_quote_ident(conn, t->schema, err, errsz);
    char *nq = sq ? pg_quote_ident(conn, t->name, err, errsz) : NULL;
    char *out = NULL;
    if (!nq)
        goto done;
    /* Column = ($1).column, so the key's indexes serve it; a key containing the partition
     * key never matches a moved row (its key changed), and the delete is recorded. */
    buf_printf(&q, "SELECT EXISTS (SELECT 1 FROM %s.%s WHERE ", sq, nq);
    for (size_t i = 0; i < t->nkey; i++) {
        char *kq = pg_quote_ident(conn, t->key[i], err, errsz);
        if (!kq)
            goto done;
        buf_printf(&q, "%s%s = ($1).%s", i ? " AND " : "", kq, kq);
        free(kq);
    }
    buf_puts(&q, ")");
    if (!(out = buf_steal(&q)))
        snprintf(err, errsz, "out of memory");
done:
    free(sq);
    free(nq);
    buf_free(&q);
    return out;
}

/* The partitions of `t` and their triggers (partition_tree.sql); NULL with err set. */
static PGresult *tree(PGconn *conn, const cfg *c, const cfg_table *t, char *err, size_t errsz)
{
    char notify[64], truncate[64];
    init_trigger_name(c->schema, NOTIFY_BASE, notify);
    init_trigger_name(c->schema, TRUNCATE_BASE, truncate);
    const char *params[] = {t->schema, t->name, c->schema, notify, truncate};
    return pg_exec(conn, sql_text("partition_tree"), 5, params, err, errsz);
}

/* Our trigger's name, quoted for SQL; caller frees. */
static char *quoted_name(PGconn *conn, const cfg *c, const char *base, char *err, size_t errsz)
{
    char name[64];
    init_trigger_name(c->schema, base, name);
    return pg_quote_ident(conn, name, err, errsz);
}

/* "a, b, c" or "a, b, … (12 in all)": a report line stays short whatever the number of partitions. */
static void list_names(buf *b, PGresult *r, const int *rows, int n)
{
    for (int i = 0; i < n && i < 5; i++)
        buf_printf(b, "%s%s.%s", i ? ", " : "", PQgetvalue(r, rows[i], 0), PQgetvalue(r, rows[i], 1));
    if (n > 5)
        buf_printf(b, ", … (%d in all)", n);
}

bool partition_plan(PGconn *conn, const cfg *c, const cfg_table *t, const char *schema_q, bool recreate, buf *sql,
                    char *what, size_t whatsz, char *err, size_t errsz)
{
    what[0] = '\0';
    if (!t->partitioned || t->capture != CFG_CAPTURE_TRIGGER)
        return true;
    bool ok = false;
    PGresult *r = tree(conn, c, t, err, errsz);
    int *rows = NULL, n = 0;
    char *nq = NULL, *tq = NULL, *chan = NULL, *tbl = NULL;
    buf names = BUF_INIT;
    if (!r)
        goto done;
    if (!(rows = calloc((size_t)PQntuples(r) + 1, sizeof *rows)))
        goto oom;
    if (!(nq = quoted_name(conn, c, NOTIFY_BASE, err, errsz)) || !(tq = quoted_name(conn, c, TRUNCATE_BASE, err, errsz)) ||
        !(chan = pg_quote_literal(conn, c->channel, err, errsz)) || !(tbl = pg_quote_literal(conn, t->ident, err, errsz)))
        goto done;
    int nhad = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        bool has = strcmp(PQgetvalue(r, i, 3), "t") == 0 && strcmp(PQgetvalue(r, i, 4), "t") == 0;
        if (has && !recreate)
            continue;
        nhad += has;
        char *ps = pg_quote_ident(conn, PQgetvalue(r, i, 0), err, errsz);
        char *pn = ps ? pg_quote_ident(conn, PQgetvalue(r, i, 1), err, errsz) : NULL;
        char table_q[300];
        if (pn)
            snprintf(table_q, sizeof table_q, "%s.%s", ps, pn);
        free(ps);
        free(pn);
        if (!pn)
            goto done;
        const char *vars[] = {"schema", schema_q, "table", table_q, "channel", chan, "tbl", tbl,
                              "notify_name", nq, "truncate_name", tq, NULL};
        char *s = sql_render_vars("partition_triggers_create", vars);
        bool put = s && buf_puts(sql, s);
        free(s);
        if (!put)
            goto oom;
        rows[n++] = i;
    }
    if (n) {
        list_names(&names, r, rows, n);
        if (!buf_ok(&names))
            goto oom;
        snprintf(what, whatsz, "%s TRUNCATE and wake-up triggers on %d partition%s of %s: %s",
                 nhad ? "recreated" : "created", n, n == 1 ? "" : "s", t->ident, names.data);
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    PQclear(r);
    free(rows);
    free(nq);
    free(tq);
    free(chan);
    free(tbl);
    buf_free(&names);
    return ok;
}

bool partition_plan_orphans(PGconn *conn, const cfg *c, const char *schema_q, buf *sql, char *what, size_t whatsz,
                            char *err, size_t errsz)
{
    what[0] = '\0';
    bool ok = false;
    const char **roots = calloc(c->ntables + 1, sizeof *roots);
    buf arr = BUF_INIT, names = BUF_INIT;
    PGresult *r = NULL;
    if (!roots)
        goto oom;
    size_t nroots = 0;
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].partitioned && c->tables[i].capture == CFG_CAPTURE_TRIGGER)
            roots[nroots++] = c->tables[i].ident;
    if (!render_array_literal(&arr, roots, nroots))
        goto oom;
    const char *params[] = {c->schema, PARTITION_TRIGGER_PREFIX, arr.data};
    if (!(r = pg_exec(conn, sql_text("partition_orphans"), 3, params, err, errsz)))
        goto done;
    int n = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        char *ps = pg_quote_ident(conn, PQgetvalue(r, i, 0), err, errsz);
        char *pn = ps ? pg_quote_ident(conn, PQgetvalue(r, i, 1), err, errsz) : NULL;
        char *tg = pn ? pg_quote_ident(conn, PQgetvalue(r, i, 2), err, errsz) : NULL;
        char table_q[300];
        if (tg)
            snprintf(table_q, sizeof table_q, "%s.%s", ps, pn);
        const char *vars[] = {"schema", schema_q, "table", table_q, "trigger", tg, NULL};
        char *s = tg ? sql_render_vars("init_drop_trigger", vars) : NULL;
        bool put = s && buf_puts(sql, s);
        free(s);
        free(ps);
        free(pn);
        free(tg);
        if (!put) {
            if (!err[0])
                snprintf(err, errsz, "out of memory");
            goto done;
        }
        /* Two triggers per table: name each table once. */
        if (i == 0 || strcmp(PQgetvalue(r, i - 1, 0), PQgetvalue(r, i, 0)) != 0 ||
            strcmp(PQgetvalue(r, i - 1, 1), PQgetvalue(r, i, 1)) != 0) {
            if (n < 5)
                buf_printf(&names, "%s%s.%s", n ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
            n++;
        }
    }
    if (n) {
        if (n > 5)
            buf_printf(&names, ", … (%d in all)", n);
        if (!buf_ok(&names))
            goto oom;
        snprintf(what, whatsz, "dropped partition triggers on %d table%s no longer a partition of a captured table: %s",
                 n, n == 1 ? "" : "s", names.data);
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    free(roots);
    buf_free(&arr);
    buf_free(&names);
    PQclear(r);
    return ok;
}

int partition_check(const cfg *c, PGconn *conn, setup_report_fn report, void *ctx, char *err, size_t errsz)
{
    int found = 0;
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        if (!t->partitioned)
            continue;
        if (t->key_unenforced) {
            char msg[1024];
            snprintf(msg, sizeof msg,
                     "%s: the key of tables[%d] is unique only together with the partition key, and PostgreSQL "
                     "cannot enforce it across partitions: two partitions holding rows with one key would share "
                     "one document. Keep it unique by construction (one sequence or identity for every "
                     "partition) or add the partition key to \"key\"",
                     t->ident, t->json_index);
            report(ctx, msg);
            found++;
        }
        if (t->capture != CFG_CAPTURE_TRIGGER)
            continue;
        PGresult *r = tree(conn, c, t, err, errsz);
        if (!r)
            return -1;
        int *rows = calloc((size_t)PQntuples(r) + 1, sizeof *rows), n = 0;
        buf names = BUF_INIT;
        if (!rows) {
            PQclear(r);
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        /* Without the cloned capture trigger the parent itself is not set up: setup_uninitialized says so. */
        for (int k = 0; k < PQntuples(r); k++)
            if (strcmp(PQgetvalue(r, k, 2), "t") == 0 &&
                (strcmp(PQgetvalue(r, k, 3), "t") != 0 || strcmp(PQgetvalue(r, k, 4), "t") != 0))
                rows[n++] = k;
        if (n) {
            list_names(&names, r, rows, n);
            char msg[1536];
            snprintf(msg, sizeof msg,
                     "%s: partition%s %s lack%s versync's TRUNCATE and wake-up triggers (created or attached "
                     "after init): %s changes are captured (PostgreSQL clones the capture trigger onto every "
                     "partition), but a TRUNCATE of %s is not recorded and its writes wake the workers only every "
                     "poll_interval_ms; run versync init",
                     t->ident, n == 1 ? "" : "s", names.data ? names.data : "", n == 1 ? "s" : "",
                     n == 1 ? "its" : "their", n == 1 ? "it" : "one of them");
            report(ctx, msg);
            found++;
        }
        buf_free(&names);
        free(rows);
        PQclear(r);
    }
    return found;
}
