/* bridge_catalog — checks the config's tables against the live PostgreSQL catalog and fills in what it implies. */
#include "versync/bridge/catalog.h"

#include "versync/common/buf.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/where.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(const cfg *c, char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static bool fail(const cfg *c, char *err, size_t errsz, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errsz, "%s: %s", c->path ? c->path : "(config)", msg);
    return false;
}

/* The row of `name` in the catalog answer, or -1. */
static int find_col(PGresult *r, const char *name)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (!PQgetisnull(r, i, 1) && strcmp(PQgetvalue(r, i, 1), name) == 0)
            return i;
    return -1;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void clear_cols(cfg_table *t)
{
    for (size_t i = 0; t->cols && i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].field);
        free(t->cols[i].base);
        free(t->cols[i].render);
    }
    free(t->cols);
    t->cols = NULL;
    t->ncols = 0;
}

static void clear_fills(cfg_table *t)
{
    clear_cols(t);
    for (size_t i = 0; t->key_types && i < t->nkey; i++)
        free(t->key_types[i]);
    free(t->key_types);
    t->key_types = NULL;
    free(t->version_type);
    t->version_type = NULL;
    t->version_has_tz = false;
    t->partitioned = false;
    t->key_unenforced = false;
}

/* Every name in `names` must be a column of the table. */
static bool check_list(const cfg *c, const cfg_table *t, PGresult *r, char **names, size_t n, const char *what,
                       char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++)
        if (find_col(r, names[i]) < 0)
            return fail(c, err, errsz, "tables[%d].%s[%zu]: column \"%s\" does not exist in %s", t->json_index, what,
                        i, names[i], t->ident);
    return true;
}

static bool is_mapped(const cfg_table *t, const char *col)
{
    if (t->columns && !in_list(t->columns, t->ncolumns, col))
        return false;
    return !in_list(t->exclude, t->nexclude, col);
}

static const char *renamed(const cfg_table *t, const char *col)
{
    for (size_t i = 0; i < t->nrename; i++)
        if (strcmp(t->rename[i].from, col) == 0)
            return t->rename[i].to;
    return col;
}

/* Is (names) backed by the primary key or a unique index of the table? -1 on a catalog error. */
static int unique_over(const cfg_table *t, PGconn *conn, char *const *names, size_t n, char *dberr, size_t dberrsz)
{
    buf arr = {0};
    if (!render_array_literal(&arr, (const char *const *)names, n)) {
        snprintf(dberr, dberrsz, "out of memory");
        return -1;
    }
    const char *params[] = {t->schema, t->name, arr.data};
    PGresult *r = pg_exec(conn, sql_text("catalog_key_unique"), 3, params, dberr, dberrsz);
    buf_free(&arr);
    if (!r)
        return -1;
    int unique = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return unique;
}

/* A partitioned table's unique indexes all contain its partition key, so a key
 * without it (an id drawn from one sequence) can only be unique per partition:
 * accepted when the key plus the partition key is unique, and flagged so that
 * check says PostgreSQL does not enforce it across partitions. */
static int unique_with_partition_key(cfg_table *t, PGconn *conn, char *dberr, size_t dberrsz)
{
    const char *params[] = {t->schema, t->name};
    PGresult *r = pg_exec(conn, sql_text("catalog_partition_key"), 2, params, dberr, dberrsz);
    if (!r)
        return -1;
    int np = PQntuples(r), unique = -1;
    char **names = calloc(t->nkey + (size_t)np + 1, sizeof *names);
    if (!names) {
        snprintf(dberr, dberrsz, "out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t k = 0; k < t->nkey; k++)
        names[n++] = t->key[k];
    for (int i = 0; i < np; i++)
        if (!in_list(t->key, t->nkey, PQgetvalue(r, i, 0)))
            names[n++] = PQgetvalue(r, i, 0);
    unique = n > t->nkey ? unique_over(t, conn, names, n, dberr, dberrsz) : 0;
    if (unique == 1)
        t->key_unenforced = true;
done:
    free(names);
    PQclear(r);
    return unique;
}

/* A configured key must be unique in PostgreSQL: two rows sharing a key
 * would share one document id, and one of them would silently be missing. */
static bool key_is_unique(const cfg *c, cfg_table *t, PGconn *conn, char *err, size_t errsz)
{
    char dberr[768];
    int unique = unique_over(t, conn, t->key, t->nkey, dberr, sizeof dberr);
    if (unique == 0 && t->partitioned)
        unique = unique_with_partition_key(t, conn, dberr, sizeof dberr);
    if (unique < 0)
        return fail(c, err, errsz, "tables[%d].key: cannot read the indexes of %s: %s", t->json_index, t->ident,
                    dberr);
    if (unique)
        return true;
    char cols[512] = "";
    for (size_t k = 0; k < t->nkey; k++)
        snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", k ? ", " : "", t->key[k]);
    return fail(c, err, errsz,
                "tables[%d].key: (%s) is not backed by a primary key or unique index of %s%s: rows sharing a key "
                "would share one document and all but one would be missing from the index; add one "
                "(CREATE UNIQUE INDEX ON %s (%s)) or name columns that have one",
                t->json_index, cols, t->ident, t->partitioned ? " (nor is it together with the partition key)" : "",
                t->ident, cols);
}

static bool resolve_table(cfg *c, cfg_table *t, PGconn *conn, char *err, size_t errsz)
{
    bool ok = false;
    const char *params[] = {t->schema, t->name};
    char dberr[768];
    PGresult *r = pg_exec(conn, sql_text("catalog_columns"), 2, params, dberr, sizeof dberr);
    if (!r)
        return fail(c, err, errsz, "tables[%d].table: cannot read the catalog for %s: %s", t->json_index, t->ident,
                    dberr);
    int n = PQntuples(r);
    if (n == 0) {
        fail(c, err, errsz, "tables[%d].table: table %s does not exist", t->json_index, t->ident);
        goto done;
    }
    const char *kind = PQgetvalue(r, 0, 0);
    if (strcmp(kind, "v") == 0 || strcmp(kind, "m") == 0) {
        /* Capture is a row trigger that fires on writes to the table itself: a view has no rows
         * of its own, so no write to the tables under it would ever reach its trigger. */
        fail(c, err, errsz,
             "tables[%d].table: %s is a %s; a view cannot be captured: its rows are computed from other "
             "tables at read time, and versync's row triggers only fire on writes to the table they are on, so "
             "no change to the tables under the view would ever be recorded. Map the base table(s) instead "
             "(\"children\" builds one document from related tables)",
             t->json_index, t->ident, strcmp(kind, "v") == 0 ? "view" : "materialized view");
        goto done;
    }
    t->partitioned = strcmp(kind, "p") == 0;
    if (t->partitioned && t->capture == CFG_CAPTURE_WAL) {
        /* pgoutput names a partition's changes by the partition unless the publication was made with
         * publish_via_partition_root, which versync's publication is not (and a given one may not be). */
        fail(c, err, errsz,
             "tables[%d].capture: %s is a partitioned table, which \"capture\": \"wal\" does not support: "
             "logical replication reports each change under the partition's own name (the parent's only "
             "through a publication made WITH (publish_via_partition_root = true)), so the parent's changes "
             "would never be matched to this mapping. Use \"capture\": \"trigger\" (the default), which "
             "captures every partition, present and future, under the parent's name",
             t->json_index, t->ident);
        goto done;
    }
    if (strcmp(kind, "r") != 0 && !t->partitioned) {
        const char *what = strcmp(kind, "f") == 0 ? "a foreign table" : "not a table";
        fail(c, err, errsz, "tables[%d].table: %s is %s; only ordinary and partitioned tables can be synced",
             t->json_index, t->ident, what);
        goto done;
    }
    if (!check_list(c, t, r, t->columns, t->ncolumns, "columns", err, errsz) ||
        !check_list(c, t, r, t->exclude, t->nexclude, "exclude", err, errsz))
        goto done;

    /* The key: as configured, else the primary key in its index order. */
    if (t->key) {
        if (!check_list(c, t, r, t->key, t->nkey, "key", err, errsz) || !key_is_unique(c, t, conn, err, errsz))
            goto done;
    } else {
        size_t nk = 0;
        for (int i = 0; i < n; i++)
            nk += !PQgetisnull(r, i, 4);
        if (nk == 0) {
            fail(c, err, errsz,
                 "tables[%d].key: %s has no primary key; set \"key\" to the columns that identify a row",
                 t->json_index, t->ident);
            goto done;
        }
        if (!(t->key = calloc(nk, sizeof *t->key)))
            goto oom;
        t->nkey = nk;
        for (int i = 0; i < n; i++) {
            if (PQgetisnull(r, i, 4))
                continue;
            long pos = strtol(PQgetvalue(r, i, 4), NULL, 10);
            if (pos < 1 || (size_t)pos > nk || t->key[pos - 1]) {
                fail(c, err, errsz, "tables[%d].key: cannot make sense of the primary key of %s", t->json_index,
                     t->ident);
                goto done;
            }
            if (!(t->key[pos - 1] = strdup(PQgetvalue(r, i, 1))))
                goto oom;
        }
    }
    if (!(t->key_types = calloc(t->nkey, sizeof *t->key_types)))
        goto oom;
    for (size_t k = 0; k < t->nkey; k++)
        if (!(t->key_types[k] = strdup(PQgetvalue(r, find_col(r, t->key[k]), 2))))
            goto oom;

    if (t->version_column) {
        bool ts = t->version_kind == CFG_VERSION_TIMESTAMP;
        const char *path = ts ? "timestamp" : "column";
        int i = find_col(r, t->version_column);
        if (i < 0) {
            fail(c, err, errsz, "tables[%d].version.%s: column \"%s\" does not exist in %s", t->json_index, path,
                 t->version_column, t->ident);
            goto done;
        }
        const char *base = PQgetvalue(r, i, 3);
        if (ts && strcmp(base, "timestamp without time zone") != 0 && strcmp(base, "timestamp with time zone") != 0) {
            fail(c, err, errsz,
                 "tables[%d].version.timestamp: column \"%s\" of %s is %s, not a timestamp type "
                 "(timestamp or timestamptz)",
                 t->json_index, t->version_column, t->ident, PQgetvalue(r, i, 2));
            goto done;
        }
        if (!ts && strcmp(base, "smallint") != 0 && strcmp(base, "integer") != 0 && strcmp(base, "bigint") != 0) {
            fail(c, err, errsz,
                 "tables[%d].version.column: column \"%s\" of %s is %s, not an integer type (smallint, integer, "
                 "bigint)",
                 t->json_index, t->version_column, t->ident, PQgetvalue(r, i, 2));
            goto done;
        }
        t->version_has_tz = ts && strcmp(base, "timestamp with time zone") == 0;
        if (!(t->version_type = strdup(PQgetvalue(r, i, 2))))
            goto oom;
    }
    if (t->soft_delete_column && find_col(r, t->soft_delete_column) < 0) {
        fail(c, err, errsz, "tables[%d].soft_delete.column: column \"%s\" does not exist in %s", t->json_index,
             t->soft_delete_column, t->ident);
        goto done;
    }
    if (t->where && !where_check(conn, t, dberr, sizeof dberr)) {
        fail(c, err, errsz, "%s", dberr);
        goto done;
    }
    for (size_t i = 0; i < t->nrename; i++) {
        const char *from = t->rename[i].from;
        if (find_col(r, from) < 0) {
            fail(c, err, errsz, "tables[%d].rename.%s: column \"%s\" does not exist in %s", t->json_index, from, from,
                 t->ident);
            goto done;
        }
        if (!is_mapped(t, from)) {
            fail(c, err, errsz, "tables[%d].rename.%s: column \"%s\" is not in the document (see columns/exclude)",
                 t->json_index, from, from);
            goto done;
        }
    }

    if (!catalog_fill_columns(t, r))
        goto oom;
    for (size_t i = 0; i < t->ncols; i++) {
        const cfg_column *col = &t->cols[i];
        if (col->mapped && strcmp(col->field, col->name) == 0 && cfg_field_reserved(col->field)) {
            fail(c, err, errsz,
                 "tables[%d]: column \"%s\" of %s would be the document field \"%s\", an Elasticsearch "
                 "metadata field name the store refuses in a document; rename it (\"rename\": {\"%s\": "
                 "\"...\"}) or exclude it",
                 t->json_index, col->name, t->ident, col->field, col->name);
            goto done;
        }
        for (size_t j = 0; col->mapped && j < i; j++) {
            const cfg_column *o = &t->cols[j];
            if (o->mapped && strcmp(o->field, col->field) == 0) {
                const char *via = strcmp(col->field, col->name) == 0 ? o->name : col->name;
                fail(c, err, errsz,
                     "tables[%d].rename.%s: columns \"%s\" and \"%s\" would both be the document field \"%s\"",
                     t->json_index, via, o->name, col->name, col->field);
                goto done;
            }
        }
    }
    ok = true;
    goto done;
oom:
    fail(c, err, errsz, "tables[%d]: out of memory", t->json_index);
done:
    PQclear(r);
    return ok;
}

bool catalog_fill_columns(cfg_table *t, PGresult *r)
{
    clear_cols(t);
    int n = PQntuples(r);
    if (!(t->cols = calloc(n ? (size_t)n : 1, sizeof *t->cols)))
        return false;
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(r, i, 1))
            continue;
        cfg_column *col = &t->cols[t->ncols++];
        const char *name = PQgetvalue(r, i, 1);
        col->mapped = is_mapped(t, name);
        col->key = in_list(t->key, t->nkey, name);
        if (!(col->name = strdup(name)) || !(col->type = strdup(PQgetvalue(r, i, 2))) ||
            !(col->base = strdup(PQgetvalue(r, i, 3))) || !(col->render = strdup(PQgetvalue(r, i, 5))) ||
            (col->mapped && !(col->field = strdup(renamed(t, name))))) {
            clear_cols(t);
            return false;
        }
    }
    return true;
}

bool catalog_load_columns(cfg_table *t, PGconn *conn, char *err, size_t errsz)
{
    const char *params[] = {t->schema, t->name};
    char dberr[768];
    PGresult *r = pg_exec(conn, sql_text("catalog_columns"), 2, params, dberr, sizeof dberr);
    if (!r) {
        snprintf(err, errsz, "cannot read the columns of %s: %s", t->ident, dberr);
        return false;
    }
    bool ok = catalog_fill_columns(t, r);
    PQclear(r);
    if (!ok)
        snprintf(err, errsz, "out of memory reading the columns of %s", t->ident);
    return ok;
}

bool catalog_resolve(cfg *c, PGconn *conn, char *err, size_t errsz)
{
    for (size_t i = 0; i < c->ntables; i++) {
        clear_fills(&c->tables[i]);
        if (!resolve_table(c, &c->tables[i], conn, err, errsz) ||
            !nested_catalog_resolve(c, &c->tables[i], conn, NULL, err, errsz))
            return false;
    }
    return true;
}

bool catalog_open(const char *config_flag, const char *appname, cfg *out, PGconn **conn, char *err, size_t errsz)
{
    *conn = NULL;
    if (!cfg_load(cfg_default_path(config_flag), out, err, errsz))
        return false;
    char cerr[768];
    if (!(*conn = pg_connect(out->postgres, appname, cerr, sizeof cerr))) {
        snprintf(err, errsz, "%s: postgres: %s", out->path, cerr);
        cfg_free(out);
        return false;
    }
    if (!catalog_resolve(out, *conn, err, errsz)) {
        PQfinish(*conn);
        *conn = NULL;
        cfg_free(out);
        return false;
    }
    return true;
}

bool catalog_type_text_varies(const char *type)
{
    static const char *const prefixes[] = {"timestamp", "date", "time", "interval", "real", "double precision", NULL};
    for (size_t i = 0; prefixes[i]; i++)
        if (strncmp(type, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}
