/* store_analysis — analyzers (built-in and from settings.analysis), the per-index registry, and _analyze. */
#include "versync/store/store_analysis.h"
#include "versync/common/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct analysis_analyzer {
    char *name;
    analysis_tokenizer tk;
    analysis_filter *f;
    size_t nf;
    int gap; /* position_increment_gap */
};

struct analysis_registry {
    cJSON *an; /* the analysis settings, nested form; owned; may be NULL */
    analysis_analyzer **v;
    size_t n, cap;
    int max_ngram_diff;
};

/* _analyze answers at most this many tokens (index.analyze.max_token_count). */
#define MAX_ANALYZE_TOKENS 10000

static void analyzer_free(analysis_analyzer *a)
{
    if (!a)
        return;
    free(a->name);
    analysis_tokenizer_release(&a->tk);
    for (size_t i = 0; i < a->nf; i++)
        analysis_filter_release(&a->f[i]);
    free(a->f);
    free(a);
}

void analysis_registry_free(analysis_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        analyzer_free(r->v[i]);
    free(r->v);
    cJSON_Delete(r->an);
    free(r);
}

/* ---- settings helpers ---- */

static const cJSON *section(const analysis_registry *r, const char *kind, const char *name)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r->an, kind);
    return cJSON_GetObjectItemCaseSensitive(s, name);
}

/* An integer parameter (a number or a numeric string); false when it is
 * neither. */
static bool int_param(const cJSON *spec, const char *key, int def, int *out, char *err, size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    *out = def;
    if (!v)
        return true;
    char *end = NULL;
    long l = cJSON_IsNumber(v) ? (long)v->valuedouble : cJSON_IsString(v) ? strtol(v->valuestring, &end, 10) : -1;
    if ((end && (*end || end == v->valuestring)) || (!cJSON_IsNumber(v) && !cJSON_IsString(v)) || l < 0 ||
        l > 1000000) {
        snprintf(err, errsz, "Failed to parse value for setting [%s]", key);
        return false;
    }
    *out = (int)l;
    return true;
}

static bool bool_param(const cJSON *spec, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "true") == 0;
    return def;
}

static const char *str_param(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- tokenizers ---- */

static bool tokenizer_type(const char *type, analysis_tokenizer *tk)
{
    static const struct {
        const char *name;
        analysis_tk_kind kind;
    } types[] = {{"standard", ANALYSIS_TK_STANDARD}, {"whitespace", ANALYSIS_TK_WHITESPACE},
                 {"keyword", ANALYSIS_TK_KEYWORD},   {"letter", ANALYSIS_TK_LETTER},
                 {"lowercase", ANALYSIS_TK_LOWERCASE}, {"ngram", ANALYSIS_TK_NGRAM},
                 {"nGram", ANALYSIS_TK_NGRAM},       {"edge_ngram", ANALYSIS_TK_EDGE_NGRAM},
                 {"edgeNGram", ANALYSIS_TK_EDGE_NGRAM}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i].name, type) == 0) {
            memset(tk, 0, sizeof *tk);
            tk->kind = types[i].kind;
            tk->max_len = ANALYSIS_MAX_TOKEN;
            tk->min_gram = 1;
            tk->max_gram = 2;
            return true;
        }
    return false;
}

/* Parameters of a tokenizer definition `spec` called `name`. */
static bool tokenizer_params(const analysis_registry *r, const cJSON *spec, const char *name, analysis_tokenizer *tk,
                             char *err, size_t errsz)
{
    if (!int_param(spec, "max_token_length", ANALYSIS_MAX_TOKEN, &tk->max_len, err, errsz))
        return false;
    if (tk->max_len < 1 || tk->max_len > 1024 * 1024) {
        snprintf(err, errsz, "maxTokenLength must be greater than 0 and less than 1048576 passed: %d", tk->max_len);
        return false;
    }
    if (tk->kind != ANALYSIS_TK_NGRAM && tk->kind != ANALYSIS_TK_EDGE_NGRAM)
        return true;
    if (!int_param(spec, "min_gram", 1, &tk->min_gram, err, errsz) ||
        !int_param(spec, "max_gram", 2, &tk->max_gram, err, errsz))
        return false;
    if (tk->min_gram < 1 || tk->max_gram < tk->min_gram) {
        snprintf(err, errsz, "minGram must not be greater than maxGram (tokenizer [%s])", name);
        return false;
    }
    int diff = r ? r->max_ngram_diff : 1;
    if (tk->kind == ANALYSIS_TK_NGRAM && tk->max_gram - tk->min_gram > diff) {
        snprintf(err, errsz,
                 "The difference between max_gram and min_gram in NGram Tokenizer must be less than or equal to: "
                 "[%d] but was [%d]. This limit can be set by changing the [index.max_ngram_diff] index level setting.",
                 diff, tk->max_gram - tk->min_gram);
        return false;
    }
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(spec, "token_chars"), *it;
    cJSON_ArrayForEach(it, tc)
    {
        static const char *const cls[] = {"letter", "digit", "whitespace", "punctuation", "symbol"};
        bool found = false;
        for (size_t i = 0; cJSON_IsString(it) && i < 5; i++)
            if (strcmp(it->valuestring, cls[i]) == 0)
                tk->token_chars |= 1u << i, found = true;
        if (!found) {
            snprintf(err, errsz, "Unknown token type: '%s', must be one of [symbol, whitespace, letter, digit, "
                                 "punctuation] (verstore has no [custom] token_chars)",
                     cJSON_IsString(it) ? it->valuestring : "?");
            return false;
        }
    }
    return true;
}

/* The tokenizer `item` (a name, or an inline definition) of analyzer `an`. */
static bool tokenizer_from(const analysis_registry *r, const cJSON *item, const char *an, bool global,
                           analysis_tokenizer *tk, char *err, size_t errsz)
{
    if (cJSON_IsObject(item)) {
        const char *type = str_param(item, "type");
        if (!type || !tokenizer_type(type, tk)) {
            snprintf(err, errsz, "Unknown tokenizer type [%s] for [%s]", type ? type : "null", "_anonymous_tokenizer");
            return false;
        }
        return tokenizer_params(r, item, "_anonymous_tokenizer", tk, err, errsz);
    }
    const char *name = cJSON_IsString(item) ? item->valuestring : "null";
    const cJSON *def = r ? section(r, "tokenizer", name) : NULL;
    if (def) {
        const char *type = str_param(def, "type");
        if (!type || !tokenizer_type(type, tk)) {
            snprintf(err, errsz, "Unknown tokenizer type [%s] for [%s]", type ? type : "null", name);
            return false;
        }
        return tokenizer_params(r, def, name, tk, err, errsz);
    }
    if (tokenizer_type(name, tk))
        return true;
    if (an)
        snprintf(err, errsz, "Custom Analyzer [%s] failed to find tokenizer under name [%s]", an, name);
    else
        snprintf(err, errsz, "failed to find %stokenizer under [%s]", global ? "global " : "", name);
    return false;
}

/* ---- filters ---- */

static bool run_chain(analysis_analyzer *a, size_t nf, const char *text, size_t len, analysis_tokens *out);

/* Split "a, b c, d" at commas into trimmed phrases, each analysed by the
 * first `nf` filters of `a` (terms joined by one space). */
static bool syn_phrases(analysis_analyzer *a, size_t nf, const char *s, size_t n, char ***out, size_t *nout,
                        bool lenient, char *err, size_t errsz)
{
    *out = NULL;
    *nout = 0;
    size_t cap = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        analysis_tokens t = {0};
        if (!run_chain(a, nf, s + i, j - i, &t)) {
            analysis_tokens_free(&t);
            snprintf(err, errsz, "out of memory");
            return false;
        }
        if (t.n == 0) {
            bool blank = true;
            for (size_t k = i; k < j; k++)
                blank &= s[k] == ' ' || s[k] == '\t';
            if (!blank && !lenient) {
                snprintf(err, errsz, "failed to build synonyms: term: %.*s was completely eliminated by analyzer",
                         (int)(j - i), s + i);
                return false;
            }
        } else {
            buf b = BUF_INIT;
            for (size_t k = 0; k < t.n; k++) {
                if (k)
                    buf_putc(&b, ' ');
                buf_append(&b, t.v[k].term, t.v[k].len);
            }
            if (!GROW_ARRAY(*out, cap, *nout + 1, 4)) {
                buf_free(&b);
                analysis_tokens_free(&t);
                snprintf(err, errsz, "out of memory");
                return false;
            }
            (*out)[(*nout)++] = b.data ? b.data : strdup("");
        }
        analysis_tokens_free(&t);
        i = j + 1;
    }
    return true;
}

/* Solr-format rules: "a, b => c" (explicit) or "a, b, c" (equivalent). */
static bool syn_rules(analysis_analyzer *a, analysis_filter *f, const cJSON *spec, char *err, size_t errsz)
{
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(spec, "synonyms"), *it;
    if (cJSON_GetObjectItemCaseSensitive(spec, "synonyms_path") || cJSON_GetObjectItemCaseSensitive(spec, "synonyms_set")) {
        snprintf(err, errsz, "verstore reads synonyms from the [synonyms] list only (no synonyms_path or synonyms_set)");
        return false;
    }
    if (!cJSON_IsArray(rules)) {
        snprintf(err, errsz, "synonym requires either `synonyms` or `synonyms_path` to be configured");
        return false;
    }
    bool expand = bool_param(spec, "expand", true), lenient = bool_param(spec, "lenient", false);
    size_t nr = (size_t)cJSON_GetArraySize(rules), nf = (size_t)(f - a->f);
    if (!(f->syn = calloc(nr ? nr : 1, sizeof *f->syn))) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    cJSON_ArrayForEach(it, rules)
    {
        if (!cJSON_IsString(it)) {
            snprintf(err, errsz, "synonyms must be a list of strings");
            return false;
        }
        const char *s = it->valuestring, *arrow = strstr(s, "=>");
        analysis_syn *r = &f->syn[f->nsyn];
        bool ok;
        if (arrow)
            ok = syn_phrases(a, nf, s, (size_t)(arrow - s), &r->from, &r->nfrom, lenient, err, errsz) &&
                 syn_phrases(a, nf, arrow + 2, strlen(arrow + 2), &r->to, &r->nto, lenient, err, errsz);
        else {
            ok = syn_phrases(a, nf, s, strlen(s), &r->from, &r->nfrom, lenient, err, errsz);
            /* equivalent: every phrase maps to all of them (expand) or to the first */
            size_t nto = expand ? r->nfrom : (r->nfrom ? 1 : 0);
            if (ok && nto && (r->to = calloc(nto, sizeof *r->to))) {
                for (size_t k = 0; k < nto; k++)
                    if ((r->to[k] = strdup(r->from[k])))
                        r->nto++;
            }
        }
        f->nsyn++;
        if (!ok)
            return false;
    }
    return true;
}

static const char *const cjk_stop[] = {"a",    "and", "are",   "as",    "at",   "be",    "but",  "by",   "for",
                                       "if",   "in",  "into",  "is",    "it",   "no",    "not",  "of",   "on",
                                       "or",   "s",   "such",  "t",     "that", "the",   "their", "then", "there",
                                       "these", "they", "this", "to",   "was",  "will",  "with", "www"};

/* Filter of type `type` with parameters `spec` (may be NULL), as filter
 * number a->nf of analyzer `a`. */
static bool filter_build(analysis_analyzer *a, const char *type, const cJSON *spec, const char *name, char *err,
                         size_t errsz)
{
    analysis_filter *f = &a->f[a->nf];
    memset(f, 0, sizeof *f);
    bool ok = true;
    if (strcmp(type, "lowercase") == 0 || strcmp(type, "uppercase") == 0) {
        f->kind = type[0] == 'l' ? ANALYSIS_TF_LOWERCASE : ANALYSIS_TF_UPPERCASE;
        if (str_param(spec, "language")) {
            snprintf(err, errsz, "verstore has no language-specific %s (filter [%s], language [%s])", type, name,
                     str_param(spec, "language"));
            ok = false;
        }
    } else if (strcmp(type, "asciifolding") == 0) {
        f->kind = ANALYSIS_TF_ASCIIFOLDING;
        f->flag = bool_param(spec, "preserve_original", false);
    } else if (strcmp(type, "stop") == 0) {
        f->kind = ANALYSIS_TF_STOP;
        f->flag = bool_param(spec, "ignore_case", false);
        if (cJSON_GetObjectItemCaseSensitive(spec, "stopwords_path")) {
            snprintf(err, errsz, "verstore reads stop words from [stopwords] only (filter [%s])", name);
            ok = false;
        } else
            ok = analysis_filter_stopwords(f, cJSON_GetObjectItemCaseSensitive(spec, "stopwords"), f->flag, err, errsz);
    } else if (strcmp(type, "stemmer") == 0 || strcmp(type, "porter_stem") == 0 || strcmp(type, "snowball") == 0) {
        f->kind = ANALYSIS_TF_STEMMER;
        const char *lang = type[0] == 'p' ? "porter" : str_param(spec, type[1] == 'n' ? "language" : "language");
        if (!lang && type[1] == 't')
            lang = str_param(spec, "name");
        if (!lang)
            lang = type[1] == 'n' ? "English" : "english";
        char low[32];
        size_t i = 0;
        for (; lang[i] && i + 1 < sizeof low; i++)
            low[i] = (char)(lang[i] >= 'A' && lang[i] <= 'Z' ? lang[i] + 32 : lang[i]);
        low[i] = '\0';
        const char *algo = type[1] == 'n' && strcmp(low, "english") == 0 ? "english" : analysis_stem_algo(low);
        if (strcmp(low, "possessive_english") == 0)
            f->kind = ANALYSIS_TF_POSSESSIVE;
        else if (!algo) {
            snprintf(err, errsz, "verstore has no stemmer for language [%s] (filter [%s]); it has Snowball's "
                                 "algorithms and english/porter", lang, name);
            ok = false;
        } else
            snprintf(f->algo, sizeof f->algo, "%s", algo);
    } else if (strcmp(type, "cjk_width") == 0) {
        f->kind = ANALYSIS_TF_CJK_WIDTH;
    } else if (strcmp(type, "trim") == 0) {
        f->kind = ANALYSIS_TF_TRIM;
    } else if (strcmp(type, "cjk_bigram") == 0) {
        f->kind = ANALYSIS_TF_CJK_BIGRAM;
        f->flag = bool_param(spec, "output_unigrams", false);
        f->scripts = ANALYSIS_CJK_HAN | ANALYSIS_CJK_HIRAGANA | ANALYSIS_CJK_KATAKANA | ANALYSIS_CJK_HANGUL;
        const cJSON *ign = cJSON_GetObjectItemCaseSensitive(spec, "ignored_scripts"), *it;
        cJSON_ArrayForEach(it, ign)
        {
            const char *s = cJSON_IsString(it) ? it->valuestring : "";
            unsigned bit = strcmp(s, "han") == 0        ? ANALYSIS_CJK_HAN
                           : strcmp(s, "hiragana") == 0 ? ANALYSIS_CJK_HIRAGANA
                           : strcmp(s, "katakana") == 0 ? ANALYSIS_CJK_KATAKANA
                           : strcmp(s, "hangul") == 0   ? ANALYSIS_CJK_HANGUL
                                                        : 0;
            f->scripts &= ~bit;
        }
    } else if (strcmp(type, "synonym") == 0 || strcmp(type, "synonym_graph") == 0) {
        f->kind = ANALYSIS_TF_SYNONYM;
        ok = syn_rules(a, f, spec, err, errsz);
    } else if (strcmp(type, "english_possessive") == 0) { /* internal: the english analyzer's */
        f->kind = ANALYSIS_TF_POSSESSIVE;
    } else {
        snprintf(err, errsz, "Unknown filter type [%s] for [%s]", type, name);
        ok = false;
    }
    a->nf++; /* released with the analyzer, also when it failed half-way */
    return ok;
}

static bool builtin_filter(const char *name)
{
    static const char *const names[] = {"lowercase", "uppercase", "asciifolding", "stop", "stemmer", "porter_stem",
                                        "snowball",  "cjk_width", "cjk_bigram",   "trim"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The filter `item` (a name or an inline definition) appended to `a`. */
static bool filter_from(const analysis_registry *r, analysis_analyzer *a, const cJSON *item, const char *an,
                        bool global, char *err, size_t errsz)
{
    if (cJSON_IsObject(item)) {
        const char *type = str_param(item, "type");
        return filter_build(a, type ? type : "null", item, "_anonymous_tokenfilter", err, errsz);
    }
    const char *name = cJSON_IsString(item) ? item->valuestring : "null";
    const cJSON *def = r ? section(r, "filter", name) : NULL;
    if (def) {
        const char *type = str_param(def, "type");
        return filter_build(a, type ? type : "null", def, name, err, errsz);
    }
    if (builtin_filter(name))
        return filter_build(a, name, NULL, name, err, errsz);
    if (an)
        snprintf(err, errsz, "Custom Analyzer [%s] failed to find filter under name [%s]", an, name);
    else
        snprintf(err, errsz, "failed to find %sfilter under [%s]", global ? "global " : "", name);
    return false;
}

/* ---- analyzers ---- */

static analysis_analyzer *analyzer_new(const char *name, size_t nfilters)
{
    analysis_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->name = strdup(name);
    a->f = calloc(nfilters ? nfilters : 1, sizeof *a->f);
    a->gap = 100;
    if (!a->name || !a->f) {
        analyzer_free(a);
        return NULL;
    }
    return a;
}

/* A built-in analyzer type (standard, simple, ...) with parameters `spec`. */
static analysis_analyzer *builtin_analyzer(const char *type, const char *name, const cJSON *spec, bool *known,
                                           char *err, size_t errsz)
{
    *known = true;
    analysis_analyzer *a = analyzer_new(name, 6);
    if (!a) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(spec, "stopwords");
    cJSON *defsw = NULL;
    bool ok = true;
    if (strcmp(type, "standard") == 0) {
        tokenizer_type("standard", &a->tk);
        ok = tokenizer_params(NULL, spec, name, &a->tk, err, errsz) && filter_build(a, "lowercase", NULL, name, err, errsz);
        if (ok && sw) {
            cJSON *s = cJSON_CreateObject();
            ok = s && cJSON_AddItemReferenceToObject(s, "stopwords", (cJSON *)sw) &&
                 filter_build(a, "stop", s, name, err, errsz);
            cJSON_Delete(s);
        }
    } else if (strcmp(type, "simple") == 0) {
        tokenizer_type("lowercase", &a->tk);
    } else if (strcmp(type, "whitespace") == 0) {
        tokenizer_type("whitespace", &a->tk);
        ok = tokenizer_params(NULL, spec, name, &a->tk, err, errsz);
    } else if (strcmp(type, "keyword") == 0) {
        tokenizer_type("keyword", &a->tk);
    } else if (strcmp(type, "stop") == 0 || strcmp(type, "english") == 0 || strcmp(type, "cjk") == 0) {
        cJSON *s = cJSON_CreateObject();
        if (!sw && type[0] == 'c') {
            defsw = cJSON_CreateStringArray(cjk_stop, (int)(sizeof cjk_stop / sizeof *cjk_stop));
            sw = defsw;
        }
        ok = s && (!sw || cJSON_AddItemReferenceToObject(s, "stopwords", (cJSON *)sw));
        if (type[0] == 's') {
            tokenizer_type("lowercase", &a->tk);
            ok = ok && filter_build(a, "stop", s, name, err, errsz);
        } else if (type[0] == 'e') {
            tokenizer_type("standard", &a->tk);
            ok = ok && filter_build(a, "english_possessive", NULL, name, err, errsz) &&
                 filter_build(a, "lowercase", NULL, name, err, errsz) && filter_build(a, "stop", s, name, err, errsz) &&
                 filter_build(a, "porter_stem", NULL, name, err, errsz);
        } else {
            tokenizer_type("standard", &a->tk);
            ok = ok && filter_build(a, "cjk_width", NULL, name, err, errsz) &&
                 filter_build(a, "lowercase", NULL, name, err, errsz) &&
                 filter_build(a, "cjk_bigram", NULL, name, err, errsz) && filter_build(a, "stop", s, name, err, errsz);
        }
        cJSON_Delete(s);
        cJSON_Delete(defsw);
    } else {
        *known = false;
        ok = false;
    }
    if (!ok) {
        analyzer_free(a);
        return NULL;
    }
    return a;
}

/* A "custom" analyzer from its settings. */
static analysis_analyzer *custom_analyzer(const analysis_registry *r, const char *name, const cJSON *spec, char *err,
                                          size_t errsz)
{
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(spec, "tokenizer");
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(spec, "filter");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(spec, "char_filter");
    if (!tok) {
        snprintf(err, errsz, "analyzer [%s] must specify either an analyzer type, or a tokenizer", name);
        return NULL;
    }
    if (cJSON_GetArraySize(cf) > 0 || cJSON_IsString(cf)) {
        snprintf(err, errsz, "verstore has no char filters (analyzer [%s])", name);
        return NULL;
    }
    size_t nf = cJSON_IsArray(filters) ? (size_t)cJSON_GetArraySize(filters) : filters ? 1 : 0;
    analysis_analyzer *a = analyzer_new(name, nf);
    if (!a) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    bool ok = tokenizer_from(r, tok, name, false, &a->tk, err, errsz) &&
              int_param(spec, "position_increment_gap", 100, &a->gap, err, errsz);
    if (ok && cJSON_IsArray(filters)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, filters) if (ok) ok = filter_from(r, a, it, name, false, err, errsz);
    } else if (ok && filters)
        ok = filter_from(r, a, filters, name, false, err, errsz);
    if (!ok) {
        analyzer_free(a);
        return NULL;
    }
    return a;
}

/* Build analyzer `name` from the settings or the built-ins; NULL with
 * err[0] == 0 when there is none. */
static analysis_analyzer *analyzer_build(const analysis_registry *r, const char *name, char *err, size_t errsz)
{
    err[0] = '\0';
    const cJSON *spec = section(r, "analyzer", name);
    bool known = false;
    analysis_analyzer *a;
    if (spec) {
        const char *type = str_param(spec, "type");
        if (!type || strcmp(type, "custom") == 0)
            return custom_analyzer(r, name, spec, err, errsz);
        a = builtin_analyzer(type, name, spec, &known, err, errsz);
        if (!known)
            snprintf(err, errsz, "Unknown analyzer type [%s] for [%s]", type, name);
        return a;
    }
    a = builtin_analyzer(name, name, NULL, &known, err, errsz);
    return a;
}

static bool reg_add(analysis_registry *r, analysis_analyzer *a)
{
    if (!GROW_ARRAY(r->v, r->cap, r->n + 1, 8))
        return false;
    r->v[r->n++] = a;
    return true;
}

/* Put flat key `k` ("analysis.filter.f.type") with value `v` into `root`. */
static bool put_flat(cJSON *root, const char *k, const cJSON *v)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", k);
    cJSON *o = root;
    char *seg = tmp, *dot;
    while ((dot = strchr(seg, '.'))) {
        *dot = '\0';
        cJSON *next = cJSON_GetObjectItemCaseSensitive(o, seg);
        if (!next && !(next = cJSON_AddObjectToObject(o, seg)))
            return false;
        if (!cJSON_IsObject(next))
            return true;
        o = next;
        seg = dot + 1;
    }
    cJSON *dup = cJSON_Duplicate(v, true);
    if (!dup)
        return false;
    cJSON_DeleteItemFromObjectCaseSensitive(o, seg);
    cJSON_AddItemToObject(o, seg, dup);
    return true;
}

/* The analysis section of settings JSON in nested form (caller owns). */
static cJSON *analysis_section(const cJSON *s, int *max_ngram_diff)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(s, "index");
    const cJSON *srcs[] = {cJSON_GetObjectItemCaseSensitive(s, "analysis"), cJSON_GetObjectItemCaseSensitive(idx, "analysis")};
    for (size_t i = 0; i < 2; i++)
        if (cJSON_IsObject(srcs[i])) {
            cJSON *dup = cJSON_Duplicate(srcs[i], true);
            if (!dup) {
                cJSON_Delete(root);
                return NULL;
            }
            cJSON_AddItemToObject(root, "analysis", dup);
            break;
        }
    for (const cJSON *it = s ? s->child : NULL; it; it = it->next) {
        const char *k = it->string;
        if (strncmp(k, "index.", 6) == 0)
            k += 6;
        if (strncmp(k, "analysis.", 9) == 0 && !put_flat(root, k, it)) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "index.max_ngram_diff");
    if (!d)
        d = cJSON_GetObjectItemCaseSensitive(idx, "max_ngram_diff");
    if (!d)
        d = cJSON_GetObjectItemCaseSensitive(s, "max_ngram_diff");
    if (cJSON_IsNumber(d))
        *max_ngram_diff = (int)d->valuedouble;
    else if (cJSON_IsString(d))
        *max_ngram_diff = atoi(d->valuestring);
    cJSON *an = cJSON_DetachItemFromObjectCaseSensitive(root, "analysis");
    cJSON_Delete(root);
    return an;
}

analysis_registry *analysis_registry_new(const char *settings, size_t n, char *err, size_t errsz)
{
    analysis_registry *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    r->max_ngram_diff = 1;
    if (!settings || !n)
        return r;
    cJSON *s = cJSON_ParseWithLength(settings, n);
    r->an = analysis_section(s, &r->max_ngram_diff);
    cJSON_Delete(s);
    if (!r->an)
        return r;
    if (!cJSON_IsObject(r->an)) {
        snprintf(err, errsz, "index.analysis must be an object");
        goto fail;
    }
    /* Every definition is checked now, as Elasticsearch checks them when the
     * index is created: a broken one is never found at search time. */
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->an, "tokenizer"))
    {
        analysis_tokenizer tk;
        const cJSON *name = cJSON_CreateString(it->string);
        bool ok = tokenizer_from(r, name, NULL, false, &tk, err, errsz);
        cJSON_Delete((cJSON *)name);
        if (!ok)
            goto fail;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->an, "filter"))
    {
        const char *type = str_param(it, "type");
        if (type && (strcmp(type, "synonym") == 0 || strcmp(type, "synonym_graph") == 0))
            continue; /* its rules are analysed with each analyzer that uses it */
        analysis_analyzer *a = analyzer_new("_check", 1);
        if (!a)
            goto fail;
        bool ok = filter_build(a, type ? type : "null", it, it->string, err, errsz);
        analyzer_free(a);
        if (!ok)
            goto fail;
    }
    if (cJSON_GetObjectItemCaseSensitive(r->an, "char_filter") &&
        cJSON_GetObjectItemCaseSensitive(r->an, "char_filter")->child) {
        snprintf(err, errsz, "verstore has no char filters (index.analysis.char_filter)");
        goto fail;
    }
    if (cJSON_GetObjectItemCaseSensitive(r->an, "normalizer") &&
        cJSON_GetObjectItemCaseSensitive(r->an, "normalizer")->child) {
        snprintf(err, errsz, "verstore has no normalizers (index.analysis.normalizer)");
        goto fail;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->an, "analyzer"))
    {
        analysis_analyzer *a = analyzer_build(r, it->string, err, errsz);
        if (!a || !reg_add(r, a)) {
            if (a)
                snprintf(err, errsz, "out of memory");
            analyzer_free(a);
            goto fail;
        }
    }
    return r;
fail:
    analysis_registry_free(r);
    return NULL;
}

analysis_analyzer *analysis_get(analysis_registry *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->name, name) == 0)
            return r->v[i];
    char err[256];
    analysis_analyzer *a = analyzer_build(r, name, err, sizeof err);
    if (a && !reg_add(r, a)) {
        analyzer_free(a);
        return NULL;
    }
    return a;
}

analysis_analyzer *analysis_default(analysis_registry *r, bool search)
{
    analysis_analyzer *a = NULL;
    if (search && section(r, "analyzer", "default_search"))
        a = analysis_get(r, "default_search");
    if (!a && section(r, "analyzer", "default"))
        a = analysis_get(r, "default");
    return a ? a : analysis_get(r, "standard");
}

int analysis_pos_gap(const analysis_analyzer *a)
{
    return a ? a->gap : 100;
}

static bool run_chain(analysis_analyzer *a, size_t nf, const char *text, size_t len, analysis_tokens *out)
{
    analysis_tokens t = {0};
    if (!analysis_tokenize(&a->tk, text, len, 0, 0, &t, NULL))
        goto fail;
    for (size_t i = 0; i < nf; i++)
        if (!analysis_filter_apply(&a->f[i], &t))
            goto fail;
    analysis_tokens_free(out);
    *out = t;
    return true;
fail:
    analysis_tokens_free(&t);
    return false;
}

bool analysis_run(analysis_analyzer *a, const char *text, size_t len, int32_t pos0, int32_t off0,
                  analysis_tokens *out, int32_t *end16)
{
    analysis_tokens t = {0};
    bool ok = analysis_tokenize(&a->tk, text, len, pos0, off0, &t, end16);
    for (size_t i = 0; ok && i < a->nf; i++)
        ok = analysis_filter_apply(&a->f[i], &t);
    for (size_t i = 0; ok && i < t.n; i++) {
        ok = analysis_tokens_push(out, t.v[i].term, t.v[i].len, t.v[i].start, t.v[i].end, t.v[i].pos, t.v[i].type);
    }
    analysis_tokens_free(&t);
    return ok;
}

bool analysis_settings_touched(const cJSON *set, char *key, size_t keysz)
{
    for (const cJSON *it = set ? set->child : NULL; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "index") == 0 && cJSON_IsObject(it)) {
            char sub[256];
            if (analysis_settings_touched(it, sub, sizeof sub)) {
                snprintf(key, keysz, "index.%s", strncmp(sub, "index.", 6) == 0 ? sub + 6 : sub);
                return true;
            }
            continue;
        }
        const char *bare = strncmp(k, "index.", 6) == 0 ? k + 6 : k;
        if (strcmp(bare, "analysis") == 0 || strncmp(bare, "analysis.", 9) == 0) {
            /* the first leaf, named the way Elasticsearch names it */
            buf b = BUF_INIT;
            buf_printf(&b, "index.%s", bare);
            const cJSON *leaf = it;
            while (cJSON_IsObject(leaf) && leaf->child) {
                leaf = leaf->child;
                buf_printf(&b, ".%s", leaf->string);
            }
            snprintf(key, keysz, "%s", b.data ? b.data : "index.analysis");
            buf_free(&b);
            return true;
        }
    }
    return false;
}

/* ---- _analyze ---- */

static int bad(const char **etype, buf *reason, const char *msg)
{
    *etype = "illegal_argument_exception";
    buf_puts(reason, msg);
    return 400;
}

int analysis_api(analysis_registry *r, const cJSON *body, analysis_field_fn field_analyzer, void *arg, buf *out,
                 const char **etype, buf *reason)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(body, "analyzer");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(body, "tokenizer");
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(body, "filter");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(body, "char_filter");
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(body, "field");
    char err[512];
    for (const cJSON *it = body ? body->child : NULL; it; it = it->next) {
        static const char *const keys[] = {"text", "analyzer", "tokenizer", "filter", "token_filter", "char_filter",
                                           "field", "explain", "attributes", "normalizer", NULL};
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], it->string) != 0)
            i++;
        if (!keys[i]) {
            *etype = "x_content_parse_exception";
            buf_printf(reason, "[1:2] [analyze_request] unknown field [%s]", it->string);
            return 400;
        }
    }
    if (!filters)
        filters = cJSON_GetObjectItemCaseSensitive(body, "token_filter");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "explain")))
        return bad(etype, reason, "verstore does not answer _analyze with explain: true");
    if (cJSON_GetObjectItemCaseSensitive(body, "normalizer"))
        return bad(etype, reason, "verstore has no normalizers");
    if (cJSON_GetArraySize(cf) > 0)
        return bad(etype, reason, "verstore has no char filters");
    if (!text || (!cJSON_IsString(text) && !cJSON_IsArray(text))) {
        *etype = "action_request_validation_exception";
        buf_puts(reason, "Validation Failed: 1: text is missing;");
        return 400;
    }
    if (an && !cJSON_IsString(an))
        return bad(etype, reason, "[analyzer] must be a string");
    if (an && (tok || filters))
        return bad(etype, reason, "cannot define extra components on a named analyzer");
    analysis_analyzer *a = NULL, *own = NULL;
    analysis_registry *global = NULL;
    int status = 200;
    analysis_registry *reg = r;
    if (!reg && !(reg = global = analysis_registry_new(NULL, 0, err, sizeof err)))
        return bad(etype, reason, "out of memory");
    if (an) {
        a = r ? analysis_get(r, an->valuestring) : analysis_get(global, an->valuestring);
        if (!a) {
            snprintf(err, sizeof err, "failed to find %sanalyzer [%s]", r ? "" : "global ", an->valuestring);
            status = bad(etype, reason, err);
            goto done;
        }
    } else if (tok || filters) {
        size_t nf = cJSON_IsArray(filters) ? (size_t)cJSON_GetArraySize(filters) : 0;
        if (filters && !cJSON_IsArray(filters)) {
            status = bad(etype, reason, "[filter] must be a list");
            goto done;
        }
        if (!(own = analyzer_new("_anonymous", nf))) {
            status = bad(etype, reason, "out of memory");
            goto done;
        }
        own->gap = 0;
        cJSON *kw = tok ? NULL : cJSON_CreateString("keyword");
        bool ok = tokenizer_from(r, tok ? tok : kw, NULL, r == NULL, &own->tk, err, sizeof err);
        cJSON_Delete(kw);
        const cJSON *it;
        cJSON_ArrayForEach(it, filters) if (ok) ok = filter_from(r, own, it, NULL, r == NULL, err, sizeof err);
        if (!ok) {
            status = bad(etype, reason, err);
            goto done;
        }
        a = own;
    } else if (field && cJSON_IsString(field) && field_analyzer) {
        const char *name = field_analyzer(field->valuestring, arg);
        a = name ? analysis_get(reg, name) : NULL;
        if (!a)
            a = analysis_default(reg, false);
    } else {
        a = analysis_default(reg, false);
    }
    if (!a) {
        status = bad(etype, reason, "out of memory");
        goto done;
    }
    analysis_tokens t = {0};
    int32_t pos = 0, off = 0;
    bool ok = true;
    const cJSON *one = cJSON_IsArray(text) ? text->child : text;
    for (; ok && one; one = cJSON_IsArray(text) ? one->next : NULL) {
        if (!cJSON_IsString(one))
            continue;
        size_t before = t.n;
        int32_t end16 = 0;
        ok = analysis_run(a, one->valuestring, strlen(one->valuestring), pos, off, &t, &end16);
        int32_t last = pos - 1;
        for (size_t i = before; i < t.n; i++)
            if (t.v[i].pos > last)
                last = t.v[i].pos;
        pos = last + 1 + a->gap;
        off += end16 + 1;
        if (t.n > MAX_ANALYZE_TOKENS)
            break;
    }
    if (!ok) {
        analysis_tokens_free(&t);
        status = bad(etype, reason, "out of memory while analysing the text");
        goto done;
    }
    if (t.n > MAX_ANALYZE_TOKENS) {
        analysis_tokens_free(&t);
        snprintf(err, sizeof err,
                 "The number of tokens produced by calling _analyze has exceeded the allowed maximum of [%d]. This "
                 "limit can be set by changing the [index.analyze.max_token_count] index level setting.",
                 MAX_ANALYZE_TOKENS);
        status = bad(etype, reason, err);
        goto done;
    }
    cJSON *res = cJSON_CreateObject(), *arr = res ? cJSON_AddArrayToObject(res, "tokens") : NULL;
    ok = arr != NULL;
    for (size_t i = 0; ok && i < t.n; i++) {
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o) && cJSON_AddStringToObject(o, "token", t.v[i].term) &&
             cJSON_AddNumberToObject(o, "start_offset", t.v[i].start) &&
             cJSON_AddNumberToObject(o, "end_offset", t.v[i].end) &&
             cJSON_AddStringToObject(o, "type", analysis_type_name(t.v[i].type)) &&
             cJSON_AddNumberToObject(o, "position", t.v[i].pos);
    }
    char *s = ok ? cJSON_PrintUnformatted(res) : NULL;
    cJSON_Delete(res);
    analysis_tokens_free(&t);
    if (!s || !buf_puts(out, s))
        status = bad(etype, reason, "out of memory");
    free(s);
done:
    analyzer_free(own);
    analysis_registry_free(global);
    return status;
}
