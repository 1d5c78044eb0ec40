/* bridge_setup — checks of a capture setup that would lose data without a word: risky version sources and
 * tables `init` has not set up. */
#include "versync/bridge/setup.h"

#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/stats.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void reportf(setup_report_fn report, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reportf(setup_report_fn report, void *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

/* Case-insensitive substring search. */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* Does `expr` stamp with the start of the transaction or statement rather than the clock? */
static const char *start_time_function(const char *expr)
{
    static const char *const fns[] = {
        "transaction_timestamp", "statement_timestamp", "current_timestamp", "localtimestamp", "now()", NULL};
    for (size_t i = 0; fns[i]; i++)
        if (contains_ci(expr, fns[i]))
            return fns[i];
    return NULL;
}

/* Does a trigger's source mention `col` as a whole word (a heuristic: an
 * assignment like NEW.col := …, or NEW."col")? */
static bool mentions_column(const char *src, const char *col)
{
    size_t n = strlen(col);
    for (const char *p = src; (p = strstr(p, col)); p += n) {
        bool left = p == src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

int setup_version_risks(const cfg *c, const cfg_table *t, PGconn *conn, setup_report_fn report, void *ctx,
                        char *err, size_t errsz)
{
    if (t->version_kind == CFG_VERSION_SEQ || t->managed || !t->version_column)
        return 0;
    bool ts = t->version_kind == CFG_VERSION_TIMESTAMP;
    const char *schema = c->schema ? c->schema : "versync";
    int found = 0;
    const char *p3[] = {t->schema, t->name, t->version_column};
    PGresult *def = NULL, *trg = NULL;
    if (ts) {
        if (!(def = pg_exec(conn, sql_text("setup_version_default"), 3, p3, err, errsz)))
            return -1;
        const char *fn = PQntuples(def) ? start_time_function(PQgetvalue(def, 0, 0)) : NULL;
        if (fn) {
            reportf(
                report, ctx,
                "%s: version timestamp \"%s\" defaults to %s, the start of the transaction: a transaction "
                "that commits later can carry an older stamp, and its write is then refused as stale. "
                "Default it to clock_timestamp(), or set \"managed\": true",
                t->ident, t->version_column, PQgetvalue(def, 0, 0));
            found++;
        }
    }
    const char *pt[] = {t->schema, t->name, schema};
    if (!(trg = pg_exec(conn, sql_text("setup_app_triggers"), 3, pt, err, errsz))) {
        PQclear(def);
        return -1;
    }
    bool bumped = false;
    for (int i = 0; i < PQntuples(trg); i++) {
        const char *src = PQgetvalue(trg, i, 1);
        /* A C function's source is not readable here: give it the benefit of the doubt. */
        const char *lang = PQgetvalue(trg, i, 2);
        bool opaque = strcmp(lang, "c") == 0 || strcmp(lang, "internal") == 0;
        if (!opaque && !mentions_column(src, t->version_column))
            continue;
        bumped = true;
        const char *fn = ts ? start_time_function(src) : NULL;
        if (fn && !contains_ci(src, "clock_timestamp")) {
            reportf(
                report, ctx,
                "%s: trigger \"%s\" stamps the version timestamp \"%s\" with %s, the start of the "
                "transaction: a transaction that commits later can carry an older stamp, and its write is "
                "then refused as stale. Use clock_timestamp(), or set \"managed\": true",
                t->ident, PQgetvalue(trg, i, 0), t->version_column, fn);
            found++;
        }
    }
    if (!bumped) {
        reportf(report, ctx,
                "%s: nothing in the database bumps the version %s \"%s\" (no BEFORE UPDATE trigger of the "
                "table mentions it): every UPDATE of the application must set it to a greater value, or the "
                "store keeps the old document. Set \"managed\": true to let versync assign it",
                t->ident, ts ? "timestamp" : "column", t->version_column);
        found++;
    }
    PQclear(def);
    PQclear(trg);
    return found;
}

int setup_uninitialized(const cfg *c, PGconn *conn, setup_report_fn report, void *ctx, char *err,
                        size_t errsz)
{
    const char *schema = c->schema ? c->schema : "versync";
    const char **idents = calloc(c->ntables ? c->ntables : 1, sizeof *idents);
    buf arr = {0};
    size_t n = 0;
    int found = -1;
    if (!idents) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].capture == CFG_CAPTURE_TRIGGER)
            idents[n++] = c->tables[i].ident;
    if (n == 0) {
        found = 0;
        goto done;
    }
    if (!render_array_literal(&arr, idents, n)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *params[] = {schema, arr.data};
    PGresult *r = pg_exec(conn, sql_text("setup_captured"), 2, params, err, errsz);
    if (!r)
        goto done;
    found = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 1), "t") == 0)
            continue;
        reportf(
            report, ctx,
            "%s is in the config but `versync init` has not set it up (no capture trigger of schema \"%s\"): "
            "none of its changes reach the index; run `versync init`",
            PQgetvalue(r, i, 0), schema);
        found++;
    }
    PQclear(r);
done:
    buf_free(&arr);
    free(idents);
    return found;
}

bool setup_existing_rows(PGconn *conn, const cfg_table *t, long long limit, long long *rows, bool *estimated,
                         char *err, size_t errsz)
{
    char *sq = pg_quote_ident(conn, t->schema, err, errsz);
    char *nq = sq ? pg_quote_ident(conn, t->name, err, errsz) : NULL;
    char *table_q = NULL, *sql = NULL;
    bool ok = false;
    if (!nq)
        goto done;
    size_t len = strlen(sq) + strlen(nq) + 2;
    if (!(table_q = malloc(len))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    snprintf(table_q, len, "%s.%s", sq, nq);
    const char *vars[] = {"table", table_q, NULL};
    if (!(sql = sql_render_vars("setup_existing_rows", vars))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    char lim[32];
    snprintf(lim, sizeof lim, "%lld", limit + 1);
    const char *params[] = {lim, t->schema, t->name};
    PGresult *r = pg_exec(conn, sql, 3, params, err, errsz);
    if (!r)
        goto done;
    *rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *estimated = *rows > limit;
    if (*estimated) {
        long long est = PQgetisnull(r, 0, 1) ? 0 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        *rows = est > limit ? est : limit + 1;
    }
    PQclear(r);
    ok = true;
done:
    free(sql);
    free(table_q);
    free(nq);
    free(sq);
    return ok;
}

static void log_warning(void *ctx, const char *msg)
{
    (void)ctx;
    log_warn("%s", msg);
}

void setup_warn_uninitialized(const cfg *c)
{
    char err[768];
    PGconn *conn = pg_connect(c->postgres, "versync setup check", err, sizeof err);
    if (!conn)
        return;
    if (setup_uninitialized(c, conn, log_warning, NULL, err, sizeof err) < 0)
        log_debug("cannot tell which tables init has set up: %s", err);
    /* run and once start here: the one start-up connection also forgets processes long gone. */
    stats_prune_logged(conn, c);
    PQfinish(conn);
}
