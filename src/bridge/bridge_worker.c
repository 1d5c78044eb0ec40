/* bridge_worker — claim change rows, re-read them, bulk-write with external versions, commit; and the worker loop. */
#include "versync/worker.h"

#include "versync/buf.h"
#include "versync/bulk.h"
#include "versync/cursor.h"
#include "versync/esclient.h"
#include "versync/log.h"
#include "versync/metrics.h"
#include "versync/nested.h"
#include "versync/render.h"
#include "versync/sql_embed.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX (64u << 20) /* a _bulk answer for batch_size items is far smaller */
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 30000
#define SUMMARY_EVERY_MS 10000

/* What to do with one key after coalescing. */
typedef enum action {
    ACT_NONE = 0, /* truncate marker, or a row gone by the re-read */
    ACT_INDEX,
    ACT_DELETE,
    ACT_DEAD, /* refused before sending (bad version, unmapped table) */
} action;

/* One claimed change row; strings point into the claim's PGresult. */
typedef struct change {
    int64_t seq;
    const char *tbl;
    const char *key_text; /* PostgreSQL text[] output, NULL for truncates */
    char op;
    const char *version_text; /* NULL: use seq */
    const char *changed_at;
    char **key; /* parsed key parts (heap) */
    size_t nkey;
    char *id; /* document id (heap), NULL for truncates */
} change;

/* One write: the group of changes of one key in the batch, represented by its latest change. */
typedef struct item {
    change *rep;
    cfg_table *t; /* NULL: table not in the config */
    int64_t max_seq;
    int64_t max_version; /* over the group's changes' versions (seq where NULL) */
    action act;
    bool want; /* waiting for its row in the re-read */
    int64_t version;
    const char *doc; /* points into a re-read PGresult */
    size_t doc_len;
    bulk_outcome outcome;
    int status; /* HTTP status of the store's answer, 0 if never sent */
    char error[1024];
} item;

struct worker {
    const cfg *c;
    worker_options o;
    PGconn *pg;
    esc *store;
    char name[300]; /* host:pid, the worker_stats key */
    char started_at[64];
    char *schema_ident;
    bool *prepared; /* per table: reread statement prepared on this connection */
    bool *table_ok; /* per table: key known (resolved or configured) */
    char **table_err; /* per table: why its key is unknown */
    long retry_after_ms;
    bool missing_schema; /* versync's schema or tables are not there: run `versync init` */
    long long pending_retries; /* retries not yet written to worker_stats */
    long long batch_no;        /* worker_batch calls so far, for X-Opaque-Id */
    char opaque_id[340];       /* X-Opaque-Id of this batch's _bulk requests: versync-HOST-PID-BATCH */
    worker_counters total;
    cursor *cur;      /* worker 1: polls the cursor tables ("capture": "cursor"), or NULL */
    bool any_trigger; /* some table is captured by triggers: claim change rows */
    bool cursor_config; /* the missing_schema error came from the cursor poller, whose message says it all */
    /* reused between batches */
    buf body, resp, tmp;
    change *changes;
    size_t changes_cap;
    item *items;
    size_t items_cap;
    size_t *order;
    bool *is_delete;
    bulk_item_result *results;
    size_t send_cap;
};

long long worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void worker_sleep_ms(long ms, const sigset_t *mask)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ppoll(NULL, 0, &ts, mask);
}

long worker_backoff_ms(int attempt)
{
    long cap = BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && cap < BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > BACKOFF_CAP_MS)
        cap = BACKOFF_CAP_MS;
    /* Full jitter, but never a busy loop. */
    long ms = (long)(random() % (cap + 1));
    return ms < BACKOFF_BASE_MS / 2 ? BACKOFF_BASE_MS / 2 : ms;
}

worker *worker_new(const cfg *c, const worker_options *o, char *err, size_t errsz)
{
    worker *w = calloc(1, sizeof *w);
    if (!w)
        goto oom;
    w->c = c;
    w->o = *o;
    w->retry_after_ms = -1;
    w->total.lag_ms = -1;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(w->name, sizeof w->name, "%s:%ld", host, (long)getpid());
    buf_init(&w->resp, RESP_MAX);
    w->prepared = calloc(c->ntables + 1, sizeof *w->prepared);
    w->table_ok = calloc(c->ntables + 1, sizeof *w->table_ok);
    w->table_err = calloc(c->ntables + 1, sizeof *w->table_err);
    if (!w->prepared || !w->table_ok || !w->table_err)
        goto oom;
    if (!(w->store = esc_new(&c->store, err, errsz)))
        goto fail;
    w->any_trigger = cursor_table_count(c) < c->ntables;
    /* One poller per process tree: worker 1 (or the single once process). */
    if (o->id <= 1 && cursor_table_count(c) > 0 &&
        !(w->cur = cursor_new(c, o->state_path, o->once, w->name, err, errsz)))
        goto fail;
    return w;
oom:
    snprintf(err, errsz, "out of memory");
fail:
    worker_free(w);
    return NULL;
}

static void free_changes(worker *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        render_free_array(w->changes[i].key, w->changes[i].nkey);
        free(w->changes[i].id);
        w->changes[i].key = NULL;
        w->changes[i].id = NULL;
    }
}

static void disconnect(worker *w)
{
    metrics_pg_state(false);
    if (w->pg)
        PQfinish(w->pg);
    w->pg = NULL;
    if (w->schema_ident)
        PQfreemem(w->schema_ident);
    w->schema_ident = NULL;
    memset(w->prepared, 0, (w->c->ntables + 1) * sizeof *w->prepared);
}

void worker_free(worker *w)
{
    if (!w)
        return;
    disconnect(w);
    esc_free(w->store);
    cursor_free(w->cur);
    buf_free(&w->body);
    buf_free(&w->resp);
    buf_free(&w->tmp);
    free(w->changes);
    free(w->items);
    free(w->order);
    free(w->is_delete);
    free(w->results);
    free(w->prepared);
    free(w->table_ok);
    for (size_t i = 0; w->table_err && i < w->c->ntables; i++)
        free(w->table_err[i]);
    free(w->table_err);
    free(w);
}

long worker_retry_after_ms(const worker *w) { return w->retry_after_ms; }

/* One line: libpq messages end with a newline. */
static void pg_message(worker *w, const char *what, const PGresult *r, char *err, size_t errsz)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m)
        m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(w->pg);
    if (r) {
        /* versync's own tables missing: no retry will help until `versync init` ran. */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0) &&
            strncmp(what, "worker_", 7) == 0)
            w->missing_schema = true;
    }
    snprintf(err, errsz, "%s: %s", what, m);
    /* libpq's connection messages run over several lines; the first says it. */
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
}

static bool exec_ok(worker *w, const char *sql, const char *what, char *err, size_t errsz)
{
    PGresult *r = PQexec(w->pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        pg_message(w, what, r, err, errsz);
    PQclear(r);
    return ok;
}

static bool prepare_file(worker *w, const char *stmt, const char *file, char *err, size_t errsz)
{
    char *sql = sql_render(file, w->schema_ident);
    if (!sql) {
        snprintf(err, errsz, "embedded SQL %s missing or out of memory", file);
        return false;
    }
    PGresult *r = PQprepare(w->pg, stmt, sql, 0, NULL);
    free(sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_message(w, file, r, err, errsz);
    PQclear(r);
    return ok;
}

/* Fill the key of a table whose config gives none from its primary key. */
static bool resolve_key(worker *w, cfg_table *t, char *err, size_t errsz)
{
    const char *params[2] = {t->schema, t->name};
    PGresult *r = PQexecParams(w->pg, sql_text("worker_primary_key"), 2, NULL, params, NULL, NULL, 0);
    bool ok = false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_message(w, t->ident, r, err, errsz);
        goto done;
    }
    int n = PQntuples(r);
    if (t->nkey == 0 && n == 0) {
        snprintf(err, errsz, "table %s has no primary key and the config gives no \"key\"", t->ident);
        goto done;
    }
    if (t->nkey == 0) {
        char **key = calloc((size_t)n, sizeof *key);
        if (!key)
            goto oom;
        t->key = key;
        for (int i = 0; i < n; i++) {
            if (!(key[i] = strdup(PQgetvalue(r, i, 0))))
                goto oom;
            t->nkey = (size_t)i + 1;
        }
    }
    if (!t->key_types) {
        /* Types only when they are the primary key's own columns, in order. */
        bool same = (size_t)n == t->nkey;
        for (int i = 0; same && i < n; i++)
            same = strcmp(PQgetvalue(r, i, 0), t->key[i]) == 0;
        if (same) {
            char **types = calloc(t->nkey, sizeof *types);
            if (!types)
                goto oom;
            for (int i = 0; i < n; i++)
                if (!(types[i] = strdup(PQgetvalue(r, i, 1)))) {
                    for (int j = 0; j < i; j++)
                        free(types[j]);
                    free(types);
                    goto oom;
                }
            t->key_types = types;
        }
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    PQclear(r);
    return ok;
}

bool worker_connect(worker *w, char *err, size_t errsz)
{
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK)
        return true;
    disconnect(w);
    char appname[64];
    snprintf(appname, sizeof appname, "versync worker %d", w->o.id);
    /* Our defaults first: anything the user's conninfo says wins. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", appname, w->c->postgres ? w->c->postgres : "", NULL};
    w->pg = PQconnectdbParams(keys, vals, 1);
    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK) {
        snprintf(err, errsz, "PostgreSQL: %s", w->pg ? PQerrorMessage(w->pg) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = '\0';
        disconnect(w);
        return false;
    }
    const char *schema = w->c->schema ? w->c->schema : "versync";
    if (!(w->schema_ident = PQescapeIdentifier(w->pg, schema, strlen(schema)))) {
        pg_message(w, "quoting the schema", NULL, err, errsz);
        goto fail;
    }
    /* Only cursor tables (perhaps on a replica without versync's schema): no change table to claim from. */
    if (w->any_trigger && (!prepare_file(w, "claim", "worker_claim", err, errsz) ||
        !prepare_file(w, "dead_letter", "worker_dead_letter", err, errsz) ||
        !prepare_file(w, "stats", "worker_stats", err, errsz) ||
        !prepare_file(w, "backlog", "worker_backlog", err, errsz)))
        goto fail;
    for (size_t i = 0; i < w->c->ntables; i++) {
        cfg_table *t = &w->c->tables[i];
        if (w->table_ok[i])
            continue;
        char why[512];
        if (!resolve_key(w, t, why, sizeof why) || !nested_catalog_resolve(w->c, t, w->pg, NULL, why, sizeof why)) {
            /* Its changes become dead letters naming this; other tables go on. */
            log_warn("%s", why);
            free(w->table_err[i]);
            w->table_err[i] = strdup(why);
            continue;
        }
        w->table_ok[i] = true;
    }
    if (w->c->listen && w->any_trigger) {
        const char *chan = w->c->channel ? w->c->channel : "versync";
        char *q = PQescapeIdentifier(w->pg, chan, strlen(chan));
        if (!q) {
            pg_message(w, "quoting the channel", NULL, err, errsz);
            goto fail;
        }
        buf_reset(&w->tmp);
        bool ok = buf_puts(&w->tmp, "LISTEN ") && buf_puts(&w->tmp, q);
        PQfreemem(q);
        if (!ok || !exec_ok(w, w->tmp.data, "LISTEN", err, errsz))
            goto fail;
    }
    metrics_pg_state(true);
    return true;
fail:
    disconnect(w);
    return false;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static int cmp_change(const void *a, const void *b)
{
    const change *x = a, *y = b;
    int c = strcmp(x->tbl, y->tbl);
    if (c)
        return c;
    if (!x->id || !y->id) /* truncates sort by seq only */
        c = (x->id != NULL) - (y->id != NULL);
    else
        c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static cfg_table *find_table(worker *w, const char *ident, size_t *idx)
{
    for (size_t i = 0; i < w->c->ntables; i++)
        if (strcmp(w->c->tables[i].ident, ident) == 0) {
            *idx = i;
            return &w->c->tables[i];
        }
    return NULL;
}

static void dead(item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dead(item *it, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->error, sizeof it->error, fmt, ap);
    va_end(ap);
    it->act = ACT_DEAD;
    it->outcome = BULK_DEAD;
}

/* Item for (table, id) among items[lo, hi), sorted by (tbl, id). */
static item *find_item(item *items, size_t lo, size_t hi, const char *id)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mid_id = items[mid].rep->id;
        int c = mid_id ? strcmp(mid_id, id) : -1; /* truncates (no id) sort first */
        if (c == 0)
            return &items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Re-read the rows of table `t` named by items[lo, hi) that need it, in one
 * statement; fill doc/version/action. The result is kept in *res until the
 * batch ends because items point into it. */
static bool reread(worker *w, size_t tidx, item *items, size_t lo, size_t hi, PGresult **res, char *err,
                   size_t errsz)
{
    cfg_table *t = &w->c->tables[tidx];
    char stmt[32];
    snprintf(stmt, sizeof stmt, "reread_%zu", tidx);
    if (!w->prepared[tidx]) {
        char *sql = render_reread(w->pg, t, err, errsz);
        if (!sql)
            return false;
        PGresult *r = PQprepare(w->pg, stmt, sql, (int)t->nkey, NULL);
        free(sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            pg_message(w, t->ident, r, err, errsz);
        PQclear(r);
        if (!ok)
            return false;
        w->prepared[tidx] = true;
    }
    /* One text-array literal per key column, parallel. */
    size_t nk = t->nkey, n = 0;
    buf *arrs = calloc(nk, sizeof *arrs);
    const char **params = calloc(nk, sizeof *params);
    const char **parts = calloc(hi - lo + 1, sizeof *parts);
    bool ok = false;
    if (!arrs || !params || !parts) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < nk; k++) {
        n = 0;
        for (size_t i = lo; i < hi; i++)
            if (items[i].act == ACT_INDEX && items[i].rep->nkey == nk)
                parts[n++] = items[i].rep->key[k];
        if (!render_array_literal(&arrs[k], parts, n)) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        params[k] = arrs[k].data;
    }
    if (n == 0) {
        ok = true;
        goto done;
    }
    PGresult *r = PQexecPrepared(w->pg, stmt, (int)nk, params, NULL, NULL, 0);
    *res = r;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_message(w, t->ident, r, err, errsz);
        goto done;
    }
    /* Mark every row we asked for as gone; the rows that come back revive. */
    for (size_t i = lo; i < hi; i++)
        if (items[i].act == ACT_INDEX && items[i].rep->nkey == nk) {
            items[i].act = ACT_NONE;
            items[i].want = true;
        }
    for (int row = 0; row < PQntuples(r); row++) {
        char **key;
        size_t kn;
        if (!render_parse_text_array(PQgetvalue(r, row, RENDER_COL_KEY), &key, &kn)) {
            snprintf(err, errsz, "%s: cannot parse key %s", t->ident, PQgetvalue(r, row, RENDER_COL_KEY));
            goto done;
        }
        buf_reset(&w->tmp);
        bool idok = bulk_doc_id(&w->tmp, (const char *const *)key, kn);
        render_free_array(key, kn);
        if (!idok) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        item *it = find_item(items, lo, hi, w->tmp.data);
        if (!it || !it->want)
            continue; /* another key of a composite cross product */
        it->want = false;
        it->act = ACT_INDEX;
        it->doc = PQgetvalue(r, row, RENDER_COL_DOC);
        it->doc_len = (size_t)PQgetlength(r, row, RENDER_COL_DOC);
        bool soft = strcmp(PQgetvalue(r, row, RENDER_COL_DELETED), "t") == 0;
        if (t->version_kind == CFG_VERSION_SEQ) {
            it->version = it->max_seq;
        } else {
            char why[160];
            const char *v = PQgetisnull(r, row, RENDER_COL_VERSION) ? NULL : PQgetvalue(r, row, RENDER_COL_VERSION);
            if (!bulk_parse_version(v, &it->version, why, sizeof why)) {
                dead(it, "table %s, key %s: version %s \"%s\" %s", t->ident, it->rep->id,
                     t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", t->version_column, why);
                continue;
            }
        }
        if (soft && !t->deletes_ignore)
            it->act = ACT_DELETE;
    }
    ok = true;
done:
    for (size_t k = 0; arrs && k < nk; k++)
        buf_free(&arrs[k]);
    free(arrs);
    free(params);
    free(parts);
    return ok;
}

/* Fisher–Yates: the chaos option sends a batch's items in random order. */
static void shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)random() % i;
        size_t tmp = v[i - 1];
        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

static bool add_item(worker *w, buf *body, const item *it)
{
    const char *index = it->t->index ? it->t->index : it->t->name;
    bool versioned = !w->o.no_versions;
    const char *id = it->rep->id;
    if (it->act == ACT_DELETE)
        return bulk_add_delete(body, index, id, strlen(id), versioned, it->version);
    return bulk_add_index(body, index, id, strlen(id), versioned, it->version, it->doc, it->doc_len);
}

/* POST one _bulk of the first items of items[order[0..n)] that fit in
 * store.max_bulk_bytes (at least one), setting *sent to how many, and classify
 * each. Returns 1 when every sent item has an outcome, 0 when the request is
 * retryable (err set), -1 when the whole request was refused with `*status`
 * (400/413 …) and nothing applied. */
static int post_bulk(worker *w, const size_t *order, size_t n, size_t *sent, int *status, char *err, size_t errsz)
{
    size_t cap = w->c->store.max_bulk_bytes > 0 ? (size_t)w->c->store.max_bulk_bytes : (size_t)10 << 20;
    buf_reset(&w->body);
    for (size_t i = 0; i < n; i++) {
        size_t mark = w->body.len;
        w->is_delete[i] = w->items[order[i]].act == ACT_DELETE;
        if (!add_item(w, &w->body, &w->items[order[i]])) {
            snprintf(err, errsz, "out of memory building the bulk body");
            return 0;
        }
        if (i > 0 && w->body.len > cap) {
            /* The rest goes in the next request of the same claim. */
            w->body.len = mark;
            w->body.data[mark] = '\0';
            n = i;
            break;
        }
    }
    *sent = n;
    buf_reset(&w->resp);
    w->resp.overflow = false;
    int st = esc_request(w->store, "POST", "/_bulk", "application/x-ndjson", w->body.data, w->body.len,
                         w->opaque_id, &w->resp, err, errsz);
    metrics_store_answer(st);
    *status = st;
    w->retry_after_ms = esc_retry_after_ms(w->store);
    if (st == ESC_TRANSPORT_ERROR)
        return 0;
    if (st != 200) {
        if (bulk_classify_request(st) == BULK_RETRY || (st != 400 && st != 413)) {
            /* 401/403/404… are a configuration problem, not the documents': retry, do not dead-letter. */
            snprintf(err, errsz, "store %s answered HTTP %d to _bulk: %.300s", esc_url(w->store), st,
                     w->resp.data ? w->resp.data : "");
            return 0;
        }
        char why[1024];
        bulk_error_summary(w->resp.data, w->resp.len, why, sizeof why);
        snprintf(err, errsz, "HTTP %d: %s", st, why);
        return -1;
    }
    if (!bulk_parse_response(w->resp.data, w->resp.len, w->is_delete, w->results, n, err, errsz))
        return 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &w->items[order[i]];
        it->outcome = w->results[i].outcome;
        it->status = w->results[i].status;
        snprintf(it->error, sizeof it->error, "%s", w->results[i].error);
        if (it->outcome == BULK_RETRY) {
            snprintf(err, errsz, "store answered %d for %s/%s: %s", it->status, it->t->ident, it->rep->id,
                     it->error);
            return 0;
        }
    }
    return 1;
}

/* Send all writable items; false when the claim must be rolled back and retried. */
static bool send_items(worker *w, size_t nitems, char *err, size_t errsz)
{
    size_t n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (w->items[i].act == ACT_INDEX || w->items[i].act == ACT_DELETE)
            w->order[n++] = i;
    if (n == 0)
        return true;
    if (w->o.chaos_max_delay_ms > 0) {
        worker_sleep_ms(random() % (w->o.chaos_max_delay_ms + 1), NULL);
        shuffle(w->order, n);
    }
    /* Over store.max_bulk_bytes the batch goes out in several _bulk requests,
     * all inside this claim's transaction: a failure of any rolls it all back. */
    for (size_t off = 0; off < n;) {
        int status = 0;
        size_t sent = 0;
        int rc = post_bulk(w, w->order + off, n - off, &sent, &status, err, errsz);
        if (rc == 0)
            return false;
        if (rc > 0) {
            off += sent;
            continue;
        }
        if (sent == 1) {
            item *it = &w->items[w->order[off]];
            it->outcome = BULK_DEAD;
            it->status = status;
            snprintf(it->error, sizeof it->error, "%s", err);
            off += 1;
            continue;
        }
        /* The store refused the whole request (validation, size): find the culprits
         * one by one, so one bad document never blocks the others. */
        log_warn("store refused a bulk of %zu items (%s); sending them one by one", sent, err);
        size_t *one = malloc(sent * sizeof *one);
        if (!one) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
        memcpy(one, w->order + off, sent * sizeof *one);
        bool ok = true;
        for (size_t i = 0; ok && i < sent; i++) {
            size_t one_sent;
            rc = post_bulk(w, &one[i], 1, &one_sent, &status, err, errsz);
            if (rc == 0)
                ok = false;
            else if (rc < 0) {
                item *it = &w->items[one[i]];
                it->outcome = BULK_DEAD;
                it->status = status;
                snprintf(it->error, sizeof it->error, "%s", err);
            }
        }
        free(one);
        if (!ok)
            return false;
        off += sent;
    }
    return true;
}

static bool insert_dead_letter(worker *w, const item *it, char *err, size_t errsz)
{
    const change *c = it->rep;
    char seq[32], op[2] = {c->op, 0}, status[16];
    snprintf(seq, sizeof seq, "%" PRId64, c->seq);
    snprintf(status, sizeof status, "%d", it->status);
    const char *params[8] = {seq, c->tbl, c->key_text, op, c->version_text, c->changed_at, it->error,
                             it->status ? status : NULL};
    PGresult *r = PQexecPrepared(w->pg, "dead_letter", 8, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_message(w, "dead_letters", r, err, errsz);
    PQclear(r);
    return ok;
}

/* Add the deltas to this worker's worker_stats row (inside the open transaction when there is one). */
static bool write_stats(worker *w, const worker_counters *d, long long retries, const char *oldest,
                        long long *lag_ms, char *err, size_t errsz)
{
    char v[5][24];
    snprintf(v[0], sizeof v[0], "%lld", d->applied);
    snprintf(v[1], sizeof v[1], "%lld", d->stale);
    snprintf(v[2], sizeof v[2], "%lld", d->coalesced);
    snprintf(v[3], sizeof v[3], "%lld", d->dead_letters);
    snprintf(v[4], sizeof v[4], "%lld", retries);
    const char *params[8] = {w->name, w->started_at, v[0], v[1], v[2], v[3], v[4], oldest};
    PGresult *r = PQexecPrepared(w->pg, "stats", 8, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        pg_message(w, "worker_stats", r, err, errsz);
    else if (lag_ms && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *lag_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ok;
}

static int pg_failure(worker *w)
{
    if (w->pg && PQstatus(w->pg) != CONNECTION_OK)
        disconnect(w);
    else if (w->pg)
        PQclear(PQexec(w->pg, "ROLLBACK"));
    return WORKER_ERR_PG;
}

/* When the batch holds a nested document, draw its version (sql/nested_version.sql). A
 * nested root's write, index or delete, must show a snapshot taken after that draw, so a
 * delete is re-read too: the row's absence then is what deletes the document. */
static bool nested_draw_version(worker *w, size_t nitems, int64_t *v, char *err, size_t errsz)
{
    bool any = false;
    for (size_t i = 0; i < nitems; i++) {
        item *it = &w->items[i];
        if (!nested_is_tree(it->t) || (it->act != ACT_INDEX && it->act != ACT_DELETE))
            continue;
        it->act = ACT_INDEX;
        any = true;
    }
    if (!any)
        return true;
    char changes[400];
    snprintf(changes, sizeof changes, "%s.changes", w->schema_ident);
    const char *params[] = {changes};
    PGresult *r = PQexecParams(w->pg, sql_text("nested_version"), 1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        pg_message(w, "drawing the version of nested documents", r, err, errsz);
    PQclear(r);
    return ok;
}

int worker_batch(worker *w, char *err, size_t errsz)
{
    int ret = WORKER_ERR_PG;
    PGresult *claim = NULL;
    PGresult **reads = NULL;
    size_t nchanges = 0, nitems = 0;
    w->retry_after_ms = -1;
    snprintf(w->opaque_id, sizeof w->opaque_id, "versync-%s-%lld", w->name, ++w->batch_no);
    for (char *p = w->opaque_id; *p; p++)
        if (*p == ':')
            *p = '-'; /* w->name is host:pid */
    metrics_batch_begin();
    if (!w->pg && !worker_connect(w, err, errsz))
        return WORKER_ERR_PG;
    if (!w->started_at[0]) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->started_at, sizeof w->started_at, "%Y-%m-%d %H:%M:%S+00", &tm);
    }
    /* READ COMMITTED whatever the role's default: nested versions need each statement's own snapshot. */
    if (!exec_ok(w, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN", err, errsz))
        return pg_failure(w);

    /* 1. Claim. */
    char limit[16];
    snprintf(limit, sizeof limit, "%d", w->c->batch_size > 0 ? w->c->batch_size : 500);
    const char *cp[1] = {limit};
    claim = PQexecPrepared(w->pg, "claim", 1, cp, NULL, NULL, 0);
    if (PQresultStatus(claim) != PGRES_TUPLES_OK) {
        pg_message(w, "claiming changes", claim, err, errsz);
        goto pg_fail;
    }
    nchanges = (size_t)PQntuples(claim);
    if (nchanges == 0) {
        if (!exec_ok(w, "COMMIT", "COMMIT", err, errsz))
            goto pg_fail;
        ret = 0;
        goto done;
    }
    if (!grow((void **)&w->changes, &w->changes_cap, nchanges, sizeof *w->changes) ||
        !grow((void **)&w->items, &w->items_cap, nchanges, sizeof *w->items) ||
        !(reads = calloc(w->c->ntables + 1, sizeof *reads)))
        goto oom;
    if (w->send_cap < nchanges) {
        size_t *o = realloc(w->order, nchanges * sizeof *o);
        if (o)
            w->order = o;
        bool *d = realloc(w->is_delete, nchanges * sizeof *d);
        if (d)
            w->is_delete = d;
        bulk_item_result *r = realloc(w->results, nchanges * sizeof *r);
        if (r)
            w->results = r;
        if (!o || !d || !r)
            goto oom;
        w->send_cap = nchanges;
    }
    memset(w->changes, 0, nchanges * sizeof *w->changes);
    const char *oldest = NULL;
    for (size_t i = 0; i < nchanges; i++) {
        change *c = &w->changes[i];
        int row = (int)i;
        c->seq = strtoll(PQgetvalue(claim, row, 0), NULL, 10);
        c->tbl = PQgetvalue(claim, row, 1);
        c->key_text = PQgetisnull(claim, row, 2) ? NULL : PQgetvalue(claim, row, 2);
        c->op = PQgetvalue(claim, row, 3)[0];
        c->version_text = PQgetisnull(claim, row, 4) ? NULL : PQgetvalue(claim, row, 4);
        c->changed_at = PQgetvalue(claim, row, 5);
        if (c->key_text) {
            if (!render_parse_text_array(c->key_text, &c->key, &c->nkey)) {
                c->key = NULL;
                c->nkey = 0;
                snprintf(err, errsz, "change %" PRId64 ": cannot parse key %s", c->seq, c->key_text);
                goto pg_fail;
            }
            buf_reset(&w->tmp);
            if (!bulk_doc_id(&w->tmp, (const char *const *)c->key, c->nkey) || !(c->id = strdup(w->tmp.data)))
                goto oom;
        }
    }
    /* Changes arrive in seq order; the oldest changed_at is the first's only
     * roughly (clock_timestamp per row), so take the minimum by text order of
     * the same-format timestamps — close enough for a lag figure. */
    oldest = w->changes[0].changed_at;
    for (size_t i = 1; i < nchanges; i++)
        if (strcmp(w->changes[i].changed_at, oldest) < 0)
            oldest = w->changes[i].changed_at;

    /* 2. Coalesce: sorted by (table, id, seq), one item per key at its latest change. */
    qsort(w->changes, nchanges, sizeof *w->changes, cmp_change);
    worker_counters d = {0};
    d.lag_ms = -1;
    for (size_t i = 0; i < nchanges;) {
        size_t j = i + 1;
        if (w->changes[i].id)
            while (j < nchanges && w->changes[j].id && strcmp(w->changes[j].tbl, w->changes[i].tbl) == 0 &&
                   strcmp(w->changes[j].id, w->changes[i].id) == 0)
                j++;
        item *it = &w->items[nitems++];
        memset(it, 0, sizeof *it);
        it->rep = &w->changes[j - 1];
        it->max_seq = it->rep->seq;
        it->max_version = -1;
        d.coalesced += (long long)(j - i - 1);
        size_t tidx = 0;
        it->t = find_table(w, it->rep->tbl, &tidx);
        if (j - i > 1)
            metrics_batch_count(it->t ? tidx : w->c->ntables, METRICS_COALESCED, (long long)(j - i - 1));
        for (size_t k = i; k < j; k++) {
            int64_t v = w->changes[k].seq;
            if (w->changes[k].version_text)
                v = strtoll(w->changes[k].version_text, NULL, 10);
            if (v > it->max_version)
                it->max_version = v;
        }
        i = j;
        if (!it->rep->id) {
            it->act = ACT_NONE; /* truncate: only marks the table for resync */
            continue;
        }
        if (!it->t) {
            dead(it, "table %s is not in the config (%s)", it->rep->tbl, w->c->path ? w->c->path : "");
            continue;
        }
        if (!w->table_ok[tidx]) {
            dead(it, "table %s: %s", it->t->ident, w->table_err[tidx] ? w->table_err[tidx] : "key unknown");
            continue;
        }
        if (it->rep->nkey != it->t->nkey) {
            dead(it, "table %s: change has %zu key parts, the mapping's key has %zu", it->t->ident,
                 it->rep->nkey, it->t->nkey);
            continue;
        }
        if (it->rep->op == 'D') {
            if (it->t->deletes_ignore) {
                it->act = ACT_NONE;
                continue;
            }
            it->act = ACT_DELETE;
            it->version = it->t->version_kind == CFG_VERSION_SEQ ? it->max_seq : it->max_version;
            if (it->version < 0)
                dead(it, "table %s, key %s: delete version %" PRId64 " is negative", it->t->ident, it->rep->id,
                     it->version);
        } else {
            it->act = ACT_INDEX;
        }
    }

    /* Nested documents take a version drawn now, between the claim and the re-reads. */
    int64_t nested_version = -1;
    if (!nested_draw_version(w, nitems, &nested_version, err, errsz))
        goto pg_fail;

    /* 3. Re-read, one statement per table (items are grouped by table). */
    for (size_t lo = 0; lo < nitems;) {
        size_t hi = lo + 1;
        while (hi < nitems && strcmp(w->items[hi].rep->tbl, w->items[lo].rep->tbl) == 0)
            hi++;
        size_t tidx;
        if (w->items[lo].t && find_table(w, w->items[lo].rep->tbl, &tidx)) {
            bool any = false;
            for (size_t i = lo; i < hi; i++)
                any |= w->items[i].act == ACT_INDEX;
            if (any && !reread(w, tidx, w->items, lo, hi, &reads[tidx], err, errsz))
                goto pg_fail;
        }
        lo = hi;
    }

    for (size_t i = 0; nested_version >= 0 && i < nitems; i++) {
        item *it = &w->items[i];
        if (!nested_is_tree(it->t))
            continue;
        /* Gone at the re-read: delete, whatever the batch's last change said (a child's change
         * can name a root after the root's delete, its walk having run before that committed). */
        if (it->act == ACT_NONE && it->want && !it->t->deletes_ignore)
            it->act = ACT_DELETE;
        if (it->act == ACT_INDEX || it->act == ACT_DELETE)
            it->version = nested_version;
    }

    /* 4–5. One _bulk; classify. */
    if (!send_items(w, nitems, err, errsz)) {
        PQclear(PQexec(w->pg, "ROLLBACK"));
        if (PQstatus(w->pg) != CONNECTION_OK)
            disconnect(w);
        ret = WORKER_ERR_STORE;
        goto done;
    }
    for (size_t i = 0; i < nitems; i++) {
        item *it = &w->items[i];
        if (it->act == ACT_NONE) {
            d.skipped++;
            continue;
        }
        size_t mt = it->t ? (size_t)(it->t - w->c->tables) : w->c->ntables;
        switch (it->outcome) {
        case BULK_APPLIED:
            d.applied++;
            metrics_batch_count(mt, METRICS_APPLIED, 1);
            break;
        case BULK_STALE:
            d.stale++;
            metrics_batch_count(mt, METRICS_STALE, 1);
            break;
        case BULK_DEAD:
            d.dead_letters++;
            metrics_batch_count(mt, METRICS_DEAD, 1);
            log_warn("dead letter: table %s key %s seq %" PRId64 ": %s", it->rep->tbl, it->rep->id ? it->rep->id : "",
                     it->rep->seq, it->error);
            if (!insert_dead_letter(w, it, err, errsz))
                goto pg_fail;
            break;
        case BULK_RETRY:
            break;
        }
    }
    /* 6. Commit, with this batch's counters in the same transaction. */
    if (!write_stats(w, &d, w->pending_retries, oldest, &d.lag_ms, err, errsz))
        goto pg_fail;
    if (!exec_ok(w, "COMMIT", "COMMIT", err, errsz))
        goto pg_fail;
    w->pending_retries = 0;
    metrics_batch_commit();
    w->total.applied += d.applied;
    w->total.stale += d.stale;
    w->total.coalesced += d.coalesced;
    w->total.dead_letters += d.dead_letters;
    w->total.skipped += d.skipped;
    w->total.changes += (long long)nchanges;
    w->total.batches++;
    if (d.lag_ms >= 0)
        w->total.lag_ms = d.lag_ms;
    log_debug("batch: %zu changes, %zu writes: %lld applied, %lld stale, %lld coalesced, %lld dead letters, "
              "%lld skipped",
              nchanges, nitems, d.applied, d.stale, d.coalesced, d.dead_letters, d.skipped);
    ret = (int)nchanges;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
pg_fail:
    ret = pg_failure(w);
done:
    if (ret < 0) {
        w->pending_retries++;
        w->total.retries++;
        metrics_retry();
    }
    for (size_t i = 0; reads && i <= w->c->ntables; i++)
        PQclear(reads[i]);
    free(reads);
    free_changes(w, nchanges);
    PQclear(claim);
    return ret;
}

/* Wait for a NOTIFY on our connection or the poll interval, whichever comes first. */
static void wait_for_work(worker *w)
{
    long ms = w->c->poll_interval_ms > 0 ? w->c->poll_interval_ms : 1000;
    if (!w->c->listen || !w->pg) {
        worker_sleep_ms(ms, w->o.wait_mask);
        return;
    }
    /* A notification may already sit in libpq's queue (read during the last query). */
    PQconsumeInput(w->pg);
    bool pending = false;
    PGnotify *n;
    while ((n = PQnotifies(w->pg))) {
        pending = true;
        PQfreemem(n);
    }
    if (pending)
        return;
    struct pollfd pfd = {PQsocket(w->pg), POLLIN, 0};
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    if (ppoll(&pfd, 1, &ts, w->o.wait_mask) > 0) {
        PQconsumeInput(w->pg);
        while ((n = PQnotifies(w->pg)))
            PQfreemem(n);
    }
}

static void log_summary(worker *w, worker_counters *last)
{
    const worker_counters *t = &w->total;
    char backlog[32] = "?";
    if (w->pg && w->any_trigger) {
        PGresult *r = PQexecPrepared(w->pg, "backlog", 0, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snprintf(backlog, sizeof backlog, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    char lag[32] = "-";
    if (t->lag_ms >= 0)
        snprintf(lag, sizeof lag, "%lldms", t->lag_ms);
    log_info("last 10s: %lld applied, %lld stale, %lld coalesced, %lld dead letters, %lld retries; backlog %s, "
             "lag %s",
             t->applied - last->applied, t->stale - last->stale, t->coalesced - last->coalesced,
             t->dead_letters - last->dead_letters, t->retries - last->retries, backlog, lag);
    *last = *t;
}

/* Stop signals are blocked outside waits so they never interrupt libpq or
 * curl; between batches, let any pending one run its (flag-setting) handler. */
static void deliver_signals(const worker_options *o)
{
    if (!o->wait_mask)
        return;
    sigset_t cur;
    sigprocmask(SIG_SETMASK, o->wait_mask, &cur);
    sigprocmask(SIG_SETMASK, &cur, NULL);
}

/* One unit of work: a batch of change rows, then (worker 1) a page of a cursor table.
 * Returns what worker_batch returns, counting cursor pages as work done. */
static int work_step(worker *w, char *err, size_t errsz)
{
    int n = w->any_trigger ? worker_batch(w, err, errsz) : 0;
    if (n < 0 || !w->cur)
        return n;
    if (!w->started_at[0]) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->started_at, sizeof w->started_at, "%Y-%m-%d %H:%M:%S+00", &tm);
    }
    worker_counters d = {0};
    int m = cursor_step(w->cur, w->pg, w->store, w->started_at, &d, err, errsz);
    w->total.applied += d.applied;
    w->total.stale += d.stale;
    w->total.dead_letters += d.dead_letters;
    w->total.changes += d.changes;
    w->total.batches += d.batches;
    if (m == CURSOR_ERR_CONFIG) {
        w->missing_schema = w->cursor_config = true; /* no place for the checkpoint: err says what to do */
        return WORKER_ERR_PG;
    }
    if (m < 0) {
        w->total.retries++;
        if (w->pg && PQstatus(w->pg) != CONNECTION_OK)
            disconnect(w);
        return m == CURSOR_ERR_STORE ? WORKER_ERR_STORE : WORKER_ERR_PG;
    }
    return n + m;
}

int worker_main(const cfg *c, const worker_options *o, worker_counters *totals)
{
    char err[1024];
    int rc = 0;
    srandom((unsigned)(getpid() ^ time(NULL)));
    worker *w = worker_new(c, o, err, sizeof err);
    if (!w) {
        log_error("%s", err);
        return 2;
    }
    worker_counters last = w->total;
    long long next_summary = worker_now_ms() + SUMMARY_EVERY_MS;
    long long outage_since = 0; /* 0: none */
    int outage_kind = 0, attempt = 0;
    while (!(o->stop && *o->stop)) {
        deliver_signals(o);
        if (o->stop && *o->stop)
            break;
        int n = worker_connect(w, err, sizeof err) ? work_step(w, err, sizeof err) : WORKER_ERR_PG;
        long long now = worker_now_ms();
        if (n < 0 && w->missing_schema) {
            const char *schema = c->schema ? c->schema : "versync";
            if (o->once && w->cursor_config) {
                log_error("%s", err);
                rc = 2;
                break;
            }
            if (o->once) {
                log_error("%s; versync's tables in schema \"%s\" are missing: run `versync init` first", err,
                          schema);
                rc = 2;
                break;
            }
            if (!outage_since && w->cursor_config)
                log_error("%s; retrying", err);
            else if (!outage_since)
                log_error("%s; versync's tables in schema \"%s\" are missing: run `versync init`; "
                          "retrying until they exist", err, schema);
            w->cursor_config = false;
            w->missing_schema = false;
            outage_since = outage_since ? outage_since : now;
            outage_kind = n;
        } else if (n >= 0) {
            if (outage_since)
                log_info("%s reachable again after %.1f s", outage_kind == WORKER_ERR_PG ? "PostgreSQL" : "store",
                         (now - outage_since) / 1000.0);
            outage_since = 0;
            attempt = 0;
        } else {
            if (!outage_since || outage_kind != n)
                log_warn("%s; retrying with backoff until it recovers", err);
            else
                log_debug("still failing: %s", err);
            if (!outage_since)
                outage_since = now;
            outage_kind = n;
            if (o->once && o->timeout_ms > 0 && now - outage_since >= o->timeout_ms) {
                log_error("giving up: %s unreachable for %ld s (%s); nothing is lost, the changes stay queued",
                          n == WORKER_ERR_PG ? "PostgreSQL" : "the store", o->timeout_ms / 1000, err);
                rc = 1;
                break;
            }
        }
        if (!o->once && now >= next_summary) {
            log_summary(w, &last);
            next_summary = now + SUMMARY_EVERY_MS;
        }
        deliver_signals(o);
        if (o->stop && *o->stop)
            break;
        if (n > 0)
            continue;
        if (n == 0) {
            if (o->once)
                break;
            wait_for_work(w);
            continue;
        }
        long ms = worker_backoff_ms(attempt++);
        if (w->retry_after_ms > ms)
            ms = w->retry_after_ms > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : w->retry_after_ms;
        worker_sleep_ms(ms, o->wait_mask);
    }
    /* Retries of a failed tail are still worth recording. */
    if (w->pending_retries && w->pg && w->any_trigger) {
        worker_counters zero = {0};
        if (write_stats(w, &zero, w->pending_retries, NULL, NULL, err, sizeof err))
            w->pending_retries = 0;
    }
    if (totals)
        *totals = w->total;
    worker_free(w);
    return rc;
}
