/* store_wildcard — wildcard patterns ('*' any run, '?' one character) compiled once and matched in bounded time. */
#include "versync/store/store_wildcard.h"

#include "versync/common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A bit-parallel NFA (Shift-And with self-loops). State j (0..k) means "the
 * first j pattern characters are matched"; a '*' between characters j-1 and j
 * is a self-loop on state j. For each value character c the whole state set
 * moves at once: D' = ((D << 1) & mask(c)) | (D & loops). The greedy
 * backtracking glob it replaces costs pattern × value on patterns such as
 * "*a*a*a…b"; this costs value × (pattern / 64), whatever the pattern. */

#define INVALID_BASE 0x110000u /* code points for invalid UTF-8 bytes */

struct store_wildcard {
    size_t k;       /* pattern characters, stars excluded */
    size_t words;   /* 64-bit words per state set (k + 1 bits) */
    uint64_t *loop; /* states with a self-loop */
    uint64_t *any;  /* mask for a character not in the pattern: the '?' positions */
    size_t ncp;     /* distinct literal characters */
    uint32_t *cps;  /* sorted */
    uint64_t *masks; /* ncp × words: any | positions of that character */
    int32_t low[256]; /* index into cps for code points < 256, or -1 */
};

/* Next character of s at *i: its code point, or INVALID_BASE + byte. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (len && *i + len <= n) {
        uint32_t cp = len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        size_t j = 1;
        for (; j < len && (s[*i + j] & 0xC0) == 0x80; j++)
            cp = cp << 6 | (s[*i + j] & 0x3Fu);
        if (j == len) {
            *i += len;
            return cp;
        }
    }
    (*i)++;
    return INVALID_BASE + c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void setbit(uint64_t *v, size_t b) { v[b / 64] |= (uint64_t)1 << (b % 64); }

store_wildcard *store_wildcard_compile(const char *pat, size_t pn, size_t *len_out)
{
    const unsigned char *p = (const unsigned char *)pat;
    *len_out = 0;
    /* Pass 1: length after merging stars, bounded before allocating. */
    size_t k = 0, stars = 0;
    bool prev_star = false;
    for (size_t i = 0; i < pn;) {
        if (p[i] == '*') {
            i++;
            if (!prev_star)
                stars++;
            prev_star = true;
            continue;
        }
        next_cp(p, pn, &i);
        k++;
        prev_star = false;
    }
    if (k + stars > STORE_WILDCARD_MAX_LEN) {
        *len_out = k + stars;
        return NULL;
    }
    store_wildcard *w = calloc(1, sizeof *w);
    uint32_t *elem = calloc(k + 1, sizeof *elem); /* UINT32_MAX stands for '?' */
    if (!w || !elem)
        goto oom;
    w->k = k;
    w->words = (k + 1 + 63) / 64;
    w->loop = calloc(w->words, sizeof *w->loop);
    w->any = calloc(w->words, sizeof *w->any);
    w->cps = calloc(k + 1, sizeof *w->cps);
    if (!w->loop || !w->any || !w->cps)
        goto oom;
    size_t j = 0;
    for (size_t i = 0; i < pn;) {
        if (p[i] == '*') {
            setbit(w->loop, j);
            i++;
            continue;
        }
        if (p[i] == '?') {
            elem[j] = UINT32_MAX;
            setbit(w->any, j + 1);
            i++;
        } else {
            elem[j] = next_cp(p, pn, &i);
            w->cps[w->ncp++] = elem[j];
        }
        j++;
    }
    qsort(w->cps, w->ncp, sizeof *w->cps, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < w->ncp; i++)
        if (!u || w->cps[u - 1] != w->cps[i])
            w->cps[u++] = w->cps[i];
    w->ncp = u;
    w->masks = calloc(u ? grow_mul(u, w->words) : 1, sizeof *w->masks); /* SIZE_MAX on overflow: refused */
    if (!w->masks)
        goto oom;
    memset(w->low, -1, sizeof w->low);
    for (size_t c = 0; c < u; c++) {
        uint64_t *m = w->masks + c * w->words;
        memcpy(m, w->any, w->words * sizeof *m);
        if (w->cps[c] < 256)
            w->low[w->cps[c]] = (int32_t)c;
    }
    for (size_t e = 0; e < k; e++) {
        if (elem[e] == UINT32_MAX)
            continue;
        uint32_t *f = bsearch(&elem[e], w->cps, u, sizeof *w->cps, cmp_u32);
        setbit(w->masks + (size_t)(f - w->cps) * w->words, e + 1);
    }
    free(elem);
    return w;
oom:
    free(elem);
    store_wildcard_free(w);
    return NULL;
}

static const uint64_t *mask_for(const store_wildcard *w, uint32_t cp)
{
    if (cp < 256) {
        int32_t i = w->low[cp];
        return i < 0 ? w->any : w->masks + (size_t)i * w->words;
    }
    const uint32_t *f = bsearch(&cp, w->cps, w->ncp, sizeof *w->cps, cmp_u32);
    return f ? w->masks + (size_t)(f - w->cps) * w->words : w->any;
}

bool store_wildcard_match(const store_wildcard *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t W = w->words;
    uint64_t one[4], *d = W <= 4 ? one : malloc(W * sizeof *d);
    if (!d)
        return false;
    memset(d, 0, W * sizeof *d);
    d[0] = 1; /* state 0: nothing matched yet */
    bool alive = true;
    for (size_t i = 0; i < n && alive;) {
        const uint64_t *m = mask_for(w, next_cp(s, n, &i));
        uint64_t carry = 0;
        alive = false;
        for (size_t x = 0; x < W; x++) {
            uint64_t v = d[x];
            uint64_t nv = ((v << 1 | carry) & m[x]) | (v & w->loop[x]);
            carry = v >> 63;
            d[x] = nv;
            alive |= nv != 0;
        }
    }
    bool hit = alive && (d[w->k / 64] >> (w->k % 64) & 1);
    if (d != one)
        free(d);
    return hit;
}

void store_wildcard_free(store_wildcard *w)
{
    if (!w)
        return;
    free(w->loop);
    free(w->any);
    free(w->cps);
    free(w->masks);
    free(w);
}
