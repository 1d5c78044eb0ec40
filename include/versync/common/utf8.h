/* utf8 — well-formed UTF-8 checks shared by the config loader and verstore. */
#ifndef VERSYNC_UTF8_H
#define VERSYNC_UTF8_H

#include <stddef.h>

/* Length (1–4) of the well-formed UTF-8 sequence that starts at `p`, of
 * which `avail` (>= 1) bytes may be read; 0 when it is not one: a stray
 * continuation byte, an overlong form, a surrogate, a code point past
 * U+10FFFF or a sequence cut short. */
size_t utf8_seq_len(const unsigned char *p, size_t avail);

#endif
