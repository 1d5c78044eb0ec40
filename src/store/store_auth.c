/* store_auth — users file, basic auth and API keys for verstore. */
#include "versync/store_auth.h"

#include "versync/grow.h"
#include "versync/log.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_HDR 512 /* longer headers are verified every time */

typedef struct auth_entry {
    char *name;  /* user name, or the API key id */
    char *hash;  /* crypt(3) string */
    bool apikey;
} auth_entry;

typedef struct auth_cache_slot {
    size_t len; /* 0: empty */
    char hdr[AUTH_CACHE_HDR];
    char who[128];
} auth_cache_slot;

struct store_auth {
    auth_entry *e;
    size_t n, cap;
    pthread_mutex_t mu;
    auth_cache_slot cache[AUTH_CACHE_SLOTS];
};

bool store_auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Walk the longer length so the time says nothing about the contents;
     * the volatile accumulator keeps the compiler from returning early. */
    const unsigned char *pa = a, *pb = b;
    size_t n = alen > blen ? alen : blen;
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? pa[i] : 0, y = i < blen ? pb[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

void store_auth_free(store_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->e[i].name);
        if (a->e[i].hash)
            memset(a->e[i].hash, 0, strlen(a->e[i].hash));
        free(a->e[i].hash);
    }
    free(a->e);
    pthread_mutex_destroy(&a->mu);
    memset(a->cache, 0, sizeof a->cache);
    free(a);
}

size_t store_auth_count(const store_auth *a) { return a ? a->n : 0; }

static bool add_entry(store_auth *a, const char *name, size_t nlen, const char *hash, size_t hlen, bool apikey)
{
    if (a->n == a->cap && !GROW_ARRAY(a->e, a->cap, a->n + 1, 8))
        return false;
    auth_entry *e = &a->e[a->n];
    e->name = strndup(name, nlen);
    e->hash = strndup(hash, hlen);
    e->apikey = apikey;
    if (!e->name || !e->hash) {
        free(e->name);
        free(e->hash);
        return false;
    }
    a->n++;
    return true;
}

static const auth_entry *find(const store_auth *a, const char *name, size_t nlen, bool apikey)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].apikey == apikey && strlen(a->e[i].name) == nlen && memcmp(a->e[i].name, name, nlen) == 0)
            return &a->e[i];
    return NULL;
}

/* A crypt(3) hash as libcrypt writes it: "$id$...", printable, no ':'. */
static bool hash_ok(const char *h, size_t n)
{
    if (n < 4 || h[0] != '$')
        return false;
    for (size_t i = 0; i < n; i++)
        if (h[i] <= ' ' || h[i] > '~' || h[i] == ':')
            return false;
    return true;
}

store_auth *store_auth_parse(const char *text, size_t len, const char *fname, char *err, size_t errsz)
{
    store_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errsz, "%s: out of memory", fname);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll && line[ll - 1] == '\r')
            ll--;
        size_t s = 0;
        while (s < ll && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (s == ll || line[s] == '#')
            continue;
        const char *c1 = memchr(line, ':', ll);
        if (!c1) {
            snprintf(err, errsz, "%s:%d: expected name:HASH or apikey:ID:HASH (no ':' found)", fname, lineno);
            goto fail;
        }
        size_t n1 = (size_t)(c1 - line);
        bool apikey = n1 == 6 && memcmp(line, "apikey", 6) == 0;
        const char *name = line, *hash = c1 + 1;
        size_t nlen = n1;
        if (apikey) {
            const char *c2 = memchr(c1 + 1, ':', ll - n1 - 1);
            if (!c2 || c2 == c1 + 1) {
                snprintf(err, errsz, "%s:%d: expected apikey:ID:HASH", fname, lineno);
                goto fail;
            }
            name = c1 + 1;
            nlen = (size_t)(c2 - name);
            hash = c2 + 1;
        }
        size_t hlen = (size_t)(line + ll - hash);
        if (nlen == 0) {
            snprintf(err, errsz, "%s:%d: the user name is empty", fname, lineno);
            goto fail;
        }
        if (nlen >= 100) {
            snprintf(err, errsz, "%s:%d: the name is longer than 99 bytes", fname, lineno);
            goto fail;
        }
        if (!hash_ok(hash, hlen)) {
            snprintf(err, errsz,
                     "%s:%d: the hash of '%.*s' is not a crypt(3) string such as $y$... (make one with verstore "
                     "--hash-password)",
                     fname, lineno, (int)nlen, name);
            goto fail;
        }
        if (find(a, name, nlen, apikey)) {
            snprintf(err, errsz, "%s:%d: %s '%.*s' is listed twice", fname, lineno, apikey ? "API key" : "user",
                     (int)nlen, name);
            goto fail;
        }
        if (!add_entry(a, name, nlen, hash, hlen, apikey)) {
            snprintf(err, errsz, "%s: out of memory", fname);
            goto fail;
        }
    }
    if (a->n == 0) {
        snprintf(err, errsz, "%s: no users or API keys in the file", fname);
        goto fail;
    }
    return a;
fail:
    store_auth_free(a);
    return NULL;
}

store_auth *store_auth_load(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errsz, "%s: cannot read the users file: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *t = realloc(text, cap + 65536);
            if (!t) {
                free(text);
                fclose(f);
                snprintf(err, errsz, "%s: out of memory", path);
                return NULL;
            }
            text = t;
            cap += 65536;
        }
        size_t r = fread(text + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    bool rerr = ferror(f);
    fclose(f);
    store_auth *a = NULL;
    if (rerr)
        snprintf(err, errsz, "%s: cannot read the users file", path);
    else
        a = store_auth_parse(text, len, path, err, errsz);
    memset(text, 0, len);
    free(text);
    return a;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 into out (NUL-terminated); false if malformed or too long. */
static bool b64_decode(const char *s, char *out, size_t outsz, size_t *outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64val((unsigned char)*s);
        if (v < 0)
            return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outsz)
                return false;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    while (*s == '=')
        s++;
    if (*s)
        return false;
    out[o] = '\0';
    *outlen = o;
    return true;
}

static bool verify(const char *secret, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd) {
        log_error("auth: out of memory");
        return false;
    }
    bool ok = false;
    const char *r = crypt_rn(secret, hash, cd, (int)sizeof *cd);
    /* crypt_rn returns NULL or a '*'-string on failure; both differ from the hash. */
    if (r && r[0] != '*')
        ok = store_auth_ct_equal(r, strlen(r), hash, strlen(hash));
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

static size_t slot_of(const char *h, size_t n)
{
    uint64_t x = 1469598103934665603ULL; /* FNV-1a: only picks a slot, the full header is compared */
    for (size_t i = 0; i < n; i++)
        x = (x ^ (unsigned char)h[i]) * 1099511628211ULL;
    return (size_t)(x % AUTH_CACHE_SLOTS);
}

static void put_who(char *who, size_t whosz, const char *s, size_t n)
{
    if (!who || !whosz)
        return;
    if (n >= whosz)
        n = whosz - 1;
    memcpy(who, s, n);
    who[n] = '\0';
}

store_auth_result store_auth_check(store_auth *a, const char *header, char *who, size_t whosz)
{
    put_who(who, whosz, "", 0);
    if (!header)
        return STORE_AUTH_MISSING;
    while (*header == ' ')
        header++;
    size_t hlen = strlen(header);
    bool cacheable = hlen < AUTH_CACHE_HDR;
    size_t slot = cacheable ? slot_of(header, hlen) : 0;
    if (cacheable) {
        pthread_mutex_lock(&a->mu);
        auth_cache_slot *cs = &a->cache[slot];
        bool hit = cs->len && store_auth_ct_equal(cs->hdr, cs->len, header, hlen);
        if (hit)
            put_who(who, whosz, cs->who, strlen(cs->who));
        pthread_mutex_unlock(&a->mu);
        if (hit)
            return STORE_AUTH_OK;
    }
    bool basic = strncasecmp(header, "Basic ", 6) == 0, apikey = strncasecmp(header, "ApiKey ", 7) == 0;
    if (!basic && !apikey)
        return STORE_AUTH_MISSING;
    const char *p = header + (basic ? 6 : 7);
    while (*p == ' ')
        p++;
    char dec[1024];
    size_t dlen;
    if (!b64_decode(p, dec, sizeof dec, &dlen))
        return STORE_AUTH_FAILED;
    char *colon = memchr(dec, ':', dlen);
    if (!colon || memchr(dec, '\0', dlen)) {
        explicit_bzero(dec, sizeof dec);
        return STORE_AUTH_FAILED;
    }
    size_t nlen = (size_t)(colon - dec);
    char whobuf[128];
    snprintf(whobuf, sizeof whobuf, "%s%.*s", apikey ? "apikey:" : "", (int)(nlen < 100 ? nlen : 100), dec);
    put_who(who, whosz, whobuf, strlen(whobuf));
    const auth_entry *e = find(a, dec, nlen, apikey);
    /* An unknown name still pays for one hash, so timing does not tell
     * which names exist (the first entry's hash stands in). */
    bool ok = verify(colon + 1, e ? e->hash : a->e[0].hash) && e != NULL;
    explicit_bzero(dec, sizeof dec);
    if (!ok)
        return STORE_AUTH_FAILED;
    if (cacheable) {
        pthread_mutex_lock(&a->mu);
        auth_cache_slot *cs = &a->cache[slot];
        memcpy(cs->hdr, header, hlen);
        cs->len = hlen;
        snprintf(cs->who, sizeof cs->who, "%s", whobuf);
        pthread_mutex_unlock(&a->mu);
    }
    return STORE_AUTH_OK;
}

char *store_auth_hash_password(const char *password)
{
    char *setting = crypt_gensalt_ra("$y$", 0, NULL, 0);
    if (!setting) {
        log_error("cannot make a yescrypt salt: %s", strerror(errno));
        return NULL;
    }
    void *data = NULL;
    int dsz = 0;
    char *r = crypt_ra(password, setting, &data, &dsz);
    char *out = (r && r[0] != '*') ? strdup(r) : NULL;
    if (!out)
        log_error("cannot hash the password with yescrypt");
    if (data) {
        explicit_bzero(data, (size_t)dsz);
        free(data);
    }
    free(setting);
    return out;
}
