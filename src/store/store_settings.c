/* store_settings — read what an index's stored settings and mappings JSON say about it (replicas, _source), in any of the spellings Elasticsearch accepts. */
#include "versync/store/store_settings.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const cJSON *store_settings_find(const cJSON *settings, const char *name)
{
    if (!cJSON_IsObject(settings))
        return NULL;
    char flat[128];
    size_t n = strlen(name);
    if (n + 7 > sizeof flat)
        return NULL;
    memcpy(flat, "index.", 6);
    memcpy(flat + 6, name, n + 1);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, flat);
    if (!v) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(settings, "index");
        v = cJSON_IsObject(idx) ? cJSON_GetObjectItemCaseSensitive(idx, name) : NULL;
    }
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(settings, name);
    return v;
}

/* A non-negative integer setting value (number or numeric string); -1 otherwise. */
static int int_value(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble >= 0 && v->valuedouble < 1024 ? (int)v->valuedouble : -1;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return -1;
    char *end;
    long l = strtol(v->valuestring, &end, 10);
    return *end || l < 0 || l >= 1024 ? -1 : (int)l;
}

int store_settings_replicas(const char *json, size_t len)
{
    /* Most indices never mention replicas: no parse on the write path then. */
    if (!json || !len || !memmem(json, len, "replicas", 8))
        return 1;
    cJSON *j = cJSON_ParseWithLength(json, len);
    int r = 1;
    const cJSON *ae = store_settings_find(j, "auto_expand_replicas");
    if (cJSON_IsString(ae) && strcmp(ae->valuestring, "false") != 0) {
        /* "min-max" on one node: min (max is at most nodes - 1 = 0) */
        char *end;
        long lo = strtol(ae->valuestring, &end, 10);
        if (end != ae->valuestring && *end == '-' && lo >= 0 && lo < 1024) {
            cJSON_Delete(j);
            return (int)lo;
        }
    }
    int v = int_value(store_settings_find(j, "number_of_replicas"));
    if (v >= 0)
        r = v;
    cJSON_Delete(j);
    return r;
}

bool store_settings_source_disabled(const char *mappings, size_t len)
{
    /* Read on every index lookup: parse only the mappings that name _source. */
    if (!mappings || !len || !memmem(mappings, len, "\"_source\"", 9))
        return false;
    cJSON *j = cJSON_ParseWithLength(mappings, len);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "_source");
    const cJSON *en = cJSON_IsObject(src) ? cJSON_GetObjectItemCaseSensitive(src, "enabled") : NULL;
    bool off = cJSON_IsFalse(en) || (cJSON_IsString(en) && strcmp(en->valuestring, "false") == 0);
    cJSON_Delete(j);
    return off;
}
