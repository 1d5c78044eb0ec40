/* grow — overflow-checked growth of heap arrays and sizes. */
#ifndef VERSYNC_GROW_H
#define VERSYNC_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* Make room for `need` elements of `elem` bytes in the heap array *p, whose
 * capacity (in elements) is *cap: when need > *cap, realloc it to the first
 * of first, 2·first, 4·first… (or the doubled capacity) that holds `need`.
 * False, with *p and *cap unchanged, when the byte size would overflow size_t
 * or realloc fails. The caller keeps owning *p. */
bool grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first);

/* grow_array for a typed array: GROW_ARRAY(v, cap, n + 1, 16). */
#define GROW_ARRAY(arr, cap, need, first) grow_array((void **)&(arr), &(cap), (need), sizeof *(arr), (first))

/* a·b, or SIZE_MAX when that overflows (so calloc(grow_mul(a, b), size) and
 * malloc(grow_mul(a, size)) fail instead of allocating too little). */
size_t grow_mul(size_t a, size_t b);

#endif
