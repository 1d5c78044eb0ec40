/* store_bench — load generator for verstore (or any Elasticsearch-compatible store).
 *
 *   store_bench --url URL --mode bulk [--docs N] [--batch B] [--size BYTES] [--conns C] [--index NAME]
 *   store_bench --url URL --mode put  [--seconds S] [--size BYTES] [--conns C] [--index NAME]
 *   store_bench --url URL --mode bulk --file NDJSON [--batch B] [--conns C]
 *
 * bulk: N documents of about BYTES each, sent as _bulk requests of B documents
 *       with version_type=external, over C keep-alive connections (one thread each).
 *       With --file the bodies are slices of B action/source line pairs of the
 *       file, loaded before the clock starts (the store-side limit of a drain:
 *       the very documents versync would send, pre-built).
 * put:  single-document PUT /{index}/_doc/{id}?version=1&version_type=external
 *       over C keep-alive connections for S seconds; reports req/s and latency.
 *
 * Prints one JSON line with the figures (run.sh turns them into a table) and
 * exits 1 if any request failed (a benchmark of failing requests is no benchmark).
 */
#include "bench_util.h"

#include <curl/curl.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_opts {
    const char *url;
    const char *mode;
    const char *index;
    const char *file;
    long docs;
    long batch;
    long size;
    long conns;
    double seconds;
} bench_opts;

/* Shared by the worker threads: the options, the next batch to send, counters. */
typedef struct bench_shared {
    const bench_opts *o;
    atomic_long next_batch;
    atomic_long failed;
    atomic_long done;
    double deadline;
    char *pad; /* the padding string that makes a document about o->size bytes */
    char *file;        /* --file: its bytes (owned), or NULL */
    size_t *file_docs; /* --file: offset of each document's action line, plus the end (owned) */
} bench_shared;

/* One worker thread's state; lat (owned here, freed by main) holds put latencies in µs. */
typedef struct bench_worker {
    pthread_t tid;
    int n;
    bench_shared *sh;
    double *lat;
    size_t nlat, caplat;
    char first_error[256];
} bench_worker;

/* Keeps the first bytes of a response: enough to see the status line of a bulk. */
typedef struct bench_resp {
    char head[512];
    size_t len;
} bench_resp;

static size_t bench_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    bench_resp *r = userp;
    size_t n = size * nmemb;
    size_t room = sizeof(r->head) - 1 - r->len;
    size_t take = n < room ? n : room;
    memcpy(r->head + r->len, data, take);
    r->len += take;
    r->head[r->len] = '\0';
    return n;
}

static void bench_fail(bench_worker *w, const char *what, long status, const char *body)
{
    atomic_fetch_add(&w->sh->failed, 1);
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof(w->first_error), "%s: HTTP %ld %.160s", what, status, body ? body : "");
}

/* Append one document's action and source lines for id `n` to `buf` (room assured by the caller). */
static size_t bench_bulk_doc(char *buf, const bench_shared *sh, long n)
{
    return (size_t)sprintf(buf,
                           "{\"index\":{\"_id\":\"d%ld\",\"version\":%ld,\"version_type\":\"external\"}}\n"
                           "{\"n\":%ld,\"title\":\"document %ld\",\"pad\":\"%s\"}\n",
                           n, n + 1, n, n, sh->pad);
}

static void *bench_bulk_worker(void *arg)
{
    bench_worker *w = arg;
    bench_shared *sh = w->sh;
    const bench_opts *o = sh->o;
    size_t cap = sh->file ? 1 : (size_t)o->batch * ((size_t)o->size + 160) + 1;
    char *body = malloc(cap);
    char url[1024];
    bench_resp resp;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    hdrs = curl_slist_append(hdrs, "Expect:");
    CURL *c = bench_easy_with(hdrs, bench_on_body, &resp);
    if (!body || !c) {
        bench_fail(w, "setup", 0, "out of memory");
        goto done;
    }
    snprintf(url, sizeof(url), "%s/%s/_bulk", o->url, o->index);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    long nbatches = (o->docs + o->batch - 1) / o->batch;
    for (;;) {
        long b = atomic_fetch_add(&sh->next_batch, 1);
        if (b >= nbatches)
            break;
        long first = b * o->batch;
        long last = first + o->batch < o->docs ? first + o->batch : o->docs;
        size_t len = 0;
        const char *send = body;
        if (sh->file) {
            send = sh->file + sh->file_docs[first];
            len = sh->file_docs[last] - sh->file_docs[first];
        } else {
            for (long n = first; n < last; n++)
                len += bench_bulk_doc(body + len, sh, n);
        }
        resp.len = 0;
        resp.head[0] = '\0';
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, send);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            bench_fail(w, "bulk transport", 0, curl_easy_strerror(rc));
            continue;
        }
        if (status != 200 || !strstr(resp.head, "\"errors\":false")) {
            bench_fail(w, "bulk", status, resp.head);
            continue;
        }
        atomic_fetch_add(&sh->done, last - first);
    }
done:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    free(body);
    return NULL;
}

static bool bench_lat_push(bench_worker *w, double us)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 65536;
        double *p = realloc(w->lat, cap * sizeof(*p));
        if (!p)
            return false;
        w->lat = p;
        w->caplat = cap;
    }
    w->lat[w->nlat++] = us;
    return true;
}

static void *bench_put_worker(void *arg)
{
    bench_worker *w = arg;
    bench_shared *sh = w->sh;
    const bench_opts *o = sh->o;
    size_t cap = (size_t)o->size + 128;
    char *body = malloc(cap);
    char url[1024];
    bench_resp resp;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    CURL *c = bench_easy_with(hdrs, bench_on_body, &resp);
    if (!body || !c) {
        bench_fail(w, "setup", 0, "out of memory");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    for (long k = 0;; k++) {
        double t0 = bench_now();
        if (t0 >= sh->deadline)
            break;
        int len = snprintf(body, cap, "{\"n\":%ld,\"title\":\"document %ld\",\"pad\":\"%s\"}", k, k, sh->pad);
        snprintf(url, sizeof(url), "%s/%s/_doc/t%d-%ld?version=1&version_type=external", o->url, o->index, w->n, k);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        resp.len = 0;
        resp.head[0] = '\0';
        CURLcode rc = curl_easy_perform(c);
        double t1 = bench_now();
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            bench_fail(w, "put transport", 0, curl_easy_strerror(rc));
            continue;
        }
        if (status != 201) {
            bench_fail(w, "put", status, resp.head);
            continue;
        }
        if (!bench_lat_push(w, (t1 - t0) * 1e6)) {
            bench_fail(w, "latency buffer", 0, "out of memory");
            break;
        }
        atomic_fetch_add(&sh->done, 1);
    }
done:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    free(body);
    return NULL;
}

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: store_bench --url URL --mode bulk|put [--docs N] [--batch B] [--size BYTES]\n"
               "                   [--conns C] [--seconds S] [--index NAME]\n"
               "  bulk: N docs (default 200000) in _bulk requests of B (default 1000), external versions\n"
               "  put:  single-doc PUTs for S seconds (default 5); prints req/s and p50/p99 latency\n"
               "  --size: approximate document size in bytes (default 1024); --conns: connections (default 2)\n");
}

static bool bench_parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.mode = "bulk", .index = "bench", .docs = 200000, .batch = 1000, .size = 1024, .conns = 2,
                      .seconds = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            bench_usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "store_bench: %s needs a value\n", a);
            return false;
        }
        const char *v = argv[++i];
        long n;
        if (!strcmp(a, "--url"))
            o->url = v;
        else if (!strcmp(a, "--mode"))
            o->mode = v;
        else if (!strcmp(a, "--index"))
            o->index = v;
        else if (!strcmp(a, "--file"))
            o->file = v;
        else if (!strcmp(a, "--docs") && bench_parse_long("store_bench", a, v, 1, &n))
            o->docs = n;
        else if (!strcmp(a, "--batch") && bench_parse_long("store_bench", a, v, 1, &n))
            o->batch = n;
        else if (!strcmp(a, "--size") && bench_parse_long("store_bench", a, v, 64, &n))
            o->size = n;
        else if (!strcmp(a, "--conns") && bench_parse_long("store_bench", a, v, 1, &n))
            o->conns = n;
        else if (!strcmp(a, "--seconds") && bench_parse_long("store_bench", a, v, 1, &n))
            o->seconds = (double)n;
        else {
            fprintf(stderr, "store_bench: bad option or value: %s %s\n", a, v);
            return false;
        }
    }
    if (!o->url || (strcmp(o->mode, "bulk") && strcmp(o->mode, "put"))) {
        bench_usage(stderr);
        return false;
    }
    return true;
}

/* Create the index up front so that auto-creation is not part of the figures. */
static void bench_create_index(const bench_opts *o)
{
    char url[1024];
    bench_resp resp = {0};
    CURL *c = bench_easy_with(NULL, bench_on_body, &resp);
    if (!c)
        return;
    snprintf(url, sizeof(url), "%s/%s", o->url, o->index);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_perform(c); /* 400 "already exists" is fine */
    curl_easy_cleanup(c);
}

/* --file: read the whole NDJSON file and index its documents (pairs of lines);
 * o->docs becomes their count. False with a message on failure. */
static bool bench_load_file(bench_shared *sh, bench_opts *o)
{
    FILE *f = fopen(o->file, "rb");
    if (!f) {
        fprintf(stderr, "store_bench: %s: %s\n", o->file, strerror(errno));
        return false;
    }
    size_t cap = 1 << 20, len = 0, n;
    sh->file = malloc(cap);
    while (sh->file && (n = fread(sh->file + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *p = realloc(sh->file, cap *= 2);
            if (!p) {
                free(sh->file);
                sh->file = NULL;
            } else
                sh->file = p;
        }
    }
    fclose(f);
    size_t lines = 0;
    for (size_t i = 0; sh->file && i < len; i++)
        lines += sh->file[i] == '\n';
    if (!sh->file || lines < 2 || lines % 2 || sh->file[len - 1] != '\n') {
        fprintf(stderr, "store_bench: %s: not an NDJSON bulk body of action/source line pairs\n", o->file);
        return false;
    }
    sh->file_docs = malloc((lines / 2 + 1) * sizeof *sh->file_docs);
    if (!sh->file_docs) {
        fprintf(stderr, "store_bench: out of memory\n");
        return false;
    }
    size_t d = 0, line = 0;
    sh->file_docs[d++] = 0;
    for (size_t i = 0; i < len; i++)
        if (sh->file[i] == '\n' && ++line % 2 == 0)
            sh->file_docs[d++] = i + 1;
    o->docs = (long)(lines / 2);
    return true;
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc = 1;
    bench_worker *ws = NULL;
    bench_shared sh = {0};
    if (!bench_parse(argc, argv, &o))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sh.o = &o;
    /* ~60 bytes of fixed JSON per document; the padding brings it to o.size. */
    size_t padlen = (size_t)o.size > 60 ? (size_t)o.size - 60 : 4;
    sh.pad = malloc(padlen + 1);
    ws = calloc((size_t)o.conns, sizeof(*ws));
    if (!sh.pad || !ws) {
        fprintf(stderr, "store_bench: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < padlen; i++)
        sh.pad[i] = (char)('a' + i % 26);
    sh.pad[padlen] = '\0';
    if (o.file && !bench_load_file(&sh, &o))
        goto done;
    bench_create_index(&o);

    bool bulk = !strcmp(o.mode, "bulk");
    double t0 = bench_now();
    sh.deadline = t0 + o.seconds;
    long started = 0;
    for (long i = 0; i < o.conns; i++) {
        ws[i].n = (int)i;
        ws[i].sh = &sh;
        if (pthread_create(&ws[i].tid, NULL, bulk ? bench_bulk_worker : bench_put_worker, &ws[i]) != 0) {
            fprintf(stderr, "store_bench: cannot start thread %ld\n", i);
            break;
        }
        started++;
    }
    for (long i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    double secs = bench_now() - t0;
    long done = atomic_load(&sh.done), failed = atomic_load(&sh.failed);
    for (long i = 0; i < started; i++)
        if (ws[i].first_error[0]) {
            fprintf(stderr, "store_bench: %ld failed request(s); first: %s\n", failed, ws[i].first_error);
            break;
        }

    if (bulk) {
        printf("{\"mode\":\"bulk\",\"docs\":%ld,\"batch\":%ld,\"size\":%ld,\"conns\":%ld,\"seconds\":%.3f,"
               "\"rate\":%.0f,\"failed\":%ld}\n",
               done, o.batch, o.size, o.conns, secs, done / secs, failed);
    } else {
        size_t n = 0;
        for (long i = 0; i < started; i++)
            n += ws[i].nlat;
        double *all = malloc((n ? n : 1) * sizeof(*all));
        if (!all) {
            fprintf(stderr, "store_bench: out of memory\n");
            goto done;
        }
        size_t k = 0;
        for (long i = 0; i < started; i++) {
            memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof(*all));
            k += ws[i].nlat;
        }
        qsort(all, n, sizeof(*all), bench_cmp_double);
        double p50 = n ? all[n / 2] : 0, p99 = n ? all[(size_t)((double)(n - 1) * 0.99)] : 0,
               max = n ? all[n - 1] : 0;
        printf("{\"mode\":\"put\",\"requests\":%ld,\"size\":%ld,\"conns\":%ld,\"seconds\":%.3f,\"rate\":%.0f,"
               "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"failed\":%ld}\n",
               done, o.size, o.conns, secs, done / secs, p50 / 1000, p99 / 1000, max / 1000, failed);
        free(all);
    }
    rc = failed == 0 && done > 0 ? 0 : 1;
done:
    if (ws)
        for (long i = 0; i < o.conns; i++)
            free(ws[i].lat);
    free(ws);
    free(sh.pad);
    free(sh.file);
    free(sh.file_docs);
    curl_global_cleanup();
    return rc;
}
