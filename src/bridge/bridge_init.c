/* bridge_init — `versync init`: converge the database (schema, trigger functions, triggers) and the store's indexes to the config. */
#include "versync/common/buf.h"
#include "versync/bridge/catalog.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/bridge/esclient.h"
#include "versync/bridge/init.h"
#include "versync/common/log.h"
#include "versync/bridge/mapping.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/partition.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/common/scan.h"
#include "versync/bridge/setup.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/wal.h"
#include "versync/bridge/target.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The base names of our triggers (init_triggers_create.sql, init_version_trigger.sql). */
static const char *const row_trigger_names[] = {"versync_capture", "versync_notify", "versync_truncate"};
#define VERSION_TRIGGER_NAME "zz_versync_version"

/* The name of our trigger `base` for config schema `schema` (init.h). */
void init_trigger_name(const char *schema, const char *base, char out[64])
{
    if (strcmp(schema, "versync") == 0) {
        snprintf(out, 64, "%s", base);
        return;
    }
    size_t bl = strlen(base), sl = strlen(schema);
    if (bl + 1 + sl <= 63) {
        snprintf(out, 64, "%.*s_%.*s", (int)bl, base, (int)(62 - bl), schema);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)schema; *p; p++)
        h = (h ^ *p) * 16777619u;
    size_t keep = 63 - bl - 1 - 9; /* base_SCHEMA…_hhhhhhhh */
    while (keep > 0 && ((unsigned char)schema[keep] & 0xC0) == 0x80)
        keep--;
    snprintf(out, 64, "%s_%.*s_%08x", base, (int)keep, schema, (unsigned)h);
}

/* What one run will do: the SQL (one transaction) and one line per change. */
typedef struct plan {
    buf sql;
    buf report;
    bool oom;
    const cfg_table **fresh; /* tables this run starts capturing (no capture trigger before) */
    size_t nfresh;
} plan;

static void plan_add(plan *p, const char *what, const char *sql)
{
    if (!buf_printf(&p->sql, "-- %s\n%s\n", what, sql) || !buf_printf(&p->report, "%s\n", what))
        p->oom = true;
}

/* Run a query of sql/ with @schema@ filled in. */
static PGresult *query(PGconn *conn, const char *name, const char *schema_q, int n, const char *const *params,
                       char *err, size_t errsz)
{
    char *sql = sql_render(name, schema_q);
    if (!sql) {
        snprintf(err, errsz, "out of memory rendering %s.sql", name);
        return NULL;
    }
    PGresult *r = pg_exec(conn, sql, n, params, err, errsz);
    free(sql);
    return r;
}

static char *md5_of(PGconn *conn, const char *text, char *err, size_t errsz)
{
    const char *params[] = {text};
    PGresult *r = pg_exec(conn, sql_text("init_md5"), 1, params, err, errsz);
    if (!r)
        return NULL;
    char *out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!out)
        snprintf(err, errsz, "out of memory");
    return out;
}

/* Key types whose jsonb text is their ::text form, so the trigger can read
 * the key from to_jsonb(row) without EXECUTE. */
static bool jsonb_text_is_text(const char *type)
{
    static const char *const exact[] = {"smallint", "integer", "bigint", "text", "uuid", "boolean", NULL};
    static const char *const prefix[] = {"numeric", "character varying", NULL};
    for (size_t i = 0; exact[i]; i++)
        if (strcmp(type, exact[i]) == 0)
            return true;
    for (size_t i = 0; prefix[i]; i++) {
        size_t n = strlen(prefix[i]);
        if (strncmp(type, prefix[i], n) == 0 && (type[n] == '\0' || type[n] == '('))
            return true;
    }
    return false;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; v && i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* Everything one table's triggers are made of, quoted and ready for sql_render_vars. */
typedef struct table_sql {
    char *table_q;   /* "schema"."table" */
    char *args;      /* the literal arguments of capture()/assign_version() */
    char *seq_name;  /* raw name of the managed version sequence, or NULL */
    char *seq_q;     /* its quoted qualified name */
    char *seq_lit;   /* that name as a literal (or NULL) */
    char *triggers;  /* the CREATE TRIGGER statements */
    char *spec;      /* md5 of triggers */
} table_sql;

static void table_sql_free(table_sql *s)
{
    free(s->table_q);
    free(s->args);
    free(s->seq_name);
    free(s->seq_q);
    free(s->seq_lit);
    free(s->triggers);
    free(s->spec);
}

/* The arguments capture() and assign_version() take (see sql/capture.sql). */
static char *trigger_args(PGconn *conn, const cfg_table *t, const char *seq_text, char *err, size_t errsz)
{
    buf keys = BUF_INIT, cmp = BUF_INIT, keyexpr = BUF_INIT, args = BUF_INIT;
    const char **list = calloc(t->ncols + t->nexclude + 4, sizeof *list);
    char *out = NULL;
    if (!list) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    render_array_literal(&keys, (const char *const *)t->key, t->nkey);

    /* ::text of the key without EXECUTE when jsonb shows it the same way. */
    bool fast = true;
    for (size_t i = 0; i < t->nkey; i++)
        fast = fast && jsonb_text_is_text(t->key_types[i]);
    if (!fast) {
        buf_puts(&keyexpr, "SELECT ARRAY[");
        for (size_t i = 0; i < t->nkey; i++) {
            char *q = pg_quote_ident(conn, t->key[i], err, errsz);
            if (!q)
                goto done;
            buf_printf(&keyexpr, "%s($1).%s::text", i ? ", " : "", q);
            free(q);
        }
        buf_puts(&keyexpr, "]");
    }

    /* Which columns make an update worth a change row: what the document
     * shows, the key, the soft-delete flag and an application-set version;
     * never a managed version, which moves only because of the others. */
    const char *managed_col = t->managed ? t->version_column : NULL;
    const char *always[16];
    size_t nalways = 0;
    for (size_t i = 0; i < t->nkey && nalways < 14; i++)
        always[nalways++] = t->key[i];
    if (t->soft_delete_column)
        always[nalways++] = t->soft_delete_column;
    if (t->version_column && !t->managed)
        always[nalways++] = t->version_column;
    const char *mode;
    size_t n = 0;
    if (t->where) {
        /* A filter can read any column, excluded or not: an update of any of them may move the row
         * into or out of the filter, so every column counts (but a managed version, as above). */
        if (managed_col)
            list[n++] = managed_col;
        mode = n ? "except" : "all";
    } else if (!t->columns) {
        for (size_t i = 0; i < t->nexclude; i++)
            if (!in_list(always, nalways, t->exclude[i]) && !in_list(list, n, t->exclude[i]))
                list[n++] = t->exclude[i];
        if (managed_col && !in_list(list, n, managed_col))
            list[n++] = managed_col;
        mode = n ? "except" : "all";
    } else {
        for (size_t i = 0; i < t->ncols; i++) {
            const cfg_column *c = &t->cols[i];
            if ((c->mapped || in_list(always, nalways, c->name)) && !(managed_col && strcmp(c->name, managed_col) == 0))
                list[n++] = c->name;
        }
        mode = "only";
    }
    render_array_literal(&cmp, list, n);
    if (!buf_ok(&keys) || !buf_ok(&cmp) || !buf_ok(&keyexpr)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *kind = t->version_kind == CFG_VERSION_COLUMN      ? "column"
                       : t->version_kind == CFG_VERSION_TIMESTAMP ? (t->version_has_tz ? "timestamptz" : "timestamp")
                                                                  : "seq";
    const char *vals[] = {kind,
                          t->version_column ? t->version_column : "",
                          t->managed ? "true" : "false",
                          seq_text ? seq_text : "",
                          keys.data,
                          keyexpr.data ? keyexpr.data : "",
                          mode,
                          cmp.data,
                          t->deletes_ignore ? "ignore" : "delete"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        if (i)
            buf_puts(&args, ", ");
        if (!pg_put_literal(conn, &args, vals[i], err, errsz))
            goto done;
    }
    if (t->partitioned) {
        /* Arguments 9 and 10 (sql/capture.sql): the partitions' changes go under the parent's name,
         * and a DELETE whose key still names a row of the parent is a move between partitions. */
        char *moved = partition_moved_query(conn, t, err, errsz);
        bool put = moved && buf_puts(&args, ", ") && pg_put_literal(conn, &args, t->ident, err, errsz) &&
                   buf_puts(&args, ", ") && pg_put_literal(conn, &args, moved, err, errsz);
        free(moved);
        if (!put) {
            if (moved && !err[0])
                snprintf(err, errsz, "out of memory");
            goto done;
        }
    }
    if (!(out = buf_steal(&args)))
        snprintf(err, errsz, "out of memory");
done:
    free(list);
    buf_free(&keys);
    buf_free(&cmp);
    buf_free(&keyexpr);
    buf_free(&args);
    return out;
}

static bool table_sql_build(PGconn *conn, const cfg *c, const cfg_table *t, const char *schema_q, table_sql *s,
                            char *err, size_t errsz)
{
    memset(s, 0, sizeof *s);
    char *sq = pg_quote_ident(conn, t->schema, err, errsz);
    char *nq = sq ? pg_quote_ident(conn, t->name, err, errsz) : NULL;
    char *chan = nq ? pg_quote_literal(conn, c->channel, err, errsz) : NULL;
    bool ok = false;
    if (!chan)
        goto done;
    size_t len = strlen(sq) + strlen(nq) + 2;
    if (!(s->table_q = malloc(len)))
        goto oom;
    snprintf(s->table_q, len, "%s.%s", sq, nq);
    if (t->managed && t->version_kind == CFG_VERSION_COLUMN) {
        /* Deterministic from the table, so every init finds the same one. */
        char *h = md5_of(conn, t->ident, err, errsz);
        if (!h)
            goto done;
        s->seq_name = malloc(32);
        if (s->seq_name)
            snprintf(s->seq_name, 32, "version_%.16s", h);
        free(h);
        if (!s->seq_name)
            goto oom;
        char *q = pg_quote_ident(conn, s->seq_name, err, errsz);
        if (!q)
            goto done;
        len = strlen(schema_q) + strlen(q) + 2;
        s->seq_q = malloc(len);
        if (s->seq_q)
            snprintf(s->seq_q, len, "%s.%s", schema_q, q);
        free(q);
        if (!s->seq_q || !(s->seq_lit = pg_quote_literal(conn, s->seq_q, err, errsz)))
            goto oom;
    }
    if (!(s->args = trigger_args(conn, t, s->seq_q, err, errsz)))
        goto done;
    char names[4][64];
    char *names_q[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        init_trigger_name(c->schema, i < 3 ? row_trigger_names[i] : VERSION_TRIGGER_NAME, names[i]);
        /* A plain name stays bare, so the default schema's triggers (and their spec hash) are as before. */
        bool plain = names[i][0] != '\0' && !isdigit((unsigned char)names[i][0]) &&
                     strspn(names[i], "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(names[i]);
        if (!(names_q[i] = plain ? strdup(names[i]) : pg_quote_ident(conn, names[i], err, errsz))) {
            if (plain)
                snprintf(err, errsz, "out of memory");
            for (int j = 0; j < i; j++)
                free(names_q[j]);
            goto done;
        }
    }
    const char *vars[] = {"schema",        schema_q,    "table",        s->table_q,  "args",
                          s->args,         "channel",   chan,           "capture_name", names_q[0],
                          "notify_name",   names_q[1],  "truncate_name", names_q[2], "version_name",
                          names_q[3],      NULL};
    char *rows = sql_render_vars("init_triggers_create", vars);
    char *ver = t->managed ? sql_render_vars("init_version_trigger", vars) : NULL;
    for (int i = 0; i < 4; i++)
        free(names_q[i]);
    buf b = BUF_INIT;
    if (rows)
        buf_puts(&b, rows);
    if (ver)
        buf_puts(&b, ver);
    free(rows);
    free(ver);
    if (!(s->triggers = buf_steal(&b)))
        goto oom;
    if (!(s->spec = md5_of(conn, s->triggers, err, errsz)))
        goto done;
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    free(sq);
    free(nq);
    free(chan);
    if (!ok)
        table_sql_free(s);
    return ok;
}

/* Another config (another schema) may capture the same table: each has its
 * own triggers, change table and store. Only one may manage its version:
 * two BEFORE triggers drawing versions from two sequences would overwrite
 * each other's, and deletes versioned from one sequence could lose to rows
 * versioned from the other. False with err naming the other schema. */
static bool shared_capture_ok(PGconn *conn, const cfg *c, const cfg_table *t, char *err, size_t errsz)
{
    const char *params[] = {t->schema, t->name, c->schema};
    PGresult *r = pg_exec(conn, sql_text("init_other_captures"), 3, params, err, errsz);
    if (!r)
        return false;
    bool ok = true;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        const char *other = PQgetvalue(r, i, 0);
        bool other_managed = strcmp(PQgetvalue(r, i, 1), "t") == 0;
        if (t->managed && other_managed) {
            snprintf(err, errsz,
                     "%s: tables[%d].version: %s is already captured with a managed version by the config of "
                     "schema \"%s\"; two managed versions on one table would overwrite each other. Let one "
                     "config manage it and give the other the same column unmanaged "
                     "(\"version\": {\"%s\": \"%s\"})",
                     c->path ? c->path : "(config)", t->json_index, t->ident, other,
                     t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", t->version_column);
            ok = false;
        } else {
            log_info("%s is also captured by the config of schema \"%s\": each has its own triggers and change "
                     "table", t->ident, other);
        }
    }
    PQclear(r);
    return ok;
}

/* The names of our triggers on schema.table in the init_triggers answer. */
static size_t triggers_on(PGresult *trg, const char *schema, const char *name, const char **names, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < PQntuples(trg); i++)
        if (strcmp(PQgetvalue(trg, i, 0), schema) == 0 && strcmp(PQgetvalue(trg, i, 1), name) == 0 && n < max &&
            strncmp(PQgetvalue(trg, i, 2), NESTED_TRIGGER_PREFIX, strlen(NESTED_TRIGGER_PREFIX)) != 0 &&
            strncmp(PQgetvalue(trg, i, 2), PARTITION_TRIGGER_PREFIX, strlen(PARTITION_TRIGGER_PREFIX)) != 0)
            names[n++] = PQgetvalue(trg, i, 2); /* nested and partition triggers are planned by their modules */
    return n;
}

static bool add_drops(PGconn *conn, const char *schema_q, const char *table_q, const char **names, size_t n, buf *sql,
                      char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        char *tq = pg_quote_ident(conn, names[i], err, errsz);
        if (!tq)
            return false;
        const char *vars[] = {"schema", schema_q, "table", table_q, "trigger", tq, NULL};
        char *s = sql_render_vars("init_drop_trigger", vars);
        free(tq);
        if (!s || !buf_puts(sql, s)) {
            free(s);
            snprintf(err, errsz, "out of memory");
            return false;
        }
        free(s);
    }
    return true;
}

/* A table captured without triggers ("capture": "cursor") gets none: any of ours are
 * dropped (it moved from trigger mode); it is only registered, with spec 'cursor'. */
static bool plan_cursor_table(PGconn *conn, const cfg_table *t, const char *schema_q, PGresult *reg, PGresult *trg,
                              plan *p, char *err, size_t errsz)
{
    const char *reg_spec = NULL, *reg_index = NULL;
    for (int i = 0; reg && i < PQntuples(reg); i++)
        if (strcmp(PQgetvalue(reg, i, 0), t->ident) == 0) {
            reg_index = PQgetvalue(reg, i, 1);
            reg_spec = PQgetisnull(reg, i, 2) ? "" : PQgetvalue(reg, i, 2);
        }
    const char *have[64];
    size_t nhave = trg ? triggers_on(trg, t->schema, t->name, have, 64) : 0;
    const char *mode = t->capture == CFG_CAPTURE_WAL ? "wal" : "cursor";
    if (nhave == 0 && reg_spec && strcmp(reg_spec, mode) == 0 && strcmp(reg_index, t->index) == 0)
        return true;
    /* A table WAL capture starts on: its existing rows are for --backfill (README, "Logical replication
     * capture"); not one that trigger capture kept in the index until now (its switch, wal_switch_*). */
    if (t->capture == CFG_CAPTURE_WAL && (!reg_spec || strcmp(reg_spec, "cursor") == 0) && p->fresh)
        p->fresh[p->nfresh++] = t;
    bool ok = false;
    buf sql = BUF_INIT;
    char *sq = pg_quote_ident(conn, t->schema, err, errsz);
    char *nq = sq ? pg_quote_ident(conn, t->name, err, errsz) : NULL;
    char *tbl_lit = nq ? pg_quote_literal(conn, t->ident, err, errsz) : NULL;
    char *index_lit = tbl_lit ? pg_quote_literal(conn, t->index, err, errsz) : NULL;
    char *regsql = NULL;
    if (!index_lit)
        goto done;
    char table_q[300];
    snprintf(table_q, sizeof table_q, "%s.%s", sq, nq);
    if (!add_drops(conn, schema_q, table_q, have, nhave, &sql, err, errsz))
        goto done;
    const char *vars[] = {"schema", schema_q, "table", table_q, "tbl", tbl_lit, "index", index_lit,
                          "spec", t->capture == CFG_CAPTURE_WAL ? "'wal'" : "'cursor'", "seq_lit", "NULL", NULL};
    if (!(regsql = sql_render_vars("init_register", vars)) || !buf_puts(&sql, regsql)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    char what[512];
    if (nhave)
        snprintf(what, sizeof what, "dropped triggers on %s (\"capture\": \"%s\")", t->ident, mode);
    else
        snprintf(what, sizeof what, "registered %s (\"capture\": \"%s\": no triggers)", t->ident, mode);
    plan_add(p, what, sql.data);
    ok = true;
done:
    free(sq);
    free(nq);
    free(tbl_lit);
    free(index_lit);
    free(regsql);
    buf_free(&sql);
    return ok;
}

/* Plan what converges one mapped table. */
static bool plan_table(PGconn *conn, const cfg *c, const cfg_table *t, const char *schema_q, PGresult *reg,
                       PGresult *trg, plan *p, char *err, size_t errsz)
{
    if (t->capture == CFG_CAPTURE_CURSOR || t->capture == CFG_CAPTURE_WAL)
        return plan_cursor_table(conn, t, schema_q, reg, trg, p, err, errsz);
    table_sql s;
    if (!table_sql_build(conn, c, t, schema_q, &s, err, errsz))
        return false;
    bool ok = false;
    buf sql = BUF_INIT;
    char *tbl_lit = pg_quote_literal(conn, t->ident, err, errsz);
    char *index_lit = tbl_lit ? pg_quote_literal(conn, t->index, err, errsz) : NULL;
    char *spec_lit = index_lit ? pg_quote_literal(conn, s.spec, err, errsz) : NULL;
    if (!spec_lit)
        goto done;
    const char *reg_spec = NULL, *reg_index = NULL;
    for (int i = 0; reg && i < PQntuples(reg); i++)
        if (strcmp(PQgetvalue(reg, i, 0), t->ident) == 0) {
            reg_index = PQgetvalue(reg, i, 1);
            reg_spec = PQgetisnull(reg, i, 2) ? "" : PQgetvalue(reg, i, 2);
        }
    const char *have[64];
    size_t nhave = trg ? triggers_on(trg, t->schema, t->name, have, 64) : 0;
    size_t nwant = 3 + (t->managed ? 1 : 0);
    bool same = reg_spec && strcmp(reg_spec, s.spec) == 0 && nhave == nwant;
    char name[64];
    for (size_t i = 0; same && i < 3; i++) {
        init_trigger_name(c->schema, row_trigger_names[i], name);
        same = in_list(have, nhave, name);
    }
    if (same && t->managed) {
        init_trigger_name(c->schema, VERSION_TRIGGER_NAME, name);
        same = in_list(have, nhave, name);
    }
    if (!same && !shared_capture_ok(conn, c, t, err, errsz))
        goto done;
    if (same && s.seq_name) {
        const char *params[] = {c->schema, s.seq_name};
        PGresult *r = pg_exec(conn, sql_text("init_sequence_exists"), 2, params, err, errsz);
        if (!r)
            goto done;
        same = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    }
    const char *vars[] = {"schema", schema_q, "table", s.table_q, "tbl", tbl_lit, "index", index_lit,
                          "spec", spec_lit, "seq_lit", s.seq_lit ? s.seq_lit : "NULL", NULL};
    char *regsql = sql_render_vars("init_register", vars);
    if (!regsql)
        goto oom;
    /* No capture trigger before: its rows are not in the index, unless the stream kept them there
     * ("capture": "wal" until now, wal_switch_before). */
    bool was_wal = false;
    for (int i = 0; reg && i < PQntuples(reg); i++)
        was_wal |= strcmp(PQgetvalue(reg, i, 0), t->ident) == 0 && !PQgetisnull(reg, i, 2) &&
                   strcmp(PQgetvalue(reg, i, 2), "wal") == 0;
    if (!same && nhave == 0 && !was_wal && p->fresh)
        p->fresh[p->nfresh++] = t;
    if (!same) {
        if (!add_drops(conn, schema_q, s.table_q, have, nhave, &sql, err, errsz))
            goto done;
        if (s.seq_q) {
            char comment[300];
            snprintf(comment, sizeof comment, "managed versions of %s (versync)", t->ident);
            char *comment_lit = pg_quote_literal(conn, comment, err, errsz);
            char *vq = comment_lit ? pg_quote_ident(conn, t->version_column, err, errsz) : NULL;
            if (!vq) {
                free(comment_lit);
                free(regsql);
                goto done;
            }
            const char *sv[] = {"schema", schema_q, "table", s.table_q, "seq", s.seq_q, "seq_lit", s.seq_lit,
                                "vcol", vq, "comment", comment_lit, NULL};
            char *seqsql = sql_render_vars("init_sequence", sv);
            free(comment_lit);
            free(vq);
            if (!seqsql || !buf_puts(&sql, seqsql)) {
                free(seqsql);
                free(regsql);
                goto oom;
            }
            free(seqsql);
        }
        buf_puts(&sql, s.triggers);
        buf_puts(&sql, regsql);
        char what[512];
        snprintf(what, sizeof what, "%s triggers on %s%s", nhave ? "replaced" : "created", t->ident,
                 nhave ? " (their definition changed)" : "");
        if (!buf_ok(&sql)) {
            free(regsql);
            goto oom;
        }
        plan_add(p, what, sql.data);
    } else if (strcmp(reg_index, t->index) != 0) {
        char what[512];
        snprintf(what, sizeof what, "index of %s is now \"%s\" (was \"%s\")", t->ident, t->index, reg_index);
        plan_add(p, what, regsql);
    }
    free(regsql);
    {
        /* A partitioned table: its partitions' own statement triggers, all anew when the parent's changed. */
        char pwhat[768];
        buf psql = BUF_INIT;
        bool pok = partition_plan(conn, c, t, schema_q, !same, &psql, pwhat, sizeof pwhat, err, errsz);
        if (pok && pwhat[0])
            plan_add(p, pwhat, psql.data);
        buf_free(&psql);
        if (!pok)
            goto done;
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    free(tbl_lit);
    free(index_lit);
    free(spec_lit);
    buf_free(&sql);
    table_sql_free(&s);
    return ok;
}

/* Plan dropping the triggers of tables that left the config. */
static bool plan_removed(PGconn *conn, const cfg *c, const char *schema_q, PGresult *reg, PGresult *trg, plan *p,
                         char *err, size_t errsz)
{
    int ntrg = trg ? PQntuples(trg) : 0;
    for (int i = 0; i < ntrg; i++) {
        const char *sch = PQgetvalue(trg, i, 0), *name = PQgetvalue(trg, i, 1);
        if (i > 0 && strcmp(PQgetvalue(trg, i - 1, 0), sch) == 0 && strcmp(PQgetvalue(trg, i - 1, 1), name) == 0)
            continue; /* one entry per table: the rows are ordered */
        char ident[300];
        snprintf(ident, sizeof ident, "%s.%s", sch, name);
        if (cfg_find_table(c, ident))
            continue;
        const char *have[64];
        size_t nhave = triggers_on(trg, sch, name, have, 64);
        if (nhave == 0)
            continue; /* only nested capture triggers: nested_init_plan's */
        char *sq = pg_quote_ident(conn, sch, err, errsz);
        char *nq = sq ? pg_quote_ident(conn, name, err, errsz) : NULL;
        char *lit = nq ? pg_quote_literal(conn, ident, err, errsz) : NULL;
        if (!lit) {
            free(sq);
            free(nq);
            return false;
        }
        char table_q[300];
        snprintf(table_q, sizeof table_q, "%s.%s", sq, nq);
        buf sql = BUF_INIT;
        bool ok = add_drops(conn, schema_q, table_q, have, nhave, &sql, err, errsz);
        const char *vars[] = {"schema", schema_q, "tbl", lit, NULL};
        char *unreg = sql_render_vars("init_unregister", vars);
        if (ok && unreg)
            buf_puts(&sql, unreg);
        char what[512];
        snprintf(what, sizeof what, "dropped triggers on %s (no longer in the config)", ident);
        if (ok && unreg && buf_ok(&sql))
            plan_add(p, what, sql.data);
        free(unreg);
        free(sq);
        free(nq);
        free(lit);
        buf_free(&sql);
        if (!ok)
            return false;
    }
    /* Registered tables without triggers (dropped tables, or triggers dropped by hand). */
    for (int i = 0; reg && i < PQntuples(reg); i++) {
        const char *ident = PQgetvalue(reg, i, 0);
        if (cfg_find_table(c, ident))
            continue;
        bool had = false;
        for (int j = 0; j < ntrg && !had; j++) {
            char id[300];
            snprintf(id, sizeof id, "%s.%s", PQgetvalue(trg, j, 0), PQgetvalue(trg, j, 1));
            had = strcmp(id, ident) == 0;
        }
        if (had)
            continue;
        char *lit = pg_quote_literal(conn, ident, err, errsz);
        if (!lit)
            return false;
        const char *vars[] = {"schema", schema_q, "tbl", lit, NULL};
        char *unreg = sql_render_vars("init_unregister", vars);
        free(lit);
        if (!unreg) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
        char what[512];
        snprintf(what, sizeof what, "forgot %s (no longer in the config)", ident);
        plan_add(p, what, unreg);
        free(unreg);
    }
    return true;
}

/* Plan the whole database side. Read-only: it only queries. */
static bool plan_database(PGconn *conn, const cfg *c, const char *schema_q, plan *p, char *err, size_t errsz)
{
    bool ok = false;
    PGresult *st = NULL, *reg = NULL, *trg = NULL, *meta = NULL;
    char *schema_sql = NULL, *capture_sql = NULL, *md5 = NULL, *meta_sql = NULL, *md5_lit = NULL;
    const char *sp[] = {c->schema};
    if (!(st = pg_exec(conn, sql_text("init_state"), 1, sp, err, errsz)))
        goto done;
    bool has_schema = strcmp(PQgetvalue(st, 0, 0), "t") == 0;
    const char *missing = PQgetvalue(st, 0, 1);
    bool complete = has_schema && strcmp(missing, "{}") == 0;
    if (!complete) {
        if (!(schema_sql = sql_render("schema", schema_q)))
            goto oom;
        char what[512];
        if (!has_schema)
            snprintf(what, sizeof what, "created schema %s with versync's tables (schema version 1)", schema_q);
        else
            snprintf(what, sizeof what, "created the missing tables %s in schema %s", missing, schema_q);
        plan_add(p, what, schema_sql);
    }
    if (strcmp(PQgetvalue(st, 0, 2), "t") != 0) {
        char *av_sql = sql_render("init_changes_autovacuum", schema_q);
        if (!av_sql)
            goto oom;
        char what[512];
        snprintf(what, sizeof what,
                 "set autovacuum on %s.changes: vacuumed every 10000 dead rows, unthrottled (a queue table)",
                 schema_q);
        plan_add(p, what, av_sql);
        free(av_sql);
    }
    /* meta exists unless it is among the missing tables. */
    bool has_meta = has_schema && !strstr(missing, "meta");
    bool has_tables = has_schema && !strstr(missing, "tables");
    const char *installed = NULL;
    if (has_meta) {
        const char *k1[] = {"schema_version"};
        if (!(meta = query(conn, "init_meta_get", schema_q, 1, k1, err, errsz)))
            goto done;
        if (PQntuples(meta) == 1 && atoi(PQgetvalue(meta, 0, 0)) > 1) {
            snprintf(err, errsz, "schema %s was set up by a newer versync (schema version %s; this one knows 1)",
                     schema_q, PQgetvalue(meta, 0, 0));
            goto done;
        }
        PQclear(meta);
        const char *k2[] = {"functions_md5"};
        if (!(meta = query(conn, "init_meta_get", schema_q, 1, k2, err, errsz)))
            goto done;
        if (PQntuples(meta) == 1)
            installed = PQgetvalue(meta, 0, 0);
    }
    if (!(capture_sql = sql_render("capture", schema_q)))
        goto oom;
    {
        /* The nested-document capture functions are part of the trigger functions. */
        char *nested_sql = sql_render("nested_capture", schema_q);
        size_t n1 = strlen(capture_sql), n2 = nested_sql ? strlen(nested_sql) : 0;
        char *both = nested_sql ? realloc(capture_sql, n1 + n2 + 2) : NULL;
        if (both) {
            capture_sql = both;
            snprintf(capture_sql + n1, n2 + 2, "\n%s", nested_sql);
        }
        free(nested_sql);
        if (!both)
            goto oom;
    }
    if (!(md5 = md5_of(conn, capture_sql, err, errsz)))
        goto done;
    if (!installed || strcmp(installed, md5) != 0) {
        if (!(md5_lit = pg_quote_literal(conn, md5, err, errsz)))
            goto done;
        const char *vars[] = {"schema", schema_q, "key", "'functions_md5'", "value", md5_lit, NULL};
        if (!(meta_sql = sql_render_vars("init_meta_set", vars)))
            goto oom;
        buf b = BUF_INIT;
        buf_puts(&b, capture_sql);
        buf_puts(&b, meta_sql);
        if (!buf_ok(&b)) {
            buf_free(&b);
            goto oom;
        }
        plan_add(p, installed ? "updated the trigger functions" : "installed the trigger functions", b.data);
        buf_free(&b);
    }
    if (has_tables && !(reg = query(conn, "init_registered", schema_q, 0, NULL, err, errsz)))
        goto done;
    if (!(trg = pg_exec(conn, sql_text("init_triggers"), 1, sp, err, errsz)))
        goto done;
    for (size_t i = 0; i < c->ntables; i++)
        if (!plan_table(conn, c, &c->tables[i], schema_q, reg, trg, p, err, errsz))
            goto done;
    if (!plan_removed(conn, c, schema_q, reg, trg, p, err, errsz))
        goto done;
    {
        char pwhat[768];
        buf psql = BUF_INIT;
        bool pok = partition_plan_orphans(conn, c, schema_q, &psql, pwhat, sizeof pwhat, err, errsz);
        if (pok && pwhat[0])
            plan_add(p, pwhat, psql.data);
        buf_free(&psql);
        if (!pok)
            goto done;
    }
    {
        char *nested_sql = NULL, what[256];
        if (!nested_init_plan(conn, c, schema_q, trg, has_meta, &nested_sql, what, sizeof what, err, errsz))
            goto done;
        if (nested_sql)
            plan_add(p, what, nested_sql);
        free(nested_sql);
    }
    ok = !p->oom;
    if (p->oom)
        snprintf(err, errsz, "out of memory");
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    PQclear(st);
    PQclear(reg);
    PQclear(trg);
    PQclear(meta);
    free(schema_sql);
    free(capture_sql);
    free(md5);
    free(meta_sql);
    free(md5_lit);
    return ok;
}

/* ---- the store ---------------------------------------------------------- */

/* Percent-encode an index name for a URL path. */
static void url_path(buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '.' || *p == '-' || *p == '_')
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

long long init_time_value_ms(const char *s)
{
    /* Fractions allowed: a store older than Elasticsearch 7 may report "1.5m". */
    int64_t ms;
    return scan_duration_ms(s, SCAN_FRACTION, &ms) ? (long long)ms : -1;
}

long long init_gc_deletes_ms(const char *body)
{
    cJSON *root = cJSON_Parse(body ? body : "");
    cJSON *idx = cJSON_IsObject(root) && cJSON_IsObject(root->child) ? root->child : NULL;
    long long ms = idx ? 60000 : -1; /* not reported: Elasticsearch's default */
    const char *groups[] = {"settings", "defaults"};
    for (size_t i = 0; idx && i < 2; i++) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(idx, groups[i]);
        cJSON *v = g ? cJSON_GetObjectItemCaseSensitive(g, "index.gc_deletes") : NULL;
        if (cJSON_IsString(v)) {
            ms = init_time_value_ms(v->valuestring);
            break;
        }
    }
    cJSON_Delete(root);
    return ms;
}

/* Warn when the index forgets delete tombstones within the hour: a stale write
 * arriving later than that would resurrect a deleted document. */
static void check_gc_deletes(esc *e, const cfg_table *t)
{
    buf path = BUF_INIT, resp;
    buf_init(&resp, 4u << 20);
    char err[512] = "out of memory";
    buf_putc(&path, '/');
    url_path(&path, t->index);
    buf_puts(&path, "/_settings?include_defaults=true&flat_settings=true");
    int status = path.data ? esc_request(e, "GET", path.data, NULL, NULL, 0, NULL, &resp, err, sizeof err) : -1;
    long long ms = status == 200 ? init_gc_deletes_ms(resp.data) : -1;
    if (ms >= 0 && ms < 3600000LL)
        log_warn("index \"%s\": index.gc_deletes is %lldms, shorter than one hour; a stale write that arrives "
                 "later than that after a delete would bring the document back. Raise it, e.g. "
                 "PUT /%s/_settings {\"index.gc_deletes\": \"1h\"}",
                 t->index, ms, t->index);
    else if (status != 200)
        log_warn("index \"%s\": could not read index.gc_deletes (%s); make sure it exceeds the worst lag",
                 t->index, status < 0 ? err : "unexpected answer");
    buf_free(&path);
    buf_free(&resp);
}

typedef struct drift_ctx {
    const char *index;
    int n;
} drift_ctx;

static void init_drift(void *ctx, const char *field, const char *live, const char *expected)
{
    drift_ctx *d = ctx;
    d->n++;
    if (!strcmp(live, "none"))
        log_warn("index \"%s\": field \"%s\" is not mapped in the store, the config implies %s", d->index, field,
                 expected);
    else
        log_warn("index \"%s\": field \"%s\" is mapped %s in the store, the config implies %s", d->index, field,
                 live, expected);
}

/* Add to the live index `index` (URL path `path`, "/name"), whose mapping is
 * `live`, the fields its generated mapping has and it lacks: PUT
 * /{index}/_mapping, the one change Elasticsearch allows to a live mapping (a
 * column added to the table after the index was made). With dry_run, print
 * the request instead. On success *after is `live` with those fields (what
 * the mapping is, or would be, once they are added), for the caller to free.
 * Returns how many fields were added (or would be), or, having logged,
 * -CLI_EXIT_UNREACHABLE / -CLI_EXIT_CONFIG. */
static int add_missing_fields(esc *e, const char *index, const char *path, const cJSON *mapping, const cJSON *live,
                              bool dry_run, bool *changed, cJSON **after)
{
    char err[512];
    cJSON *body = NULL;
    char *text = NULL;
    buf url = BUF_INIT, resp = BUF_INIT;
    size_t n = 0;
    int rc = -CLI_EXIT_CONFIG;
    *after = NULL;
    if (!(body = mapping_missing(mapping, live, &n)) || !(text = cJSON_PrintUnformatted(body)) ||
        !buf_puts(&url, path) || !buf_puts(&url, "/_mapping") || !(*after = cJSON_Duplicate(live, true)) ||
        !mapping_merge(*after, body)) {
        log_error("index \"%s\": adding missing fields: out of memory", index);
        goto done;
    }
    rc = (int)n;
    if (n == 0)
        goto done;
    if (dry_run) {
        cli_print("-- store: would add %zu field%s to index \"%s\": PUT %s %s\n", n, n == 1 ? "" : "s", index,
                  url.data, text);
        goto done;
    }
    int status = esc_request(e, "PUT", url.data, NULL, text, strlen(text), NULL, &resp, err, sizeof err);
    if (status == 200) {
        cli_print("added %zu field%s to the mapping of index \"%s\": %s\n", n, n == 1 ? "" : "s", index, text);
        *changed = true;
        goto done;
    }
    if (status == ESC_TRANSPORT_ERROR)
        log_error("store at %s: adding fields to index \"%s\": %s", esc_url(e), index, err);
    else
        log_error("store at %s refused to add fields to index \"%s\" (HTTP %d): %.500s", esc_url(e), index, status,
                  resp.data ? resp.data : "");
    rc = status == ESC_TRANSPORT_ERROR || status >= 500 || status == 429 ? -CLI_EXIT_UNREACHABLE : -CLI_EXIT_CONFIG;
done:
    if (rc < 0) {
        cJSON_Delete(*after);
        *after = NULL;
    }
    cJSON_Delete(body);
    cJSON_free(text);
    buf_free(&url);
    buf_free(&resp);
    return rc;
}

/* Create missing indexes with the mapping each table implies (mapping.h); say where an existing
 * index's mapping differs. Returns CLI_EXIT_OK, or (having logged) CLI_EXIT_CONFIG when the store
 * refuses (credentials, a mapping) or CLI_EXIT_UNREACHABLE when it does not answer. */
static int init_store(PGconn *conn, const cfg *c, bool dry_run, bool *changed, int *drift)
{
    char err[512];
    esc *e = esc_new(&c->store, err, sizeof err);
    if (!e) {
        log_error("store: %s", err);
        return CLI_EXIT_CONFIG;
    }
    int rc = CLI_EXIT_CONFIG;
    buf resp, path = BUF_INIT;
    char *body = NULL;
    cJSON *mapping = NULL;
    buf_init(&resp, 4u << 20);
    char terr[1024];
    target_result tr = target_check(c, terr, sizeof terr);
    if (tr != TARGET_OK) {
        log_error("%s", terr);
        rc = cli_target_exit(tr);
        goto done;
    }
    int status = esc_request(e, "GET", "/", NULL, NULL, 0, NULL, &resp, err, sizeof err);
    if (status == ESC_TRANSPORT_ERROR || status >= 500) {
        log_error("store at %s is unreachable: %s", esc_url(e), status >= 500 ? "HTTP 5xx" : err);
        rc = CLI_EXIT_UNREACHABLE;
        goto done;
    }
    /* verstore keeps tombstones for good; Elasticsearch/OpenSearch only for gc_deletes. */
    bool verstore = resp.data && strstr(resp.data, "verstore");
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        buf_reset(&path);
        buf_reset(&resp);
        buf_putc(&path, '/');
        url_path(&path, t->index);
        if (!buf_ok(&path)) {
            log_error("store at %s: checking index \"%s\": out of memory", esc_url(e), t->index);
            goto done;
        }
        cJSON_Delete(mapping);
        if (!(mapping = mapping_for_table(conn, t, err, sizeof err))) {
            log_error("index \"%s\": generating its mapping: %s", t->index, err);
            rc = cli_pg_exit(conn);
            goto done;
        }
        status = esc_request(e, "HEAD", path.data, NULL, NULL, 0, NULL, &resp, err, sizeof err);
        if (status == 404) {
            free(body);
            if (!(body = mapping_index_body(conn, t, err, sizeof err))) {
                log_error("index \"%s\": generating its mapping: %s", t->index, err);
                rc = cli_pg_exit(conn);
                goto done;
            }
            if (dry_run) {
                cli_print("-- store: would create index \"%s\": PUT /%s %s\n", t->index, path.data + 1, body);
                continue;
            }
            buf_reset(&resp);
            status = esc_request(e, "PUT", path.data, NULL, body, strlen(body), NULL, &resp, err, sizeof err);
            if (status == 200 || status == 201) {
                cli_print("created index \"%s\" on the store\n", t->index);
                *changed = true;
            } else if (status == 400 && resp.data && strstr(resp.data, "resource_already_exists")) {
                /* Another init created it in between: converged all the same. */
            } else {
                if (status == ESC_TRANSPORT_ERROR || status >= 500 || status == 429)
                    rc = CLI_EXIT_UNREACHABLE;
                if (status == ESC_TRANSPORT_ERROR)
                    log_error("store at %s: creating index \"%s\": %s", esc_url(e), t->index, err);
                else
                    log_error("store at %s refused to create index \"%s\" (HTTP %d): %.500s", esc_url(e), t->index,
                              status, resp.data ? resp.data : "");
                goto done;
            }
        } else if (status == ESC_TRANSPORT_ERROR) {
            log_error("store at %s: checking index \"%s\": %s", esc_url(e), t->index, err);
            rc = CLI_EXIT_UNREACHABLE;
            goto done;
        } else if (status != 200) {
            if (status >= 500 || status == 429)
                rc = CLI_EXIT_UNREACHABLE;
            log_error("store at %s: checking index \"%s\" answered HTTP %d", esc_url(e), t->index, status);
            goto done;
        }
        if (status == 200) {
            cJSON *answer = NULL, *after = NULL;
            int n = mapping_store_get(e, t->index, &answer, err, sizeof err);
            if (n == MAPPING_STORE_UNREACHABLE) {
                log_error("store at %s: reading the mapping of index \"%s\": %s", esc_url(e), t->index, err);
                rc = CLI_EXIT_UNREACHABLE;
                goto done;
            }
            if (n == 0) {
                n = add_missing_fields(e, t->index, path.data, mapping, mapping_of_answer(answer), dry_run, changed,
                                       &after);
                if (n >= 0) {
                    drift_ctx d = {t->index, 0};
                    n = (int)mapping_diff(mapping, after, init_drift, &d);
                }
            } else if (n != MAPPING_STORE_MISSING) {
                log_warn("index \"%s\": could not compare its mapping: %s", t->index, err);
                n = 0;
            }
            cJSON_Delete(answer);
            cJSON_Delete(after);
            if (n < 0) {
                rc = n == -CLI_EXIT_UNREACHABLE ? CLI_EXIT_UNREACHABLE : CLI_EXIT_CONFIG;
                goto done;
            }
            if (n > 0) {
                *drift += n;
                log_warn("index \"%s\": %d field%s mapped otherwise than the config implies; init adds missing "
                         "fields but never changes a field's type: rebuild the index as README \"Zero-downtime "
                         "reindex (alias switch)\" shows (versync check lists the differences)",
                         t->index, n, n == 1 ? " is" : "s are");
            }
        }
        if (!verstore)
            check_gc_deletes(e, t);
    }
    rc = CLI_EXIT_OK;
done:
    cJSON_Delete(mapping);
    free(body);
    buf_free(&resp);
    buf_free(&path);
    esc_free(e);
    return rc;
}

/* ---- existing rows ---------------------------------------------------------- */

/* Counting stops here; beyond, the planner's estimate is reported. */
#define EXISTING_COUNT_LIMIT 1000000LL

/* For each table this run starts capturing: count its rows (inside init's
 * transaction) and say how many no change will carry. Tables with rows are
 * appended to copy (heap strings) for --backfill. */
static bool count_existing(PGconn *conn, const plan *p, buf *notes, const char **copy, int *ncopy, char *err,
                           size_t errsz)
{
    for (size_t i = 0; i < p->nfresh; i++) {
        const cfg_table *t = p->fresh[i];
        long long rows;
        bool estimated;
        if (!setup_existing_rows(conn, t, EXISTING_COUNT_LIMIT, &rows, &estimated, err, errsz))
            return false;
        if (rows == 0)
            continue;
        char *id = strdup(t->ident);
        if (!id) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
        copy[(*ncopy)++] = id;
        if (!buf_printf(notes,
                        "%s: %s%lld existing row%s, not yet in the index \"%s\": changes from now on are "
                        "captured, these rows only reach the index when copied\n",
                        t->ident, estimated ? "about " : "", rows, rows == 1 ? "" : "s", t->index)) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
    }
    return true;
}

/* After init: copy the existing rows (--backfill) or say how. Returns the exit status. */
static int report_existing(const cli_globals *g, const buf *notes, const char **copy, int ncopy, bool backfill,
                           bool no_store, int rc)
{
    if (ncopy <= 1)
        return rc;
    cli_print("%s", notes->data);
    buf names = BUF_INIT;
    for (int i = 1; i < ncopy; i++)
        buf_printf(&names, " %s", copy[i]);
    if (!backfill || no_store || rc != 0) {
        cli_print("copy them with: versync backfill%s   (or run versync init --backfill)\n",
               names.data ? names.data : "");
        fflush(stdout);
        buf_free(&names);
        return rc;
    }
    cli_print("--backfill: copying the existing rows of%s\n", names.data ? names.data : "");
    fflush(stdout);
    int brc = cli_backfill(g, ncopy, (char **)copy);
    if (brc != CLI_EXIT_OK)
        log_error("init is done, but the copy of the existing rows failed; run versync backfill%s to finish it",
                  names.data ? names.data : "");
    buf_free(&names);
    return brc;
}

/* ---- the command -------------------------------------------------------- */

static void init_usage(FILE *out)
{
    fprintf(out, "usage: versync [-c FILE] init [--dry-run] [--no-store] [--backfill]\n\n"
                 "Converges the database to the config: versync's schema and tables, the trigger\n"
                 "functions, and the triggers of every mapped table (dropping those of tables no\n"
                 "longer mapped), in one transaction; then creates each missing index on the store\n"
                 "with the mapping the column types imply (the config's mappings merged over it),\n"
                 "and warns where an existing index's mapping differs (versync check exits 1 then).\n"
                 "Prints one line per change, or \"nothing to change\", and for each table it starts\n"
                 "capturing, how many existing rows no change will carry to the index.\n\n"
                 "  --dry-run   print the SQL that would run and the indexes (settings and generated\n"
                 "              mappings) it would create, and change nothing\n"
                 "  --no-store  leave the store alone (PostgreSQL only)\n"
                 "  --backfill  then copy those existing rows (versync backfill TABLE...)\n"
                 "  -h, --help  this text\n\n"
                 "exit status: 0 converged; 1 converged, but --backfill left rows uncopied; 2 usage,\n"
                 "invalid config, or a change PostgreSQL or the store refuses; 3 PostgreSQL or the\n"
                 "store unreachable (the PostgreSQL part is committed when only the store failed)\n");
}

int cli_init(const cli_globals *g, int argc, char **argv)
{
    bool dry_run = false, no_store = false, backfill = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0)
            dry_run = true;
        else if (strcmp(argv[i], "--backfill") == 0)
            backfill = true;
        else if (strcmp(argv[i], "--no-store") == 0)
            no_store = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            init_usage(stdout);
            return 0;
        } else {
            log_error("init: unknown argument \"%s\" (see versync init --help)", argv[i]);
            return CLI_EXIT_CONFIG;
        }
    }
    cfg c;
    PGconn *conn = NULL;
    char err[1024];
    int rc = 1;
    plan p = {BUF_INIT, BUF_INIT, false, NULL, 0};
    buf notes = BUF_INIT;     /* one line per table with existing rows */
    buf switched = BUF_INIT;  /* what switching tables between trigger and WAL capture did */
    bool changed_wal = false; /* wal_setup_init created the publication or slot */
    const char **copy = NULL; /* argv of the backfill of --backfill */
    int ncopy = 0;
    char *schema_q = NULL;
    bool in_tx = false;
    if ((rc = cli_open(g, "versync init", &c, &conn)) != CLI_EXIT_OK)
        return rc;
    rc = CLI_EXIT_CONFIG;
    for (size_t i = 0; i < c.ntables; i++)
        for (size_t k = 0; k < c.tables[i].nkey; k++)
            if (catalog_type_text_varies(c.tables[i].key_types[k]))
                log_warn("key column \"%s\" of %s is %s: its text (the document id) depends on session settings "
                         "such as TimeZone and DateStyle; keep them the same for every writer",
                         c.tables[i].key[k], c.tables[i].ident, c.tables[i].key_types[k]);
    if (!(schema_q = pg_quote_ident(conn, c.schema, err, sizeof err)))
        goto fail;
    if (!(p.fresh = calloc(c.ntables + 1, sizeof *p.fresh)) || !(copy = calloc(c.ntables + 2, sizeof *copy))) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    copy[ncopy++] = "backfill";
    if (wal_table_count(&c) && !wal_setup_precheck(conn, err, sizeof err))
        goto fail;
    /* The publication and slot come first, outside init's transaction (a logical slot cannot be
     * created in one that wrote): a table moving from triggers to the stream then has every change
     * in one or the other (or both) while its triggers are dropped, and the slot exists before any
     * --backfill snapshot is taken, so the copy and the stream overlap. */
    if (!wal_setup_init(conn, &c, dry_run, &changed_wal, err, sizeof err))
        goto fail;
    fflush(stdout);
    if (!pg_run(conn, "BEGIN", 0, NULL, err, sizeof err))
        goto fail;
    in_tx = true;
    const char *sp[] = {c.schema};
    if (!pg_run(conn, sql_text("init_lock"), 1, sp, err, sizeof err) ||
        (!dry_run && !wal_switch_before(conn, &c, schema_q, &switched, err, sizeof err)) ||
        !plan_database(conn, &c, schema_q, &p, err, sizeof err))
        goto fail;
    bool changed = p.sql.len > 0 || changed_wal;
    if (dry_run) {
        cli_print("%s", changed ? p.sql.data : "-- PostgreSQL: nothing to change\n");
        pg_run(conn, "ROLLBACK", 0, NULL, err, sizeof err);
        in_tx = false;
    } else {
        if (p.sql.len && !pg_run(conn, p.sql.data, 0, NULL, err, sizeof err))
            goto fail;
        if (!wal_switch_after(conn, &c, schema_q, &switched, err, sizeof err))
            goto fail;
        /* Counted under the lock CREATE TRIGGER took: exactly the rows no change row will carry. */
        if (!count_existing(conn, &p, &notes, copy, &ncopy, err, sizeof err))
            goto fail;
        if (!pg_run(conn, "COMMIT", 0, NULL, err, sizeof err))
            goto fail;
        in_tx = false;
        if (p.sql.len)
            cli_print("%s", p.report.data);
        if (switched.len) {
            cli_print("%s", switched.data);
            changed = true;
        }
    }
    fflush(stdout);
    if (!wal_setup_unused_slot(conn, &c, err, sizeof err))
        goto fail;
    fflush(stdout);
    int drift = 0;
    rc = no_store ? CLI_EXIT_OK : init_store(conn, &c, dry_run, &changed, &drift);
    if (rc != CLI_EXIT_OK && !dry_run)
        log_error("the PostgreSQL part of init is committed; run versync init again once the store answers");
    if (rc == 0 && !changed && !dry_run && drift)
        cli_print("nothing init can change, but %d mapped field%s differ%s from the config (see above)\n", drift,
                  drift == 1 ? "" : "s", drift == 1 ? "s" : "");
    else if (rc == 0 && !changed && !dry_run)
        cli_print("nothing to change\n");
    if (!dry_run)
        rc = report_existing(g, &notes, copy, ncopy, backfill, no_store, rc);
    goto done;
fail:
    log_error("init: %s", err);
    rc = cli_pg_exit(conn);
    if (in_tx)
        pg_run(conn, "ROLLBACK", 0, NULL, err, sizeof err);
done:
    for (int i = 1; copy && i < ncopy; i++)
        free((char *)copy[i]);
    free(copy);
    buf_free(&notes);
    buf_free(&switched);
    free(p.fresh);
    free(schema_q);
    buf_free(&p.sql);
    buf_free(&p.report);
    PQfinish(conn);
    cfg_free(&c);
    return rc;
}
