/* fuzz_store_bulk — libFuzzer target for verstore's _bulk NDJSON parser and _update body parser. */
#include "versync/store/store_bulk.h"
#include "versync/store/store_json.h"
#include "versync/store/store_router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: one flag byte, then the request body. Bit 0 gives the request a
 * default index (POST /dflt/_bulk), bit 1 parses the body as an _update body
 * instead. The body is copied to an exact-size heap block without a NUL, so
 * any read past its end is an ASan error. On success every item must be ready
 * to run (or carry its own error); on failure the request-level error must be
 * a complete Elasticsearch 4xx. */

static void check_error(const store_error *e)
{
    if (e->status != 400 || !e->type || !e->type[0] || e->reason.len == 0 || !e->reason.data)
        abort();
    if (strlen(e->reason.data) != e->reason.len)
        abort(); /* reasons are sent as JSON strings: no NUL inside */
}

static void check_bulk(const store_bulk *b, const char *body, size_t len)
{
    if (b->n == 0)
        abort();
    int last_line = 0;
    for (size_t i = 0; i < b->n; i++) {
        const store_bulk_item *it = &b->items[i];
        if (!it->key || !it->index || it->line <= last_line || (size_t)it->line > len)
            abort();
        last_line = it->line;
        /* op_type create turns an index action into a create, key included. */
        const char *want = it->action == STORE_BULK_INDEX    ? "index"
                           : it->action == STORE_BULK_CREATE ? "create"
                           : it->action == STORE_BULK_UPDATE ? "update"
                                                             : "delete";
        if (strcmp(it->key, want) != 0)
            abort();
        if (it->err_status) {
            if (it->err_status < 400 || it->err_status > 499 || !it->err_type || !it->err_reason)
                abort();
            continue;
        }
        buf reason = BUF_INIT;
        if (!store_router_valid_index(it->index, &reason))
            abort(); /* an item that runs must name a valid index */
        buf_free(&reason);
        if (!it->id || it->id_len == 0 || it->id_len > 512)
            abort();
        if (it->action == STORE_BULK_INDEX || it->action == STORE_BULK_CREATE) {
            if (!it->src || it->src < body || it->src + it->src_len > body + len)
                abort();
            if (!json_is_object(it->src, it->src_len))
                abort();
        }
        if (it->action == STORE_BULK_UPDATE && !it->upd.doc && !it->upd.upsert)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    if (flags & 2) {
        store_update_spec spec;
        store_error err = {0};
        if (store_bulk_parse_update(body, len, &spec, &err)) {
            if (!spec.doc && !spec.upsert)
                abort();
            store_bulk_update_free(&spec);
        } else {
            check_error(&err);
            if (spec.doc || spec.upsert)
                abort(); /* failure frees the partial spec */
        }
        store_error_free(&err);
    } else {
        store_bulk b;
        store_error err = {0};
        if (store_bulk_parse(body, len, (flags & 1) ? "dflt" : NULL, &b, &err))
            check_bulk(&b, body, len);
        else
            check_error(&err);
        store_bulk_free(&b);
        store_error_free(&err);
    }
    free(body);
    return 0;
}
