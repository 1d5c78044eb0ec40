/* bridge_wal_setup — init's publication and slot for "capture": "wal", and what check and status report of them. */
#include "versync/bridge/wal.h"

#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wal_setup_precheck(PGconn *conn, char *err, size_t errsz)
{
    PGresult *r = pg_exec(conn, sql_text("wal_precheck"), 0, NULL, err, errsz);
    if (!r)
        return false;
    bool ok = false;
    if (strcmp(PQgetvalue(r, 0, 0), "logical") != 0)
        snprintf(err, errsz,
                 "\"capture\": \"wal\" needs wal_level = logical, and this server has wal_level = %s: set "
                 "wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart "
                 "PostgreSQL",
                 PQgetvalue(r, 0, 0));
    else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
        snprintf(err, errsz,
                 "\"capture\": \"wal\" reads a replication slot, and role \"%s\" may not replicate: ALTER ROLE "
                 "\"%s\" REPLICATION (and allow it a replication connection in pg_hba.conf)",
                 PQuser(conn), PQuser(conn));
    else
        ok = true;
    PQclear(r);
    return ok;
}

/* Append the quoted names of the "wal" tables for which want(t) holds, comma-separated. */
static bool put_tables(PGconn *conn, const cfg *c, const bool *pick, buf *out, char *err, size_t errsz)
{
    bool first = true;
    for (size_t i = 0; i < c->ntables; i++) {
        if (!pick[i])
            continue;
        if ((!first && !buf_puts(out, ", ")) || !pg_put_ident(conn, out, c->tables[i].schema, err, errsz) ||
            !buf_puts(out, ".") || !pg_put_ident(conn, out, c->tables[i].name, err, errsz)) {
            if (!*err)
                snprintf(err, errsz, "out of memory");
            return false;
        }
        first = false;
    }
    return true;
}

/* Run (or, dry_run, print) sql/NAME.sql with @pub@ and @tables@ filled in. */
static bool run_pub_sql(PGconn *conn, const char *name, const char *pub_q, const char *tables, bool dry_run,
                        char *err, size_t errsz)
{
    const char *vars[] = {"pub", pub_q, "tables", tables ? tables : "", NULL};
    char *sql = sql_render_vars(name, vars);
    if (!sql) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    bool ok = true;
    if (dry_run)
        printf("%s;\n", sql);
    else
        ok = pg_run(conn, sql, 0, NULL, err, errsz);
    free(sql);
    return ok;
}

static bool init_publication(PGconn *conn, const cfg *c, bool dry_run, bool *changed, char *err, size_t errsz)
{
    bool ok = false;
    bool *missing = calloc(c->ntables + 1, sizeof *missing);
    char *pub_q = pg_quote_ident(conn, c->wal_publication, err, errsz);
    buf tables = BUF_INIT;
    PGresult *pr = NULL, *tr = NULL;
    const char *p[] = {c->wal_publication};
    if (!missing || !pub_q) {
        if (!missing)
            snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (!(pr = pg_exec(conn, sql_text("wal_publication"), 1, p, err, errsz)) ||
        !(tr = pg_exec(conn, sql_text("wal_publication_tables"), 1, p, err, errsz)))
        goto done;
    size_t nmissing = 0;
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        if (t->capture != CFG_CAPTURE_WAL)
            continue;
        bool found = false;
        for (int j = 0; !found && j < PQntuples(tr); j++)
            found = strcmp(PQgetvalue(tr, j, 0), t->schema) == 0 && strcmp(PQgetvalue(tr, j, 1), t->name) == 0;
        missing[i] = !found;
        nmissing += !found;
    }
    if (!put_tables(conn, c, missing, &tables, err, errsz))
        goto done;
    if (PQntuples(pr) == 0) {
        if (c->wal_publication_given) {
            snprintf(err, errsz,
                     "wal.publication: publication \"%s\" does not exist: create it (CREATE PUBLICATION … FOR "
                     "TABLE %s) or leave \"wal.publication\" out and init creates one",
                     c->wal_publication, tables.data ? tables.data : "");
            goto done;
        }
        if (!run_pub_sql(conn, "wal_publication_create", pub_q, tables.data, dry_run, err, errsz))
            goto done;
        printf("created publication \"%s\" of %s\n", c->wal_publication, tables.data);
        *changed = true;
        ok = true;
        goto done;
    }
    bool all_kinds = strcmp(PQgetvalue(pr, 0, 0), "t") == 0;
    if (!all_kinds && c->wal_publication_given) {
        snprintf(err, errsz,
                 "wal.publication: publication \"%s\" does not publish every kind of change: ALTER PUBLICATION "
                 "\"%s\" SET (publish = 'insert, update, delete, truncate')",
                 c->wal_publication, c->wal_publication);
        goto done;
    }
    if (nmissing && c->wal_publication_given) {
        snprintf(err, errsz,
                 "wal.publication: publication \"%s\" does not publish %s: ALTER PUBLICATION \"%s\" ADD TABLE %s",
                 c->wal_publication, tables.data, c->wal_publication, tables.data);
        goto done;
    }
    if (!all_kinds) {
        if (!run_pub_sql(conn, "wal_publication_publish", pub_q, NULL, dry_run, err, errsz))
            goto done;
        printf("publication \"%s\" now publishes inserts, updates, deletes and truncates\n", c->wal_publication);
        *changed = true;
    }
    if (nmissing) {
        if (!run_pub_sql(conn, "wal_publication_add", pub_q, tables.data, dry_run, err, errsz))
            goto done;
        printf("added %s to publication \"%s\"\n", tables.data, c->wal_publication);
        *changed = true;
    }
    ok = true;
done:
    PQclear(pr);
    PQclear(tr);
    buf_free(&tables);
    free(pub_q);
    free(missing);
    return ok;
}

bool wal_setup_init(PGconn *conn, const cfg *c, bool dry_run, bool *changed, char *err, size_t errsz)
{
    if (!wal_table_count(c))
        return true;
    if (!wal_setup_precheck(conn, err, errsz))
        return false;
    /* The publication first: pgoutput reads it as of each change, so changes decoded from before
     * it existed would fail the stream. */
    if (!init_publication(conn, c, dry_run, changed, err, errsz))
        return false;
    const char *p[] = {c->wal_slot};
    PGresult *r = pg_exec(conn, sql_text("wal_slot"), 1, p, err, errsz);
    if (!r)
        return false;
    bool ok = false;
    if (PQntuples(r) == 1) {
        if (strcmp(PQgetvalue(r, 0, 7), "logical") != 0 || strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0)
            snprintf(err, errsz, "wal.slot: slot \"%s\" exists but is not a logical slot of plugin pgoutput (%s %s): "
                     "drop it or name another slot in \"wal.slot\"",
                     c->wal_slot, PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 0));
        else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
            snprintf(err, errsz, "wal.slot: slot \"%s\" belongs to another database: name another slot in \"wal.slot\"",
                     c->wal_slot);
        else
            ok = true;
        goto done;
    }
    if (dry_run) {
        printf("-- would create the logical replication slot \"%s\" (pgoutput)\n", c->wal_slot);
        ok = true;
        goto done;
    }
    PQclear(r);
    if (!(r = pg_exec(conn, sql_text("wal_slot_create"), 1, p, err, errsz)))
        return false;
    printf("created replication slot \"%s\" (pgoutput) at %s: it keeps the WAL from here until versync "
           "confirms it; drop it (SELECT pg_drop_replication_slot('%s')) if you stop using versync, or the "
           "server keeps WAL without bound\n",
           c->wal_slot, PQgetvalue(r, 0, 0), c->wal_slot);
    *changed = true;
    ok = true;
done:
    PQclear(r);
    return ok;
}

/* The slot's lag in seconds into s->lag_seconds (< 0 unknown), from the consumer's progress in
 * <schema>.meta; unknown when versync's tables are not there (check before init). */
static bool slot_lag(PGconn *conn, const char *slot, const char *schema, wal_slot_state *s, char *err, size_t errsz)
{
    char *schema_q = NULL, *sql = NULL, key[128];
    buf meta = BUF_INIT;
    PGresult *r = NULL;
    bool ok = false;
    s->lag_seconds = -1;
    if (!(schema_q = pg_quote_ident(conn, schema, err, errsz)))
        goto done;
    buf_printf(&meta, "%s.meta", schema_q);
    if (!buf_ok(&meta) || !(sql = sql_render("wal_slot_lag", schema_q))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *mp[] = {meta.data};
    if (!(r = pg_exec(conn, "SELECT to_regclass($1) IS NOT NULL", 1, mp, err, errsz)))
        goto done;
    bool has_meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    r = NULL;
    if (has_meta) {
        snprintf(key, sizeof key, WAL_PROGRESS_KEY_PREFIX "%s", slot);
        const char *p[] = {slot, key};
        if (!(r = pg_exec(conn, sql, 2, p, err, errsz)))
            goto done;
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            s->lag_seconds = strtod(PQgetvalue(r, 0, 0), NULL);
    }
    ok = true;
done:
    PQclear(r);
    buf_free(&meta);
    free(schema_q);
    free(sql);
    return ok;
}

bool wal_slot_state_query(PGconn *conn, const char *slot, const char *schema, wal_slot_state *s, char *err,
                          size_t errsz)
{
    memset(s, 0, sizeof *s);
    s->lag_seconds = -1;
    const char *p[] = {slot};
    PGresult *r = pg_exec(conn, sql_text("wal_slot"), 1, p, err, errsz);
    if (!r)
        return false;
    if (PQntuples(r) == 1) {
        s->exists = true;
        s->active = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        s->retained_bytes = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        s->lag_bytes = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
        snprintf(s->confirmed_lsn, sizeof s->confirmed_lsn, "%s", PQgetvalue(r, 0, 5));
        snprintf(s->current_lsn, sizeof s->current_lsn, "%s", PQgetvalue(r, 0, 6));
    }
    PQclear(r);
    return !s->exists || slot_lag(conn, slot, schema, s, err, errsz);
}

bool wal_slot_state_get(PGconn *conn, const cfg *c, wal_slot_state *s, char *err, size_t errsz)
{
    return wal_slot_state_query(conn, c->wal_slot, c->schema, s, err, errsz);
}

/* " (12.3 s behind)", " (lag in seconds unknown: …)" for the text lines of check and status. */
static void put_lag_seconds(buf *out, const wal_slot_state *s)
{
    if (s->lag_seconds >= 0)
        buf_printf(out, ", %.1f s behind", s->lag_seconds);
    else
        buf_puts(out, ", lag in seconds unknown (no progress reported by versync yet)");
}

static void reportf(setup_report_fn report, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reportf(setup_report_fn report, void *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

/* Deletes carry only the replica identity: warn when it does not hold the mapping's key. */
static int check_identity(PGconn *conn, const cfg_table *t, setup_report_fn report, void *ctx, char *err,
                          size_t errsz)
{
    buf q = BUF_INIT;
    if (!pg_put_ident(conn, &q, t->schema, err, errsz) || !buf_puts(&q, ".") ||
        !pg_put_ident(conn, &q, t->name, err, errsz)) {
        buf_free(&q);
        return -1;
    }
    const char *p[] = {q.data};
    PGresult *r = pg_exec(conn, sql_text("wal_identity"), 1, p, err, errsz);
    buf_free(&q);
    if (!r)
        return -1;
    int found = 0;
    const char *ri = PQgetvalue(r, 0, 0);
    char **cols = NULL;
    size_t ncols = 0;
    if (strcmp(ri, "f") != 0) {
        if (!render_parse_text_array(PQgetvalue(r, 0, 1), &cols, &ncols)) {
            snprintf(err, errsz, "%s: cannot parse its replica identity columns", t->ident);
            PQclear(r);
            return -1;
        }
        for (size_t k = 0; k < t->nkey && !found; k++) {
            bool in = false;
            for (size_t j = 0; j < ncols && !in; j++)
                in = cols[j] && strcmp(cols[j], t->key[k]) == 0;
            if (!in) {
                reportf(report, ctx,
                        "%s: its replica identity (%s) does not hold key column \"%s\", so a delete in the WAL "
                        "does not say which document to delete (it is counted a dead letter and logged): ALTER "
                        "TABLE %s REPLICA IDENTITY USING INDEX <a unique index on the key> (or FULL)",
                        t->ident,
                        ri[0] == 'd' ? "the primary key" : ri[0] == 'i' ? "an index" : "nothing", t->key[k],
                        t->ident);
                found++;
            }
        }
    }
    render_free_array(cols, ncols);
    PQclear(r);
    return found;
}

bool wal_lag_behind(const cfg *c, const wal_slot_state *s)
{
    return s->exists && c->wal_lag_warn_seconds > 0 && s->lag_seconds > c->wal_lag_warn_seconds;
}

int wal_setup_check(PGconn *conn, const cfg *c, setup_report_fn report, void *ctx, char *err, size_t errsz)
{
    if (!wal_table_count(c))
        return 0;
    if (!wal_setup_precheck(conn, err, errsz))
        return -1;
    int found = 0;
    for (size_t i = 0; i < c->ntables; i++) {
        if (c->tables[i].capture != CFG_CAPTURE_WAL)
            continue;
        int n = check_identity(conn, &c->tables[i], report, ctx, err, errsz);
        if (n < 0)
            return -1;
        found += n;
    }
    wal_slot_state s;
    if (!wal_slot_state_get(conn, c, &s, err, errsz))
        return -1;
    if (!s.exists) {
        reportf(report, ctx, "replication slot \"%s\" does not exist: run `versync init`", c->wal_slot);
        return found + 1;
    }
    buf lag = BUF_INIT;
    put_lag_seconds(&lag, &s);
    printf("  slot \"%s\": %s, confirmed up to %s (current %s): %lld bytes not yet applied%s, %lld bytes of WAL "
           "retained\n",
           c->wal_slot, s.active ? "in use" : "idle", s.confirmed_lsn, s.current_lsn, s.lag_bytes,
           lag.data ? lag.data : "", s.retained_bytes);
    buf_free(&lag);
    if (s.retained_bytes > c->wal_lag_warn_bytes) {
        reportf(report, ctx,
                "replication slot \"%s\" retains %lld bytes of WAL (more than wal.lag_warn_bytes = %lld): the "
                "server cannot remove it until versync confirms it; is `versync run` running and keeping up?",
                c->wal_slot, s.retained_bytes, c->wal_lag_warn_bytes);
        found++;
    }
    if (wal_lag_behind(c, &s)) {
        reportf(report, ctx,
                "replication slot \"%s\" is %.1f s behind (more than wal.lag_warn_seconds = %g): changes wait "
                "that long before they reach the store; is `versync run` running and keeping up?",
                c->wal_slot, s.lag_seconds, c->wal_lag_warn_seconds);
        found++;
    }
    return found;
}

bool wal_status_append(PGconn *conn, const cfg *c, bool json, buf *out, char *err, size_t errsz)
{
    if (!wal_table_count(c))
        return true;
    wal_slot_state s;
    if (!wal_slot_state_get(conn, c, &s, err, errsz))
        return false;
    if (json) {
        if (!s.exists)
            return buf_puts(out, ",\"wal_slot\":null");
        buf_printf(out,
                   ",\"wal_slot\":{\"slot\":\"%s\",\"active\":%s,\"confirmed_lsn\":\"%s\",\"current_lsn\":\"%s\","
                   "\"lag_bytes\":%lld,\"retained_bytes\":%lld,\"lag_seconds\":",
                   c->wal_slot, s.active ? "true" : "false", s.confirmed_lsn, s.current_lsn, s.lag_bytes,
                   s.retained_bytes);
        if (s.lag_seconds >= 0)
            buf_printf(out, "%.3f", s.lag_seconds);
        else
            buf_puts(out, "null");
        buf_printf(out, ",\"lag_warn_seconds\":%g,\"lag_warning\":%s}", c->wal_lag_warn_seconds,
                   wal_lag_behind(c, &s) ? "true" : "false");
        return buf_ok(out);
    }
    if (!s.exists)
        return buf_printf(out, "slot %s: missing (run versync init): the \"wal\" tables are not captured\n",
                          c->wal_slot);
    buf_printf(out, "slot %s: %s, confirmed up to %s (current %s): %lld bytes not yet applied", c->wal_slot,
               s.active ? "streaming" : "idle", s.confirmed_lsn, s.current_lsn, s.lag_bytes);
    put_lag_seconds(out, &s);
    buf_printf(out, ", %lld bytes of WAL retained\n", s.retained_bytes);
    if (wal_lag_behind(c, &s))
        buf_printf(out, "warning: slot %s is %.1f s behind, more than wal.lag_warn_seconds = %g\n", c->wal_slot,
                   s.lag_seconds, c->wal_lag_warn_seconds);
    return buf_ok(out);
}

/* ---- switching a table between trigger and WAL capture (init) ------------------------------------- */

/* The idents of the config's tables captured by `mode`, as a text[] literal into out. */
static bool tables_of(const cfg *c, cfg_capture mode, buf *out)
{
    const char **v = calloc(c->ntables ? c->ntables : 1, sizeof *v);
    size_t n = 0;
    if (!v)
        return false;
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].capture == mode)
            v[n++] = c->tables[i].ident;
    bool ok = render_array_literal(out, v, n);
    free(v);
    return ok;
}

/* Run the embedded statement `name` (rendered for schema_q) with params; NULL with err set. */
static PGresult *exec_rendered(PGconn *conn, const char *name, const char *schema_q, int n, const char *const *p,
                               char *err, size_t errsz)
{
    char *sql = sql_render(name, schema_q);
    if (!sql) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    PGresult *r = pg_exec(conn, sql, n, p, err, errsz);
    free(sql);
    return r;
}

static bool registry_exists(PGconn *conn, const char *schema_q, bool *exists, char *err, size_t errsz)
{
    buf name = BUF_INIT;
    buf_printf(&name, "%s.tables", schema_q);
    if (!buf_ok(&name)) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    const char *p[] = {name.data};
    PGresult *r = pg_exec(conn, "SELECT to_regclass($1) IS NOT NULL", 1, p, err, errsz);
    buf_free(&name);
    if (!r)
        return false;
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return true;
}

bool wal_switch_before(PGconn *conn, const cfg *c, const char *schema_q, buf *report, char *err, size_t errsz)
{
    bool exists = false, ok = false;
    buf trig = BUF_INIT, wal = BUF_INIT;
    PGresult *r = NULL;
    if (!registry_exists(conn, schema_q, &exists, err, errsz))
        return false;
    if (!exists)
        return true; /* a first init: nothing switches */
    if (!tables_of(c, CFG_CAPTURE_TRIGGER, &trig) || !tables_of(c, CFG_CAPTURE_WAL, &wal)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *tp[] = {trig.data ? trig.data : "{}"};
    if (!(r = exec_rendered(conn, "wal_switch_bump", schema_q, 1, tp, err, errsz)))
        goto done;
    if (PQntuples(r) == 1)
        buf_printf(report,
                   "%s: back to trigger capture: lifted the change sequence to %s, past the WAL position, so "
                   "their changes outrank the commit LSNs the stream wrote\n",
                   PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
    const char *wp[] = {wal.data ? wal.data : "{}"};
    if (!(r = exec_rendered(conn, "wal_switch_guard", schema_q, 1, wp, err, errsz)))
        goto done;
    if (!PQgetisnull(r, 0, 3)) {
        snprintf(err, errsz,
                 "%s moves from \"capture\": \"cursor\" to \"capture\": \"wal\": its documents carry the "
                 "application's versions, which the commit LSNs need not exceed, so changes from the stream could be "
                 "refused as stale. Switch it with a new index: set its \"index\" to a new name, run versync init "
                 "--backfill, then point an alias at it",
                 PQgetvalue(r, 0, 3));
        goto done;
    }
    long long seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10), lsn = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    if (strcmp(PQgetvalue(r, 0, 0), "t") == 0 && seq >= lsn) {
        snprintf(err, errsz,
                 "a table moves from trigger capture to \"capture\": \"wal\", but the change sequence (%lld) is past "
                 "the WAL position (%lld): its documents may carry versions the commit LSNs do not exceed yet, so "
                 "changes from the stream would be refused as stale. Switch it with a new index instead: set its "
                 "\"index\" to a new name, run versync init --backfill, then point an alias at it",
                 seq, lsn);
        goto done;
    }
    ok = true;
done:
    PQclear(r);
    buf_free(&trig);
    buf_free(&wal);
    return ok;
}

bool wal_switch_after(PGconn *conn, const cfg *c, const char *schema_q, buf *report, char *err, size_t errsz)
{
    if (!wal_table_count(c))
        return true;
    buf wal = BUF_INIT;
    if (!tables_of(c, CFG_CAPTURE_WAL, &wal)) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    const char *p[] = {wal.data ? wal.data : "{}", c->schema};
    PGresult *r = exec_rendered(conn, "wal_switch_leftovers", schema_q, 2, p, err, errsz);
    buf_free(&wal);
    if (!r)
        return false;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *t = PQgetvalue(r, i, 0), *moved = PQgetvalue(r, i, 1), *trunc = PQgetvalue(r, i, 2);
        if (strcmp(moved, "0") != 0)
            buf_printf(report,
                       "%s: moved %s changes its triggers left waiting into the replication stream (written at "
                       "this init's commit position)\n",
                       t, moved);
        if (strcmp(trunc, "0") != 0)
            buf_printf(report,
                       "%s: dropped %s TRUNCATE its triggers left waiting (the stream cannot replay it): run "
                       "versync verify --repair %s once versync has caught up\n",
                       t, trunc, t);
    }
    PQclear(r);
    return true;
}

bool wal_setup_unused_slot(PGconn *conn, const cfg *c, char *err, size_t errsz)
{
    if (wal_table_count(c) || !c->wal_slot)
        return true;
    const char *p[] = {c->wal_slot};
    PGresult *r = pg_exec(conn, sql_text("wal_slot"), 1, p, err, errsz);
    if (!r)
        return false;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0)
        log_warn("replication slot \"%s\" exists, but no table has \"capture\": \"wal\" any more: nothing "
                 "confirms it, so the server keeps its WAL without bound. Drop it once no version of the config "
                 "uses it: SELECT pg_drop_replication_slot('%s')",
                 c->wal_slot, c->wal_slot);
    PQclear(r);
    return true;
}
