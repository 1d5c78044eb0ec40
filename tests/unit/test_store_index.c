/* Unit tests for store_index and the engine's search structures: analysis, norms, encodings, dates, mappings, a document's entries, and postings kept in step with writes. */
#include "versync/store/store_engine.h"
#include "versync/store/store_engine_int.h"
#include "versync/store/store_index.h"
#include "versync/store/store_metrics.h"
#include "versync/common/log.h"

#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- analysis, norms, encodings, dates ------------------------------------ */

typedef struct toks {
    char all[512];
    int n;
} toks;

static bool collect(const char *t, size_t n, void *arg)
{
    toks *c = arg;
    size_t l = strlen(c->all);
    snprintf(c->all + l, sizeof c->all - l, "%s%.*s", c->n++ ? "|" : "", (int)n, t);
    return true;
}

static void test_analyze(void **state)
{
    (void)state;
    store_mapping m;
    char err[128];
    assert_true(store_mapping_parse(NULL, 0, &m, err, sizeof err));
    toks t = {{0}, 0};
    const char *s = "Hello, WORLD! it's 2024-01-02 CAF\xc3\x89 x_y \xe4\xb9\x90\xe8\xa7\x82";
    assert_true(store_index_analyze(&m, NULL, false, false, s, strlen(s), collect, &t));
    /* The standard analyzer: Unicode words, lowercased; one token per ideograph. */
    assert_string_equal(t.all, "hello|world|it's|2024|01|02|caf\xc3\xa9|x_y|\xe4\xb9\x90|\xe8\xa7\x82");
    /* A run longer than max_token_length (255) is split. */
    char longer[600];
    memset(longer, 'a', 300);
    longer[300] = '\0';
    toks u = {{0}, 0};
    assert_true(store_index_analyze(&m, NULL, false, false, longer, 300, collect, &u));
    assert_int_equal(u.n, 2);
    toks e = {{0}, 0};
    assert_true(store_index_analyze(&m, NULL, false, false, " ,.; ", 5, collect, &e));
    assert_int_equal(e.n, 0);
    store_mapping_free(&m);

    /* A field's analyzer at index time, its search_analyzer for queries. */
    const char *map = "{\"properties\":{\"t\":{\"type\":\"text\",\"analyzer\":\"english\","
                      "\"search_analyzer\":\"whitespace\"}}}";
    assert_true(store_mapping_parse(map, strlen(map), &m, err, sizeof err));
    assert_true(store_mapping_check_analysis(&m, err, sizeof err));
    const store_field *f = store_mapping_find(&m, "t");
    assert_non_null(f);
    toks ix = {{0}, 0}, q = {{0}, 0};
    assert_true(store_index_analyze(&m, f, false, false, "The Running Dogs", 16, collect, &ix));
    assert_string_equal(ix.all, "run|dog");
    assert_true(store_index_analyze(&m, f, true, false, "The Running Dogs", 16, collect, &q));
    assert_string_equal(q.all, "The|Running|Dogs");
    store_mapping_free(&m);

    /* An analyzer the index does not have is refused as Elasticsearch does. */
    const char *bad = "{\"properties\":{\"t\":{\"type\":\"text\",\"analyzer\":\"nope\"}}}";
    assert_true(store_mapping_parse(bad, strlen(bad), &m, err, sizeof err));
    assert_false(store_mapping_check_analysis(&m, err, sizeof err));
    assert_string_equal(err, "analyzer [nope] has not been configured in mappings");
    store_mapping_free(&m);
    const char *nosa = "{\"properties\":{\"t\":{\"type\":\"text\",\"search_analyzer\":\"simple\"}}}";
    assert_false(store_mapping_parse(nosa, strlen(nosa), &m, err, sizeof err));
    assert_string_equal(err, "analyzer on field [t] must be set when search_analyzer is set");
    /* The index analyzer of a field cannot change. */
    assert_true(store_mapping_parse(map, strlen(map), &m, err, sizeof err));
    cJSON *add = cJSON_Parse("{\"properties\":{\"t\":{\"type\":\"text\",\"analyzer\":\"simple\"}}}");
    assert_false(store_mapping_merge(&m, add, err, sizeof err));
    assert_non_null(strstr(err, "Cannot update parameter [analyzer] from [english] to [simple]"));
    cJSON_Delete(add);
    store_mapping_free(&m);
}

static void test_norm_len(void **state)
{
    (void)state;
    /* Lucene's SmallFloat.intToByte4/byte4ToInt round trip. */
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal(store_index_norm_len(i), i);
    assert_int_equal(store_index_norm_len(16), 16);
    assert_int_equal(store_index_norm_len(17), 16);
    assert_int_equal(store_index_norm_len(100), 96);
    assert_int_equal(store_index_norm_len(1000), 960);
}

static void test_encodings_sort(void **state)
{
    (void)state;
    int64_t longs[] = {INT64_MIN, -5, -1, 0, 1, 7, INT64_MAX};
    for (size_t i = 0; i + 1 < sizeof longs / sizeof *longs; i++) {
        unsigned char a[8], b[8];
        store_index_enc_long(longs[i], a);
        store_index_enc_long(longs[i + 1], b);
        assert_true(memcmp(a, b, 8) < 0);
        assert_int_equal(store_index_dec_long(a), longs[i]);
    }
    double dbl[] = {-1e300, -2.5, -0.0001, 0.0, 1e-300, 3.25, 1e300};
    for (size_t i = 0; i + 1 < sizeof dbl / sizeof *dbl; i++) {
        unsigned char a[8], b[8];
        store_index_enc_double(dbl[i], a);
        store_index_enc_double(dbl[i + 1], b);
        assert_true(memcmp(a, b, 8) < 0);
        assert_true(store_index_dec_double(a) == dbl[i]);
    }
    unsigned char z1[8], z2[8];
    store_index_enc_double(-0.0, z1);
    store_index_enc_double(0.0, z2);
    assert_memory_equal(z1, z2, 8);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t ms;
    assert_true(store_index_parse_date("1970-01-01", 10, &ms));
    assert_int_equal(ms, 0);
    assert_true(store_index_parse_date("2024-01-31T12:00:00Z", 20, &ms));
    assert_int_equal(ms, 1706702400000LL);
    assert_true(store_index_parse_date("2024-01-31T12:00:00.123456+01:00", 32, &ms));
    assert_int_equal(ms, 1706702400000LL - 3600000 + 123);
    assert_true(store_index_parse_date("2024", 4, &ms)); /* a year, not epoch millis */
    assert_int_equal(ms, 1704067200000LL);
    assert_true(store_index_parse_date("1706702400000", 13, &ms));
    assert_int_equal(ms, 1706702400000LL);
    assert_true(store_index_parse_date("1969-12-31T23:59:59.999Z", 24, &ms));
    assert_int_equal(ms, -1);
    assert_false(store_index_parse_date("2024-02-30", 10, &ms));
    assert_false(store_index_parse_date("2024-01-31 12:00:00", 19, &ms));
    assert_false(store_index_parse_date("hello", 5, &ms));
    assert_false(store_index_parse_date("2024-01-31T25:00", 16, &ms));
    char out[40];
    store_index_format_date(1706702400123LL, out, sizeof out);
    assert_string_equal(out, "2024-01-31T12:00:00.123Z");
    store_index_format_date(-1, out, sizeof out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

/* ---- mappings ------------------------------------------------------------- */

static void test_mapping_parse(void **state)
{
    (void)state;
    store_mapping m;
    char err[256];
    const char *j = "{\"dynamic\":\"strict\",\"properties\":{\"t\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":"
                    "\"keyword\",\"ignore_above\":10}}},\"n\":{\"type\":\"integer\"},\"o\":{\"properties\":{\"d\":{"
                    "\"type\":\"date\"}}},\"x\":{\"type\":\"keyword\",\"index\":false}}}";
    assert_true(store_mapping_parse(j, strlen(j), &m, err, sizeof err));
    assert_int_equal(m.dynamic, STORE_DYN_STRICT);
    assert_int_equal(m.n, 6);
    const store_field *f = store_mapping_find(&m, "t.raw");
    assert_non_null(f);
    assert_int_equal(f->type, STORE_FT_KEYWORD);
    assert_true(f->subfield);
    assert_int_equal(f->ignore_above, 10);
    assert_int_equal(store_mapping_find(&m, "n")->type, STORE_FT_LONG);
    assert_string_equal(store_mapping_find(&m, "n")->type_name, "integer");
    assert_int_equal(store_mapping_find(&m, "o")->type, STORE_FT_OBJECT);
    assert_int_equal(store_mapping_find(&m, "o.d")->type, STORE_FT_DATE);
    assert_false(store_mapping_find(&m, "x")->index);
    assert_null(store_mapping_find(&m, "nope"));

    /* Merge: new fields in, a type change refused with m unchanged. */
    cJSON *add = cJSON_Parse("{\"properties\":{\"z\":{\"type\":\"boolean\"}}}");
    assert_true(store_mapping_merge(&m, add, err, sizeof err));
    cJSON_Delete(add);
    assert_int_equal(store_mapping_find(&m, "z")->type, STORE_FT_BOOLEAN);
    add = cJSON_Parse("{\"properties\":{\"n\":{\"type\":\"text\"}}}");
    assert_false(store_mapping_merge(&m, add, err, sizeof err));
    cJSON_Delete(add);
    assert_string_equal(err, "mapper [n] cannot be changed from type [integer] to [text]");
    assert_int_equal(store_mapping_find(&m, "n")->type, STORE_FT_LONG);
    buf out = BUF_INIT;
    assert_true(store_mapping_print(&m, &out));
    assert_non_null(strstr(out.data, "\"z\":{\"type\":\"boolean\"}"));
    buf_free(&out);
    store_mapping_free(&m);
    store_mapping_free(&m); /* a zeroed mapping is a no-op */

    const char *bad[] = {"{\"properties\":{\"a\":{\"type\":\"foo\"}}}", "[1]", "{\"bogus\":1}",
                         "{\"properties\":{\"a\":{\"type\":\"nested\"}}}", "{\"dynamic\":\"maybe\"}"};
    const char *why[] = {"No handler for type [foo] declared on field [a]", "mappings must be a JSON object",
                         "Root mapping definition has unsupported parameters:  [bogus : ...]",
                         "verstore does not support fields of type [nested] (field [a])",
                         "Could not convert [_doc.dynamic] to boolean"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(store_mapping_parse(bad[i], strlen(bad[i]), &m, err, sizeof err));
        assert_string_equal(err, why[i]);
    }
    /* A legacy type name wrapping the mapping. */
    const char *legacy = "{\"_doc\":{\"properties\":{\"a\":{\"type\":\"long\"}}}}";
    assert_true(store_mapping_parse(legacy, strlen(legacy), &m, err, sizeof err));
    assert_int_equal(store_mapping_find(&m, "a")->type, STORE_FT_LONG);
    store_mapping_free(&m);
}

static int count_kind(const store_doc_index *d, store_ent_kind k, const char *path)
{
    int n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->ents[i].kind == k && (!path || strcmp(d->text.data + d->ents[i].path, path) == 0))
            n++;
    return n;
}

static const store_ent *find_posting(const store_doc_index *d, const char *path, const char *term)
{
    for (size_t i = 0; i < d->n; i++) {
        const store_ent *e = &d->ents[i];
        if (e->kind == STORE_ENT_POSTING && strcmp(d->text.data + e->path, path) == 0 &&
            e->val_len == strlen(term) && memcmp(d->text.data + e->val, term, e->val_len) == 0)
            return e;
    }
    return NULL;
}

static void test_doc_entries_dynamic(void **state)
{
    (void)state;
    store_mapping m;
    char err[256];
    assert_true(store_mapping_parse(NULL, 0, &m, err, sizeof err));
    store_doc_index d;
    memset(&d, 0, sizeof d);
    buf reason = BUF_INIT;
    const char *type = NULL;
    const char *src = "{\"title\":\"The quick fox, the end\",\"n\":3,\"f\":1.5,\"ok\":true,\"when\":\"2024-01-31\","
                      "\"user\":{\"name\":\"Bo\",\"tags\":[\"a\",\"b\",\"a\"]},\"nothing\":null}";
    assert_true(store_index_doc(&m, src, strlen(src), "1", 1, false, &d, &type, &reason));
    assert_true(d.mapping_changed);
    assert_int_equal(store_mapping_find(&m, "title")->type, STORE_FT_TEXT);
    assert_int_equal(store_mapping_find(&m, "title.keyword")->type, STORE_FT_KEYWORD);
    assert_string_equal(store_mapping_find(&m, "f")->type_name, "float");
    assert_int_equal(store_mapping_find(&m, "n")->type, STORE_FT_LONG);
    assert_int_equal(store_mapping_find(&m, "ok")->type, STORE_FT_BOOLEAN);
    assert_int_equal(store_mapping_find(&m, "when")->type, STORE_FT_DATE);
    assert_int_equal(store_mapping_find(&m, "user")->type, STORE_FT_OBJECT);
    assert_null(store_mapping_find(&m, "nothing"));
    /* "the" twice: one posting with tf 2; the field is 5 tokens long. */
    const store_ent *the = find_posting(&d, "title", "the");
    assert_non_null(the);
    assert_int_equal(the->tf, 2);
    assert_int_equal(the->len, 5);
    assert_int_equal(count_kind(&d, STORE_ENT_POSTING, "title"), 4);
    /* Repeated keyword values collapse; exists for leaves and the object. */
    assert_int_equal(count_kind(&d, STORE_ENT_VALUE, "user.tags.keyword"), 2);
    assert_int_equal(count_kind(&d, STORE_ENT_EXISTS, "user"), 1);
    assert_int_equal(count_kind(&d, STORE_ENT_EXISTS, "nothing"), 0);
    assert_int_equal(count_kind(&d, STORE_ENT_STAT, "title"), 1);

    /* A value that does not fit: refused, mapping untouched. */
    size_t nfields = m.n;
    src = "{\"n\":\"abc\",\"newfield\":1}";
    buf_reset(&reason);
    assert_false(store_index_doc(&m, src, strlen(src), "7", 1, false, &d, &type, &reason));
    assert_string_equal(type, "document_parsing_exception");
    assert_string_equal(reason.data, "[1:6] failed to parse field [n] of type [long] in document with id '7'. "
                                     "Preview of field's value: 'abc'");
    assert_int_equal(m.n, nfields);
    /* Coercion as Elasticsearch does it: "12" and 1.9 into a long. */
    src = "{\"n\":\"12\",\"f\":\"2.5\",\"ok\":\"false\"}";
    assert_true(store_index_doc(&m, src, strlen(src), "8", 1, false, &d, &type, &reason));
    assert_false(d.mapping_changed);
    /* An object where a leaf is mapped, and the reverse. */
    src = "{\"user\":\"flat\"}";
    buf_reset(&reason);
    assert_false(store_index_doc(&m, src, strlen(src), "9", 1, false, &d, &type, &reason));
    assert_non_null(strstr(reason.data, "tried to parse field [user] as object, but found a concrete value"));
    /* A dotted name under a leaf cannot make that leaf an object. */
    src = "{\"n.sub\":1}";
    buf_reset(&reason);
    assert_false(store_index_doc(&m, src, strlen(src), "9", 1, false, &d, &type, &reason));
    assert_non_null(strstr(reason.data, "Existing mapping for [n] must be of type object but found [long]"));
    /* A dotted name makes its parents objects, present like any object. */
    src = "{\"p.q\":1}";
    assert_true(store_index_doc(&m, src, strlen(src), "9", 1, false, &d, &type, &reason));
    assert_int_equal(store_mapping_find(&m, "p")->type, STORE_FT_OBJECT);
    assert_int_equal(count_kind(&d, STORE_ENT_EXISTS, "p"), 1);
    /* Lenient: nothing fails, nothing is added. */
    src = "{\"n\":\"abc\",\"brand_new\":\"x\",\"title\":\"fox\"}";
    assert_true(store_index_doc(&m, src, strlen(src), "9", 1, true, &d, &type, &reason));
    assert_false(d.mapping_changed);
    assert_null(store_mapping_find(&m, "brand_new"));
    assert_non_null(find_posting(&d, "title", "fox"));
    store_doc_index_free(&d);
    buf_free(&reason);
    store_mapping_free(&m);
}

static void test_doc_entries_strict(void **state)
{
    (void)state;
    store_mapping m;
    char err[256];
    const char *j = "{\"dynamic\":\"strict\",\"properties\":{\"a\":{\"type\":\"keyword\",\"ignore_above\":3},"
                    "\"o\":{\"dynamic\":false,\"properties\":{}}}}";
    assert_true(store_mapping_parse(j, strlen(j), &m, err, sizeof err));
    store_doc_index d;
    memset(&d, 0, sizeof d);
    buf reason = BUF_INIT;
    const char *type = NULL;
    const char *src = "{\"a\":\"abcd\",\"o\":{\"free\":1}}";
    assert_true(store_index_doc(&m, src, strlen(src), "1", 1, false, &d, &type, &reason));
    assert_int_equal(count_kind(&d, STORE_ENT_VALUE, "a"), 0); /* over ignore_above */
    assert_null(store_mapping_find(&m, "o.free"));           /* dynamic false below o */
    src = "{\"b\":1}";
    assert_false(store_index_doc(&m, src, strlen(src), "1", 1, false, &d, &type, &reason));
    assert_string_equal(type, "strict_dynamic_mapping_exception");
    assert_string_equal(reason.data, "[1:6] mapping set to strict, dynamic introduction of [b] within [_doc] is not "
                                     "allowed");
    store_doc_index_free(&d);
    buf_free(&reason);
    store_mapping_free(&m);
}

/* binary and the range types: accepted in a mapping, any value kept in _source, nothing indexed. */
static void test_doc_stored_only(void **state)
{
    (void)state;
    store_mapping m;
    char err[256];
    const char *j = "{\"dynamic\":\"strict\",\"properties\":{\"b\":{\"type\":\"binary\"},"
                    "\"r\":{\"type\":\"integer_range\"},\"d\":{\"type\":\"date_range\"}}}";
    assert_true(store_mapping_parse(j, strlen(j), &m, err, sizeof err));
    assert_true(store_mapping_find(&m, "r")->opaque);
    store_doc_index d;
    memset(&d, 0, sizeof d);
    buf reason = BUF_INIT;
    const char *type = NULL;
    const char *src = "{\"b\":[\"3q2+7w==\",null],\"r\":{\"gte\":1,\"lt\":10},"
                      "\"d\":[{\"gte\":\"2024-01-01\"},{\"gt\":\"2024-02-01\",\"lte\":\"2024-03-01\"}]}";
    assert_true(store_index_doc(&m, src, strlen(src), "1", 1, false, &d, &type, &reason));
    assert_int_equal(count_kind(&d, STORE_ENT_VALUE, "b"), 0);
    assert_int_equal(count_kind(&d, STORE_ENT_VALUE, "r"), 0);
    assert_null(store_mapping_find(&m, "r.gte")); /* no sub-fields inferred under a range */
    store_doc_index_free(&d);
    buf_free(&reason);
    store_mapping_free(&m);
}

/* ---- the engine keeps the structures in step ------------------------------- */

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_index.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static store_engine *open_engine(void)
{
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    return e;
}

static store_op put_op(store_opkind kind, const char *id, int64_t v, const char *src)
{
    store_op op;
    memset(&op, 0, sizeof op);
    op.w = (store_wparams){kind, STORE_VT_EXTERNAL, v, STORE_UNASSIGNED_SEQ_NO, STORE_UNASSIGNED_TERM, false, true};
    op.index = "idx";
    op.id = id;
    op.id_len = strlen(id);
    op.src = src;
    op.src_len = src ? strlen(src) : 0;
    return op;
}

static store_operr run1(store_engine *e, store_opkind kind, const char *id, int64_t v, const char *src)
{
    store_op op = put_op(kind, id, v, src);
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = &op;
    job.nops = 1;
    assert_int_equal(store_engine_execute(e, &job), 0);
    store_operr err = op.err;
    store_op_clear(&op);
    return err;
}

typedef struct ids {
    char list[8192];
    store_rtxn *r;
    store_index_meta *m;
} ids;

static void add_id(ids *c, int64_t seq)
{
    const char *id;
    size_t n;
    store_doc_view v;
    assert_int_equal(store_engine_doc_by_seq(c->r, c->m, seq, &id, &n, &v), 1);
    size_t l = strlen(c->list);
    snprintf(c->list + l, sizeof c->list - l, "%s%.*s", l ? "," : "", (int)n, id);
}

static bool on_posting(const store_posting *p, void *arg)
{
    add_id(arg, p->seq);
    return true;
}

static bool on_value(const void *val, size_t len, int64_t seq, void *arg)
{
    (void)val, (void)len;
    add_id(arg, seq);
    return true;
}

static bool on_seq(int64_t seq, void *arg)
{
    add_id(arg, seq);
    return true;
}

/* Ids (comma list, in visit order) with `term` in text field `path`. */
static void term_ids(store_engine *e, const char *path, const char *term, char *out)
{
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    ids c = {{0}, r, &m};
    assert_true(store_engine_postings(r, &m, path, term, strlen(term), false, on_posting, &c));
    strcpy(out, c.list);
    store_engine_read_end(r);
}

static void range_ids(store_engine *e, const char *path, int64_t lo, int64_t hi, bool desc, char *out)
{
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    ids c = {{0}, r, &m};
    unsigned char a[8], b[8];
    store_index_enc_long(lo, a);
    store_index_enc_long(hi, b);
    assert_true(store_engine_values(r, &m, path, a, 8, true, b, 8, false, desc, on_value, &c));
    strcpy(out, c.list);
    store_engine_read_end(r);
}

static void test_engine_postings(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    char got[1024];
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"red fox\",\"n\":5,\"k\":\"x\"}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "b", 1, "{\"t\":\"red dog\",\"n\":1}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "c", 1, "{\"t\":\"blue fox fox\",\"n\":9}"), STORE_OPERR_NONE);
    term_ids(e, "t", "fox", got);
    assert_string_equal(got, "a,c");
    range_ids(e, "n", 1, 9, false, got);
    assert_string_equal(got, "b,a");
    range_ids(e, "n", 0, 100, true, got);
    assert_string_equal(got, "c,a,b");

    /* Stats: 3 docs with t, 2+2+3 tokens; term_docs; exists. */
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    int64_t docs, sum;
    assert_true(store_engine_field_stats(r, &m, "t", &docs, &sum));
    assert_int_equal(docs, 3);
    assert_int_equal(sum, 7);
    assert_int_equal(store_engine_term_docs(r, &m, "t", "fox", 3), 2);
    assert_int_equal(store_engine_value_docs(r, &m, "k.keyword", "x", 1), 1);
    ids c = {{0}, r, &m};
    assert_true(store_engine_exists(r, &m, "k", on_seq, &c));
    assert_string_equal(c.list, "a");
    store_engine_read_end(r);

    /* Overwrite: the old terms go, the new come; a stale external write changes nothing. */
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 2, "{\"t\":\"green\",\"n\":50}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"stale fox\",\"n\":3}"), STORE_OPERR_CONFLICT);
    term_ids(e, "t", "fox", got);
    assert_string_equal(got, "c");
    term_ids(e, "t", "green", got);
    assert_string_equal(got, "a");
    term_ids(e, "t", "stale", got);
    assert_string_equal(got, "");
    range_ids(e, "n", 0, 100, false, got);
    assert_string_equal(got, "b,c,a");
    /* A document that does not fit the mapping is refused and changes nothing. */
    assert_int_equal(run1(e, STORE_OP_INDEX, "b", 5, "{\"t\":\"gone\",\"n\":\"many\"}"), STORE_OPERR_MAPPING);
    term_ids(e, "t", "dog", got);
    assert_string_equal(got, "b");
    /* Delete: the document leaves every structure. */
    assert_int_equal(run1(e, STORE_OP_DELETE, "c", 2, NULL), STORE_OPERR_NONE);
    term_ids(e, "t", "fox", got);
    assert_string_equal(got, "");
    r = store_engine_read_begin(e);
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    assert_true(store_engine_field_stats(r, &m, "t", &docs, &sum));
    assert_int_equal(docs, 2);
    assert_int_equal(sum, 3);
    ids all = {{0}, r, &m};
    assert_true(store_engine_seq_scan(r, &m, -1, on_seq, &all));
    assert_string_equal(all.list, "b,a");
    store_engine_read_end(r);
    store_engine_close(e);
}

/* The engine's LMDB environment in g_dir, opened behind its back so a test
 * can make a directory look like one an older verstore wrote; `flags` is 0
 * or MDB_RDONLY. The caller commits or aborts *txn and closes *env. */
static void raw_begin(MDB_env **env, MDB_txn **txn, unsigned flags)
{
    assert_int_equal(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 16);
    if (!(flags & MDB_RDONLY))
        mdb_env_set_mapsize(*env, (size_t)64 << 20);
    assert_int_equal(mdb_env_open(*env, g_dir, flags, 0644), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, flags, txn), 0);
}

static void test_engine_upgrade_and_drop(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    char got[1024];
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"old data\"}"), STORE_OPERR_NONE);
    store_engine_close(e);
    /* Make the directory look like one from before search structures. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, terms, blocks, seqs;
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "terms", 0, &terms), 0);
    assert_int_equal(mdb_dbi_open(txn, "pblocks", 0, &blocks), 0);
    assert_int_equal(mdb_dbi_open(txn, "seqs", 0, &seqs), 0);
    MDB_val k = {13, "search_format"};
    assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
    assert_int_equal(mdb_drop(txn, terms, 0), 0);
    assert_int_equal(mdb_drop(txn, blocks, 0), 0);
    assert_int_equal(mdb_drop(txn, seqs, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    e = open_engine();
    term_ids(e, "t", "old", got);
    assert_string_equal(got, "a");
    /* Dropping the index removes its entries: a new index of that name starts empty. */
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DELETE_INDEX;
    job.index = "idx";
    assert_int_equal(store_engine_execute(e, &job), 0);
    assert_int_equal(run1(e, STORE_OP_INDEX, "z", 1, "{\"u\":1}"), STORE_OPERR_NONE);
    term_ids(e, "t", "old", got);
    assert_string_equal(got, "");
    /* PUT mapping: a conflict is refused with Elasticsearch's reason. */
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_PUT_MAPPING;
    job.index = "idx";
    job.mappings = "{\"properties\":{\"u\":{\"type\":\"keyword\"}}}";
    job.mappings_len = strlen(job.mappings);
    assert_int_equal(store_engine_execute(e, &job), 3);
    assert_string_equal(job.reason, "mapper [u] cannot be changed from type [long] to [keyword]");
    job.mappings = "{\"properties\":{\"v\":{\"type\":\"keyword\"}}}";
    job.mappings_len = strlen(job.mappings);
    assert_int_equal(store_engine_execute(e, &job), 0);
    assert_int_equal(run1(e, STORE_OP_INDEX, "y", 1, "{\"v\":5}"), STORE_OPERR_NONE); /* 5 → "5" */
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    buf mappings = BUF_INIT;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, &mappings), 1);
    assert_int_equal(store_engine_value_docs(r, &m, "v", "5", 1), 1);
    assert_non_null(strstr(mappings.data, "\"v\":{\"type\":\"keyword\"}"));
    buf_free(&mappings);
    store_engine_read_end(r);
    store_engine_close(e);
}

/* verstore_index_prepared_docs_total{result="used"|"redone"}. */
static void prepared_counts(store_engine *e, uint64_t *used, uint64_t *redone)
{
    buf b = BUF_INIT;
    assert_true(store_metrics_render(&b, e));
    const char *u = strstr(b.data, "verstore_index_prepared_docs_total{result=\"used\"} ");
    const char *r = strstr(b.data, "verstore_index_prepared_docs_total{result=\"redone\"} ");
    assert_non_null(u);
    assert_non_null(r);
    *used = strtoull(strchr(u, '}') + 2, NULL, 10);
    *redone = strtoull(strchr(r, '}') + 2, NULL, 10);
    buf_free(&b);
}

typedef struct done_flag {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
} done_flag;

static void flag_done(store_job *job)
{
    done_flag *f = job->arg;
    pthread_mutex_lock(&f->m);
    f->done = true;
    pthread_cond_signal(&f->c);
    pthread_mutex_unlock(&f->m);
}

/* Run a job prepared earlier (store_eng_prepare), without preparing it again. */
static void run_prepared(store_engine *e, store_job *job)
{
    done_flag f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    job->done = flag_done;
    job->arg = &f;
    store_eng_enqueue(e, job);
    pthread_mutex_lock(&f.m);
    while (!f.done)
        pthread_cond_wait(&f.c, &f.m);
    pthread_mutex_unlock(&f.m);
    assert_int_equal(job->rc, 0);
}

/* Documents are analysed on the submitting thread; the writer uses those
 * entries only while the index's mapping is the one they were made from. */
static void test_engine_prepared(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    store_job cj;
    memset(&cj, 0, sizeof cj);
    cj.kind = STORE_JOB_CREATE_INDEX;
    cj.index = "idx";
    cj.mappings = "{\"properties\":{\"t\":{\"type\":\"text\"}}}";
    cj.mappings_len = strlen(cj.mappings);
    cj.gc_deletes_ms = STORE_GC_UNSET;
    assert_int_equal(store_engine_execute(e, &cj), 0);
    uint64_t used0, redone0, used, redone;
    char got[1024];
    prepared_counts(e, &used0, &redone0);

    /* Unchanged mapping: the prepared entries are the ones written. */
    store_op ops[2] = {put_op(STORE_OP_INDEX, "a", 1, "{\"t\":\"hello world\"}"),
                       put_op(STORE_OP_INDEX, "b", 1, "{\"t\":\"hello there\"}")};
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = 2;
    assert_int_equal(store_engine_execute(e, &job), 0);
    prepared_counts(e, &used, &redone);
    assert_int_equal(used - used0, 2);
    assert_int_equal(redone - redone0, 0);
    term_ids(e, "t", "hello", got);
    assert_string_equal(got, "a,b");

    /* A multi-field added between the analysis and the write: the writer
     * analyses again, so the new field has the document. */
    store_op op = put_op(STORE_OP_INDEX, "c", 1, "{\"t\":\"late comer\"}");
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = &op;
    job.nops = 1;
    store_eng_prepare(e, &job);
    assert_non_null(job.prep);
    store_job mj;
    memset(&mj, 0, sizeof mj);
    mj.kind = STORE_JOB_PUT_MAPPING;
    mj.index = "idx";
    mj.mappings = "{\"properties\":{\"t\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\"}}}}}";
    mj.mappings_len = strlen(mj.mappings);
    assert_int_equal(store_engine_execute(e, &mj), 0);
    run_prepared(e, &job);
    assert_null(job.prep); /* the writer freed it */
    assert_int_equal(op.err, STORE_OPERR_NONE);
    store_op_clear(&op);
    prepared_counts(e, &used0, &redone0);
    assert_int_equal(used0 - used, 0);
    assert_int_equal(redone0 - redone, 1);
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    assert_int_equal(store_engine_value_docs(r, &m, "t.raw", "late comer", 10), 1);
    store_engine_read_end(r);

    /* The writer words a refusal itself (nothing is prepared for it), and a
     * document that adds a field leaves the rest of its job to the writer. */
    store_op mixed[3] = {put_op(STORE_OP_INDEX, "d", 1, "{\"t\":{\"x\":1}}"),
                         put_op(STORE_OP_INDEX, "e", 1, "{\"t\":\"new one\",\"n\":5}"),
                         put_op(STORE_OP_INDEX, "f", 1, "{\"t\":\"new two\"}")};
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = mixed;
    job.nops = 3;
    assert_int_equal(store_engine_execute(e, &job), 0);
    assert_int_equal(mixed[0].err, STORE_OPERR_MAPPING);
    assert_int_equal(mixed[1].err, STORE_OPERR_NONE);
    assert_int_equal(mixed[2].err, STORE_OPERR_NONE);
    prepared_counts(e, &used, &redone);
    assert_int_equal(used - used0, 0);
    assert_int_equal(redone - redone0, 0);
    term_ids(e, "t", "new", got);
    assert_string_equal(got, "e,f");
    r = store_engine_read_begin(e);
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    unsigned char five[8];
    store_index_enc_long(5, five);
    assert_int_equal(store_engine_value_docs(r, &m, "n", five, 8), 1);
    store_engine_read_end(r);
    for (int i = 0; i < 3; i++)
        store_op_clear(&mixed[i]);
    for (int i = 0; i < 2; i++)
        store_op_clear(&ops[i]);
    store_engine_close(e);
}

/* A directory indexed by the ASCII analyser (search_format 1) is analysed
 * again, once, at the first start: its CJK text becomes searchable. */
static void test_engine_reanalyse(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    char got[1024];
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"\xe4\xb9\x90\xe8\xa7\x82 CAF\xc3\x89\"}"),
                     STORE_OPERR_NONE);
    store_engine_close(e);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, terms, blocks;
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "terms", 0, &terms), 0);
    assert_int_equal(mdb_dbi_open(txn, "pblocks", 0, &blocks), 0);
    uint32_t one = 1;
    MDB_val k = {13, "search_format"}, v = {4, &one};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    /* stands for postings the old analyser wrote */
    assert_int_equal(mdb_drop(txn, terms, 0), 0);
    assert_int_equal(mdb_drop(txn, blocks, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    e = open_engine();
    term_ids(e, "t", "\xe4\xb9\x90", got);
    assert_string_equal(got, "a");
    term_ids(e, "t", "caf\xc3\xa9", got);
    assert_string_equal(got, "a");
    store_engine_close(e);
    /* and only once: the marker now says the current format */
    e = open_engine();
    term_ids(e, "t", "\xe8\xa7\x82", got);
    assert_string_equal(got, "a");
    store_engine_close(e);
}

/* In the terms database of the directory (engine closed): give term
 * `alias` the dictionary entry of term `of` (so that it reads of's
 * postings) and set search_format to `format`. */
static void fake_term(const char *of, const char *alias, uint32_t format)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, terms;
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "terms", 0, &terms), 0);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, terms, &cur), 0);
    MDB_val k, v;
    unsigned char key[256], val[64];
    size_t kn = 0, vn = 0, ol = strlen(of);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size > ol + 1 && ((const char *)k.mv_data)[k.mv_size - ol - 1] == 0 &&
            memcmp((const char *)k.mv_data + k.mv_size - ol, of, ol) == 0) {
            kn = k.mv_size - ol;
            memcpy(key, k.mv_data, kn);
            vn = v.mv_size;
            memcpy(val, v.mv_data, vn);
        }
    mdb_cursor_close(cur);
    assert_true(kn > 0 && vn > 0 && vn <= sizeof val);
    memcpy(key + kn, alias, strlen(alias));
    MDB_val fk = {kn + strlen(alias), key}, fv = {vn, val};
    assert_int_equal(mdb_put(txn, terms, &fk, &fv, 0), 0);
    MDB_val mk = {13, "search_format"}, mv = {4, &format};
    assert_int_equal(mdb_put(txn, meta, &mk, &mv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Format 8's standard tokenizer breaks words at '@' where format 7's kept
 * them whole: a format-7 directory whose dictionary holds a term with '@'
 * is indexed again at its first start (the old term goes, the address is
 * found by its parts); one without such a term is not (nothing is
 * rebuilt: a term planted in its dictionary stays). */
static void test_engine_reindex_at(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    char got[1024];
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"mail john@example.com\"}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "b", 1, "{\"t\":\"plain words\"}"), STORE_OPERR_NONE);
    term_ids(e, "t", "example.com", got);
    assert_string_equal(got, "a");
    store_engine_close(e);
    /* stands for the term format 7 wrote */
    fake_term("john", "john@example.com", 7);
    e = open_engine();
    term_ids(e, "t", "john@example.com", got);
    assert_string_equal(got, "");
    term_ids(e, "t", "example.com", got);
    assert_string_equal(got, "a");
    term_ids(e, "t", "words", got);
    assert_string_equal(got, "b");
    store_engine_close(e);
    fake_term("words", "planted", 7);
    e = open_engine();
    term_ids(e, "t", "planted", got);
    assert_string_equal(got, "b");
    term_ids(e, "t", "john", got);
    assert_string_equal(got, "a");
    store_engine_close(e);
}

/* A directory of search_format 2 (one LMDB duplicate per term and
 * document in "postings") is converted at its first start: the old
 * database is dropped and the blocks are built from the documents. */
static void test_engine_convert_format2(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    char got[1024];
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"t\":\"gamma delta\"}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "b", 1, "{\"t\":\"delta\"}"), STORE_OPERR_NONE);
    store_engine_close(e);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, terms, blocks, post;
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "terms", 0, &terms), 0);
    assert_int_equal(mdb_dbi_open(txn, "pblocks", 0, &blocks), 0);
    assert_int_equal(mdb_dbi_open(txn, "postings", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &post), 0);
    uint32_t two = 2;
    MDB_val k = {13, "search_format"}, v = {4, &two};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_drop(txn, terms, 0), 0);
    assert_int_equal(mdb_drop(txn, blocks, 0), 0);
    unsigned char pk[8] = {0, 0, 0, 1, 't', 0, 'x', 'y'}, pd[16] = {0};
    MDB_val k2 = {8, pk}, v2 = {16, pd};
    assert_int_equal(mdb_put(txn, post, &k2, &v2, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    e = open_engine();
    term_ids(e, "t", "delta", got);
    assert_string_equal(got, "a,b");
    term_ids(e, "t", "gamma", got);
    assert_string_equal(got, "a");
    store_engine_close(e);
    raw_begin(&env, &txn, MDB_RDONLY);
    assert_int_equal(mdb_dbi_open(txn, "postings", 0, &post), MDB_NOTFOUND);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
    uint32_t now;
    memcpy(&now, v.mv_data, 4);
    assert_int_equal(now, 8);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    /* a directory from a newer verstore is refused, not misread */
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint32_t nine = 9;
    v = (MDB_val){4, &nine};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    char err[256];
    assert_false(store_engine_open(&o, &e, err, sizeof err));
}

/* A directory of search_format 3 (every exact value in the one "values"
 * database) keeps its values where they are, as the oldest level: it only
 * gets the new format number, and reads, writes and deletes see both. */
static void test_engine_values_format3(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    assert_int_equal(run1(e, STORE_OP_INDEX, "a", 1, "{\"k\":\"old\",\"n\":7}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_INDEX, "b", 1, "{\"k\":\"old\",\"n\":8}"), STORE_OPERR_NONE);
    store_engine_close(e);
    /* Make it format 3: the newest level's entries into "values", the levels gone. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, v0, v4;
    MDB_cursor *cur;
    raw_begin(&env, &txn, 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "values", MDB_DUPSORT | MDB_DUPFIXED, &v0), 0);
    assert_int_equal(mdb_dbi_open(txn, "values4", MDB_DUPSORT | MDB_DUPFIXED, &v4), 0);
    assert_int_equal(mdb_cursor_open(txn, v4, &cur), 0);
    MDB_val k, v;
    int moved = 0;
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        assert_int_equal(mdb_put(txn, v0, &k, &v, 0), 0);
        moved++;
    }
    mdb_cursor_close(cur);
    assert_int_equal(moved, 4); /* k.keyword and n of two documents */
    for (int l = 1; l <= 4; l++) {
        char name[24];
        MDB_dbi d;
        snprintf(name, sizeof name, "values%d", l);
        assert_int_equal(mdb_dbi_open(txn, name, MDB_DUPSORT | MDB_DUPFIXED, &d), 0);
        assert_int_equal(mdb_drop(txn, d, 1), 0);
    }
    uint32_t three = 3;
    MDB_val fk = {13, "search_format"}, fv = {4, &three};
    assert_int_equal(mdb_put(txn, meta, &fk, &fv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    e = open_engine();
    assert_int_equal(run1(e, STORE_OP_INDEX, "c", 1, "{\"k\":\"old\",\"n\":9}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_DELETE, "a", 2, NULL), STORE_OPERR_NONE);
    char got[1024];
    range_ids(e, "n", 0, 100, false, got);
    assert_string_equal(got, "b,c");
    range_ids(e, "n", 0, 100, true, got);
    assert_string_equal(got, "c,b");
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    assert_int_equal(store_engine_value_docs(r, &m, "k.keyword", "old", 3), 2);
    size_t lv[8];
    assert_int_equal(store_engine_value_levels(r, lv, 8), 5);
    assert_int_equal(lv[0], 2); /* c's two values, in the newest level */
    assert_int_equal(lv[4], 2); /* b's, where format 3 had them (a's deleted from there) */
    store_engine_read_end(r);
    store_engine_close(e);

    /* not rebuilt: the marker says the current format and the old entries never moved */
    raw_begin(&env, &txn, MDB_RDONLY);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_get(txn, meta, &fk, &fv), 0);
    uint32_t now;
    memcpy(&now, fv.mv_data, 4);
    assert_int_equal(now, 8);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Small levels (vlevel_entries 1): values move down level by level as
 * documents come, and every read, overwrite and delete finds them wherever
 * they are. */
static void test_engine_value_levels(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char err[256], got[4096], want[4096];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20, .vlevel_entries = 1};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    char id[16], src[64];
    for (int i = 0; i < 600; i++) { /* one transaction each: a move after every write */
        snprintf(id, sizeof id, "d%03d", i);
        snprintf(src, sizeof src, "{\"n\":%d}", i % 300);
        assert_int_equal(run1(e, STORE_OP_INDEX, id, 1, src), STORE_OPERR_NONE);
    }
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    size_t lv[8];
    assert_int_equal(store_engine_value_levels(r, lv, 8), 5);
    /* newest level ≤ 1 entry, then at most 8, 64 and 512 (a move takes a level under its limit) */
    assert_true(lv[0] <= 1 && lv[1] <= 8 && lv[2] <= 64 && lv[3] <= 512);
    assert_true(lv[3] > 0 && lv[4] > 0);
    assert_int_equal(lv[0] + lv[1] + lv[2] + lv[3] + lv[4], 600);
    store_engine_read_end(r);
    /* values 5 and 295: two documents each, one from the oldest writes, one from the newest */
    range_ids(e, "n", 5, 6, false, got); /* [lo, hi) */
    assert_string_equal(got, "d005,d305");
    range_ids(e, "n", 295, 300, true, got); /* values descending, each one's documents ascending */
    assert_string_equal(got, "d299,d599,d298,d598,d297,d597,d296,d596,d295,d595");
    /* overwrite and delete entries that moved to the oldest level */
    assert_int_equal(run1(e, STORE_OP_INDEX, "d005", 2, "{\"n\":1000}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_DELETE, "d305", 2, NULL), STORE_OPERR_NONE);
    range_ids(e, "n", 5, 6, false, got);
    assert_string_equal(got, "");
    range_ids(e, "n", 999, 1001, false, got);
    assert_string_equal(got, "d005");
    range_ids(e, "n", 0, 2000, false, got);
    want[0] = '\0';
    for (int n = 0; n < 300; n++)
        for (int h = 0; h < 2; h++) {
            int i = n + 300 * h;
            if (i == 5 || i == 305)
                continue;
            snprintf(want + strlen(want), sizeof want - strlen(want), "%sd%03d", want[0] ? "," : "", i);
        }
    strcat(want, ",d005");
    assert_string_equal(got, want);
    store_engine_close(e);
}

/* Documents of one value range, visited in order: counted, each seq after
 * the one before (so none twice), the last one's id kept. */
typedef struct seqrun {
    store_rtxn *r;
    store_index_meta *m;
    int64_t last;
    size_t n, disorder;
    char last_id[16];
} seqrun;

static bool on_seqrun(const void *val, size_t len, int64_t seq, void *arg)
{
    (void)val, (void)len;
    seqrun *c = arg;
    c->disorder += seq <= c->last;
    c->last = seq;
    c->n++;
    const char *id;
    size_t n;
    store_doc_view v;
    assert_int_equal(store_engine_doc_by_seq(c->r, c->m, seq, &id, &n, &v), 1);
    snprintf(c->last_id, sizeof c->last_id, "%.*s", (int)n, id);
    return true;
}

static seqrun value_run(store_engine *e, const char *path, int64_t v)
{
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    seqrun c = {r, &m, -1, 0, 0, ""};
    unsigned char a[8], b[8];
    store_index_enc_long(v, a);
    store_index_enc_long(v + 1, b);
    assert_true(store_engine_values(r, &m, path, a, 8, true, b, 8, false, false, on_seqrun, &c));
    store_engine_read_end(r);
    c.r = NULL;
    c.m = NULL;
    return c;
}

/* Values many documents share (three values over 3 000 documents, and a
 * fourth in every one) move down the levels a key at a time, all its
 * documents together, also when they fill several LMDB pages (over 500
 * seqs); reads, overwrites and deletes still find each document once, in
 * order, wherever it is. */
static void test_engine_value_levels_shared(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20, .vlevel_entries = 64};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    char id[16], src[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "d%04d", i);
        snprintf(src, sizeof src, "{\"n\":%d,\"all\":7}", i % 3);
        assert_int_equal(run1(e, STORE_OP_INDEX, id, 1, src), STORE_OPERR_NONE);
    }
    store_rtxn *r = store_engine_read_begin(e);
    size_t lv[8];
    assert_int_equal(store_engine_value_levels(r, lv, 8), 5);
    assert_int_equal(lv[0] + lv[1] + lv[2] + lv[3] + lv[4], 6000);
    assert_true(lv[3] > 1000); /* levels 64, 512, 4 096: the shared keys moved on from the third, hundreds of documents at once */
    store_engine_read_end(r);
    /* overwrite one document of value 1 (now 2) and delete one of value 0 */
    assert_int_equal(run1(e, STORE_OP_INDEX, "d0001", 2, "{\"n\":2,\"all\":7}"), STORE_OPERR_NONE);
    assert_int_equal(run1(e, STORE_OP_DELETE, "d0003", 2, NULL), STORE_OPERR_NONE);
    size_t want[3] = {999, 999, 1001};
    for (int v = 0; v < 3; v++) {
        seqrun c = value_run(e, "n", v);
        assert_int_equal(c.n, want[v]);
        assert_int_equal(c.disorder, 0);
        if (v == 2)
            assert_string_equal(c.last_id, "d0001"); /* its overwrite is the newest document */
    }
    seqrun c = value_run(e, "all", 7);
    assert_int_equal(c.n, 2999);
    assert_int_equal(c.disorder, 0);
    store_engine_close(e);
}

typedef struct posv {
    int64_t n, last, bad;
    uint32_t tf0;
    uint32_t pos[8];
} posv;

static bool on_posv(const store_posting *p, void *arg)
{
    posv *c = arg;
    if (p->seq <= c->last)
        c->bad++;
    c->last = p->seq;
    if (!c->n) {
        c->tf0 = p->tf;
        for (uint32_t i = 0; i < p->tf && i < 8; i++)
            c->pos[i] = p->pos[i];
    }
    c->n++;
    return true;
}

static posv term_posv(store_engine *e, const char *path, const char *term)
{
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, "idx", &m, NULL, NULL), 1);
    posv c = {0, -1, 0, 0, {0}};
    assert_true(store_engine_postings(r, &m, path, term, strlen(term), true, on_posv, &c));
    assert_int_equal(store_engine_term_docs(r, &m, path, term, strlen(term)), c.n);
    store_engine_read_end(r);
    return c;
}

/* Postings across many blocks: a batch of many documents, overwrites and
 * deletes in the middle of long lists, positions and the gap between the
 * values of one field. */
static void test_engine_blocks(void **state)
{
    (void)state;
    store_engine *e = open_engine();
    enum { N = 700 };
    static store_op ops[N];
    static char ids_[N][16], srcs[N][96];
    for (int i = 0; i < N; i++) {
        snprintf(ids_[i], sizeof ids_[i], "d%d", i);
        snprintf(srcs[i], sizeof srcs[i], "{\"t\":\"common w%d common\",\"u\":[\"x y\",\"z\"]}", i % 7);
        ops[i] = put_op(STORE_OP_INDEX, ids_[i], 1, srcs[i]);
    }
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = N;
    assert_int_equal(store_engine_execute(e, &job), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ops[i].err, STORE_OPERR_NONE);
        store_op_clear(&ops[i]);
    }
    posv c = term_posv(e, "t", "common");
    assert_int_equal(c.n, N);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.tf0, 2);
    assert_int_equal(c.pos[0], 0);
    assert_int_equal(c.pos[1], 2);
    c = term_posv(e, "u", "z"); /* second value: after x y (0, 1), the gap of 100, then 102 */
    assert_int_equal(c.n, N);
    assert_int_equal(c.pos[0], 102);
    assert_int_equal(term_posv(e, "t", "w3").n, N / 7);
    /* overwrite every third document with other text, delete every fifth (one batch each) */
    int overwritten = 0, deleted = 0;
    memset(&job, 0, sizeof job);
    size_t nops = 0;
    for (int i = 0; i < N; i += 3) {
        ops[nops++] = put_op(STORE_OP_INDEX, ids_[i], 2, "{\"t\":\"other\"}");
        overwritten++;
    }
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = nops;
    assert_int_equal(store_engine_execute(e, &job), 0);
    for (size_t i = 0; i < nops; i++)
        store_op_clear(&ops[i]);
    nops = 0;
    for (int i = 1; i < N; i += 5)
        if (i % 3) {
            ops[nops++] = put_op(STORE_OP_DELETE, ids_[i], 3, NULL);
            deleted++;
        }
    job.nops = nops;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = nops;
    assert_int_equal(store_engine_execute(e, &job), 0);
    for (size_t i = 0; i < nops; i++)
        store_op_clear(&ops[i]);
    c = term_posv(e, "t", "common");
    assert_int_equal(c.n, N - overwritten - deleted);
    assert_int_equal(c.bad, 0);
    assert_int_equal(term_posv(e, "t", "other").n, overwritten);
    /* a term whose last document goes has no postings, no count, no dictionary entry */
    memset(&job, 0, sizeof job);
    nops = 0;
    for (int i = 0; i < N; i += 3)
        ops[nops++] = put_op(STORE_OP_DELETE, ids_[i], 4, NULL);
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = nops;
    assert_int_equal(store_engine_execute(e, &job), 0);
    for (size_t i = 0; i < nops; i++)
        store_op_clear(&ops[i]);
    assert_int_equal(term_posv(e, "t", "other").n, 0);
    store_engine_close(e);
}

/* half_float: IEEE half precision, ties to even, infinity past 65504. */
static void test_half_float(void **state)
{
    (void)state;
    assert_true(store_index_half_float(3.14159) == 3.140625);
    assert_true(store_index_half_float(1.0) == 1.0);
    assert_true(store_index_half_float(-0.1) == -0.0999755859375);
    assert_true(store_index_half_float(65504.0) == 65504.0);
    assert_true(store_index_half_float(65519.0) == 65504.0);
    assert_true(isinf(store_index_half_float(65520.0)));
    assert_true(store_index_half_float(2049.0) == 2048.0); /* tie: to even */
    assert_true(store_index_half_float(2051.0) == 2052.0);
    assert_true(store_index_half_float(1e-8) == 0.0);
    assert_true(store_index_half_float(6e-8) == 5.9604644775390625e-08); /* smallest subnormal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_float),
        cmocka_unit_test(test_analyze),
        cmocka_unit_test(test_norm_len),
        cmocka_unit_test(test_encodings_sort),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_mapping_parse),
        cmocka_unit_test(test_doc_entries_dynamic),
        cmocka_unit_test(test_doc_entries_strict),
        cmocka_unit_test(test_doc_stored_only),
        cmocka_unit_test_setup_teardown(test_engine_postings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_upgrade_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_values_format3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_value_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_value_levels_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_reanalyse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_prepared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_convert_format2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_reindex_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_blocks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
