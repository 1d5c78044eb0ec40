/* bridge_worker — claim change rows, re-read them, bulk-write with external versions, commit; and the worker loop. */
#include "versync/bridge/worker.h"
#include "versync/bridge/worker_wal.h"

#include "versync/bridge/batch.h"
#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/bridge/catalog.h"
#include "versync/bridge/cli.h"
#include "versync/bridge/cursor.h"
#include "versync/bridge/esclient.h"
#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/bridge/park.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"
#include "versync/common/timing.h"
#include "versync/bridge/truncate.h"
#include "versync/bridge/watchdog.h"

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

#define SUMMARY_EVERY_MS 10000
/* worker_stats is written at most this often (in a committing batch's own
 * transaction, or when idle), not once per batch: one round trip and one row
 * version fewer per batch at full speed, at the cost of up to this much
 * staleness in `versync status` and of losing these counts on a crash. */
#define STATS_EVERY_MS 1000

typedef batch_change change;
typedef batch_item item;

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
    worker_counters unflushed; /* committed batches' counters not yet written to worker_stats */
    long long stats_due_ms;    /* when worker_stats is next written */
    long long batch_no;        /* worker_batch calls so far, for X-Opaque-Id */
    char opaque_id[340];       /* X-Opaque-Id of this batch's _bulk requests: versync-HOST-PID-BATCH */
    worker_counters total;
    cursor *cur;      /* worker 1: polls the cursor tables ("capture": "cursor"), or NULL */
    worker_wal wal;   /* worker 1: consumes the slot of the "capture": "wal" tables (wal.ws NULL: not) */
    bool any_trigger; /* some table is captured by triggers: claim change rows */
    bool cursor_config; /* the missing_schema error came from the cursor poller, whose message says it all */
    park *park;               /* tables whose rows cannot be re-read: their changes wait */
    char reread_state[6];     /* SQLSTATE of the last failed re-read, "" when none */
    buf parked_arr;           /* the claim's exclusion list */
    size_t last_claimed;      /* change rows the last claim took, for the watchdog */
    int64_t claim_floor;      /* the next claim's first seq (0: from the oldest; WORKER_CLAIM_SLACK) */
    long long full_claim_ms;  /* when a claim last scanned from the oldest */
    /* The combined claim (sql/worker_claim_reread.sql): claim and re-read in one round trip. */
    bool *joined;        /* per table: re-read inside the prepared claim_reread (or the set it failed for) */
    bool *joined_read;   /* per table: this batch read its rows through claim_reread (park_confirm) */
    bool combined;       /* claim_reread is prepared for the tables in joined[] */
    bool combined_off;   /* claim_reread failed for joined[]: two statements until that set changes */
    bool two_statements; /* VERSYNC_BENCH_TWO_STATEMENTS=1: always claim, then re-read (the bench's baseline) */
    bool batch_combined; /* this batch claimed with claim_reread */
    /* reused between batches */
    buf tmp;
    change *changes;
    size_t changes_cap;
    item *items;
    size_t items_cap;
    size_t *order;
    bulk_op *ops;
    size_t send_cap;
    bulk_sender sender;
};

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
    w->prepared = calloc(c->ntables + 1, sizeof *w->prepared);
    w->table_ok = calloc(c->ntables + 1, sizeof *w->table_ok);
    w->table_err = calloc(c->ntables + 1, sizeof *w->table_err);
    w->joined = calloc(c->ntables + 1, sizeof *w->joined);
    w->joined_read = calloc(c->ntables + 1, sizeof *w->joined_read);
    const char *two = getenv("VERSYNC_BENCH_TWO_STATEMENTS");
    w->two_statements = two && strcmp(two, "1") == 0;
    if (!w->prepared || !w->table_ok || !w->table_err || !w->joined || !w->joined_read || !(w->park = park_new(c)))
        goto oom;
    if (!(w->store = esc_new(&c->store, err, errsz)))
        goto fail;
    bulk_sender_init(&w->sender, w->store, c->store.max_bulk_bytes > 0 ? (size_t)c->store.max_bulk_bytes : 0);
    w->sender.max_item_retries = c->store.max_item_retries;
    w->any_trigger = cursor_table_count(c) + wal_table_count(c) < c->ntables;
    /* One poller per process tree: worker 1 (or the single once process). */
    if (o->id <= 1 && cursor_table_count(c) > 0 &&
        !(w->cur = cursor_new(c, o->state_path, o->once, w->name, err, errsz)))
        goto fail;
    /* One slot, one consumer: worker 1 (README, "Logical replication capture"). */
    if (!worker_wal_init(&w->wal, c, o, err, errsz))
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
    w->combined = w->combined_off = false;
}

void worker_free(worker *w)
{
    if (!w)
        return;
    disconnect(w);
    esc_free(w->store);
    cursor_free(w->cur);
    worker_wal_free(&w->wal);
    bulk_sender_free(&w->sender);
    buf_free(&w->tmp);
    free(w->changes);
    free(w->items);
    free(w->order);
    free(w->ops);
    free(w->prepared);
    free(w->table_ok);
    free(w->joined);
    free(w->joined_read);
    for (size_t i = 0; w->table_err && i < w->c->ntables; i++)
        free(w->table_err[i]);
    free(w->table_err);
    park_free(w->park);
    buf_free(&w->parked_arr);
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

/* Keep the SQLSTATE of a failed re-read: some speak of one table alone (park.h). */
static void note_state(worker *w, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(w->reread_state, sizeof w->reread_state, "%s", st ? st : "");
}

/* Fill the key of a table whose config gives none from its primary key. */
static bool resolve_key(worker *w, cfg_table *t, char *err, size_t errsz)
{
    const char *params[2] = {t->schema, t->name};
    PGresult *r = PQexecParams(w->pg, sql_text("worker_primary_key"), 2, NULL, params, NULL, NULL, 0);
    bool ok = false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_message(w, t->ident, r, err, errsz);
        note_state(w, r);
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

/* The started_at of this worker's worker_stats row: when it first connected. */
static void stamp_started(worker *w)
{
    if (!w->started_at[0]) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->started_at, sizeof w->started_at, "%Y-%m-%d %H:%M:%S+00", &tm);
    }
}

bool worker_connect(worker *w, char *err, size_t errsz)
{
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK)
        return true;
    disconnect(w);
    char appname[64];
    snprintf(appname, sizeof appname, "versync worker %d", w->o.id);
    if (!(w->pg = pg_connect_named(w->c->postgres, appname, err, errsz))) {
        disconnect(w);
        return false;
    }
    if (!exec_ok(w, sql_text("worker_session"), "worker_session", err, errsz))
        goto fail;
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
        w->reread_state[0] = '\0';
        if (!resolve_key(w, t, why, sizeof why) || !catalog_load_columns(t, w->pg, why, sizeof why) ||
            !nested_catalog_resolve(w->c, t, w->pg, NULL, why, sizeof why)) {
            if (park_sqlstate_parks(w->reread_state)) {
                /* A dropped table (or a revoked grant): park it, do not dead-letter its changes. */
                park_table(w->park, w->pg, w->schema_ident, w->name, i, w->reread_state, why);
                continue;
            }
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

/* Prepare table tidx's re-read statement (reread_N) unless it is. */
static bool prepare_reread(worker *w, size_t tidx, char *err, size_t errsz)
{
    if (w->prepared[tidx])
        return true;
    cfg_table *t = &w->c->tables[tidx];
    char stmt[32];
    snprintf(stmt, sizeof stmt, "reread_%zu", tidx);
    char *sql = render_reread(w->pg, t, err, errsz);
    if (!sql)
        return false;
    PGresult *r = PQprepare(w->pg, stmt, sql, (int)t->nkey, NULL);
    free(sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        pg_message(w, t->ident, r, err, errsz);
        note_state(w, r);
    }
    PQclear(r);
    w->prepared[tidx] = ok;
    return ok;
}

/* Forget table tidx's re-read statement, so the next use plans it against
 * the table as it is now. Outside a failed transaction only. */
static void unprepare_reread(worker *w, size_t tidx)
{
    if (!w->prepared[tidx])
        return;
    char sql[48];
    snprintf(sql, sizeof sql, "DEALLOCATE reread_%zu", tidx);
    PQclear(PQexec(w->pg, sql));
    w->prepared[tidx] = false;
}

/* Can table i be re-read inside the combined claim? A trigger-captured table whose key and
 * key types are known and that is not parked. Nested roots are not: their version is drawn
 * after the claim, and their re-read must see a snapshot taken after that draw. */
static bool joinable(const worker *w, size_t i)
{
    const cfg_table *t = &w->c->tables[i];
    if (t->capture != CFG_CAPTURE_TRIGGER || !w->table_ok[i] || park_is_parked(w->park, i) || nested_is_tree(t) ||
        !t->key_types || t->nkey == 0)
        return false;
    for (size_t k = 0; k < t->nkey; k++)
        if (!t->key_types[k] || !*t->key_types[k])
            return false;
    return true;
}

/* Have claim_reread prepared for the joinable tables, outside any transaction (a failed
 * PREPARE inside one would abort it). Sets w->combined when the next claim can use it. A
 * table whose re-read cannot be planned (dropped column, revoked grant) makes the statement
 * fail: then the batches take two statements, which name and park that table, until the set
 * of joinable tables changes. False (err set) only when PostgreSQL itself failed. */
static bool prepare_combined(worker *w, char *err, size_t errsz)
{
    size_t n = w->c->ntables, nj = 0;
    bool same = true;
    for (size_t i = 0; i < n; i++) {
        bool j = !w->two_statements && joinable(w, i);
        nj += j;
        same = same && j == w->joined[i];
    }
    if (same && (w->combined || w->combined_off || nj == 0))
        return true;
    if (w->combined)
        PQclear(PQexec(w->pg, "DEALLOCATE claim_reread"));
    w->combined = w->combined_off = false;
    for (size_t i = 0; i < n; i++)
        w->joined[i] = !w->two_statements && joinable(w, i);
    if (nj == 0)
        return true;
    char why[512] = "";
    buf lateral = BUF_INIT;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        if (!w->joined[i])
            continue;
        if (lateral.len && !buf_puts(&lateral, " UNION ALL ")) {
            snprintf(why, sizeof why, "out of memory");
            ok = false;
            break;
        }
        ok = render_reread_lateral(w->pg, &w->c->tables[i], "cl", &lateral, why, sizeof why);
    }
    char *sql = NULL;
    if (ok) {
        const char *vars[] = {"schema", w->schema_ident, "reread", lateral.data, NULL};
        if (!(sql = sql_render_vars("worker_claim_reread", vars))) {
            snprintf(err, errsz, "embedded SQL worker_claim_reread missing or out of memory");
            buf_free(&lateral);
            return false;
        }
        PGresult *r = PQprepare(w->pg, "claim_reread", sql, 0, NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            pg_message(w, "worker_claim_reread", r, why, sizeof why);
        PQclear(r);
    }
    free(sql);
    buf_free(&lateral);
    if (PQstatus(w->pg) != CONNECTION_OK) {
        snprintf(err, errsz, "%s", why);
        return false;
    }
    w->combined = ok;
    w->combined_off = !ok;
    if (!ok)
        log_debug("claiming and re-reading in two statements: %s", why);
    return true;
}

/* Probe the parked tables whose turn has come: their re-read, prepared
 * afresh and run with no keys outside any transaction, shows whether the
 * column, table or grant is back. A table that reads again resumes; one that
 * still fails is parked for longer. False (err set) when PostgreSQL itself failed. */
static bool probe_parked(worker *w, char *err, size_t errsz)
{
    for (size_t i = park_next_due(w->park, 0); i != SIZE_MAX; i = park_next_due(w->park, i + 1)) {
        cfg_table *t = &w->c->tables[i];
        unprepare_reread(w, i);
        w->reread_state[0] = '\0';
        bool ok = w->table_ok[i] || (w->table_ok[i] = resolve_key(w, t, err, errsz));
        ok = ok && prepare_reread(w, i, err, errsz);
        if (ok) {
            char stmt[32];
            snprintf(stmt, sizeof stmt, "reread_%zu", i);
            const char **params = calloc(t->nkey ? t->nkey : 1, sizeof *params);
            if (!params) {
                snprintf(err, errsz, "out of memory");
                return false;
            }
            for (size_t k = 0; k < t->nkey; k++)
                params[k] = "{}";
            PGresult *r = PQexecPrepared(w->pg, stmt, (int)t->nkey, params, NULL, NULL, 0);
            free(params);
            ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            if (!ok) {
                pg_message(w, t->ident, r, err, errsz);
                note_state(w, r);
            }
            PQclear(r);
        }
        if (ok) {
            park_resume(w->park, w->pg, w->schema_ident, i);
            continue;
        }
        if (!park_sqlstate_parks(w->reread_state) && PQstatus(w->pg) != CONNECTION_OK)
            return false; /* PostgreSQL itself: the outage path retries */
        unprepare_reread(w, i);
        park_table(w->park, w->pg, w->schema_ident, w->name, i, w->reread_state, err);
    }
    return true;
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
    if (!prepare_reread(w, tidx, err, errsz))
        return false;
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
            if (items[i].act == BATCH_INDEX && items[i].rep->nkey == nk)
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
        note_state(w, r);
        goto done;
    }
    /* Mark every row we asked for as gone; the rows that come back revive. */
    for (size_t i = lo; i < hi; i++)
        if (items[i].act == BATCH_INDEX && items[i].rep->nkey == nk) {
            items[i].act = BATCH_NONE;
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
        item *it = batch_find_item(items, lo, hi, w->tmp.data);
        if (!it || !it->want)
            continue; /* another key of a composite cross product */
        const char *v = PQgetisnull(r, row, RENDER_COL_VERSION) ? NULL : PQgetvalue(r, row, RENDER_COL_VERSION);
        batch_apply_row(it, PQgetvalue(r, row, RENDER_COL_DOC), (size_t)PQgetlength(r, row, RENDER_COL_DOC), v,
                        strcmp(PQgetvalue(r, row, RENDER_COL_DELETED), "t") == 0);
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

/* Does this item's version come from the application (a contract versync cannot keep for it)? */
static bool app_versioned(const worker *w, const item *it)
{
    return !w->o.no_versions && it->t && !it->t->managed &&
           (it->t->version_kind == CFG_VERSION_COLUMN || it->t->version_kind == CFG_VERSION_TIMESTAMP);
}

/* The ops the store refused (409) whose version the application keeps: re-read just those rows,
 * in this claim's transaction, and mark row_current where the row still has the version and the
 * document we sent. A row that moved on since has a newer change waiting (the trigger wrote it
 * with the change), so its refusal is an ordinary stale; a row that did not is the current row,
 * and the store's refusal then means its version did not advance (bulk_judge_conflicts). */
static bool mark_current(worker *w, size_t n, char *err, size_t errsz)
{
    bool ok = false;
    const char **parts = NULL;
    size_t *cand = NULL;
    buf *arrs = NULL;
    size_t narrs = 0;
    const char **params = NULL;
    PGresult *r = NULL;
    for (size_t tidx = 0; tidx < w->c->ntables; tidx++) {
        const cfg_table *t = &w->c->tables[tidx];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const item *it = &w->items[w->order[i]];
            if (w->ops[i].outcome == BULK_STALE && !w->ops[i].is_delete && it->t == t && app_versioned(w, it) &&
                it->rep->nkey == t->nkey) {
                if (!cand && !(cand = malloc(n * sizeof *cand)))
                    goto oom;
                cand[m++] = i;
            }
        }
        if (m == 0)
            continue;
        /* The combined claim read this table: its own re-read may not be prepared yet. */
        if (!prepare_reread(w, tidx, err, errsz))
            goto done;
        size_t nk = t->nkey;
        free(parts);
        free(params);
        for (size_t k = 0; k < narrs; k++)
            buf_free(&arrs[k]);
        free(arrs);
        parts = calloc(m, sizeof *parts);
        params = calloc(nk, sizeof *params);
        arrs = calloc(nk, sizeof *arrs);
        narrs = arrs ? nk : 0;
        if (!parts || !params || !arrs)
            goto oom;
        for (size_t k = 0; k < nk; k++) {
            for (size_t j = 0; j < m; j++)
                parts[j] = w->items[w->order[cand[j]]].rep->key[k];
            if (!render_array_literal(&arrs[k], parts, m))
                goto oom;
            params[k] = arrs[k].data;
        }
        char stmt[32];
        snprintf(stmt, sizeof stmt, "reread_%zu", tidx);
        PQclear(r);
        r = PQexecPrepared(w->pg, stmt, (int)nk, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pg_message(w, t->ident, r, err, errsz);
            goto done;
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
            if (!idok)
                goto oom;
            int64_t v;
            char why[160];
            const char *vt = PQgetisnull(r, row, RENDER_COL_VERSION) ? NULL : PQgetvalue(r, row, RENDER_COL_VERSION);
            if (strcmp(PQgetvalue(r, row, RENDER_COL_DELETED), "t") == 0 || !bulk_parse_version(vt, &v, why, sizeof why))
                continue;
            const char *doc = PQgetvalue(r, row, RENDER_COL_DOC);
            size_t doc_len = (size_t)PQgetlength(r, row, RENDER_COL_DOC);
            for (size_t j = 0; j < m; j++) {
                bulk_op *op = &w->ops[cand[j]];
                if (strcmp(op->id, w->tmp.data) == 0 && op->version == v && op->doc_len == doc_len &&
                    memcmp(op->doc, doc, doc_len) == 0)
                    op->row_current = true;
            }
        }
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    PQclear(r);
    for (size_t k = 0; k < narrs; k++)
        buf_free(&arrs[k]);
    free(arrs);
    free(parts);
    free(params);
    free(cand);
    return ok;
}

/* Send all writable items through the one sender; false when the claim must be rolled back and retried. */
static bool send_items(worker *w, size_t nitems, char *err, size_t errsz)
{
    size_t n = 0;
    for (size_t i = 0; i < nitems; i++)
        if (w->items[i].act == BATCH_INDEX || w->items[i].act == BATCH_DELETE)
            w->order[n++] = i;
    if (n == 0)
        return true;
    if (w->o.chaos_max_delay_ms > 0) {
        timing_sleep_ms(random() % (w->o.chaos_max_delay_ms + 1), NULL);
        shuffle(w->order, n);
    }
    for (size_t i = 0; i < n; i++) {
        const item *it = &w->items[w->order[i]];
        bulk_op *op = &w->ops[i];
        memset(op, 0, sizeof *op);
        op->index = it->t->index ? it->t->index : it->t->name;
        op->id = it->rep->id;
        op->id_len = strlen(it->rep->id);
        op->is_delete = it->act == BATCH_DELETE;
        op->vtype = w->o.no_versions ? BULK_VT_NONE : BULK_VT_EXTERNAL;
        op->version = it->version;
        op->doc = it->doc;
        op->doc_len = it->doc_len;
    }
    /* Over store.max_bulk_bytes the batch goes out in several _bulk requests,
     * all inside this claim's transaction: a failure of any rolls it all back. */
    w->sender.opaque_id = w->opaque_id;
    bool ok = bulk_send(&w->sender, w->ops, n, err, errsz) && mark_current(w, n, err, errsz) &&
              bulk_judge_conflicts(&w->sender, w->ops, n, err, errsz);
    w->retry_after_ms = w->sender.retry_after_ms;
    for (size_t i = 0; i < n; i++) {
        item *it = &w->items[w->order[i]];
        it->outcome = w->ops[i].outcome;
        it->status = w->ops[i].status;
        snprintf(it->error, sizeof it->error, "%s", w->ops[i].error);
    }
    return ok;
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

/* Outside a batch: write the counters not yet in worker_stats, if any. Best effort: on
 * failure they stay pending (logged at debug; the outage path reports PostgreSQL itself). */
static void flush_stats(worker *w, char *err, size_t errsz)
{
    const worker_counters *u = &w->unflushed;
    if (!w->pg || !w->any_trigger ||
        !(u->applied || u->stale || u->coalesced || u->dead_letters || w->pending_retries))
        return;
    if (!write_stats(w, u, w->pending_retries, NULL, NULL, err, errsz)) {
        log_debug("%s", err);
        return;
    }
    memset(&w->unflushed, 0, sizeof w->unflushed);
    w->pending_retries = 0;
    w->stats_due_ms = timing_now_ms() + STATS_EVERY_MS;
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
        if (!nested_is_tree(it->t) || (it->act != BATCH_INDEX && it->act != BATCH_DELETE))
            continue;
        it->act = BATCH_INDEX;
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

/* ---- worker_batch, phase by phase ------------------------------------------------------------ */

/* 0. Open: name the batch, connect, probe the parked tables, BEGIN. WORKER_ERR_* on failure. */
static int batch_open(worker *w, char *err, size_t errsz)
{
    w->retry_after_ms = -1;
    snprintf(w->opaque_id, sizeof w->opaque_id, "versync-%s-%lld", w->name, ++w->batch_no);
    for (char *p = w->opaque_id; *p; p++)
        if (*p == ':')
            *p = '-'; /* w->name is host:pid */
    metrics_batch_begin();
    if (!w->pg && !worker_connect(w, err, errsz))
        return WORKER_ERR_PG;
    stamp_started(w);
    if (park_count(w->park) && !probe_parked(w, err, errsz))
        return pg_failure(w);
    if (!park_exclusion(w->park, &w->parked_arr)) {
        snprintf(err, errsz, "out of memory");
        return pg_failure(w);
    }
    w->last_claimed = 0;
    if (w->any_trigger && !prepare_combined(w, err, errsz))
        return pg_failure(w);
    metrics_phase_enter(METRICS_PHASE_CLAIM);
    /* READ COMMITTED whatever the role's default: nested versions need each statement's own snapshot. */
    if (!exec_ok(w, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN", err, errsz))
        return pg_failure(w);
    return 0;
}

/* Room for n changes, items and ops in the buffers reused between batches. */
static bool batch_reserve(worker *w, size_t n)
{
    if (!GROW_ARRAY(w->changes, w->changes_cap, n, 64) || !GROW_ARRAY(w->items, w->items_cap, n, 64))
        return false;
    if (w->send_cap < n) {
        size_t *o = realloc(w->order, n * sizeof *o);
        if (o)
            w->order = o;
        bulk_op *ops = realloc(w->ops, n * sizeof *ops);
        if (ops)
            w->ops = ops;
        if (!o || !ops)
            return false;
        w->send_cap = n;
    }
    return true;
}

/* 1. Claim (never the changes of a parked table) into w->changes; *claim keeps the strings they
 * point at. False with err set; *nchanges counts the changes whose keys need freeing. */
static bool claim_changes(worker *w, PGresult **claim, size_t *nchanges, char *err, size_t errsz)
{
    char limit[16], floor[24];
    snprintf(limit, sizeof limit, "%d", w->c->batch_size > 0 ? w->c->batch_size : 500);
    w->batch_combined = w->combined;
    memset(w->joined_read, 0, (w->c->ntables + 1) * sizeof *w->joined_read);
    long long now = timing_now_ms();
    if (now - w->full_claim_ms >= WORKER_CLAIM_FULL_MS)
        w->claim_floor = 0;
    for (;;) {
        if (w->claim_floor == 0)
            w->full_claim_ms = now;
        snprintf(floor, sizeof floor, "%" PRId64, w->claim_floor);
        const char *cp[3] = {limit, w->parked_arr.data, floor};
        *claim = PQexecPrepared(w->pg, w->batch_combined ? "claim_reread" : "claim", 3, cp, NULL, NULL, 0);
        if (PQresultStatus(*claim) != PGRES_TUPLES_OK) {
            pg_message(w, "claiming changes", *claim, err, errsz);
            note_state(w, *claim);
            w->claim_floor = 0;
            return false;
        }
        if (PQntuples(*claim) > 0 || w->claim_floor == 0)
            break;
        /* nothing from the floor on: whatever is older must not wait for the next wake-up */
        PQclear(*claim);
        w->claim_floor = 0;
    }
    size_t n = (size_t)PQntuples(*claim);
    w->last_claimed = n;
    if (n == 0)
        return true;
    if (!batch_reserve(w, n)) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    memset(w->changes, 0, n * sizeof *w->changes);
    *nchanges = n;
    for (size_t i = 0; i < n; i++) {
        change *c = &w->changes[i];
        int row = (int)i;
        c->row = row;
        c->seq = strtoll(PQgetvalue(*claim, row, 0), NULL, 10);
        c->tbl = PQgetvalue(*claim, row, 1);
        c->key_text = PQgetisnull(*claim, row, 2) ? NULL : PQgetvalue(*claim, row, 2);
        c->op = PQgetvalue(*claim, row, 3)[0];
        c->version_text = PQgetisnull(*claim, row, 4) ? NULL : PQgetvalue(*claim, row, 4);
        c->changed_at = PQgetvalue(*claim, row, 5);
        if (i == 0 || c->seq - WORKER_CLAIM_SLACK < w->claim_floor)
            w->claim_floor = c->seq > WORKER_CLAIM_SLACK ? c->seq - WORKER_CLAIM_SLACK : 0;
        if (!c->key_text)
            continue;
        if (!render_parse_text_array(c->key_text, &c->key, &c->nkey)) {
            c->key = NULL;
            c->nkey = 0;
            snprintf(err, errsz, "change %" PRId64 ": cannot parse key %s", c->seq, c->key_text);
            return false;
        }
        buf_reset(&w->tmp);
        if (!bulk_doc_id(&w->tmp, (const char *const *)c->key, c->nkey) || !(c->id = strdup(w->tmp.data))) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
    }
    return true;
}

/* 2. Coalesce: one item per key at its latest change (batch_coalesce); returns the item count. */
static size_t coalesce(worker *w, size_t nchanges, worker_counters *d)
{
    size_t nitems = batch_coalesce(w->c, w->table_ok, w->table_err, w->changes, nchanges, w->items, &d->coalesced);
    for (size_t i = 0; i < nitems; i++)
        if (w->items[i].folded)
            metrics_batch_count(w->items[i].tidx, METRICS_COALESCED, w->items[i].folded);
    return nitems;
}

/* 3. Re-read: the tables the combined claim joined are read already (3a); the others, one
 * statement per table (items are grouped by table), the nested documents' version drawn first. A table whose re-read fails for a reason of its own (park.h) is named
 * in *park_tidx, for the caller to park once the batch rolled back. reads[tidx] keeps each
 * table's result, which the items point into. */
/* Columns of a claimed change row before the combined claim's RENDER_COL_* ones. */
#define CLAIM_NCOLS 6

/* 3a. Items of a table re-read inside the combined claim take their rows from its result:
 * NULLs there mean the row is gone (its delete has its own change row). */
static void take_joined(worker *w, const PGresult *claim, size_t lo, size_t hi, size_t tidx)
{
    for (size_t i = lo; i < hi; i++) {
        item *it = &w->items[i];
        if (it->act != BATCH_INDEX)
            continue;
        int row = it->rep->row;
        if (PQgetisnull(claim, row, CLAIM_NCOLS + RENDER_COL_DOC)) {
            it->act = BATCH_NONE;
            it->want = true;
            continue;
        }
        const char *v = PQgetisnull(claim, row, CLAIM_NCOLS + RENDER_COL_VERSION)
                            ? NULL
                            : PQgetvalue(claim, row, CLAIM_NCOLS + RENDER_COL_VERSION);
        batch_apply_row(it, PQgetvalue(claim, row, CLAIM_NCOLS + RENDER_COL_DOC),
                        (size_t)PQgetlength(claim, row, CLAIM_NCOLS + RENDER_COL_DOC), v,
                        strcmp(PQgetvalue(claim, row, CLAIM_NCOLS + RENDER_COL_DELETED), "t") == 0);
    }
    w->joined_read[tidx] = true;
}

static bool reread_all(worker *w, const PGresult *claim, size_t nitems, PGresult **reads, size_t *park_tidx,
                       char *err, size_t errsz)
{
    metrics_phase_enter(METRICS_PHASE_REREAD);
    /* Nested documents take a version drawn now, between the claim and the re-reads. */
    int64_t nested_version = -1;
    if (!nested_draw_version(w, nitems, &nested_version, err, errsz))
        return false;
    for (size_t lo = 0; lo < nitems;) {
        size_t hi = lo + 1;
        while (hi < nitems && strcmp(w->items[hi].rep->tbl, w->items[lo].rep->tbl) == 0)
            hi++;
        size_t tidx = w->items[lo].tidx;
        if (w->items[lo].t && w->batch_combined && w->joined[tidx]) {
            take_joined(w, claim, lo, hi, tidx);
        } else if (w->items[lo].t) {
            bool any = false;
            for (size_t i = lo; i < hi; i++)
                any |= w->items[i].act == BATCH_INDEX;
            w->reread_state[0] = '\0';
            if (any && !reread(w, tidx, w->items, lo, hi, &reads[tidx], err, errsz)) {
                if (park_sqlstate_parks(w->reread_state))
                    *park_tidx = tidx;
                return false;
            }
        }
        lo = hi;
    }
    batch_nested_finish(w->items, nitems, nested_version, nested_is_tree);
    return true;
}

/* 3b. Truncates: delete the documents of rows that no longer exist (truncate.h). Returns 0 or a TRUNCATE_ERR_*. */
static int apply_truncates(worker *w, size_t nitems, worker_counters *d, char *err, size_t errsz)
{
    for (size_t i = 0; i < nitems; i++) {
        item *it = &w->items[i];
        if (it->rep->id || !it->t || (i > 0 && !w->items[i - 1].rep->id && w->items[i - 1].t == it->t))
            continue;
        truncate_counts tc;
        int tr = truncate_apply(w->pg, w->store, w->schema_ident, it->t, &tc, err, errsz);
        if (tr < 0)
            return tr;
        d->applied += tc.deleted;
        metrics_batch_count(it->tidx, METRICS_APPLIED, tc.deleted);
    }
    return 0;
}

/* 5. Classify the answers: count each item, and write each dead letter in the claim's
 * transaction (so it exists exactly when the change row is gone). False when that insert failed. */
static bool record_outcomes(worker *w, size_t nitems, worker_counters *d, char *err, size_t errsz)
{
    static const metrics_kind kind[] = {
        [BATCH_APPLIED] = METRICS_APPLIED, [BATCH_STALE] = METRICS_STALE,
        [BATCH_REGRESSED] = METRICS_REGRESSED, [BATCH_DEAD_LETTER] = METRICS_DEAD};
    for (size_t i = 0; i < nitems; i++) {
        item *it = &w->items[i];
        batch_class k = batch_classify(it);
        batch_count(d, k);
        if (k == BATCH_SKIPPED || k == BATCH_RETRY)
            continue;
        metrics_batch_count(it->tidx, kind[k], 1);
        if (k == BATCH_REGRESSED) {
            metrics_batch_count(it->tidx, METRICS_DEAD, 1);
            batch_regressed_message(it);
        }
        if (k != BATCH_REGRESSED && k != BATCH_DEAD_LETTER)
            continue;
        log_warn("dead letter: table %s key %s seq %" PRId64 ": %s", it->rep->tbl, it->rep->id ? it->rep->id : "",
                 it->rep->seq, it->error);
        if (!insert_dead_letter(w, it, err, errsz))
            return false;
    }
    return true;
}

/* 6. Commit; when due, with the counters of this and the batches committed since the last
 * write in the same transaction (a rolled-back claim never counts; one not yet written is
 * written by a later batch, when idle, or at exit). Then the totals. */
static bool commit_batch(worker *w, worker_counters *d, const char *oldest, size_t nchanges, PGresult **reads,
                         char *err, size_t errsz)
{
    metrics_phase_enter(METRICS_PHASE_COMMIT);
    long long now_ms = timing_now_ms();
    bool stats_now = now_ms >= w->stats_due_ms;
    if (stats_now) {
        worker_counters sum = w->unflushed;
        sum.applied += d->applied;
        sum.stale += d->stale;
        sum.coalesced += d->coalesced;
        sum.dead_letters += d->dead_letters;
        if (!write_stats(w, &sum, w->pending_retries, oldest, &d->lag_ms, err, errsz))
            return false;
    }
    if (!exec_ok(w, "COMMIT", "COMMIT", err, errsz))
        return false;
    if (stats_now) {
        memset(&w->unflushed, 0, sizeof w->unflushed);
        w->pending_retries = 0;
        w->stats_due_ms = now_ms + STATS_EVERY_MS;
    } else {
        w->unflushed.applied += d->applied;
        w->unflushed.stale += d->stale;
        w->unflushed.coalesced += d->coalesced;
        w->unflushed.dead_letters += d->dead_letters;
    }
    metrics_batch_commit();
    for (size_t i = 0; i < w->c->ntables; i++)
        if (reads[i] || w->joined_read[i])
            park_confirm(w->park, w->pg, w->schema_ident, i);
    w->total.applied += d->applied;
    w->total.stale += d->stale;
    w->total.coalesced += d->coalesced;
    w->total.dead_letters += d->dead_letters;
    w->total.version_regressed += d->version_regressed;
    w->total.skipped += d->skipped;
    w->total.changes += (long long)nchanges;
    w->total.batches++;
    if (d->lag_ms >= 0)
        w->total.lag_ms = d->lag_ms;
    return true;
}

/* The store failed retryably: roll the claim back (nothing is lost; it is claimed again). */
static int store_failure(worker *w)
{
    PQclear(PQexec(w->pg, "ROLLBACK"));
    if (PQstatus(w->pg) != CONNECTION_OK)
        disconnect(w);
    return WORKER_ERR_STORE;
}

int worker_batch(worker *w, char *err, size_t errsz)
{
    int ret = batch_open(w, err, errsz);
    if (ret < 0)
        return ret;
    ret = WORKER_ERR_PG;
    PGresult *claim = NULL;
    PGresult **reads = NULL;
    size_t nchanges = 0, nitems = 0;
    size_t park_tidx = SIZE_MAX; /* a table whose re-read failed for a reason of its own (park.h) */
    worker_counters d = {0};
    d.lag_ms = -1;

    /* 1. Claim (and, for the joined tables, re-read). */
    w->reread_state[0] = '\0';
    if (!claim_changes(w, &claim, &nchanges, err, errsz)) {
        if (w->batch_combined && park_sqlstate_parks(w->reread_state) && PQstatus(w->pg) == CONNECTION_OK) {
            /* A joined table's re-read fails for a reason of its own (dropped since the
             * statement was prepared): rolled back, nothing is lost; claim again at once in
             * two statements, whose per-table re-read names and parks that table. */
            log_debug("%s; claiming and re-reading in two statements", err);
            pg_failure(w);
            PQclear(PQexec(w->pg, "DEALLOCATE claim_reread"));
            w->combined = false;
            w->combined_off = true;
            ret = 1;
            goto done;
        }
        goto pg_fail;
    }
    if (nchanges == 0) {
        if (!exec_ok(w, "COMMIT", "COMMIT", err, errsz))
            goto pg_fail;
        ret = 0;
        goto done;
    }
    if (!(reads = calloc(w->c->ntables + 1, sizeof *reads))) {
        snprintf(err, errsz, "out of memory");
        goto pg_fail;
    }
    const char *oldest = batch_oldest(w->changes, nchanges);
    /* 2. Coalesce. */
    nitems = coalesce(w, nchanges, &d);
    /* 3. Re-read. */
    if (!reread_all(w, claim, nitems, reads, &park_tidx, err, errsz))
        goto pg_fail;
    metrics_phase_enter(METRICS_PHASE_STORE);
    /* 3b. Truncates. */
    int tr = apply_truncates(w, nitems, &d, err, errsz);
    if (tr == TRUNCATE_ERR_STORE) {
        ret = store_failure(w);
        goto done;
    }
    if (tr < 0)
        goto pg_fail;
    /* 4. One _bulk (or several, over max_bulk_bytes). */
    if (!send_items(w, nitems, err, errsz)) {
        ret = store_failure(w);
        goto done;
    }
    /* 5. Classify. */
    if (!record_outcomes(w, nitems, &d, err, errsz))
        goto pg_fail;
    /* 6. Commit. */
    if (!commit_batch(w, &d, oldest, nchanges, reads, err, errsz))
        goto pg_fail;
    log_debug("batch: %zu changes, %zu writes: %lld applied, %lld stale, %lld coalesced, %lld dead letters, "
              "%lld skipped",
              nchanges, nitems, d.applied, d.stale, d.coalesced, d.dead_letters, d.skipped);
    ret = (int)nchanges;
    goto done;
pg_fail:
    ret = pg_failure(w);
    if (park_tidx != SIZE_MAX && w->pg) {
        /* Rolled back: nothing of the batch is lost, the rest is claimed again at once. */
        unprepare_reread(w, park_tidx);
        park_table(w->park, w->pg, w->schema_ident, w->name, park_tidx, w->reread_state, err);
        ret = 1;
    }
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
    int walfd = worker_wal_socket(&w->wal);
    if (walfd >= 0 && (!w->c->listen || !w->pg || !w->any_trigger)) {
        /* Only the stream to wait for (or no NOTIFY): its data or the poll interval. */
        struct pollfd pfd = {walfd, POLLIN, 0};
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        ppoll(&pfd, 1, &ts, w->o.wait_mask);
        return;
    }
    if (!w->c->listen || !w->pg) {
        timing_sleep_ms(ms, w->o.wait_mask);
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
    struct pollfd pfd[2] = {{PQsocket(w->pg), POLLIN, 0}, {walfd, POLLIN, 0}};
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    if (ppoll(pfd, walfd >= 0 ? 2 : 1, &ts, w->o.wait_mask) > 0) {
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
    log_info("last 10s: %lld applied, %lld stale, %lld coalesced, %lld dead letters (%lld version_regressed), "
             "%lld retries; backlog %s, lag %s",
             t->applied - last->applied, t->stale - last->stale, t->coalesced - last->coalesced,
             t->dead_letters - last->dead_letters, t->version_regressed - last->version_regressed,
             t->retries - last->retries, backlog, lag);
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
    if (n >= 0 && (n = worker_wal_step(&w->wal, w->pg, w->store, &w->total, n, err, errsz)) < 0 && w->pg &&
        PQstatus(w->pg) != CONNECTION_OK)
        disconnect(w);
    if (n < 0 || !w->cur)
        return n;
    stamp_started(w);
    metrics_phase_enter(METRICS_PHASE_CURSOR);
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
        return CLI_EXIT_CONFIG;
    }
    worker_counters last = w->total;
    watchdog wd;
    watchdog_init(&wd, c, timing_now_ms());
    long long next_summary = timing_now_ms() + SUMMARY_EVERY_MS;
    long long outage_since = 0; /* 0: none */
    int outage_kind = 0, attempt = 0;
    while (!(o->stop && *o->stop)) {
        deliver_signals(o);
        if (o->stop && *o->stop)
            break;
        if (!w->pg)
            metrics_phase_enter(METRICS_PHASE_CONNECT);
        int n = worker_connect(w, err, sizeof err) ? work_step(w, err, sizeof err) : WORKER_ERR_PG;
        metrics_phase_enter(METRICS_PHASE_IDLE);
        long long now = timing_now_ms();
        if (n >= 0 && w->any_trigger && !o->once) {
            if (w->last_claimed > 0)
                watchdog_claimed(&wd, now);
            else if (watchdog_check(&wd, c, w->pg, w->schema_ident, w->parked_arr.data, now))
                disconnect(w); /* a fresh session next time round: LISTEN again, no state of the old one */
        }
        if (n < 0 && w->wal.foreign) {
            log_error("%s", err);
            rc = CLI_EXIT_CONFIG;
            break;
        }
        if (n < 0 && w->missing_schema) {
            const char *schema = c->schema ? c->schema : "versync";
            if (o->once && w->cursor_config) {
                log_error("%s", err);
                rc = CLI_EXIT_CONFIG;
                break;
            }
            if (o->once) {
                log_error("%s; versync's tables in schema \"%s\" are missing: run `versync init` first", err,
                          schema);
                rc = CLI_EXIT_CONFIG;
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
                rc = CLI_EXIT_UNREACHABLE;
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
            flush_stats(w, err, sizeof err); /* idle: status should show everything committed */
            wait_for_work(w);
            continue;
        }
        long ms = timing_retry_ms(attempt++, w->retry_after_ms);
        /* A replication stream must hear from us within wal_sender_timeout: call its step (which
         * says "still here" even when it fails) at least every half status interval. */
        if (w->wal.ws && wal_stream_socket(w->wal.ws) >= 0 && ms > WAL_STREAM_STATUS_MS / 2)
            ms = WAL_STREAM_STATUS_MS / 2;
        /* once --timeout is a bound: never sleep past it (a backoff or a Retry-After may be longer
         * than what is left), and give up at it rather than start an attempt after it. */
        long long left = o->once && o->timeout_ms > 0 && outage_since ? outage_since + o->timeout_ms - now : -1;
        if (left >= 0 && left <= ms) {
            timing_sleep_ms(left, o->wait_mask);
            if (o->stop && *o->stop)
                break;
            log_error("giving up: %s unreachable for %ld s (%s); nothing is lost, the changes stay queued",
                      outage_kind == WORKER_ERR_PG ? "PostgreSQL" : "the store", o->timeout_ms / 1000, err);
            rc = CLI_EXIT_UNREACHABLE;
            break;
        }
        timing_sleep_ms(ms, o->wait_mask);
    }
    /* A parked table's changes are still queued: once did not drain everything. */
    if (o->once && rc == 0 && park_count(w->park)) {
        log_error("%zu table%s parked (see above): their changes stay queued; fix the config or the table and run "
                  "once again", park_count(w->park), park_count(w->park) == 1 ? " is" : "s are");
        rc = CLI_EXIT_DRIFT;
    }
    /* The stream's writes in flight are part of the batch in flight: answered and confirmed. */
    worker_wal_stop(&w->wal, w->pg, &w->total);
    /* Counts not yet written, and retries of a failed tail, are still worth recording. */
    flush_stats(w, err, sizeof err);
    if (totals)
        *totals = w->total;
    worker_free(w);
    return rc;
}
