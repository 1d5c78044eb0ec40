/* fuzz_bridge_bulk — libFuzzer target for versync's _bulk answer parser (checked against a cJSON
 * tree reading of the same answer), version parser, and its _bulk writer checked against verstore's
 * parser. */
#include "versync/bridge/bulk.h"
#include "versync/store/store_bulk.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input: byte 0 = item count (0…15) of the request the answer belongs to,
 * byte 1 = which of the first 8 items were deletes, the rest = the store's
 * answer body. The same bytes then serve as a document id and a version
 * text, and the body versync would send for them must parse in verstore
 * back to the same index, id and version: the two halves of the wire. */

static bool valid_utf8_no_nul(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static void roundtrip(const char *id, size_t id_len, int64_t version, bool del)
{
    buf body = BUF_INIT;
    bool ok = del ? bulk_add_delete(&body, "idx", id, id_len, true, version)
                  : bulk_add_index(&body, "idx", id, id_len, true, version, "{\"a\":1}", 7);
    if (!ok)
        abort();
    store_bulk b;
    store_error err = {0};
    bool parsed = store_bulk_parse(body.data, body.len, NULL, &b, &err);
    if (id_len > 512) {
        /* Elasticsearch fails the whole request; the worker then sends its
         * items one by one and dead-letters just this one. */
        if (parsed || err.status != 400)
            abort();
        if (!strstr(err.reason.data, "is too long"))
            abort();
        goto done;
    }
    if (!parsed)
        abort(); /* verstore refused a body versync wrote */
    if (b.n != 1)
        abort();
    store_bulk_item *it = &b.items[0];
    if (strcmp(it->index, "idx") != 0 || it->w.version != version || it->w.vtype != STORE_VT_EXTERNAL)
        abort();
    if (it->action != (del ? STORE_BULK_DELETE : STORE_BULK_INDEX))
        abort();
    if ((it->err_status || it->id_len != id_len || memcmp(it->id, id, id_len) != 0))
        abort(); /* the id arrived changed */
done:
    store_bulk_free(&b);
    store_error_free(&err);
    buf_free(&body);
}

/* The reading bulk_parse_response replaced: a cJSON tree, the first of a repeated member counting.
 * Whatever the in-place reader accepts, this one reads the same way. */
static bool ref_parse(const char *body, size_t len, const bool *is_delete, bulk_item_result *items, size_t nitems)
{
    bool ok = false;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != nitems)
        goto done;
    size_t i = 0;
    const cJSON *wrap;
    cJSON_ArrayForEach(wrap, arr)
    {
        bulk_item_result *r = &items[i];
        const cJSON *item = wrap->child;
        const cJSON *st = item ? cJSON_GetObjectItemCaseSensitive(item, "status") : NULL;
        if (!cJSON_IsObject(item) || !cJSON_IsNumber(st))
            goto done;
        r->status = st->valueint;
        r->store_version = -1;
        r->error[0] = '\0';
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(item, "result");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "error");
        const char *etype = NULL;
        if (cJSON_IsObject(e)) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
            etype = cJSON_IsString(t) ? t->valuestring : "error";
            snprintf(r->error, sizeof r->error, "%s: %s", etype, cJSON_IsString(why) ? why->valuestring : "");
            if (cJSON_IsString(why))
                r->store_version = bulk_conflict_version(why->valuestring);
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

/* Nesting near both readers' limit of 1000 levels, where they may count one level apart. */
static bool deep(const char *s, size_t n)
{
    size_t open = 0;
    for (size_t i = 0; i < n; i++)
        open += s[i] == '[' || s[i] == '{';
    return open >= 900;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t nitems = data[0] % 16;
    bool is_delete[16] = {false};
    for (size_t i = 0; i < 8; i++)
        is_delete[i] = (data[1] >> i) & 1;
    size_t len = size - 2;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 2, len);

    bulk_item_result items[16];
    char err[256];
    err[0] = '\0';
    if (bulk_parse_response(body, len, is_delete, items, nitems, err, sizeof err)) {
        bulk_item_result ref[16];
        if (!ref_parse(body, len, is_delete, ref, nitems) && !deep(body, len))
            abort(); /* accepted an answer the tree reading refuses */
        for (size_t i = 0; i < nitems; i++) {
            if (items[i].outcome > BULK_RETRY)
                abort();
            if (items[i].outcome != BULK_APPLIED && !items[i].error[0])
                abort(); /* every failure is explained in dead_letters */
            if (!deep(body, len) &&
                (items[i].outcome != ref[i].outcome || items[i].status != ref[i].status ||
                 items[i].store_version != ref[i].store_version || strcmp(items[i].error, ref[i].error) != 0))
                abort(); /* read differently from the tree */
        }
    } else if (!err[0]) {
        abort();
    }

    /* The same bytes as a version, as PostgreSQL would print it. */
    char *text = malloc(len + 1);
    if (!text)
        abort();
    memcpy(text, body, len);
    text[len] = '\0';
    int64_t v = -1;
    char verr[128];
    if (bulk_parse_version(text, &v, verr, sizeof verr)) {
        if (v < 0)
            abort();
        roundtrip("1", 1, v, data[1] & 1);
    }
    free(text);

    /* The same bytes as a document id (PostgreSQL text: valid UTF-8, no NUL). */
    if (len > 0 && valid_utf8_no_nul((const unsigned char *)body, len))
        roundtrip(body, len, (int64_t)size, data[1] & 2);
    free(body);
    return 0;
}
