/* fuzz_router — libFuzzer target for verstore's request router, index-name rules and URL coding. */
#include "versync/common/buf.h"
#include "versync/store/store_router.h"
#include "versync/store/store_util.h"

#include <stdbool.h>
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
    if (strstr(s, "\xF4\x8F\xBF\xBF")) /* U+10FFFF stands for a NUL from a JSON body */
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("\\/*?\"<>| ,#:", s[i]) || (s[i] >= 'A' && s[i] <= 'Z'))
            return false;
    return true;
}

/* True when [s, s+n) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates). */
static bool utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
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

/* Reference wildcard match ('*' = any run of bytes) by dynamic programming,
 * to check store_util_glob's linear-time matcher against. */
static bool glob_ref(const char *p, size_t pn, const char *s, size_t sn)
{
    bool *row = calloc(sn + 1, sizeof *row), *next = calloc(sn + 1, sizeof *next);
    if (!row || !next)
        abort();
    row[0] = true; /* empty pattern matches empty subject */
    for (size_t i = 0; i < pn; i++) {
        memset(next, 0, (sn + 1) * sizeof *next);
        for (size_t j = 0; j <= sn; j++) {
            if (p[i] == '*')
                next[j] = row[j] || (j > 0 && next[j - 1]);
            else
                next[j] = j > 0 && row[j - 1] && s[j - 1] == p[i];
        }
        bool *t = row;
        row = next;
        next = t;
    }
    bool r = row[sn];
    free(row);
    free(next);
    return r;
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
        /* Decoding grows a segment at most by replacing each invalid byte
         * with U+FFFD (3 bytes), and what comes out is valid UTF-8: these
         * names are echoed in JSON answers. */
        if (m.index && (strlen(m.index) > 3 * plen || !utf8_ok(m.index, strlen(m.index))))
            abort();
        if (m.type && (strlen(m.type) > 3 * plen || !utf8_ok(m.type, strlen(m.type))))
            abort();
        if (m.id && (m.id_len > 3 * plen || !utf8_ok(m.id, m.id_len)))
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

    /* Percent-decoding gives valid UTF-8 (invalid bytes become U+FFFD);
     * encoding that as a segment and decoding it again gives it back. */
    buf dec = BUF_INIT, enc = BUF_INIT, back = BUF_INIT, san = BUF_INIT, san2 = BUF_INIT;
    bool plus = data[0] & 0x80;
    if (store_util_url_decode(path, plen, plus, &dec)) {
        if (dec.len > 3 * plen || !utf8_ok(dec.data ? dec.data : "", dec.len))
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
    /* Sanitizing gives valid UTF-8, leaves valid UTF-8 alone, and is idempotent. */
    if (!store_util_utf8_sanitize(path, plen, &san) || !utf8_ok(san.data ? san.data : "", san.len))
        abort();
    if (utf8_ok(path, plen) && (san.len != plen || (plen && memcmp(san.data, path, plen) != 0)))
        abort();
    if (!store_util_utf8_sanitize(san.data ? san.data : "", san.len, &san2) || san2.len != san.len ||
        (san.len && memcmp(san.data, san2.data, san.len) != 0))
        abort();
    buf_free(&dec);
    buf_free(&enc);
    buf_free(&back);
    buf_free(&san);
    buf_free(&san2);

    /* Wildcards: the raw input split in two is a pattern and a subject. */
    if (size > 1 && size <= 2001) {
        const char *pat = (const char *)data + 1;
        size_t half = (size - 1) / 2;
        bool got = store_util_glob(pat, half, pat + half, size - 1 - half);
        if (got != glob_ref(pat, half, pat + half, size - 1 - half))
            abort();
    }
    /* "Did you mean" similarity: within [0, 1], symmetric, 1 for equal names (it only
     * compares names of up to 64 bytes). */
    if (plen <= 200) {
        const char *other = methods[data[0] % (sizeof methods / sizeof methods[0])];
        float a = store_util_similarity(path, other), b = store_util_similarity(other, path);
        if (!(a >= 0.0f && a <= 1.0f) || a != b || (plen <= 64 && store_util_similarity(path, path) != 1.0f))
            abort();
    }

    /* The option parsers run on the same text (verstore --max-body, index.gc_deletes). */
    uint64_t bytes;
    int64_t ms;
    (void)store_util_parse_bytes(path, &bytes);
    (void)store_util_parse_time_ms(path, &ms);
    free(path);
    return 0;
}
