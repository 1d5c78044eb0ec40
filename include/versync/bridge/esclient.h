/* esclient — one keep-alive HTTP connection to verstore, Elasticsearch or OpenSearch. */
#ifndef VERSYNC_ESCLIENT_H
#define VERSYNC_ESCLIENT_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <stdbool.h>
#include <stddef.h>

/* Transport failure (refused, reset, timeout, TLS, DNS): nothing was answered. */
#define ESC_TRANSPORT_ERROR (-1)

typedef struct esc esc;

/* A client for `store` (url, credentials, TLS and timeout are copied). The
 * connection is opened on first use and reused (keep-alive). One client per
 * thread or process. Returns NULL with a message in err on failure; the
 * caller owns the result and frees it with esc_free. */
esc *esc_new(const cfg_store *store, char *err, size_t errsz);

/* Close the connection and free the client; esc_free(NULL) is a no-op. */
void esc_free(esc *c);

/* Send one request to the store's URL + `path` ("/_bulk?refresh=false").
 * `body` may be NULL (then no body and no Content-Type is sent);
 * `content_type` NULL means application/json. The response body is appended
 * to `resp` (whose cap bounds what is kept; an over-cap answer is a transport
 * error). `opaque_id`, when not NULL, is sent as X-Opaque-Id.
 * Returns the HTTP status, or ESC_TRANSPORT_ERROR with a message in err.
 * Logs nothing: the caller decides whether a failure is worth a line. */
int esc_request(esc *c, const char *method, const char *path, const char *content_type, const char *body,
                size_t body_len, const char *opaque_id, buf *resp, char *err, size_t errsz);

/* Retry-After of the last response in milliseconds, or -1 if it had none. */
long esc_retry_after_ms(const esc *c);

/* The store's base URL with any user:password removed (safe to log). */
const char *esc_url(const esc *c);

#endif
