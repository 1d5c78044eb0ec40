/* bridge_where — the "where" row filter of a mapped table: how the re-read renders it, and its check against the
 * catalog. */
#include "versync/bridge/where.h"

#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOLOID 16

bool where_put_outside(const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz)
{
    const char *const vars[] = {"where", t->where, "row", alias, NULL};
    char *s = sql_render_expr("where_outside", vars);
    bool ok = s && buf_puts(out, s);
    free(s);
    if (!ok)
        snprintf(err, errsz, "out of memory rendering SQL");
    return ok;
}

/* PostgreSQL's primary message of a failed result, without "ERROR:" and the LINE/caret context. */
static const char *primary(const PGresult *r)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return m && *m ? m : "unknown error";
}

/* The filter as one statement of `name` (where_type, where_probe_*), or NULL when memory runs out. */
static char *statement(const char *name, const cfg_table *t, const char *table_q)
{
    const char *const vars[] = {"where", t->where, "table", table_q, NULL};
    return sql_render_expr(name, vars); /* leading comments left out: a var never lands in one */
}

/* Prepared, never run: one column, of type boolean. */
static bool check_type(PGconn *conn, const cfg_table *t, const char *table_q, char *err, size_t errsz)
{
    bool ok = false;
    PGresult *r = NULL;
    char *sql = statement("where_type", t, table_q);
    if (!sql) {
        snprintf(err, errsz, "tables[%d].where: out of memory", t->json_index);
        return false;
    }
    r = PQprepare(conn, "", sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsz, "tables[%d].where: PostgreSQL refuses the filter on %s: %s", t->json_index, t->ident,
                 primary(r));
        goto done;
    }
    PQclear(r);
    r = PQdescribePrepared(conn, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsz, "tables[%d].where: cannot describe the filter on %s: %s", t->json_index, t->ident,
                 primary(r));
        goto done;
    }
    if (PQnfields(r) != 1) {
        snprintf(err, errsz, "tables[%d].where: must be one SQL expression over the columns of %s, not a list of %d",
                 t->json_index, t->ident, PQnfields(r));
        goto done;
    }
    if (PQftype(r, 0) != BOOLOID) {
        char oid[16], tname[128] = "another type";
        snprintf(oid, sizeof oid, "%u", PQftype(r, 0));
        const char *params[] = {oid};
        char dberr[256];
        PGresult *n = pg_exec(conn, sql_text("where_type_name"), 1, params, dberr, sizeof dberr);
        if (n && PQntuples(n) == 1)
            snprintf(tname, sizeof tname, "%s", PQgetvalue(n, 0, 0));
        PQclear(n);
        snprintf(err, errsz, "tables[%d].where: must be a boolean expression over the columns of %s, not of type %s",
                 t->json_index, t->ident, tname);
        goto done;
    }
    ok = true;
done:
    PQclear(r);
    free(sql);
    return ok;
}

/* The partial-index rule, on an empty copy of the table, rolled back. */
static bool check_row_only(PGconn *conn, const cfg_table *t, const char *table_q, char *err, size_t errsz)
{
    bool ok = false, in_tx = PQtransactionStatus(conn) == PQTRANS_INTRANS;
    char dberr[512];
    PGresult *r = NULL;
    char *copy = statement("where_probe_table", t, table_q);
    char *probe = statement("where_probe_index", t, table_q);
    if (!copy || !probe) {
        snprintf(err, errsz, "tables[%d].where: out of memory", t->json_index);
        goto done;
    }
    if (!pg_run(conn, in_tx ? "SAVEPOINT vs_where" : "BEGIN", 0, NULL, dberr, sizeof dberr)) {
        snprintf(err, errsz, "tables[%d].where: cannot check the filter on %s: %s", t->json_index, t->ident, dberr);
        goto done;
    }
    r = PQexecParams(conn, copy, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        /* No temporary tables for this role (or a read-only server): the type check above stands
         * alone; the filter's own rule is then the operator's to keep (README: tables[].where). */
        ok = true;
    } else {
        PQclear(r);
        /* PQexecParams: one statement, whatever the text holds. */
        r = PQexecParams(conn, probe, 0, NULL, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            ok = true;
        else
            snprintf(err, errsz,
                     "tables[%d].where: the filter on %s must depend on the row alone (no subquery, only IMMUTABLE "
                     "functions, as in a partial index's WHERE): PostgreSQL says: %s",
                     t->json_index, t->ident, primary(r));
    }
    if (!pg_run(conn, in_tx ? "ROLLBACK TO SAVEPOINT vs_where" : "ROLLBACK", 0, NULL, dberr, sizeof dberr) ||
        (in_tx && !pg_run(conn, "RELEASE SAVEPOINT vs_where", 0, NULL, dberr, sizeof dberr))) {
        if (ok)
            snprintf(err, errsz, "tables[%d].where: cannot check the filter on %s: %s", t->json_index, t->ident,
                     dberr);
        ok = false;
    }
done:
    PQclear(r);
    free(copy);
    free(probe);
    return ok;
}

bool where_check(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    buf table_q = BUF_INIT;
    bool ok = render_table_name(conn, t, &table_q, err, errsz) && check_type(conn, t, table_q.data, err, errsz) &&
              check_row_only(conn, t, table_q.data, err, errsz);
    buf_free(&table_q);
    return ok;
}
