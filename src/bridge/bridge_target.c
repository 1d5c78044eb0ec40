/* bridge_target — the start-up check of the store versync writes to: reachable, a compatible version, credentials accepted, indexes writable. */
#include "versync/bridge/target.h"

#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/bridge/esclient.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool target_root_ok(const char *url, const char *body, char *err, size_t errsz)
{
    bool ok = false;
    cJSON *root = cJSON_Parse(body ? body : "");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(ver, "number");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(ver, "distribution");
    if (!cJSON_IsString(num)) {
        snprintf(err, errsz,
                 "store at %s is incompatible: its answer to GET / has no version.number (is it Elasticsearch, "
                 "OpenSearch or verstore?)",
                 url);
        goto done;
    }
    /* OpenSearch restarted its numbering at 1.0 and speaks the ES 7 API. */
    if (cJSON_IsString(dist) && strcmp(dist->valuestring, "opensearch") == 0) {
        ok = true;
        goto done;
    }
    long major = strtol(num->valuestring, NULL, 10);
    if (major < 7) {
        snprintf(err, errsz,
                 "store at %s is incompatible: Elasticsearch %s; versync needs Elasticsearch >= 7 (or OpenSearch), "
                 "whose _bulk takes version_type=external without mapping types",
                 url, num->valuestring);
        goto done;
    }
    ok = true;
done:
    cJSON_Delete(root);
    return ok;
}

const char *target_write_block(const char *body)
{
    static const char *const blocks[] = {"index.blocks.read_only", "index.blocks.read_only_allow_delete",
                                         "index.blocks.write", NULL};
    const char *found = NULL;
    cJSON *root = cJSON_Parse(body ? body : "");
    const cJSON *idx = cJSON_IsObject(root) ? root->child : NULL;
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(idx, "settings");
    for (size_t i = 0; set && blocks[i] && !found; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(set, blocks[i]);
        if ((cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0) || cJSON_IsTrue(v))
            found = blocks[i];
    }
    cJSON_Delete(root);
    return found;
}

/* Which credentials the config sends, for a security error (never the secret). */
static void credential_kind(const cfg_store *s, char *out, size_t outsz)
{
    if (s->api_key && *s->api_key)
        snprintf(out, outsz, "the API key (store.api_key) was refused");
    else if (s->username && *s->username)
        snprintf(out, outsz, "basic auth as user \"%s\" was refused: check store.username/store.password",
                 s->username);
    else
        snprintf(out, outsz, "no credentials are configured: set store.username/store.password or store.api_key");
}

static void security_error(const cfg_store *s, const char *url, const char *what, int status, const buf *resp,
                           char *err, size_t errsz)
{
    char kind[256], why[512];
    credential_kind(s, kind, sizeof kind);
    bulk_error_summary(resp->data, resp->len, why, sizeof why);
    snprintf(err, errsz, "store at %s: security error on %s (HTTP %d): %s (%s)", url, what, status, kind, why);
}

/* "/" + the index name percent-encoded where needed + suffix. */
static bool index_path(buf *b, const char *index, const char *suffix)
{
    buf_putc(b, '/');
    for (const unsigned char *p = (const unsigned char *)index; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.", *p))
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
    return buf_puts(b, suffix) && buf_ok(b);
}

target_result target_check(const cfg *c, char *err, size_t errsz)
{
    target_result rc = TARGET_REFUSED;
    buf resp, path = BUF_INIT;
    buf_init(&resp, 4u << 20);
    esc *e = esc_new(&c->store, err, errsz);
    if (!e)
        goto done;
    const char *url = esc_url(e);
    char terr[512];
    int st = esc_request(e, "GET", "/", NULL, NULL, 0, NULL, &resp, terr, sizeof terr);
    if (st == ESC_TRANSPORT_ERROR && strstr(terr, "certificate")) {
        /* Waiting will not make an untrusted certificate trusted. */
        snprintf(err, errsz,
                 "store at %s: TLS error: %s (set store.ca_file to the CA that signed the store's certificate; "
                 "store.insecure skips the check, for test clusters only)",
                 url, terr);
        goto done;
    }
    if (st == ESC_TRANSPORT_ERROR) {
        snprintf(err, errsz, "store at %s is unreachable: %s", url, terr);
        rc = TARGET_UNREACHABLE;
        goto done;
    }
    if (st == 401 || st == 403) {
        security_error(&c->store, url, "GET /", st, &resp, err, errsz);
        goto done;
    }
    if (st < 200 || st > 299) {
        char why[512];
        bulk_error_summary(resp.data, resp.len, why, sizeof why);
        snprintf(err, errsz, "store at %s answered HTTP %d to GET /: %s", url, st, why);
        rc = st >= 500 ? TARGET_UNREACHABLE : TARGET_REFUSED; /* a 503 cluster may come up */
        goto done;
    }
    if (!target_root_ok(url, resp.data, err, errsz))
        goto done;
    for (size_t i = 0; i < c->ntables; i++) {
        const char *index = c->tables[i].index ? c->tables[i].index : c->tables[i].name;
        buf_reset(&path);
        buf_reset(&resp);
        if (!index_path(&path, index, "/_settings?flat_settings=true")) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        st = esc_request(e, "GET", path.data, NULL, NULL, 0, NULL, &resp, terr, sizeof terr);
        if (st == ESC_TRANSPORT_ERROR) {
            snprintf(err, errsz, "store at %s is unreachable: %s", url, terr);
            rc = TARGET_UNREACHABLE;
            goto done;
        }
        if (st == 401 || st == 403) {
            char what[300];
            snprintf(what, sizeof what, "index \"%s\" (GET /%s/_settings)", index, index);
            security_error(&c->store, url, what, st, &resp, err, errsz);
            goto done;
        }
        if (st != 200)
            continue; /* 404: not created yet (init creates it; Elasticsearch may auto-create) */
        const char *block = target_write_block(resp.data);
        if (block) {
            snprintf(err, errsz,
                     "store at %s: index \"%s\" is read-only (%s = true%s); versync cannot write to it. Clear it "
                     "with PUT /%s/_settings {\"%s\": null}",
                     url, index, block,
                     strcmp(block, "index.blocks.read_only_allow_delete") == 0
                         ? ", set by Elasticsearch when a disk passes the flood-stage watermark: free disk space first"
                         : "",
                     index, block);
            goto done;
        }
    }
    rc = TARGET_OK;
done:
    buf_free(&resp);
    buf_free(&path);
    esc_free(e);
    return rc;
}
