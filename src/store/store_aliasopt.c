/* store_aliasopt — an alias's options (filter, routing, is_hidden): checked from an add action and kept as one JSON text. */
#include "versync/store/store_aliasopt.h"

#include "versync/common/buf.h"
#include "versync/store/store_error.h"
#include "versync/store/store_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIDDEN_PREFIX "{\"is_hidden\":true"

/* The member of `spec` named by any of `names`, the last given winning as
 * Elasticsearch's parser lets a later field overwrite an earlier one. */
static const cJSON *member(const cJSON *spec, const char *const *names)
{
    const cJSON *hit = NULL;
    for (const cJSON *k = spec->child; k; k = k->next)
        for (size_t i = 0; names[i]; i++)
            if (strcmp(k->string, names[i]) == 0)
                hit = k;
    return hit;
}

/* A routing value as text: Elasticsearch takes a string or a number. */
static bool routing_text(const cJSON *v, char *out, size_t outsz, store_resp *resp)
{
    if (cJSON_IsString(v) && strlen(v->valuestring) < outsz) {
        snprintf(out, outsz, "%s", v->valuestring);
        return true;
    }
    if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble) {
        snprintf(out, outsz, "%lld", (long long)v->valuedouble);
        return true;
    }
    store_resp_errorf(resp, 400, "x_content_parse_exception", "[%s] must be a string or a number of at most %zu bytes",
                      v->string, outsz - 1);
    return false;
}

bool store_aliasopt_build(const cJSON *spec, const char *alias, char **out, store_resp *resp)
{
    static const char *const n_filter[] = {"filter", NULL};
    static const char *const n_routing[] = {"routing", NULL};
    static const char *const n_index[] = {"index_routing", "indexRouting", "index-routing", NULL};
    static const char *const n_search[] = {"search_routing", "searchRouting", "search-routing", NULL};
    static const char *const n_hidden[] = {"is_hidden", NULL};
    char irt[512] = "", srt[512] = "";
    bool has_i = false, has_s = false, ok = false;
    buf b = BUF_INIT;
    char *ftext = NULL;
    *out = NULL;
    const cJSON *filter = member(spec, n_filter), *routing = member(spec, n_routing);
    const cJSON *ir = member(spec, n_index), *sr = member(spec, n_search), *hidden = member(spec, n_hidden);
    if (hidden && !cJSON_IsBool(hidden)) {
        store_resp_error(resp, 400, "x_content_parse_exception", "[is_hidden] must be true or false");
        goto done;
    }
    if (routing) {
        if (!routing_text(routing, irt, sizeof irt, resp))
            goto done;
        snprintf(srt, sizeof srt, "%s", irt);
        has_i = has_s = true;
    }
    if (ir) {
        if (!routing_text(ir, irt, sizeof irt, resp))
            goto done;
        has_i = true;
    }
    if (sr) {
        if (!routing_text(sr, srt, sizeof srt, resp))
            goto done;
        has_s = true;
    }
    /* AliasValidator: a write through the alias needs one routing value */
    if (has_i && strchr(irt, ',')) {
        store_resp_errorf(resp, 400, "illegal_argument_exception",
                          "alias [%s] has several index routing values associated with it", alias);
        goto done;
    }
    if (filter) {
        store_error qe = {0};
        store_query *q = cJSON_IsObject(filter) ? store_query_parse(filter, &qe) : NULL;
        if (q && store_query_has_lookup(q)) {
            /* AliasValidator rewrites the filter with no way to fetch: the
             * terms lookup's fetch is an async action left over */
            store_error_set(&qe, 400, "illegal_state_exception", "some async actions are left after rewrite");
            store_query_free(q);
            q = NULL;
        }
        if (!q) {
            /* Elasticsearch: IllegalArgumentException wrapping the query's own error */
            buf caused = BUF_INIT, reason = BUF_INIT;
            buf_puts(&caused, "{\"type\":");
            buf_put_json_string(&caused, qe.type ? qe.type : "parsing_exception",
                                strlen(qe.type ? qe.type : "parsing_exception"));
            buf_puts(&caused, ",\"reason\":");
            const char *why = qe.reason.data && qe.reason.len ? qe.reason.data : "[filter] must be a query object";
            buf_put_json_string(&caused, why, strlen(why));
            buf_putc(&caused, '}');
            buf_printf(&reason, "failed to parse filter for alias [%s]", alias);
            store_resp_error_n(resp, 400, "illegal_argument_exception", reason.data, reason.len, NULL, caused.data);
            buf_free(&caused);
            buf_free(&reason);
            store_error_free(&qe);
            goto done;
        }
        store_query_free(q);
        store_error_free(&qe);
        if (!(ftext = cJSON_PrintUnformatted(filter)))
            goto oom;
    }
    if (!hidden && !ftext && !has_i && !has_s) {
        ok = true;
        goto done;
    }
    buf_putc(&b, '{');
    if (hidden)
        buf_puts(&b, cJSON_IsTrue(hidden) ? "\"is_hidden\":true" : "\"is_hidden\":false");
    if (ftext)
        buf_printf(&b, "%s\"filter\":%s", b.len > 1 ? "," : "", ftext);
    if (has_i) {
        buf_puts(&b, b.len > 1 ? ",\"index_routing\":" : "\"index_routing\":");
        buf_put_json_string(&b, irt, strlen(irt));
    }
    if (has_s) {
        buf_puts(&b, b.len > 1 ? ",\"search_routing\":" : "\"search_routing\":");
        buf_put_json_string(&b, srt, strlen(srt));
    }
    buf_putc(&b, '}');
    if (!buf_ok(&b) || !(*out = strdup(b.data)))
        goto oom;
    ok = true;
    goto done;
oom:
    store_resp_error(resp, 500, "exception", "out of memory");
done:
    free(ftext);
    buf_free(&b);
    return ok;
}

bool store_aliasopt_hidden(const char *opts)
{
    return opts && strncmp(opts, HIDDEN_PREFIX, strlen(HIDDEN_PREFIX)) == 0;
}
