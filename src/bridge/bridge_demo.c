/* bridge_demo — `versync demo race|compare`: options, the generated config, the real versync
 * processes the race starts, its phases (write, drain, compare) and the exit status. */
#include "versync/bridge/demo.h"

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/bridge/esclient.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/common/scan.h"
#include "versync/common/signals.h"
#include "versync/bridge/sql_embed.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


double demo_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !signals_stop)
        ;
}


static void target_free(demo_target *t)
{
    free(t->postgres);
    free(t->store.url);
    free(t->store.username);
    free(t->store.password);
    free(t->store.api_key);
    free(t->store.ca_file);
    memset(t, 0, sizeof *t);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- PostgreSQL helpers ---------------------------------------------------- */

PGconn *demo_connect(const char *conninfo, demo_err *e)
{
    char err[1024];
    PGconn *c = pg_connect(conninfo, "versync demo", err, sizeof err);
    if (!c) {
        demo_fail(e, "%s", err);
        return NULL;
    }
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

/* The demo's sync schema, quoted for sql_render. Heap string, caller frees with PQfreemem. */
static char *sync_schema_ident(PGconn *c)
{
    return PQescapeIdentifier(c, DEMO_SYNC_SCHEMA, strlen(DEMO_SYNC_SCHEMA));
}

/* Run a rendered, parameterless SQL file (may hold several statements). */
static bool pg_exec_file(PGconn *c, const char *name, demo_err *e)
{
    char *ident = sync_schema_ident(c);
    char *text = ident ? sql_render(name, ident) : NULL;
    bool ok = false;
    if (!text) {
        demo_fail(e, "cannot render sql/%s.sql", name);
        goto done;
    }
    PGresult *r = PQexec(c, text);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        demo_fail(e, "sql/%s.sql failed: %s", name, PQresultErrorMessage(r));
    PQclear(r);
done:
    free(text);
    PQfreemem(ident);
    return ok;
}

/* Run a rendered, parameterless SQL file that returns one integer. */
static bool pg_scalar(PGconn *c, const char *name, long long *out, demo_err *e)
{
    char *ident = sync_schema_ident(c);
    char *text = ident ? sql_render(name, ident) : NULL;
    bool ok = false;
    PGresult *r = NULL;
    if (!text) {
        demo_fail(e, "cannot render sql/%s.sql", name);
        goto done;
    }
    r = PQexec(c, text);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *out = atoll(PQgetvalue(r, 0, 0));
    else
        demo_fail(e, "sql/%s.sql failed: %s", name, PQresultErrorMessage(r));
done:
    PQclear(r);
    free(text);
    PQfreemem(ident);
    return ok;
}

/* ---- store helpers ----------------------------------------------------------- */

/* One store request; with `out`, the answer's body parsed as JSON. Returns
 * the HTTP status or ESC_TRANSPORT_ERROR (logged here);
 * the status is the caller's to judge. *out (NULL when the body is not JSON)
 * is the caller's, freed with cJSON_Delete. */
int demo_store_call(esc *es, const char *method, const char *path, const char *body, cJSON **out,
                    demo_err *e)
{
    buf resp;
    buf_init(&resp, 64u << 20);
    char err[256];
    int st = esc_request(es, method, path, NULL, body, body ? strlen(body) : 0, "versync-demo", &resp, err,
                         sizeof err);
    if (st == ESC_TRANSPORT_ERROR)
        demo_fail(e, "store %s %s: %s", method, path, err);
    else if (out)
        *out = cJSON_Parse(resp.data ? resp.data : "");
    buf_free(&resp);
    return st;
}

/* Drop the demo index (a previous run's) so each run starts empty. */
static bool store_reset_index(esc *es, demo_err *e)
{
    int st = demo_store_call(es, "DELETE", "/" DEMO_INDEX, NULL, NULL, e);
    if (st == ESC_TRANSPORT_ERROR)
        return false;
    if (st != 200 && st != 404) {
        demo_fail(e, "deleting index %s answered HTTP %d", DEMO_INDEX, st);
        return false;
    }
    return true;
}

/* Create the index unless `versync init` already did. */
static bool store_create_index(esc *es, demo_err *e)
{
    cJSON *body = NULL;
    int st = demo_store_call(es, "PUT", "/" DEMO_INDEX, "{}", &body, e);
    bool ok = st == 200 || st == 201;
    if (!ok && st == 400) {
        const cJSON *type =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "error"), "type");
        ok = cJSON_IsString(type) && strcmp(type->valuestring, "resource_already_exists_exception") == 0;
    }
    if (!ok && st != ESC_TRANSPORT_ERROR)
        demo_fail(e, "creating index %s answered HTTP %d", DEMO_INDEX, st);
    cJSON_Delete(body);
    return ok;
}

/* ---- child processes (the real versync commands) --------------------------- */

/* Start this same binary as `versync -c CONFIG ARGS…` with stdout and stderr
 * appended to `log_path`. The child dies with us (PR_SET_PDEATHSIG), so an
 * interrupted demo never leaves workers behind. Returns the pid or -1. */
static pid_t spawn_versync(const cli_globals *g, const char *config, const char *log_path, char *const *args,
                           demo_err *e)
{
    char *argv[32];
    int n = 0;
    argv[n++] = "versync";
    argv[n++] = "-c";
    argv[n++] = (char *)config;
    if (g->log_level) {
        argv[n++] = "--log-level";
        argv[n++] = (char *)g->log_level;
    }
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        demo_fail(e, "cannot open %s: %s", log_path, strerror(errno));
        return -1;
    }
    /* The path, not /proc/self/exe itself: under valgrind that names valgrind,
     * while readlink answers with the program being run. */
    char self[PATH_MAX];
    ssize_t n_self = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n_self <= 0) {
        demo_fail(e, "cannot find this program's path (/proc/self/exe): %s", strerror(errno));
        close(fd);
        return -1;
    }
    self[n_self] = '\0';
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        demo_fail(e, "fork: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv(self, argv);
        dprintf(STDERR_FILENO, "versync demo: cannot run %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(fd);
    return pid;
}

/* Wait for `pid` up to `secs`; returns its exit status (128+signal when
 * killed) or -1 when it is still running at the deadline. */
static int wait_child(pid_t pid, double secs)
{
    double deadline = demo_now_s() + secs;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -1;
        if (demo_now_s() >= deadline)
            return -1;
        nap_ms(20);
    }
}

/* SIGTERM (a clean shutdown), then SIGKILL if it does not go within 15 s. */
static int stop_child(pid_t pid)
{
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    int rc = wait_child(pid, 15);
    if (rc < 0) {
        log_warn("demo: pid %d ignored SIGTERM for 15 s; killing it", (int)pid);
        kill(pid, SIGKILL);
        rc = wait_child(pid, 5);
    }
    return rc;
}

/* Print the last lines of a log file to stderr (after a child failed). */
static void show_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *lines[20] = {0};
    size_t n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        free(lines[n % 20]);
        lines[n % 20] = strdup(line);
        n++;
    }
    fclose(f);
    fprintf(stderr, "---- last lines of %s ----\n", path);
    for (size_t i = n > 20 ? n - 20 : 0; i < n; i++)
        fputs(lines[i % 20] ? lines[i % 20] : "\n", stderr);
    for (size_t i = 0; i < 20; i++)
        free(lines[i]);
}

/* ---- the generated config ---------------------------------------------------- */

/* The config the demo's own `versync init` and workers use: the user's
 * PostgreSQL and store, the demo table with a managed version column, and the
 * demo's own sync schema. Secrets go through the environment (${NAME}, which
 * this sets for the child processes), so the text holds none. Returns a heap string the caller frees
 * with cJSON_free, or NULL when out of memory. */
static char *demo_config_text(const demo_target *t, const demo_opts *o)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *store = cJSON_AddObjectToObject(root, "store");
    cJSON *tables = cJSON_AddArrayToObject(root, "tables");
    cJSON *tbl = cJSON_CreateObject();
    cJSON_AddItemToArray(tables, tbl);
    cJSON *ver = cJSON_AddObjectToObject(tbl, "version");
    const char *key[] = {"id"};
    cJSON_AddItemToObject(tbl, "key", cJSON_CreateStringArray(key, 1));
    if (!root || !store || !tables || !tbl || !ver)
        goto done;
    /* A conninfo without a password is written as is, so the generated file
     * also works on its own (e.g. for `versync -c demo.json status`). */
    const char *pg = t->postgres ? t->postgres : "";
    char safe[1024];
    if (strlen(pg) < sizeof safe - 1 && strcmp(log_redact(pg, safe, sizeof safe), pg) == 0) {
        cJSON_AddStringToObject(root, "postgres", pg);
    } else {
        cJSON_AddStringToObject(root, "postgres", "${VERSYNC_DEMO_POSTGRES}");
        setenv("VERSYNC_DEMO_POSTGRES", pg, 1);
    }
    cJSON_AddStringToObject(store, "url", t->store.url ? t->store.url : "http://127.0.0.1:9200");
    if (t->store.username)
        cJSON_AddStringToObject(store, "username", t->store.username);
    if (t->store.password) {
        cJSON_AddStringToObject(store, "password", "${VERSYNC_DEMO_STORE_PASSWORD}");
        setenv("VERSYNC_DEMO_STORE_PASSWORD", t->store.password, 1);
    }
    if (t->store.api_key) {
        cJSON_AddStringToObject(store, "api_key", "${VERSYNC_DEMO_STORE_API_KEY}");
        setenv("VERSYNC_DEMO_STORE_API_KEY", t->store.api_key, 1);
    }
    if (t->store.ca_file)
        cJSON_AddStringToObject(store, "ca_file", t->store.ca_file);
    if (t->store.insecure)
        cJSON_AddBoolToObject(store, "insecure", true);
    if (t->store.timeout_ms > 0)
        cJSON_AddNumberToObject(store, "timeout_ms", (double)t->store.timeout_ms);
    cJSON_AddStringToObject(root, "schema", DEMO_SYNC_SCHEMA);
    cJSON_AddStringToObject(root, "channel", DEMO_CHANNEL);
    cJSON_AddNumberToObject(root, "workers", o->workers);
    cJSON_AddNumberToObject(root, "batch_size", o->batch_size);
    cJSON_AddStringToObject(tbl, "table", DEMO_TABLE);
    cJSON_AddStringToObject(tbl, "index", DEMO_INDEX);
    cJSON_AddStringToObject(ver, "column", "version");
    cJSON_AddBoolToObject(ver, "managed", true);
    if (o->nested) {
        /* Nested documents take the worker's drawn version: no "version" key. */
        cJSON_DeleteItemFromObjectCaseSensitive(tbl, "version");
        cJSON *children = demo_nested_children();
        if (!children || !cJSON_AddItemToObject(tbl, "children", children)) {
            cJSON_Delete(children);
            goto done;
        }
    }
    text = cJSON_Print(root);
done:
    cJSON_Delete(root);
    return text;
}

/* Generate the demo config, write it to `path` (mode 0600) when given, and
 * parse it into `out` (the caller frees it with cfg_free). */
static bool demo_config(const char *path, const demo_target *t, const demo_opts *o, cfg *out, demo_err *e)
{
    bool ok = false;
    char err[512];
    char *text = demo_config_text(t, o);
    if (!text) {
        demo_fail(e, "out of memory");
        return false;
    }
    if (!cfg_parse(path ? path : "(demo config)", text, out, err, sizeof err)) {
        demo_fail(e, "the generated config does not load: %s", err);
        goto done;
    }
    if (!path) {
        ok = true;
        goto done;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        demo_fail(e, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    ok = fprintf(f, "%s\n", text) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        demo_fail(e, "cannot write %s: %s", path, strerror(errno));
done:
    if (!ok)
        cfg_free(out);
    cJSON_free(text);
    return ok;
}

/* ---- progress ----------------------------------------------------------------- */

typedef struct demo_sample {
    long long backlog, applied, stale, coalesced, dead_letters, retries;
} demo_sample;

static bool sample_progress(PGconn *c, const char *query, demo_sample *s, demo_err *e)
{
    PGresult *r = PQexec(c, query);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= 6;
    if (ok) {
        s->backlog = atoll(PQgetvalue(r, 0, 0));
        s->applied = atoll(PQgetvalue(r, 0, 1));
        s->stale = atoll(PQgetvalue(r, 0, 2));
        s->coalesced = atoll(PQgetvalue(r, 0, 3));
        s->dead_letters = atoll(PQgetvalue(r, 0, 4));
        s->retries = atoll(PQgetvalue(r, 0, 5));
    } else {
        demo_fail(e, "reading progress failed: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    return ok;
}

typedef struct progress {
    bool tty, quiet;
    double start, last_print;
} progress;

static void progress_show(progress *p, const char *phase, long long written, const demo_sample *s, bool final)
{
    if (p->quiet)
        return;
    double t = demo_now_s();
    if (!final && t - p->last_print < (p->tty ? 0.2 : 2.0))
        return;
    p->last_print = t;
    buf b = BUF_INIT;
    buf_printf(&b, "%-9s written ", phase);
    demo_put_count(&b, written);
    buf_puts(&b, "  applied ");
    demo_put_count(&b, s->applied);
    buf_puts(&b, "  stale ");
    demo_put_count(&b, s->stale);
    buf_puts(&b, "  backlog ");
    demo_put_count(&b, s->backlog);
    buf_printf(&b, "  %.1f s", t - p->start);
    if (p->tty)
        fprintf(stderr, "\r%-78s%s", b.data ? b.data : "", final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", b.data ? b.data : "");
    fflush(stderr);
    buf_free(&b);
}

/* ---- option parsing ---------------------------------------------------------------- */

static void demo_usage(FILE *out)
{
    fprintf(out, "usage: versync demo race [--postgres CONNINFO] [--store URL] [--rows R] [--writers W]\n"
                 "                         [--workers N] [--seconds S | --changes C] [--max-delay-ms M]\n"
                 "                         [--batch-size B] [--no-versions] [--nested] [--seed N] [--json]\n"
                 "                         [--quiet] [--work-dir DIR]\n"
                 "       versync demo compare [--postgres CONNINFO] [--store URL] [--rows R] [--no-versions]\n"
                 "                            [--nested] [--json]\n\n"
                 "race: W writers update, delete and re-insert R rows of versync_demo.accounts while N\n"
                 "workers in chaos mode (each claimed batch held a random 0..M ms, items sent shuffled)\n"
                 "sync them to the store; when the change table is drained every row is compared with\n"
                 "its document. Exit 0 only if the store equals PostgreSQL.\n"
                 "compare: only the comparison, on what a previous race left.\n\n"
                 "  --postgres CONNINFO   PostgreSQL to use (default: the config's)\n"
                 "  --store URL           store to use (default: the config's)\n"
                 "  --rows R              rows in the demo table (default 100: few rows, hot races)\n"
                 "  --writers W           writer connections (default 4)\n"
                 "  --workers N           chaos workers (default 8)\n"
                 "  --seconds S           write for S seconds (default 10)\n"
                 "  --changes C           write C changes in total instead\n"
                 "  --max-delay-ms M      longest hold of a claimed batch (default 50)\n"
                 "  --batch-size B        changes a worker claims at once (default 20)\n"
                 "  --no-versions         write without external versions (last arrival wins)\n"
                 "  --nested              accounts as nested documents: writers also change their\n"
                 "                        branch, transactions (moved between accounts), merchants\n"
                 "                        and tags, renaming rows many documents share\n"
                 "  --seed N              seed of the writers' random choices (default: from the clock)\n"
                 "  --json                print the final table as one JSON object\n"
                 "  --quiet               no progress line\n"
                 "  --work-dir DIR        keep the generated config and the worker logs in DIR\n"
                 "                        (default: a temporary folder, removed unless the race fails)\n"
                 "  -h, --help            this text\n\n"
                 "exit status: 0 the store equals PostgreSQL; 1 it differs; 2 usage or configuration\n"
                 "error; 3 PostgreSQL or the store unreachable\n");
}

static bool parse_num(const char *opt, const char *text, double lo, double hi, double *out)
{
    double v;
    if (!scan_double(text, &v) || v < lo || v > hi) {
        fprintf(stderr, "versync demo: %s: expected a number from %g to %g, not \"%s\"\n", opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

/* Returns 0 to go on, or an exit status (2 usage, 0 after --help). */
static int parse_opts(int argc, char **argv, demo_opts *o)
{
    enum {
        O_PG = 256,
        O_STORE,
        O_ROWS,
        O_WRITERS,
        O_WORKERS,
        O_SECONDS,
        O_CHANGES,
        O_DELAY,
        O_BATCH,
        O_NOVER,
        O_SEED,
        O_JSON,
        O_QUIET,
        O_WORKDIR,
        O_NESTED,
        O_HELP
    };
    static const struct option longs[] = {
        {"postgres", required_argument, NULL, O_PG},
        {"store", required_argument, NULL, O_STORE},
        {"rows", required_argument, NULL, O_ROWS},
        {"writers", required_argument, NULL, O_WRITERS},
        {"workers", required_argument, NULL, O_WORKERS},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"changes", required_argument, NULL, O_CHANGES},
        {"max-delay-ms", required_argument, NULL, O_DELAY},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"no-versions", no_argument, NULL, O_NOVER},
        {"seed", required_argument, NULL, O_SEED},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, O_QUIET},
        {"work-dir", required_argument, NULL, O_WORKDIR},
        {"nested", no_argument, NULL, O_NESTED},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (demo_opts){.rows = 100, .writers = 4, .workers = 8, .max_delay_ms = 50, .batch_size = 20};
    bool seeded = false;
    double v;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case O_PG:
            o->postgres = optarg;
            break;
        case O_NESTED:
            o->nested = true;
            break;
        case O_STORE:
            o->store_url = optarg;
            break;
        case O_ROWS:
            if (!parse_num("--rows", optarg, 1, 1000000, &v))
                return 2;
            o->rows = (int)v;
            break;
        case O_WRITERS:
            if (!parse_num("--writers", optarg, 1, 64, &v))
                return 2;
            o->writers = (int)v;
            break;
        case O_WORKERS:
            if (!parse_num("--workers", optarg, 1, 256, &v))
                return 2;
            o->workers = (int)v;
            break;
        case O_SECONDS:
            if (!parse_num("--seconds", optarg, 0.1, 86400, &o->seconds))
                return 2;
            break;
        case O_CHANGES:
            if (!parse_num("--changes", optarg, 1, 1e12, &v))
                return 2;
            o->changes = (long long)v;
            break;
        case O_DELAY:
            if (!parse_num("--max-delay-ms", optarg, 0, 60000, &v))
                return 2;
            o->max_delay_ms = (int)v;
            break;
        case O_BATCH:
            if (!parse_num("--batch-size", optarg, 1, 100000, &v))
                return 2;
            o->batch_size = (int)v;
            break;
        case O_NOVER:
            o->no_versions = true;
            break;
        case O_SEED:
            if (!parse_num("--seed", optarg, 0, 1e15, &v))
                return 2;
            o->seed = (unsigned long long)v;
            seeded = true;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_QUIET:
            o->quiet = true;
            break;
        case O_WORKDIR:
            o->work_dir = optarg;
            break;
        case 'h':
        case O_HELP:
            demo_usage(stdout);
            return -1;
        default:
            fprintf(stderr, "versync demo: unknown or incomplete option \"%s\"\n\n", argv[optind - 1]);
            demo_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "versync demo: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (o->seconds == 0 && o->changes == 0)
        o->seconds = 10;
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed =
            ((unsigned long long)ts.tv_sec * 1000003ULL ^ (unsigned long long)ts.tv_nsec) % 1000000000ULL;
    }
    return 0;
}

/* The PostgreSQL and store to use: the flags, else the config file. */
static bool resolve_target(const cli_globals *g, const demo_opts *o, demo_target *t)
{
    memset(t, 0, sizeof *t);
    if (o->postgres && o->store_url) {
        t->postgres = strdup(o->postgres);
        t->store.url = strdup(o->store_url);
        return t->postgres && t->store.url;
    }
    cfg c;
    char err[512];
    const char *path = cfg_default_path(g->config_path);
    if (!cfg_load(path, &c, err, sizeof err)) {
        fprintf(stderr, "versync demo: %s\n(give --postgres and --store to run without a config file)\n",
                err);
        return false;
    }
    t->postgres = strdup(o->postgres ? o->postgres : c.postgres ? c.postgres : "");
    t->store.url = dup_or_null(o->store_url ? o->store_url : c.store.url);
    if (!o->store_url) {
        t->store.username = dup_or_null(c.store.username);
        t->store.password = dup_or_null(c.store.password);
        t->store.api_key = dup_or_null(c.store.api_key);
        t->store.ca_file = dup_or_null(c.store.ca_file);
        t->store.insecure = c.store.insecure;
        t->store.timeout_ms = c.store.timeout_ms;
    }
    cfg_free(&c);
    return t->postgres != NULL;
}

/* ---- the race ------------------------------------------------------------------------ */

typedef struct race {
    const cli_globals *g;
    demo_opts *o;
    demo_target t;
    char dir[PATH_MAX];
    char config[PATH_MAX + 32];
    char init_log[PATH_MAX + 32];
    char workers_log[PATH_MAX + 32];
    bool temp_dir;
    PGconn *pg;
    esc *es;
    cfg cfg; /* the generated demo config, parsed */
    bool have_cfg;
    char *progress_sql;
    pid_t workers;
    demo_err err; /* the first failure, logged once by cmd_race */
} race;

static bool race_prepare_dir(race *r)
{
    demo_err *e = &r->err;
    if (r->o->work_dir) {
        snprintf(r->dir, sizeof r->dir, "%s", r->o->work_dir);
        if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {
            demo_fail(e, "cannot create %s: %s", r->dir, strerror(errno));
            return false;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(r->dir, sizeof r->dir, "%s/versync-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(r->dir)) {
            demo_fail(e, "cannot create a temporary folder %s: %s", r->dir, strerror(errno));
            return false;
        }
        r->temp_dir = true;
    }
    snprintf(r->config, sizeof r->config, "%s/demo.json", r->dir);
    snprintf(r->init_log, sizeof r->init_log, "%s/init.log", r->dir);
    snprintf(r->workers_log, sizeof r->workers_log, "%s/workers.log", r->dir);
    unlink(r->init_log);
    unlink(r->workers_log);
    return true;
}

static void race_remove_dir(race *r)
{
    unlink(r->config);
    unlink(r->init_log);
    unlink(r->workers_log);
    rmdir(r->dir);
}

/* Fresh table, fresh versync schema (via `versync init`), fresh index. */
static bool race_setup(race *r)
{
    demo_err *e = &r->err;
    if (!pg_exec_file(r->pg, r->o->nested ? "demo_nested_setup" : "demo_setup", e) || !store_reset_index(r->es, e))
        return false;
    if (!demo_config(r->config, &r->t, r->o, &r->cfg, e))
        return false;
    r->have_cfg = true;
    char *init_args[] = {"init", NULL};
    pid_t pid = spawn_versync(r->g, r->config, r->init_log, init_args, e);
    int rc = pid > 0 ? wait_child(pid, 120) : -1;
    if (rc != 0) {
        if (rc < 0 && pid > 0)
            stop_child(pid);
        fprintf(stderr, "versync demo: `versync -c %s init` failed (status %d)\n", r->config, rc);
        show_log_tail(r->init_log);
        return false;
    }
    return store_create_index(r->es, e);
}

static bool race_start_workers(race *r)
{
    char workers[16], delay[16];
    snprintf(workers, sizeof workers, "%d", r->o->workers);
    snprintf(delay, sizeof delay, "%d", r->o->max_delay_ms);
    char *args[] = {"run",   "--workers",
                    workers, "--chaos-max-delay-ms",
                    delay,   r->o->no_versions ? "--no-versions" : NULL,
                    NULL};
    r->workers = spawn_versync(r->g, r->config, r->workers_log, args, &r->err);
    return r->workers > 0;
}

/* True while the worker supervisor runs; reports once if it stopped. */
static bool workers_alive(race *r)
{
    int status;
    pid_t w = waitpid(r->workers, &status, WNOHANG);
    if (w == 0)
        return true;
    fprintf(stderr, "\nversync demo: the workers (`versync run`) stopped unexpectedly (status %d)\n",
            w == r->workers && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    show_log_tail(r->workers_log);
    r->workers = 0;
    return false;
}

static int race_run(race *r, demo_result *res)
{
    demo_err *e = &r->err;
    const demo_opts *o = r->o;
    int rc = 1;
    pthread_t *threads = calloc((size_t)o->writers, sizeof *threads);
    writer_arg *args = calloc((size_t)o->writers, sizeof *args);
    writer_shared sh = {.conninfo = r->t.postgres, .o = o, .err = e};
    int started = 0;
    progress pr = {.tty = isatty(STDERR_FILENO) != 0, .quiet = o->quiet};
    demo_sample s = {0};
    if (!threads || !args)
        goto done;
    if (!race_setup(r))
        goto done;
    if (!o->quiet)
        fprintf(stderr, "versync demo: created table %s and index %s; ran `versync -c %s init`\n", DEMO_TABLE,
                DEMO_INDEX, r->config);
    if (!race_start_workers(r))
        goto done;
    if (!o->quiet) {
        char budget[64];
        if (o->changes > 0)
            snprintf(budget, sizeof budget, "%lld changes", o->changes);
        else
            snprintf(budget, sizeof budget, "%g s", o->seconds);
        fprintf(stderr,
                "versync demo: started `versync run --workers %d --chaos-max-delay-ms %d%s`; %d rows, %d "
                "writers for %s\n",
                o->workers, o->max_delay_ms, o->no_versions ? " --no-versions" : "", o->rows, o->writers,
                budget);
    }

    double t0 = demo_now_s();
    pr.start = t0;
    {
        char n[16];
        snprintf(n, sizeof n, "%d", o->rows);
        const char *p[] = {n};
        PGresult *q = PQexecParams(r->pg, sql_text("demo_seed"), 1, NULL, p, NULL, NULL, 0);
        bool ok = PQresultStatus(q) == PGRES_COMMAND_OK;
        if (!ok)
            demo_fail(e, "seeding the demo table failed: %s", PQresultErrorMessage(q));
        else
            res->seeded = atoll(PQcmdTuples(q));
        PQclear(q);
        if (!ok)
            goto done;
    }
    sh.deadline = o->seconds > 0 ? t0 + o->seconds : 0;
    atomic_store(&sh.running, o->writers);
    for (; started < o->writers; started++) {
        args[started] = (writer_arg){&sh, started};
        if (pthread_create(&threads[started], NULL, demo_writer_main, &args[started]) != 0) {
            demo_fail(e, "cannot start writer thread %d", started);
            atomic_store(&sh.failed, 1);
            atomic_fetch_sub(&sh.running, o->writers - started);
            break;
        }
    }
    /* Writing: sample the workers' counters while the writers run. */
    while (atomic_load(&sh.running) > 0 && !signals_stop) {
        if (!workers_alive(r) || !sample_progress(r->pg, r->progress_sql, &s, e)) {
            atomic_store(&sh.failed, 1);
            break;
        }
        long long w =
            res->seeded + atomic_load(&sh.updates) + atomic_load(&sh.deletes) + atomic_load(&sh.inserts);
        progress_show(&pr, "writing", w, &s, false);
        nap_ms(100);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    res->updates = atomic_load(&sh.updates);
    res->deletes = atomic_load(&sh.deletes);
    res->inserts = atomic_load(&sh.inserts);
    res->written = res->seeded + res->updates + res->deletes + res->inserts;
    if (atomic_load(&sh.failed) || signals_stop)
        goto done;

    /* Draining: wait until the workers have answered for every change. A
     * backlog that does not move for 60 s means the workers are stuck. */
    double last_move = demo_now_s();
    demo_sample prev = s;
    for (;;) {
        if (signals_stop || !workers_alive(r) || !sample_progress(r->pg, r->progress_sql, &s, e))
            goto done;
        if (s.backlog == 0)
            break;
        if (s.backlog != prev.backlog || s.applied != prev.applied || s.stale != prev.stale)
            last_move = demo_now_s();
        else if (demo_now_s() - last_move > 60) {
            fprintf(stderr, "\nversync demo: the backlog stayed at %lld for 60 s; giving up (see %s)\n",
                    s.backlog, r->workers_log);
            goto done;
        }
        prev = s;
        progress_show(&pr, "draining", res->written, &s, false);
        nap_ms(50);
    }
    res->wall_s = demo_now_s() - t0;
    res->drained = true;
    progress_show(&pr, "drained", res->written, &s, true);
    /* The counters of that last sample are final: each batch added its counts
     * in the transaction that removed its change rows, and the sample read
     * "no change row left" and the counters in one snapshot. */
    int wrc = stop_child(r->workers);
    r->workers = 0;
    if (wrc != 0)
        log_warn("demo: the workers exited with status %d after SIGTERM (see %s)", wrc, r->workers_log);
    res->applied = s.applied;
    res->stale = s.stale;
    res->coalesced = s.coalesced;
    res->dead_letters = s.dead_letters;
    res->retries = s.retries;
    res->skipped = res->written - (res->applied + res->stale + res->dead_letters) - res->coalesced;
    if (!pg_scalar(r->pg, "demo_captured", &res->captured, e))
        goto done;
    if (!demo_compare_all(r->pg, r->es, &r->cfg.tables[0], o->rows, !o->no_versions && !o->nested, res,
                     o->json ? stderr : stdout, 5, e))
        goto done;
    res->compared = true;
    rc = res->mismatches == 0 ? 0 : 1;
done:
    if (started > 0 && atomic_load(&sh.running) > 0) {
        atomic_store(&sh.failed, 1);
        for (int i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    }
    free(threads);
    free(args);
    return rc;
}

static int cmd_race(const cli_globals *g, demo_opts *o)
{
    race r = {.g = g, .o = o};
    demo_result res = {0};
    int rc = 1;
    char err[256];
    if (!resolve_target(g, o, &r.t))
        return 2;
    /* SIGINT/SIGTERM: wind down and exit; a second one: at once. */
    (void)signals_init(SIGNALS_SECOND_EXITS, NULL, NULL, 0);
    if (!race_prepare_dir(&r))
        goto done;
    if (!(r.pg = demo_connect(r.t.postgres, &r.err))) {
        rc = CLI_EXIT_UNREACHABLE;
        goto done;
    }
    if (!(r.es = esc_new(&r.t.store, err, sizeof err))) {
        demo_fail(&r.err, "%s", err);
        goto done;
    }
    char *ident = sync_schema_ident(r.pg);
    r.progress_sql = ident ? sql_render("demo_progress", ident) : NULL;
    PQfreemem(ident);
    if (!r.progress_sql) {
        demo_fail(&r.err, "cannot render sql/demo_progress.sql");
        goto done;
    }
    rc = race_run(&r, &res);
    if (res.compared) {
        if (o->json)
            demo_print_json(stdout, o, &res);
        else
            demo_print_table(stdout, o, &res);
    }
done:
    if (r.err.msg[0])
        log_error("demo: %s", r.err.msg);
    if (r.workers > 0)
        stop_child(r.workers);
    if (signals_stop)
        rc = 130;
    /* A temporary folder is kept only when it holds logs worth reading. */
    if (r.temp_dir && (rc == 0 || (access(r.init_log, F_OK) != 0 && access(r.workers_log, F_OK) != 0)))
        race_remove_dir(&r);
    else if (r.dir[0] && !o->quiet)
        fprintf(stderr, "versync demo: generated config and worker logs are in %s\n", r.dir);
    free(r.progress_sql);
    if (r.have_cfg)
        cfg_free(&r.cfg);
    esc_free(r.es);
    PQfinish(r.pg);
    target_free(&r.t);
    return rc;
}

/* Only the comparison, on whatever a previous race left. */
static int cmd_compare(const cli_globals *g, demo_opts *o)
{
    demo_target t;
    demo_result res = {0};
    int rc = 1;
    char err[256];
    PGconn *pg = NULL;
    esc *es = NULL;
    cfg c;
    bool have_cfg = false;
    demo_err e = {0};
    if (!resolve_target(g, o, &t))
        return 2;
    if (!(have_cfg = demo_config(NULL, &t, o, &c, &e)))
        goto done;
    if (!(pg = demo_connect(t.postgres, &e))) {
        rc = CLI_EXIT_UNREACHABLE;
        goto done;
    }
    if (!(es = esc_new(&t.store, err, sizeof err))) {
        demo_fail(&e, "%s", err);
        goto done;
    }
    if (!demo_compare_all(pg, es, &c.tables[0], o->rows, !o->no_versions, &res, o->json ? stderr : stdout, 5,
                          &e))
        goto done;
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "rows_compared", (double)res.rows_compared);
        cJSON_AddNumberToObject(j, "documents_compared", (double)res.docs_compared);
        cJSON_AddNumberToObject(j, "mismatches", (double)res.mismatches);
        cJSON_AddNumberToObject(j, "stale_documents", (double)res.n_stale);
        cJSON_AddNumberToObject(j, "wrong_versions", (double)res.n_version);
        cJSON_AddNumberToObject(j, "missing_documents", (double)res.n_missing);
        cJSON_AddNumberToObject(j, "deleted_rows_kept", (double)res.n_extra);
        char *text = cJSON_PrintUnformatted(j);
        if (text)
            printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else {
        printf("rows compared %lld, documents compared %lld, mismatches %lld (stale content %lld, wrong "
               "_version "
               "%lld, missing %lld, deleted rows kept %lld)\n",
               res.rows_compared, res.docs_compared, res.mismatches, res.n_stale, res.n_version,
               res.n_missing, res.n_extra);
    }
    rc = res.mismatches == 0 ? 0 : 1;
done:
    if (e.msg[0])
        log_error("demo: %s", e.msg);
    if (have_cfg)
        cfg_free(&c);
    esc_free(es);
    PQfinish(pg);
    target_free(&t);
    return rc;
}

int cli_demo(const cli_globals *g, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        demo_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    demo_opts o;
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (strcmp(argv[1], "race") == 0)
        return cmd_race(g, &o);
    if (strcmp(argv[1], "compare") == 0)
        return cmd_compare(g, &o);
    fprintf(stderr, "versync demo: unknown demo \"%s\" (race, compare)\n", argv[1]);
    return 2;
}
