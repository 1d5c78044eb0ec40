/* bridge_status — `versync status`: per table backlog, oldest waiting change, dead letters, resync flag. */
#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/bridge/cursor.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/wal.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number column as JSON: its text, or null. */
static void json_num(buf *b, PGresult *r, int row, int col)
{
    buf_puts(b, PQgetisnull(r, row, col) ? "null" : PQgetvalue(r, row, col));
}

static void json_str(buf *b, const char *s)
{
    if (s)
        buf_put_json_string(b, s, strlen(s));
    else
        buf_puts(b, "null");
}

static void human_age(char *out, size_t n, PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        snprintf(out, n, "-");
        return;
    }
    double ms = strtod(PQgetvalue(r, row, col), NULL);
    if (ms < 1000)
        snprintf(out, n, "%.0fms", ms);
    else if (ms < 120000)
        snprintf(out, n, "%.1fs", ms / 1000);
    else if (ms < 7200000)
        snprintf(out, n, "%.1fm", ms / 60000);
    else
        snprintf(out, n, "%.1fh", ms / 3600000);
}

/* The checkpoints of the cursor tables ("capture": "cursor"), from the state file or
 * <schema>.cursors; cps[i] stays empty for trigger tables. False with err set. */
static bool load_cursors(const cfg *c, PGconn *conn, const char *schema_q, const char *state, cursor_checkpoint *cps,
                         char *err, size_t errsz)
{
    for (size_t i = 0; i < c->ntables; i++) {
        if (c->tables[i].capture != CFG_CAPTURE_CURSOR)
            continue;
        if (state ? !cursor_state_load(state, c->tables[i].ident, &cps[i], err, errsz)
                  : cursor_checkpoint_get(conn, schema_q, c->tables[i].ident, &cps[i], err, errsz) != 0)
            return false;
    }
    return true;
}

/* ,"capture":…[,"cursor":{…}] of table i. */
static void json_cursor(buf *b, const cfg *c, size_t i, const cursor_checkpoint *cp)
{
    bool cur = c->tables[i].capture == CFG_CAPTURE_CURSOR;
    buf_printf(b, ",\"capture\":\"%s\"", cur ? "cursor" : "trigger");
    if (!cur)
        return;
    buf_printf(b, ",\"cursor\":{\"passes\":%lld,\"rows\":%lld,\"applied\":%lld,\"stale\":%lld,"
                  "\"dead_letters\":%lld,\"pass_under_way\":%s,\"checkpoint_at\":",
               cp->passes, cp->rows, cp->applied, cp->stale, cp->dead_letters, cp->in_pass ? "true" : "false");
    json_str(b, cp->has_base ? cp->base_at : NULL);
    long long age = cp->has_base ? cursor_age_ms(cp->base_at) : -1;
    if (age >= 0)
        buf_printf(b, ",\"age_ms\":%lld}", age);
    else
        buf_puts(b, ",\"age_ms\":null}");
}

/* One line per cursor table: how old its checkpoint is (everything committed before it is in the store). */
static void text_cursors(buf *b, const cfg *c, const cursor_checkpoint *cps)
{
    for (size_t i = 0; i < c->ntables; i++) {
        const cursor_checkpoint *cp = &cps[i];
        if (c->tables[i].capture != CFG_CAPTURE_CURSOR)
            continue;
        long long age = cp->has_base ? cursor_age_ms(cp->base_at) : -1;
        char agebuf[32] = "-";
        if (age >= 0)
            snprintf(agebuf, sizeof agebuf, "%.1fs", age / 1000.0);
        buf_printf(b, "cursor %s: %s%s (age %s), %lld passes, %lld rows read: %lld applied, %lld stale, %lld refused%s\n",
                   c->tables[i].ident, cp->has_base ? "everything committed before " : "no pass completed yet",
                   cp->has_base ? cp->base_at : "", agebuf, cp->passes, cp->rows, cp->applied, cp->stale,
                   cp->dead_letters, cp->in_pass ? "; a pass is under way" : "");
    }
}

/* The row of table `tbl` in the status_parked result, or -1. */
static int parked_row(const PGresult *pk, const char *tbl)
{
    for (int i = 0; pk && i < PQntuples(pk); i++)
        if (strcmp(PQgetvalue(pk, i, 0), tbl) == 0)
            return i;
    return -1;
}

int cli_status(const cli_globals *g, int argc, char **argv)
{
    bool json = false;
    const char *state = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            state = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: versync [-c FILE] status [--json] [--state FILE]\n\n"
                   "Per mapped table: changes waiting (backlog), age of the oldest waiting change,\n"
                   "dead letters and whether it needs a resync (after a TRUNCATE); then the counters of\n"
                   "the worker processes that reported within worker_stats_expire_s and the greatest lag\n"
                   "among those that reported within lag_window_s. Cursor tables (\"capture\": \"cursor\")\n"
                   "show their checkpoint, from PostgreSQL or the --state FILE of run/once.\n\n"
                   "  --json         one JSON object on stdout (also under --log-format json)\n"
                   "  --state FILE   read cursor checkpoints from FILE (as run/once --state)\n"
                   "  -h, --help     this text\n\n"
                   "exit status: 0 ok; 2 invalid config or versync init not run; 3 PostgreSQL\n"
                   "unreachable\n");
            return 0;
        } else {
            log_error("status: unknown argument \"%s\" (see versync status --help)", argv[i]);
            return CLI_EXIT_CONFIG;
        }
    }
    cfg c;
    char err[1024];
    int rc = 1;
    PGconn *conn = NULL;
    PGresult *ready = NULL, *tr = NULL, *wr = NULL, *pk = NULL;
    cursor_checkpoint *cps = NULL;
    char *schema_q = NULL, *sql = NULL;
    buf arr = BUF_INIT, out = BUF_INIT;
    json = cli_json(json);
    if ((rc = cli_load(g, &c)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_connect(&c, "versync status", &conn)) != CLI_EXIT_OK)
        goto done;
    rc = CLI_EXIT_CONFIG;
    if (!(schema_q = pg_quote_ident(conn, c.schema, err, sizeof err)))
        goto fail;
    const char *sp[] = {c.schema};
    if (!(ready = pg_exec(conn, sql_text("status_ready"), 1, sp, err, sizeof err)))
        goto fail;
    cps = calloc(c.ntables ? c.ntables : 1, sizeof *cps);
    if (!cps)
        goto oom;
    if (strcmp(PQgetvalue(ready, 0, 0), "t") != 0 && state && cursor_table_count(&c) == c.ntables) {
        /* A replica synced in cursor mode alone: no versync schema, only the state file. */
        if (!load_cursors(&c, conn, schema_q, state, cps, err, sizeof err))
            goto fail;
        if (json) {
            buf_puts(&out, "{\"tables\":[");
            for (size_t i = 0; i < c.ntables; i++) {
                buf_puts(&out, i ? ",{\"table\":" : "{\"table\":");
                json_str(&out, c.tables[i].ident);
                buf_puts(&out, ",\"index\":");
                json_str(&out, c.tables[i].index);
                json_cursor(&out, &c, i, &cps[i]);
                buf_puts(&out, "}");
            }
            buf_puts(&out, "],\"workers\":null}\n");
        } else {
            text_cursors(&out, &c, cps);
        }
        if (!buf_ok(&out))
            goto oom;
        fputs(out.data, stdout);
        rc = 0;
        goto done;
    }
    if (strcmp(PQgetvalue(ready, 0, 0), "t") != 0) {
        snprintf(err, sizeof err, "versync's tables are not in schema %s of this database; run versync init",
                 schema_q);
        goto fail;
    }
    const char **idents = calloc(c.ntables, sizeof *idents);
    if (!idents)
        goto oom;
    for (size_t i = 0; i < c.ntables; i++)
        idents[i] = c.tables[i].ident;
    bool ok = render_array_literal(&arr, idents, c.ntables);
    free(idents);
    if (!ok || !(sql = sql_render("status_tables", schema_q)))
        goto oom;
    const char *tp[] = {arr.data};
    if (!(tr = pg_exec(conn, sql, 1, tp, err, sizeof err)))
        goto fail;
    free(sql);
    if (!(sql = sql_render("status_workers", schema_q)))
        goto oom;
    char expire[32], window[32];
    snprintf(expire, sizeof expire, "%ld", c.worker_stats_expire_s);
    snprintf(window, sizeof window, "%ld", c.lag_window_s);
    const char *wp[] = {expire, window};
    if (!(wr = pg_exec(conn, sql, 2, wp, err, sizeof err)))
        goto fail;
    if (!load_cursors(&c, conn, schema_q, state, cps, err, sizeof err))
        goto fail;
    free(sql);
    if (!(sql = sql_render("status_parked", schema_q)))
        goto oom;
    /* Older schemas have no parked table until the next init: then nothing is parked. */
    char perr[256];
    pk = pg_exec(conn, sql, 0, NULL, perr, sizeof perr);

    if (json) {
        buf_puts(&out, "{\"tables\":[");
        for (int i = 0; i < PQntuples(tr); i++) {
            buf_puts(&out, i ? ",{\"table\":" : "{\"table\":");
            json_str(&out, PQgetvalue(tr, i, 0));
            buf_puts(&out, ",\"index\":");
            json_str(&out, c.tables[i].index);
            buf_puts(&out, ",\"backlog\":");
            json_num(&out, tr, i, 1);
            buf_puts(&out, ",\"oldest_age_ms\":");
            json_num(&out, tr, i, 2);
            buf_puts(&out, ",\"dead_letters\":");
            json_num(&out, tr, i, 3);
            buf_printf(&out, ",\"needs_resync\":%s", strcmp(PQgetvalue(tr, i, 4), "t") == 0 ? "true" : "false");
            buf_puts(&out, ",\"resync_reason\":");
            json_str(&out, PQgetisnull(tr, i, 5) ? NULL : PQgetvalue(tr, i, 5));
            buf_printf(&out, ",\"initialized\":%s", strcmp(PQgetvalue(tr, i, 6), "t") == 0 ? "true" : "false");
            int p = parked_row(pk, PQgetvalue(tr, i, 0));
            buf_puts(&out, ",\"parked\":");
            if (p < 0) {
                buf_puts(&out, "null");
            } else {
                buf_puts(&out, "{\"error\":");
                json_str(&out, PQgetvalue(pk, p, 1));
                buf_puts(&out, ",\"sqlstate\":");
                json_str(&out, PQgetisnull(pk, p, 2) ? NULL : PQgetvalue(pk, p, 2));
                buf_puts(&out, ",\"since\":");
                json_str(&out, PQgetvalue(pk, p, 3));
                buf_puts(&out, "}");
            }
            buf_puts(&out, ",\"version_regressed\":");
            json_num(&out, tr, i, PQfnumber(tr, "version_regressed"));
            json_cursor(&out, &c, (size_t)i, &cps[i]);
            buf_puts(&out, "}");
        }
        static const char *const wkeys[] = {"reporting", "applied", "stale", "coalesced", "dead_letters",
                                            "retries", "max_lag_ms", "last_report_age_ms", "expired"};
        buf_puts(&out, "],\"workers\":{");
        for (int k = 0; k < 9; k++) {
            buf_printf(&out, "%s\"%s\":", k ? "," : "", wkeys[k]);
            json_num(&out, wr, 0, k);
        }
        buf_printf(&out, ",\"expire_after_s\":%ld,\"lag_window_s\":%ld}", c.worker_stats_expire_s,
                   c.lag_window_s);
        if (!wal_status_append(conn, &c, true, &out, err, sizeof err))
            goto fail;
        buf_puts(&out, "}\n");
    } else {
        buf_printf(&out, "%-32s %-24s %9s %9s %7s  %s\n", "TABLE", "INDEX", "BACKLOG", "OLDEST", "DEAD", "RESYNC");
        for (int i = 0; i < PQntuples(tr); i++) {
            char age[32];
            human_age(age, sizeof age, tr, i, 2);
            const char *resync = strcmp(PQgetvalue(tr, i, 6), "t") != 0 ? "not initialised (run versync init)"
                                 : strcmp(PQgetvalue(tr, i, 4), "t") == 0
                                     ? (PQgetisnull(tr, i, 5) ? "needed" : PQgetvalue(tr, i, 5))
                                     : "-";
            buf_printf(&out, "%-32s %-24s %9s %9s %7s  %s%s\n", PQgetvalue(tr, i, 0), c.tables[i].index,
                       PQgetvalue(tr, i, 1), age, PQgetvalue(tr, i, 3), resync,
                       strcmp(PQgetvalue(tr, i, 4), "t") == 0
                           ? (strcmp(PQgetvalue(tr, i, 1), "0") != 0
                                  ? " (the workers apply it from the backlog)"
                                  : " (run versync backfill --prune)")
                           : "");
        }
        for (int i = 0; pk && i < PQntuples(pk); i++)
            buf_printf(&out,
                       "parked: %s since %s: %s. Its changes wait (nothing is lost) while the other tables flow; "
                       "fix the config (then SIGHUP) or the table and it resumes by itself\n",
                       PQgetvalue(pk, i, 0), PQgetvalue(pk, i, 3), PQgetvalue(pk, i, 1));
        for (int i = 0; i < PQntuples(tr); i++) {
            const char *reg = PQgetvalue(tr, i, PQfnumber(tr, "version_regressed"));
            if (strcmp(reg, "0") != 0)
                buf_printf(&out,
                           "%s: %s dead letters are version_regressed: the store refused the row's current state "
                           "because its version did not advance (see dead_letters.error; remedy: \"managed\": "
                           "true, or make the application bump %s)\n",
                           PQgetvalue(tr, i, 0), reg,
                           c.tables[i].version_column ? c.tables[i].version_column : "the version");
        }
        text_cursors(&out, &c, cps);
        if (!wal_status_append(conn, &c, false, &out, err, sizeof err))
            goto fail;
        char lag[32];
        human_age(lag, sizeof lag, wr, 0, 6);
        buf_printf(&out,
                   "workers: %s reporting in the last %lds; applied %s, stale %s, coalesced %s, dead letters %s, "
                   "retries %s; max lag in the last %lds: %s\n",
                   PQgetvalue(wr, 0, 0), c.worker_stats_expire_s, PQgetvalue(wr, 0, 1), PQgetvalue(wr, 0, 2),
                   PQgetvalue(wr, 0, 3), PQgetvalue(wr, 0, 4), PQgetvalue(wr, 0, 5), c.lag_window_s, lag);
        if (strcmp(PQgetvalue(wr, 0, 8), "0") != 0)
            buf_printf(&out,
                       "workers: %s process%s silent for more than %lds not counted (gone; the next run or once "
                       "forgets them)\n",
                       PQgetvalue(wr, 0, 8), strcmp(PQgetvalue(wr, 0, 8), "1") == 0 ? "" : "es",
                       c.worker_stats_expire_s);
    }
    if (!buf_ok(&out))
        goto oom;
    fputs(out.data, stdout);
    rc = 0;
    goto done;
oom:
    snprintf(err, sizeof err, "out of memory");
fail:
    log_error("status: %s", err);
    rc = cli_pg_exit(conn);
done:
    PQclear(ready);
    PQclear(tr);
    PQclear(wr);
    PQclear(pk);
    free(schema_q);
    free(sql);
    buf_free(&arr);
    buf_free(&out);
    PQfinish(conn);
    for (size_t i = 0; cps && i < c.ntables; i++)
        cursor_checkpoint_clear(&cps[i]);
    free(cps);
    cfg_free(&c);
    return rc;
}
