/* bridge_backfill — `versync backfill`: options, the per-table run (copy, then prune), the summary. */
#include "versync/bridge/backfill_copy.h"
#include "versync/common/timing.h"

#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/mapping.h"
#include "versync/bridge/pg.h"
#include "versync/common/scan.h"
#include "versync/common/signals.h"
#include "versync/bridge/target.h"
#include "versync/bridge/sql_embed.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!backfill_index_path(&path, index, "")) {
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
 * (err set) as backfill_copy_table. */
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
    int rc = backfill_prune_table(conn, store, schema_q, t, index, o, cnt, err, errsz);
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
        int r1 = backfill_copy_table(conn, store, schema_q, t, index, &o, &cnt, err, sizeof err);
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
