/* fuzz_store_api — libFuzzer target for verstore's whole request handling (router, parameters, bodies, engine) without the network. */
#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_json.h"
#include "versync/store/store_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input: "METHOD PATH[?QUERY]\n" then the body. The query is split and
 * percent-decoded the way the HTTP front does (store_http.c), and the request
 * goes through store_api_handle against a real engine whose data directory is
 * a fresh folder under $TMPDIR (make fuzz-smoke points TMPDIR at a temporary
 * folder it removes). The engine lives for the whole run, so inputs see the
 * indexes and documents earlier inputs made.
 *
 * Checked: no crash, leak or sanitizer report; the status is a real HTTP
 * status and never 500 (a client cannot cause an internal error); a JSON
 * answer (not HEAD) is one valid JSON value, as clients parse it. Names
 * are exact (issue 19): POST /_aliases naming an index or alias that holds
 * a NUL never succeeds (no index can have such a name, none may be
 * created), and every document an _mget answers carries exactly the _id
 * asked for, NUL bytes and all. */

#include <cjson/cJSON.h>

static store_engine *engine;

/* `text` parsed with each \u0000 escape turned into STORE_JSON_NUL_MARK, so
 * that cJSON keeps whole strings (NULL when it is not JSON). */
static cJSON *parse_marked(const char *text, size_t n)
{
    buf m = BUF_INIT;
    bool nul = false;
    if (!json_is_valid(text, n) || !store_json_mark_nul(text, n, &m, &nul)) {
        buf_free(&m);
        return NULL;
    }
    cJSON *j = nul ? cJSON_ParseWithLength(m.data, m.len) : cJSON_ParseWithLength(text, n);
    buf_free(&m);
    return j;
}

static bool str_has_nul(const cJSON *v) { return cJSON_IsString(v) && strstr(v->valuestring, STORE_JSON_NUL_MARK); }

static bool names_have_nul(const cJSON *spec, const char *one, const char *many)
{
    if (str_has_nul(cJSON_GetObjectItemCaseSensitive(spec, one)))
        return true;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(spec, many), *it;
    if (str_has_nul(arr))
        return true;
    if (cJSON_IsArray(arr))
        cJSON_ArrayForEach(it, arr) if (str_has_nul(it)) return true;
    return false;
}

/* POST /_aliases with an index or alias name holding a NUL must fail. */
static void check_aliases(const store_req *req, const store_resp *resp)
{
    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, "/_aliases") != 0 || resp->status >= 300)
        return;
    cJSON *b = parse_marked(req->body, req->body_len), *it;
    const cJSON *acts = cJSON_GetObjectItemCaseSensitive(b, "actions");
    if (cJSON_IsArray(acts))
        cJSON_ArrayForEach(it, acts)
        {
            const cJSON *spec = cJSON_IsObject(it) ? it->child : NULL;
            if (cJSON_IsObject(spec) && (names_have_nul(spec, "index", "indices") || names_have_nul(spec, "alias", "aliases"))) {
                fprintf(stderr, "fuzz_store_api: _aliases with a NUL in a name answered %d\n", resp->status);
                abort();
            }
        }
    cJSON_Delete(b);
}

/* The ids an _mget asked for, in answer order (docs, then ids), as marked strings. */
static void check_mget(const store_req *req, const store_resp *resp)
{
    const char *p = strstr(req->path, "_mget");
    if (!p || p[5] || resp->status != 200)
        return;
    cJSON *b = parse_marked(req->body, req->body_len), *r = parse_marked(resp->body.data, resp->body.len);
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(b, "docs"), *ids = cJSON_GetObjectItemCaseSensitive(b, "ids");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(r, "docs");
    const cJSON *o = cJSON_IsArray(out) ? out->child : NULL;
    for (int pass = 0; pass < 2 && cJSON_IsArray(out); pass++) {
        const cJSON *arr = pass ? ids : docs, *it;
        if (!cJSON_IsArray(arr))
            continue;
        cJSON_ArrayForEach(it, arr)
        {
            const cJSON *want = pass ? it : cJSON_GetObjectItemCaseSensitive(it, "_id");
            const cJSON *got = o ? cJSON_GetObjectItemCaseSensitive(o, "_id") : NULL;
            if (cJSON_IsString(want) && cJSON_IsString(got) && strcmp(want->valuestring, got->valuestring) != 0) {
                fprintf(stderr, "fuzz_store_api: _mget asked for one _id and answered another\n");
                abort();
            }
            o = o ? o->next : NULL;
        }
    }
    cJSON_Delete(b);
    cJSON_Delete(r);
}
static store_api *api;
static char datadir[4096];

/* Remove the data directory at a normal exit (-runs, -max_total_time). */
static void remove_datadir(void)
{
    char f[4200];
    snprintf(f, sizeof f, "%s/data.mdb", datadir);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", datadir);
    unlink(f);
    rmdir(datadir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_store_api", LOG_ERROR, LOG_FORMAT_TEXT);
    const char *tmp = getenv("TMPDIR");
    snprintf(datadir, sizeof datadir, "%s/fuzz_store_api.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(datadir))
        abort();
    atexit(remove_datadir);
    store_engine_opts o = {.dir = datadir, .durable = false, .map_size = (size_t)64 << 20};
    char err[512];
    if (!store_engine_open(&o, &engine, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    if (!(api = store_api_new(engine)))
        abort();
    /* One index and document from the start, so that every input (and a
     * regression file on its own) meets something to read and match. */
    static const char doc[] = "{\"title\":\"some words here\",\"n\":1}";
    store_req req = {.method = "PUT", .path = "/books/_doc/1", .body = doc, .body_len = sizeof doc - 1,
                     .content_type = "application/json"};
    store_resp resp;
    store_resp_init(&resp);
    store_api_handle(api, &req, &resp);
    if (resp.status != 201)
        abort();
    store_resp_free(&resp);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t hlen = (size_t)(nl - data);
    char *head = malloc(hlen + 1);
    if (!head)
        return 0;
    memcpy(head, data, hlen);
    head[hlen] = '\0';
    if (strlen(head) != hlen) { /* the HTTP front never hands over a NUL */
        free(head);
        return 0;
    }
    char *sp = strchr(head, ' ');
    const char *method = head, *target = "/";
    if (sp) {
        *sp = '\0';
        target = sp + 1;
    }
    char *path = strdup(target);
    char *q = path ? strchr(path, '?') : NULL;
    store_param params[32];
    size_t np = 0;
    buf pstore = BUF_INIT;
    size_t offs[64];
    if (q) {
        *q++ = '\0';
        /* Decode into one buffer first (it may move), then point into it. */
        for (char *tok = strtok(q, "&"); tok && np < 32; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            size_t klen = eq ? (size_t)(eq - tok) : strlen(tok);
            size_t koff = pstore.len;
            if (!store_util_url_decode(tok, klen, true, &pstore) || !buf_putc(&pstore, '\0')) {
                pstore.len = koff;
                continue;
            }
            size_t voff = pstore.len;
            if ((eq && !store_util_url_decode(eq + 1, strlen(eq + 1), true, &pstore)) || !buf_putc(&pstore, '\0')) {
                pstore.len = koff;
                continue;
            }
            offs[2 * np] = koff;
            offs[2 * np + 1] = voff;
            np++;
        }
        for (size_t i = 0; i < np; i++) {
            params[i].key = pstore.data + offs[2 * i];
            params[i].value = pstore.data + offs[2 * i + 1];
        }
    }
    size_t blen = size - hlen - 1;
    char *body = malloc(blen ? blen : 1); /* exact size: overreads trap */
    if (!body || !path)
        abort();
    memcpy(body, nl + 1, blen);
    store_req req = {
        .method = method,
        .path = path[0] ? path : "/",
        .params = params,
        .nparams = np,
        .body = body,
        .body_len = blen,
        .content_type = "application/json",
    };
    store_resp resp;
    store_resp_init(&resp);
    store_api_handle(api, &req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    if (resp.status == 500) {
        fprintf(stderr, "fuzz_store_api: 500: %.400s\n", resp.body.data ? resp.body.data : "");
        abort(); /* an internal error caused by a request */
    }
    if (strcmp(method, "HEAD") != 0 && resp.content_type && strncmp(resp.content_type, "application/json", 16) == 0 &&
        !json_is_valid(resp.body.data ? resp.body.data : "", resp.body.len)) {
        fprintf(stderr, "fuzz_store_api: %d answer is not valid JSON: %.400s\n", resp.status,
                resp.body.data ? resp.body.data : "");
        abort(); /* an answer clients cannot parse */
    }
    check_aliases(&req, &resp);
    check_mget(&req, &resp);
    store_resp_free(&resp);
    free(body);
    free(path);
    buf_free(&pstore);
    free(head);

    /* State earlier inputs left behind must stay printable: every 64 inputs,
     * the index list (it echoes every stored name) is valid JSON. */
    static unsigned runs;
    if (++runs % 64 == 0) {
        store_param fj = {"format", "json"};
        store_req lr = {.method = "GET", .path = "/_cat/indices", .params = &fj, .nparams = 1, .body = "", .body_len = 0};
        store_resp_init(&resp);
        store_api_handle(api, &lr, &resp);
        if (resp.status != 200 || !json_is_valid(resp.body.data ? resp.body.data : "", resp.body.len)) {
            fprintf(stderr, "fuzz_store_api: after this input, _cat/indices?format=json is not valid JSON\n");
            abort();
        }
        store_resp_free(&resp);
    }
    return 0;
}
