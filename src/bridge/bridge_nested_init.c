/* bridge_nested_init — what `versync init` installs for nested documents: the capture triggers of every tree table. */
#include "versync/bridge/nested.h"

#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a of the wanted SQL: init compares it with what it installed last. */
static void fingerprint(const char *s, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, 17, "%016" PRIx64, h);
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

bool nested_init_plan(PGconn *conn, const cfg *c, const char *schema_q, PGresult *trg, bool has_meta, char **sql,
                      char *what, size_t whatsz, char *err, size_t errsz)
{
    *sql = NULL;
    bool ok = false;
    buf want = BUF_INIT, out = BUF_INIT;
    PGresult *meta = NULL;
    char *meta_sql = NULL, *fp_lit = NULL;
    size_t ntables = 0;
    char *chan_lit = pg_quote_literal(conn, c->channel, err, errsz);
    if (!chan_lit)
        goto done;
    for (size_t i = 0; i < c->ntables; i++) {
        if (!nested_is_tree(&c->tables[i]))
            continue;
        ntables++;
        if (!nested_trigger_sql(conn, &c->tables[i], schema_q, c->channel, chan_lit, NULL, &want, err, errsz))
            goto done;
    }
    char fp[17];
    fingerprint(want.data ? want.data : "", fp);
    const char *installed = "";
    if (has_meta) {
        char *q = sql_render("init_meta_get", schema_q);
        const char *params[] = {"nested_md5"};
        meta = q ? pg_exec(conn, q, 1, params, err, errsz) : NULL;
        free(q);
        if (!meta) {
            if (!q)
                snprintf(err, errsz, "out of memory");
            goto done;
        }
        if (PQntuples(meta) == 1)
            installed = PQgetvalue(meta, 0, 0);
    }
    size_t nwant = count_of(want.data, "CREATE TRIGGER "), nhave = 0;
    for (int i = 0; trg && i < PQntuples(trg); i++)
        nhave += strncmp(PQgetvalue(trg, i, 2), NESTED_TRIGGER_PREFIX, strlen(NESTED_TRIGGER_PREFIX)) == 0;
    if (nwant == nhave && strcmp(installed, nwant ? fp : installed) == 0) {
        ok = true;
        goto done;
    }
    /* Drop every nested trigger and create the wanted ones, in init's one transaction. */
    for (int i = 0; trg && i < PQntuples(trg); i++) {
        const char *name = PQgetvalue(trg, i, 2);
        if (strncmp(name, NESTED_TRIGGER_PREFIX, strlen(NESTED_TRIGGER_PREFIX)) != 0)
            continue;
        char *sq = pg_quote_ident(conn, PQgetvalue(trg, i, 0), err, errsz);
        char *nq = sq ? pg_quote_ident(conn, PQgetvalue(trg, i, 1), err, errsz) : NULL;
        char *tq = nq ? pg_quote_ident(conn, name, err, errsz) : NULL;
        char table_q[300];
        if (tq)
            snprintf(table_q, sizeof table_q, "%s.%s", sq, nq);
        const char *vars[] = {"schema", schema_q, "table", table_q, "trigger", tq, NULL};
        char *drop = tq ? sql_render_vars("init_drop_trigger", vars) : NULL;
        bool put = drop && buf_puts(&out, drop);
        free(drop);
        free(sq);
        free(nq);
        free(tq);
        if (!put) {
            if (drop || tq)
                snprintf(err, errsz, "out of memory");
            goto done;
        }
    }
    if (want.data)
        buf_puts(&out, want.data);
    if (!(fp_lit = pg_quote_literal(conn, fp, err, errsz)))
        goto done;
    const char *mv[] = {"schema", schema_q, "key", "'nested_md5'", "value", fp_lit, NULL};
    if (!(meta_sql = sql_render_vars("init_meta_set", mv)) || !buf_puts(&out, meta_sql) || out.overflow) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (nwant)
        snprintf(what, whatsz, "%s %zu nested-document capture triggers for %zu mapping%s", nhave ? "replaced" : "created",
                 nwant, ntables, ntables == 1 ? "" : "s");
    else
        snprintf(what, whatsz, "dropped %zu nested-document capture triggers (no mapping has children)", nhave);
    *sql = buf_steal(&out);
    ok = *sql != NULL;
    if (!ok)
        snprintf(err, errsz, "out of memory");
done:
    buf_free(&want);
    buf_free(&out);
    PQclear(meta);
    free(meta_sql);
    free(fp_lit);
    free(chan_lit);
    return ok;
}
