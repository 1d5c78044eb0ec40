/* store_tokenize — the tokenizers: standard (UAX #29 word boundaries from ICU, by hand on ASCII text, typed and
 * split as Lucene's StandardTokenizer does), whitespace, keyword, letter, lowercase, ngram and edge_ngram. */
#include "versync/store/store_analysis.h"
#include "versync/common/grow.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

const char *analysis_type_name(int type)
{
    switch (type) {
    case ANALYSIS_T_ALPHANUM: return "<ALPHANUM>";
    case ANALYSIS_T_NUM: return "<NUM>";
    case ANALYSIS_T_SOUTHEAST_ASIAN: return "<SOUTHEAST_ASIAN>";
    case ANALYSIS_T_IDEOGRAPHIC: return "<IDEOGRAPHIC>";
    case ANALYSIS_T_HIRAGANA: return "<HIRAGANA>";
    case ANALYSIS_T_KATAKANA: return "<KATAKANA>";
    case ANALYSIS_T_HANGUL: return "<HANGUL>";
    case ANALYSIS_T_EMOJI: return "<EMOJI>";
    case ANALYSIS_T_SINGLE: return "<SINGLE>";
    case ANALYSIS_T_DOUBLE: return "<DOUBLE>";
    case ANALYSIS_T_SYNONYM: return "SYNONYM";
    default: return "word";
    }
}

bool analysis_tokens_push(analysis_tokens *t, const char *term, size_t len, int32_t start, int32_t end, int32_t pos,
                          int type)
{
    if (!GROW_ARRAY(t->v, t->cap, t->n + 1, 16))
        return false;
    char *s = malloc(len + 1);
    if (!s)
        return false;
    memcpy(s, term, len);
    s[len] = '\0';
    t->v[t->n++] = (analysis_token){s, len, start, end, pos, type};
    return true;
}

void analysis_tokens_free(analysis_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].term);
    free(t->v);
    memset(t, 0, sizeof *t);
}

void analysis_tokenizer_release(analysis_tokenizer *tk)
{
    if (!tk)
        return;
    if (tk->brk)
        ubrk_close(tk->brk);
    tk->brk = NULL;
}

/* Emit s[a, b) as one token. */
static bool emit(analysis_tokens *out, const UChar *s, int32_t a, int32_t b, int32_t *pos, int32_t off0, int type)
{
    char stack[768];
    int32_t need = (b - a) * 3 + 1;
    char *p = need <= (int32_t)sizeof stack ? stack : malloc((size_t)need);
    if (!p)
        return false;
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n = 0;
    u_strToUTF8WithSub(p, need, &n, s + a, b - a, 0xfffd, NULL, &ec);
    bool ok = U_SUCCESS(ec) && analysis_tokens_push(out, p, (size_t)n, off0 + a, off0 + b, (*pos)++, type);
    if (p != stack)
        free(p);
    return ok;
}

/* Emit s[a, b) cut into pieces of at most `max` UTF-16 units (never inside
 * a surrogate pair), as Lucene splits a token over max_token_length. */
static bool emit_split(analysis_tokens *out, const UChar *s, int32_t a, int32_t b, int max, int32_t *pos,
                       int32_t off0, int type)
{
    while (b - a > max) {
        int32_t cut = a + max;
        if (U16_IS_LEAD(s[cut - 1]) && cut - 1 > a)
            cut--;
        if (!emit(out, s, a, cut, pos, off0, type))
            return false;
        a = cut;
    }
    return a == b || emit(out, s, a, b, pos, off0, type);
}

static bool southeast_asian(UScriptCode sc)
{
    return sc == USCRIPT_THAI || sc == USCRIPT_LAO || sc == USCRIPT_MYANMAR || sc == USCRIPT_KHMER;
}

/* A segment ICU calls a word (a number or a letter word): typed by its
 * characters, not by ICU's status, which is the status of the last rule
 * that joined it ("a11" ends with WB8, Numeric × Numeric, and gets the
 * number status). Lucene's grammar lists its NUMERIC rule first, so a
 * segment of digits, connectors and number punctuation only is <NUM>, and
 * one holding anything else (a letter) is a word of its script. */
static int word_type(const UChar *s, int32_t a, int32_t b)
{
    UErrorCode ec = U_ZERO_ERROR;
    bool numeric = true;
    for (int32_t i = a; i < b && numeric;) {
        UChar32 c;
        U16_NEXT(s, i, b, c);
        int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        numeric = wb == U_WB_NUMERIC || wb == U_WB_EXTENDNUMLET || wb == U_WB_MIDNUM || wb == U_WB_MIDNUMLET ||
                  wb == U_WB_SINGLE_QUOTE || wb == U_WB_EXTEND || wb == U_WB_FORMAT || wb == U_WB_ZWJ;
    }
    if (numeric)
        return ANALYSIS_T_NUM;
    for (int32_t i = a; i < b;) {
        UChar32 c;
        U16_NEXT(s, i, b, c);
        UScriptCode sc = uscript_getScript(c, &ec);
        if (sc == USCRIPT_HANGUL)
            return ANALYSIS_T_HANGUL;
        if (southeast_asian(sc))
            return ANALYSIS_T_SOUTHEAST_ASIAN;
    }
    return ANALYSIS_T_ALPHANUM;
}

/* Class of one character inside an ideographic or kana segment: Han and
 * Hiragana characters are one token each, Katakana and Hangul runs one. */
static int cjk_class(UChar32 c)
{
    UErrorCode ec = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &ec);
    if (u_getIntPropertyValue(c, UCHAR_WORD_BREAK) == U_WB_KATAKANA)
        return ANALYSIS_T_KATAKANA;
    if (sc == USCRIPT_HIRAGANA)
        return ANALYSIS_T_HIRAGANA;
    if (sc == USCRIPT_HAN || u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC))
        return ANALYSIS_T_IDEOGRAPHIC;
    if (sc == USCRIPT_HANGUL)
        return ANALYSIS_T_HANGUL;
    return ANALYSIS_T_ALPHANUM;
}

/* ICU's dictionary joins Chinese and Japanese characters into words;
 * Lucene's grammar does not: split such a segment back. */
static bool emit_cjk(analysis_tokens *out, const UChar *s, int32_t a, int32_t b, int max, int32_t *pos, int32_t off0)
{
    /* Katakana joined to letters or digits by the rules (WB13a/b), not by
     * the dictionary, stays one word. */
    bool han = false, other = false;
    for (int32_t j = a; j < b;) {
        UChar32 c;
        U16_NEXT(s, j, b, c);
        int cls = cjk_class(c), wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        han |= cls == ANALYSIS_T_IDEOGRAPHIC || cls == ANALYSIS_T_HIRAGANA || cls == ANALYSIS_T_HANGUL;
        other |= cls == ANALYSIS_T_ALPHANUM && wb != U_WB_EXTENDNUMLET && wb != U_WB_EXTEND && wb != U_WB_FORMAT &&
                 wb != U_WB_ZWJ;
    }
    if (!han && other)
        return emit_split(out, s, a, b, max, pos, off0, ANALYSIS_T_ALPHANUM);
    int32_t i = a;
    while (i < b) {
        int32_t st = i;
        UChar32 c;
        U16_NEXT(s, i, b, c);
        int cls = cjk_class(c);
        /* A leading connector (_) joins the Katakana run after it. */
        for (int32_t j = i; u_getIntPropertyValue(c, UCHAR_WORD_BREAK) == U_WB_EXTENDNUMLET && j < b;) {
            UChar32 d;
            U16_NEXT(s, j, b, d);
            int wb = u_getIntPropertyValue(d, UCHAR_WORD_BREAK);
            if (wb != U_WB_EXTENDNUMLET && wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ) {
                if (cjk_class(d) == ANALYSIS_T_KATAKANA)
                    cls = ANALYSIS_T_KATAKANA;
                break;
            }
        }
        /* Extend marks belong to the character before them. */
        if (cls == ANALYSIS_T_IDEOGRAPHIC || cls == ANALYSIS_T_HIRAGANA) {
            while (i < b) {
                int32_t j = i;
                UChar32 d;
                U16_NEXT(s, j, b, d);
                int wb = u_getIntPropertyValue(d, UCHAR_WORD_BREAK);
                if (wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ)
                    break;
                i = j;
            }
        } else {
            while (i < b) {
                int32_t j = i;
                UChar32 d;
                U16_NEXT(s, j, b, d);
                int wb = u_getIntPropertyValue(d, UCHAR_WORD_BREAK);
                if (cjk_class(d) != cls && wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ &&
                    wb != U_WB_EXTENDNUMLET)
                    break;
                i = j;
            }
        }
        if (!emit_split(out, s, st, i, max, pos, off0, cls))
            return false;
    }
    return true;
}

/* A segment ICU gives no word status: an emoji sequence is a token, as in
 * Lucene's grammar; anything else (spaces, punctuation) is not. */
static bool is_emoji(const UChar *s, int32_t a, int32_t b)
{
    for (int32_t i = a; i < b;) {
        UChar32 c;
        U16_NEXT(s, i, b, c);
        if (u_hasBinaryProperty(c, UCHAR_EMOJI_PRESENTATION) || u_hasBinaryProperty(c, UCHAR_REGIONAL_INDICATOR))
            return true;
        if (u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) && i < b && s[i] == 0xfe0f)
            return true;
    }
    return false;
}

/* Whether a segment holds more than connectors and marks: ICU gives "__"
 * a word status, Lucene's grammar no token. */
static bool has_word_char(const UChar *s, int32_t a, int32_t b)
{
    for (int32_t i = a; i < b;) {
        UChar32 c;
        U16_NEXT(s, i, b, c);
        int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        if (wb != U_WB_EXTENDNUMLET && wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ)
            return true;
    }
    return false;
}

/* The word-break class of s[a, b) when it is one character plus marks. */
static int mid_kind(const UChar *s, int32_t a, int32_t b)
{
    UChar32 c;
    int32_t i = a;
    U16_NEXT(s, i, b, c);
    while (i < b) {
        UChar32 d;
        U16_NEXT(s, i, b, d);
        int wb = u_getIntPropertyValue(d, UCHAR_WORD_BREAK);
        if (wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ)
            return 0;
    }
    return u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
}

/* The word-break class of the first (or last) character of s[a, b) that
 * is no mark. */
static int edge_wb(const UChar *s, int32_t a, int32_t b, bool first)
{
    int32_t i = first ? a : b;
    while (first ? i < b : i > a) {
        UChar32 c;
        if (first)
            U16_NEXT(s, i, b, c);
        else
            U16_PREV(s, a, i, c);
        int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        if (wb != U_WB_EXTEND && wb != U_WB_FORMAT && wb != U_WB_ZWJ)
            return wb;
    }
    return 0;
}

static bool has_letter(const UChar *s, int32_t a, int32_t b)
{
    for (int32_t i = a; i < b;) {
        UChar32 c;
        U16_NEXT(s, i, b, c);
        int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
        if (wb == U_WB_ALETTER || wb == U_WB_HEBREW_LETTER || wb == U_WB_NUMERIC || wb == U_WB_KATAKANA)
            return true;
    }
    return false;
}

/* The standard tokenizer through ICU's word break iterator, on s (which it
 * may change: see '@' below). */
static bool standard(analysis_tokenizer *tk, UChar *s, int32_t n, int32_t *pos, int32_t off0,
                     analysis_tokens *out)
{
    UErrorCode ec = U_ZERO_ERROR;
    /* ICU's root rules (since ICU 72) count '@' as a letter, to keep e-mail
     * addresses whole; UAX #29 and Lucene do not ("a@b" is "a" and "b"). A
     * '!' in its place has its word-break class, Other, and no token holds
     * either. */
    for (int32_t i = 0; i < n; i++)
        if (s[i] == '@')
            s[i] = '!';
    if (!tk->brk) {
        tk->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &ec);
        if (U_FAILURE(ec))
            return (tk->brk = NULL), false;
    }
    UBreakIterator *bi = tk->brk;
    ubrk_setText(bi, s, n, &ec);
    if (U_FAILURE(ec))
        return false;
    int max = tk->max_len > 0 ? tk->max_len : ANALYSIS_MAX_TOKEN;
    int32_t a = ubrk_first(bi);
    for (int32_t b = ubrk_next(bi); b != UBRK_DONE; a = b, b = ubrk_next(bi)) {
        int32_t st = ubrk_getRuleStatus(bi);
        bool ok = true;
        /* ICU's root rules leave the colon out of MidLetter (and ';' out of
         * MidNum); UAX #29 and Lucene keep "a:b" one word: join it back. */
        while (st >= UBRK_WORD_NUMBER && st < UBRK_WORD_LETTER_LIMIT) {
            int32_t m = ubrk_next(bi), c2 = m == UBRK_DONE ? UBRK_DONE : ubrk_next(bi);
            int32_t st2 = c2 == UBRK_DONE ? 0 : ubrk_getRuleStatus(bi);
            int wb = c2 == UBRK_DONE ? 0 : mid_kind(s, b, m);
            int left = edge_wb(s, a, b, false), right = c2 == UBRK_DONE ? 0 : edge_wb(s, m, c2, true);
            bool letters = (left == U_WB_ALETTER || left == U_WB_HEBREW_LETTER) &&
                           (right == U_WB_ALETTER || right == U_WB_HEBREW_LETTER);
            bool nums = left == U_WB_NUMERIC && right == U_WB_NUMERIC;
            if (st2 >= UBRK_WORD_NUMBER && st2 < UBRK_WORD_LETTER_LIMIT &&
                ((wb == U_WB_MIDLETTER && letters) || (wb == U_WB_MIDNUM && nums))) {
                b = c2;
                st = st2 > st ? st2 : st;
                continue;
            }
            ubrk_isBoundary(bi, b);
            break;
        }
        if (st < UBRK_WORD_NONE_LIMIT || !has_word_char(s, a, b)) {
            if (is_emoji(s, a, b))
                ok = emit_split(out, s, a, b, max, pos, off0, ANALYSIS_T_EMOJI);
            else if (has_letter(s, a, b)) /* "a" + ZWJ + pictograph: ICU gives no word status */
                ok = emit_split(out, s, a, b, max, pos, off0, ANALYSIS_T_ALPHANUM);
        } else if (st < UBRK_WORD_LETTER_LIMIT) {
            ok = emit_split(out, s, a, b, max, pos, off0, word_type(s, a, b));
        } else {
            ok = emit_cjk(out, s, a, b, max, pos, off0);
        }
        if (!ok)
            return false;
    }
    return true;
}

static bool in_class(UChar32 c, analysis_tk_kind kind, unsigned tc)
{
    switch (kind) {
    case ANALYSIS_TK_WHITESPACE: return !u_isWhitespace(c);
    case ANALYSIS_TK_LETTER:
    case ANALYSIS_TK_LOWERCASE: return u_isalpha(c);
    default: break;
    }
    if (!tc)
        return true;
    int8_t gc = u_charType(c);
    if ((tc & ANALYSIS_TC_LETTER) && u_isalpha(c))
        return true;
    if ((tc & ANALYSIS_TC_DIGIT) && gc == U_DECIMAL_DIGIT_NUMBER)
        return true;
    if ((tc & ANALYSIS_TC_WHITESPACE) && u_isWhitespace(c))
        return true;
    if ((tc & ANALYSIS_TC_PUNCTUATION) &&
        (gc == U_CONNECTOR_PUNCTUATION || gc == U_DASH_PUNCTUATION || gc == U_START_PUNCTUATION ||
         gc == U_END_PUNCTUATION || gc == U_INITIAL_PUNCTUATION || gc == U_FINAL_PUNCTUATION ||
         gc == U_OTHER_PUNCTUATION))
        return true;
    if ((tc & ANALYSIS_TC_SYMBOL) &&
        (gc == U_MATH_SYMBOL || gc == U_CURRENCY_SYMBOL || gc == U_MODIFIER_SYMBOL || gc == U_OTHER_SYMBOL))
        return true;
    return false;
}

/* Lucene's CharTokenizer: runs of characters in the class, cut at max. */
static bool char_tokens(analysis_tokenizer *tk, const UChar *s, int32_t n, int32_t *pos, int32_t off0,
                        analysis_tokens *out)
{
    int max = tk->max_len > 0 ? tk->max_len : ANALYSIS_MAX_TOKEN;
    int32_t i = 0;
    while (i < n) {
        int32_t st = i;
        UChar32 c;
        U16_NEXT(s, i, n, c);
        if (!in_class(c, tk->kind, 0))
            continue;
        int32_t e = i;
        while (e < n && e - st < max) {
            int32_t j = e;
            U16_NEXT(s, j, n, c);
            if (!in_class(c, tk->kind, 0) || j - st > max)
                break;
            e = j;
        }
        if (!emit(out, s, st, e, pos, off0, ANALYSIS_T_WORD))
            return false;
        if (tk->kind == ANALYSIS_TK_LOWERCASE) {
            analysis_filter lc = {.kind = ANALYSIS_TF_LOWERCASE};
            analysis_tokens one = {&out->v[out->n - 1], 1, 1};
            if (!analysis_filter_apply(&lc, &one))
                return false;
        }
        i = e;
    }
    return true;
}

/* Lucene's NGramTokenizer and EdgeNGramTokenizer over runs of token_chars
 * (the whole text when none are given); sizes count code points. */
static bool ngrams(analysis_tokenizer *tk, const UChar *s, int32_t n, int32_t *pos, int32_t off0,
                   analysis_tokens *out)
{
    bool edge = tk->kind == ANALYSIS_TK_EDGE_NGRAM;
    int32_t i = 0;
    while (i < n) {
        int32_t st = i;
        UChar32 c;
        U16_NEXT(s, i, n, c);
        if (!in_class(c, tk->kind, tk->token_chars))
            continue;
        int32_t e = i;
        while (e < n) {
            int32_t j = e;
            U16_NEXT(s, j, n, c);
            if (!in_class(c, tk->kind, tk->token_chars))
                break;
            e = j;
        }
        for (int32_t a = st; a < e;) {
            int32_t b = a;
            for (int k = 1; k <= tk->max_gram && b < e; k++) {
                U16_FWD_1(s, b, e);
                if (k >= tk->min_gram && !emit(out, s, a, b, pos, off0, ANALYSIS_T_WORD))
                    return false;
            }
            if (edge)
                break;
            U16_FWD_1(s, a, e);
        }
        i = e;
    }
    return true;
}

/* ---- the standard tokenizer on ASCII text --------------------------------- */

/* The word-break classes (UAX #29) ASCII characters have. */
enum { AWB_OTHER, AWB_LETTER, AWB_NUMERIC, AWB_EXTENDNUMLET, AWB_MIDLETTER, AWB_MIDNUM, AWB_MIDNUMLETQ };

static int ascii_wb(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return AWB_LETTER;
    if (c >= '0' && c <= '9')
        return AWB_NUMERIC;
    switch (c) {
    case '_': return AWB_EXTENDNUMLET;
    case ':': return AWB_MIDLETTER;
    case ',':
    case ';': return AWB_MIDNUM;
    case '.':
    case '\'': return AWB_MIDNUMLETQ; /* MidNumLet and Single_Quote */
    default: return AWB_OTHER;
    }
}

/* Emit text[a, b) (ASCII: a UTF-16 unit per byte) cut into pieces of at
 * most `max`, as emit_split does. */
static bool emit_ascii(analysis_tokens *out, const char *text, int32_t a, int32_t b, int max, int32_t *pos,
                       int32_t off0, int type)
{
    for (int32_t e; a < b; a = e) {
        e = b - a > max ? a + max : b;
        if (!analysis_tokens_push(out, text + a, (size_t)(e - a), off0 + a, off0 + e, (*pos)++, type))
            return false;
    }
    return true;
}

/* The standard tokenizer on text that is all ASCII, without ICU: the text
 * need not be converted to UTF-16, nor walked by a break iterator, and
 * ASCII has none of the classes that make the rules hard (Extend, Format,
 * ZWJ, Katakana, Hebrew letters, regional indicators, pictographs). What
 * is left of UAX #29 is WB5 to WB13b: letters, digits and connectors (_)
 * join one another; a letter and a letter join across one MidLetter (:)
 * or MidNumLetQ (. '), a digit and a digit across one MidNum (, ;) or
 * MidNumLetQ. Every other character breaks, and a segment without a letter
 * or digit ("__") is no token. Tokens and types are those of standard()
 * (the unit tests compare the two on random ASCII). */
static bool standard_ascii(analysis_tokenizer *tk, const char *text, int32_t n, int32_t *pos, int32_t off0,
                           analysis_tokens *out)
{
    int max = tk->max_len > 0 ? tk->max_len : ANALYSIS_MAX_TOKEN;
    for (int32_t i = 0; i < n;) {
        int prev = ascii_wb((unsigned char)text[i]);
        if (prev != AWB_LETTER && prev != AWB_NUMERIC && prev != AWB_EXTENDNUMLET) {
            i++;
            continue;
        }
        int32_t a = i++;
        bool letter = prev == AWB_LETTER, word = prev != AWB_EXTENDNUMLET;
        while (i < n) {
            int c = ascii_wb((unsigned char)text[i]);
            if (c == AWB_LETTER || c == AWB_NUMERIC || c == AWB_EXTENDNUMLET) {
                i++;
            } else {
                int next = i + 1 < n ? ascii_wb((unsigned char)text[i + 1]) : AWB_OTHER;
                bool letters = prev == AWB_LETTER && next == AWB_LETTER &&
                               (c == AWB_MIDLETTER || c == AWB_MIDNUMLETQ);
                bool digits = prev == AWB_NUMERIC && next == AWB_NUMERIC && (c == AWB_MIDNUM || c == AWB_MIDNUMLETQ);
                if (!letters && !digits)
                    break;
                c = next;
                i += 2;
            }
            letter |= c == AWB_LETTER;
            word |= c != AWB_EXTENDNUMLET;
            prev = c;
        }
        if (word && !emit_ascii(out, text, a, i, max, pos, off0, letter ? ANALYSIS_T_ALPHANUM : ANALYSIS_T_NUM))
            return false;
    }
    return true;
}

static bool all_ascii(const char *text, size_t len)
{
    unsigned char any = 0;
    for (size_t i = 0; i < len; i++)
        any |= (unsigned char)text[i];
    return any < 0x80;
}

bool analysis_tokenize(analysis_tokenizer *tk, const char *text, size_t len, int32_t pos0, int32_t off0,
                       analysis_tokens *out, int32_t *end16)
{
    if (len > INT32_MAX / 2)
        return false;
    if (tk->kind == ANALYSIS_TK_STANDARD && all_ascii(text, len)) {
        int32_t pos = pos0;
        if (end16)
            *end16 = (int32_t)len;
        return standard_ascii(tk, text, (int32_t)len, &pos, off0, out);
    }
    UChar stack[512];
    UChar *s = stack;
    int32_t n = 0;
    UErrorCode ec = U_ZERO_ERROR;
    u_strFromUTF8WithSub(s, (int32_t)(sizeof stack / sizeof *stack), &n, text, (int32_t)len, 0xfffd, NULL, &ec);
    if (ec == U_BUFFER_OVERFLOW_ERROR || ec == U_STRING_NOT_TERMINATED_WARNING) {
        if (!(s = malloc(((size_t)n + 1) * sizeof *s)))
            return false;
        ec = U_ZERO_ERROR;
        u_strFromUTF8WithSub(s, n + 1, &n, text, (int32_t)len, 0xfffd, NULL, &ec);
    }
    bool ok = U_SUCCESS(ec);
    int32_t pos = pos0;
    if (ok) {
        switch (tk->kind) {
        case ANALYSIS_TK_STANDARD: ok = standard(tk, s, n, &pos, off0, out); break;
        case ANALYSIS_TK_KEYWORD: ok = n == 0 || emit(out, s, 0, n, &pos, off0, ANALYSIS_T_WORD); break;
        case ANALYSIS_TK_NGRAM:
        case ANALYSIS_TK_EDGE_NGRAM: ok = ngrams(tk, s, n, &pos, off0, out); break;
        default: ok = char_tokens(tk, s, n, &pos, off0, out); break;
        }
    }
    if (end16)
        *end16 = n;
    if (s != stack)
        free(s);
    return ok;
}
