/* bridge_wal_cfg — the config of "capture": "wal": the top-level "wal" object and the per-table checks. */
#include "versync/bridge/cfg_json.h"
#include "versync/bridge/wal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const wal_keys[] = {"slot", "publication", "lag_warn_bytes", "lag_warn_seconds", "inflight", NULL};

size_t wal_table_count(const cfg *c)
{
    size_t n = 0;
    for (size_t i = 0; c && i < c->ntables; i++)
        n += c->tables[i].capture == CFG_CAPTURE_WAL;
    return n;
}

/* Slot names are restricted by PostgreSQL (ReplicationSlotValidateName): lower-case
 * letters, digits and underscores, at most 63 bytes. Checked here so the message names
 * the config field rather than arriving from init. */
static bool slot_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

bool wal_cfg_parse(struct ctx *x, const cJSON *root, cfg *c)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "wal");
    c->wal_lag_warn_bytes = 1LL << 30;
    c->wal_lag_warn_seconds = WAL_LAG_WARN_SECONDS;
    c->wal_inflight = WAL_INFLIGHT;
    if (o) {
        if (!cfg_json_object(x, o, "wal") || !cfg_json_keys(x, o, "wal", wal_keys) ||
            !cfg_json_str(x, o, "wal", "slot", &c->wal_slot, true) ||
            !cfg_json_str(x, o, "wal", "publication", &c->wal_publication, true))
            return false;
        c->wal_publication_given = c->wal_publication != NULL;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "lag_warn_bytes");
        if (v) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
                v->valuedouble > 9.0e15)
                return cfg_json_fail(x, "wal.lag_warn_bytes", "must be a whole number of bytes (0 … 9e15)");
            c->wal_lag_warn_bytes = (long long)v->valuedouble;
        }
        if ((v = cJSON_GetObjectItemCaseSensitive(o, "lag_warn_seconds"))) {
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 31536000.0)
                return cfg_json_fail(x, "wal.lag_warn_seconds",
                                     "must be a number of seconds (0 … 31536000; 0: never warn)");
            c->wal_lag_warn_seconds = v->valuedouble;
        }
        if ((v = cJSON_GetObjectItemCaseSensitive(o, "inflight"))) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
                v->valuedouble > WAL_INFLIGHT_MAX)
                return cfg_json_fail(x, "wal.inflight",
                                     "must be a whole number of _bulk requests in flight, 1 … %d (1: one at a time)",
                                     WAL_INFLIGHT_MAX);
            c->wal_inflight = (int)v->valuedouble;
        }
        if (c->wal_slot && !slot_name_ok(c->wal_slot))
            return cfg_json_fail(x, "wal.slot",
                                 "\"%s\" is not a replication slot name: use 1 to 63 lower-case letters, digits "
                                 "and underscores",
                                 c->wal_slot);
        if (!wal_table_count(c))
            return cfg_json_fail(x, "wal", "no table has \"capture\": \"wal\", so nothing would use it");
    }
    const char *dflt = c->schema && slot_name_ok(c->schema) ? c->schema : "versync";
    if (!c->wal_slot && !(c->wal_slot = strdup(dflt)))
        return cfg_json_fail(x, "wal.slot", "out of memory");
    if (!c->wal_publication && !(c->wal_publication = strdup(dflt)))
        return cfg_json_fail(x, "wal.publication", "out of memory");
    return true;
}

bool wal_cfg_check_table(struct ctx *x, const cfg_table *t, const char *path)
{
    if (t->version_kind != CFG_VERSION_SEQ)
        return cfg_json_fail(x, path,
                             "\"wal\" takes no \"version\": the commit position (LSN) of the transaction that "
                             "made a change is its version, for every row; remove \"version\"");
    return true;
}
