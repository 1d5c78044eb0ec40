/* grow — overflow-checked growth of heap arrays and sizes. */
#include "versync/common/grow.h"

#include <stdint.h>
#include <stdlib.h>

bool grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : first ? first : 1;
    while (nc < need) /* doubling keeps appends amortised O(1) */
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    if (elem && nc > SIZE_MAX / elem)
        return false;
    void *np = realloc(*p, nc * (elem ? elem : 1));
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

size_t grow_mul(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
