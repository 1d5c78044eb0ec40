/* bridge_wal_dead — dead letters of "capture": "wal": recording them in <schema>.dead_letters, and
 * reading back the retries `versync deadletters retry` sends through the stream. */
#include "versync/bridge/wal.h"

#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wal_dead_record(PGconn *pg, const cfg *c, const wal_dead *d, char *err, size_t errsz)
{
    char *schema_q = NULL, *sql = NULL;
    buf key = BUF_INIT;
    bool ok = false;
    char seq[32], op[2] = {d->op, '\0'}, version[32], ts[32], status[16], attempts[16];
    snprintf(seq, sizeof seq, "%" PRId64, d->seq);
    snprintf(version, sizeof version, "%" PRId64, d->version);
    snprintf(ts, sizeof ts, "%" PRId64, d->commit_ts);
    snprintf(status, sizeof status, "%d", d->http_status);
    snprintf(attempts, sizeof attempts, "%d", d->attempts);
    if (d->key && !render_array_literal(&key, (const char *const *)d->key, d->nkey)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (!(schema_q = pg_quote_ident(pg, c->schema, err, errsz)))
        goto done;
    if (!(sql = sql_render("wal_dead_letter", schema_q))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *p[] = {d->seq > 0 ? seq : NULL,
                       d->tbl,
                       d->key ? (key.data ? key.data : "{}") : NULL,
                       op,
                       version,
                       ts,
                       d->error,
                       d->http_status > 0 ? status : NULL,
                       d->seq > 0 ? attempts : NULL};
    if (!pg_run(pg, sql, 9, p, err, errsz)) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errsz, "%s: recording a dead letter: %s", d->tbl, why);
        goto done;
    }
    ok = true;
done:
    buf_free(&key);
    free(schema_q);
    free(sql);
    return ok;
}

void wal_retry_clear(wal_retry *r)
{
    if (!r)
        return;
    free(r->tbl);
    render_free_array(r->key, r->nkey);
    memset(r, 0, sizeof *r);
}

int wal_retry_parse(const cfg *c, const char *content, size_t len, wal_retry *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    out->table = -1;
    int rc = -1;
    cJSON *j = cJSON_ParseWithLength(content, len);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "schema");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    const cJSON *tbl = cJSON_GetObjectItemCaseSensitive(j, "table");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    const cJSON *attempts = cJSON_GetObjectItemCaseSensitive(j, "attempts");
    if (!cJSON_IsString(schema) || !cJSON_IsNumber(seq) || !cJSON_IsString(tbl) || !cJSON_IsArray(key) ||
        !cJSON_IsString(op) || strlen(op->valuestring) != 1) {
        snprintf(err, errsz,
                 "a versync-retry message that is not {\"schema\", \"seq\", \"table\", \"key\", \"op\"}");
        goto done;
    }
    if (strcmp(schema->valuestring, c->schema) != 0) {
        rc = 0; /* another versync schema's retry, read by its own slot */
        goto done;
    }
    out->seq = (int64_t)seq->valuedouble;
    out->op = op->valuestring[0];
    out->attempts = cJSON_IsNumber(attempts) ? attempts->valueint : 1;
    int n = cJSON_GetArraySize(key);
    if (!(out->tbl = strdup(tbl->valuestring)) || !(out->key = calloc(n ? (size_t)n : 1, sizeof *out->key)))
        goto oom;
    out->nkey = (size_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *k = cJSON_GetArrayItem(key, i);
        if (cJSON_IsString(k) && !(out->key[i] = strdup(k->valuestring)))
            goto oom;
        if (!cJSON_IsString(k) && !cJSON_IsNull(k)) {
            snprintf(err, errsz, "a versync-retry message whose key holds a %s",
                     cJSON_IsNumber(k) ? "number" : "non-string");
            goto fail;
        }
    }
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].capture == CFG_CAPTURE_WAL && strcmp(c->tables[i].ident, out->tbl) == 0)
            out->table = (int)i;
    rc = 1;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
fail:
    wal_retry_clear(out);
    out->table = -1;
done:
    cJSON_Delete(j);
    return rc;
}
