/* Unit tests for store_analysis: the standard tokenizer against Unicode's WordBreakTest.txt, and _analyze answers against the tokens Elasticsearch's documentation shows for the same requests. */
#include "versync/store/store_analysis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <cmocka.h>

/* Run _analyze with `body` against registry `r` (NULL: no index); the
 * answer's tokens as "a|b|c" into out. Returns the HTTP status. */
static int run(analysis_registry *r, const char *body, char *out, size_t outsz, char *json, size_t jsonsz)
{
    cJSON *b = cJSON_Parse(body);
    assert_non_null(b);
    buf res = BUF_INIT, reason = BUF_INIT;
    const char *etype = NULL;
    int st = analysis_api(r, b, NULL, NULL, &res, &etype, &reason);
    out[0] = '\0';
    if (st == 200) {
        cJSON *j = cJSON_Parse(res.data);
        const cJSON *t;
        size_t l = 0;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tokens"))
        {
            l += (size_t)snprintf(out + l, outsz - l, "%s%s", l ? "|" : "",
                                  cJSON_GetObjectItem(t, "token")->valuestring);
        }
        cJSON_Delete(j);
        if (json)
            snprintf(json, jsonsz, "%s", res.data);
    } else {
        snprintf(out, outsz, "%s: %s", etype, reason.data ? reason.data : "");
    }
    buf_free(&res);
    buf_free(&reason);
    cJSON_Delete(b);
    return st;
}

static void expect(analysis_registry *r, const char *body, const char *tokens)
{
    char out[4096];
    int st = run(r, body, out, sizeof out, NULL, 0);
    if (st != 200 || strcmp(out, tokens) != 0)
        fail_msg("%s\n  got      %s\n  expected %s", body, out, tokens);
}

static void expect_json(analysis_registry *r, const char *body, const char *json)
{
    char out[4096], got[8192];
    assert_int_equal(run(r, body, out, sizeof out, got, sizeof got), 200);
    if (strcmp(got, json) != 0)
        fail_msg("%s\n  got      %s\n  expected %s", body, got, json);
}

static void expect_error(analysis_registry *r, const char *body, const char *msg)
{
    char out[4096];
    int st = run(r, body, out, sizeof out, NULL, 0);
    assert_int_equal(st, 400);
    if (!strstr(out, msg))
        fail_msg("%s\n  got      %s\n  expected %s", body, out, msg);
}

#define FOX "The 2 QUICK Brown-Foxes jumped over the lazy dog's bone."

/* The built-in analyzers, on the sentence their documentation pages use. */
static void test_builtin_analyzers(void **state)
{
    (void)state;
    expect(NULL, "{\"tokenizer\":\"standard\",\"text\":\"" FOX "\"}",
           "The|2|QUICK|Brown|Foxes|jumped|over|the|lazy|dog's|bone");
    expect(NULL, "{\"analyzer\":\"standard\",\"text\":\"" FOX "\"}",
           "the|2|quick|brown|foxes|jumped|over|the|lazy|dog's|bone");
    expect(NULL, "{\"analyzer\":\"simple\",\"text\":\"" FOX "\"}",
           "the|quick|brown|foxes|jumped|over|the|lazy|dog|s|bone");
    expect(NULL, "{\"analyzer\":\"whitespace\",\"text\":\"" FOX "\"}",
           "The|2|QUICK|Brown-Foxes|jumped|over|the|lazy|dog's|bone.");
    expect(NULL, "{\"analyzer\":\"stop\",\"text\":\"" FOX "\"}", "quick|brown|foxes|jumped|over|lazy|dog|s|bone");
    expect(NULL, "{\"analyzer\":\"keyword\",\"text\":\"" FOX "\"}", FOX);
    expect(NULL, "{\"analyzer\":\"english\",\"text\":\"" FOX "\"}", "2|quick|brown|fox|jump|over|lazi|dog|bone");
    /* The analyze API page's example, the whole answer. */
    expect_json(NULL, "{\"analyzer\":\"standard\",\"text\":\"Quick Brown Foxes!\"}",
                "{\"tokens\":[{\"token\":\"quick\",\"start_offset\":0,\"end_offset\":5,\"type\":\"<ALPHANUM>\","
                "\"position\":0},{\"token\":\"brown\",\"start_offset\":6,\"end_offset\":11,\"type\":\"<ALPHANUM>\","
                "\"position\":1},{\"token\":\"foxes\",\"start_offset\":12,\"end_offset\":17,\"type\":\"<ALPHANUM>\","
                "\"position\":2}]}");
    /* The standard tokenizer page: types. */
    expect_json(NULL, "{\"tokenizer\":\"standard\",\"text\":\"The 2 QUICK\"}",
                "{\"tokens\":[{\"token\":\"The\",\"start_offset\":0,\"end_offset\":3,\"type\":\"<ALPHANUM>\","
                "\"position\":0},{\"token\":\"2\",\"start_offset\":4,\"end_offset\":5,\"type\":\"<NUM>\","
                "\"position\":1},{\"token\":\"QUICK\",\"start_offset\":6,\"end_offset\":11,\"type\":\"<ALPHANUM>\","
                "\"position\":2}]}");
    /* Several texts: positions jump by the analyzer's gap (100), offsets
     * continue after each text plus one. */
    expect_json(NULL, "{\"analyzer\":\"standard\",\"text\":[\"a b\",\"c\"]}",
                "{\"tokens\":[{\"token\":\"a\",\"start_offset\":0,\"end_offset\":1,\"type\":\"<ALPHANUM>\","
                "\"position\":0},{\"token\":\"b\",\"start_offset\":2,\"end_offset\":3,\"type\":\"<ALPHANUM>\","
                "\"position\":1},{\"token\":\"c\",\"start_offset\":4,\"end_offset\":5,\"type\":\"<ALPHANUM>\","
                "\"position\":102}]}");
}

/* Chinese, Japanese and Korean text, and offsets in UTF-16 units. */
static void test_cjk(void **state)
{
    (void)state;
    expect(NULL, "{\"analyzer\":\"standard\",\"text\":\"乐观锁并发控制\"}", "乐|观|锁|并|发|控|制");
    expect_json(NULL, "{\"tokenizer\":\"standard\",\"text\":\"カタカナとひら漢字 한국어\"}",
                "{\"tokens\":[{\"token\":\"カタカナ\",\"start_offset\":0,\"end_offset\":4,\"type\":\"<KATAKANA>\","
                "\"position\":0},{\"token\":\"と\",\"start_offset\":4,\"end_offset\":5,\"type\":\"<HIRAGANA>\","
                "\"position\":1},{\"token\":\"ひ\",\"start_offset\":5,\"end_offset\":6,\"type\":\"<HIRAGANA>\","
                "\"position\":2},{\"token\":\"ら\",\"start_offset\":6,\"end_offset\":7,\"type\":\"<HIRAGANA>\","
                "\"position\":3},{\"token\":\"漢\",\"start_offset\":7,\"end_offset\":8,\"type\":\"<IDEOGRAPHIC>\","
                "\"position\":4},{\"token\":\"字\",\"start_offset\":8,\"end_offset\":9,\"type\":\"<IDEOGRAPHIC>\","
                "\"position\":5},{\"token\":\"한국어\",\"start_offset\":10,\"end_offset\":13,\"type\":\"<HANGUL>\","
                "\"position\":6}]}");
    /* A character outside the BMP counts two UTF-16 units, as in Java. */
    expect_json(NULL, "{\"tokenizer\":\"standard\",\"text\":\"\xf0\xa0\x80\x80 ab\"}",
                "{\"tokens\":[{\"token\":\"\xf0\xa0\x80\x80\",\"start_offset\":0,\"end_offset\":2,\"type\":"
                "\"<IDEOGRAPHIC>\",\"position\":0},{\"token\":\"ab\",\"start_offset\":3,\"end_offset\":5,\"type\":"
                "\"<ALPHANUM>\",\"position\":1}]}");
    /* The cjk_bigram filter page. */
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"cjk_bigram\"],\"text\":\"東京都は、日本の首都であり\"}",
           "東京|京都|都は|日本|本の|の首|首都|都で|であ|あり");
    expect(NULL, "{\"analyzer\":\"cjk\",\"text\":\"東京都は、日本の首都であり\"}",
           "東京|京都|都は|日本|本の|の首|首都|都で|であ|あり");
    /* cjk_width (full-width Latin, half-width Katakana), then lowercase */
    expect(NULL, "{\"analyzer\":\"cjk\",\"text\":\"ＱＵＩＣＫ ｶﾞｷ 乐\"}", "quick|ガキ|乐");
    expect(NULL,
           "{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"cjk_bigram\",\"output_unigrams\":true}],"
           "\"text\":\"乐观锁\"}",
           "乐|乐观|观|观锁|锁");
}

/* Token filters, on their documentation pages' examples. */
static void test_filters(void **state)
{
    (void)state;
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\"],\"text\":\"THE Quick FoX JUMPs\"}",
           "the|quick|fox|jumps");
    /* an ASCII prefix left as it is, then letters ICU maps; and the other way */
    expect(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"lowercase\"],\"text\":\"abcÉZ Éb\"}",
           "abcéz éb");
    expect(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"uppercase\"],\"text\":\"ABCéz éB\"}",
           "ABCÉZ ÉB");
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"asciifolding\"],\"text\":\"açaí à la carte\"}",
           "acai|a|la|carte");
    expect(NULL,
           "{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"asciifolding\",\"preserve_original\":true}],"
           "\"text\":\"açaí à la carte\"}",
           "acai|açaí|a|à|la|carte");
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"stop\"],\"text\":\"a quick fox jumps over the lazy dog\"}",
           "quick|fox|jumps|over|lazy|dog");
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"stemmer\"],\"text\":\"fox running and jumping\"}",
           "fox|run|and|jump");
    expect(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"porter_stem\"],\"text\":\"the foxes jumping quickly\"}",
           "the|fox|jump|quickli");
    expect(NULL,
           "{\"tokenizer\":\"whitespace\",\"filter\":[{\"type\":\"snowball\",\"language\":\"German\"}],"
           "\"text\":\"häuser katzen\"}",
           "haus|katz");
    expect(NULL, "{\"tokenizer\":\"keyword\",\"filter\":[\"uppercase\",\"trim\"],\"text\":\" straße \"}", "STRAßE");
    /* Unicode lowercasing, not only ASCII */
    expect(NULL, "{\"analyzer\":\"standard\",\"text\":\"CAFÉ Élan ΣΟΦΊΑ ДОМ\"}", "café|élan|σοφία|дом");
    /* Stop words leave a position gap. */
    expect_json(NULL, "{\"analyzer\":\"stop\",\"text\":\"the fox\"}",
                "{\"tokens\":[{\"token\":\"fox\",\"start_offset\":4,\"end_offset\":7,\"type\":\"word\",\"position\":1}]}");
    /* Synonyms, inline. */
    expect(NULL,
           "{\"tokenizer\":\"standard\",\"filter\":[\"lowercase\",{\"type\":\"synonym\",\"synonyms\":[\"jumps, "
           "leaps\",\"quick => fast\"]}],\"text\":\"Quick fox jumps\"}",
           "fast|fox|jumps|leaps");
    expect(NULL,
           "{\"tokenizer\":\"standard\",\"filter\":[{\"type\":\"synonym\",\"synonyms\":[\"i-pod, i pod => ipod\"]}],"
           "\"text\":\"my i pod\"}",
           "my|ipod");
}

/* Tokenizers other than the standard one. */
static void test_tokenizers(void **state)
{
    (void)state;
    expect(NULL, "{\"tokenizer\":\"edge_ngram\",\"text\":\"Quick Fox\"}", "Q|Qu");
    expect(NULL, "{\"tokenizer\":\"ngram\",\"text\":\"Quick Fox\"}", "Q|Qu|u|ui|i|ic|c|ck|k|k | | F|F|Fo|o|ox|x");
    expect(NULL,
           "{\"tokenizer\":{\"type\":\"edge_ngram\",\"min_gram\":2,\"max_gram\":10,\"token_chars\":[\"letter\","
           "\"digit\"]},\"text\":\"2 Quick Foxes.\"}",
           "Qu|Qui|Quic|Quick|Fo|Fox|Foxe|Foxes");
    expect(NULL, "{\"tokenizer\":\"letter\",\"text\":\"" FOX "\"}",
           "The|QUICK|Brown|Foxes|jumped|over|the|lazy|dog|s|bone");
    expect(NULL, "{\"tokenizer\":\"whitespace\",\"text\":\"a\\u3000b\\tc\"}", "a|b|c");
    /* max_token_length: the standard tokenizer page's example */
    analysis_registry *r;
    char err[256];
    const char *set = "{\"analysis\":{\"analyzer\":{\"my_analyzer\":{\"tokenizer\":\"my_tokenizer\"}},"
                      "\"tokenizer\":{\"my_tokenizer\":{\"type\":\"standard\",\"max_token_length\":5}}}}";
    assert_non_null(r = analysis_registry_new(set, strlen(set), err, sizeof err));
    expect(r, "{\"analyzer\":\"my_analyzer\",\"text\":\"" FOX "\"}",
           "The|2|QUICK|Brown|Foxes|jumpe|d|over|the|lazy|dog's|bone");
    analysis_registry_free(r);
}

/* Custom analyzers from settings, and the errors Elasticsearch gives. */
static void test_settings(void **state)
{
    (void)state;
    char err[512];
    const char *set = "{\"index\":{\"analysis\":{\"analyzer\":{\"folded\":{\"type\":\"custom\",\"tokenizer\":"
                      "\"standard\",\"filter\":[\"lowercase\",\"asciifolding\",\"my_stop\",\"my_stem\"]},"
                      "\"default\":{\"type\":\"english\"}},"
                      "\"filter\":{\"my_stop\":{\"type\":\"stop\",\"stopwords\":[\"le\",\"la\"]},"
                      "\"my_stem\":{\"type\":\"stemmer\",\"language\":\"french\"}}}}}";
    analysis_registry *r = analysis_registry_new(set, strlen(set), err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    expect(r, "{\"analyzer\":\"folded\",\"text\":\"Le CAFÉ des Élèves\"}", "caf|de|elev");
    /* no analyzer: the index's default */
    expect(r, "{\"text\":\"running dogs\"}", "run|dog");
    expect_error(r, "{\"analyzer\":\"nope\",\"text\":\"x\"}", "failed to find analyzer [nope]");
    analysis_registry_free(r);
    expect_error(NULL, "{\"analyzer\":\"nope\",\"text\":\"x\"}", "failed to find global analyzer [nope]");
    expect_error(NULL, "{\"tokenizer\":\"nope\",\"text\":\"x\"}", "failed to find global tokenizer under [nope]");
    expect_error(NULL, "{\"tokenizer\":\"standard\",\"filter\":[\"nope\"],\"text\":\"x\"}",
                 "failed to find global filter under [nope]");
    expect_error(NULL, "{\"analyzer\":\"standard\"}", "text is missing");

    static const struct {
        const char *set, *err;
    } bad[] = {
        {"{\"analysis\":{\"analyzer\":{\"a\":{\"tokenizer\":\"nope\"}}}}",
         "Custom Analyzer [a] failed to find tokenizer under name [nope]"},
        {"{\"analysis\":{\"analyzer\":{\"a\":{\"tokenizer\":\"standard\",\"filter\":[\"nope\"]}}}}",
         "Custom Analyzer [a] failed to find filter under name [nope]"},
        {"{\"analysis\":{\"analyzer\":{\"a\":{\"type\":\"custom\"}}}}",
         "analyzer [a] must specify either an analyzer type, or a tokenizer"},
        {"{\"analysis\":{\"analyzer\":{\"a\":{\"type\":\"nope\"}}}}", "Unknown analyzer type [nope] for [a]"},
        {"{\"analysis\":{\"filter\":{\"f\":{\"type\":\"nope\"}}}}", "Unknown filter type [nope] for [f]"},
        {"{\"analysis\":{\"tokenizer\":{\"t\":{\"type\":\"nope\"}}}}", "Unknown tokenizer type [nope] for [t]"},
        {"{\"analysis\":{\"tokenizer\":{\"t\":{\"type\":\"ngram\",\"min_gram\":1,\"max_gram\":3}}}}",
         "The difference between max_gram and min_gram in NGram Tokenizer must be less than or equal to: [1] but "
         "was [2]"},
        {"{\"index.analysis.analyzer.a.tokenizer\":\"nope\"}",
         "Custom Analyzer [a] failed to find tokenizer under name [nope]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        analysis_registry *b = analysis_registry_new(bad[i].set, strlen(bad[i].set), err, sizeof err);
        if (b || !strstr(err, bad[i].err))
            fail_msg("%s: got [%s]", bad[i].set, err);
    }
    /* index.max_ngram_diff raises the limit */
    const char *ok = "{\"index\":{\"max_ngram_diff\":3},\"analysis\":{\"tokenizer\":{\"t\":{\"type\":\"ngram\","
                     "\"min_gram\":1,\"max_gram\":3}}}}";
    assert_non_null(r = analysis_registry_new(ok, strlen(ok), err, sizeof err));
    analysis_registry_free(r);
    char key[128];
    cJSON *s = cJSON_Parse("{\"index\":{\"analysis\":{\"analyzer\":{\"a\":{\"type\":\"simple\"}}}}}");
    assert_true(analysis_settings_touched(s, key, sizeof key));
    assert_string_equal(key, "index.analysis.analyzer.a.type");
    cJSON_Delete(s);
    s = cJSON_Parse("{\"index\":{\"number_of_replicas\":1}}");
    assert_false(analysis_settings_touched(s, key, sizeof key));
    cJSON_Delete(s);
}

/* ---- WordBreakTest.txt ---- */

/* Whether Lucene's StandardTokenizer makes a token of a segment holding
 * code point c (Lucene's own test generator keeps the segments holding a
 * letter, number, Katakana, Hiragana, ideograph or emoji). */
static bool wordlike(UChar32 c)
{
    int wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
    UErrorCode ec = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &ec);
    return wb == U_WB_ALETTER || wb == U_WB_HEBREW_LETTER || wb == U_WB_NUMERIC || wb == U_WB_KATAKANA ||
           sc == USCRIPT_HIRAGANA || u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC) ||
           u_hasBinaryProperty(c, UCHAR_EMOJI_PRESENTATION);
}

static void test_word_break_file(void **state)
{
    (void)state;
    const char *path = "/usr/share/unicode/auxiliary/WordBreakTest.txt";
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("%s is missing: install Debian's unicode-data package (scripts/deps.sh)", path);
    char line[4096];
    int lineno = 0, tested = 0;
    analysis_tokenizer tk = {.kind = ANALYSIS_TK_STANDARD, .max_len = ANALYSIS_MAX_TOKEN};
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        /* "÷ 0041 × 0308 ÷ 0020 ÷": segments between the ÷ marks */
        char text[1024], expected[2048], seg[256];
        size_t tl = 0, el = 0, sl = 0;
        bool seg_word = false, any = false;
        expected[0] = '\0';
        for (char *p = line; *p;) {
            if (!strncmp(p, "\xc3\xb7", 2)) { /* ÷ */
                if (sl && seg_word)
                    el += (size_t)snprintf(expected + el, sizeof expected - el, "%s%.*s", el ? "|" : "", (int)sl, seg);
                sl = 0;
                seg_word = false;
                p += 2;
            } else if (!strncmp(p, "\xc3\x97", 2)) { /* × */
                p += 2;
            } else if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')) {
                UChar32 c = (UChar32)strtol(p, &p, 16);
                UBool e = false;
                int32_t o = (int32_t)tl;
                U8_APPEND((uint8_t *)text, o, (int32_t)sizeof text, c, e);
                int32_t so = (int32_t)sl;
                U8_APPEND((uint8_t *)seg, so, (int32_t)sizeof seg, c, e);
                (void)e;
                tl = (size_t)o;
                sl = (size_t)so;
                seg_word |= wordlike(c);
                any = true;
            } else
                p++;
        }
        if (!any)
            continue;
        analysis_tokens t = {0};
        assert_true(analysis_tokenize(&tk, text, tl, 0, 0, &t, NULL));
        char got[2048];
        size_t gl = 0;
        got[0] = '\0';
        for (size_t i = 0; i < t.n; i++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%s", gl ? "|" : "", t.v[i].term);
        analysis_tokens_free(&t);
        if (strcmp(got, expected) != 0)
            fail_msg("WordBreakTest.txt line %d: got [%s], expected [%s]", lineno, got, expected);
        tested++;
    }
    fclose(fp);
    analysis_tokenizer_release(&tk);
    /* Every test line (Unicode 15.0 has 1823) is checked; none is skipped. */
    assert_true(tested > 1800);
}

/* ---- the ASCII path against ICU's ---- */

/* "term/type" of each token of the standard tokenizer, joined by '|'. */
static void typed(const char *text, int max_len, char *out, size_t outsz)
{
    analysis_tokenizer tk = {.kind = ANALYSIS_TK_STANDARD, .max_len = max_len};
    analysis_tokens t = {0};
    assert_true(analysis_tokenize(&tk, text, strlen(text), 0, 0, &t, NULL));
    size_t l = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t.n; i++)
        l += (size_t)snprintf(out + l, outsz - l, "%s%s/%s", l ? "|" : "", t.v[i].term,
                              analysis_type_name(t.v[i].type));
    analysis_tokens_free(&t);
    analysis_tokenizer_release(&tk);
}

/* Types follow Lucene's grammar, whose NUMERIC rule comes first: a segment
 * of digits, connectors and number punctuation is <NUM>, one with a letter
 * <ALPHANUM> (ICU's status for "a11" is the number one: the last rule that
 * joined it was Numeric × Numeric). The same on either path: " é" sends
 * the text to ICU. */
static void test_standard_types(void **state)
{
    (void)state;
    char got[1024];
    typed("a11 11a 1_2 _1 1.2 1,2;3 1'2 __a__ a1:b a:b 1a.2 __", 0, got, sizeof got);
    assert_string_equal(got, "a11/<ALPHANUM>|11a/<ALPHANUM>|1_2/<NUM>|_1/<NUM>|1.2/<NUM>|1,2;3/<NUM>|1'2/<NUM>|"
                             "__a__/<ALPHANUM>|a1/<ALPHANUM>|b/<ALPHANUM>|a:b/<ALPHANUM>|1a/<ALPHANUM>|2/<NUM>");
    typed("a11 11a 1_2 _1 1.2 1,2;3 1'2 __a__ a1:b a:b 1a.2 __ \xc3\xa9", 0, got, sizeof got);
    assert_string_equal(got, "a11/<ALPHANUM>|11a/<ALPHANUM>|1_2/<NUM>|_1/<NUM>|1.2/<NUM>|1,2;3/<NUM>|1'2/<NUM>|"
                             "__a__/<ALPHANUM>|a1/<ALPHANUM>|b/<ALPHANUM>|a:b/<ALPHANUM>|1a/<ALPHANUM>|2/<NUM>|"
                             "\xc3\xa9/<ALPHANUM>");
    /* Elasticsearch's uax_url_email page: what the standard tokenizer makes
     * of an e-mail address (ICU alone keeps it whole) */
    typed("Email me at john.smith@global-international.com", 0, got, sizeof got);
    assert_string_equal(got, "Email/<ALPHANUM>|me/<ALPHANUM>|at/<ALPHANUM>|john.smith/<ALPHANUM>|global/<ALPHANUM>|"
                             "international.com/<ALPHANUM>");
    typed("\xc3\xa9 john.smith@global-international.com", 0, got, sizeof got);
    assert_string_equal(got, "\xc3\xa9/<ALPHANUM>|john.smith/<ALPHANUM>|global/<ALPHANUM>|international.com/<ALPHANUM>");
}

/* All-ASCII text takes a path of its own (no ICU); on random text over the
 * characters the rules treat specially, it must give exactly the tokens,
 * offsets, positions and types ICU's path gives for the same text followed
 * by " é" (which takes ICU's path and adds one token). */
static void test_ascii_path(void **state)
{
    (void)state;
    static const char alphabet[] = "aZk09__..::'',;;  \n\r\t\v\f!\"#$%&()*+-/<=>?@[\\]^`{|}~\x7f\x01";
    uint64_t x = 0x9e3779b97f4a7c15u;
    analysis_tokenizer fast = {.kind = ANALYSIS_TK_STANDARD}, icu = {.kind = ANALYSIS_TK_STANDARD};
    char text[160];
    int compared = 0;
    for (int round = 0; round < 30000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 1 + x % 60;
        /* long runs too, for max_token_length */
        int max = round % 5 == 0 ? 1 + (int)(x >> 40) % 6 : 0;
        fast.max_len = icu.max_len = max;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            text[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        memcpy(text + len, " \xc3\xa9", 4);
        analysis_tokens a = {0}, b = {0};
        int32_t end = 0;
        assert_true(analysis_tokenize(&fast, text, len, 3, 10, &a, &end));
        assert_int_equal(end, (int32_t)len);
        assert_true(analysis_tokenize(&icu, text, len + 3, 3, 10, &b, NULL));
        if (b.n != a.n + 1 || strcmp(b.v[a.n].term, "\xc3\xa9") != 0)
            fail_msg("[%.*s]: %zu tokens on the ASCII path, %zu (with the last) on ICU's", (int)len, text, a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            const analysis_token *p = &a.v[i], *q = &b.v[i];
            if (strcmp(p->term, q->term) || p->start != q->start || p->end != q->end || p->pos != q->pos ||
                p->type != q->type)
                fail_msg("[%.*s] token %zu: ASCII path %s [%d, %d) pos %d %s, ICU's %s [%d, %d) pos %d %s", (int)len,
                         text, i, p->term, p->start, p->end, p->pos, analysis_type_name(p->type), q->term, q->start,
                         q->end, q->pos, analysis_type_name(q->type));
            compared++;
        }
        analysis_tokens_free(&a);
        analysis_tokens_free(&b);
    }
    analysis_tokenizer_release(&fast);
    analysis_tokenizer_release(&icu);
    if (compared < 50000)
        fail_msg("only %d tokens compared", compared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_analyzers), cmocka_unit_test(test_cjk),
        cmocka_unit_test(test_filters),           cmocka_unit_test(test_tokenizers),
        cmocka_unit_test(test_settings),          cmocka_unit_test(test_word_break_file),
        cmocka_unit_test(test_standard_types),    cmocka_unit_test(test_ascii_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
