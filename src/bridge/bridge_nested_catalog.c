/* bridge_nested_catalog — check the children of a mapping against the live catalogue and fill in their keys. */
#include "versync/bridge/nested.h"

#include "versync/bridge/catalog.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(const cfg *c, char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static bool fail(const cfg *c, char *err, size_t errsz, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errsz, "%s: %s", c && c->path ? c->path : "(config)", msg);
    return false;
}

/* The catalog_columns answer for one table, or NULL with err set. */
static PGresult *columns_of(const cfg *c, PGconn *conn, const char *path, const char *schema, const char *name,
                            char *err, size_t errsz)
{
    const char *params[] = {schema, name};
    char dberr[600];
    PGresult *r = pg_exec(conn, sql_text("catalog_columns"), 2, params, dberr, sizeof dberr);
    if (!r) {
        fail(c, err, errsz, "%s: cannot read the catalog for %s.%s: %s", path, schema, name, dberr);
        return NULL;
    }
    if (PQntuples(r) == 0 || (strcmp(PQgetvalue(r, 0, 0), "r") != 0 && strcmp(PQgetvalue(r, 0, 0), "p") != 0)) {
        fail(c, err, errsz, "%s: %s.%s %s", path, schema, name,
             PQntuples(r) == 0 ? "does not exist" : "is not an ordinary table");
        PQclear(r);
        return NULL;
    }
    return r;
}

static int find_col(PGresult *r, const char *name)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (!PQgetisnull(r, i, 1) && strcmp(PQgetvalue(r, i, 1), name) == 0)
            return i;
    return -1;
}

static bool need_cols(const cfg *c, PGresult *r, char **names, size_t n, const char *path, const char *what,
                      const char *table, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++)
        if (find_col(r, names[i]) < 0)
            return fail(c, err, errsz, "%s.%s: column \"%s\" does not exist in %s", path, what, names[i], table);
    return true;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* Type families whose values join and compare alike (and whose jsonb forms agree for the capture's locks). */
static const char *family(const char *base)
{
    static const char *const ints[] = {"smallint", "integer", "bigint", NULL};
    static const char *const texts[] = {"text", "character varying", "character", "name", NULL};
    for (size_t i = 0; ints[i]; i++)
        if (strcmp(base, ints[i]) == 0)
            return "integer";
    for (size_t i = 0; texts[i]; i++)
        if (strcmp(base, texts[i]) == 0)
            return "text";
    return base;
}

/* Each pair a.x[i] = b.y[i] joins columns of compatible types. */
static bool check_types(const cfg *c, PGresult *a, PGresult *b, char **x, char **y, size_t n, const char *path,
                        const char *an, const char *bn, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        int ia = find_col(a, x[i]), ib = find_col(b, y[i]);
        const char *ta = PQgetvalue(a, ia, 3), *tb = PQgetvalue(b, ib, 3);
        if (strcmp(family(ta), family(tb)) != 0)
            return fail(c, err, errsz,
                        "%s.%s: %s.%s is %s and %s.%s is %s: a join needs columns of the same type (or both "
                        "integers, or both text)",
                        path, x[i], an, x[i], PQgetvalue(a, ia, 2), bn, y[i], PQgetvalue(b, ib, 2));
    }
    return true;
}

static bool warn_index(const cfg *c, PGconn *conn, buf *warn, const char *schema, const char *name, char **cols,
                       size_t n, const char *path, const char *who, char *err, size_t errsz)
{
    if (!warn)
        return true;
    buf arr = BUF_INIT;
    buf_putc(&arr, '{');
    for (size_t i = 0; i < n; i++) {
        buf_printf(&arr, "%s\"", i ? "," : "");
        for (const char *p = cols[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(&arr, '\\');
            buf_putc(&arr, *p);
        }
        buf_putc(&arr, '"');
    }
    buf_putc(&arr, '}');
    const char *params[] = {schema, name, arr.data};
    char dberr[600];
    PGresult *r = arr.overflow ? NULL : pg_exec(conn, sql_text("nested_index"), 3, params, dberr, sizeof dberr);
    buf_free(&arr);
    if (!r)
        return fail(c, err, errsz, "%s: cannot read the indexes of %s.%s", path, schema, name);
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        buf_printf(warn, "warning: %s: no index of %s.%s starts with (", path, schema, name);
        for (size_t i = 0; i < n; i++)
            buf_printf(warn, "%s%s", i ? ", " : "", cols[i]);
        buf_printf(warn, "): %s will scan the table\n", who);
    }
    PQclear(r);
    return true;
}

PGresult *nested_partitions(PGconn *conn, const char *schema, const char *name, char *err, size_t errsz)
{
    const char *params[] = {schema, name, NESTED_TRIGGER_PREFIX "%"};
    return pg_exec(conn, sql_text("nested_partitions"), 3, params, err, errsz);
}

/* Warn when table schema.name of the tree has nested-document triggers (init
 * ran) but some of its partitions lack them: rows written straight into those
 * partitions would not reach the documents until init adds them. */
static bool warn_partitions(const cfg *c, PGconn *conn, buf *warn, const char *schema, const char *name,
                            const char *path, char *err, size_t errsz)
{
    if (!warn)
        return true;
    char dberr[600];
    PGresult *r = nested_partitions(conn, schema, name, dberr, sizeof dberr);
    if (!r)
        return fail(c, err, errsz, "%s: cannot read the partitions of %s.%s: %s", path, schema, name, dberr);
    bool installed = false;
    int lacking = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        bool has = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        if (strcmp(PQgetvalue(r, i, 3), "0") == 0)
            installed = has;
        else
            lacking += !has;
    }
    if (installed && lacking > 0) {
        buf_printf(warn, "warning: %s: %d partition%s of %s.%s lack%s versync's nested-document triggers (", path,
                   lacking, lacking == 1 ? "" : "s", schema, name, lacking == 1 ? "s" : "");
        int shown = 0;
        for (int i = 0; i < PQntuples(r) && shown < 5; i++)
            if (strcmp(PQgetvalue(r, i, 3), "0") != 0 && strcmp(PQgetvalue(r, i, 2), "t") != 0)
                buf_printf(warn, "%s%s.%s", shown++ ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        buf_printf(warn, "%s): rows written straight into %s do not reach the documents; run `versync init`\n",
                   lacking > shown ? ", …" : "", lacking == 1 ? "it" : "them");
    }
    PQclear(r);
    return true;
}

/* The document field a column of `t` becomes, or NULL when it is not shown. */
static const char *field_of(const cfg_table *t, const char *col)
{
    if (t->columns && !in_list(t->columns, t->ncolumns, col))
        return NULL;
    if (in_list(t->exclude, t->nexclude, col))
        return NULL;
    for (size_t i = 0; i < t->nrename; i++)
        if (strcmp(t->rename[i].from, col) == 0)
            return t->rename[i].to;
    return col;
}

static bool resolve_node(const cfg *c, cfg_table *t, PGresult *pr, PGconn *conn, buf *warn, char *err, size_t errsz);

static bool resolve_child(const cfg *c, const cfg_table *parent, PGresult *pr, cfg_child *ch, PGconn *conn, buf *warn,
                          char *err, size_t errsz)
{
    bool ok = false;
    PGresult *cr = NULL, *lr = NULL;
    char sub[600];
    snprintf(sub, sizeof sub, "%s.table", ch->path);
    if (!(cr = columns_of(c, conn, sub, ch->t.schema, ch->t.name, err, errsz)))
        goto done;
    for (int i = 0; i < PQntuples(pr); i++) {
        const char *f = PQgetisnull(pr, i, 1) ? NULL : field_of(parent, PQgetvalue(pr, i, 1));
        if (f && strcmp(f, ch->name) == 0) {
            fail(c, err, errsz, "%s.name: \"%s\" is already a field of the parent document (column \"%s\" of %s); "
                                "rename one", ch->path, ch->name, PQgetvalue(pr, i, 1), parent->ident);
            goto done;
        }
    }
    if (!need_cols(c, cr, ch->t.columns, ch->t.ncolumns, ch->path, "columns", ch->t.ident, err, errsz) ||
        !need_cols(c, cr, ch->t.exclude, ch->t.nexclude, ch->path, "exclude", ch->t.ident, err, errsz) ||
        !need_cols(c, cr, ch->order_by, ch->norder, ch->path, "order_by", ch->t.ident, err, errsz) ||
        (ch->t.key && !need_cols(c, cr, ch->t.key, ch->t.nkey, ch->path, "key", ch->t.ident, err, errsz)))
        goto done;
    for (size_t i = 0; i < ch->t.nrename; i++)
        if (find_col(cr, ch->t.rename[i].from) < 0 || !field_of(&ch->t, ch->t.rename[i].from)) {
            fail(c, err, errsz, "%s.rename.%s: column \"%s\" %s", ch->path, ch->t.rename[i].from,
                 ch->t.rename[i].from,
                 find_col(cr, ch->t.rename[i].from) < 0 ? "does not exist" : "is not in the document");
            goto done;
        }
    if (!ch->t.key) {
        size_t nk = 0;
        for (int i = 0; i < PQntuples(cr); i++)
            nk += !PQgetisnull(cr, i, 4);
        if (nk == 0) {
            fail(c, err, errsz, "%s.key: %s has no primary key; set \"key\" (the columns that order its rows)",
                 ch->path, ch->t.ident);
            goto done;
        }
        if (!(ch->t.key = calloc(nk, sizeof *ch->t.key)))
            goto oom;
        ch->t.nkey = nk;
        for (int i = 0; i < PQntuples(cr); i++) {
            if (PQgetisnull(cr, i, 4))
                continue;
            long pos = strtol(PQgetvalue(cr, i, 4), NULL, 10);
            if (pos < 1 || (size_t)pos > nk || ch->t.key[pos - 1] ||
                !(ch->t.key[pos - 1] = strdup(PQgetvalue(cr, i, 1))))
                goto oom;
        }
    }
    char jp[600];
    if (ch->link_ident) {
        snprintf(sub, sizeof sub, "%s.through.table", ch->path);
        if (!(lr = columns_of(c, conn, sub, ch->link_schema, ch->link_name, err, errsz)))
            goto done;
        snprintf(jp, sizeof jp, "%s.through", ch->path);
        if (!need_cols(c, pr, ch->join_from, ch->njoin, jp, "join", parent->ident, err, errsz) ||
            !need_cols(c, lr, ch->join_to, ch->njoin, jp, "join", ch->link_ident, err, errsz) ||
            !need_cols(c, lr, ch->to_from, ch->nto, jp, "to", ch->link_ident, err, errsz) ||
            !need_cols(c, cr, ch->to_to, ch->nto, jp, "to", ch->t.ident, err, errsz))
            goto done;
        snprintf(sub, sizeof sub, "%s.through.join", ch->path);
        if (!check_types(c, pr, lr, ch->join_from, ch->join_to, ch->njoin, sub, parent->ident, ch->link_ident, err,
                         errsz))
            goto done;
        snprintf(sub, sizeof sub, "%s.through.to", ch->path);
        if (!check_types(c, lr, cr, ch->to_from, ch->to_to, ch->nto, sub, ch->link_ident, ch->t.ident, err, errsz))
            goto done;
        snprintf(sub, sizeof sub, "%s.through.join", ch->path);
        if (!warn_index(c, conn, warn, ch->link_schema, ch->link_name, ch->join_to, ch->njoin, sub,
                        "the re-read of each document", err, errsz))
            goto done;
        snprintf(sub, sizeof sub, "%s.through.to", ch->path);
        if (!warn_index(c, conn, warn, ch->t.schema, ch->t.name, ch->to_to, ch->nto, sub,
                        "the re-read of each document", err, errsz) ||
            !warn_index(c, conn, warn, ch->link_schema, ch->link_name, ch->to_from, ch->nto, sub,
                        "capturing a change of a child row", err, errsz))
            goto done;
    } else {
        if (!need_cols(c, pr, ch->join_from, ch->njoin, ch->path, "join", parent->ident, err, errsz) ||
            !need_cols(c, cr, ch->join_to, ch->njoin, ch->path, "join", ch->t.ident, err, errsz))
            goto done;
        snprintf(sub, sizeof sub, "%s.join", ch->path);
        if (!check_types(c, pr, cr, ch->join_from, ch->join_to, ch->njoin, sub, parent->ident, ch->t.ident, err,
                         errsz) ||
            !warn_index(c, conn, warn, ch->t.schema, ch->t.name, ch->join_to, ch->njoin, sub,
                        "the re-read of each document", err, errsz) ||
            !warn_index(c, conn, warn, parent->schema, parent->name, ch->join_from, ch->njoin, sub,
                        "capturing a change of a child row", err, errsz))
            goto done;
    }
    if (!warn_partitions(c, conn, warn, ch->t.schema, ch->t.name, ch->path, err, errsz) ||
        (ch->link_ident && !warn_partitions(c, conn, warn, ch->link_schema, ch->link_name, ch->path, err, errsz)))
        goto done;
    /* Its column types: the child's values render as the root's do (render_types.h). */
    if (!catalog_fill_columns(&ch->t, cr))
        goto oom;
    ok = resolve_node(c, &ch->t, cr, conn, warn, err, errsz);
    goto done;
oom:
    fail(c, err, errsz, "%s: out of memory", ch->path);
done:
    PQclear(cr);
    PQclear(lr);
    return ok;
}

static bool resolve_node(const cfg *c, cfg_table *t, PGresult *pr, PGconn *conn, buf *warn, char *err, size_t errsz)
{
    for (size_t i = 0; i < t->nchildren; i++)
        if (!resolve_child(c, t, pr, &t->children[i], conn, warn, err, errsz))
            return false;
    return true;
}

bool nested_catalog_resolve(const cfg *c, cfg_table *t, PGconn *conn, buf *warn, char *err, size_t errsz)
{
    if (!nested_is_tree(t))
        return true;
    char path[64];
    snprintf(path, sizeof path, "tables[%d].table", t->json_index);
    PGresult *pr = columns_of(c, conn, path, t->schema, t->name, err, errsz);
    if (!pr)
        return false;
    bool ok = warn_partitions(c, conn, warn, t->schema, t->name, path, err, errsz) &&
              resolve_node(c, t, pr, conn, warn, err, errsz);
    PQclear(pr);
    return ok;
}
