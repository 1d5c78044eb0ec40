/* bridge_demo — `versync demo race`: racing writers and chaos workers, then a full store-vs-PostgreSQL
 * comparison. */
#include "versync/demo.h"

#include "versync/buf.h"
#include "versync/cfg.h"
#include "versync/cli.h"
#include "versync/esclient.h"
#include "versync/log.h"
#include "versync/pg.h"
#include "versync/render.h"
#include "versync/scan.h"
#include "versync/signals.h"
#include "versync/sql_embed.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

/* ---- options and state ---------------------------------------------------- */

typedef struct demo_opts {
    const char *postgres;  /* --postgres: overrides the config's */
    const char *store_url; /* --store: overrides the config's */
    int rows, writers, workers, max_delay_ms, batch_size;
    double seconds;    /* 0: not a time budget */
    long long changes; /* 0: not a change budget */
    bool no_versions, json, quiet;
    bool nested; /* --nested: accounts as nested documents (bridge_demo_nested.c) */
    unsigned long long seed;
    const char *work_dir; /* NULL: a temporary one */
} demo_opts;

/* Where to connect: copied out of the config (or the flags) so that the
 * config can be freed early. Strings owned; freed by target_free. */
typedef struct demo_target {
    char *postgres;
    cfg_store store;
} demo_target;

/* What the final table reports. */
typedef struct demo_result {
    long long seeded, updates, deletes, inserts, written;
    long long captured; /* change rows the triggers wrote: must equal written */
    long long skipped;  /* changes whose row was gone at re-read (written - sent - coalesced) */
    long long applied, stale, coalesced, dead_letters, retries;
    long long rows_compared, docs_compared;
    long long n_stale, n_version, n_missing, n_extra, mismatches;
    double wall_s;
    bool drained;  /* the change table emptied */
    bool compared; /* the comparison ran to the end */
} demo_result;

/* Shared between the writer threads and the main thread. */
typedef struct writer_shared {
    const char *conninfo;
    const demo_opts *o;
    double deadline;       /* monotonic seconds; 0 = none */
    atomic_llong reserved; /* changes claimed against --changes */
    atomic_llong updates, deletes, inserts;
    atomic_int running;
    atomic_int failed;
} writer_shared;

typedef struct writer_arg {
    writer_shared *sh;
    int index;
} writer_arg;

static double now_s(void)
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

/* xorshift64*: cheap, per thread, reproducible from --seed. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
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

static PGconn *demo_connect(const char *conninfo)
{
    char err[1024];
    PGconn *c = pg_connect(conninfo, "versync demo", err, sizeof err);
    if (!c) {
        log_error("demo: %s", err);
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
static bool pg_exec_file(PGconn *c, const char *name)
{
    char *ident = sync_schema_ident(c);
    char *text = ident ? sql_render(name, ident) : NULL;
    bool ok = false;
    if (!text) {
        log_error("demo: cannot render sql/%s.sql", name);
        goto done;
    }
    PGresult *r = PQexec(c, text);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        log_error("demo: sql/%s.sql failed: %s", name, PQresultErrorMessage(r));
    PQclear(r);
done:
    free(text);
    PQfreemem(ident);
    return ok;
}

/* Run a rendered, parameterless SQL file that returns one integer. */
static bool pg_scalar(PGconn *c, const char *name, long long *out)
{
    char *ident = sync_schema_ident(c);
    char *text = ident ? sql_render(name, ident) : NULL;
    bool ok = false;
    PGresult *r = NULL;
    if (!text) {
        log_error("demo: cannot render sql/%s.sql", name);
        goto done;
    }
    r = PQexec(c, text);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *out = atoll(PQgetvalue(r, 0, 0));
    else
        log_error("demo: sql/%s.sql failed: %s", name, PQresultErrorMessage(r));
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
static int store_call(esc *es, const char *method, const char *path, const char *body, cJSON **out)
{
    buf resp;
    buf_init(&resp, 64u << 20);
    char err[256];
    int st = esc_request(es, method, path, NULL, body, body ? strlen(body) : 0, "versync-demo", &resp, err,
                         sizeof err);
    if (st == ESC_TRANSPORT_ERROR)
        log_error("demo: store %s %s: %s", method, path, err);
    else if (out)
        *out = cJSON_Parse(resp.data ? resp.data : "");
    buf_free(&resp);
    return st;
}

/* Drop the demo index (a previous run's) so each run starts empty. */
static bool store_reset_index(esc *es)
{
    int st = store_call(es, "DELETE", "/" DEMO_INDEX, NULL, NULL);
    if (st == ESC_TRANSPORT_ERROR)
        return false;
    if (st != 200 && st != 404) {
        log_error("demo: deleting index %s answered HTTP %d", DEMO_INDEX, st);
        return false;
    }
    return true;
}

/* Create the index unless `versync init` already did. */
static bool store_create_index(esc *es)
{
    cJSON *body = NULL;
    int st = store_call(es, "PUT", "/" DEMO_INDEX, "{}", &body);
    bool ok = st == 200 || st == 201;
    if (!ok && st == 400) {
        const cJSON *type =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "error"), "type");
        ok = cJSON_IsString(type) && strcmp(type->valuestring, "resource_already_exists_exception") == 0;
    }
    if (!ok && st != ESC_TRANSPORT_ERROR)
        log_error("demo: creating index %s answered HTTP %d", DEMO_INDEX, st);
    cJSON_Delete(body);
    return ok;
}

/* ---- child processes (the real versync commands) --------------------------- */

/* Start this same binary as `versync -c CONFIG ARGS…` with stdout and stderr
 * appended to `log_path`. The child dies with us (PR_SET_PDEATHSIG), so an
 * interrupted demo never leaves workers behind. Returns the pid or -1. */
static pid_t spawn_versync(const cli_globals *g, const char *config, const char *log_path, char *const *args)
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
        log_error("demo: cannot open %s: %s", log_path, strerror(errno));
        return -1;
    }
    /* The path, not /proc/self/exe itself: under valgrind that names valgrind,
     * while readlink answers with the program being run. */
    char self[PATH_MAX];
    ssize_t n_self = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n_self <= 0) {
        log_error("demo: cannot find this program's path (/proc/self/exe): %s", strerror(errno));
        close(fd);
        return -1;
    }
    self[n_self] = '\0';
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("demo: fork: %s", strerror(errno));
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
    double deadline = now_s() + secs;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -1;
        if (now_s() >= deadline)
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
static bool demo_config(const char *path, const demo_target *t, const demo_opts *o, cfg *out)
{
    bool ok = false;
    char err[512];
    char *text = demo_config_text(t, o);
    if (!text) {
        log_error("demo: out of memory");
        return false;
    }
    if (!cfg_parse(path ? path : "(demo config)", text, out, err, sizeof err)) {
        log_error("demo: the generated config does not load: %s", err);
        goto done;
    }
    if (!path) {
        ok = true;
        goto done;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        log_error("demo: cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    ok = fprintf(f, "%s\n", text) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        log_error("demo: cannot write %s: %s", path, strerror(errno));
done:
    if (!ok)
        cfg_free(out);
    cJSON_free(text);
    return ok;
}

/* ---- writers ---------------------------------------------------------------- */

/* Reserve `n` changes against --changes; false once the budget is spent. */
static bool budget_take(writer_shared *sh, long long n)
{
    if (sh->o->changes <= 0)
        return true;
    long long before = atomic_fetch_add(&sh->reserved, n);
    if (before + n <= sh->o->changes)
        return true;
    atomic_fetch_sub(&sh->reserved, n);
    return false;
}

/* Run one prepared statement; returns the rows it changed or -1. */
static long long writer_exec(PGconn *c, const char *stmt, int nparams, const char *const *params)
{
    PGresult *r = PQexecPrepared(c, stmt, nparams, params, NULL, NULL, 0);
    long long n = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        n = atoll(PQcmdTuples(r));
    else
        log_error("demo: writer statement %s failed: %s", stmt, PQresultErrorMessage(r));
    PQclear(r);
    return n;
}

/* One writer: random balance updates on random rows, and now and then a
 * delete followed by a re-insert of the same id (separate transactions, so
 * the delete is visible on its own and its tombstone must win its races). */
static void *writer_main(void *arg)
{
    writer_arg *wa = arg;
    writer_shared *sh = wa->sh;
    const demo_opts *o = sh->o;
    uint64_t rs = o->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)wa->index * 0xBF58476D1CE4E5B9ULL + 1;
    PGconn *c = demo_connect(sh->conninfo);
    bool ok = c != NULL;
    static const char *const names[] = {"demo_update", "demo_delete", "demo_insert"};
    static const int nparams[] = {2, 1, 2};
    for (int i = 0; ok && i < 3; i++) {
        PGresult *r = PQprepare(c, names[i], sql_text(names[i]), nparams[i], NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            log_error("demo: preparing sql/%s.sql failed: %s", names[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    while (ok && !signals_stop && atomic_load(&sh->failed) == 0) {
        if (sh->deadline > 0 && now_s() >= sh->deadline)
            break;
        if (o->nested && rnd_next(&rs) % 3 != 0) {
            /* --nested: two changes in three below the root, the rest as the flat demo's. */
            if (!budget_take(sh, 1))
                break;
            uint64_t r1 = rnd_next(&rs), r2 = rnd_next(&rs);
            int n = demo_nested_step(c, r1, r2, o->rows);
            if (n < 0) {
                ok = false;
                break;
            }
            atomic_fetch_add(&sh->updates, n);
            continue;
        }
        char id[16], amount[24];
        snprintf(id, sizeof id, "%d", 1 + (int)(rnd_next(&rs) % (uint64_t)o->rows));
        bool del = rnd_next(&rs) % 10 == 0;
        if (del && !budget_take(sh, 2))
            del = false; /* one change left in the budget: an update fills it */
        if (!del && !budget_take(sh, 1))
            break;
        long long n;
        if (!del) {
            long long delta = (long long)(rnd_next(&rs) % 100) + 1;
            snprintf(amount, sizeof amount, "%lld", rnd_next(&rs) & 1 ? delta : -delta);
            const char *p[] = {id, amount};
            if ((n = writer_exec(c, "demo_update", 2, p)) < 0)
                ok = false;
            else
                atomic_fetch_add(&sh->updates, n);
            if (n == 0 && o->changes > 0) /* the row was mid delete/re-insert */
                atomic_fetch_sub(&sh->reserved, 1);
            continue;
        }
        const char *p1[] = {id};
        if ((n = writer_exec(c, "demo_delete", 1, p1)) < 0) {
            ok = false;
            break;
        }
        atomic_fetch_add(&sh->deletes, n);
        snprintf(amount, sizeof amount, "%lld", (long long)(rnd_next(&rs) % 2000));
        const char *p2[] = {id, amount};
        long long m = writer_exec(c, "demo_insert", 2, p2);
        if (m < 0) {
            ok = false;
            break;
        }
        atomic_fetch_add(&sh->inserts, m);
        if (o->changes > 0 && n + m < 2)
            atomic_fetch_sub(&sh->reserved, 2 - (n + m));
    }
    if (!ok)
        atomic_store(&sh->failed, 1);
    PQfinish(c);
    atomic_fetch_sub(&sh->running, 1);
    return NULL;
}

/* ---- progress ----------------------------------------------------------------- */

typedef struct demo_sample {
    long long backlog, applied, stale, coalesced, dead_letters, retries;
} demo_sample;

static bool sample_progress(PGconn *c, const char *query, demo_sample *s)
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
        log_error("demo: reading progress failed: %s", PQresultErrorMessage(r));
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
    double t = now_s();
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
static bool load_rows(PGconn *c, const cfg_table *t, demo_row *rows, int n, long long *count)
{
    bool ok = false;
    char err[256];
    PGresult *r = NULL;
    buf ids = BUF_INIT;
    char *q = render_reread(c, t, err, sizeof err);
    if (!q) {
        log_error("demo: cannot build the re-read statement: %s", err);
        goto done;
    }
    buf_putc(&ids, '{');
    for (int id = 1; id <= n; id++)
        buf_printf(&ids, "%s%d", id > 1 ? "," : "", id);
    if (!buf_putc(&ids, '}')) {
        log_error("demo: out of memory");
        goto done;
    }
    const char *params[] = {ids.data};
    r = PQexecParams(c, q, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("demo: reading the demo rows failed: %s", PQresultErrorMessage(r));
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char **key = NULL;
        size_t nkey = 0;
        if (!render_parse_text_array(PQgetvalue(r, i, RENDER_COL_KEY), &key, &nkey) || nkey != 1 || !key[0]) {
            log_error("demo: unexpected key %s", PQgetvalue(r, i, RENDER_COL_KEY));
            render_free_array(key, nkey);
            goto done;
        }
        long long id = atoll(key[0]);
        render_free_array(key, nkey);
        if (id < 1 || id > n || rows[id - 1].json)
            continue;
        rows[id - 1].version = atoll(PQgetvalue(r, i, RENDER_COL_VERSION));
        if (!(rows[id - 1].json = strdup(PQgetvalue(r, i, RENDER_COL_DOC)))) {
            log_error("demo: out of memory");
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
static bool load_docs(esc *es, demo_row *rows, int n, long long *found)
{
    for (int lo = 1; lo <= n; lo += 500) {
        int hi = lo + 499 < n ? lo + 499 : n;
        buf body = BUF_INIT;
        buf_puts(&body, "{\"ids\":[");
        for (int id = lo; id <= hi; id++)
            buf_printf(&body, "%s\"%d\"", id > lo ? "," : "", id);
        buf_puts(&body, "]}");
        cJSON *resp = NULL;
        int st = store_call(es, "POST", "/" DEMO_INDEX "/_mget", body.data, &resp);
        buf_free(&body);
        const cJSON *docs = cJSON_GetObjectItemCaseSensitive(resp, "docs");
        if (st != 200 || cJSON_GetArraySize(docs) != hi - lo + 1) {
            if (st != ESC_TRANSPORT_ERROR)
                log_error("demo: _mget on %s answered HTTP %d without the %d documents asked for", DEMO_INDEX,
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
static bool compare_all(PGconn *c, esc *es, const cfg_table *t, int nrows, bool check_version,
                        demo_result *res, FILE *out, int examples)
{
    bool ok = false;
    demo_row *rows = calloc((size_t)nrows, sizeof *rows);
    if (!rows)
        goto done;
    if (!load_rows(c, t, rows, nrows, &res->rows_compared) ||
        !load_docs(es, rows, nrows, &res->docs_compared))
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

static void print_table(FILE *out, const demo_opts *o, const demo_result *r)
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

static void print_json(FILE *out, const demo_opts *o, const demo_result *r)
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
} race;

static bool race_prepare_dir(race *r)
{
    if (r->o->work_dir) {
        snprintf(r->dir, sizeof r->dir, "%s", r->o->work_dir);
        if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {
            log_error("demo: cannot create %s: %s", r->dir, strerror(errno));
            return false;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(r->dir, sizeof r->dir, "%s/versync-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(r->dir)) {
            log_error("demo: cannot create a temporary folder %s: %s", r->dir, strerror(errno));
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
    if (!pg_exec_file(r->pg, r->o->nested ? "demo_nested_setup" : "demo_setup") || !store_reset_index(r->es))
        return false;
    if (!demo_config(r->config, &r->t, r->o, &r->cfg))
        return false;
    r->have_cfg = true;
    char *init_args[] = {"init", NULL};
    pid_t pid = spawn_versync(r->g, r->config, r->init_log, init_args);
    int rc = pid > 0 ? wait_child(pid, 120) : -1;
    if (rc != 0) {
        if (rc < 0 && pid > 0)
            stop_child(pid);
        fprintf(stderr, "versync demo: `versync -c %s init` failed (status %d)\n", r->config, rc);
        show_log_tail(r->init_log);
        return false;
    }
    return store_create_index(r->es);
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
    r->workers = spawn_versync(r->g, r->config, r->workers_log, args);
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
    const demo_opts *o = r->o;
    int rc = 1;
    pthread_t *threads = calloc((size_t)o->writers, sizeof *threads);
    writer_arg *args = calloc((size_t)o->writers, sizeof *args);
    writer_shared sh = {.conninfo = r->t.postgres, .o = o};
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

    double t0 = now_s();
    pr.start = t0;
    {
        char n[16];
        snprintf(n, sizeof n, "%d", o->rows);
        const char *p[] = {n};
        PGresult *q = PQexecParams(r->pg, sql_text("demo_seed"), 1, NULL, p, NULL, NULL, 0);
        bool ok = PQresultStatus(q) == PGRES_COMMAND_OK;
        if (!ok)
            log_error("demo: seeding the demo table failed: %s", PQresultErrorMessage(q));
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
        if (pthread_create(&threads[started], NULL, writer_main, &args[started]) != 0) {
            log_error("demo: cannot start writer thread %d", started);
            atomic_store(&sh.failed, 1);
            atomic_fetch_sub(&sh.running, o->writers - started);
            break;
        }
    }
    /* Writing: sample the workers' counters while the writers run. */
    while (atomic_load(&sh.running) > 0 && !signals_stop) {
        if (!workers_alive(r) || !sample_progress(r->pg, r->progress_sql, &s)) {
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
    double last_move = now_s();
    demo_sample prev = s;
    for (;;) {
        if (signals_stop || !workers_alive(r) || !sample_progress(r->pg, r->progress_sql, &s))
            goto done;
        if (s.backlog == 0)
            break;
        if (s.backlog != prev.backlog || s.applied != prev.applied || s.stale != prev.stale)
            last_move = now_s();
        else if (now_s() - last_move > 60) {
            fprintf(stderr, "\nversync demo: the backlog stayed at %lld for 60 s; giving up (see %s)\n",
                    s.backlog, r->workers_log);
            goto done;
        }
        prev = s;
        progress_show(&pr, "draining", res->written, &s, false);
        nap_ms(50);
    }
    res->wall_s = now_s() - t0;
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
    if (!pg_scalar(r->pg, "demo_captured", &res->captured))
        goto done;
    if (!compare_all(r->pg, r->es, &r->cfg.tables[0], o->rows, !o->no_versions && !o->nested, res,
                     o->json ? stderr : stdout, 5))
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
    if (!(r.pg = demo_connect(r.t.postgres))) {
        rc = CLI_EXIT_UNREACHABLE;
        goto done;
    }
    if (!(r.es = esc_new(&r.t.store, err, sizeof err))) {
        log_error("demo: %s", err);
        goto done;
    }
    char *ident = sync_schema_ident(r.pg);
    r.progress_sql = ident ? sql_render("demo_progress", ident) : NULL;
    PQfreemem(ident);
    if (!r.progress_sql)
        goto done;
    rc = race_run(&r, &res);
    if (res.compared) {
        if (o->json)
            print_json(stdout, o, &res);
        else
            print_table(stdout, o, &res);
    }
done:
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
    if (!resolve_target(g, o, &t))
        return 2;
    if (!(have_cfg = demo_config(NULL, &t, o, &c)))
        goto done;
    if (!(pg = demo_connect(t.postgres))) {
        rc = CLI_EXIT_UNREACHABLE;
        goto done;
    }
    if (!(es = esc_new(&t.store, err, sizeof err))) {
        log_error("demo: %s", err);
        goto done;
    }
    if (!compare_all(pg, es, &c.tables[0], o->rows, !o->no_versions, &res, o->json ? stderr : stdout, 5))
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
