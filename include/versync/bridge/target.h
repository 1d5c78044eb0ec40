/* target — the start-up check of the store versync writes to: reachable, a compatible version, credentials accepted, indexes writable. */
#ifndef VERSYNC_TARGET_H
#define VERSYNC_TARGET_H

#include "versync/bridge/cfg.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum target_result {
    TARGET_OK = 0,
    TARGET_UNREACHABLE, /* no answer: may come up later (run retries) */
    TARGET_REFUSED,     /* answered, but versync cannot work with it as configured */
} target_result;

/* Check c->store before work starts: GET / must answer 2xx with
 * Elasticsearch >= 7 (OpenSearch and verstore of any version); 401/403 is a
 * security error naming which credential kind was sent (never its value);
 * each mapped index that exists must carry no write block
 * (index.blocks.read_only, read_only_allow_delete or write). Returns
 * TARGET_OK, or another result with one message in err that names the store
 * by its redacted URL. Logs nothing. */
target_result target_check(const cfg *c, char *err, size_t errsz);

/* The verdict on the body of GET / alone (exported for tests): true when
 * compatible; otherwise false with the reason in err ("Elasticsearch 6.8.0
 * …"). `url` is only used in the message. */
bool target_root_ok(const char *url, const char *body, char *err, size_t errsz);

/* The first write block set to true in the body of
 * GET /{index}/_settings?flat_settings=true ("index.blocks.read_only_allow_delete"),
 * or NULL when there is none. The result points to a static string. */
const char *target_write_block(const char *settings_body);

#endif
