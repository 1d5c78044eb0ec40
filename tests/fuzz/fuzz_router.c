/* fuzz_router — libFuzzer target for verstore's request router, index-name rules and URL coding. */
#include "versync/buf.h"
#include "versync/store_router.h"
#include "versync/store_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input: one byte picks the method, the rest is the raw request path (the
 * part before '?', as the HTTP front hands it to the router). The router must
 * never crash or leak, and what it returns must agree with the rules it
 * states in store_router.h. */

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "", "get", "GETX"};

/* The index-name rules of es-versioning.md / MetadataCreateIndexService,
 * written out independently so a disagreement with the router shows. */
static bool rules_accept(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    if (s[0] == '_' || s[0] == '-' || s[0] == '+')
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("\\/*?\"<>| ,#:", s[i]) || (s[i] >= 'A' && s[i] <= 'Z'))
            return false;
    return true;
}

static void check_index_name(const char *name)
{
    buf reason = BUF_INIT;
    bool valid = store_router_valid_index(name, &reason);
    if (valid != rules_accept(name))
        abort();
    if (!valid && (!reason.data || strncmp(reason.data, "Invalid index name [", 20) != 0))
        abort();
    if (valid && reason.len)
        abort();
    buf_free(&reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    char *path = malloc(size); /* size-1 bytes of path plus NUL */
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    size_t plen = strlen(path);

    store_match m;
    if (store_router_match(method, path, &m)) {
        if (m.method != store_router_method(method))
            abort();
        if (m.route == STORE_R_NONE && (m.index || m.type || m.id))
            abort();
        if (m.route != STORE_R_NONE && m.allowed == 0)
            abort();
        /* Decoding never grows a segment. */
        if (m.index && strlen(m.index) > plen)
            abort();
        if (m.id && m.id_len > plen)
            abort();
        if (m.index)
            check_index_name(m.index);
        char allowed[64];
        store_router_allowed_text(m.allowed, allowed, sizeof allowed);
        if (m.allowed && !allowed[0])
            abort();
        store_router_free(&m);
        store_router_free(&m); /* freeing twice is a no-op */
    } else if (m.index || m.type || m.id) {
        abort(); /* a failed match leaves nothing to free */
    }

    check_index_name(path);

    /* Percent-decoding, then encoding a segment and decoding it again, gives
     * the same bytes back. */
    buf dec = BUF_INIT, enc = BUF_INIT, back = BUF_INIT;
    bool plus = data[0] & 0x80;
    if (store_util_url_decode(path, plen, plus, &dec)) {
        if (dec.len > plen)
            abort();
        if (!store_util_url_encode(dec.data ? dec.data : "", dec.len, &enc))
            abort();
        if (!store_util_url_decode(enc.data ? enc.data : "", enc.len, false, &back))
            abort();
        if (back.len != dec.len || (dec.len && memcmp(back.data, dec.data, dec.len) != 0))
            abort();
        for (size_t i = 0; i < enc.len; i++)
            if (enc.data[i] == '/' || enc.data[i] == '?' || enc.data[i] == '#' || (unsigned char)enc.data[i] < 0x21 ||
                (unsigned char)enc.data[i] >= 0x7f)
                abort(); /* an encoded segment must survive being put in a path */
    }
    buf_free(&dec);
    buf_free(&enc);
    buf_free(&back);

    /* The option parsers run on the same text (verstore --max-body, index.gc_deletes). */
    uint64_t bytes;
    int64_t ms;
    (void)store_util_parse_bytes(path, &bytes);
    (void)store_util_parse_time_ms(path, &ms);
    free(path);
    return 0;
}
