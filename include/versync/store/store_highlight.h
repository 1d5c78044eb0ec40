/* store_highlight — the fragmenter of Elasticsearch 8's unified highlighter: a field's text and the spans a
 * query matched in it become highlighted fragments (sentence passages bounded by fragment_size, the best
 * number_of_fragments of them by Lucene's passage score, tags around the matches). */
#ifndef VERSYNC_STORE_HIGHLIGHT_H
#define VERSYNC_STORE_HIGHLIGHT_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Between the values of a multi-valued field, as Elasticsearch's
 * CustomUnifiedHighlighter joins them: NUL (MULTIVAL_SEP_CHAR). A passage
 * never crosses it. */
#define STORE_HL_SEP '\0'

/* One match, in UTF-16 code units of the joined text (analysis offsets
 * count those). `term` identifies what matched (the same term, or the same
 * phrase, has the same id) for the passage score: small ids, counted from 0,
 * as arrays of that size are kept. */
typedef struct store_hl_span {
    int32_t start, end;
    uint32_t term;
} store_hl_span;

typedef struct store_hl_opts {
    const char *pre, *post; /* the tags around a match */
    bool html; /* encoder html: the text between tags escaped as Lucene's SimpleHTMLEncoder does */
    int32_t fragment_size; /* in characters; a sentence longer than this is kept whole */
    int32_t nfrag;         /* number_of_fragments; 0: each value with a match, whole */
    int32_t no_match_size; /* without a match: the first value's start up to the word after this many
                              characters */
    bool by_score;         /* order: score (else the text's order) */
} store_hl_opts;

/* Append the fragments of `text` (UTF-8, `len` bytes, values joined by
 * the STORE_HL_SEP byte) as JSON strings, comma-separated, to `out`, and their count
 * to *nout. `spans` need not be sorted. False when memory runs out or ICU
 * fails. Fragment boundaries are those of ICU's root-locale sentence and
 * word break iterators, which Java's BreakIterator follows closely. */
bool store_hl_fragments(const char *text, size_t len, const store_hl_span *spans, size_t nspans,
                        const store_hl_opts *o, buf *out, size_t *nout);

#endif
