/* store_http — verstore's HTTP/1.1 front on libmicrohttpd. */
#include "versync/store/store_http.h"
#include "versync/common/timing.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/common/scan.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_pool.h"
#include "versync/store/store_router.h"
#include "versync/store/store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

struct store_http {
    struct MHD_Daemon *d;
    store_api *api;
    store_engine *engine;
    size_t max_body;
    store_auth *auth;
    bool tls;
    atomic_long in_flight;
    atomic_long uploading; /* of those, requests whose body is still arriving */
    atomic_long busy;     /* requests being dispatched or waiting on the engine */
    atomic_bool stopping; /* no new dispatches: answer 503 */
    atomic_llong last_activity_ms; /* monotonic time of the last request byte received */
    bool quiesced;
    store_pool *pool;          /* heavy requests run here, not on the HTTP threads */
    int64_t search_timeout_ms; /* a search's time limit when it gives none; -1: none */
};

/* Per-request state, from the first header callback to completion. */
typedef struct conn_ctx {
    store_http *h;
    struct MHD_Connection *conn;
    buf body;
    bool too_big;
    bool answered;
    bool counted; /* included in in_flight: the body is complete */
    bool unauthorized; /* the answer is a 401: add WWW-Authenticate */
    store_call *call; /* a write waiting for (or back from) the engine */
    store_resp resp;
    store_param *params;
    size_t nparams, pcap;
    buf pstore; /* decoded parameter text, NUL-separated */
    char *bad_param; /* heap: why the query string is refused (400), or NULL */
    const char *bad_framing; /* static: why the request's framing is refused (400), or NULL */
    bool close_after; /* answer with Connection: close (the framing is not to be trusted) */
    const char *method, *url; /* MHD's, valid for the request; for the debug log */
    bool started;        /* on_request has seen this request */
    bool uploading;      /* counted in h->uploading */
    size_t excess_params; /* the query had this many parameters, over the bound: 400 */
    size_t excess_bytes;  /* ... in a request target this long */
    uint64_t reserved;    /* bytes held in the memory breaker: body, then answer */
    /* A heavy request handed to the pool: what it runs on (kept until the
     * answer is built) and whether the answer in `resp` is ready. */
    store_req req;
    buf path;
    store_route route;
    bool pool_done;
    bool breaker_tripped; /* the body outgrew the memory budget: 429 at the end */
    char breaker_reason[320];
} conn_ctx;

static void ctx_free(conn_ctx *cx)
{
    if (cx->call) { /* cannot happen while suspended; defensive */
        store_api_finish(cx->call, &cx->resp);
        cx->call = NULL;
    }
    store_breaker_release(cx->reserved);
    buf_free(&cx->body);
    store_resp_free(&cx->resp);
    free(cx->params);
    buf_free(&cx->pstore);
    buf_free(&cx->path);
    free(cx->bad_param);
    free(cx);
}

/* A connection closed with request bytes still unread makes the kernel send
 * a reset instead of a FIN, and a reset can destroy the answer the client has
 * not read yet (RFC 9112 §9.6): the 400 for a request whose framing is not to
 * be trusted would vanish. So before libmicrohttpd closes such a connection,
 * send our FIN after the answer and read what the client already sent, for at
 * most LINGER_MS and LINGER_BYTES: a hostile client cannot hold the thread
 * longer. (Not over TLS: the FIN would cut the TLS close_notify short.) */
#define LINGER_MS 20
#define LINGER_BYTES (1024 * 1024)

static void linger_close(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd == MHD_INVALID_SOCKET)
        return;
    int fd = ci->connect_fd;
    (void)shutdown(fd, SHUT_WR);
    int64_t until = timing_now_ms() + LINGER_MS;
    size_t got = 0;
    char sink[16384];
    while (got < LINGER_BYTES) {
        int64_t left = until - timing_now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n <= 0) /* the client's FIN, or an error: nothing more to drain */
            break;
        got += (size_t)n;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    store_http *h = cls;
    conn_ctx *cx = *con_cls;
    if (!cx)
        return;
    *con_cls = NULL;
    if (cx->close_after && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !h->tls)
        linger_close(conn);
    if (cx->counted)
        atomic_fetch_sub(&h->in_flight, 1);
    if (cx->uploading)
        atomic_fetch_sub(&h->uploading, 1);
    ctx_free(cx);
}

/* Keep the URL and arguments raw: ids may contain an encoded '/', so the
 * router splits first and decodes each segment itself. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* libmicrohttpd's own messages are about misbehaving clients (malformed
 * requests, hang-ups): route them through our logger at debug level so
 * they follow --log-format. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (log_get_level() > LOG_DEBUG)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("http: %s", msg);
}

static enum MHD_Result send_resp(conn_ctx *cx)
{
    store_resp *r = &cx->resp;
    if (log_get_level() <= LOG_DEBUG) {
        log_debug("http: %d %s %s (%zu bytes)", r->status, cx->method ? cx->method : "-", cx->url ? cx->url : "-",
                  r->body.len);
    }
    struct MHD_Response *resp;
    if (!buf_ok(&r->body)) {
        /* The last line of defence (store_api seals its bodies): a body that
         * lost text is never sent; this fixed answer needs no memory. */
        static const char oom[] = "{\"error\":{\"root_cause\":[{\"type\":\"exception\",\"reason\":\"out of memory\"}],"
                                  "\"type\":\"exception\",\"reason\":\"out of memory\"},\"status\":500}";
        log_error("http: out of memory while writing the response to %s %s; answered 500", cx->method ? cx->method : "-",
                  cx->url ? cx->url : "-");
        buf_free(&r->body);
        r->status = 500;
        r->content_type = "application/json";
        free(r->location);
        r->location = NULL;
        r->allow[0] = '\0';
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len = r->body.len;
        /* The answer is built: account it until it is sent (released with the
         * request), so the budget sees what waits in MHD's queues. */
        store_breaker_release(cx->reserved);
        cx->reserved = len;
        store_breaker_force(len);
        char *data = buf_steal(&r->body);
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(data);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "X-Elastic-Product", "Elasticsearch");
    if (r->location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (cx->close_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (cx->unauthorized) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"verstore\" charset=\"UTF-8\"");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "ApiKey");
    }
    /* Elasticsearch echoes the client's tracing id. */
    const char *opaque = MHD_lookup_connection_value(cx->conn, MHD_HEADER_KIND, "X-Opaque-Id");
    if (opaque)
        MHD_add_response_header(resp, "X-Opaque-Id", opaque);
    enum MHD_Result ret = MHD_queue_response(cx->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    cx->answered = true;
    return ret;
}

/* The memory budget (--max-memory) cannot take this request: Elasticsearch's
 * 429 from its parent breaker. */
static enum MHD_Result breaker_refuse(conn_ctx *cx)
{
    store_breaker_error_body(&cx->resp.body, cx->breaker_reason);
    cx->resp.status = 429;
    cx->resp.content_type = "application/json";
    return send_resp(cx);
}

/* Hold the body's bytes in the breaker, in 64 KiB steps for bodies without
 * a Content-Length. False (reason kept) when the budget cannot take them. */
static bool reserve_body(conn_ctx *cx, uint64_t total)
{
    if (total <= cx->reserved)
        return true;
    uint64_t want = total - cx->reserved;
    if (want < 65536)
        want = 65536;
    if (!store_breaker_add(want, "<http_request>", cx->breaker_reason, sizeof cx->breaker_reason))
        return false;
    cx->reserved += want;
    return true;
}

static enum MHD_Result too_large(conn_ctx *cx)
{
    char msg[160];
    snprintf(msg, sizeof msg, "request body is larger than the limit of %zu bytes (--max-body)", cx->h->max_body);
    buf_reset(&cx->resp.body);
    cx->resp.status = 413;
    cx->resp.content_type = "application/json";
    buf_puts(&cx->resp.body, "{\"error\":{\"root_cause\":[{\"type\":\"content_too_long_exception\",\"reason\":");
    buf_put_json_string(&cx->resp.body, msg, strlen(msg));
    buf_puts(&cx->resp.body, "}],\"type\":\"content_too_long_exception\",\"reason\":");
    buf_put_json_string(&cx->resp.body, msg, strlen(msg));
    buf_puts(&cx->resp.body, "},\"status\":413}");
    return send_resp(cx);
}

/* Elasticsearch's answer to a request without valid credentials. */
static enum MHD_Result unauthorized(conn_ctx *cx, const char *url, store_auth_result ar, const char *who)
{
    char msg[512];
    if (ar == STORE_AUTH_MISSING)
        snprintf(msg, sizeof msg, "missing authentication credentials for REST request [%.300s]", url);
    else
        snprintf(msg, sizeof msg, "unable to authenticate user [%.100s] for REST request [%.300s]", who, url);
    static const char hdr[] = ",\"header\":{\"WWW-Authenticate\":[\"Basic realm=\\\"verstore\\\" "
                              "charset=\\\"UTF-8\\\"\",\"ApiKey\"]}";
    buf *b = &cx->resp.body;
    buf_reset(b);
    cx->resp.status = 401;
    cx->resp.content_type = "application/json";
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":");
    buf_put_json_string(b, msg, strlen(msg));
    buf_puts(b, hdr);
    buf_puts(b, "}],\"type\":\"security_exception\",\"reason\":");
    buf_put_json_string(b, msg, strlen(msg));
    buf_puts(b, hdr);
    buf_puts(b, "},\"status\":401}");
    cx->unauthorized = true;
    log_debug("http: 401 for %s (%s)", url, ar == STORE_AUTH_MISSING ? "no credentials" : "bad credentials");
    return send_resp(cx);
}

/* Remember the first reason the query string is refused. */
static void refuse_param(conn_ctx *cx, const char *fmt, const char *what)
{
    if (cx->bad_param)
        return;
    buf b = BUF_INIT;
    buf_printf(&b, fmt, what);
    cx->bad_param = b.data ? buf_steal(&b) : strdup("malformed query string");
}

/* The client's address as the auth throttle keys it: IPv4 bytes, or the
 * /64 of an IPv6 address (one host usually owns a whole /64). 0 if unknown. */
static size_t client_addr(struct MHD_Connection *conn, unsigned char out[16])
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(out, a6->s6_addr + 12, 4);
            return 4;
        }
        memcpy(out, a6->s6_addr, 8);
        return 8;
    }
    return 0;
}

/* 429 for a client whose failed logins used up its budget: retryable, and
 * no password hashing was spent on it. */
static enum MHD_Result throttled(conn_ctx *cx, const char *url)
{
    static const char msg[] = "too many failed authentication attempts from this address; retry later";
    buf *b = &cx->resp.body;
    buf_reset(b);
    cx->resp.status = 429;
    cx->resp.content_type = "application/json";
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\"");
    buf_puts(b, msg);
    buf_puts(b, "\"}],\"type\":\"security_exception\",\"reason\":\"");
    buf_puts(b, msg);
    buf_puts(b, "\"},\"status\":429}");
    log_debug("http: 429 for %s (failed logins from this address)", url);
    return send_resp(cx);
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    conn_ctx *cx = cls;
    if (cx->bad_param)
        return MHD_NO;
    if (cx->nparams == cx->pcap && !GROW_ARRAY(cx->params, cx->pcap, cx->nparams + 1, 8))
        return MHD_NO;
    /* Offsets for now: pstore may move while growing. Names and values are
     * C strings from here on, so an encoded NUL is refused rather than
     * letting "external%00junk" read as "external". */
    size_t koff = cx->pstore.len;
    if (!store_util_url_decode(key, strlen(key), true, &cx->pstore) || !buf_putc(&cx->pstore, '\0')) {
        refuse_param(cx, "invalid escape sequence in the query parameter name [%s]", key);
        return MHD_NO;
    }
    size_t voff = cx->pstore.len;
    if ((value && !store_util_url_decode(value, strlen(value), true, &cx->pstore)) || !buf_putc(&cx->pstore, '\0')) {
        refuse_param(cx, "invalid escape sequence in the value of query parameter [%s]", key);
        return MHD_NO;
    }
    const char *k = cx->pstore.data + koff, *v = cx->pstore.data + voff;
    if (strlen(k) != voff - koff - 1 || strlen(v) != cx->pstore.len - voff - 1) {
        refuse_param(cx, "query parameter [%s] contains a NUL byte (%%00)", k);
        return MHD_NO;
    }
    /* A repeated parameter takes the last value, as Elasticsearch does. */
    for (size_t i = 0; i < cx->nparams; i++)
        if (strcmp(cx->pstore.data + (uintptr_t)cx->params[i].key, k) == 0) {
            cx->params[i].value = (const char *)(uintptr_t)voff;
            return MHD_YES;
        }
    cx->params[cx->nparams].key = (const char *)(uintptr_t)koff;
    cx->params[cx->nparams].value = (const char *)(uintptr_t)voff;
    cx->nparams++;
    return MHD_YES;
}

/* An Elasticsearch error body, built here (no api call). */
static enum MHD_Result error_answer(conn_ctx *cx, int status, const char *type, const char *reason)
{
    buf *b = &cx->resp.body;
    buf_reset(b);
    cx->resp.status = status;
    cx->resp.content_type = "application/json";
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":");
    buf_put_json_string(b, type, strlen(type));
    buf_puts(b, ",\"reason\":");
    buf_put_json_string(b, reason, strlen(reason));
    buf_puts(b, "}],\"type\":");
    buf_put_json_string(b, type, strlen(type));
    buf_puts(b, ",\"reason\":");
    buf_put_json_string(b, reason, strlen(reason));
    buf_printf(b, "},\"status\":%d}", status);
    return send_resp(cx);
}

static enum MHD_Result bad_request(conn_ctx *cx, const char *type, const char *reason)
{
    return error_answer(cx, 400, type, reason);
}

typedef struct framing {
    int content_lengths;  /* Content-Length headers seen */
    bool conflict;        /* they disagree, or one is not a plain number */
    bool chunked;         /* a Transfer-Encoding header is present */
    unsigned long long cl;
} framing;

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        const char *p = value ? value : "";
        unsigned long long v = 0;
        bool digits = *p != '\0';
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || v > (ULLONG_MAX - 9) / 10) {
                digits = false;
                break;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (!digits || (f->content_lengths && v != f->cl))
            f->conflict = true;
        f->cl = v;
        f->content_lengths++;
    }
    return MHD_YES;
}

/* Request smuggling guard: libmicrohttpd 0.9.75 reads the first of several
 * Content-Length headers and lets Transfer-Encoding win over Content-Length,
 * while a proxy in front may have framed the request the other way. Such a
 * request is refused and the connection closed (RFC 9112 section 6.3). */
static bool framing_ok(conn_ctx *cx, const char **why)
{
    framing f = {0};
    MHD_get_connection_values(cx->conn, MHD_HEADER_KIND, scan_framing, &f);
    if (f.conflict)
        *why = "the request has conflicting or malformed Content-Length headers";
    else if (f.chunked && f.content_lengths)
        *why = "the request has both Content-Length and Transfer-Encoding headers";
    else
        return true;
    return false;
}

/* libmicrohttpd (0.9.75) keeps each query parameter as a header record in the
 * connection's memory pool; when they do not fit it logs a 431 it never
 * sends, and the client waits for the connection timeout. This callback sees
 * the request line before the parameters are parsed: with too many of them it
 * ends the parameter string right after the '?' (MHD then parses none) and
 * marks the request for a 400. The URI is MHD's writable read buffer. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    conn_ctx *cx = calloc(1, sizeof *cx);
    if (!cx)
        return NULL; /* on_request allocates again and answers 500 if it cannot */
    cx->conn = conn;
    char *q = strchr(uri, '?');
    if (q && q[1]) {
        size_t n = 1;
        const char *p = q + 1;
        for (; *p; p++)
            n += *p == '&';
        /* Each parameter costs MHD a record of about 64 bytes besides its
         * text; past this the 128 KiB pool may not hold them. */
        if (n > STORE_HTTP_MAX_PARAMS || (size_t)(p - uri) + n * 64 > STORE_HTTP_MAX_QUERY_MEM) {
            cx->excess_params = n;
            cx->excess_bytes = (size_t)(p - uri);
            q[1] = '\0';
        }
    }
    return cx;
}

static enum MHD_Result too_many_params(conn_ctx *cx)
{
    char msg[160];
    if (cx->excess_params > STORE_HTTP_MAX_PARAMS)
        snprintf(msg, sizeof msg, "the request has %zu query parameters, more than the limit of %d",
                 cx->excess_params, STORE_HTTP_MAX_PARAMS);
    else
        snprintf(msg, sizeof msg,
                 "the request target of %zu bytes with %zu query parameters is larger than the limit of %d bytes "
                 "(counting 64 bytes per parameter)",
                 cx->excess_bytes, cx->excess_params, STORE_HTTP_MAX_QUERY_MEM);
    return bad_request(cx, "illegal_argument_exception", msg);
}

static void job_done(store_job *job)
{
    conn_ctx *cx = job->arg;
    store_http *h = cx->h;
    MHD_resume_connection(cx->conn);
    /* Last: once busy drops, the daemon may be stopped. */
    atomic_fetch_sub(&h->busy, 1);
}

static void node_closed(conn_ctx *cx);

/* Requests whose cost grows with the data rather than with the request:
 * they run on the search pool, so that GET /, _cluster/health and single
 * documents keep answering from the HTTP threads while they work. */
static bool heavy_route(const char *method, const char *path, store_route *route)
{
    store_match m;
    if (!store_router_match(method, path, &m))
        return false;
    *route = m.route;
    bool read = m.method == STORE_M_GET || m.method == STORE_M_POST;
    bool heavy = (read && (m.route == STORE_R_SEARCH || m.route == STORE_R_COUNT || m.route == STORE_R_SCROLL ||
                           m.route == STORE_R_MGET || m.route == STORE_R_CAT_COUNT)) ||
                 m.route == STORE_R_DELETE_BY_QUERY ||
                 m.route == STORE_R_UPDATE_BY_QUERY; /* a search, then writes it waits for: off the HTTP threads */
    store_router_free(&m);
    return heavy;
}

/* On a pool thread: run the request, watched by its deadline (a search's
 * time limit; every heavy request stops once its client hangs up). */
static void run_heavy(void *arg)
{
    conn_ctx *cx = arg;
    store_http *h = cx->h;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(cx->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    store_deadline_begin(cx->route == STORE_R_SEARCH ? h->search_timeout_ms : -1, ci ? ci->connect_fd : -1);
    store_call *call = store_api_begin(h->api, &cx->req, &cx->resp);
    if (store_deadline_client_gone() && !call) {
        /* Cut short (hang-up, or a shutdown past its grace): what was built
         * is incomplete, so it is never sent as an answer. */
        log_debug("http: %s %s: stopped (client gone or shutting down); the work was cut short", cx->method, cx->url);
        node_closed(cx);
    }
    store_deadline_end();
    store_pool_release(h->pool); /* before the answer can reach the client */
    if (call) { /* a write after all: the engine resumes the connection */
        cx->call = call;
        store_job *job = store_api_call_job(call);
        job->done = job_done;
        job->arg = cx;
        store_engine_submit(h->engine, job);
        return;
    }
    cx->pool_done = true;
    MHD_resume_connection(cx->conn);
    /* Last: once busy drops, the daemon may be stopped. */
    atomic_fetch_sub(&h->busy, 1);
}

/* Elasticsearch's answer when its search thread pool and queue are full. */
static enum MHD_Result pool_full(conn_ctx *cx)
{
    char msg[320];
    snprintf(msg, sizeof msg,
             "rejected execution of [%s %.100s] on [search] thread pool: %d threads busy and %d queued "
             "(--search-threads, --search-queue)",
             cx->method, cx->url, store_pool_threads(cx->h->pool), store_pool_queue(cx->h->pool));
    log_debug("http: 429 for %s: the search pool is full", cx->url);
    return error_answer(cx, 429, "es_rejected_execution_exception", msg);
}

static void node_closed(conn_ctx *cx)
{
    static const char body[] = "{\"error\":{\"root_cause\":[{\"type\":\"node_closed_exception\",\"reason\":\"node closed\"}],"
                               "\"type\":\"node_closed_exception\",\"reason\":\"node closed\"},\"status\":503}";
    buf_reset(&cx->resp.body);
    buf_puts(&cx->resp.body, body);
    cx->resp.status = 503;
    cx->resp.content_type = "application/json";
}

static enum MHD_Result shutting_down(conn_ctx *cx)
{
    node_closed(cx);
    return send_resp(cx);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    store_http *h = cls;
    conn_ctx *cx = *con_cls;
    if (!cx || !cx->started) {
        if (!cx) {
            cx = calloc(1, sizeof *cx);
            if (!cx)
                return MHD_NO;
        }
        cx->started = true;
        cx->h = h;
        cx->conn = conn;
        cx->method = method;
        cx->url = url;
        buf_init(&cx->body, h->max_body);
        store_resp_init(&cx->resp);
        *con_cls = cx;
        cx->counted = true;
        atomic_fetch_add(&h->in_flight, 1);
        cx->uploading = true;
        atomic_fetch_add(&h->uploading, 1);
        atomic_store(&h->last_activity_ms, timing_now_ms());
        if (!framing_ok(cx, &cx->bad_framing))
            cx->close_after = true; /* answered once the body is drained, so the close is not a reset */
        if (h->auth) { /* before the body is read: strangers do not get to upload */
            char who[128];
            const char *az = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
            unsigned char ab[16];
            size_t al = client_addr(conn, ab);
            store_auth_result ar = store_auth_check_from(h->auth, az, al ? ab : NULL, al, who, sizeof who);
            if (ar == STORE_AUTH_THROTTLED)
                return throttled(cx, url);
            if (ar != STORE_AUTH_OK)
                return unauthorized(cx, url, ar, who);
        }
        if (cx->excess_params)
            return too_many_params(cx);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t len = 0;
        if (cl && !scan_uint64(cl, UINT64_MAX, &len))
            len = UINT64_MAX; /* libmicrohttpd vetted the digits: a number past 64 bits is too large */
        if (len > h->max_body)
            return too_large(cx); /* before any of the body is read */
        if (len && !reserve_body(cx, len))
            return breaker_refuse(cx); /* before any of the body is read */
        if (len)
            buf_reserve(&cx->body, (size_t)len); /* one allocation, no copies while growing */
        return MHD_YES;
    }
    if (cx->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        atomic_store(&h->last_activity_ms, timing_now_ms());
        if (!cx->too_big && !cx->bad_framing && !cx->breaker_tripped && !reserve_body(cx, cx->body.len + *upload_data_size)) {
            cx->breaker_tripped = true;
            buf_free(&cx->body);
        }
        if (!cx->too_big && !cx->bad_framing && !cx->breaker_tripped && !buf_append(&cx->body, upload_data, *upload_data_size))
            cx->too_big = true; /* keep reading and dropping: the answer comes at the end */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (cx->uploading) { /* the body is complete */
        cx->uploading = false;
        atomic_fetch_sub(&h->uploading, 1);
    }
    if (cx->pool_done) { /* resumed: the search pool built the answer */
        cx->pool_done = false;
        return send_resp(cx);
    }
    if (cx->call) { /* resumed: the engine is done with our job */
        store_call *call = cx->call;
        cx->call = NULL;
        store_api_finish(call, &cx->resp);
        return send_resp(cx);
    }
    if (cx->bad_framing) {
        log_debug("http: 400 for %s: %s", url, cx->bad_framing);
        return bad_request(cx, "illegal_argument_exception", cx->bad_framing);
    }
    if (cx->too_big)
        return too_large(cx);
    if (cx->breaker_tripped)
        return breaker_refuse(cx);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, cx);
    if (cx->bad_param)
        return bad_request(cx, "illegal_argument_exception", cx->bad_param);
    for (size_t i = 0; i < cx->nparams; i++) {
        cx->params[i].key = cx->pstore.data + (uintptr_t)cx->params[i].key;
        cx->params[i].value = cx->pstore.data + (uintptr_t)cx->params[i].value;
    }
    const char *path = url;
    char *q = strchr(url, '?'); /* MHD strips it; be safe */
    buf pathbuf = BUF_INIT;
    if (q) {
        buf_append(&pathbuf, url, (size_t)(q - url));
        path = pathbuf.data ? pathbuf.data : "/";
    }
    store_req req = {
        .method = method,
        .path = path,
        .params = cx->params,
        .nparams = cx->nparams,
        .body = cx->body.data ? cx->body.data : "",
        .body_len = cx->body.len,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
    };
    /* Count ourselves busy before looking at the flag, so a shutdown either
     * sees us or we see it (both sequentially consistent). */
    atomic_fetch_add(&h->busy, 1);
    if (atomic_load(&h->stopping)) {
        atomic_fetch_sub(&h->busy, 1);
        buf_free(&pathbuf);
        return shutting_down(cx);
    }
    if (h->pool && heavy_route(method, path, &cx->route)) {
        if (!store_pool_reserve(h->pool)) {
            atomic_fetch_sub(&h->busy, 1);
            buf_free(&pathbuf);
            return pool_full(cx);
        }
        /* The request must outlive this call: its path buffer moves into
         * cx (req.path points into it; the body and parameters are there
         * already). */
        cx->path = pathbuf;
        cx->req = req;
        MHD_suspend_connection(conn);
        store_pool_submit(h->pool, run_heavy, cx);
        return MHD_YES;
    }
    store_call *call = store_api_begin(h->api, &req, &cx->resp);
    buf_free(&pathbuf);
    if (!call) {
        atomic_fetch_sub(&h->busy, 1);
        return send_resp(cx);
    }
    cx->call = call;
    store_job *job = store_api_call_job(call);
    job->done = job_done;
    job->arg = cx;
    MHD_suspend_connection(conn);
    store_engine_submit(h->engine, job);
    return MHD_YES;
}

/* The listening socket, bound by us rather than by libmicrohttpd so that the
 * reuse options are ours to choose and a refusal names its cause.
 * SO_REUSEPORT is never set: with it a second verstore binds the same port
 * and the kernel splits connections between two data directories.
 * SO_REUSEADDR is set: on Linux it never lets a socket bind an address that
 * another socket is listening on (socket(7)); it only lets a restarted
 * verstore bind its port while connections of the previous run sit in
 * TIME_WAIT. Returns the socket, or -1 with err set. */
static int open_listener(const struct addrinfo *ai, char *err, size_t errsz, const char *host, int port)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, errsz, "--listen %s:%d: cannot create a socket: %s", host, port, strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        log_debug("SO_REUSEADDR: %s", strerror(errno));
    if (ai->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(err, errsz, "--listen %s:%d: address already in use (another process is listening there)", host,
                     port);
        else if (e == EADDRNOTAVAIL)
            snprintf(err, errsz, "--listen %s:%d: not an address of this machine", host, port);
        else
            snprintf(err, errsz, "--listen %s:%d: cannot listen: %s", host, port, strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

bool store_http_start(store_api *api, store_engine *engine, const store_http_opts *o, store_http **out,
                      int *bound_port, char *err, size_t errsz)
{
    *out = NULL;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int grc = getaddrinfo(o->host, port, &hints, &res);
    if (grc) {
        snprintf(err, errsz, "--listen: cannot resolve %s: %s", o->host, gai_strerror(grc));
        return false;
    }
    int lfd = open_listener(res, err, errsz, o->host, o->port);
    freeaddrinfo(res);
    if (lfd < 0)
        return false;
    store_http *h = calloc(1, sizeof *h);
    if (!h) {
        close(lfd);
        snprintf(err, errsz, "out of memory");
        return false;
    }
    h->api = api;
    h->engine = engine;
    h->max_body = o->max_body;
    h->auth = o->auth;
    h->search_timeout_ms = o->search_timeout_ms;
    if (o->search_threads > 0 && !(h->pool = store_pool_new(o->search_threads, o->search_queue, 10, err, errsz))) {
        close(lfd);
        free(h);
        return false;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned pool = o->threads > 1 ? (unsigned)o->threads : 0;
    bool tls = o->tls_cert_pem && o->tls_key_pem;
    h->tls = tls;
    if (tls)
        flags |= MHD_USE_TLS;
    /* The TLS options only exist when serving TLS, hence an option array. */
    struct MHD_OptionItem tlsopts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)(uintptr_t)o->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)o->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    /* Per-connection memory: headers plus the read buffer. libmicrohttpd
     * clears the whole pool between requests, so a big pool costs every
     * keep-alive request. 128 KiB holds many times Elasticsearch's 16 KiB
     * header limit, lets an over-long URL or header be answered 414/431
     * rather than dropped, and reads uploads in ample chunks. */
    h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd, MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)300, MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024, MHD_OPTION_ARRAY, tlsopts,
                            MHD_OPTION_END);
    if (!h->d) {
        if (tls)
            snprintf(err, errsz,
                     "cannot serve HTTPS on %s:%d: --tls-cert/--tls-key are not a matching PEM certificate and "
                     "private key",
                     o->host, o->port);
        else
            snprintf(err, errsz, "--listen %s:%d: cannot start the HTTP server (see the log above)", o->host, o->port);
        /* libmicrohttpd closes a listening socket it was given only once it
         * has taken it over; close it here if it is still ours. */
        if (fcntl(lfd, F_GETFD) != -1)
            close(lfd);
        store_pool_free(h->pool);
        free(h);
        return false;
    }
    *bound_port = o->port;
    sl = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    *out = h;
    return true;
}

void store_http_quiesce(store_http *h)
{
    if (!h || h->quiesced)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->d);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    h->quiesced = true;
}

long store_http_in_flight(store_http *h) { return atomic_load(&h->in_flight); }

long store_http_uploading(store_http *h) { return atomic_load(&h->uploading); }

void store_http_refuse_new(store_http *h) { atomic_store(&h->stopping, true); }

long store_http_busy(store_http *h) { return atomic_load(&h->busy); }

int64_t store_http_idle_ms(store_http *h) { return timing_now_ms() - (int64_t)atomic_load(&h->last_activity_ms); }

void store_http_stop(store_http *h)
{
    if (!h)
        return;
    /* First the pool: a task still queued resumes its connection through
     * the daemon (none is, once store_http_busy is 0). */
    store_pool_free(h->pool);
    MHD_stop_daemon(h->d);
    free(h);
}
