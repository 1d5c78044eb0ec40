/* fuzz_store_index — libFuzzer target for the document walk that feeds verstore's search structures. */
#include "versync/common/buf.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first byte picks a starting mapping; the rest is a document. Besides
 * "no crash, no leak, no read past the end", the target checks the property
 * the engine relies on to remove a document's entries: extracting an
 * accepted document again, leniently, under the mapping it produced gives
 * exactly the entries that were written. */

static const char *const mappings[] = {
    "",
    "{\"dynamic\":\"strict\",\"properties\":{\"a\":{\"type\":\"keyword\",\"ignore_above\":4},\"n\":{\"type\":"
    "\"long\"},\"o\":{\"properties\":{\"d\":{\"type\":\"date\"}}}}}",
    "{\"dynamic\":false,\"properties\":{\"t\":{\"type\":\"text\",\"fields\":{\"k\":{\"type\":\"keyword\"}}},"
    "\"f\":{\"type\":\"double\"},\"b\":{\"type\":\"boolean\"}}}",
    "{\"properties\":{\"a\":{\"type\":\"text\"},\"n\":{\"type\":\"integer\",\"index\":false}}}",
};

static bool same(const store_doc_index *x, const store_doc_index *y)
{
    if (x->n != y->n)
        return false;
    for (size_t i = 0; i < x->n; i++) {
        const store_ent *a = &x->ents[i], *b = &y->ents[i];
        if (a->kind != b->kind || a->tf != b->tf || a->len != b->len || a->val_len != b->val_len ||
            strcmp(x->text.data + a->path, y->text.data + b->path) != 0 ||
            (a->val_len && memcmp(x->text.data + a->val, y->text.data + b->val, a->val_len) != 0))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *mj = mappings[data[0] % (sizeof mappings / sizeof *mappings)];
    size_t n = size - 1;
    char *doc = malloc(n ? n : 1); /* exact size, no NUL: overreads trap */
    if (!doc)
        return 0;
    memcpy(doc, data + 1, n);
    store_mapping m;
    char err[256];
    store_doc_index d, again;
    memset(&d, 0, sizeof d);
    memset(&again, 0, sizeof again);
    buf reason = BUF_INIT;
    const char *type = NULL;
    if (!store_mapping_parse(mj, strlen(mj), &m, err, sizeof err))
        abort();
    if (json_is_object(doc, n)) {
        const char *start = json_ws(doc, doc + n);
        size_t len = (size_t)(doc + n - start);
        if (store_index_doc(&m, start, len, "id", 2, false, &d, &type, &reason)) {
            if (!store_index_doc(&m, start, len, "id", 2, true, &again, &type, &reason) || !same(&d, &again))
                abort(); /* removal would miss or invent entries */
            buf printed = BUF_INIT;
            store_mapping reparsed;
            /* A mapping verstore wrote must read back. */
            if (!store_mapping_print(&m, &printed) ||
                !store_mapping_parse(printed.data, printed.len, &reparsed, err, sizeof err) || reparsed.n != m.n)
                abort();
            store_mapping_free(&reparsed);
            buf_free(&printed);
        } else if (!type || !reason.len) {
            abort(); /* a refusal must say why */
        }
    }
    buf_free(&reason);
    store_doc_index_free(&d);
    store_doc_index_free(&again);
    store_mapping_free(&m);
    free(doc);
    return 0;
}
