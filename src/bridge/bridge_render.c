/* bridge_render — the SQL that reads mapped rows with PostgreSQL rendering each as a JSON document and its version. */
#include "versync/bridge/render.h"

#include "versync/common/grow.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render_types.h"
#include "versync/bridge/where.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* alias."column" */
static bool put_col(PGconn *conn, buf *out, const char *alias, const char *col, char *err, size_t errsz)
{
    if (!buf_puts(out, alias) || !buf_putc(out, '.')) {
        snprintf(err, errsz, "out of memory rendering SQL");
        return false;
    }
    return pg_put_ident(conn, out, col, err, errsz);
}

static bool in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static const char *renamed(const cfg_table *t, const char *col)
{
    for (size_t i = 0; i < t->nrename; i++)
        if (strcmp(t->rename[i].from, col) == 0)
            return t->rename[i].to;
    return col;
}

/* The catalog's record of column `name`, or NULL (types not loaded). */
static const cfg_column *col_of(const cfg_table *t, const char *name)
{
    for (size_t i = 0; t->cols && i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

/* True when the column's jsonb form is not what the document shows (money, bytea, …). */
static bool needs_expr(const cfg_table *t, const char *col)
{
    const cfg_column *c = col_of(t, col);
    return c && !render_types_plain(c->render, t->special);
}

/* alias."column", wrapped in its type's rendering (render_types.h) when it needs one. */
static bool put_value(PGconn *conn, const cfg_table *t, buf *out, const char *alias, const char *col, char *err,
                      size_t errsz)
{
    if (!needs_expr(t, col))
        return put_col(conn, out, alias, col, err, errsz);
    buf v = BUF_INIT;
    bool ok = put_col(conn, &v, alias, col, err, errsz) &&
              render_types_expr(col_of(t, col)->render, t->special, v.data, out, err, errsz);
    buf_free(&v);
    return ok;
}

#define PUTS(s)                                                                                                \
    do {                                                                                                       \
        if (!buf_puts(out, (s))) {                                                                             \
            snprintf(err, errsz, "out of memory rendering SQL");                                               \
            return false;                                                                                      \
        }                                                                                                      \
    } while (0)

/* The document. Naming the fields through a sub-select's column aliases keeps
 * every name an identifier (no string literals), and alias.* (never a bare
 * alias) cannot be mistaken for a column of the same name. */
static bool put_doc(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz)
{
    if (t->ncolumns > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < t->ncolumns; i++) {
            const char *c = t->columns[i];
            if (in_list(t->exclude, t->nexclude, c))
                continue;
            PUTS(kept++ ? ", " : "(SELECT to_jsonb(vs_doc.*) FROM (SELECT ");
            if (!put_value(conn, t, out, alias, c, err, errsz))
                return false;
            PUTS(" AS ");
            if (!pg_put_ident(conn, out, renamed(t, c), err, errsz))
                return false;
        }
        PUTS(kept ? ") vs_doc)" : "'{}'::jsonb");
        return true;
    }
    /* All columns: the row minus exclusions and rename sources, plus the renamed ones. */
    PUTS("(to_jsonb(");
    PUTS(alias);
    PUTS(".*)");
    size_t ndrop = 0;
    for (size_t i = 0; i < t->nexclude + t->nrename; i++) {
        const char *c = i < t->nexclude ? t->exclude[i] : t->rename[i - t->nexclude].from;
        PUTS(ndrop++ ? ", " : " - ARRAY[");
        if (!pg_put_literal(conn, out, c, err, errsz))
            return false;
    }
    if (ndrop)
        PUTS("]::text[]");
    size_t nren = 0;
    for (size_t i = 0; i < t->nrename; i++) {
        if (in_list(t->exclude, t->nexclude, t->rename[i].from))
            continue;
        PUTS(nren++ ? ", " : " || (SELECT to_jsonb(vs_doc.*) FROM (SELECT ");
        if (!put_value(conn, t, out, alias, t->rename[i].from, err, errsz))
            return false;
        PUTS(" AS ");
        if (!pg_put_ident(conn, out, t->rename[i].to, err, errsz))
            return false;
    }
    /* Columns whose type renders otherwise replace their jsonb form under the same name. */
    for (size_t i = 0; t->cols && i < t->ncols; i++) {
        const cfg_column *c = &t->cols[i];
        if (!c->mapped || in_list(t->exclude, t->nexclude, c->name) || strcmp(renamed(t, c->name), c->name) != 0 ||
            !needs_expr(t, c->name))
            continue;
        PUTS(nren++ ? ", " : " || (SELECT to_jsonb(vs_doc.*) FROM (SELECT ");
        if (!put_value(conn, t, out, alias, c->name, err, errsz))
            return false;
        PUTS(" AS ");
        if (!pg_put_ident(conn, out, c->name, err, errsz))
            return false;
    }
    if (nren)
        PUTS(") vs_doc)");
    PUTS(")");
    return true;
}

bool render_select_list(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz)
{
    if (t->nkey == 0) {
        snprintf(err, errsz, "table %s has no key (no primary key and no \"key\" in the config)", t->ident);
        return false;
    }
    if (!(nested_is_tree(t) ? nested_doc_expr(conn, t, alias, out, err, errsz)
                            : put_doc(conn, t, alias, out, err, errsz)))
        return false;
    PUTS("::text AS doc, ");
    switch (t->version_kind) {
    case CFG_VERSION_SEQ:
        PUTS("NULL::text");
        break;
    case CFG_VERSION_COLUMN:
        if (!put_col(conn, out, alias, t->version_column, err, errsz))
            return false;
        PUTS("::text");
        break;
    case CFG_VERSION_TIMESTAMP:
        /* Whole microseconds, exactly as the triggers compute them. */
        PUTS("trunc(extract(epoch FROM ");
        if (!put_col(conn, out, alias, t->version_column, err, errsz))
            return false;
        PUTS(") * 1000000)::text");
        break;
    }
    PUTS(" AS version, ");
    /* The deleted flag: a row soft-deleted or outside the "where" filter is written as a versioned
     * delete, read in the same statement as its version (README: "Row filters"). */
    if (t->soft_delete_column) {
        /* A boolean true, or any other non-NULL value (deleted_at timestamps). */
        PUTS("COALESCE(to_jsonb(");
        if (!put_col(conn, out, alias, t->soft_delete_column, err, errsz))
            return false;
        PUTS(") NOT IN ('false'::jsonb, 'null'::jsonb), false)");
    }
    if (t->where) {
        if (t->soft_delete_column)
            PUTS(" OR ");
        if (!where_put_outside(t, alias, out, err, errsz))
            return false;
    }
    if (!t->soft_delete_column && !t->where)
        PUTS("false");
    PUTS(" AS soft_deleted, ARRAY[");
    for (size_t i = 0; i < t->nkey; i++) {
        if (i)
            PUTS(", ");
        if (!put_col(conn, out, alias, t->key[i], err, errsz))
            return false;
        PUTS("::text");
    }
    PUTS("]::text[] AS key");
    return true;
}

bool render_doc_expr(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz)
{
    return put_doc(conn, t, alias, out, err, errsz);
}

bool render_table_name(PGconn *conn, const cfg_table *t, buf *out, char *err, size_t errsz)
{
    if (!pg_put_ident(conn, out, t->schema, err, errsz))
        return false;
    PUTS(".");
    return pg_put_ident(conn, out, t->name, err, errsz);
}

/* "SELECT <the document's select list> FROM <table> <alias>": the start of both re-reads. */
static bool put_select_from(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err,
                            size_t errsz)
{
    if (!buf_puts(out, "SELECT "))
        goto oom;
    if (!render_select_list(conn, t, alias, out, err, errsz))
        return false;
    if (!buf_puts(out, " FROM "))
        goto oom;
    if (!render_table_name(conn, t, out, err, errsz))
        return false;
    if (!buf_printf(out, " %s", alias))
        goto oom;
    return true;
oom:
    snprintf(err, errsz, "out of memory rendering SQL");
    return false;
}

char *render_reread(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    static const char alias[] = "vs_r";
    buf b = BUF_INIT, *out = &b;
    bool typed = t->key_types != NULL;
    for (size_t i = 0; typed && i < t->nkey; i++)
        typed = t->key_types[i] && *t->key_types[i];
#undef PUTS
#define PUTS(s)                                                                                                \
    do {                                                                                                       \
        if (!buf_puts(out, (s)))                                                                               \
            goto oom;                                                                                          \
    } while (0)
    if (!put_select_from(conn, t, alias, out, err, errsz))
        goto fail;
    if (t->nkey == 1) {
        /* PostgreSQL infers $1 as the key column's array type: an index scan. */
        PUTS(" WHERE ");
        if (!put_col(conn, out, alias, t->key[0], err, errsz))
            goto fail;
        PUTS(" = ANY($1)");
    } else if (typed) {
        /* Exact pairs: join the parallel arrays unnested side by side. */
        PUTS(" JOIN unnest(");
        for (size_t i = 0; i < t->nkey; i++)
            if (!buf_printf(out, "%s$%zu::text[]", i ? ", " : "", i + 1))
                goto oom;
        PUTS(") AS vs_k(");
        for (size_t i = 0; i < t->nkey; i++)
            if (!buf_printf(out, "%sk%zu", i ? ", " : "", i + 1))
                goto oom;
        PUTS(") ON ");
        for (size_t i = 0; i < t->nkey; i++) {
            if (i)
                PUTS(" AND ");
            if (!put_col(conn, out, alias, t->key[i], err, errsz))
                goto fail;
            /* format_type() output from the catalog: a type name, already quoted where needed. */
            if (!buf_printf(out, " = vs_k.k%zu::%s", i + 1, t->key_types[i]))
                goto oom;
        }
    } else {
        PUTS(" WHERE ");
        for (size_t i = 0; i < t->nkey; i++) {
            if (i)
                PUTS(" AND ");
            if (!put_col(conn, out, alias, t->key[i], err, errsz))
                goto fail;
            if (!buf_printf(out, " = ANY($%zu)", i + 1))
                goto oom;
        }
    }
    return buf_steal(&b);
oom:
    snprintf(err, errsz, "out of memory rendering SQL");
fail:
    buf_free(&b);
    return NULL;
}

bool render_reread_lateral(PGconn *conn, const cfg_table *t, const char *outer, buf *out, char *err,
                           size_t errsz)
{
    static const char alias[] = "vs_r";
    char *lit = NULL;
    bool ok = false;
    if (!t->key_types || t->nkey == 0) {
        snprintf(err, errsz, "table %s: key types unknown", t->ident);
        return false;
    }
#undef PUTS
#define PUTS(s)                                                                                                \
    do {                                                                                                       \
        if (!buf_puts(out, (s)))                                                                               \
            goto oom;                                                                                          \
    } while (0)
    if (!put_select_from(conn, t, alias, out, err, errsz))
        goto done;
    if (!(lit = PQescapeLiteral(conn, t->ident, strlen(t->ident)))) {
        snprintf(err, errsz, "quoting %s: %s", t->ident, PQerrorMessage(conn));
        goto done;
    }
    /* The outer row's own conditions first: the planner makes them a one-time filter, so a
     * change of another table, a delete or an earlier change of the same key costs no scan. */
    if (!buf_printf(out, " WHERE %s.last AND %s.op <> 'D' AND %s.tbl = %s", outer, outer, outer, lit))
        goto oom;
    for (size_t i = 0; i < t->nkey; i++) {
        PUTS(" AND ");
        if (!put_col(conn, out, alias, t->key[i], err, errsz))
            goto done;
        /* format_type() output from the catalog: a type name, already quoted where needed. */
        if (!buf_printf(out, " = %s.key[%zu]::%s", outer, i + 1, t->key_types[i]))
            goto oom;
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory rendering SQL");
done:
    if (lit)
        PQfreemem(lit);
    return ok;
}

bool render_array_literal(buf *out, const char *const *items, size_t n)
{
    if (!buf_putc(out, '{'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i && !buf_putc(out, ','))
            return false;
        if (!items[i]) {
            if (!buf_puts(out, "NULL"))
                return false;
            continue;
        }
        if (!buf_putc(out, '"'))
            return false;
        for (const char *p = items[i]; *p; p++)
            if (((*p == '"' || *p == '\\') && !buf_putc(out, '\\')) || !buf_putc(out, *p))
                return false;
        if (!buf_putc(out, '"'))
            return false;
    }
    return buf_putc(out, '}');
}

void render_free_array(char **items, size_t n)
{
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

bool render_parse_text_array(const char *text, char ***items, size_t *n)
{
    char **v = NULL;
    size_t count = 0, cap = 0;
    buf el = BUF_INIT;
    const char *p = text;
    *items = NULL;
    *n = 0;
    if (!p || *p++ != '{')
        goto fail;
    if (*p == '}' && p[1] == '\0')
        goto ok;
    for (;;) {
        bool quoted = false, is_null = false;
        buf_reset(&el);
        if (*p == '"') {
            quoted = true;
            for (p++; *p != '"'; p++) {
                if (*p == '\\')
                    p++;
                if (!*p || !buf_putc(&el, *p))
                    goto fail;
            }
            p++;
        } else {
            while (*p && *p != ',' && *p != '}') {
                if (*p == '"' || *p == '{')
                    goto fail;
                if (*p == '\\')
                    p++;
                if (!*p || !buf_putc(&el, *p))
                    goto fail;
                p++;
            }
            is_null = el.len == 4 && strcmp(el.data, "NULL") == 0;
            if (el.len == 0)
                goto fail;
        }
        if (count == cap && !GROW_ARRAY(v, cap, count + 1, 4))
            goto fail;
        v[count] = NULL;
        if (quoted || !is_null) {
            if (!(v[count] = strdup(el.data ? el.data : "")))
                goto fail;
        }
        count++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}' && p[1] == '\0')
            break;
        goto fail;
    }
ok:
    buf_free(&el);
    *items = v;
    *n = count;
    return true;
fail:
    buf_free(&el);
    render_free_array(v, count);
    return false;
}
