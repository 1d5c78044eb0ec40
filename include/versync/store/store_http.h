/* store_http — verstore's HTTP/1.1 front: libmicrohttpd thread pool, capped bodies, writes handed to the engine without blocking a thread. */
#ifndef VERSYNC_STORE_HTTP_H
#define VERSYNC_STORE_HTTP_H

/* Most query parameters in one request; more are a 400 at once. Elasticsearch
 * bounds the request line at 4 KB (http.max_initial_line_length), about 2 000
 * one-letter parameters; no API takes more than a few dozen. */
#define STORE_HTTP_MAX_PARAMS 1000
/* Largest request target with parameters, counting 64 bytes per parameter:
 * what libmicrohttpd's 128 KiB connection pool surely holds. */
#define STORE_HTTP_MAX_QUERY_MEM (96 * 1024)

#include "versync/store/store_api.h"
#include "versync/store/store_auth.h"
#include "versync/store/store_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_http store_http;

typedef struct store_http_opts {
    const char *host; /* IPv4/IPv6 literal or name */
    int port;         /* 0: an ephemeral port */
    int threads;      /* worker threads (>= 1) */
    size_t max_body;  /* larger bodies are answered 413 */
    store_auth *auth; /* NULL: no authentication; else every request needs it (borrowed) */
    const char *tls_cert_pem, *tls_key_pem; /* both set: serve HTTPS (PEM text, copied by libmicrohttpd) */
    /* Searches, aggregations, _count, _mget and scrolls run on a pool of
     * this many threads (0: on the HTTP threads, as before) with at most
     * `search_queue` waiting; more get 429 es_rejected_execution_exception. */
    int search_threads;
    int search_queue;
    int64_t search_timeout_ms; /* a search without `timeout` stops after this (-1: never) */
} store_http_opts;

/* Bind and start serving `api` (writes go to `engine`). On success *out is
 * the server (caller stops it with store_http_stop) and *bound_port the
 * port actually bound. On failure false with a message in `err`. */
bool store_http_start(store_api *api, store_engine *engine, const store_http_opts *opts, store_http **out,
                      int *bound_port, char *err, size_t errsz);

/* Stop accepting new connections; requests in flight go on. */
void store_http_quiesce(store_http *h);

/* Number of requests received and not yet answered. */
long store_http_in_flight(store_http *h);

/* Of those, requests whose body is still arriving (or being discarded after
 * an early answer): a shutdown gives them a short grace, then closes them. */
long store_http_uploading(store_http *h);

/* Milliseconds since a request last started or received body bytes: a
 * shutdown waits for requests in flight, but not for clients that stall. */
int64_t store_http_idle_ms(store_http *h);

/* From now on requests that arrive complete are answered 503 instead of
 * being run; used once the requests in flight are done. */
void store_http_refuse_new(store_http *h);

/* Requests being handled right now, engine jobs included. While it is not
 * zero the engine may still call back into the server: stop only at 0. */
long store_http_busy(store_http *h);

/* Close every connection and free the server. NULL is a no-op. */
void store_http_stop(store_http *h);

#endif
