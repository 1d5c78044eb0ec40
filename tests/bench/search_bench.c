/* search_bench — index maintenance cost on ingest and term/match/match_phrase latency of verstore's _search.
 *
 *   search_bench --url URL [--mode all|ingest|query] [--shape text|notext|noindex] [--index NAME]
 *                [--docs N] [--batch B] [--conns C] [--queries Q] [--warmup W] [--qconns C] [--seed S]
 *                [--io-pid PID]
 *
 * The documents are small and generated from (seed, number), so a later query
 * run knows exactly what the index holds without asking it:
 *   {"status": one of 20 values, Zipf-distributed (28 % … 1.4 % of documents),
 *    "user":   one of 10 000 values, Zipf (10 % … 0.001 %),
 *    "n":      a long, "ts": an ISO date in 2024,
 *    "text":   6–10 words (8 on average) from a vocabulary of 5 000, Zipf:
 *              the commonest word is in ~60 % of documents, the rarest in ~0.02 %;
 *              English, German (umlauts, ß, Capitalised) and Chinese (one ideograph
 *              a word, runs unspaced) interleaved by rank, see sb_tables_init}
 * Zipf means the k-th commonest value has weight 1/k, as words in real text do,
 * so some terms have postings lists of most of the index and some of a handful.
 *
 * ingest: create the index with its mapping (text, notext: status and user
 *         keyword, n long, ts date, text text; notext leaves the text field out
 *         of the documents; noindex: {"dynamic":false}, nothing indexed, the
 *         pure document-store baseline), then send the N documents as _bulk
 *         requests of B over C keep-alive connections; checks _count == N. With
 *         --io-pid, samples the store's /proc/PID/io write_bytes and wchar at the start and
 *         at each tenth of N acknowledged, and reports bytes written per document
 *         in the first and last tenth and overall, and raw_bytes (the sources sent).
 * query:  against an index ingested with shape text and the same --docs and
 *         --seed: W warm-up queries of each kind, then Q term queries (half on
 *         status, half on user; values drawn log-uniformly by frequency rank so
 *         common and rare values are both well represented) and Q match queries
 *         (one or two words, drawn the same way) and Q match_phrase queries (two
 *         adjacent words of a random generated document), size 10, default
 *         track_total_hits, over C keep-alive connections. Every response must
 *         be 200 with the hits.total the generator predicts (value capped at
 *         10 000 with relation gte beyond, as Elasticsearch counts), min(10,
 *         total) hits, term hits holding the value, text hits (regenerated from
 *         their _id, _source.text byte for byte) holding one of the words or the
 *         phrase, in descending _score: a benchmark that silently measured
 *         errors or wrong answers would be worthless.
 * all:    ingest noindex, notext and text into sb_noindex, sb_notext, sb_text,
 *         then query sb_text.
 *
 * Prints one JSON line per step (tests/bench/search.sh turns them into table
 * rows) and exits 1 if any request failed or any answer was wrong.
 */
#include "bench_util.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SB_STATUSES 20
#define SB_USERS 10000
#define SB_VOCAB 5000
#define SB_MAX_WORDS 10
#define SB_SIZE 10
#define SB_TRACK 10000 /* Elasticsearch's default track_total_hits */

typedef enum sb_shape { SB_TEXT, SB_NOTEXT, SB_NOINDEX } sb_shape;
static const char *const sb_shape_names[] = {"text", "notext", "noindex"};

typedef struct sb_opts {
    const char *url;
    const char *mode;
    const char *index;
    sb_shape shape;
    long docs, batch, conns, queries, warmup, qconns;
    long io_pid; /* ingest: the store's pid, whose /proc/PID/io write_bytes and wchar are sampled; 0: none */
    uint64_t seed;
} sb_opts;

/* One generated document: indexes into the value tables. */
typedef struct sb_doc {
    int status, user, nwords;
    int words[SB_MAX_WORDS];
    long n;
    long ts; /* seconds since 2024-01-01 */
} sb_doc;

/* One query and what the generator says it must find. */
typedef enum sb_kind { SB_Q_TERM, SB_Q_MATCH, SB_Q_PHRASE } sb_kind;

typedef struct sb_query {
    sb_kind kind;
    const char *field; /* term: "status" or "user" */
    int value;         /* term: index into that field's values */
    int nwords;        /* match: 1 or 2; phrase: 2 */
    int words[2];      /* phrase: adjacent, in this order */
    long expect; /* matching documents */
    char body[160];
} sb_query;

static const char *const sb_status_names[SB_STATUSES] = {
    "active",   "pending",  "shipped",  "delivered", "cancelled", "returned", "refunded",
    "on_hold",  "archived", "draft",    "review",    "approved",  "rejected", "expired",
    "disputed", "partial",  "failed",   "queued",    "paused",    "locked"};

/* sb_vocab: a word as queries send it (lowercase); sb_vocab_doc: as documents hold it */
static char sb_vocab[SB_VOCAB][12], sb_vocab_doc[SB_VOCAB][12];
static bool sb_vocab_zh[SB_VOCAB]; /* Chinese: no space between it and a Chinese neighbour */
static double sb_cdf_status[SB_STATUSES], sb_cdf_user[SB_USERS], sb_cdf_word[SB_VOCAB];

/* splitmix64: small, fast, and seedable per document, so any document can be regenerated alone. */
static uint64_t sb_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double sb_rand01(uint64_t *s)
{
    return (double)(sb_rand(s) >> 11) / 9007199254740992.0;
}

static void sb_zipf_init(double *cdf, int n)
{
    double sum = 0;
    for (int k = 0; k < n; k++)
        cdf[k] = sum += 1.0 / (k + 1);
    for (int k = 0; k < n; k++)
        cdf[k] /= sum;
}

static int sb_zipf(const double *cdf, int n, uint64_t *s)
{
    double u = sb_rand01(s);
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A rank drawn log-uniformly from [0, n): each decade of frequency gets the same share of queries. */
static int sb_logrank(int n, uint64_t *s)
{
    int r = (int)exp(sb_rand01(s) * log((double)n)) - 1;
    return r < 0 ? 0 : r >= n ? n - 1 : r;
}

/* Three languages interleaved by rank (rank i is English for i % 3 == 0, German for 1, Chinese for 2), so
 * each has common and rare words. English: pronounceable ASCII syllables. German: syllables that always
 * hold an umlaut, some with ß, written Capitalised in the documents (Ä, Ö, Ü among the capitals) and sent
 * lowercase in queries, so matching needs Unicode lowercasing; letters only, so each stays one token.
 * Chinese: one Han ideograph (U+4E00 onwards), which the standard tokenizer emits as one token;
 * consecutive Chinese words are written without a space between them, as Chinese text is. */
static void sb_tables_init(void)
{
    static const char cons[] = "bcdfghjklmnprstvwxyz", vow[] = "aeiou";
    static const char *const uml[] = {"\u00e4", "\u00f6", "\u00fc"};
    for (int i = 0; i < SB_VOCAB; i++) {
        int j = i / 3; /* index within the word's language, < 1 667 */
        char *w = sb_vocab[i], *dw = sb_vocab_doc[i];
        size_t sz = sizeof(sb_vocab[i]);
        if (i % 3 == 0) {
            int a = j % 100, b = j / 100;
            snprintf(w, sz, "%c%c%c%c", cons[a / 5], vow[a % 5], cons[b / 5 % 20], vow[b % 5]);
            snprintf(dw, sz, "%s", w);
        } else if (i % 3 == 1) {
            /* first letter: 20 consonants or an umlaut (23 choices), then an umlaut, a consonant, e or eß:
             * 23 * 3 * 20 * 2 = 2 760 distinct words, lowercase forms distinct as well */
            static const char *const up[] = {"\u00c4", "\u00d6", "\u00dc"};
            int f = j % 23;
            char lo1[4], up1[4];
            if (f < 20) {
                snprintf(lo1, sizeof(lo1), "%c", cons[f]);
                snprintf(up1, sizeof(up1), "%c", cons[f] - 'a' + 'A');
            } else {
                snprintf(lo1, sizeof(lo1), "%s", uml[f - 20]);
                snprintf(up1, sizeof(up1), "%s", up[f - 20]);
            }
            const char *rest_v = uml[j / 23 % 3], *end = j / 1380 ? "e\u00df" : "e";
            char c2 = cons[j / 69 % 20];
            snprintf(w, sz, "%s%s%c%s", lo1, rest_v, c2, end);
            snprintf(dw, sz, "%s%s%c%s", up1, rest_v, c2, end);
        } else {
            unsigned cp = 0x4e00 + (unsigned)j; /* three UTF-8 bytes */
            snprintf(w, sz, "%c%c%c", (char)(0xe0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3f)),
                     (char)(0x80 | (cp & 0x3f)));
            snprintf(dw, sz, "%s", w);
            sb_vocab_zh[i] = true;
        }
    }
    sb_zipf_init(sb_cdf_status, SB_STATUSES);
    sb_zipf_init(sb_cdf_user, SB_USERS);
    sb_zipf_init(sb_cdf_word, SB_VOCAB);
}

static void sb_doc_gen(uint64_t seed, long id, sb_doc *d)
{
    uint64_t s = seed * 0x2545f4914f6cdd1dULL + (uint64_t)id;
    sb_rand(&s);
    d->status = sb_zipf(sb_cdf_status, SB_STATUSES, &s);
    d->user = sb_zipf(sb_cdf_user, SB_USERS, &s);
    d->n = (long)(sb_rand(&s) % 1000000000);
    d->ts = (long)(sb_rand(&s) % (366L * 86400));
    d->nwords = 6 + (int)(sb_rand(&s) % 5);
    for (int i = 0; i < d->nwords; i++)
        d->words[i] = sb_zipf(sb_cdf_word, SB_VOCAB, &s);
}

/* Words as text at p (documents' or queries' spelling): space separated, but none between two Chinese
 * words. Returns the bytes written (at most SB_MAX_WORDS * 12 for n <= SB_MAX_WORDS), NUL-terminated. */
static size_t sb_words(char *p, const int *words, int n, bool doc)
{
    char *q = p;
    *q = '\0';
    for (int i = 0; i < n; i++) {
        bool space = i && !(sb_vocab_zh[words[i - 1]] && sb_vocab_zh[words[i]]);
        q += sprintf(q, "%s%s", space ? " " : "", doc ? sb_vocab_doc[words[i]] : sb_vocab[words[i]]);
    }
    return (size_t)(q - p);
}

/* The bulk action and source lines of document `id` into buf (room for 512 bytes assured by the caller);
 * *source: the bytes of the source line alone (its JSON and newline), the "raw" size of the document. */
static size_t sb_doc_bulk(char *buf, uint64_t seed, long id, bool with_text, size_t *source)
{
    sb_doc d;
    sb_doc_gen(seed, id, &d);
    time_t t = (time_t)(1704067200L + d.ts); /* 2024-01-01T00:00:00Z */
    struct tm tm;
    gmtime_r(&t, &tm);
    char *p = buf;
    p += sprintf(p, "{\"index\":{\"_id\":\"d%ld\"}}\n", id);
    const char *src = p;
    p += sprintf(p,
                 "{\"status\":\"%s\",\"user\":\"user%05d\",\"n\":%ld,"
                 "\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"",
                 sb_status_names[d.status], d.user, d.n, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    if (with_text) {
        p += sprintf(p, ",\"text\":\"");
        p += sb_words(p, d.words, d.nwords, true);
        *p++ = '"';
    }
    p += sprintf(p, "}\n");
    *source = (size_t)(p - src);
    return (size_t)(p - buf);
}

/* ---- HTTP ------------------------------------------------------------------------ */

/* A response body, grown as needed (owned; freed by sb_resp_free). */
typedef struct sb_resp {
    char *data;
    size_t len, cap;
} sb_resp;

static size_t sb_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    sb_resp *r = userp;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        size_t cap = (r->len + n + 1) * 2;
        char *p = realloc(r->data, cap);
        if (!p)
            return 0; /* curl reports a write error */
        r->data = p;
        r->cap = cap;
    }
    memcpy(r->data + r->len, data, n);
    r->len += n;
    r->data[r->len] = '\0';
    return n;
}

static void sb_resp_free(sb_resp *r)
{
    free(r->data);
    *r = (sb_resp){0};
}

/* One request on handle c (method NULL: GET, or POST when body is given); the HTTP status, 0 on transport failure. */
static long sb_request(CURL *c, sb_resp *resp, const char *method, const char *url, const char *body)
{
    resp->len = 0;
    if (resp->data)
        resp->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "search_bench: %s %s: %s\n", method ? method : body ? "POST" : "GET", url,
                curl_easy_strerror(rc));
    return status;
}

/* A one-off request on a fresh handle; true when it answered `want`. */
static bool sb_call(const char *method, const char *url, const char *body, long want, sb_resp *resp)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = bench_easy_with(hdrs, sb_on_body, resp);
    long status = c ? sb_request(c, resp, method, url, body) : 0;
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    if (status != want) {
        fprintf(stderr, "search_bench: %s %s: HTTP %ld (want %ld) %.300s\n", method ? method : "GET", url, status,
                want, resp->data ? resp->data : "");
        return false;
    }
    return true;
}

/* ---- ingest ------------------------------------------------------------------------ */

typedef struct sb_ingest {
    const sb_opts *o;
    char index[128];
    atomic_long next_batch, done, failed, raw;
    atomic_flag reported;
    /* write_bytes and wchar of o->io_pid at the start (wb[0], wc[0]) and when the acknowledged
     * documents first reached k tenths of o->docs (wb[k], wc[k], wb_docs[k] the count then); -1 when
     * unread */
    pthread_mutex_t wb_lock;
    long long wb[11], wc[11];
    long wb_docs[11];
} sb_ingest;

/* From /proc/pid/io, -1 when unreadable:
 *  *wb write_bytes, what the kernel accounts as sent to storage: the page-cache folios the process
 *      dirtied, whole (on kernels with large folios, a 4 KiB write into a clean 64 KiB folio counts
 *      64 KiB), so scattered page writes count several times what they write;
 *  *wc wchar, the bytes the process passed to write calls: for verstore, LMDB's page writes (its
 *      answers go out by send(), which wchar does not count) and its log lines. */
static void sb_io(long pid, long long *wb, long long *wc)
{
    char path[64], line[128];
    *wb = *wc = -1;
    snprintf(path, sizeof(path), "/proc/%ld/io", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "write_bytes: %lld", wb) != 1)
            sscanf(line, "wchar: %lld", wc);
    fclose(f);
}

/* After n more documents were acknowledged (prev before them): sample /proc/PID/io for each tenth of
 * the ingest they completed. A batch may complete several tenths at once; each gets the same sample. */
static void sb_ingest_progress(sb_ingest *in, long prev, long n)
{
    const sb_opts *o = in->o;
    if (!o->io_pid)
        return;
    long from = prev * 10 / o->docs, to = (prev + n) * 10 / o->docs;
    if (to == from)
        return;
    pthread_mutex_lock(&in->wb_lock);
    long long vb, vc;
    sb_io(o->io_pid, &vb, &vc);
    for (long k = from + 1; k <= to && k <= 10; k++)
        if (in->wb_docs[k] < 0) {
            in->wb[k] = vb;
            in->wc[k] = vc;
            in->wb_docs[k] = prev + n;
        }
    pthread_mutex_unlock(&in->wb_lock);
}

/* Bytes per document between samples a and b of v (in->wb or in->wc), as JSON (null when either is
 * missing). */
static void sb_wb_json(char *buf, size_t sz, const sb_ingest *in, const long long *v, int a, int b)
{
    long docs = in->wb_docs[b] - in->wb_docs[a];
    if (v[a] < 0 || v[b] < 0 || in->wb_docs[a] < 0 || in->wb_docs[b] < 0 || docs <= 0)
        snprintf(buf, sz, "null");
    else
        snprintf(buf, sz, "%.1f", (double)(v[b] - v[a]) / (double)docs);
}

static void *sb_ingest_worker(void *arg)
{
    sb_ingest *in = arg;
    const sb_opts *o = in->o;
    bool with_text = o->shape != SB_NOTEXT;
    char *body = malloc((size_t)o->batch * 512 + 1);
    char url[1024];
    sb_resp resp = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    hdrs = curl_slist_append(hdrs, "Expect:");
    CURL *c = bench_easy_with(hdrs, sb_on_body, &resp);
    if (!body || !c) {
        fprintf(stderr, "search_bench: out of memory\n");
        atomic_fetch_add(&in->failed, 1);
        goto done;
    }
    snprintf(url, sizeof(url), "%s/%s/_bulk", o->url, in->index);
    long nbatches = (o->docs + o->batch - 1) / o->batch;
    for (;;) {
        long b = atomic_fetch_add(&in->next_batch, 1);
        if (b >= nbatches)
            break;
        long first = b * o->batch, last = first + o->batch < o->docs ? first + o->batch : o->docs;
        size_t len = 0, raw = 0;
        for (long id = first; id < last; id++) {
            size_t source;
            len += sb_doc_bulk(body + len, o->seed, id, with_text, &source);
            raw += source;
        }
        body[len] = '\0';
        long status = sb_request(c, &resp, "POST", url, body);
        /* errors:false is at the start of the response; a failed item anywhere sets it true */
        if (status != 200 || !resp.data || !strstr(resp.data, "\"errors\":false")) {
            atomic_fetch_add(&in->failed, 1);
            if (!atomic_flag_test_and_set(&in->reported))
                fprintf(stderr, "search_bench: bulk to %s: HTTP %ld %.300s\n", url, status,
                        resp.data ? resp.data : "");
            continue;
        }
        atomic_fetch_add(&in->raw, (long)raw);
        sb_ingest_progress(in, atomic_fetch_add(&in->done, last - first), last - first);
    }
done:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    sb_resp_free(&resp);
    free(body);
    return NULL;
}

static bool sb_run_ingest(const sb_opts *o, const char *index)
{
    static const char *const mapping_text =
        "{\"mappings\":{\"properties\":{\"status\":{\"type\":\"keyword\"},\"user\":{\"type\":\"keyword\"},"
        "\"n\":{\"type\":\"long\"},\"ts\":{\"type\":\"date\"},\"text\":{\"type\":\"text\"}}}}";
    sb_ingest in = {.o = o, .reported = ATOMIC_FLAG_INIT, .wb_lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(in.index, sizeof(in.index), "%s", index);
    for (int k = 0; k <= 10; k++) {
        in.wb[k] = in.wc[k] = -1;
        in.wb_docs[k] = -1;
    }
    char url[1024];
    sb_resp resp = {0};
    bool ok = false;
    pthread_t *tids = calloc((size_t)o->conns, sizeof(*tids));
    long started = 0;
    if (!tids)
        goto done;
    /* A fresh index, so that nothing but these documents is in the figures. */
    snprintf(url, sizeof(url), "%s/%s", o->url, index);
    if (!sb_call("PUT", url, o->shape == SB_NOINDEX ? "{\"mappings\":{\"dynamic\":false}}" : mapping_text, 200, &resp))
        goto done;
    if (o->io_pid) {
        sb_io(o->io_pid, &in.wb[0], &in.wc[0]);
        in.wb_docs[0] = 0;
        if (in.wb[0] < 0 || in.wc[0] < 0)
            fprintf(stderr, "search_bench: cannot read write_bytes and wchar of /proc/%ld/io\n", o->io_pid);
    }
    double t0 = bench_now();
    for (; started < o->conns; started++)
        if (pthread_create(&tids[started], NULL, sb_ingest_worker, &in) != 0) {
            fprintf(stderr, "search_bench: cannot start thread %ld\n", started);
            atomic_fetch_add(&in.failed, 1);
            break;
        }
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    double secs = bench_now() - t0;
    long done = atomic_load(&in.done), failed = atomic_load(&in.failed);
    snprintf(url, sizeof(url), "%s/%s/_count", o->url, index);
    long count = -1;
    if (sb_call(NULL, url, NULL, 200, &resp)) {
        cJSON *j = cJSON_Parse(resp.data);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "count");
        count = cJSON_IsNumber(n) ? (long)n->valuedouble : -1;
        cJSON_Delete(j);
    }
    if (count != o->docs)
        fprintf(stderr, "search_bench: %s holds %ld documents after the ingest, not %ld\n", index, count, o->docs);
    char wb_first[32], wb_last[32], wb_total[32], wc_first[32], wc_last[32], wc_total[32];
    sb_wb_json(wb_first, sizeof(wb_first), &in, in.wb, 0, 1);
    sb_wb_json(wb_last, sizeof(wb_last), &in, in.wb, 9, 10);
    sb_wb_json(wb_total, sizeof(wb_total), &in, in.wb, 0, 10);
    sb_wb_json(wc_first, sizeof(wc_first), &in, in.wc, 0, 1);
    sb_wb_json(wc_last, sizeof(wc_last), &in, in.wc, 9, 10);
    sb_wb_json(wc_total, sizeof(wc_total), &in, in.wc, 0, 10);
    printf("{\"mode\":\"ingest\",\"shape\":\"%s\",\"index\":\"%s\",\"docs\":%ld,\"batch\":%ld,\"conns\":%ld,"
           "\"seconds\":%.3f,\"rate\":%.0f,\"raw_bytes\":%ld,\"wb_first_tenth_per_doc\":%s,"
           "\"wb_last_tenth_per_doc\":%s,\"wb_total_per_doc\":%s,\"wc_first_tenth_per_doc\":%s,"
           "\"wc_last_tenth_per_doc\":%s,\"wc_total_per_doc\":%s,\"failed\":%ld}\n",
           sb_shape_names[o->shape], index, done, o->batch, o->conns, secs, done / secs, atomic_load(&in.raw),
           wb_first, wb_last, wb_total, wc_first, wc_last, wc_total, failed);
    fflush(stdout);
    ok = failed == 0 && done == o->docs && count == o->docs;
done:
    free(tids);
    sb_resp_free(&resp);
    return ok;
}

/* ---- queries ------------------------------------------------------------------------ */

static void sb_query_term(sb_query *q, bool status, uint64_t *s)
{
    *q = (sb_query){.kind = SB_Q_TERM, .field = status ? "status" : "user"};
    if (status) {
        q->value = (int)(sb_rand(s) % SB_STATUSES);
        snprintf(q->body, sizeof(q->body), "{\"query\":{\"term\":{\"status\":\"%s\"}},\"size\":%d}",
                 sb_status_names[q->value], SB_SIZE);
    } else {
        q->value = sb_logrank(SB_USERS, s);
        snprintf(q->body, sizeof(q->body), "{\"query\":{\"term\":{\"user\":\"user%05d\"}},\"size\":%d}", q->value,
                 SB_SIZE);
    }
}

static void sb_query_match(sb_query *q, int nwords, uint64_t *s)
{
    *q = (sb_query){.kind = SB_Q_MATCH, .nwords = nwords};
    q->words[0] = sb_logrank(SB_VOCAB, s);
    do
        q->words[1] = sb_logrank(SB_VOCAB, s);
    while (q->words[1] == q->words[0]);
    char text[2 * 12 + 2];
    sb_words(text, q->words, nwords, false); /* two Chinese words go as one run, as Chinese is written */
    snprintf(q->body, sizeof(q->body), "{\"query\":{\"match\":{\"text\":\"%s\"}},\"size\":%d}", text, SB_SIZE);
}

/* match_phrase of two adjacent words of a random document: pairs of common words match many documents,
 * pairs with a rare word a handful, and every phrase matches at least its source document. */
static void sb_query_phrase(sb_query *q, const sb_opts *o, uint64_t *s)
{
    *q = (sb_query){.kind = SB_Q_PHRASE, .nwords = 2};
    sb_doc d;
    sb_doc_gen(o->seed, (long)(sb_rand(s) % (uint64_t)o->docs), &d);
    int k = (int)(sb_rand(s) % (uint64_t)(d.nwords - 1));
    q->words[0] = d.words[k];
    q->words[1] = d.words[k + 1];
    char text[2 * 12 + 2];
    sb_words(text, q->words, 2, false);
    snprintf(q->body, sizeof(q->body), "{\"query\":{\"match_phrase\":{\"text\":\"%s\"}},\"size\":%d}", text,
             SB_SIZE);
}

/* Whether document d matches q (match: holds any of the words; phrase: holds them adjacent, in order). */
static bool sb_doc_matches(const sb_doc *d, const sb_query *q)
{
    for (int k = 0; k < d->nwords; k++) {
        if (q->kind == SB_Q_PHRASE) {
            if (k + 1 < d->nwords && d->words[k] == q->words[0] && d->words[k + 1] == q->words[1])
                return true;
        } else if (d->words[k] == q->words[0] || (q->nwords == 2 && d->words[k] == q->words[1])) {
            return true;
        }
    }
    return false;
}

/* Count, for every query, the documents that match it, by generating the corpus again
 * (no HTTP: the index must hold exactly these documents). False when out of memory. */
static bool sb_expect(const sb_opts *o, sb_query *qs, long nq)
{
    long status_n[SB_STATUSES] = {0};
    long *user_n = calloc(SB_USERS, sizeof(*user_n));
    long *stamp = calloc((size_t)nq, sizeof(*stamp));
    long *by_word_n = calloc(SB_VOCAB + 1, sizeof(*by_word_n));
    long *by_word = calloc((size_t)nq * 2 + 1, sizeof(*by_word));
    long *fill = calloc(SB_VOCAB, sizeof(*fill));
    bool ok = false;
    if (!user_n || !stamp || !by_word_n || !by_word || !fill)
        goto done;
    /* by_word[by_word_n[w] .. by_word_n[w+1]): the match and phrase queries that contain word w; a
     * document holding w is checked against each (sb_doc_matches: a phrase needs both, adjacent) */
    for (long i = 0; i < nq; i++)
        if (qs[i].kind != SB_Q_TERM)
            for (int k = 0; k < qs[i].nwords; k++)
                by_word_n[qs[i].words[k] + 1]++;
    for (int w = 0; w < SB_VOCAB; w++)
        by_word_n[w + 1] += by_word_n[w];
    for (long i = 0; i < nq; i++)
        if (qs[i].kind != SB_Q_TERM)
            for (int k = 0; k < qs[i].nwords; k++) {
                int w = qs[i].words[k];
                by_word[by_word_n[w] + fill[w]++] = i;
            }
    for (long id = 0; id < o->docs; id++) {
        sb_doc d;
        sb_doc_gen(o->seed, id, &d);
        status_n[d.status]++;
        user_n[d.user]++;
        for (int k = 0; k < d.nwords; k++)
            for (long j = by_word_n[d.words[k]]; j < by_word_n[d.words[k] + 1]; j++) {
                long qi = by_word[j];
                if (stamp[qi] != id + 1 && sb_doc_matches(&d, &qs[qi])) { /* count a document once */
                    stamp[qi] = id + 1;
                    qs[qi].expect++;
                }
            }
    }
    for (long i = 0; i < nq; i++)
        if (qs[i].kind == SB_Q_TERM)
            qs[i].expect = !strcmp(qs[i].field, "status") ? status_n[qs[i].value] : user_n[qs[i].value];
    ok = true;
done:
    free(user_n);
    free(stamp);
    free(by_word_n);
    free(by_word);
    free(fill);
    return ok;
}

/* Whether resp is the right answer to q; on a wrong one writes why into why. */
static bool sb_check(const sb_opts *o, const sb_query *q, const char *resp, char *why, size_t whysz)
{
    cJSON *j = cJSON_Parse(resp);
    const cJSON *hits = cJSON_GetObjectItemCaseSensitive(j, "hits");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(hits, "total");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(total, "value");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(total, "relation");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(hits, "hits");
    long want = q->expect > SB_TRACK ? SB_TRACK : q->expect;
    const char *want_rel = q->expect > SB_TRACK ? "gte" : "eq";
    long want_hits = q->expect < SB_SIZE ? q->expect : SB_SIZE;
    bool ok = false;
    if (!cJSON_IsNumber(value) || !cJSON_IsString(rel) || !cJSON_IsArray(arr)) {
        snprintf(why, whysz, "no hits.total {value, relation} or hits.hits");
        goto done;
    }
    if ((long)value->valuedouble != want || strcmp(rel->valuestring, want_rel)) {
        snprintf(why, whysz, "hits.total is %ld (%s), the index holds %ld matching documents (want %ld, %s)",
                 (long)value->valuedouble, rel->valuestring, q->expect, want, want_rel);
        goto done;
    }
    if (cJSON_GetArraySize(arr) != want_hits) {
        snprintf(why, whysz, "%d hits, want %ld", cJSON_GetArraySize(arr), want_hits);
        goto done;
    }
    double last = INFINITY;
    const cJSON *h;
    cJSON_ArrayForEach(h, arr)
    {
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(h, "_source");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "_id");
        const char *hid = cJSON_IsString(id) ? id->valuestring : "?";
        if (q->kind == SB_Q_TERM) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(src, q->field);
            char v[32];
            if (!strcmp(q->field, "status"))
                snprintf(v, sizeof(v), "%s", sb_status_names[q->value]);
            else
                snprintf(v, sizeof(v), "user%05d", q->value);
            if (!cJSON_IsString(f) || strcmp(f->valuestring, v)) {
                snprintf(why, whysz, "hit %s: %s is not %s", hid, q->field, v);
                goto done;
            }
            continue;
        }
        /* the hit's document regenerated: its text must come back byte for byte (UTF-8 kept) and match */
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(src, "text");
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(h, "_score");
        char *end = NULL, text[SB_MAX_WORDS * 12 + 1];
        long docid = hid[0] == 'd' ? strtol(hid + 1, &end, 10) : -1;
        if (docid < 0 || docid >= o->docs || !end || *end) {
            snprintf(why, whysz, "hit %s: not a generated document's _id", hid);
            goto done;
        }
        sb_doc d;
        sb_doc_gen(o->seed, docid, &d);
        sb_words(text, d.words, d.nwords, true);
        if (!cJSON_IsString(t) || strcmp(t->valuestring, text)) {
            snprintf(why, whysz, "hit %s: _source.text is not the document's text", hid);
            goto done;
        }
        if (!sb_doc_matches(&d, q)) {
            snprintf(why, whysz, "hit %s: text holds %s", hid,
                     q->kind == SB_Q_PHRASE ? "not the phrase" : "none of the query's words");
            goto done;
        }
        if (!cJSON_IsNumber(score) || score->valuedouble <= 0 || score->valuedouble > last) {
            snprintf(why, whysz, "hit %s: _score missing, not positive or not in descending order", hid);
            goto done;
        }
        last = score->valuedouble;
    }
    ok = true;
done:
    cJSON_Delete(j);
    return ok;
}

/* The queries one timed pass shares among its connections, and their latencies (µs). */
typedef struct sb_pass {
    const sb_opts *o;
    const char *url;
    const sb_query *qs;
    long nq;
    double *lat;
    double slow_us; /* env SB_SLOW_MS: print each timed query slower than this to stderr */
    atomic_long next, failed;
    atomic_flag reported;
} sb_pass;

static void *sb_query_worker(void *arg)
{
    sb_pass *p = arg;
    sb_resp resp = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = bench_easy_with(hdrs, sb_on_body, &resp);
    if (!c) {
        atomic_fetch_add(&p->failed, 1);
        goto done;
    }
    for (;;) {
        long i = atomic_fetch_add(&p->next, 1);
        if (i >= p->nq)
            break;
        const sb_query *q = &p->qs[i];
        double t0 = bench_now();
        long status = sb_request(c, &resp, "POST", p->url, q->body);
        p->lat[i] = (bench_now() - t0) * 1e6;
        if (p->slow_us > 0 && p->lat[i] > p->slow_us) /* SB_SLOW_MS: which queries make the tail */
            fprintf(stderr, "search_bench: slow %.3f ms: %s\n", p->lat[i] / 1e3, q->body);
        char why[256] = "";
        if (status != 200)
            snprintf(why, sizeof(why), "HTTP %ld", status);
        if (status != 200 || !sb_check(p->o, q, resp.data ? resp.data : "", why, sizeof(why))) {
            atomic_fetch_add(&p->failed, 1);
            if (!atomic_flag_test_and_set(&p->reported))
                fprintf(stderr, "search_bench: POST %s %s: %s; response: %.300s\n", p->url, q->body, why,
                        resp.data ? resp.data : "");
        }
    }
done:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    sb_resp_free(&resp);
    return NULL;
}

static double sb_pct(const double *sorted, long n, double p)
{
    return n ? sorted[(long)((double)(n - 1) * p)] / 1000 : 0;
}

/* Run the queries over o->qconns connections; prints their figures as the JSON member `name`
 * (when name is not NULL) and returns the number that failed. */
static long sb_pass_run(const sb_opts *o, const char *url, const sb_query *qs, long nq, const char *name)
{
    sb_pass p = {.o = o, .url = url, .qs = qs, .nq = nq, .reported = ATOMIC_FLAG_INIT};
    const char *slow = getenv("SB_SLOW_MS");
    p.slow_us = name && slow ? atof(slow) * 1e3 : 0;
    pthread_t *tids = calloc((size_t)o->qconns, sizeof(*tids));
    double *common = malloc((size_t)(nq ? nq : 1) * sizeof(*common));
    double *rare = malloc((size_t)(nq ? nq : 1) * sizeof(*rare));
    p.lat = calloc((size_t)(nq ? nq : 1), sizeof(*p.lat));
    long started = 0, failed = 1;
    if (!tids || !p.lat || !common || !rare) {
        fprintf(stderr, "search_bench: out of memory\n");
        goto done;
    }
    double t0 = bench_now();
    for (; started < o->qconns; started++)
        if (pthread_create(&tids[started], NULL, sb_query_worker, &p) != 0) {
            atomic_fetch_add(&p.failed, 1);
            break;
        }
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    double secs = bench_now() - t0;
    failed = atomic_load(&p.failed) + (started ? 0 : 1);
    if (!name)
        goto done;
    /* common: matches at least 1 % of the documents (long postings lists); rare: the rest */
    long nc = 0, nr = 0;
    for (long i = 0; i < nq; i++) {
        if (qs[i].expect * 100 >= o->docs)
            common[nc++] = p.lat[i];
        else
            rare[nr++] = p.lat[i];
    }
    qsort(p.lat, (size_t)nq, sizeof(double), bench_cmp_double);
    qsort(common, (size_t)nc, sizeof(double), bench_cmp_double);
    qsort(rare, (size_t)nr, sizeof(double), bench_cmp_double);
    printf(",\"%s\":{\"queries\":%ld,\"seconds\":%.3f,\"qps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"common\":%ld,\"common_p50_ms\":%.3f,\"common_p99_ms\":%.3f,\"rare\":%ld,\"rare_p50_ms\":%.3f,"
           "\"rare_p99_ms\":%.3f,\"failed\":%ld}",
           name, nq, secs, nq / secs, sb_pct(p.lat, nq, 0.5), sb_pct(p.lat, nq, 0.99), sb_pct(p.lat, nq, 1.0), nc,
           sb_pct(common, nc, 0.5), sb_pct(common, nc, 0.99), nr, sb_pct(rare, nr, 0.5), sb_pct(rare, nr, 0.99),
           failed);
done:
    free(tids);
    free(p.lat);
    free(common);
    free(rare);
    return failed;
}

static bool sb_run_queries(const sb_opts *o, const char *index)
{
    /* layout: [warm-up term | warm-up match | warm-up phrase | term | match | phrase], 3 W + 3 Q queries */
    long w = o->warmup, q = o->queries, nq = 3 * (w + q);
    sb_query *qs = calloc((size_t)nq, sizeof(*qs));
    char url[1024];
    sb_resp resp = {0};
    bool ok = false;
    if (!qs) {
        fprintf(stderr, "search_bench: out of memory\n");
        goto done;
    }
    uint64_t s = o->seed ^ 0x5eedf00dULL;
    for (long i = 0; i < w; i++) {
        sb_query_term(&qs[i], i % 2 == 0, &s);
        sb_query_match(&qs[w + i], 1 + (int)(i % 2), &s);
        sb_query_phrase(&qs[2 * w + i], o, &s);
    }
    sb_query *timed = qs + 3 * w;
    for (long i = 0; i < q; i++) {
        sb_query_term(&timed[i], i % 2 == 0, &s);
        sb_query_match(&timed[q + i], 1 + (int)(i % 2), &s);
        sb_query_phrase(&timed[2 * q + i], o, &s);
    }
    double t0 = bench_now();
    if (!sb_expect(o, qs, nq)) {
        fprintf(stderr, "search_bench: out of memory\n");
        goto done;
    }
    fprintf(stderr, "search_bench: expected counts of %ld queries in %.1f s\n", nq, bench_now() - t0);
    snprintf(url, sizeof(url), "%s/%s/_count", o->url, index);
    if (!sb_call(NULL, url, NULL, 200, &resp))
        goto done;
    if (!strstr(resp.data, "\"count\":")) {
        fprintf(stderr, "search_bench: %s: no count in %.200s\n", url, resp.data);
        goto done;
    }
    long count = atol(strstr(resp.data, "\"count\":") + 8);
    if (count != o->docs) {
        fprintf(stderr, "search_bench: %s holds %ld documents; queries need the %ld of an ingest with shape text\n",
                index, count, o->docs);
        goto done;
    }
    snprintf(url, sizeof(url), "%s/%s/_search", o->url, index);
    long failed = sb_pass_run(o, url, qs, 3 * w, NULL);
    printf("{\"mode\":\"query\",\"index\":\"%s\",\"docs\":%ld,\"conns\":%ld,\"warmup\":%ld", index, o->docs,
           o->qconns, 3 * w);
    failed += sb_pass_run(o, url, timed, q, "term");
    failed += sb_pass_run(o, url, timed + q, q, "match");
    failed += sb_pass_run(o, url, timed + 2 * q, q, "match_phrase");
    printf(",\"failed\":%ld}\n", failed);
    fflush(stdout);
    ok = failed == 0;
done:
    free(qs);
    sb_resp_free(&resp);
    return ok;
}

/* ---- options ------------------------------------------------------------------------ */

static void sb_usage(FILE *f)
{
    fprintf(f,
            "usage: search_bench --url URL [--mode all|ingest|query] [--shape text|notext|noindex] [--index NAME]\n"
            "                    [--docs N] [--batch B] [--conns C] [--queries Q] [--warmup W] [--qconns C]\n"
            "                    [--seed S] [--io-pid PID]\n"
            "  ingest: create NAME with the shape's mapping, _bulk N docs (default 1000000) in batches of B\n"
            "          (default 2000) over C connections (default 4); with --io-pid, bytes the store wrote\n"
            "          per document (/proc/PID/io write_bytes and wchar) in the first and last tenth and overall\n"
            "  query:  W warm-up (default 200) of each kind, then Q (default 3000) term, Q match and Q\n"
            "          match_phrase queries over C\n"
            "          connections (--qconns, default 1) against an index ingested with shape text\n"
            "  all:    ingest noindex, notext, text into sb_noindex, sb_notext, sb_text; query sb_text\n");
}

static bool sb_parse(int argc, char **argv, sb_opts *o)
{
    *o = (sb_opts){.mode = "all", .docs = 1000000, .batch = 2000, .conns = 4, .queries = 3000, .warmup = 200,
                   .qconns = 1, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            sb_usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "search_bench: %s needs a value\n", a);
            return false;
        }
        const char *v = argv[++i];
        long n;
        bool ok = true;
        if (!strcmp(a, "--url"))
            o->url = v;
        else if (!strcmp(a, "--mode"))
            o->mode = v;
        else if (!strcmp(a, "--index"))
            o->index = v;
        else if (!strcmp(a, "--shape")) {
            int k = 0;
            while (k < 3 && strcmp(v, sb_shape_names[k]))
                k++;
            if (k == 3) {
                fprintf(stderr, "search_bench: --shape: bad value [%s]\n", v);
                return false;
            }
            o->shape = (sb_shape)k;
        } else if (!strcmp(a, "--docs") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->docs = n;
        else if (!strcmp(a, "--batch") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->batch = n;
        else if (!strcmp(a, "--conns") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->conns = n;
        else if (!strcmp(a, "--queries") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->queries = n;
        else if (!strcmp(a, "--warmup") && (ok = bench_parse_long("search_bench", a, v, 0, &n)))
            o->warmup = n;
        else if (!strcmp(a, "--qconns") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->qconns = n;
        else if (!strcmp(a, "--io-pid") && (ok = bench_parse_long("search_bench", a, v, 1, &n)))
            o->io_pid = n;
        else if (!strcmp(a, "--seed") && (ok = bench_parse_long("search_bench", a, v, 0, &n)))
            o->seed = (uint64_t)n;
        else {
            if (ok)
                fprintf(stderr, "search_bench: unknown option %s\n", a);
            return false;
        }
    }
    if (!o->url || (strcmp(o->mode, "all") && strcmp(o->mode, "ingest") && strcmp(o->mode, "query"))) {
        sb_usage(stderr);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    sb_opts o;
    if (!sb_parse(argc, argv, &o))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sb_tables_init();
    bool ok = true;
    if (!strcmp(o.mode, "ingest")) {
        ok = sb_run_ingest(&o, o.index ? o.index : "sb");
    } else if (!strcmp(o.mode, "query")) {
        ok = sb_run_queries(&o, o.index ? o.index : "sb");
    } else {
        static const char *const names[] = {"sb_text", "sb_notext", "sb_noindex"};
        for (int k = SB_NOINDEX; k >= SB_TEXT && ok; k--) {
            o.shape = (sb_shape)k;
            ok = sb_run_ingest(&o, names[k]);
        }
        ok = ok && sb_run_queries(&o, "sb_text");
    }
    curl_global_cleanup();
    return ok ? 0 : 1;
}
