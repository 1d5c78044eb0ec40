/* buf — a growable byte buffer with a hard size cap. */
#ifndef VERSYNC_BUF_H
#define VERSYNC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A buffer holds `len` bytes at `data`, always followed by a NUL byte that is
 * not counted (so text can be used as a C string). It never grows past `max`
 * bytes of content: an append that would exceed the cap fails, leaving the
 * buffer unchanged, and sets `overflow` so callers can tell "too big" from
 * "out of memory" (`failed`). Both flags are sticky until buf_reset, so a
 * writer may make many appends and check once, before the text is used, that
 * none was lost (buf_ok). A zeroed buf (or BUF_INIT) is empty and uncapped. */
typedef struct buf {
    char *data;    /* NULL until the first append */
    size_t len;    /* bytes in use, excluding the trailing NUL */
    size_t cap;    /* bytes allocated */
    size_t max;    /* content cap; 0 means unlimited */
    bool overflow; /* set when an append was refused for the cap */
    bool failed;   /* set when an append was refused for want of memory */
} buf;

#define BUF_INIT {NULL, 0, 0, 0, false, false}

/* True when no append since the last reset was refused (cap or memory). */
static inline bool buf_ok(const buf *b) { return !b->overflow && !b->failed; }

/* How many buffer allocations have failed on the calling thread since it
 * started. A response writer notes it before building and compares after: a
 * change means some buffer (the body or a scratch one copied into it) lost
 * text, whatever the individual appends' results were ignored. */
unsigned long buf_alloc_failures(void);

/* Start an empty buffer capped at `max` bytes (0 = unlimited). */
void buf_init(buf *b, size_t max);

/* Make room for `extra` more bytes. False on cap or out of memory. */
bool buf_reserve(buf *b, size_t extra);

bool buf_append(buf *b, const void *data, size_t n);
bool buf_puts(buf *b, const char *s);
bool buf_putc(buf *b, char c);
bool buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append `n` bytes of `s` as a JSON string literal, quotes included.
 * Control characters are escaped as \uXXXX (\n, \t… in short form); bytes
 * >= 0x80 are copied unchanged, so valid UTF-8 stays valid. */
bool buf_put_json_string(buf *b, const char *s, size_t n);

/* Append everything left to read from `f` (which stays open). False on a
 * read error (errno set by stdio), on the cap (`overflow` set) or out of
 * memory; what was read so far stays in the buffer. */
bool buf_read_stream(buf *b, FILE *f);

/* Drop the contents but keep the allocation (and the cap); clears the
 * overflow and failed flags. */
void buf_reset(buf *b);

/* Take the contents: returns a NUL-terminated heap string the caller owns and
 * must free(); the buffer is left empty. Never NULL except out of memory. */
char *buf_steal(buf *b);

/* Release the memory. buf_free(NULL) and freeing twice are no-ops. */
void buf_free(buf *b);

#endif
