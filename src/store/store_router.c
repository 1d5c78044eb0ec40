/* store_router — maps a method and raw URL path to a verstore endpoint, and Elasticsearch's index-name rules. */
#include "versync/store_router.h"

#include "versync/buf.h"
#include "versync/store_json.h"
#include "versync/store_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 5

unsigned store_router_method(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return STORE_M_GET;
    if (strcmp(m, "HEAD") == 0)
        return STORE_M_HEAD;
    if (strcmp(m, "POST") == 0)
        return STORE_M_POST;
    if (strcmp(m, "PUT") == 0)
        return STORE_M_PUT;
    if (strcmp(m, "DELETE") == 0)
        return STORE_M_DELETE;
    return 0;
}

void store_router_free(store_match *m)
{
    free(m->index);
    free(m->type);
    free(m->id);
    free(m->alias);
    m->index = m->type = m->id = m->alias = NULL;
}

static bool is_(const char *s, const char *lit) { return strcmp(s, lit) == 0; }

bool store_router_match(const char *method, const char *path, store_match *out)
{
    memset(out, 0, sizeof *out);
    out->method = store_router_method(method);
    char *seg[MAX_SEGS] = {0};
    size_t seglen[MAX_SEGS] = {0};
    int n = 0;
    bool ok = true, too_many = false;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == MAX_SEGS) {
            too_many = true;
            break;
        }
        buf b = BUF_INIT;
        if (!store_util_url_decode(p, len, false, &b) || !buf_reserve(&b, 1)) {
            buf_free(&b);
            ok = false;
            goto done;
        }
        seglen[n] = b.len;
        seg[n++] = buf_steal(&b);
        p += len;
    }
    if (too_many)
        goto done;
    const unsigned RW = STORE_M_GET | STORE_M_HEAD | STORE_M_PUT | STORE_M_POST | STORE_M_DELETE;
    int take_index = -1, take_type = -1, take_id = -1, take_alias = -1;
    const unsigned ALIAS_RW = STORE_M_GET | STORE_M_HEAD | STORE_M_PUT | STORE_M_POST | STORE_M_DELETE;
    /* A name starting with '_' is an endpoint, never an index or a type;
     * `_all` before an endpoint is the index expression naming every index. */
    bool all_expr = n > 1 && is_(seg[0], "_all") &&
                    (is_(seg[1], "_refresh") || is_(seg[1], "_settings") || is_(seg[1], "_mapping") ||
                     is_(seg[1], "_mappings") || is_(seg[1], "_alias") || is_(seg[1], "_aliases") ||
                     is_(seg[1], "_search") || is_(seg[1], "_count"));
    bool s0_ = n > 0 && seg[0][0] == '_' && !all_expr;
    bool s1_ = n > 1 && seg[1][0] == '_';
    switch (n) {
    case 0:
        out->route = STORE_R_ROOT, out->allowed = STORE_M_GET | STORE_M_HEAD;
        break;
    case 1:
        if (is_(seg[0], "_bulk"))
            out->route = STORE_R_BULK, out->allowed = STORE_M_POST | STORE_M_PUT;
        else if (is_(seg[0], "_mget"))
            out->route = STORE_R_MGET, out->allowed = STORE_M_GET | STORE_M_POST | STORE_M_PUT;
        else if (is_(seg[0], "_refresh"))
            out->route = STORE_R_REFRESH, out->allowed = STORE_M_GET | STORE_M_POST;
        else if (is_(seg[0], "_aliases"))
            out->route = STORE_R_ALIASES, out->allowed = STORE_M_GET | STORE_M_POST;
        else if (is_(seg[0], "_alias"))
            out->route = STORE_R_ALIAS, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_search"))
            out->route = STORE_R_SEARCH, out->allowed = STORE_M_GET | STORE_M_POST;
        else if (is_(seg[0], "_count"))
            out->route = STORE_R_COUNT, out->allowed = STORE_M_GET | STORE_M_POST;
        else if (is_(seg[0], "_mapping") || is_(seg[0], "_mappings"))
            out->route = STORE_R_MAPPING, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_analyze"))
            out->route = STORE_R_ANALYZE, out->allowed = STORE_M_GET | STORE_M_POST;
        else if (is_(seg[0], "_settings"))
            out->route = STORE_R_SETTINGS, out->allowed = STORE_M_GET | STORE_M_PUT;
        else if (is_(seg[0], "_data_stream"))
            out->route = STORE_R_DATA_STREAM, out->allowed = STORE_M_GET;
        else /* "_x" too: creating it fails the index-name rules, as in Elasticsearch */
            out->route = STORE_R_INDEX, out->allowed = STORE_M_GET | STORE_M_HEAD | STORE_M_PUT | STORE_M_DELETE,
            take_index = 0;
        break;
    case 2:
        if (is_(seg[0], "_cat") && is_(seg[1], "indices"))
            out->route = STORE_R_CAT_INDICES, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_cat") && is_(seg[1], "aliases"))
            out->route = STORE_R_CAT_ALIASES, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_cat") && is_(seg[1], "count"))
            out->route = STORE_R_CAT_COUNT, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_data_stream"))
            out->route = STORE_R_DATA_STREAM, out->allowed = STORE_M_GET, take_index = 1;
        else if (is_(seg[0], "_cluster") && is_(seg[1], "health"))
            out->route = STORE_R_HEALTH, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_alias"))
            out->route = STORE_R_ALIAS, out->allowed = STORE_M_GET | STORE_M_HEAD, take_alias = 1;
        else if (is_(seg[0], "_prometheus") && is_(seg[1], "metrics"))
            out->route = STORE_R_METRICS, out->allowed = STORE_M_GET;
        else if (is_(seg[0], "_search") && is_(seg[1], "scroll"))
            out->route = STORE_R_SCROLL, out->allowed = STORE_M_GET | STORE_M_POST | STORE_M_DELETE;
        else if (is_(seg[0], "_all") && is_(seg[1], "_search"))
            out->route = STORE_R_SEARCH, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (is_(seg[0], "_all") && is_(seg[1], "_count"))
            out->route = STORE_R_COUNT, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (s0_)
            break;
        else if (is_(seg[1], "_alias") || is_(seg[1], "_aliases"))
            out->route = STORE_R_ALIAS, out->allowed = STORE_M_GET, take_index = 0;
        else if (is_(seg[1], "_bulk"))
            out->route = STORE_R_BULK, out->allowed = STORE_M_POST | STORE_M_PUT, take_index = 0;
        else if (is_(seg[1], "_mget"))
            out->route = STORE_R_MGET, out->allowed = STORE_M_GET | STORE_M_POST | STORE_M_PUT, take_index = 0;
        else if (is_(seg[1], "_refresh"))
            out->route = STORE_R_REFRESH, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (is_(seg[1], "_settings"))
            out->route = STORE_R_SETTINGS, out->allowed = STORE_M_GET | STORE_M_PUT, take_index = 0;
        else if (is_(seg[1], "_mapping") || is_(seg[1], "_mappings"))
            out->route = STORE_R_MAPPING, out->allowed = STORE_M_GET | STORE_M_PUT | STORE_M_POST, take_index = 0;
        else if (is_(seg[1], "_search"))
            out->route = STORE_R_SEARCH, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (is_(seg[1], "_count"))
            out->route = STORE_R_COUNT, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (is_(seg[1], "_analyze"))
            out->route = STORE_R_ANALYZE, out->allowed = STORE_M_GET | STORE_M_POST, take_index = 0;
        else if (is_(seg[1], "_doc"))
            out->route = STORE_R_DOC_AUTO, out->allowed = STORE_M_POST, take_index = 0;
        else if (!s1_)
            out->route = STORE_R_LEGACY_AUTO, out->allowed = STORE_M_POST, take_index = 0, take_type = 1;
        break;
    case 3:
        if (is_(seg[0], "_cat") && is_(seg[1], "indices"))
            out->route = STORE_R_CAT_INDICES, out->allowed = STORE_M_GET, take_index = 2;
        else if (is_(seg[0], "_cat") && is_(seg[1], "aliases"))
            out->route = STORE_R_CAT_ALIASES, out->allowed = STORE_M_GET, take_alias = 2;
        else if (is_(seg[0], "_cat") && is_(seg[1], "count"))
            out->route = STORE_R_CAT_COUNT, out->allowed = STORE_M_GET, take_index = 2;
        else if (is_(seg[0], "_cluster") && is_(seg[1], "health"))
            out->route = STORE_R_HEALTH, out->allowed = STORE_M_GET, take_index = 2;
        else if (is_(seg[0], "_search") && is_(seg[1], "scroll"))
            out->route = STORE_R_SCROLL, out->allowed = STORE_M_GET | STORE_M_POST | STORE_M_DELETE, take_id = 2;
        else if (s0_)
            break;
        else if (is_(seg[1], "_alias") || is_(seg[1], "_aliases"))
            out->route = STORE_R_ALIAS, out->allowed = ALIAS_RW, take_index = 0, take_alias = 2;
        else if (is_(seg[1], "_doc"))
            out->route = STORE_R_DOC, out->allowed = RW, take_index = 0, take_id = 2;
        else if (is_(seg[1], "_create"))
            out->route = STORE_R_CREATE, out->allowed = STORE_M_PUT | STORE_M_POST, take_index = 0, take_id = 2;
        else if (is_(seg[1], "_update"))
            out->route = STORE_R_UPDATE, out->allowed = STORE_M_POST, take_index = 0, take_id = 2;
        else if (is_(seg[1], "_source"))
            out->route = STORE_R_SOURCE, out->allowed = STORE_M_GET | STORE_M_HEAD, take_index = 0, take_id = 2;
        else if (!s1_)
            out->route = STORE_R_LEGACY_DOC, out->allowed = RW, take_index = 0, take_type = 1, take_id = 2;
        break;
    case 4:
        if (s0_ || s1_)
            break;
        take_index = 0, take_type = 1, take_id = 2;
        if (is_(seg[3], "_create"))
            out->route = STORE_R_LEGACY_CREATE, out->allowed = STORE_M_PUT | STORE_M_POST;
        else if (is_(seg[3], "_update"))
            out->route = STORE_R_LEGACY_UPDATE, out->allowed = STORE_M_POST;
        else if (is_(seg[3], "_source"))
            out->route = STORE_R_LEGACY_SOURCE, out->allowed = STORE_M_GET | STORE_M_HEAD;
        else
            take_index = take_type = take_id = -1;
        break;
    default: break;
    }
    if (out->route == STORE_R_NONE)
        goto done;
    /* Names are C strings: an encoded NUL cannot be part of one. */
    if ((take_index >= 0 && strlen(seg[take_index]) != seglen[take_index]) ||
        (take_type >= 0 && strlen(seg[take_type]) != seglen[take_type]) ||
        (take_alias >= 0 && strlen(seg[take_alias]) != seglen[take_alias])) {
        ok = false;
        goto done;
    }
    if (take_index >= 0)
        out->index = seg[take_index], seg[take_index] = NULL;
    if (take_type >= 0)
        out->type = seg[take_type], seg[take_type] = NULL;
    if (take_alias >= 0)
        out->alias = seg[take_alias], seg[take_alias] = NULL;
    if (take_id >= 0)
        out->id_len = seglen[take_id], out->id = seg[take_id], seg[take_id] = NULL;
done:
    for (int i = 0; i < n; i++)
        free(seg[i]);
    if (!ok)
        store_router_free(out);
    return ok;
}

void store_router_allowed_text(unsigned allowed, char *out, size_t outsz)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {STORE_M_GET, "GET"}, {STORE_M_HEAD, "HEAD"}, {STORE_M_POST, "POST"},
        {STORE_M_PUT, "PUT"}, {STORE_M_DELETE, "DELETE"},
    };
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (allowed & names[i].bit) {
            int w = snprintf(out + o, outsz - o, "%s%s", o ? ", " : "", names[i].name);
            if (w < 0 || (size_t)w >= outsz - o)
                break;
            o += (size_t)w;
        }
}

bool store_router_valid_index(const char *name, buf *reason)
{
    /* Same checks in the same order as MetadataCreateIndexService. */
    size_t n = strlen(name);
    const char *why = NULL;
    char toolong[64];
    if (n == 0)
        why = "must not be empty";
    for (size_t i = 0; !why && i < n; i++)
        if (strchr("\\/*?\"<>| ,", name[i]))
            why = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]";
    /* A NUL from a JSON body arrives as U+10FFFF (store_json_mark_nul). */
    if (!why && strstr(name, STORE_JSON_NUL_MARK))
        why = "must not contain a NUL character";
    if (!why && strchr(name, '#'))
        why = "must not contain '#'";
    if (!why && strchr(name, ':'))
        why = "must not contain ':'";
    if (!why && (name[0] == '_' || name[0] == '-' || name[0] == '+'))
        why = "must not start with '_', '-', or '+'";
    if (!why && n > 255) {
        snprintf(toolong, sizeof toolong, "index name is too long, (%zu > 255)", n);
        why = toolong;
    }
    if (!why && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
        why = "must not be '.' or '..'";
    for (size_t i = 0; !why && i < n; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            why = "must be lowercase";
    if (!why)
        return true;
    buf_puts(reason, "Invalid index name [");
    buf_puts(reason, name);
    buf_puts(reason, "], ");
    buf_puts(reason, why);
    return false;
}
