/* store_analysis — text analysis as Elasticsearch does it: tokenizers, token filters and analyzers (built-in and from an index's settings.analysis). */
#ifndef VERSYNC_STORE_ANALYSIS_H
#define VERSYNC_STORE_ANALYSIS_H

#include "versync/common/buf.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token types, printed as Lucene names them (analysis_type_name). */
typedef enum analysis_type {
    ANALYSIS_T_ALPHANUM = 0, /* <ALPHANUM> */
    ANALYSIS_T_NUM,          /* <NUM> */
    ANALYSIS_T_SOUTHEAST_ASIAN,
    ANALYSIS_T_IDEOGRAPHIC,
    ANALYSIS_T_HIRAGANA,
    ANALYSIS_T_KATAKANA,
    ANALYSIS_T_HANGUL,
    ANALYSIS_T_EMOJI,
    ANALYSIS_T_WORD,    /* word: every tokenizer but the standard one */
    ANALYSIS_T_SINGLE,  /* <SINGLE>: cjk_bigram's lone character */
    ANALYSIS_T_DOUBLE,  /* <DOUBLE>: cjk_bigram's pair */
    ANALYSIS_T_SYNONYM, /* SYNONYM */
} analysis_type;

const char *analysis_type_name(int type);

/* Longest token the standard, whitespace and letter tokenizers emit by
 * default (max_token_length): longer runs are split there. */
#define ANALYSIS_MAX_TOKEN 255

/* One token. Offsets count UTF-16 code units, as Java's do. */
typedef struct analysis_token {
    char *term; /* UTF-8, NUL-terminated; owned by the list */
    size_t len;
    int32_t start, end;
    int32_t pos; /* position: 0 for the first token; stop words leave gaps */
    int type;    /* analysis_type */
} analysis_token;

typedef struct analysis_tokens {
    analysis_token *v;
    size_t n, cap;
} analysis_tokens;

/* Append a token (the term is copied). False when out of memory. */
bool analysis_tokens_push(analysis_tokens *t, const char *term, size_t len, int32_t start, int32_t end, int32_t pos,
                          int type);
/* Free every term and empty the list (keeps nothing); NULL is a no-op. */
void analysis_tokens_free(analysis_tokens *t);

/* ---- tokenizers (store_tokenize.c) ---- */

typedef enum analysis_tk_kind {
    ANALYSIS_TK_STANDARD = 0,
    ANALYSIS_TK_WHITESPACE,
    ANALYSIS_TK_KEYWORD,
    ANALYSIS_TK_LETTER,
    ANALYSIS_TK_LOWERCASE, /* letter + lowercase */
    ANALYSIS_TK_NGRAM,
    ANALYSIS_TK_EDGE_NGRAM,
} analysis_tk_kind;

/* token_chars classes of the n-gram tokenizers (none: every character). */
enum {
    ANALYSIS_TC_LETTER = 1,
    ANALYSIS_TC_DIGIT = 2,
    ANALYSIS_TC_WHITESPACE = 4,
    ANALYSIS_TC_PUNCTUATION = 8,
    ANALYSIS_TC_SYMBOL = 16,
};

typedef struct analysis_tokenizer {
    analysis_tk_kind kind;
    int max_len;            /* max_token_length */
    int min_gram, max_gram; /* n-gram tokenizers */
    unsigned token_chars;   /* ANALYSIS_TC_* bits; 0: all */
    void *brk;              /* the standard tokenizer's ICU break iterator, opened on first use */
} analysis_tokenizer;

/* Tokenize `text` (UTF-8; invalid bytes read as U+FFFD) and append the
 * tokens to `out`, positions from `pos0`, offsets plus `off0`. Returns false
 * when out of memory or ICU fails. `*end16` (if not NULL) gets the text's
 * length in UTF-16 units. */
bool analysis_tokenize(analysis_tokenizer *tk, const char *text, size_t len, int32_t pos0, int32_t off0,
                       analysis_tokens *out, int32_t *end16);

/* Release the tokenizer's ICU state; NULL is a no-op. */
void analysis_tokenizer_release(analysis_tokenizer *tk);

/* ---- token filters (store_tokfilter.c) ---- */

typedef enum analysis_tf_kind {
    ANALYSIS_TF_LOWERCASE = 0,
    ANALYSIS_TF_UPPERCASE,
    ANALYSIS_TF_ASCIIFOLDING,
    ANALYSIS_TF_STOP,
    ANALYSIS_TF_STEMMER, /* stemmer, porter_stem, snowball */
    ANALYSIS_TF_POSSESSIVE,
    ANALYSIS_TF_CJK_WIDTH,
    ANALYSIS_TF_CJK_BIGRAM,
    ANALYSIS_TF_SYNONYM,
    ANALYSIS_TF_TRIM,
} analysis_tf_kind;

/* cjk_bigram scripts. */
enum {
    ANALYSIS_CJK_HAN = 1,
    ANALYSIS_CJK_HIRAGANA = 2,
    ANALYSIS_CJK_KATAKANA = 4,
    ANALYSIS_CJK_HANGUL = 8,
};

/* One synonym rule, its phrases already analysed (terms joined by ' '). */
typedef struct analysis_syn {
    char **from; /* each a phrase (terms separated by one space) */
    size_t nfrom;
    char **to;
    size_t nto;
} analysis_syn;

typedef struct analysis_filter {
    analysis_tf_kind kind;
    bool flag;         /* asciifolding preserve_original; stop ignore_case; cjk_bigram output_unigrams; synonym expand */
    unsigned scripts;  /* cjk_bigram: scripts that form bigrams */
    char **words;      /* stop: sorted (lowercased when ignore_case) */
    size_t nwords;
    char algo[32];     /* stemmer: Snowball algorithm name */
    void *stemmer;     /* struct sb_stemmer *, created on first use */
    void *translit;    /* asciifolding: UTransliterator *, cloned on first use */
    analysis_syn *syn; /* synonym: rules as given (phrases not yet analysed) */
    size_t nsyn;
} analysis_filter;

/* Apply filter `f` to the tokens in `t` (in place: tokens may be replaced,
 * removed or added). False when out of memory or a library fails. */
bool analysis_filter_apply(analysis_filter *f, analysis_tokens *t);

/* Release what the filter holds (words, rules, stemmer); NULL is a no-op. */
void analysis_filter_release(analysis_filter *f);

/* The stop word list `_english_` etc. into f->words; false (with the reason
 * in err) for a list verstore does not have. */
bool analysis_filter_stopwords(analysis_filter *f, const cJSON *spec, bool ignore_case, char *err, size_t errsz);

/* The Snowball algorithm behind an Elasticsearch stemmer language, or NULL. */
const char *analysis_stem_algo(const char *language);

/* ---- analyzers and the per-index registry (store_analysis.c) ---- */

typedef struct analysis_analyzer analysis_analyzer;
typedef struct analysis_registry analysis_registry;

/* Build the analyzers of an index from its settings JSON (the index
 * settings as stored: "analysis" under "index" or at the top, or flat
 * "index.analysis.*" keys). NULL/empty settings: built-ins only. On a
 * setting Elasticsearch would refuse: NULL, and Elasticsearch's reason in
 * `err`. The caller owns the registry (analysis_registry_free). A registry
 * is used by one thread at a time (it holds ICU and Snowball state). */
analysis_registry *analysis_registry_new(const char *settings, size_t n, char *err, size_t errsz);
void analysis_registry_free(analysis_registry *r);

/* The analyzer called `name` (custom, or built-in: standard, simple,
 * whitespace, keyword, stop, english, cjk), or NULL when there is none.
 * Owned by the registry. */
analysis_analyzer *analysis_get(analysis_registry *r, const char *name);

/* The index's default analyzers: "default" (else standard) for indexing,
 * "default_search" (else the index one) for queries. */
analysis_analyzer *analysis_default(analysis_registry *r, bool search);

/* Analyze one value into `out` (appended), positions from `pos0`, offsets
 * plus `off0`. `*end16` (if not NULL) gets the value's length in UTF-16
 * units. False when out of memory. */
bool analysis_run(analysis_analyzer *a, const char *text, size_t len, int32_t pos0, int32_t off0,
                  analysis_tokens *out, int32_t *end16);

/* The analyzer's position_increment_gap between the values of one field. */
int analysis_pos_gap(const analysis_analyzer *a);

/* Whether settings JSON `set` (as PUT _settings sends it) touches
 * index.analysis (which is fixed at creation, as in Elasticsearch). When it
 * does, the first such key (flat, e.g. "index.analysis.analyzer.a.type") is
 * written into `key`. */
bool analysis_settings_touched(const cJSON *set, char *key, size_t keysz);

/* Answer a GET/POST _analyze request body `body` against registry `r`
 * (an index's, or NULL for the built-ins only; `field_analyzer` resolves
 * "field" to an analyzer name or NULL: it may be NULL when there is no
 * index). On success writes the response JSON to `out` and returns 200;
 * otherwise the HTTP status, with `etype` (static) and `reason` set. */
typedef const char *(*analysis_field_fn)(const char *field, void *arg);
int analysis_api(analysis_registry *r, const cJSON *body, analysis_field_fn field_analyzer, void *arg, buf *out,
                 const char **etype, buf *reason);

#endif
