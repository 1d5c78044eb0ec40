/* bridge_metrics — worker counters shared with the supervisor through shared memory, and the /metrics and /health endpoint. */
#include "versync/bridge/metrics.h"

#include "versync/common/buf.h"
#include "versync/bridge/esclient.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/common/scan.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/wal.h"
#include "versync/bridge/watchdog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MT_MAX_TABLES 128          /* labels a segment can hold; later tables share the overflow label */
#define MT_OTHER MT_MAX_TABLES      /* counters of tables not in the config (or beyond the limit) */
#define MT_NAME_MAX 256
#define MT_CACHE_MS 1000            /* backlog query and store probe: at most once a second */
#define MT_FORK_WAIT_MS 200         /* how long a fork waits for the endpoint thread before trying later */

/* Histogram bucket bounds in seconds; a last, implicit +Inf bucket follows. */
static const double mt_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define MT_NBOUNDS (sizeof mt_bounds / sizeof mt_bounds[0])

/* One table's counters in one worker slot. Written by that slot's worker
 * only; read by the supervisor's endpoint thread. Relaxed atomics suffice:
 * each value is monotonic on its own and a scrape is a snapshot anyway. */
typedef struct mt_table {
    _Atomic long long kind[METRICS_NKINDS];
    _Atomic long long batches;   /* histogram _count */
    _Atomic long long sum_us;    /* histogram _sum, in microseconds */
    _Atomic long long bucket[MT_NBOUNDS + 1]; /* not cumulative: rendered as running sums */
} mt_table;

typedef struct mt_slot {
    _Atomic int pid;  /* written by the supervisor; 0: not running */
    _Atomic int pg;   /* worker: its PostgreSQL connection is up */
    _Atomic int store; /* worker: the store answered its last request (status < 500) */
    _Atomic int store_status; /* that status, or -1 for no answer */
    _Atomic long long store_fail_ms; /* CLOCK_MONOTONIC ms of that failed request; 0 when it succeeded */
    _Atomic long long retries;
    _Atomic int phase;              /* worker: metrics_phase it is in */
    _Atomic long long phase_ms;     /* worker: CLOCK_MONOTONIC ms it entered it */
    _Atomic long long stalled_ms;   /* worker: its watchdog's "no claim since"; 0 when claiming */
    char stall_why[400];            /* written before stalled_ms is raised */
    mt_table t[MT_MAX_TABLES + 1];
    /* worker: table k is parked (its rows cannot be re-read), and why; the
     * text is written before the flag is raised */
    _Atomic int parked[MT_MAX_TABLES];
    char park_err[MT_MAX_TABLES][200];
} mt_slot;

typedef struct mt_shared {
    _Atomic int ntables; /* names[0..ntables) are written once, before the count is raised */
    char names[MT_MAX_TABLES][MT_NAME_MAX];
    mt_slot slot[];
} mt_shared;

/* Backlog per table from the endpoint's own PostgreSQL connection. */
typedef struct mt_backlog {
    bool ok;
    char err[512];
    size_t n;
    char (*names)[MT_NAME_MAX];
    long long *backlog;
    double *age_s;
    long long *dead;
    long long *regressed; /* of the dead letters, version_regressed ones */
} mt_backlog;

struct metrics {
    mt_shared *sh;
    size_t shsize;
    int nworkers;
    struct MHD_Daemon *d;
    /* The endpoint thread, which drives d. It holds fork_mu except while it waits in poll(), holding
     * no other lock then; the supervisor forks a worker only while holding fork_mu, so the child
     * never inherits a lock that thread held (the allocator's: under ASan a child's first thread
     * then blocked forever on it; libpq's, libcurl's, the daemon's). */
    pthread_t th;
    bool th_started;
    bool serving; /* the thread got as far as its loop (guarded by fork_mu) */
    pthread_mutex_t fork_mu;
    pthread_cond_t serving_cv;
    int wake[2]; /* metrics_free wakes the thread to end it */
    _Atomic bool quit;
    /* endpoint state: touched only by the (single) endpoint thread after start */
    pthread_mutex_t lock;
    char *conninfo;
    char *schema;
    PGconn *pg;
    _Atomic int pg_fd; /* its socket, for children to close */
    long long backlog_at;
    mt_backlog bl;
    char *wal_slot;       /* the slot of "capture": "wal", NULL when no table uses it */
    wal_slot_state wal;   /* its state, refreshed with the backlog */
    bool wal_ok;          /* that state is fresh */
    cfg_store store;
    esc *probe;
    long long probe_at;
    long long probe_ok_at; /* when the last successful probe started */
    long long step_limit_ms; /* a worker in one step longer than this is stuck (watchdog.h) */
    bool probe_ok;
    char probe_err[512];
};

/* The worker side: this process's slot and its uncommitted batch. */
static struct {
    mt_slot *slot;
    size_t ntables;  /* config tables */
    int *map;        /* config table index → shared index */
    long long delta[MT_MAX_TABLES + 1][METRICS_NKINDS];
    bool touched[MT_MAX_TABLES + 1];
    struct timespec start;
} g_self;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool metrics_parse_listen(const char *text, char *host, size_t hostsz, int *port, char *err, size_t errsz)
{
    const char *colon = strrchr(text, ':');
    const char *p = colon ? colon + 1 : text;
    int64_t v;
    if (!scan_int64(p, 0, 65535, &v)) {
        snprintf(err, errsz, "--metrics: expected PORT or HOST:PORT, got \"%s\"", text);
        return false;
    }
    const char *h = "127.0.0.1";
    size_t hl = strlen(h);
    if (colon) {
        h = text;
        hl = (size_t)(colon - text);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        if (hl == 0) {
            snprintf(err, errsz, "--metrics: empty host in \"%s\"", text);
            return false;
        }
    }
    if (hl >= hostsz) {
        snprintf(err, errsz, "--metrics: host too long in \"%s\"", text);
        return false;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return true;
}

metrics *metrics_new(int nworkers, char *err, size_t errsz)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    m->nworkers = nworkers > 0 ? nworkers : 1;
    m->shsize = sizeof(mt_shared) + (size_t)m->nworkers * sizeof(mt_slot);
    void *p = mmap(NULL, m->shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errsz, "metrics: shared memory of %zu bytes: %s", m->shsize, strerror(errno));
        free(m);
        return NULL;
    }
    m->sh = p; /* zero-filled by the kernel */
    for (int i = 0; i < m->nworkers; i++)
        atomic_store(&m->sh->slot[i].store_status, -1);
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->fork_mu, NULL);
    pthread_cond_init(&m->serving_cv, NULL);
    m->wake[0] = m->wake[1] = -1;
    atomic_store(&m->pg_fd, -1);
    return m;
}

static void backlog_clear(mt_backlog *b)
{
    free(b->names);
    free(b->backlog);
    free(b->age_s);
    free(b->dead);
    free(b->regressed);
    memset(b, 0, sizeof *b);
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    if (m->th_started) {
        atomic_store(&m->quit, true);
        ssize_t w = write(m->wake[1], "x", 1);
        (void)w;
        pthread_join(m->th, NULL);
    }
    if (m->d)
        MHD_stop_daemon(m->d);
    for (int i = 0; i < 2; i++)
        if (m->wake[i] >= 0)
            close(m->wake[i]);
    if (m->pg)
        PQfinish(m->pg);
    esc_free(m->probe);
    free(m->conninfo);
    free(m->schema);
    free(m->wal_slot);
    free(m->store.url);
    free(m->store.username);
    free(m->store.password);
    free(m->store.api_key);
    free(m->store.ca_file);
    backlog_clear(&m->bl);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->fork_mu);
    pthread_cond_destroy(&m->serving_cv);
    if ((char *)g_self.slot >= (char *)m->sh && (char *)g_self.slot < (char *)m->sh + m->shsize) {
        free(g_self.map); /* this process wrote into the segment going away */
        memset(&g_self, 0, sizeof g_self);
    }
    munmap(m->sh, m->shsize);
    free(m);
}

/* Index of `ident` among the registered names, or -1. */
static int find_name(const mt_shared *sh, const char *ident)
{
    int n = atomic_load_explicit(&sh->ntables, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(sh->names[i], ident) == 0)
            return i;
    return -1;
}

void metrics_set_config(metrics *m, const cfg *c)
{
    if (!m)
        return;
    for (size_t i = 0; i < c->ntables; i++) {
        const char *ident = c->tables[i].ident;
        int n = atomic_load(&m->sh->ntables);
        if (find_name(m->sh, ident) >= 0 || n >= MT_MAX_TABLES)
            continue;
        snprintf(m->sh->names[n], MT_NAME_MAX, "%s", ident);
        atomic_store_explicit(&m->sh->ntables, n + 1, memory_order_release);
    }
}

void metrics_worker_pid(metrics *m, int slot, pid_t pid)
{
    if (!m || slot < 0 || slot >= m->nworkers)
        return;
    atomic_store(&m->sh->slot[slot].pid, (int)pid);
}

void metrics_child_attach(metrics *m, int slot, const cfg *c)
{
    if (!m || slot < 0 || slot >= m->nworkers)
        return;
    /* The endpoint thread does not exist in this process: drop what it owned. */
    if (m->d) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_LISTEN_FD);
        if (di)
            close(di->listen_fd);
        if ((di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD)))
            close(di->epoll_fd);
    }
    for (int i = 0; i < 2; i++)
        if (m->wake[i] >= 0)
            close(m->wake[i]);
    int fd = atomic_load(&m->pg_fd);
    if (fd >= 0)
        close(fd);
    free(g_self.map);
    g_self.map = calloc(c->ntables + 1, sizeof *g_self.map);
    if (!g_self.map)
        return; /* counting is best effort; the worker itself must not fail for it */
    for (size_t i = 0; i < c->ntables; i++) {
        int k = find_name(m->sh, c->tables[i].ident);
        g_self.map[i] = k >= 0 ? k : MT_OTHER;
    }
    g_self.ntables = c->ntables;
    g_self.slot = &m->sh->slot[slot];
    /* A new process has connected nowhere yet (the parent sets only the pid,
     * which may land after we connect: the states are ours to write). */
    atomic_store(&g_self.slot->pg, 0);
    atomic_store(&g_self.slot->store, 1);
    atomic_store(&g_self.slot->store_status, -1);
    atomic_store(&g_self.slot->phase, METRICS_PHASE_IDLE);
    atomic_store(&g_self.slot->phase_ms, now_ms());
    atomic_store(&g_self.slot->stalled_ms, 0);
    for (size_t k = 0; k < MT_MAX_TABLES; k++)
        atomic_store(&g_self.slot->parked[k], 0);
}

void metrics_table_parked(size_t table, const char *error)
{
    if (!g_self.slot || table >= g_self.ntables || g_self.map[table] >= MT_MAX_TABLES)
        return;
    int k = g_self.map[table];
    if (error) {
        atomic_store(&g_self.slot->parked[k], 0);
        snprintf(g_self.slot->park_err[k], sizeof g_self.slot->park_err[k], "%s", error);
    }
    atomic_store(&g_self.slot->parked[k], error ? 1 : 0);
}

void metrics_pg_state(bool connected)
{
    if (g_self.slot)
        atomic_store_explicit(&g_self.slot->pg, connected ? 1 : 0, memory_order_relaxed);
}

void metrics_phase_enter(metrics_phase phase)
{
    if (!g_self.slot)
        return;
    /* The time first: a reader that sees the new phase never pairs it with the old step's start. */
    atomic_store(&g_self.slot->phase_ms, now_ms());
    atomic_store(&g_self.slot->phase, (int)phase);
}

void metrics_stalled(const char *why, long long since_ms)
{
    if (!g_self.slot)
        return;
    atomic_store(&g_self.slot->stalled_ms, 0);
    if (!why)
        return;
    snprintf(g_self.slot->stall_why, sizeof g_self.slot->stall_why, "%s", why);
    atomic_store(&g_self.slot->stalled_ms, since_ms > 0 ? since_ms : 1);
}

void metrics_store_answer(int status)
{
    if (!g_self.slot)
        return;
    bool ok = status != ESC_TRANSPORT_ERROR && status < 500;
    atomic_store_explicit(&g_self.slot->store_fail_ms, ok ? 0 : now_ms(), memory_order_relaxed);
    atomic_store_explicit(&g_self.slot->store, ok ? 1 : 0, memory_order_relaxed);
    atomic_store_explicit(&g_self.slot->store_status, status, memory_order_relaxed);
}

void metrics_batch_begin(void)
{
    if (!g_self.slot)
        return;
    memset(g_self.delta, 0, sizeof g_self.delta);
    memset(g_self.touched, 0, sizeof g_self.touched);
    clock_gettime(CLOCK_MONOTONIC, &g_self.start);
}

void metrics_batch_count(size_t table, metrics_kind kind, long long n)
{
    if (!g_self.slot || kind >= METRICS_NKINDS)
        return;
    int k = table < g_self.ntables ? g_self.map[table] : MT_OTHER;
    g_self.delta[k][kind] += n;
    g_self.touched[k] = true;
}

void metrics_batch_commit(void)
{
    if (!g_self.slot)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long us = (long long)(end.tv_sec - g_self.start.tv_sec) * 1000000 +
                   (end.tv_nsec - g_self.start.tv_nsec) / 1000;
    double secs = us / 1e6;
    size_t b = 0;
    while (b < MT_NBOUNDS && secs > mt_bounds[b])
        b++;
    for (int k = 0; k <= MT_MAX_TABLES; k++) {
        if (!g_self.touched[k])
            continue;
        mt_table *t = &g_self.slot->t[k];
        for (int i = 0; i < METRICS_NKINDS; i++)
            if (g_self.delta[k][i])
                atomic_fetch_add_explicit(&t->kind[i], g_self.delta[k][i], memory_order_relaxed);
        atomic_fetch_add_explicit(&t->bucket[b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->sum_us, us, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->batches, 1, memory_order_relaxed);
    }
    memset(g_self.touched, 0, sizeof g_self.touched);
}

void metrics_retry(void)
{
    if (g_self.slot)
        atomic_fetch_add_explicit(&g_self.slot->retries, 1, memory_order_relaxed);
}

/* ---- the endpoint ------------------------------------------------------- */

/* Refresh m->bl from PostgreSQL when it is older than MT_CACHE_MS. Endpoint thread only. */
static void refresh_backlog(metrics *m)
{
    long long now = now_ms();
    if (!m->conninfo || (m->backlog_at && now - m->backlog_at < MT_CACHE_MS))
        return; /* not serving (metrics_start not called), or fresh enough */
    m->backlog_at = now;
    mt_backlog *b = &m->bl;
    char err[512] = "";
    char *schema_q = NULL, *sql = NULL;
    PGresult *r = NULL;
    buf arr = BUF_INIT;
    int n = atomic_load_explicit(&m->sh->ntables, memory_order_acquire);
    const char *names[MT_MAX_TABLES];
    for (int i = 0; i < n; i++)
        names[i] = m->sh->names[i];
    if (m->pg && PQstatus(m->pg) != CONNECTION_OK) {
        atomic_store(&m->pg_fd, -1);
        PQfinish(m->pg);
        m->pg = NULL;
    }
    if (!m->pg) {
        if (!(m->pg = pg_connect(m->conninfo, "versync metrics", err, sizeof err)))
            goto fail;
        atomic_store(&m->pg_fd, PQsocket(m->pg));
        /* /health must answer even when the change table is locked (the very stall it reports):
         * its backlog query gives up rather than queue behind the lock. */
        PGresult *t = pg_exec(m->pg, "SET statement_timeout = 2000", 0, NULL, err, sizeof err);
        if (!t)
            goto fail;
        PQclear(t);
    }
    if (!(schema_q = pg_quote_ident(m->pg, m->schema, err, sizeof err)))
        goto fail;
    if (!(sql = sql_render("status_tables", schema_q)) || !render_array_literal(&arr, names, (size_t)n)) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    const char *params[1] = {arr.data ? arr.data : "{}"};
    if (!(r = pg_exec(m->pg, sql, 1, params, err, sizeof err)))
        goto fail;
    backlog_clear(b);
    size_t rows = (size_t)PQntuples(r);
    b->names = calloc(rows + 1, sizeof *b->names);
    b->backlog = calloc(rows + 1, sizeof *b->backlog);
    b->age_s = calloc(rows + 1, sizeof *b->age_s);
    b->dead = calloc(rows + 1, sizeof *b->dead);
    b->regressed = calloc(rows + 1, sizeof *b->regressed);
    if (!b->names || !b->backlog || !b->age_s || !b->dead || !b->regressed) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < rows; i++) {
        int row = (int)i;
        snprintf(b->names[i], MT_NAME_MAX, "%s", PQgetvalue(r, row, 0));
        b->backlog[i] = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        b->age_s[i] = PQgetisnull(r, row, 2) ? 0 : strtod(PQgetvalue(r, row, 2), NULL) / 1000.0;
        b->dead[i] = strtoll(PQgetvalue(r, row, 3), NULL, 10);
        b->regressed[i] = strtoll(PQgetvalue(r, row, PQfnumber(r, "version_regressed")), NULL, 10);
    }
    b->n = rows;
    b->ok = true;
    /* The slot of "capture": "wal": lag in bytes and seconds (bridge_wal_setup.c). */
    m->wal_ok = m->wal_slot && wal_slot_state_query(m->pg, m->wal_slot, m->schema, &m->wal, err, sizeof err);
    if (m->wal_slot && !m->wal_ok)
        log_warn("metrics: the state of replication slot \"%s\": %s", m->wal_slot, err);
    goto done;
fail:
    backlog_clear(b);
    m->wal_ok = false;
    snprintf(b->err, sizeof b->err, "%s", err);
    if (m->pg && PQstatus(m->pg) != CONNECTION_OK) {
        atomic_store(&m->pg_fd, -1);
        PQfinish(m->pg);
        m->pg = NULL;
    }
done:
    PQclear(r);
    free(sql);
    free(schema_q);
    buf_free(&arr);
}

/* Probe the store with GET / when the last probe is older than MT_CACHE_MS. Endpoint thread only. */
static void refresh_probe(metrics *m)
{
    long long now = now_ms();
    if (m->probe_at && now - m->probe_at < MT_CACHE_MS)
        return;
    m->probe_at = now;
    char err[512] = "";
    if (!m->probe && !(m->probe = esc_new(&m->store, err, sizeof err))) {
        m->probe_ok = false;
        snprintf(m->probe_err, sizeof m->probe_err, "%s", err);
        return;
    }
    buf resp;
    buf_init(&resp, 1 << 16);
    int st = esc_request(m->probe, "GET", "/", NULL, NULL, 0, NULL, &resp, err, sizeof err);
    buf_free(&resp);
    m->probe_ok = st >= 200 && st < 300;
    if (m->probe_ok)
        m->probe_ok_at = now;
    if (st == ESC_TRANSPORT_ERROR)
        snprintf(m->probe_err, sizeof m->probe_err, "store unreachable: %.400s", err);
    else if (!m->probe_ok)
        snprintf(m->probe_err, sizeof m->probe_err, "store at %s answered HTTP %d to GET /", esc_url(m->probe), st);
}

static void put_label(buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_putc(b, '\\');
        if (*v == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *v);
    }
}

static void family(buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *table_label(const metrics *m, int k)
{
    return k == MT_OTHER ? "(not in config)" : m->sh->names[k];
}

/* Sum of one table's counters over every slot. */
static void sum_table(const metrics *m, int k, mt_table *out)
{
    memset(out, 0, sizeof *out);
    for (int s = 0; s < m->nworkers; s++) {
        const mt_table *t = &m->sh->slot[s].t[k];
        for (int i = 0; i < METRICS_NKINDS; i++)
            out->kind[i] += atomic_load_explicit(&t->kind[i], memory_order_relaxed);
        out->batches += atomic_load_explicit(&t->batches, memory_order_relaxed);
        out->sum_us += atomic_load_explicit(&t->sum_us, memory_order_relaxed);
        for (size_t i = 0; i <= MT_NBOUNDS; i++)
            out->bucket[i] += atomic_load_explicit(&t->bucket[i], memory_order_relaxed);
    }
}

char *metrics_render(metrics *m)
{
    buf b = BUF_INIT;
    int n = atomic_load_explicit(&m->sh->ntables, memory_order_acquire);
    /* The tables to show: every registered one, plus "not in config" once it counted something. */
    int ks[MT_MAX_TABLES + 1];
    int nk = 0;
    for (int k = 0; k < n; k++)
        ks[nk++] = k;
    mt_table other;
    sum_table(m, MT_OTHER, &other);
    if (other.batches)
        ks[nk++] = MT_OTHER;
    mt_table *sums = calloc((size_t)nk + 1, sizeof *sums);
    if (!sums)
        return NULL;
    for (int i = 0; i < nk; i++)
        sum_table(m, ks[i], &sums[i]);

    static const struct {
        const char *name, *help;
    } kinds[METRICS_NKINDS] = {
        {"versync_changes_applied_total", "Writes the store took (2xx; 404 on a delete), per table."},
        {"versync_changes_stale_total", "Writes answered 409: the store already held that version or a newer one."},
        {"versync_changes_coalesced_total", "Change rows folded into a later change of the same key in a batch."},
        {"versync_changes_dead_lettered_total", "Writes moved into dead_letters."},
        {"versync_changes_version_regressed_total",
         "Of the dead letters: writes refused although the row re-read was current (its version did not advance)."},
    };
    for (int i = 0; i < METRICS_NKINDS; i++) {
        family(&b, kinds[i].name, "counter", kinds[i].help);
        for (int j = 0; j < nk; j++) {
            buf_printf(&b, "%s{table=\"", kinds[i].name);
            put_label(&b, table_label(m, ks[j]));
            buf_printf(&b, "\"} %lld\n", (long long)sums[j].kind[i]);
        }
    }
    family(&b, "versync_batch_duration_seconds", "histogram",
           "Committed batches by duration (claim to commit), observed once for each table a batch wrote.");
    for (int j = 0; j < nk; j++) {
        long long cum = 0;
        for (size_t i = 0; i <= MT_NBOUNDS; i++) {
            cum += sums[j].bucket[i];
            buf_puts(&b, "versync_batch_duration_seconds_bucket{table=\"");
            put_label(&b, table_label(m, ks[j]));
            if (i < MT_NBOUNDS)
                buf_printf(&b, "\",le=\"%g\"} %lld\n", mt_bounds[i], cum);
            else
                buf_printf(&b, "\",le=\"+Inf\"} %lld\n", cum);
        }
        buf_puts(&b, "versync_batch_duration_seconds_sum{table=\"");
        put_label(&b, table_label(m, ks[j]));
        buf_printf(&b, "\"} %.6f\n", sums[j].sum_us / 1e6);
        buf_puts(&b, "versync_batch_duration_seconds_count{table=\"");
        put_label(&b, table_label(m, ks[j]));
        buf_printf(&b, "\"} %lld\n", (long long)sums[j].batches);
    }
    free(sums);

    long long retries = 0;
    int running = 0, pg_ok = 0, store_ok = 0;
    for (int s = 0; s < m->nworkers; s++) {
        const mt_slot *sl = &m->sh->slot[s];
        retries += atomic_load_explicit(&sl->retries, memory_order_relaxed);
        if (atomic_load(&sl->pid)) {
            running++;
            pg_ok += atomic_load(&sl->pg) != 0;
            store_ok += atomic_load(&sl->store) != 0;
        }
    }
    family(&b, "versync_retries_total", "counter", "Claims rolled back for a retryable store or PostgreSQL failure.");
    buf_printf(&b, "versync_retries_total %lld\n", retries);
    family(&b, "versync_workers", "gauge", "Worker processes the supervisor keeps running.");
    buf_printf(&b, "versync_workers %d\n", m->nworkers);
    family(&b, "versync_workers_running", "gauge", "Worker processes running now.");
    buf_printf(&b, "versync_workers_running %d\n", running);
    family(&b, "versync_workers_postgres_connected", "gauge", "Running workers connected to PostgreSQL.");
    buf_printf(&b, "versync_workers_postgres_connected %d\n", pg_ok);
    family(&b, "versync_workers_store_ok", "gauge", "Running workers whose last store request was answered (< 500).");
    buf_printf(&b, "versync_workers_store_ok %d\n", store_ok);

    pthread_mutex_lock(&m->lock);
    refresh_backlog(m);
    family(&b, "versync_backlog", "gauge", "Change rows waiting to be claimed, per table.");
    for (size_t i = 0; m->bl.ok && i < m->bl.n; i++) {
        buf_puts(&b, "versync_backlog{table=\"");
        put_label(&b, m->bl.names[i]);
        buf_printf(&b, "\"} %lld\n", m->bl.backlog[i]);
    }
    family(&b, "versync_oldest_change_age_seconds", "gauge",
           "Age of the oldest change row waiting, per table (0 when none waits).");
    for (size_t i = 0; m->bl.ok && i < m->bl.n; i++) {
        buf_puts(&b, "versync_oldest_change_age_seconds{table=\"");
        put_label(&b, m->bl.names[i]);
        buf_printf(&b, "\"} %.3f\n", m->bl.age_s[i]);
    }
    family(&b, "versync_dead_letters", "gauge", "Rows in the dead_letters table, per table.");
    for (size_t i = 0; m->bl.ok && i < m->bl.n; i++) {
        buf_puts(&b, "versync_dead_letters{table=\"");
        put_label(&b, m->bl.names[i]);
        buf_printf(&b, "\"} %lld\n", m->bl.dead[i]);
    }
    family(&b, "versync_version_regressed", "gauge",
           "Rows in dead_letters of kind version_regressed, per table (the application's version did not advance).");
    for (size_t i = 0; m->bl.ok && i < m->bl.n; i++) {
        buf_puts(&b, "versync_version_regressed{table=\"");
        put_label(&b, m->bl.names[i]);
        buf_printf(&b, "\"} %lld\n", m->bl.regressed[i]);
    }
    family(&b, "versync_backlog_query_ok", "gauge",
           "1 when the backlog figures above are fresh (the metrics connection to PostgreSQL works).");
    buf_printf(&b, "versync_backlog_query_ok %d\n", m->bl.ok ? 1 : 0);
    if (m->wal_slot && m->wal_ok && m->wal.exists) {
        /* The slot name is [a-z0-9_] (cfg), safe as a label value. */
        family(&b, "versync_wal_slot_lag_bytes", "gauge",
               "WAL of \"capture\": \"wal\" not yet confirmed as applied (current position minus the slot's "
               "confirmed flush position).");
        buf_printf(&b, "versync_wal_slot_lag_bytes{slot=\"%s\"} %lld\n", m->wal_slot, m->wal.lag_bytes);
        family(&b, "versync_wal_slot_retained_bytes", "gauge",
               "WAL the slot keeps the server from removing (current position minus its restart position).");
        buf_printf(&b, "versync_wal_slot_retained_bytes{slot=\"%s\"} %lld\n", m->wal_slot, m->wal.retained_bytes);
        family(&b, "versync_wal_slot_active", "gauge", "1 when a consumer (versync run) streams the slot.");
        buf_printf(&b, "versync_wal_slot_active{slot=\"%s\"} %d\n", m->wal_slot, m->wal.active ? 1 : 0);
        if (m->wal.lag_seconds >= 0) {
            family(&b, "versync_wal_apply_lag_seconds", "gauge",
                   "How far the slot's consumer is behind in time: 0 when caught up, else the age of the last "
                   "transaction it applied (or of its last report, when it stopped caught up).");
            buf_printf(&b, "versync_wal_apply_lag_seconds{slot=\"%s\"} %.3f\n", m->wal_slot, m->wal.lag_seconds);
        }
    }
    pthread_mutex_unlock(&m->lock);
    family(&b, "versync_up", "gauge", "1: the supervisor answers.");
    buf_puts(&b, "versync_up 1\n");
    if (!buf_ok(&b) || !b.data) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* One reason per parked table (parked by any worker), appended to the JSON
 * array items in `reasons`; returns how many. */
static int parked_reasons(metrics *m, buf *reasons)
{
    int n = 0;
    int ntables = atomic_load(&m->sh->ntables);
    for (int k = 0; k < ntables && k < MT_MAX_TABLES; k++)
        for (int s = 0; s < m->nworkers; s++) {
            const mt_slot *sl = &m->sh->slot[s];
            if (!atomic_load(&sl->pid) || !atomic_load(&sl->parked[k]))
                continue;
            char line[600];
            snprintf(line, sizeof line, "table %s is parked: %.*s", m->sh->names[k], (int)sizeof sl->park_err[k],
                     sl->park_err[k]);
            buf_puts(reasons, n++ ? "," : "");
            buf_put_json_string(reasons, line, strlen(line));
            break;
        }
    return n;
}

/* /health: 200 only when every worker runs, is connected to PostgreSQL and
 * had its last store request answered, and the store answers our probe. */
static char *render_health(metrics *m, unsigned *status)
{
    buf b = BUF_INIT;
    buf reasons = BUF_INIT;
    int nreasons = 0;
    char line[768];
    pthread_mutex_lock(&m->lock);
    refresh_probe(m);
    refresh_backlog(m);
    /* Version-regressed dead letters do not stop the stream, but rows are missing from the
     * copy until the application fixes its versions: degraded, not unavailable. */
    buf degraded = BUF_INIT;
    int ndegraded = 0;
    for (size_t i = 0; m->bl.ok && i < m->bl.n; i++) {
        if (m->bl.regressed[i] <= 0)
            continue;
        snprintf(line, sizeof line,
                 "%s: %lld writes refused as version_regressed (the application's version did not advance; "
                 "see versync status and dead_letters)",
                 m->bl.names[i], m->bl.regressed[i]);
        buf_puts(&degraded, ndegraded++ ? "," : "");
        buf_put_json_string(&degraded, line, strlen(line));
    }
    bool probe_ok = m->probe_ok;
    long long probe_ok_at = m->probe_ok_at;
    char probe_err[512];
    snprintf(probe_err, sizeof probe_err, "%s", m->probe_err);
    pthread_mutex_unlock(&m->lock);
    int nparked = parked_reasons(m, &reasons);
    nreasons += nparked;
    static const char *const phase_names[METRICS_NPHASES] = {
        "idle", "connecting to PostgreSQL", "claiming changes", "re-reading rows",
        "waiting for the store", "committing", "polling a cursor table"};
    long long now = now_ms();
    for (int s = 0; s < m->nworkers; s++) {
        const mt_slot *sl = &m->sh->slot[s];
        line[0] = '\0';
        int phase = atomic_load(&sl->phase);
        long long in_phase = now - atomic_load(&sl->phase_ms);
        long long stalled = atomic_load(&sl->stalled_ms);
        if (!atomic_load(&sl->pid))
            snprintf(line, sizeof line, "worker %d is not running", s + 1);
        else if (!atomic_load(&sl->pg))
            snprintf(line, sizeof line, "worker %d is not connected to PostgreSQL", s + 1);
        else if (!atomic_load(&sl->store) && !(probe_ok && atomic_load(&sl->store_fail_ms) < probe_ok_at)) {
            /* An idle worker keeps its last failure until its next batch; a
             * later successful probe of ours says the store is back. */
            int st = atomic_load(&sl->store_status);
            if (st < 0)
                snprintf(line, sizeof line, "worker %d: the store did not answer its last request", s + 1);
            else
                snprintf(line, sizeof line, "worker %d: the store answered its last request with HTTP %d", s + 1, st);
        } else if (phase > METRICS_PHASE_IDLE && phase < METRICS_NPHASES && in_phase > m->step_limit_ms) {
            /* Blocked inside one call (a lock, a hung peer): its own watchdog cannot run. */
            snprintf(line, sizeof line, "worker %d has made no progress for %.1f s: stuck %s", s + 1,
                     in_phase / 1000.0, phase_names[phase]);
        } else if (stalled > 0) {
            snprintf(line, sizeof line, "worker %d has made no progress for %.1f s: %.*s", s + 1,
                     (now - stalled) / 1000.0, (int)sizeof sl->stall_why, sl->stall_why);
        }
        if (line[0]) {
            buf_puts(&reasons, nreasons++ ? "," : "");
            buf_put_json_string(&reasons, line, strlen(line));
        }
    }
    if (!probe_ok) {
        buf_puts(&reasons, nreasons++ ? "," : "");
        buf_put_json_string(&reasons, probe_err, strlen(probe_err));
    }
    if (nreasons == 0 && ndegraded > 0) {
        *status = MHD_HTTP_OK;
        buf_printf(&b, "{\"status\":\"degraded\",\"workers\":%d,\"reasons\":[%s]}\n", m->nworkers,
                   degraded.data ? degraded.data : "");
    } else if (nreasons == 0) {
        *status = MHD_HTTP_OK;
        buf_printf(&b, "{\"status\":\"ok\",\"workers\":%d}\n", m->nworkers);
    } else if (nreasons == nparked) {
        /* The other tables flow: degraded, not down (a restart would not help). */
        *status = MHD_HTTP_OK;
        buf_printf(&b, "{\"status\":\"degraded\",\"workers\":%d,\"reasons\":[%s%s%s]}\n", m->nworkers,
                   reasons.data ? reasons.data : "", ndegraded ? "," : "", degraded.data ? degraded.data : "");
    } else {
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        buf_printf(&b, "{\"status\":\"unavailable\",\"workers\":%d,\"reasons\":[%s]}\n", m->nworkers,
                   reasons.data ? reasons.data : "");
    }
    buf_free(&reasons);
    buf_free(&degraded);
    if (!buf_ok(&b) || !b.data) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype, char *body)
{
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(strlen("out of memory\n"), (void *)"out of memory\n",
                                               MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(conn, body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    metrics *m = cls;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) { /* ignore any body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET /metrics or GET /health\n"));
    if (strcmp(url, "/metrics") == 0)
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", metrics_render(m));
    if (strcmp(url, "/health") == 0) {
        unsigned st = MHD_HTTP_OK;
        char *body = render_health(m, &st);
        return respond(conn, st, "application/json", body);
    }
    return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found: GET /metrics or GET /health\n"));
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The endpoint thread: run the daemon, letting go of fork_mu only while waiting for it. */
static void *serve(void *arg)
{
    metrics *m = arg;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
    int epfd = di ? di->epoll_fd : -1;
    pthread_mutex_lock(&m->fork_mu);
    m->serving = true;
    pthread_cond_broadcast(&m->serving_cv);
    while (!atomic_load(&m->quit)) {
        MHD_UNSIGNED_LONG_LONG to = 0;
        int ms = MHD_get_timeout(m->d, &to) == MHD_YES ? (to < 1000 ? (int)to : 1000) : 1000;
        struct pollfd p[2] = {{epfd, POLLIN, 0}, {m->wake[0], POLLIN, 0}};
        pthread_mutex_unlock(&m->fork_mu);
        poll(p, 2, ms);
        pthread_mutex_lock(&m->fork_mu);
        MHD_run(m->d);
    }
    pthread_mutex_unlock(&m->fork_mu);
    return NULL;
}

bool metrics_fork_begin(metrics *m)
{
    if (!m || !m->th_started)
        return true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += MT_FORK_WAIT_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&m->fork_mu, &until) == 0;
}

void metrics_fork_end(metrics *m)
{
    if (m && m->th_started)
        pthread_mutex_unlock(&m->fork_mu);
}

bool metrics_start(metrics *m, const char *listen, const cfg *c, char *err, size_t errsz)
{
    char host[256];
    int port;
    if (!metrics_parse_listen(listen, host, sizeof host, &port, err, errsz))
        return false;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errsz, "--metrics %s: cannot resolve \"%s\": %s", listen, host, gai_strerror(gai));
        return false;
    }
    m->conninfo = dup_or_null(c->postgres ? c->postgres : "");
    m->schema = dup_or_null(c->schema ? c->schema : "versync");
    m->wal_slot = wal_table_count(c) && c->wal_slot ? dup_or_null(c->wal_slot) : NULL;
    m->store = c->store;
    m->store.url = dup_or_null(c->store.url);
    m->store.username = dup_or_null(c->store.username);
    m->store.password = dup_or_null(c->store.password);
    m->store.api_key = dup_or_null(c->store.api_key);
    m->store.ca_file = dup_or_null(c->store.ca_file);
    m->step_limit_ms = watchdog_step_limit_ms(c);
    /* /health must answer quickly even when the store hangs. */
    if (m->store.timeout_ms <= 0 || m->store.timeout_ms > 2000)
        m->store.timeout_ms = 2000;
    /* Driven by a thread of ours (serve), not MHD's own, so that forks can wait for it. */
    unsigned flags = MHD_USE_EPOLL | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_END);
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (!m->d) {
        snprintf(err, errsz, "--metrics %s: cannot listen on %s port %d (in use, or not an address of this host?)",
                 listen, host, port);
        return false;
    }
    if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) != 0 || pthread_create(&m->th, NULL, serve, m) != 0) {
        snprintf(err, errsz, "--metrics %s: cannot start the endpoint thread: %s", listen, strerror(errno));
        return false;
    }
    m->th_started = true;
    /* No fork before the thread is in its loop: while it starts it may hold the allocator's locks. */
    pthread_mutex_lock(&m->fork_mu);
    while (!m->serving)
        pthread_cond_wait(&m->serving_cv, &m->fork_mu);
    pthread_mutex_unlock(&m->fork_mu);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = di ? di->port : port;
    log_info("metrics on http://%s%s%s:%d/metrics and /health", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    return true;
}
