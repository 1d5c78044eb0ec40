/* store_tokfilter — the token filters: lowercase/uppercase (ICU simple case mapping, as Java's Character does),
 * asciifolding (ICU's Latin-ASCII transform), stop, stemmers (Snowball's libstemmer), english possessive,
 * cjk_width, cjk_bigram, synonym and trim. */
#include "versync/store/store_analysis.h"
#include "versync/common/grow.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

/* Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (ES: _english_), sorted. */
static const char *const english_stop[] = {"a",    "an",   "and",   "are",   "as",    "at",   "be",   "but",  "by",
                                           "for",  "if",   "in",    "into",  "is",    "it",   "no",   "not",  "of",
                                           "on",   "or",   "such",  "that",  "the",   "their", "then", "there",
                                           "these", "they", "this", "to",    "was",   "will", "with"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replace token `t`'s term by s[0, n). */
static bool set_term(analysis_token *t, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return false;
    memcpy(p, s, n);
    p[n] = '\0';
    free(t->term);
    t->term = p;
    t->len = n;
    return true;
}

/* Map every code point of the term (simple case mappings: one code point
 * to one, as Java's Character.toLowerCase/toUpperCase). */
static bool map_case(analysis_token *t, bool upper)
{
    int32_t i = 0, o = 0, n = (int32_t)t->len;
    const uint8_t *s = (const uint8_t *)t->term;
    /* the ASCII prefix the mapping leaves as it is (all of most tokens) */
    while (i < n && s[i] < 0x80 && !(upper ? s[i] >= 'a' && s[i] <= 'z' : s[i] >= 'A' && s[i] <= 'Z'))
        i++;
    if (i == n)
        return true;
    size_t cap = t->len * 2 + 4;
    char stack[512];
    char *p = cap <= sizeof stack ? stack : malloc(cap);
    if (!p)
        return false;
    bool changed = false;
    memcpy(p, s, (size_t)i);
    o = i;
    while (i < n) {
        UChar32 c, m;
        if (s[i] < 0x80) { /* ASCII: Unicode's case mappings there are ASCII's */
            c = s[i++];
            m = upper ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c);
            changed |= m != c;
            p[o++] = (char)m;
            continue;
        }
        U8_NEXT(s, i, n, c);
        if (c < 0)
            c = 0xfffd;
        m = upper ? u_toupper(c) : u_tolower(c);
        changed |= m != c;
        UBool err = false;
        U8_APPEND((uint8_t *)p, o, (int32_t)cap, m, err);
        if (err)
            break;
    }
    bool ok = !changed || set_term(t, p, (size_t)o);
    if (p != stack)
        free(p);
    return ok;
}

/* ---- asciifolding ---- */

static UTransliterator *latin_ascii;
static pthread_once_t latin_once = PTHREAD_ONCE_INIT;

static void latin_open(void)
{
    static const UChar id[] = {'L', 'a', 't', 'i', 'n', '-', 'A', 'S', 'C', 'I', 'I', 0};
    UErrorCode ec = U_ZERO_ERROR;
    latin_ascii = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &ec);
    if (U_FAILURE(ec))
        latin_ascii = NULL;
}

/* The folded form of term s[0,n) into *out (heap, caller frees); NULL
 * *out when it folds to itself. */
static bool fold(analysis_filter *f, const char *s, size_t n, char **out, size_t *outn)
{
    *out = NULL;
    size_t k = 0;
    while (k < n && !((unsigned char)s[k] & 0x80))
        k++;
    if (k == n)
        return true;
    if (!f->translit) {
        pthread_once(&latin_once, latin_open);
        UErrorCode ec = U_ZERO_ERROR;
        if (!latin_ascii || !(f->translit = utrans_clone(latin_ascii, &ec)) || U_FAILURE(ec))
            return false;
    }
    int32_t cap = (int32_t)n * 4 + 16, len = 0, lim;
    UChar *u = malloc((size_t)cap * sizeof *u);
    char *o = NULL;
    UErrorCode ec = U_ZERO_ERROR;
    if (!u)
        return false;
    u_strFromUTF8WithSub(u, cap, &len, s, (int32_t)n, 0xfffd, NULL, &ec);
    lim = len;
    if (U_SUCCESS(ec))
        utrans_transUChars(f->translit, u, &len, cap, 0, &lim, &ec);
    if (U_SUCCESS(ec) && (o = malloc((size_t)len * 3 + 1))) {
        int32_t on = 0;
        u_strToUTF8WithSub(o, len * 3 + 1, &on, u, len, 0xfffd, NULL, &ec);
        if (U_SUCCESS(ec) && ((size_t)on != n || memcmp(o, s, n) != 0)) {
            *out = o;
            *outn = (size_t)on;
            o = NULL;
        }
    }
    free(u);
    free(o);
    return U_SUCCESS(ec);
}

/* ---- stop words ---- */

bool analysis_filter_stopwords(analysis_filter *f, const cJSON *spec, bool ignore_case, char *err, size_t errsz)
{
    const char *const *list = NULL;
    size_t n = 0;
    const cJSON *it;
    if (!spec || (cJSON_IsString(spec) && strcmp(spec->valuestring, "_english_") == 0)) {
        list = english_stop;
        n = sizeof english_stop / sizeof *english_stop;
    } else if (cJSON_IsString(spec) && strcmp(spec->valuestring, "_none_") == 0) {
        n = 0;
    } else if (cJSON_IsString(spec)) {
        snprintf(err, errsz, "stop word list [%s] is not available in verstore (it has _english_ and _none_); "
                             "give the words as an array", spec->valuestring);
        return false;
    } else if (cJSON_IsArray(spec)) {
        cJSON_ArrayForEach(it, spec)
        {
            if (!cJSON_IsString(it)) {
                snprintf(err, errsz, "stopwords must be a list of strings");
                return false;
            }
            n++;
        }
    } else {
        snprintf(err, errsz, "stopwords must be a string or a list of strings");
        return false;
    }
    f->words = calloc(n + 1, sizeof *f->words);
    if (!f->words)
        goto oom;
    size_t i = 0;
    if (list) {
        for (; i < n; i++)
            if (!(f->words[i] = strdup(list[i])))
                goto oom;
    } else if (n) {
        cJSON_ArrayForEach(it, spec)
        {
            if (!(f->words[i] = strdup(it->valuestring)))
                goto oom;
            f->nwords = ++i;
            if (ignore_case) {
                analysis_token t = {f->words[i - 1], strlen(f->words[i - 1]), 0, 0, 0, 0};
                if (!map_case(&t, false))
                    goto oom;
                f->words[i - 1] = t.term;
            }
        }
    }
    f->nwords = n;
    qsort(f->words, n, sizeof *f->words, cmp_str);
    return true;
oom:
    snprintf(err, errsz, "out of memory");
    return false;
}

static bool is_stop(const analysis_filter *f, const analysis_token *t)
{
    if (!f->nwords)
        return false;
    const char *key = t->term;
    analysis_token low = {NULL, 0, 0, 0, 0, 0};
    if (f->flag) {
        if (!(low.term = strdup(t->term)))
            return false;
        low.len = t->len;
        if (!map_case(&low, false)) {
            free(low.term);
            return false;
        }
        key = low.term;
    }
    bool hit = bsearch(&key, f->words, f->nwords, sizeof *f->words, cmp_str) != NULL;
    free(low.term);
    return hit;
}

/* ---- stemming ---- */

const char *analysis_stem_algo(const char *language)
{
    static const char *const snowball[] = {"arabic",   "armenian",  "basque",     "catalan", "danish",  "dutch",
                                           "finnish",  "french",    "german",     "greek",   "hindi",   "hungarian",
                                           "indonesian", "irish",   "italian",    "lithuanian", "nepali", "norwegian",
                                           "portuguese", "romanian", "russian",   "serbian", "spanish", "swedish",
                                           "tamil",    "turkish",   "yiddish"};
    if (!language)
        return NULL;
    /* Elasticsearch's "english" is Lucene's PorterStemFilter: Snowball's porter. */
    if (strcmp(language, "english") == 0 || strcmp(language, "porter") == 0)
        return "porter";
    if (strcmp(language, "porter2") == 0)
        return "english";
    if (strcmp(language, "german2") == 0)
        return "german";
    for (size_t i = 0; i < sizeof snowball / sizeof *snowball; i++)
        if (strcmp(language, snowball[i]) == 0)
            return snowball[i];
    return NULL;
}

static bool stem(analysis_filter *f, analysis_token *t)
{
    if (!f->stemmer && !(f->stemmer = sb_stemmer_new(f->algo, "UTF_8")))
        return false;
    const sb_symbol *r = sb_stemmer_stem(f->stemmer, (const sb_symbol *)t->term, (int)t->len);
    if (!r)
        return false;
    size_t n = (size_t)sb_stemmer_length(f->stemmer);
    if (n == t->len && memcmp(r, t->term, n) == 0)
        return true;
    return set_term(t, (const char *)r, n);
}

/* Lucene's EnglishPossessiveFilter: a trailing 's (any of three apostrophes). */
static void possessive(analysis_token *t)
{
    static const char *const apos[] = {"'", "\xe2\x80\x99", "\xef\xbc\x87"};
    if (t->len < 2 || (t->term[t->len - 1] != 's' && t->term[t->len - 1] != 'S'))
        return;
    for (size_t i = 0; i < 3; i++) {
        size_t al = strlen(apos[i]);
        if (t->len >= al + 1 && memcmp(t->term + t->len - 1 - al, apos[i], al) == 0) {
            t->len -= al + 1;
            t->term[t->len] = '\0';
            return;
        }
    }
}

/* ---- cjk_width ---- */

static bool width_char(UChar c)
{
    return (c >= 0xff01 && c <= 0xff5e) || (c >= 0xff65 && c <= 0xff9f);
}

/* Lucene's CJKWidthFilter: full-width ASCII to ASCII, half-width Katakana
 * to full width (voicing marks combined), done with ICU's NFKC on exactly
 * those characters. */
static bool cjk_width(analysis_token *t)
{
    if (!memchr(t->term, 0xef, t->len))
        return true;
    UErrorCode ec = U_ZERO_ERROR;
    const UNormalizer2 *nfkc = unorm2_getNFKCInstance(&ec);
    int32_t cap = (int32_t)t->len + 4, n = 0;
    UChar *u = malloc((size_t)cap * sizeof *u), *o = malloc((size_t)cap * sizeof *o);
    char *p = NULL;
    bool ok = false;
    if (!u || !o || U_FAILURE(ec))
        goto done;
    u_strFromUTF8WithSub(u, cap, &n, t->term, (int32_t)t->len, 0xfffd, NULL, &ec);
    int32_t on = 0;
    for (int32_t i = 0; i < n && U_SUCCESS(ec);) {
        int32_t j = i;
        while (j < n && width_char(u[j]))
            j++;
        if (j > i) {
            on += unorm2_normalize(nfkc, u + i, j - i, o + on, cap - on, &ec);
            i = j;
        } else
            o[on++] = u[i++];
    }
    if (U_FAILURE(ec) || !(p = malloc((size_t)on * 3 + 1)))
        goto done;
    int32_t pn = 0;
    u_strToUTF8WithSub(p, on * 3 + 1, &pn, o, on, 0xfffd, NULL, &ec);
    ok = U_SUCCESS(ec) && set_term(t, p, (size_t)pn);
done:
    free(u);
    free(o);
    free(p);
    return ok;
}

/* ---- cjk_bigram ---- */

static unsigned cjk_script(int type)
{
    switch (type) {
    case ANALYSIS_T_IDEOGRAPHIC: return ANALYSIS_CJK_HAN;
    case ANALYSIS_T_HIRAGANA: return ANALYSIS_CJK_HIRAGANA;
    case ANALYSIS_T_KATAKANA: return ANALYSIS_CJK_KATAKANA;
    case ANALYSIS_T_HANGUL: return ANALYSIS_CJK_HANGUL;
    default: return 0;
    }
}

typedef struct cjkch {
    const char *s; /* into the source token's term */
    size_t n;
    int32_t start, end;
} cjkch;

/* Flush a run of adjacent CJK characters as bigrams (a lone character as a
 * unigram), positions counted by *pos. */
static bool flush_run(cjkch *run, size_t n, bool unigrams, int32_t *pos, analysis_tokens *out)
{
    char tmp[16];
    for (size_t i = 0; i < n; i++) {
        if (unigrams || n == 1) {
            if (!analysis_tokens_push(out, run[i].s, run[i].n, run[i].start, run[i].end, (*pos)++,
                                      ANALYSIS_T_SINGLE))
                return false;
        }
        if (i + 1 < n) {
            memcpy(tmp, run[i].s, run[i].n);
            memcpy(tmp + run[i].n, run[i + 1].s, run[i + 1].n);
            int32_t p = unigrams ? *pos - 1 : (*pos)++;
            if (!analysis_tokens_push(out, tmp, run[i].n + run[i + 1].n, run[i].start, run[i + 1].end, p,
                                      ANALYSIS_T_DOUBLE))
                return false;
        }
    }
    return true;
}

static bool cjk_bigram(analysis_filter *f, analysis_tokens *t)
{
    analysis_tokens out = {0};
    cjkch *run = NULL;
    size_t nrun = 0, caprun = 0;
    int32_t pos = t->n ? t->v[0].pos : 0, last_end = -1, last_in = t->n ? t->v[0].pos : 0;
    bool ok = true;
    for (size_t i = 0; ok && i < t->n; i++) {
        analysis_token *k = &t->v[i];
        /* Positions: gaps before a token (stop words) carry over. */
        int32_t inc = k->pos - last_in;
        last_in = k->pos;
        bool cjk = (cjk_script(k->type) & f->scripts) != 0;
        if (nrun && (!cjk || k->start != last_end || inc != 1)) {
            ok = flush_run(run, nrun, f->flag, &pos, &out);
            nrun = 0;
        }
        if (i > 0 && inc > 1)
            pos += inc - 1;
        if (!cjk) {
            ok = ok && analysis_tokens_push(&out, k->term, k->len, k->start, k->end, pos++, k->type);
            continue;
        }
        /* Split the token into characters; offsets follow the characters
         * when the term still spans its offsets, else the whole token. */
        int32_t i8 = 0, n8 = (int32_t)k->len, off = k->start;
        bool exact = true;
        {
            int32_t units = 0, j = 0;
            while (j < n8) {
                UChar32 c;
                U8_NEXT((const uint8_t *)k->term, j, n8, c);
                units += c > 0xffff ? 2 : 1;
            }
            exact = units == k->end - k->start;
        }
        while (ok && i8 < n8) {
            int32_t a = i8;
            UChar32 c;
            U8_NEXT((const uint8_t *)k->term, i8, n8, c);
            if (!GROW_ARRAY(run, caprun, nrun + 1, 16)) {
                ok = false;
                break;
            }
            int32_t w = c > 0xffff ? 2 : 1;
            run[nrun++] = (cjkch){k->term + a, (size_t)(i8 - a), exact ? off : k->start, exact ? off + w : k->end};
            off += w;
        }
        last_end = k->end;
    }
    if (ok && nrun)
        ok = flush_run(run, nrun, f->flag, &pos, &out);
    free(run);
    if (!ok) {
        analysis_tokens_free(&out);
        return false;
    }
    analysis_tokens_free(t);
    *t = out;
    return true;
}

/* ---- synonyms ---- */

/* Whether phrase `ph` (terms separated by one space) matches the tokens
 * from `i`; *k gets the number of tokens it covers. */
static bool phrase_at(const char *ph, const analysis_tokens *t, size_t i, size_t *k)
{
    size_t n = 0;
    const char *p = ph;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t l = sp ? (size_t)(sp - p) : strlen(p);
        if (i + n >= t->n || t->v[i + n].len != l || memcmp(t->v[i + n].term, p, l) != 0)
            return false;
        n++;
        p += l + (sp != NULL);
    }
    *k = n;
    return n > 0;
}

static bool push_phrase(analysis_tokens *out, const char *ph, int32_t pos, int32_t start, int32_t end)
{
    for (const char *p = ph; *p;) {
        const char *sp = strchr(p, ' ');
        size_t l = sp ? (size_t)(sp - p) : strlen(p);
        if (!analysis_tokens_push(out, p, l, start, end, pos++, ANALYSIS_T_SYNONYM))
            return false;
        p += l + (sp != NULL);
    }
    return true;
}

/* Lucene's SynonymFilter: the longest rule matching at each token; the
 * matched tokens stay when the rule maps them to themselves, the other
 * phrases are stacked on their positions. */
static bool synonym(analysis_filter *f, analysis_tokens *t)
{
    analysis_tokens out = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < t->n;) {
        const analysis_syn *best = NULL;
        size_t bestk = 0, bestfrom = 0;
        for (size_t r = 0; r < f->nsyn; r++)
            for (size_t a = 0; a < f->syn[r].nfrom; a++) {
                size_t k;
                if (phrase_at(f->syn[r].from[a], t, i, &k) && k > bestk)
                    best = &f->syn[r], bestk = k, bestfrom = a;
            }
        if (!best) {
            analysis_token *k = &t->v[i++];
            ok = analysis_tokens_push(&out, k->term, k->len, k->start, k->end, k->pos, k->type);
            continue;
        }
        const char *matched = best->from[bestfrom];
        bool keep = false;
        for (size_t o = 0; o < best->nto; o++)
            keep |= strcmp(best->to[o], matched) == 0;
        int32_t pos = t->v[i].pos, start = t->v[i].start, end = t->v[i + bestk - 1].end;
        if (keep)
            for (size_t q = 0; ok && q < bestk; q++) {
                analysis_token *k = &t->v[i + q];
                ok = analysis_tokens_push(&out, k->term, k->len, k->start, k->end, k->pos, k->type);
            }
        for (size_t o = 0; ok && o < best->nto; o++)
            if (strcmp(best->to[o], matched) != 0)
                ok = push_phrase(&out, best->to[o], pos, start, end);
        i += bestk;
    }
    if (!ok) {
        analysis_tokens_free(&out);
        return false;
    }
    analysis_tokens_free(t);
    *t = out;
    return true;
}

/* ---- the filter ---- */

static void drop(analysis_tokens *t, size_t i)
{
    free(t->v[i].term);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
    t->n--;
}

bool analysis_filter_apply(analysis_filter *f, analysis_tokens *t)
{
    switch (f->kind) {
    case ANALYSIS_TF_CJK_BIGRAM: return cjk_bigram(f, t);
    case ANALYSIS_TF_SYNONYM: return f->nsyn ? synonym(f, t) : true;
    case ANALYSIS_TF_STOP: {
        size_t w = 0;
        for (size_t i = 0; i < t->n; i++) {
            if (is_stop(f, &t->v[i])) {
                free(t->v[i].term);
                continue;
            }
            t->v[w++] = t->v[i];
        }
        t->n = w;
        return true;
    }
    case ANALYSIS_TF_ASCIIFOLDING:
        for (size_t i = 0; i < t->n; i++) {
            char *fo;
            size_t fn;
            if (!fold(f, t->v[i].term, t->v[i].len, &fo, &fn))
                return false;
            if (!fo)
                continue;
            if (f->flag) {
                /* preserve_original: the folded token, then the original on its position */
                analysis_token orig = t->v[i];
                if (!analysis_tokens_push(t, "", 0, 0, 0, 0, 0)) {
                    free(fo);
                    return false;
                }
                free(t->v[t->n - 1].term);
                memmove(&t->v[i + 2], &t->v[i + 1], (t->n - i - 2) * sizeof *t->v);
                t->v[i + 1] = orig;
                t->v[i].term = fo;
                t->v[i].len = fn;
                i++;
            } else {
                free(t->v[i].term);
                t->v[i].term = fo;
                t->v[i].len = fn;
            }
        }
        return true;
    default: break;
    }
    for (size_t i = 0; i < t->n; i++) {
        analysis_token *k = &t->v[i];
        bool ok = true;
        switch (f->kind) {
        case ANALYSIS_TF_LOWERCASE: ok = map_case(k, false); break;
        case ANALYSIS_TF_UPPERCASE: ok = map_case(k, true); break;
        case ANALYSIS_TF_STEMMER: ok = stem(f, k); break;
        case ANALYSIS_TF_POSSESSIVE: possessive(k); break;
        case ANALYSIS_TF_CJK_WIDTH: ok = cjk_width(k); break;
        case ANALYSIS_TF_TRIM: {
            size_t a = 0, b = k->len;
            while (a < b && (k->term[a] == ' ' || k->term[a] == '\t' || k->term[a] == '\n' || k->term[a] == '\r'))
                a++;
            while (b > a &&
                   (k->term[b - 1] == ' ' || k->term[b - 1] == '\t' || k->term[b - 1] == '\n' || k->term[b - 1] == '\r'))
                b--;
            if (a || b != k->len)
                ok = set_term(k, k->term + a, b - a);
            break;
        }
        default: break;
        }
        if (!ok)
            return false;
        /* Lucene drops nothing here, but an empty term (a stemmed "'s") is no token. */
        if (k->len == 0 && f->kind == ANALYSIS_TF_POSSESSIVE) {
            drop(t, i);
            i--;
        }
    }
    return true;
}

void analysis_filter_release(analysis_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nwords; i++)
        free(f->words[i]);
    free(f->words);
    if (f->stemmer)
        sb_stemmer_delete(f->stemmer);
    if (f->translit)
        utrans_close(f->translit);
    for (size_t r = 0; r < f->nsyn; r++) {
        for (size_t i = 0; i < f->syn[r].nfrom; i++)
            free(f->syn[r].from[i]);
        for (size_t i = 0; i < f->syn[r].nto; i++)
            free(f->syn[r].to[i]);
        free(f->syn[r].from);
        free(f->syn[r].to);
    }
    free(f->syn);
    memset(f, 0, sizeof *f);
}
