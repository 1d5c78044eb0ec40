/* bridge_nested_sql — the SQL of nested documents: the re-read's document expression and the capture triggers. */
#include "versync/bridge/nested.h"

#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include "versync/bridge/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* alias."col" */
static bool put_col(PGconn *conn, buf *out, const char *alias, const char *col, char *err, size_t errsz)
{
    if (!buf_puts(out, alias) || !buf_putc(out, '.')) {
        snprintf(err, errsz, "out of memory rendering SQL");
        return false;
    }
    return pg_put_ident(conn, out, col, err, errsz);
}

/* "schema"."name" */
static bool put_table(PGconn *conn, buf *out, const char *schema, const char *name, char *err, size_t errsz)
{
    if (!pg_put_ident(conn, out, schema, err, errsz) || !buf_putc(out, '.')) {
        snprintf(err, errsz, "out of memory rendering SQL");
        return false;
    }
    return pg_put_ident(conn, out, name, err, errsz);
}

#define PUTS(s)                                                                                                \
    do {                                                                                                       \
        if (!buf_puts(out, (s))) {                                                                             \
            snprintf(err, errsz, "out of memory rendering SQL");                                               \
            return false;                                                                                      \
        }                                                                                                      \
    } while (0)

/* a.x1 = b.y1 AND a.x2 = b.y2 … */
static bool put_pairs(PGconn *conn, buf *out, const char *a, char **x, const char *b, char **y, size_t n, char *err,
                      size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            PUTS(" AND ");
        if (!put_col(conn, out, a, x[i], err, errsz))
            return false;
        PUTS(" = ");
        if (!put_col(conn, out, b, y[i], err, errsz))
            return false;
    }
    return true;
}

/* The array's (or the "one" pick's) order: order_by, else the child's key. */
static bool put_order(PGconn *conn, buf *out, const cfg_child *ch, const char *alias, char *err, size_t errsz)
{
    char **cols = ch->order_by ? ch->order_by : ch->t.key;
    size_t n = ch->order_by ? ch->norder : ch->t.nkey;
    for (size_t i = 0; i < n; i++) {
        PUTS(i ? ", " : " ORDER BY ");
        if (!put_col(conn, out, alias, cols[i], err, errsz))
            return false;
    }
    return true;
}

static bool node_doc(PGconn *conn, const cfg_table *t, const char *alias, int depth, buf *out, char *err,
                     size_t errsz);

/* One child's value in its parent's document: an object (or NULL) or an array. */
static bool child_expr(PGconn *conn, const cfg_child *ch, const char *palias, int depth, buf *out, char *err,
                       size_t errsz)
{
    char c[16], l[16];
    snprintf(c, sizeof c, "vs_c%d", depth);
    snprintf(l, sizeof l, "vs_l%d", depth);
    PUTS("(SELECT ");
    if (ch->many)
        PUTS("COALESCE(jsonb_agg(");
    if (!node_doc(conn, &ch->t, c, depth, out, err, errsz))
        return false;
    if (ch->many) {
        if (!put_order(conn, out, ch, c, err, errsz))
            return false;
        PUTS("), '[]'::jsonb)");
    }
    PUTS(" FROM ");
    if (!put_table(conn, out, ch->t.schema, ch->t.name, err, errsz))
        return false;
    PUTS(" ");
    PUTS(c);
    if (ch->link_ident) {
        PUTS(" JOIN ");
        if (!put_table(conn, out, ch->link_schema, ch->link_name, err, errsz))
            return false;
        PUTS(" ");
        PUTS(l);
        PUTS(" ON ");
        if (!put_pairs(conn, out, c, ch->to_to, l, ch->to_from, ch->nto, err, errsz))
            return false;
        PUTS(" WHERE ");
        if (!put_pairs(conn, out, l, ch->join_to, palias, ch->join_from, ch->njoin, err, errsz))
            return false;
    } else {
        PUTS(" WHERE ");
        if (!put_pairs(conn, out, c, ch->join_to, palias, ch->join_from, ch->njoin, err, errsz))
            return false;
    }
    if (!ch->many) {
        if (!put_order(conn, out, ch, c, err, errsz))
            return false;
        PUTS(" LIMIT 1");
    }
    PUTS(")");
    return true;
}

static bool node_doc(PGconn *conn, const cfg_table *t, const char *alias, int depth, buf *out, char *err,
                     size_t errsz)
{
    if (t->nchildren == 0)
        return render_doc_expr(conn, t, alias, out, err, errsz);
    PUTS("(");
    if (!render_doc_expr(conn, t, alias, out, err, errsz))
        return false;
    /* Field names as column aliases of a sub-select: identifiers, never string literals. */
    char n[16];
    snprintf(n, sizeof n, "vs_n%d", depth);
    PUTS(" || (SELECT to_jsonb(");
    PUTS(n);
    PUTS(".*) FROM (SELECT ");
    for (size_t i = 0; i < t->nchildren; i++) {
        if (i)
            PUTS(", ");
        if (!child_expr(conn, &t->children[i], alias, depth + 1, out, err, errsz))
            return false;
        PUTS(" AS ");
        if (!pg_put_ident(conn, out, t->children[i].name, err, errsz))
            return false;
    }
    PUTS(") ");
    PUTS(n);
    PUTS("))");
    return true;
}

bool nested_doc_expr(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz)
{
    return node_doc(conn, t, alias, 0, out, err, errsz);
}

/* ---- capture triggers --------------------------------------------------- */

static cJSON *strv_json(char **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static char *quoted_table(PGconn *conn, const char *schema, const char *name, char *err, size_t errsz)
{
    buf b = BUF_INIT;
    if (!put_table(conn, &b, schema, name, err, errsz)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* What the walk is building: the trigger statements and their count. */
typedef struct gen {
    PGconn *conn;
    const cfg_table *root;
    const char *schema_q;
    const char *channel; /* raw channel name: it goes into the spec */
    const char *channel_lit;
    nested_parts_fn parts;
    buf *out;
    char *err;
    size_t errsz;
} gen;

static bool add_lock(cJSON *arr, const char *lock, const char *mode, char **cols, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o))
        return cJSON_Delete(o), false;
    return cJSON_AddStringToObject(o, "lock", lock) && cJSON_AddStringToObject(o, "mode", mode) &&
           cJSON_AddItemToObject(o, "cols", strv_json(cols, n));
}

/* A hop from rows of the current table (columns `from`) to the rows of
 * `table` whose `to` columns equal them; `take`: what the next hop needs. */
static cJSON *make_hop(const char *lock, const char *mode, char **from, const char *table, char **to, size_t n,
                       char **take, size_t ntake)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "lock", lock) || !cJSON_AddStringToObject(o, "mode", mode) ||
        !cJSON_AddItemToObject(o, "from", strv_json(from, n)) || !cJSON_AddStringToObject(o, "table", table) ||
        !cJSON_AddItemToObject(o, "to", strv_json(to, n)) ||
        !cJSON_AddItemToObject(o, "take", strv_json(take, ntake))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Append the names not yet in `arr`. */
static bool add_names(cJSON *arr, char **names, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        bool have = false;
        for (cJSON *c = arr->child; c && !have; c = c->next)
            have = strcmp(c->valuestring, names[i]) == 0;
        if (!have && !cJSON_AddItemToArray(arr, cJSON_CreateString(names[i])))
            return false;
    }
    return arr != NULL;
}

/* FNV-1a: a short stable trigger name from what the trigger is for. */
static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* The triggers of one table at one place of the tree. `role` tells places apart. */
static bool emit(gen *g, const char *schema, const char *name, const char *role, cJSON *down, cJSON *up,
                 cJSON *watch)
{
    char *err = g->err;
    size_t errsz = g->errsz;
    bool ok = false;
    cJSON *spec = cJSON_CreateObject();
    char *text = NULL, *lit = NULL, *tq = NULL, *sql = NULL, *ptq = NULL, *root_lit = NULL;
    PGresult *parts = NULL;
    if (!spec || !cJSON_AddStringToObject(spec, "root", g->root->ident) ||
        !cJSON_AddStringToObject(spec, "channel", g->channel) ||
        !cJSON_AddItemReferenceToObject(spec, "down", down) || !cJSON_AddItemReferenceToObject(spec, "up", up) ||
        (watch && !cJSON_AddItemReferenceToObject(spec, "watch", watch)) ||
        !(text = cJSON_PrintUnformatted(spec))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (!(lit = PQescapeLiteral(g->conn, text, strlen(text))) || !(tq = quoted_table(g->conn, schema, name, err, errsz))) {
        if (!lit)
            snprintf(err, errsz, "cannot quote a trigger argument: %s", PQerrorMessage(g->conn));
        goto done;
    }
    char tname[64];
    snprintf(tname, sizeof tname, NESTED_TRIGGER_PREFIX "%016" PRIx64, fnv(g->root->ident, role));
    const char *vars[] = {"schema", g->schema_q, "table", tq, "name", tname, "spec", lit,
                          "channel", g->channel_lit, "root", NULL, NULL};
    root_lit = PQescapeLiteral(g->conn, g->root->ident, strlen(g->root->ident));
    vars[11] = root_lit;
    sql = root_lit ? sql_render_vars("nested_triggers", vars) : NULL;
    if (!sql || !buf_puts(g->out, sql)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    /* A statement trigger fires only on the table its statement names: the
     * same triggers on every partition, so that rows written straight into
     * one reach the documents too. */
    if (!(parts = g->parts(g->conn, schema, name, err, errsz)))
        goto done;
    for (int i = 0; i < PQntuples(parts); i++) {
        if (strcmp(PQgetvalue(parts, i, 3), "0") == 0)
            continue; /* the table itself: done above */
        free(ptq);
        free(sql);
        sql = NULL;
        if (!(ptq = quoted_table(g->conn, PQgetvalue(parts, i, 0), PQgetvalue(parts, i, 1), err, errsz)))
            goto done;
        vars[3] = ptq;
        if (!(sql = sql_render_vars("nested_triggers", vars)) || !buf_puts(g->out, sql)) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
    }
    ok = true;
done:
    if (root_lit)
        PQfreemem(root_lit);
    PQclear(parts);
    free(ptq);
    free(sql);
    free(tq);
    if (lit)
        PQfreemem(lit);
    cJSON_free(text);
    cJSON_Delete(spec); /* references only: down/up stay the caller's */
    return ok;
}

/* Emit the triggers of node `t` (reached from the root by `up`, a hop list
 * from t's table to the root; empty for the root), then of its children. */
static bool walk(gen *g, const cfg_table *t, const char *edge, cJSON *up, char **order, size_t norder)
{
    bool ok = false;
    cJSON *watch = NULL;
    char **take_alloc = NULL;
    cJSON *down = cJSON_CreateArray();
    cJSON *upc = NULL, *upl = NULL, *down_l = NULL;
    char *tq = quoted_table(g->conn, t->schema, t->name, g->err, g->errsz);
    if (!down || !tq)
        goto oom;
    /* The columns the hop into this table must carry on: the next hop's "from", or the root key. */
    char **take = t->key;
    size_t ntake = t->nkey;
    cJSON *next = cJSON_GetArrayItem(up, 0);
    if (next) {
        cJSON *from = cJSON_GetObjectItemCaseSensitive(next, "from");
        ntake = (size_t)cJSON_GetArraySize(from);
        take_alloc = calloc(ntake ? ntake : 1, sizeof *take_alloc);
        if (!take_alloc)
            goto oom;
        size_t i = 0;
        for (cJSON *c = from->child; c; c = c->next)
            take_alloc[i++] = c->valuestring;
        take = take_alloc;
    }
    for (size_t i = 0; i < t->nchildren; i++) {
        const cfg_child *ch = &t->children[i];
        char lock[600];
        snprintf(lock, sizeof lock, "%s%s", ch->edge, ch->link_ident ? "#link" : "");
        /* The unique side of an edge locks values exclusively (nested_capture.sql). */
        if (!add_lock(down, lock, ch->many || ch->link_ident ? "x" : "s", ch->join_from, ch->njoin))
            goto oom;
    }
    /* An update matters when it changes what the document shows or how rows join and order;
     * with every column shown, any change does (no "watch": the trigger compares whole rows). */
    if (t->columns && next) {
        if (!(watch = cJSON_CreateArray()) || !add_names(watch, t->columns, t->ncolumns) ||
            !add_names(watch, t->key, t->nkey) || !add_names(watch, order, norder) || !add_names(watch, take, ntake))
            goto oom;
        for (size_t i = 0; i < t->nchildren; i++)
            if (!add_names(watch, t->children[i].join_from, t->children[i].njoin))
                goto oom;
        /* The hop up from this table reads its "from" columns. */
        for (cJSON *c = cJSON_GetObjectItemCaseSensitive(next, "from")->child; c; c = c->next)
            if (!add_names(watch, &c->valuestring, 1))
                goto oom;
    }
    if (!emit(g, t->schema, t->name, edge, down, up, watch))
        goto fail;
    for (size_t i = 0; i < t->nchildren; i++) {
        const cfg_child *ch = &t->children[i];
        cJSON_Delete(upc);
        cJSON_Delete(upl);
        cJSON_Delete(down_l);
        upc = upl = down_l = NULL;
        char lock[600], role[700];
        if (!ch->link_ident) {
            snprintf(lock, sizeof lock, "%s", ch->edge);
            cJSON *hop = make_hop(lock, ch->many ? "s" : "x", ch->join_to, tq, ch->join_from, ch->njoin, take, ntake);
            if (!hop || !(upc = cJSON_Duplicate(up, 1)) || !cJSON_InsertItemInArray(upc, 0, hop)) {
                cJSON_Delete(hop);
                goto oom;
            }
        } else {
            snprintf(lock, sizeof lock, "%s#link", ch->edge);
            cJSON *hop = make_hop(lock, "s", ch->join_to, tq, ch->join_from, ch->njoin, take, ntake);
            if (!hop || !(upl = cJSON_Duplicate(up, 1)) || !cJSON_InsertItemInArray(upl, 0, hop)) {
                cJSON_Delete(hop);
                goto oom;
            }
            snprintf(lock, sizeof lock, "%s#to", ch->edge);
            if (!(down_l = cJSON_CreateArray()) || !add_lock(down_l, lock, "s", ch->to_from, ch->nto))
                goto oom;
            snprintf(role, sizeof role, "%s#link", ch->edge);
            if (!emit(g, ch->link_schema, ch->link_name, role, down_l, upl, NULL))
                goto fail;
            char *lq = quoted_table(g->conn, ch->link_schema, ch->link_name, g->err, g->errsz);
            if (!lq)
                goto fail;
            hop = make_hop(lock, "x", ch->to_to, lq, ch->to_from, ch->nto, ch->join_to, ch->njoin);
            free(lq);
            if (!hop || !(upc = cJSON_Duplicate(upl, 1)) || !cJSON_InsertItemInArray(upc, 0, hop)) {
                cJSON_Delete(hop);
                goto oom;
            }
        }
        if (!walk(g, &ch->t, ch->edge, upc, ch->order_by, ch->norder))
            goto fail;
    }
    ok = true;
    goto fail;
oom:
    snprintf(g->err, g->errsz, "out of memory");
fail:
    free(take_alloc);
    cJSON_Delete(watch);
    cJSON_Delete(down);
    cJSON_Delete(upc);
    cJSON_Delete(upl);
    cJSON_Delete(down_l);
    free(tq);
    return ok;
}

bool nested_trigger_sql(PGconn *conn, const cfg_table *t, const char *schema_q, const char *channel,
                        const char *channel_lit, nested_parts_fn parts, buf *out, char *err, size_t errsz)
{
    if (!nested_is_tree(t))
        return true;
    if (t->nkey == 0) {
        snprintf(err, errsz, "table %s has no key (no primary key and no \"key\" in the config)", t->ident);
        return false;
    }
    gen g = {conn, t, schema_q, channel, channel_lit, parts ? parts : nested_partitions, out, err, errsz};
    cJSON *up = cJSON_CreateArray();
    if (!up) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    bool ok = walk(&g, t, t->ident, up, NULL, 0);
    cJSON_Delete(up);
    return ok;
}
