/* bridge_deadletters — `versync deadletters list|retry|drop`: see, re-queue or discard dead letters. */
#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/common/scan.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DL_LIST_DEFAULT 100
#define DL_LIST_MAX 100000   /* list reads at most this many rows into memory */
#define DL_ERROR_COLUMN 160  /* the text listing shows this much of each error */

typedef enum dl_action { DL_LIST, DL_RETRY, DL_DROP } dl_action;

typedef struct dl_opts {
    dl_action action;
    char *table;           /* "schema.table", or NULL for every table (heap) */
    char older_than[32];   /* seconds, as a parameter; "" for none */
    char seq[32];          /* one seq; "" for none */
    long limit;            /* list only */
    bool all, json;
} dl_opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: versync [-c FILE] deadletters [list|retry|drop] [--table T] [--older-than D] [--seq N]\n"
            "                                     [--limit N] [--all] [--json]\n\n"
            "Dead letters are changes the store refused for good (a 4xx, a version out of range, an item\n"
            "answered 5xx more than store.max_item_retries times). They wait in <schema>.dead_letters.\n\n"
            "  list    (default) the matching dead letters, oldest change first, at most --limit (100)\n"
            "  retry   move them back into the change table under their own sequence numbers: the workers\n"
            "          re-read each row and write its current state with the ordinary version rules\n"
            "          (a delete overtaken by a later re-insert stays overtaken). A \"capture\": \"wal\"\n"
            "          table's go back through the replication stream instead (re-read, written with the\n"
            "          retry's commit position); one whose WAL record carried no key stays\n"
            "  drop    delete them for good; needs a filter or --all\n\n"
            "  --table T        only table T (schema.table; a bare name means public.T)\n"
            "  --older-than D   only those whose last failure is older than D (30s, 10m, 2h, 7d)\n"
            "  --seq N          only the dead letter of change N\n"
            "  --limit N        list at most N (1..%d; default %d); the total is printed too\n"
            "  --all            drop: every dead letter (no filter)\n"
            "  --json           one JSON object on stdout\n\n"
            "exit status: 0 ok; 2 usage or configuration error, or versync init has not run; 3 PostgreSQL\n"
            "unreachable\n",
            DL_LIST_MAX, DL_LIST_DEFAULT);
}

/* Parse the arguments after "deadletters" into o; false (message printed) on a usage error. */
static bool parse_args(int argc, char **argv, dl_opts *o, bool *help)
{
    int i = 1;
    o->limit = DL_LIST_DEFAULT;
    if (i < argc && argv[i][0] != '-') {
        if (strcmp(argv[i], "list") == 0)
            o->action = DL_LIST;
        else if (strcmp(argv[i], "retry") == 0)
            o->action = DL_RETRY;
        else if (strcmp(argv[i], "drop") == 0)
            o->action = DL_DROP;
        else {
            fprintf(stderr, "versync deadletters: unknown action \"%s\" (list, retry or drop)\n", argv[i]);
            return false;
        }
        i++;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            return true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--all") == 0) {
            o->all = true;
        } else if (strcmp(a, "--table") == 0 && has_value) {
            const char *t = argv[++i];
            if (!*t) {
                fprintf(stderr, "versync deadletters: --table: empty table name\n");
                return false;
            }
            free(o->table);
            /* As everywhere in versync: a name without a schema is in public. */
            size_t n = strlen(t) + 8;
            if (!(o->table = malloc(n)))
                return false;
            snprintf(o->table, n, "%s%s", strchr(t, '.') ? "" : "public.", t);
        } else if (strcmp(a, "--older-than") == 0 && has_value) {
            int64_t ms;
            const char *d = argv[++i];
            if (!scan_duration_ms(d, SCAN_FRACTION, &ms) || ms < 0) {
                fprintf(stderr, "versync deadletters: --older-than: \"%s\" is not a duration (30s, 10m, 2h, 7d)\n",
                        d);
                return false;
            }
            snprintf(o->older_than, sizeof o->older_than, "%.3f", (double)ms / 1000.0);
        } else if (strcmp(a, "--seq") == 0 && has_value) {
            int64_t seq;
            const char *s = argv[++i];
            if (!scan_int64(s, 1, INT64_MAX, &seq)) {
                fprintf(stderr, "versync deadletters: --seq: \"%s\" is not a change sequence number\n", s);
                return false;
            }
            snprintf(o->seq, sizeof o->seq, "%" PRId64, seq);
        } else if (strcmp(a, "--limit") == 0 && has_value) {
            int64_t n;
            const char *s = argv[++i];
            if (!scan_int64(s, 1, DL_LIST_MAX, &n)) {
                fprintf(stderr, "versync deadletters: --limit: \"%s\" is not a number in 1..%d\n", s, DL_LIST_MAX);
                return false;
            }
            o->limit = (long)n;
        } else {
            fprintf(stderr, "versync deadletters: unknown argument \"%s\" (see versync deadletters --help)\n", a);
            return false;
        }
    }
    if (o->action == DL_DROP && !o->all && !o->table && !o->older_than[0] && !o->seq[0]) {
        fprintf(stderr, "versync deadletters drop: name what to drop (--table, --older-than, --seq) or give --all\n");
        return false;
    }
    if (o->all && (o->table || o->older_than[0] || o->seq[0])) {
        fprintf(stderr, "versync deadletters: --all and a filter (--table, --older-than, --seq) exclude each other\n");
        return false;
    }
    return true;
}

static void put_text(buf *b, const char *s, size_t max)
{
    size_t n = strlen(s), cut = n;
    if (n > max) /* on a UTF-8 character boundary */
        for (cut = max; cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; cut--)
            ;
    for (size_t i = 0; i < cut; i++)
        buf_putc(b, s[i] == '\n' || s[i] == '\t' ? ' ' : s[i]);
    if (n > max)
        buf_puts(b, "…");
}

/* What the filters select, in words, for the messages. */
static void describe(buf *b, const dl_opts *o)
{
    if (o->table)
        buf_printf(b, " of %s", o->table);
    if (o->older_than[0])
        buf_printf(b, " that last failed more than %ss ago", o->older_than);
    if (o->seq[0])
        buf_printf(b, " of change %s", o->seq);
}

static bool list(PGconn *conn, const char *schema_q, const dl_opts *o, const char *const *params, buf *out,
                 char *err, size_t errsz)
{
    bool ok = false;
    char *sql_n = sql_render("deadletters_filter", schema_q), *sql_l = sql_render("deadletters_list", schema_q);
    PGresult *cr = NULL, *lr = NULL;
    char limit[32];
    snprintf(limit, sizeof limit, "%ld", o->limit);
    const char *lp[] = {params[0], params[1], params[2], limit};
    if (!sql_n || !sql_l) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (!(cr = pg_exec(conn, sql_n, 3, params, err, errsz)) || !(lr = pg_exec(conn, sql_l, 4, lp, err, errsz)))
        goto done;
    const char *total = PQgetvalue(cr, 0, 0);
    int rows = PQntuples(lr);
    if (o->json) {
        buf_printf(out, "{\"total\":%s,\"shown\":%d,\"dead_letters\":[", total, rows);
        for (int i = 0; i < rows; i++) {
            if (i)
                buf_putc(out, ',');
            buf_puts(out, PQgetvalue(lr, i, 9));
        }
        buf_puts(out, "]}\n");
    } else if (rows == 0) {
        buf_puts(out, "no dead letters");
        describe(out, o);
        buf_putc(out, '\n');
    } else {
        buf_printf(out, "%-10s %-28s %-20s %-2s %-12s %5s %6s %-20s %s\n", "SEQ", "TABLE", "KEY", "OP", "VERSION",
                   "TRIES", "STATUS", "LAST FAILED", "ERROR");
        for (int i = 0; i < rows; i++) {
            buf_printf(out, "%-10s %-28s ", PQgetvalue(lr, i, 0), PQgetvalue(lr, i, 1));
            buf tmp = BUF_INIT;
            put_text(&tmp, PQgetvalue(lr, i, 2), 20);
            buf_printf(out, "%-20s %-2s %-12s %5s %6s %-20s ", tmp.data ? tmp.data : "", PQgetvalue(lr, i, 3),
                       PQgetvalue(lr, i, 4), PQgetvalue(lr, i, 5), PQgetvalue(lr, i, 6), PQgetvalue(lr, i, 7));
            buf_free(&tmp);
            put_text(out, PQgetvalue(lr, i, 8), DL_ERROR_COLUMN);
            buf_putc(out, '\n');
        }
        buf_printf(out, "%s dead letters", total);
        describe(out, o);
        if (strtoll(total, NULL, 10) > rows)
            buf_printf(out, " (the first %d shown; --limit N for more, --json for whole errors)", rows);
        buf_puts(out, "; versync deadletters retry re-queues them, drop discards them\n");
    }
    ok = true;
done:
    PQclear(cr);
    PQclear(lr);
    free(sql_n);
    free(sql_l);
    return ok;
}

/* retry or drop: one statement (a data-modifying CTE) and, for retry, a NOTIFY per table so
 * running workers claim them at once; both in one transaction. Retry sends a "wal" table's
 * through the stream (deadletters_retry.sql) and leaves those without a key. */
static bool move(PGconn *conn, const cfg *c, const char *schema_q, const dl_opts *o, const char *const *params,
                 buf *out, char *err, size_t errsz)
{
    bool ok = false, in_tx = false;
    char *sql = sql_render(o->action == DL_RETRY ? "deadletters_retry" : "deadletters_drop", schema_q);
    char *sql_k = o->action == DL_RETRY ? sql_render("deadletters_keyless", schema_q) : NULL;
    PGresult *r = NULL, *kr = NULL;
    buf wal = BUF_INIT;
    const char **walt = calloc(c->ntables ? c->ntables : 1, sizeof *walt);
    size_t nwal = 0;
    long long kept = 0;
    if (!sql || !walt || (o->action == DL_RETRY && !sql_k)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].capture == CFG_CAPTURE_WAL)
            walt[nwal++] = c->tables[i].ident;
    if (!render_array_literal(&wal, walt, nwal)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *rp[] = {params[0], params[1], params[2], wal.data ? wal.data : "{}", c->schema};
    if (!pg_run(conn, "BEGIN", 0, NULL, err, errsz))
        goto done;
    in_tx = true;
    if (o->action == DL_RETRY) {
        if (!(kr = pg_exec(conn, sql_k, 4, rp, err, errsz)))
            goto done;
        kept = strtoll(PQgetvalue(kr, 0, 0), NULL, 10);
    }
    if (!(r = pg_exec(conn, sql, o->action == DL_RETRY ? 5 : 3, rp, err, errsz)))
        goto done;
    long long total = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        total += strtoll(PQgetvalue(r, i, 1), NULL, 10);
        const char *np[] = {c->channel, PQgetvalue(r, i, 0)};
        if (o->action == DL_RETRY && !pg_run(conn, sql_text("verify_notify"), 2, np, err, errsz))
            goto done;
    }
    if (!pg_run(conn, "COMMIT", 0, NULL, err, errsz))
        goto done;
    in_tx = false;
    const char *verb = o->action == DL_RETRY ? "retried" : "dropped";
    if (o->json) {
        buf_printf(out, "{\"%s\":%lld,\"tables\":{", verb, total);
        for (int i = 0; i < PQntuples(r); i++) {
            if (i)
                buf_putc(out, ',');
            buf_put_json_string(out, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
            buf_printf(out, ":%s", PQgetvalue(r, i, 1));
        }
        buf_puts(out, "}");
        if (kept)
            buf_printf(out, ",\"kept_without_key\":%lld", kept);
        buf_puts(out, "}\n");
    } else {
        buf_printf(out, "%s %lld dead letters", verb, total);
        describe(out, o);
        for (int i = 0; i < PQntuples(r); i++)
            buf_printf(out, "%s%s: %s", i ? ", " : " (", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        buf_puts(out, PQntuples(r) ? ")" : "");
        bool via_wal = false;
        for (int i = 0; i < PQntuples(r); i++)
            for (size_t k = 0; k < nwal; k++)
                via_wal |= strcmp(PQgetvalue(r, i, 0), walt[k]) == 0;
        if (o->action == DL_RETRY && total > 0)
            buf_puts(out, via_wal ? "; they are queued for the workers (a \"capture\": \"wal\" table's through the "
                                    "replication stream; versync run, or versync once)"
                                  : "; they are back in the change table for the workers (versync run, or versync once)");
        if (kept)
            buf_printf(out, "; %lld kept: no key (the WAL record did not carry it, so nothing names the document): "
                            "make the table's replica identity hold the key, run versync backfill, then drop them",
                       kept);
        buf_putc(out, '\n');
    }
    ok = true;
done:
    if (in_tx) {
        char ignore[64];
        pg_run(conn, "ROLLBACK", 0, NULL, ignore, sizeof ignore);
    }
    PQclear(r);
    PQclear(kr);
    free(sql);
    free(sql_k);
    free(walt);
    buf_free(&wal);
    return ok;
}

int cli_deadletters(const cli_globals *g, int argc, char **argv)
{
    dl_opts o = {0};
    bool help = false;
    if (!parse_args(argc, argv, &o, &help)) {
        free(o.table);
        return 2;
    }
    if (help) {
        usage(stdout);
        free(o.table);
        return 0;
    }
    cfg c;
    char err[1024];
    int rc = CLI_EXIT_CONFIG;
    PGconn *conn = NULL;
    PGresult *ready = NULL;
    char *schema_q = NULL;
    buf out = BUF_INIT;
    if (!cfg_load(cfg_default_path(g->config_path), &c, err, sizeof err)) {
        log_error("%s", err);
        free(o.table);
        return 2;
    }
    if (!(conn = pg_connect(c.postgres, "versync deadletters", err, sizeof err)) ||
        !(schema_q = pg_quote_ident(conn, c.schema, err, sizeof err)))
        goto fail;
    const char *sp[] = {c.schema};
    if (!(ready = pg_exec(conn, sql_text("status_ready"), 1, sp, err, sizeof err)))
        goto fail;
    if (strcmp(PQgetvalue(ready, 0, 0), "t") != 0) {
        snprintf(err, sizeof err, "versync's tables are not in schema %s of this database; run versync init",
                 schema_q);
        goto fail;
    }
    const char *params[] = {o.table, o.older_than[0] ? o.older_than : NULL, o.seq[0] ? o.seq : NULL};
    if (!(o.action == DL_LIST ? list(conn, schema_q, &o, params, &out, err, sizeof err)
                              : move(conn, &c, schema_q, &o, params, &out, err, sizeof err)))
        goto fail;
    if (!buf_ok(&out)) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    fputs(out.data ? out.data : "", stdout);
    rc = CLI_EXIT_OK;
    goto done;
fail:
    log_error("deadletters: %s", err);
    rc = cli_pg_exit(conn); /* 3: PostgreSQL unreachable; 2: not initialised or refused */
done:
    PQclear(ready);
    free(schema_q);
    buf_free(&out);
    PQfinish(conn);
    cfg_free(&c);
    free(o.table);
    return rc;
}
