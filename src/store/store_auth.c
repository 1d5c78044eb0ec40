/* store_auth — users file, basic auth and API keys for verstore. */
#include "versync/store/store_auth.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_CACHE_SLOTS 64
#define AUTH_CACHE_HDR 512 /* longer headers are verified every time */
/* Failed-login throttle, per client address (IPv4, or an IPv6 /64): a
 * bucket of AUTH_BURST attempts refilled at AUTH_REFILL_PER_S. Each
 * verification takes a token first and a success gives it back, so only
 * failures drain it: a client guessing passwords gets 429s instead of
 * making the server hash for it. */
#define AUTH_BUCKETS 1024
#define AUTH_BURST 8.0
#define AUTH_REFILL_PER_S 0.5

typedef struct auth_entry {
    char *name;  /* user name, or the API key id */
    char *hash;  /* crypt(3) string */
    bool apikey;
    size_t group; /* index in store_auth.groups: entries hashed at the same cost */
    int line;     /* in the users file, for errors */
} auth_entry;

/* Entries whose hashes cost the same to verify (same scheme and cost
 * parameters). Every uncached check verifies once per group, so a check
 * costs the same whoever the claimed user is, known or not. */
typedef struct auth_group {
    char *sig;  /* "$y$j9T", "$6$rounds=9000", "$2b$12", ... */
    size_t rep; /* an entry of the group: its hash stands in for the others */
} auth_group;

typedef struct auth_bucket {
    uint64_t key; /* hash of the address; 0: free */
    double tokens;
    int64_t last_ms;
} auth_bucket;

typedef struct auth_cache_slot {
    size_t len; /* 0: empty */
    char hdr[AUTH_CACHE_HDR];
    char who[128];
} auth_cache_slot;

struct store_auth {
    auth_entry *e;
    size_t n, cap;
    auth_group *groups;
    size_t ngroups;
    pthread_mutex_t mu;
    auth_cache_slot cache[AUTH_CACHE_SLOTS];
    auth_bucket buckets[AUTH_BUCKETS];
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
    for (size_t i = 0; i < a->ngroups; i++)
        free(a->groups[i].sig);
    free(a->groups);
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

/* The part of a crypt(3) hash that sets its cost: the scheme and its
 * parameters, without salt and digest. bcrypt ("$2b$12$<salt+digest>")
 * keeps three fields, the others drop their last two ("$6$salt$digest",
 * "$y$j9T$salt$digest"). */
static size_t cost_sig_len(const char *h)
{
    size_t n = strlen(h);
    if (n > 4 && h[1] == '2' && (h[2] == '$' || h[3] == '$')) {
        const char *p = strchr(h + 1, '$');
        p = p ? strchr(p + 1, '$') : NULL;
        return p ? (size_t)(p - h) : n;
    }
    size_t drop = 0, i = n;
    while (i > 0 && drop < 2)
        if (h[--i] == '$')
            drop++;
    return drop == 2 ? i : n;
}

static bool verify(const char *secret, const char *hash);

/* Whether this system's crypt(3) can verify `hash`: a probe must come out
 * as a string of the same shape (not a failure token, same length). */
static bool hash_usable(const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return false;
    const char *r = crypt_rn("verstore-probe", hash, cd, (int)sizeof *cd);
    bool ok = r && r[0] != '*' && strlen(r) == strlen(hash);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

static bool assign_group(store_auth *a, size_t i)
{
    const char *h = a->e[i].hash;
    size_t sl = cost_sig_len(h);
    for (size_t g = 0; g < a->ngroups; g++)
        if (strlen(a->groups[g].sig) == sl && memcmp(a->groups[g].sig, h, sl) == 0) {
            a->e[i].group = g;
            return true;
        }
    auth_group *p = realloc(a->groups, (a->ngroups + 1) * sizeof *p);
    if (!p)
        return false;
    a->groups = p;
    if (!(p[a->ngroups].sig = strndup(h, sl)))
        return false;
    p[a->ngroups].rep = i;
    a->e[i].group = a->ngroups++;
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
        if (!add_entry(a, name, nlen, hash, hlen, apikey) || !assign_group(a, a->n - 1)) {
            snprintf(err, errsz, "%s: out of memory", fname);
            goto fail;
        }
        a->e[a->n - 1].line = lineno;
    }
    /* Then try each hash once (the file's syntax is reported first: this
     * costs one verification per entry). */
    for (size_t i = 0; i < a->n; i++)
        if (!hash_usable(a->e[i].hash)) {
            snprintf(err, errsz,
                     "%s:%d: the hash of '%s' cannot be used: this system's crypt(3) does not support its scheme, "
                     "or it is cut short or malformed (make one with verstore --hash-password)",
                     fname, a->e[i].line, a->e[i].name);
            goto fail;
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Take one token from the bucket of address key `k` (0: unthrottled).
 * False when it is empty. Called with a->mu held. */
static bool bucket_take(store_auth *a, uint64_t k)
{
    if (!k)
        return true;
    auth_bucket *b = &a->buckets[k % AUTH_BUCKETS];
    int64_t now = mono_ms();
    if (b->key != k) { /* free, or another address's: start this one full */
        b->key = k;
        b->tokens = AUTH_BURST;
        b->last_ms = now;
    }
    b->tokens += (double)(now - b->last_ms) * AUTH_REFILL_PER_S / 1000.0;
    if (b->tokens > AUTH_BURST)
        b->tokens = AUTH_BURST;
    b->last_ms = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static void bucket_refund(store_auth *a, uint64_t k)
{
    auth_bucket *b = &a->buckets[k % AUTH_BUCKETS];
    if (k && b->key == k && (b->tokens += 1.0) > AUTH_BURST)
        b->tokens = AUTH_BURST;
}

store_auth_result store_auth_check(store_auth *a, const char *header, char *who, size_t whosz)
{
    return store_auth_check_from(a, header, NULL, 0, who, whosz);
}

store_auth_result store_auth_check_from(store_auth *a, const char *header, const void *addr, size_t addrlen,
                                        char *who, size_t whosz)
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
    uint64_t key = 0;
    if (addr && addrlen) {
        key = 1469598103934665603ULL;
        for (size_t i = 0; i < addrlen; i++)
            key = (key ^ ((const unsigned char *)addr)[i]) * 1099511628211ULL;
        key |= 1; /* never 0, which means unthrottled */
    }
    pthread_mutex_lock(&a->mu);
    bool allowed = bucket_take(a, key);
    pthread_mutex_unlock(&a->mu);
    if (!allowed) {
        explicit_bzero(dec, sizeof dec);
        return STORE_AUTH_THROTTLED;
    }
    const auth_entry *e = find(a, dec, nlen, apikey);
    /* One verification per cost group whoever the name is: the claimed
     * entry's own hash in its group, a stand-in elsewhere. A wrong password
     * and an unknown name then take the same time, for every scheme in the
     * file, and so do the users of a cheap scheme and of a costly one. */
    bool ok = false;
    for (size_t g = 0; g < a->ngroups; g++) {
        bool own = e && e->group == g;
        bool match = verify(colon + 1, own ? e->hash : a->e[a->groups[g].rep].hash);
        if (own)
            ok = match;
    }
    explicit_bzero(dec, sizeof dec);
    if (!ok)
        return STORE_AUTH_FAILED;
    pthread_mutex_lock(&a->mu);
    bucket_refund(a, key);
    pthread_mutex_unlock(&a->mu);
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
