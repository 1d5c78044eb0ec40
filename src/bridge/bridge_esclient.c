/* esclient — one keep-alive HTTP connection to verstore, Elasticsearch or OpenSearch. */
#include "versync/bridge/esclient.h"

#include "versync/common/log.h"
#include "versync/common/scan.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct esc {
    CURL *curl;
    char *base;      /* url without trailing slash */
    char *safe_base; /* base with secrets removed, for messages */
    char *userpwd;   /* "user:password" or NULL */
    struct curl_slist *auth_header; /* Authorization: ApiKey … */
    long retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

esc *esc_new(const cfg_store *store, char *err, size_t errsz)
{
    pthread_once(&global_once, global_init);
    esc *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->retry_after_ms = -1;
    const char *url = store->url && *store->url ? store->url : "http://127.0.0.1:9200";
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    c->base = strndup(url, n);
    c->safe_base = malloc(n + 16);
    c->curl = curl_easy_init();
    if (!c->base || !c->safe_base || !c->curl)
        goto oom;
    log_redact(c->base, c->safe_base, n + 16);
    if (store->username && *store->username) {
        size_t len = strlen(store->username) + 2 + (store->password ? strlen(store->password) : 0);
        if (!(c->userpwd = malloc(len)))
            goto oom;
        snprintf(c->userpwd, len, "%s:%s", store->username, store->password ? store->password : "");
    }
    if (store->api_key && *store->api_key) {
        size_t len = strlen(store->api_key) + 32;
        char *h = malloc(len);
        if (!h)
            goto oom;
        snprintf(h, len, "Authorization: ApiKey %s", store->api_key);
        c->auth_header = curl_slist_append(NULL, h);
        free(h);
        if (!c->auth_header)
            goto oom;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, store->timeout_ms > 0 ? store->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, store->timeout_ms > 0 ? store->timeout_ms : 10000L);
    if (store->ca_file && *store->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, store->ca_file);
    if (store->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
    }
    return c;
oom:
    snprintf(err, errsz, "out of memory creating the store client");
    esc_free(c);
    return NULL;
}

void esc_free(esc *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->auth_header);
    if (c->userpwd) /* do not leave the password in freed memory */
        memset(c->userpwd, 0, strlen(c->userpwd));
    free(c->userpwd);
    free(c->base);
    free(c->safe_base);
    free(c);
}

typedef struct sink {
    buf *resp;
    bool overflow;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    sink *s = arg;
    size_t n = size * nmemb;
    if (!buf_append(s->resp, data, n)) {
        s->overflow = true;
        return 0; /* makes curl fail the transfer */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    esc *c = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        /* Only the delta-seconds form; an HTTP-date is rare from these servers. */
        char v[32];
        const char *p = data + sizeof name - 1, *e = data + n;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        int64_t secs;
        if ((size_t)(e - p) < sizeof v) {
            memcpy(v, p, (size_t)(e - p));
            v[e - p] = '\0';
            if (scan_int64(v, 0, 86399, &secs))
                c->retry_after_ms = (long)secs * 1000;
        }
    }
    return n;
}

int esc_request(esc *c, const char *method, const char *path, const char *content_type, const char *body,
                size_t body_len, const char *opaque_id, buf *resp, char *err, size_t errsz)
{
    CURL *h = c->curl;
    int status = ESC_TRANSPORT_ERROR;
    struct curl_slist *headers = NULL;
    char *url = NULL;
    size_t ulen = strlen(c->base) + strlen(path) + 2;
    if (!(url = malloc(ulen))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    snprintf(url, ulen, "%s%s%s", c->base, path[0] == '/' ? "" : "/", path);

    char line[256];
    for (const struct curl_slist *a = c->auth_header; a; a = a->next)
        headers = curl_slist_append(headers, a->data);
    if (body) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type ? content_type : "application/json");
        headers = curl_slist_append(headers, line);
    }
    if (opaque_id) {
        snprintf(line, sizeof line, "X-Opaque-Id: %s", opaque_id);
        headers = curl_slist_append(headers, line);
    }
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */

    c->retry_after_ms = -1;
    c->errbuf[0] = '\0';
    sink s = {resp, false};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "HEAD") == 0 ? NULL : method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "HEAD") != 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (s.overflow && resp->failed)
            snprintf(err, errsz, "%s %s: out of memory reading the response", method, c->safe_base);
        else if (s.overflow)
            snprintf(err, errsz, "%s %s: response larger than %zu bytes", method, c->safe_base, resp->max);
        else
            snprintf(err, errsz, "%s %s%s: %s", method, c->safe_base, path,
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        goto done;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    status = (int)code;
done:
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    free(url);
    return status;
}

long esc_retry_after_ms(const esc *c) { return c->retry_after_ms; }

const char *esc_url(const esc *c) { return c->safe_base; }
