/* bridge_bulk — _bulk request bodies (NDJSON), document ids, and classifying the store's answers. */
#include "versync/bulk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bulk_doc_id(buf *out, const char *const *parts, size_t nparts)
{
    if (nparts == 1)
        return buf_puts(out, parts[0] ? parts[0] : "");
    for (size_t i = 0; i < nparts; i++) {
        if (i > 0 && !buf_putc(out, '|'))
            return false;
        for (const char *p = parts[i] ? parts[i] : ""; *p; p++) {
            if ((*p == '|' || *p == '\\') && !buf_putc(out, '\\'))
                return false;
            if (!buf_putc(out, *p))
                return false;
        }
    }
    return true;
}

static bool add_action(buf *body, const char *action, const char *index, const char *id, size_t id_len,
                       bool versioned, int64_t version)
{
    bool ok = buf_printf(body, "{\"%s\":{\"_index\":", action) &&
              buf_put_json_string(body, index, strlen(index)) && buf_puts(body, ",\"_id\":") &&
              buf_put_json_string(body, id, id_len);
    if (ok && versioned)
        ok = buf_printf(body, ",\"version\":%" PRId64 ",\"version_type\":\"external\"", version);
    return ok && buf_puts(body, "}}\n");
}

bool bulk_add_index(buf *body, const char *index, const char *id, size_t id_len, bool versioned, int64_t version,
                    const char *doc, size_t doc_len)
{
    return add_action(body, "index", index, id, id_len, versioned, version) && buf_append(body, doc, doc_len) &&
           buf_putc(body, '\n');
}

bool bulk_add_delete(buf *body, const char *index, const char *id, size_t id_len, bool versioned,
                     int64_t version)
{
    return add_action(body, "delete", index, id, id_len, versioned, version);
}

bulk_outcome bulk_classify(int status, bool is_delete, const char *result, const char *error_type)
{
    if (status >= 200 && status < 300)
        return BULK_APPLIED;
    /* A delete of a document the store never had still leaves a tombstone at
     * our version (es-versioning.md §5): that is the outcome we wanted. */
    if (status == 404 && is_delete && (!error_type || (result && strcmp(result, "not_found") == 0)))
        return BULK_APPLIED;
    if (status == 409 && error_type && strcmp(error_type, "version_conflict_engine_exception") == 0)
        return BULK_STALE;
    if (status == 408 || status == 429 || status >= 500)
        return BULK_RETRY;
    /* A read-only index (403 cluster_block_exception, e.g. a full disk) refuses
     * every write until an operator clears it: keep the changes queued. */
    if (error_type && strcmp(error_type, "cluster_block_exception") == 0)
        return BULK_RETRY;
    return BULK_DEAD;
}

bulk_outcome bulk_classify_request(int status) { return bulk_classify(status, false, NULL, "request"); }

bool bulk_parse_response(const char *body, size_t len, const bool *is_delete, bulk_item_result *items,
                         size_t nitems, char *err, size_t errsz)
{
    bool ok = false;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(err, errsz, "_bulk answer is not JSON");
        goto done;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "items");
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errsz, "_bulk answer has no items array");
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n != nitems) {
        snprintf(err, errsz, "_bulk answer has %zu items for %zu actions", n, nitems);
        goto done;
    }
    size_t i = 0;
    const cJSON *wrap;
    cJSON_ArrayForEach(wrap, arr)
    {
        bulk_item_result *r = &items[i];
        const cJSON *item = wrap->child; /* {"index": {...}} */
        const cJSON *st = item ? cJSON_GetObjectItemCaseSensitive(item, "status") : NULL;
        if (!cJSON_IsObject(item) || !cJSON_IsNumber(st)) {
            snprintf(err, errsz, "_bulk answer item %zu has no status", i);
            goto done;
        }
        r->status = st->valueint;
        r->error[0] = '\0';
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(item, "result");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "error");
        const char *etype = NULL;
        if (cJSON_IsObject(e)) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
            etype = cJSON_IsString(t) ? t->valuestring : "error";
            snprintf(r->error, sizeof r->error, "%s: %s", etype, cJSON_IsString(why) ? why->valuestring : "");
        } else if (cJSON_IsString(e)) {
            etype = e->valuestring;
            snprintf(r->error, sizeof r->error, "%s", etype);
        }
        r->outcome = bulk_classify(r->status, is_delete[i], cJSON_IsString(res) ? res->valuestring : NULL, etype);
        if (r->outcome != BULK_APPLIED && !r->error[0])
            snprintf(r->error, sizeof r->error, "HTTP %d", r->status);
        i++;
    }
    ok = true;
done:
    cJSON_Delete(root);
    return ok;
}

void bulk_error_summary(const char *body, size_t len, char *out, size_t outsz)
{
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *e = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
    const cJSON *t = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "type") : NULL;
    const cJSON *why = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "reason") : NULL;
    if (cJSON_IsString(t))
        snprintf(out, outsz, "%s: %s", t->valuestring, cJSON_IsString(why) ? why->valuestring : "");
    else if (cJSON_IsString(e))
        snprintf(out, outsz, "%s", e->valuestring);
    else
        snprintf(out, outsz, "%.*s", (int)(len < 300 ? len : 300), body ? body : "");
    cJSON_Delete(root);
}

bool bulk_parse_version(const char *text, int64_t *out, char *err, size_t errsz)
{
    if (!text) {
        snprintf(err, errsz, "is NULL");
        return false;
    }
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    bool neg = *p == '-';
    const char *digits = p + (*p == '-' || *p == '+');
    if (!isdigit((unsigned char)*digits)) {
        snprintf(err, errsz, "is not an integer (%.60s)", text);
        return false;
    }
    const char *q = digits;
    while (isdigit((unsigned char)*q))
        q++;
    if (*q) {
        snprintf(err, errsz, "is not an integer (%.60s)", text);
        return false;
    }
    if (neg) {
        /* "-0" is zero; anything else below zero is refused by the store. */
        for (const char *d = digits; *d; d++)
            if (*d != '0') {
                snprintf(err, errsz, "is negative (%.60s), external versions are 0 … 2^63-1", text);
                return false;
            }
        *out = 0;
        return true;
    }
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (errno == ERANGE || v > (unsigned long long)BULK_VERSION_MAX) {
        snprintf(err, errsz, "exceeds 2^63-1 (%.60s), external versions are 0 … 2^63-1", text);
        return false;
    }
    *out = (int64_t)v;
    return true;
}
