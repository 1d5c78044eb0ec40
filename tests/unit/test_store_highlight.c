/* Unit tests for store_highlight: the unified highlighter's passages (bounded sentences, whole values),
 * their choice by score, and their formatting (tags, html encoder, trimming, no_match_size). */
#include "versync/store/store_highlight.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const store_hl_opts dflt = {"<em>", "</em>", false, 100, 5, 0, false};

/* The fragments as the JSON list body they are appended as. */
static void frags_n(const char *text, size_t len, const store_hl_span *sp, size_t n, const store_hl_opts *o,
                    const char *want, size_t want_n)
{
    buf b = BUF_INIT;
    size_t got = 99;
    assert_true(store_hl_fragments(text, len, sp, n, o, &b, &got));
    assert_string_equal(b.data ? b.data : "", want);
    assert_int_equal(got, want_n);
    buf_free(&b);
}

static void frags(const char *text, const store_hl_span *sp, size_t n, const store_hl_opts *o,
                  const char *want, size_t want_n)
{
    frags_n(text, strlen(text), sp, n, o, want, want_n);
}

static void test_terms_in_one_sentence(void **state)
{
    (void)state;
    /* rest-api-spec search.highlight/10_unified.yml */
    const store_hl_span sp[] = {{10, 15, 1}, {4, 9, 0}, {16, 19, 2}, {23, 28, 1}};
    frags("The quick brown fox is brown.", sp, 4, &dflt,
          "\"The <em>quick</em> <em>brown</em> <em>fox</em> is <em>brown</em>.\"", 1);
    store_hl_opts tags = dflt;
    tags.pre = "[";
    tags.post = "]";
    frags("The quick brown fox is brown.", sp, 1, &tags, "\"The quick [brown] fox is brown.\"", 1);
}

static void test_sentences_bounded_by_fragment_size(void **state)
{
    (void)state;
    store_hl_opts o = dflt;
    o.fragment_size = 20;
    const char *t = "One fox here. Two sentences follow. Another fox there.";
    const store_hl_span sp[] = {{4, 7, 0}, {44, 47, 0}};
    frags(t, sp, 2, &o, "\"One <em>fox</em> here.\",\"Another <em>fox</em> there.\"", 2);
    /* a fragment holds as many whole sentences as fit */
    o.fragment_size = 40;
    frags(t, sp, 1, &o, "\"One <em>fox</em> here. Two sentences follow.\"", 1);
    /* a sentence longer than fragment_size is kept whole, never cut */
    o.fragment_size = 5;
    frags("A very long sentence with a fox somewhere inside it.", (store_hl_span[]){{28, 31, 0}}, 1, &o,
          "\"A very long sentence with a <em>fox</em> somewhere inside it.\"", 1);
}

static void test_best_fragments_by_score(void **state)
{
    (void)state;
    store_hl_opts o = dflt;
    o.fragment_size = 10;
    o.nfrag = 1;
    const char *t = "A fox. The fox and fox.";
    const store_hl_span sp[] = {{2, 5, 0}, {11, 14, 0}, {19, 22, 0}};
    frags(t, sp, 3, &o, "\"The <em>fox</em> and <em>fox</em>.\"", 1);
    o.nfrag = 2; /* both, in the text's order */
    frags(t, sp, 3, &o, "\"A <em>fox</em>.\",\"The <em>fox</em> and <em>fox</em>.\"", 2);
    o.by_score = true; /* order: score */
    frags(t, sp, 3, &o, "\"The <em>fox</em> and <em>fox</em>.\",\"A <em>fox</em>.\"", 2);
}

static void test_whole_values(void **state)
{
    (void)state;
    store_hl_opts o = dflt;
    o.nfrag = 0;
    /* three values, NUL between them as Elasticsearch joins them */
    static const char t[] = "first value\0the fox value. More.\0fox";
    const store_hl_span sp[] = {{16, 19, 0}, {33, 36, 0}};
    frags_n(t, sizeof t - 1, sp, 2, &o, "\"the <em>fox</em> value. More.\",\"<em>fox</em>\"", 2);
    /* with fragments, sentences of one value: a passage never reaches into the next */
    o.nfrag = 5;
    frags_n(t, sizeof t - 1, sp, 2, &o, "\"the <em>fox</em> value. More.\",\"<em>fox</em>\"", 2);
    o.fragment_size = 10;
    frags_n(t, sizeof t - 1, sp, 2, &o, "\"the <em>fox</em> value.\",\"<em>fox</em>\"", 2);
    static const char kw[] = "fox\0dog";
    frags_n(kw, sizeof kw - 1, (store_hl_span[]){{0, 3, 0}}, 1, &dflt, "\"<em>fox</em>\"", 1);
}

static void test_encoder_and_offsets(void **state)
{
    (void)state;
    store_hl_opts o = dflt;
    o.html = true;
    frags("<b>fox</b> & 'x'", (store_hl_span[]){{3, 6, 0}}, 1, &o,
          "\"&lt;b&gt;<em>fox</em>&lt;&#x2F;b&gt; &amp; &#x27;x&#x27;\"", 1);
    /* offsets count UTF-16 units: "Größe " is six, the emoji two */
    frags("Größe \xF0\x9F\x98\x80 fox", (store_hl_span[]){{9, 12, 0}}, 1, &dflt,
          "\"Größe \xF0\x9F\x98\x80 <em>fox</em>\"", 1);
    /* overlapping spans: the second starts inside the first */
    frags("quick brown", (store_hl_span[]){{0, 11, 0}, {6, 11, 1}}, 2, &dflt, "\"<em>quick brown</em>\"", 1);
}

static void test_no_match(void **state)
{
    (void)state;
    store_hl_opts o = dflt;
    frags("I am pretty long so some of me should get cut off. Second sentence", NULL, 0, &o, "", 0);
    o.no_match_size = 20; /* to the word boundary after 20 characters */
    frags("I am pretty long so some of me should get cut off. Second sentence", NULL, 0, &o,
          "\"I am pretty long so some\"", 1);
    o.no_match_size = 1000; /* the first value, whole */
    static const char two[] = "short\0second";
    frags_n(two, sizeof two - 1, NULL, 0, &o, "\"short\"", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_in_one_sentence),
        cmocka_unit_test(test_sentences_bounded_by_fragment_size),
        cmocka_unit_test(test_best_fragments_by_score),
        cmocka_unit_test(test_whole_values),
        cmocka_unit_test(test_encoder_and_offsets),
        cmocka_unit_test(test_no_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
