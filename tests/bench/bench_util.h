/* bench_util — helpers the tests/bench load generators share (header only: each .c in tests/bench is a program of its own). */
#ifndef VERSYNC_BENCH_UTIL_H
#define VERSYNC_BENCH_UTIL_H

#include <curl/curl.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic seconds: for intervals only. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort order for latencies. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Option `opt`'s value `text` as a whole number ≥ min into *out; false with a
 * message naming program `prog` and the option when it is not one. */
static inline bool bench_parse_long(const char *prog, const char *opt, const char *text, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min) {
        fprintf(stderr, "%s: %s: bad value [%s]\n", prog, opt, text);
        return false;
    }
    *out = v;
    return true;
}

/* A keep-alive easy handle with headers `hdrs` handing the body to `on_body(…, userp)`,
 * or NULL. Caller owns it (curl_easy_cleanup). */
static inline CURL *bench_easy_with(struct curl_slist *hdrs, curl_write_callback on_body, void *userp)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, userp);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    return c;
}

#endif
