/* drain_probe — the PostgreSQL-side limit of a drain, and the naive one-request-per-change baseline.
 *
 *   drain_probe -c CONFIG --mode claim|claim2 [--workers N] [--batch B] [--max M]
 *   drain_probe -c CONFIG --mode naive [--workers N] [--max M]
 *
 * Both modes drain versync's change table of the config's first table with the
 * worker's own SQL (sql/worker_claim.sql, rendered by sql_render, and the
 * re-read statement render_reread builds), one transaction per batch, in N
 * forked processes, until a claim comes back empty or M changes are done.
 *   claim: claim B rows + re-read them + COMMIT, no HTTP at all: how fast
 *          PostgreSQL alone can hand out the backlog (the upper bound of any
 *          worker that must claim, re-read and commit), with the worker's one
 *          statement (sql/worker_claim_reread.sql, render_reread_lateral);
 *   claim2: the same in two statements (the claim, then the re-read), as the
 *          worker does with VERSYNC_BENCH_TWO_STATEMENTS=1.
 *   naive: what a hand-written sync script does: one change per transaction
 *          and one PUT /{index}/_doc/{id}?version=V&version_type=external per
 *          change over a keep-alive connection (esclient).
 * Prints one JSON line {"mode","workers","changes","seconds","rate"}; exits 1
 * on any failure (a benchmark of failing requests is no benchmark).
 */
#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/bridge/catalog.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct probe_opts {
    const char *config;
    bool naive;
    bool joined; /* claim: claim and re-read in one statement */
    int workers;
    int batch;
    long max;
} probe_opts;

static double probe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool probe_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "drain_probe: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

/* Append `id` percent-encoded for a URL path segment. */
static bool probe_put_id(buf *out, const char *id)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        bool plain = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     *p == '-' || *p == '_' || *p == '.';
        if (plain ? !buf_putc(out, (char)*p)
                  : !(buf_putc(out, '%') && buf_putc(out, hex[*p >> 4]) && buf_putc(out, hex[*p & 15])))
            return false;
    }
    return true;
}

/* naive: one PUT per re-read row of `rr`, version = the change's seq (the
 * default version source) or the row's version column. */
static bool probe_put_rows(esc *es, const cfg_table *t, const char *seq, PGresult *rr, buf *path, buf *resp)
{
    const char *index = t->index ? t->index : t->name;
    for (int row = 0; row < PQntuples(rr); row++) {
        char **key;
        size_t kn;
        if (!render_parse_text_array(PQgetvalue(rr, row, RENDER_COL_KEY), &key, &kn)) {
            fprintf(stderr, "drain_probe: cannot parse key %s\n", PQgetvalue(rr, row, RENDER_COL_KEY));
            return false;
        }
        buf id = BUF_INIT;
        bool ok = bulk_doc_id(&id, (const char *const *)key, kn);
        render_free_array(key, kn);
        const char *version = PQgetisnull(rr, row, RENDER_COL_VERSION) ? seq : PQgetvalue(rr, row, RENDER_COL_VERSION);
        buf_reset(path);
        ok = ok && buf_puts(path, "/") && buf_puts(path, index) && buf_puts(path, "/_doc/") &&
             probe_put_id(path, id.data) && buf_puts(path, "?version=") && buf_puts(path, version) &&
             buf_puts(path, "&version_type=external");
        buf_free(&id);
        if (!ok) {
            fprintf(stderr, "drain_probe: out of memory\n");
            return false;
        }
        char err[512];
        buf_reset(resp);
        int st = esc_request(es, "PUT", path->data, NULL, PQgetvalue(rr, row, RENDER_COL_DOC),
                             (size_t)PQgetlength(rr, row, RENDER_COL_DOC), NULL, resp, err, sizeof err);
        if (st != 200 && st != 201 && st != 409) {
            fprintf(stderr, "drain_probe: PUT %s: %d %s %.200s\n", path->data, st, err, resp->data ? resp->data : "");
            return false;
        }
    }
    return true;
}

/* One forked worker: drain until an empty claim or `max` changes; adds to *done.
 * Returns the process exit status. */
static int probe_worker(const probe_opts *o, long max, atomic_long *done)
{
    cfg c;
    PGconn *pg = NULL;
    esc *es = NULL;
    char err[1024], *claim_sql = NULL, *reread_sql = NULL, *schema = NULL;
    buf arr = BUF_INIT, path = BUF_INIT, resp = BUF_INIT;
    int rc = 1;
    if (!catalog_open(o->config, "versync drain_probe", &c, &pg, err, sizeof err)) {
        fprintf(stderr, "drain_probe: %s\n", err);
        return 1;
    }
    const cfg_table *t = &c.tables[0];
    if (t->nkey != 1) {
        fprintf(stderr, "drain_probe: %s: only single-column keys are supported\n", t->ident);
        goto done;
    }
    if (!(schema = pg_quote_ident(pg, c.schema, err, sizeof err)) ||
        !(claim_sql = sql_render("worker_claim", schema)) || !(reread_sql = render_reread(pg, t, err, sizeof err))) {
        fprintf(stderr, "drain_probe: %s\n", err);
        goto done;
    }
    if (o->joined) {
        buf lat = BUF_INIT;
        bool lok = render_reread_lateral(pg, t, "cl", &lat, err, sizeof err);
        const char *vars[] = {"schema", schema, "reread", lat.data, NULL};
        free(claim_sql);
        claim_sql = lok ? sql_render_vars("worker_claim_reread", vars) : NULL;
        buf_free(&lat);
        if (!claim_sql) {
            fprintf(stderr, "drain_probe: %s\n", lok ? "out of memory" : err);
            goto done;
        }
    }
    PGresult *r = PQprepare(pg, "claim", claim_sql, 0, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQprepare(pg, "reread", reread_sql, 1, NULL);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        fprintf(stderr, "drain_probe: prepare: %s", PQerrorMessage(pg));
        goto done;
    }
    if (o->naive && !(es = esc_new(&c.store, err, sizeof err))) {
        fprintf(stderr, "drain_probe: %s\n", err);
        goto done;
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%d", o->naive ? 1 : o->batch);
    long mine = 0;
    while (max <= 0 || mine < max) {
        if (!probe_exec(pg, "BEGIN"))
            goto done;
        const char *cp[3] = {limit, "{}", "0"}; /* no parked tables, from the oldest */
        PGresult *cl = PQexecPrepared(pg, "claim", 3, cp, NULL, NULL, 0);
        if (PQresultStatus(cl) != PGRES_TUPLES_OK) {
            fprintf(stderr, "drain_probe: claim: %s", PQerrorMessage(pg));
            PQclear(cl);
            goto done;
        }
        int n = PQntuples(cl);
        if (n == 0) {
            PQclear(cl);
            rc = probe_exec(pg, "COMMIT") ? 0 : 1;
            goto done;
        }
        if (o->joined) { /* the claim re-read the rows already */
            PQclear(cl);
            if (!probe_exec(pg, "COMMIT"))
                goto done;
            mine += n;
            atomic_fetch_add(done, n);
            continue;
        }
        /* The key column's parts as one text-array literal, as the worker sends them. */
        const char **parts = calloc((size_t)n, sizeof *parts);
        char ***keys = calloc((size_t)n, sizeof *keys);
        size_t *nk = calloc((size_t)n, sizeof *nk);
        ok = parts && keys && nk;
        for (int i = 0; ok && i < n; i++) {
            ok = render_parse_text_array(PQgetvalue(cl, i, 2), &keys[i], &nk[i]) && nk[i] == 1;
            if (ok)
                parts[i] = keys[i][0];
        }
        buf_reset(&arr);
        ok = ok && render_array_literal(&arr, parts, (size_t)n);
        for (int i = 0; keys && i < n; i++)
            render_free_array(keys[i], nk[i]);
        free(parts);
        free(keys);
        free(nk);
        if (!ok) {
            fprintf(stderr, "drain_probe: cannot read the claimed keys\n");
            PQclear(cl);
            goto done;
        }
        const char *rp[1] = {arr.data};
        PGresult *rr = PQexecPrepared(pg, "reread", 1, rp, NULL, NULL, 0);
        ok = PQresultStatus(rr) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "drain_probe: re-read: %s", PQerrorMessage(pg));
        if (ok && o->naive)
            ok = probe_put_rows(es, t, PQgetvalue(cl, 0, 0), rr, &path, &resp);
        PQclear(rr);
        PQclear(cl);
        if (!ok || !probe_exec(pg, "COMMIT"))
            goto done;
        mine += n;
        atomic_fetch_add(done, n);
    }
    rc = 0;
done:
    esc_free(es);
    free(claim_sql);
    free(reread_sql);
    free(schema);
    buf_free(&arr);
    buf_free(&path);
    buf_free(&resp);
    PQfinish(pg);
    cfg_free(&c);
    return rc;
}

static void probe_usage(void)
{
    fprintf(stderr, "usage: drain_probe -c CONFIG --mode claim|claim2|naive [--workers N] [--batch B] [--max M]\n");
}

int main(int argc, char **argv)
{
    probe_opts o = {.workers = 1, .batch = 500};
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                          {"mode", required_argument, NULL, 'm'},
                                          {"workers", required_argument, NULL, 'w'},
                                          {"batch", required_argument, NULL, 'b'},
                                          {"max", required_argument, NULL, 'x'},
                                          {NULL, 0, NULL, 0}};
    const char *mode = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o.config = optarg; break;
        case 'm': mode = optarg; break;
        case 'w': o.workers = atoi(optarg); break;
        case 'b': o.batch = atoi(optarg); break;
        case 'x': o.max = atol(optarg); break;
        default: probe_usage(); return 2;
        }
    }
    if (!o.config || !mode || (strcmp(mode, "claim") && strcmp(mode, "claim2") && strcmp(mode, "naive")) || o.workers < 1 || o.batch < 1) {
        probe_usage();
        return 2;
    }
    o.naive = strcmp(mode, "naive") == 0;
    o.joined = strcmp(mode, "claim") == 0;
    atomic_long *done = mmap(NULL, sizeof *done, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (done == MAP_FAILED) {
        perror("drain_probe: mmap");
        return 1;
    }
    atomic_init(done, 0);
    fflush(NULL);
    double t0 = probe_now();
    for (int i = 0; i < o.workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("drain_probe: fork");
            return 1;
        }
        if (pid == 0)
            _exit(probe_worker(&o, o.max > 0 ? (o.max + o.workers - 1) / o.workers : 0, done));
    }
    int failed = 0, st;
    while (wait(&st) > 0)
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    double secs = probe_now() - t0;
    long n = atomic_load(done);
    printf("{\"mode\":\"%s\",\"workers\":%d,\"changes\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", mode, o.workers, n,
           secs, secs > 0 ? (double)n / secs : 0.0);
    return failed ? 1 : 0;
}
