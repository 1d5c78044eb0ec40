/* fuzz_store_wildcard — libFuzzer target for verstore's wildcard matcher: agrees with a plain glob, never overruns, bounds patterns. */
#include "versync/store/store_wildcard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: first byte = pattern length (mod the input), then the pattern, then
 * the value. Patterns and values may hold NUL bytes and invalid UTF-8.
 * Invariants: compile succeeds exactly when the merged pattern is within
 * STORE_WILDCARD_MAX_LEN; on short ASCII inputs the result equals a
 * recursive reference glob. */

/* `budget` is shared by the whole recursion (the number of calls left), so
 * the reference gives up rather than taking exponential time on many stars. */
static int ref(const unsigned char *p, size_t pn, const unsigned char *s, size_t sn, long *budget)
{
    if (--*budget <= 0)
        return -1; /* too costly to decide: skip the comparison */
    if (!pn)
        return !sn;
    if (*p == '*') {
        int r = ref(p + 1, pn - 1, s, sn, budget);
        if (r != 0)
            return r;
        return sn ? ref(p, pn, s + 1, sn - 1, budget) : 0;
    }
    if (!sn)
        return 0;
    if (*p != '?' && *p != *s)
        return 0;
    return ref(p + 1, pn - 1, s + 1, sn - 1, budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t pn = data[0] % size;
    const unsigned char *p = data + 1;
    if (pn > size - 1)
        pn = size - 1;
    const unsigned char *s = p + pn;
    size_t sn = size - 1 - pn;
    size_t wl;
    store_wildcard *w = store_wildcard_compile((const char *)p, pn, &wl);
    if (!w) {
        if (wl <= STORE_WILDCARD_MAX_LEN)
            abort(); /* refused a pattern within the bound (or out of memory: wl 0, impossible here) */
        return 0;
    }
    bool got = store_wildcard_match(w, (const char *)s, sn);
    store_wildcard_free(w);
    bool ascii = true;
    for (size_t i = 0; i < size - 1 && ascii; i++)
        ascii = p[i] < 0x80;
    if (ascii) {
        long budget = 200000;
        int want = ref(p, pn, s, sn, &budget);
        if (want >= 0 && want != (int)got)
            abort();
    }
    return 0;
}
