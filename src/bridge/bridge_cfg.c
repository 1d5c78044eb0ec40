/* bridge_cfg — versync's config file: comments, ${ENV}, JSON, validation into struct cfg. */
#include "versync/bridge/cfg.h"

#include "versync/common/buf.h"
#include "versync/bridge/cfg_json.h"
#include "versync/bridge/nested.h"
#include "versync/common/utf8.h"
#include "versync/bridge/wal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where an error goes: every message starts with the file name. */
typedef struct ctx {
    const char *name;
    char *err;
    size_t errsz;
} ctx;

static bool fail(ctx *x, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(ctx *x, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(x->err, x->errsz, "%s: %s: %s", x->name, path, msg);
    else
        snprintf(x->err, x->errsz, "%s: %s", x->name, msg);
    return false;
}

const char *cfg_default_path(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *env = getenv("VERSYNC_CONFIG");
    if (env && *env)
        return env;
    return "./versync.json";
}

/* ---- comments ----------------------------------------------------------- */

static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Offset of the first byte that is not part of well-formed UTF-8, or -1. */
static long invalid_utf8_at(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(s + i, n - i);
        if (!k)
            return (long)i;
        i += k;
    }
    return -1;
}

/* Overwrite // and block comments outside strings with spaces, in place, so
 * that offsets (and so line:column of later parse errors) stay those of the
 * original file. */
static bool strip_comments(ctx *x, char *s)
{
    bool in_str = false;
    for (size_t i = 0; s[i]; i++) {
        if (in_str) {
            /* cJSON decodes \u0000 into a NUL that silently ends the C string,
             * so "a\u0000b" would load as "a": refuse it where it stands. */
            if (s[i] == '\\' && s[i + 1] == 'u' && strncmp(s + i + 2, "0000", 4) == 0) {
                int line, col;
                line_col(s, i, &line, &col);
                char where[32];
                snprintf(where, sizeof where, "%d:%d", line, col);
                return fail(x, where, "\\u0000 (a NUL character) is not allowed in the config");
            }
            if (s[i] == '\\' && s[i + 1])
                i++;
            else if (s[i] == '"')
                in_str = false;
            continue;
        }
        if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '/' && s[i + 1] == '/') {
            while (s[i] && s[i] != '\n')
                s[i++] = ' ';
            if (!s[i])
                break;
        } else if (s[i] == '/' && s[i + 1] == '*') {
            size_t start = i;
            s[i++] = ' ';
            s[i++] = ' ';
            while (s[i] && !(s[i] == '*' && s[i + 1] == '/')) {
                if (s[i] != '\n')
                    s[i] = ' ';
                i++;
            }
            if (!s[i]) {
                int line, col;
                line_col(s, start, &line, &col);
                char where[32];
                snprintf(where, sizeof where, "%d:%d", line, col);
                return fail(x, where, "unterminated /* comment");
            }
            s[i++] = ' ';
            s[i] = ' ';
        }
    }
    return true;
}

/* ---- ${NAME} ------------------------------------------------------------ */

/* Replace ${NAME} in `in` by the environment variable NAME; "$${" stands for
 * a literal "${". Returns a heap string (caller frees) or NULL after writing
 * the error for `path`. */
static char *expand_env(ctx *x, const char *path, const char *in)
{
    buf b = BUF_INIT;
    for (const char *p = in; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            buf_puts(&b, "${");
            p += 3;
            continue;
        }
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                fail(x, path, "unterminated ${ in \"%s\"", in);
                goto bad;
            }
            size_t n = (size_t)(end - (p + 2));
            char name[256];
            if (n == 0 || n >= sizeof name) {
                fail(x, path, "bad variable reference in \"%s\"", in);
                goto bad;
            }
            memcpy(name, p + 2, n);
            name[n] = '\0';
            for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char)name[i]) || name[i] == '_')) {
                    fail(x, path, "bad variable name \"%s\" (letters, digits and _ only)", name);
                    goto bad;
                }
            const char *val = getenv(name);
            if (!val) {
                fail(x, path, "environment variable %s is not set", name);
                goto bad;
            }
            buf_puts(&b, val);
            p = end + 1;
            continue;
        }
        buf_putc(&b, *p++);
    }
    char *out = buf_steal(&b);
    if (!out)
        out = strdup("");
    if (!out)
        fail(x, path, "out of memory");
    return out;
bad:
    buf_free(&b);
    return NULL;
}

/* Expand ${NAME} in every string value of the tree (not in keys), so that
 * values are substituted after JSON parsing and need no JSON escaping. */
static bool expand_tree(ctx *x, cJSON *node, const char *path)
{
    if (cJSON_IsString(node)) {
        if (!strchr(node->valuestring, '$'))
            return true;
        char *v = expand_env(x, path, node->valuestring);
        if (!v)
            return false;
        char *copy = cJSON_malloc(strlen(v) + 1);
        if (!copy) {
            free(v);
            return fail(x, path, "out of memory");
        }
        strcpy(copy, v);
        free(v);
        cJSON_free(node->valuestring);
        node->valuestring = copy;
        return true;
    }
    int i = 0;
    for (cJSON *c = node->child; c; c = c->next, i++) {
        char sub[512];
        if (cJSON_IsObject(node))
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", c->string);
        else
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
        if (!expand_tree(x, c, sub))
            return false;
    }
    return true;
}

/* ---- literal secrets ----------------------------------------------------- */

/* Stands in for a ${NAME} reference while looking for secrets: letters only,
 * so a conninfo or URL parser takes it as ordinary text. */
#define ENV_MARK "VERSYNCENVREF"

/* `raw` with every ${NAME} replaced by ENV_MARK (heap, caller frees; NULL
 * when out of memory). */
static char *mark_env_refs(const char *raw)
{
    buf b = BUF_INIT;
    for (const char *p = raw; *p;) {
        const char *end;
        if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
            buf_puts(&b, ENV_MARK);
            p = end + 1;
        } else {
            buf_putc(&b, *p++);
        }
    }
    char *out = buf_steal(&b);
    return out ? out : strdup("");
}

/* Whether `s` holds anything besides ENV_MARKs. */
static bool has_literal(const char *s)
{
    while (strncmp(s, ENV_MARK, strlen(ENV_MARK)) == 0)
        s += strlen(ENV_MARK);
    return *s != '\0';
}

/* The password a conninfo string or postgres:// URI gives, as libpq reads it
 * (heap), or NULL. */
static char *conninfo_password(const char *conninfo)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            pw = strdup(o->val);
    PQconninfoFree(opts);
    return pw;
}

/* The password of scheme://user:PASSWORD@host… (heap), or NULL. */
static char *url_password(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    p += 3;
    size_t authority = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', authority);
    const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    return colon ? strndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
}

/* Path of the first secret-bearing field whose secret is written literally
 * (checked before ${NAME} expansion), or NULL. */
static const char *find_literal_secret(const cJSON *root)
{
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (!cJSON_IsObject(store))
        store = NULL;
    const struct {
        const char *path;
        const cJSON *v;
        char *(*extract)(const char *);
    } fields[] = {
        {"postgres", cJSON_GetObjectItemCaseSensitive(root, "postgres"), conninfo_password},
        {"store.url", store ? cJSON_GetObjectItemCaseSensitive(store, "url") : NULL, url_password},
        {"store.password", store ? cJSON_GetObjectItemCaseSensitive(store, "password") : NULL, strdup},
        {"store.api_key", store ? cJSON_GetObjectItemCaseSensitive(store, "api_key") : NULL, strdup},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!cJSON_IsString(fields[i].v) || !*fields[i].v->valuestring)
            continue;
        char *marked = mark_env_refs(fields[i].v->valuestring);
        char *secret = marked ? fields[i].extract(marked) : NULL;
        bool literal = secret && has_literal(secret);
        free(secret);
        free(marked);
        if (literal)
            return fields[i].path;
    }
    return NULL;
}

/* ---- typed getters ------------------------------------------------------ */

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "invalid";
}

static void join_path(char *out, size_t n, const char *path, const char *key)
{
    /* A path too long for `out` is cut short: it only labels a message. */
    if (snprintf(out, n, "%s%s%s", path, *path ? "." : "", key) >= (int)n)
        out[n - 1] = '\0';
}

/* Every key of `obj` must be in `allowed` (NULL-terminated) and appear once. */
static bool check_keys(ctx *x, const cJSON *obj, const char *path, const char *const *allowed)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        char sub[512];
        join_path(sub, sizeof sub, path, c->string);
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], c->string) == 0)
                known = true;
        if (!known) {
            buf b = BUF_INIT;
            for (size_t i = 0; allowed[i]; i++)
                buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]);
            fail(x, sub, "unknown key (known keys: %s)", b.data ? b.data : "");
            buf_free(&b);
            return false;
        }
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (strcmp(d->string, c->string) == 0)
                return fail(x, sub, "duplicate key");
    }
    return true;
}

/* A string value at obj.key into *out (heap, replaced). Absent: unchanged. */
static bool get_str(ctx *x, const cJSON *obj, const char *path, const char *key, char **out, bool nonempty)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    char sub[512];
    join_path(sub, sizeof sub, path, key);
    if (!cJSON_IsString(v))
        return fail(x, sub, "must be a string, not %s", type_name(v));
    if (nonempty && !*v->valuestring)
        return fail(x, sub, "must not be empty");
    char *s = strdup(v->valuestring);
    if (!s)
        return fail(x, sub, "out of memory");
    free(*out);
    *out = s;
    return true;
}

static bool get_bool(ctx *x, const cJSON *obj, const char *path, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    if (!cJSON_IsBool(v)) {
        char sub[512];
        join_path(sub, sizeof sub, path, key);
        return fail(x, sub, "must be true or false, not %s", type_name(v));
    }
    *out = cJSON_IsTrue(v);
    return true;
}

static bool get_int(ctx *x, const cJSON *obj, const char *path, const char *key, long lo, long hi, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    char sub[512];
    join_path(sub, sizeof sub, path, key);
    if (!cJSON_IsNumber(v))
        return fail(x, sub, "must be a number, not %s", type_name(v));
    double d = v->valuedouble;
    if (d != floor(d))
        return fail(x, sub, "must be a whole number, not %g", d);
    if (d < (double)lo || d > (double)hi)
        return fail(x, sub, "must be between %ld and %ld, not %.0f", lo, hi, d);
    *out = (long)d;
    return true;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* An array of distinct non-empty strings at obj.key. Absent: *out stays NULL. */
static bool get_strv(ctx *x, const cJSON *obj, const char *path, const char *key, bool nonempty_array, char ***out,
                     size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    char sub[512];
    join_path(sub, sizeof sub, path, key);
    if (!cJSON_IsArray(v))
        return fail(x, sub, "must be an array of column names, not %s", type_name(v));
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (nonempty_array && count == 0)
        return fail(x, sub, "must name at least one column");
    char **arr = calloc(count ? count : 1, sizeof *arr);
    if (!arr)
        return fail(x, sub, "out of memory");
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        char el[560];
        snprintf(el, sizeof el, "%s[%zu]", sub, i);
        if (!cJSON_IsString(c) || !*c->valuestring) {
            free_strv(arr, i);
            return fail(x, el, "must be a non-empty string (a column name), not %s",
                        cJSON_IsString(c) ? "an empty string" : type_name(c));
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(arr[j], c->valuestring) == 0) {
                free_strv(arr, i);
                return fail(x, el, "column \"%s\" is listed twice", c->valuestring);
            }
        if (!(arr[i] = strdup(c->valuestring))) {
            free_strv(arr, i);
            return fail(x, el, "out of memory");
        }
    }
    *out = arr;
    *n = count;
    return true;
}

/* ---- names -------------------------------------------------------------- */

/* One part of "schema.table": "…" quoted (with "" for a quote) or a bare run
 * of characters without dots and quotes, taken exactly as written. */
static const char *ident_part(const char *p, char **out, const char **why)
{
    buf b = BUF_INIT;
    if (*p == '"') {
        p++;
        for (;;) {
            if (!*p) {
                *why = "unterminated quoted name";
                goto bad;
            }
            if (*p == '"') {
                if (p[1] == '"') {
                    buf_putc(&b, '"');
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            buf_putc(&b, *p++);
        }
    } else {
        while (*p && *p != '.' && *p != '"')
            buf_putc(&b, *p++);
        if (*p == '"') {
            *why = "a double quote may only start a quoted name";
            goto bad;
        }
        if (b.len && (isspace((unsigned char)b.data[0]) || isspace((unsigned char)b.data[b.len - 1]))) {
            *why = "a name starts or ends with a space; quote it if that is really its name";
            goto bad;
        }
    }
    if (b.len == 0) {
        *why = "empty name";
        goto bad;
    }
    *out = buf_steal(&b);
    return p;
bad:
    buf_free(&b);
    return NULL;
}

static bool parse_table_name(ctx *x, const char *path, const char *text, char **schema, char **name)
{
    const char *why = "must be schema-qualified, like \"public.products\"";
    const char *p = ident_part(text, schema, &why);
    if (!p || *p != '.') {
        free(p ? *schema : NULL);
        *schema = NULL;
        if (p)
            why = "must be schema-qualified, like \"public.products\" or \"\\\"Sales\\\".\\\"Order Items\\\"\"";
        return fail(x, path, "\"%s\": %s", text, why);
    }
    p = ident_part(p + 1, name, &why);
    if (!p || *p) {
        free(*schema);
        *schema = NULL;
        if (p) {
            free(*name);
            why = "more than two dot-separated parts (quote a name that contains a dot)";
        }
        *name = NULL;
        return fail(x, path, "\"%s\": %s", text, why);
    }
    if (strlen(*schema) > 63 || strlen(*name) > 63) {
        free(*schema);
        free(*name);
        *schema = *name = NULL;
        return fail(x, path, "\"%s\": a PostgreSQL name is at most 63 bytes", text);
    }
    return true;
}

/* Elasticsearch's rules for index names; NULL when `s` is valid. */
static const char *index_name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "must not be empty";
    if (n > 255)
        return "must be at most 255 bytes";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "must not be \".\" or \"..\"";
    if (s[0] == '-' || s[0] == '_' || s[0] == '+')
        return "must not start with -, _ or +";
    /* verstore reads U+10FFFF as a NUL byte from a JSON body and refuses it in names. */
    if (strstr(s, "\xF4\x8F\xBF\xBF"))
        return "must not contain U+10FFFF";
    for (const char *p = s; *p; p++) {
        if (isupper((unsigned char)*p))
            return "must be lowercase";
        if (strchr("\\/*?\"<>| ,#:", *p))
            return "must not contain \\ / * ? \" < > | space , # or :";
    }
    return NULL;
}

/* ---- the walk ----------------------------------------------------------- */

static const char *const top_keys[] = {"postgres", "store",      "schema",           "channel", "workers",
                                       "batch_size", "poll_interval_ms", "listen", "tables", "special_values", "wal",
                                       "worker_stats_expire_s", "lag_window_s", NULL};
static const char *const store_keys[] = {"url", "username", "password", "api_key", "ca_file", "insecure", "timeout_ms",
                                         "max_bulk_bytes", "max_item_retries", NULL};
static const char *const table_keys[] = {"table",   "index",  "key",     "version",     "columns",        "exclude",
                                         "rename",  "deletes", "soft_delete", "index_settings", "mappings", "capture",
                                         "children", "special_values", "where", NULL};
static const char *const version_keys[] = {"column", "timestamp", "managed", NULL};
static const char *const soft_delete_keys[] = {"column", NULL};

static bool want_object(ctx *x, const cJSON *v, const char *path)
{
    if (!cJSON_IsObject(v))
        return fail(x, path, "must be an object, not %s", type_name(v));
    return true;
}

static bool contains(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool parse_store(ctx *x, const cJSON *o, cfg_store *s)
{
    if (!want_object(x, o, "store") || !check_keys(x, o, "store", store_keys))
        return false;
    long timeout = s->timeout_ms, max_bulk = s->max_bulk_bytes, item_retries = s->max_item_retries;
    if (!get_str(x, o, "store", "url", &s->url, true) || !get_str(x, o, "store", "username", &s->username, false) ||
        !get_str(x, o, "store", "password", &s->password, false) ||
        !get_str(x, o, "store", "api_key", &s->api_key, false) ||
        !get_str(x, o, "store", "ca_file", &s->ca_file, false) || !get_bool(x, o, "store", "insecure", &s->insecure) ||
        !get_int(x, o, "store", "timeout_ms", 1, 3600000, &timeout) ||
        !get_int(x, o, "store", "max_bulk_bytes", 1024, 1L << 30, &max_bulk) ||
        !get_int(x, o, "store", "max_item_retries", 0, 1000000, &item_retries))
        return false;
    s->timeout_ms = timeout;
    s->max_bulk_bytes = max_bulk;
    s->max_item_retries = (int)item_retries;
    return true;
}

static bool parse_version(ctx *x, const cJSON *v, const char *path, cfg_table *t)
{
    if (!want_object(x, v, path) || !check_keys(x, v, path, version_keys))
        return false;
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(v, "column");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(v, "timestamp");
    if (col && ts)
        return fail(x, path, "give either \"column\" (an integer version) or \"timestamp\", not both");
    if (!col && !ts)
        return fail(x, path, "needs \"column\" (an integer version column) or \"timestamp\" (a timestamp column)");
    t->version_kind = col ? CFG_VERSION_COLUMN : CFG_VERSION_TIMESTAMP;
    if (!get_str(x, v, path, col ? "column" : "timestamp", &t->version_column, true) ||
        !get_bool(x, v, path, "managed", &t->managed))
        return false;
    return true;
}

static bool parse_rename(ctx *x, const cJSON *v, const char *path, cfg_table *t)
{
    if (!want_object(x, v, path))
        return false;
    size_t n = (size_t)cJSON_GetArraySize(v);
    t->rename = calloc(n ? n : 1, sizeof *t->rename);
    if (!t->rename)
        return fail(x, path, "out of memory");
    for (const cJSON *c = v->child; c; c = c->next) {
        char sub[512];
        join_path(sub, sizeof sub, path, c->string);
        if (!*c->string)
            return fail(x, path, "a column name must not be empty");
        if (!cJSON_IsString(c) || !*c->valuestring)
            return fail(x, sub, "must be a non-empty string (the document field name), not %s",
                        cJSON_IsString(c) ? "an empty string" : type_name(c));
        if (cfg_field_reserved(c->valuestring))
            return fail(x, sub,
                        "\"%s\" is an Elasticsearch metadata field name: the store refuses documents that carry "
                        "it as a field; pick another name for column \"%s\" of %s",
                        c->valuestring, c->string, t->ident ? t->ident : "the table");
        for (size_t i = 0; i < t->nrename; i++) {
            if (strcmp(t->rename[i].from, c->string) == 0)
                return fail(x, sub, "duplicate key");
            if (strcmp(t->rename[i].to, c->valuestring) == 0)
                return fail(x, sub, "field \"%s\" is already the new name of column \"%s\"", c->valuestring,
                            t->rename[i].from);
        }
        cfg_rename *r = &t->rename[t->nrename];
        r->from = strdup(c->string);
        r->to = strdup(c->valuestring);
        t->nrename++;
        if (!r->from || !r->to)
            return fail(x, sub, "out of memory");
    }
    return true;
}

bool cfg_field_reserved(const char *field)
{
    /* Elasticsearch 7/8's metadata fields, the legacy ones it still refuses, and
     * OpenSearch's: "Field [_id] is a metadata field and cannot be added inside a document". */
    static const char *const meta[] = {"_id",         "_index",        "_source",     "_version",
                                       "_seq_no",     "_primary_term", "_routing",    "_ignored",
                                       "_field_names", "_doc_count",   "_tier",       "_meta",
                                       "_data_stream_timestamp", "_nested_path", "_feature", "_type",
                                       "_uid",        "_parent",       "_all",        "_size",
                                       "_ignored_source", "_tsid",     "_timestamp",  "_ttl", NULL};
    for (size_t i = 0; meta[i]; i++)
        if (strcmp(field, meta[i]) == 0)
            return true;
    return false;
}

/* "special_values": "null" | "clamp" | "string" at `path` of `o`, if present. */
static bool parse_special(ctx *x, const cJSON *o, const char *path, cfg_special *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "special_values");
    if (!v)
        return true;
    char sub[512];
    join_path(sub, sizeof sub, path, "special_values");
    static const char *const names[] = {"null", "clamp", "string"};
    for (int i = 0; cJSON_IsString(v) && i < 3; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = (cfg_special)i;
            return true;
        }
    return fail(x, sub, "must be \"null\", \"clamp\" or \"string\" (what NaN, Infinity and infinity become), not %s",
                cJSON_IsString(v) ? v->valuestring : type_name(v));
}

/* Children render their values by their root table's rule. */
static void inherit_special(cfg_table *t)
{
    for (size_t i = 0; i < t->nchildren; i++) {
        t->children[i].t.special = t->special;
        inherit_special(&t->children[i].t);
    }
}

static bool parse_table(ctx *x, const cJSON *o, int idx, cfg_table *t)
{
    char path[64];
    snprintf(path, sizeof path, "tables[%d]", idx);
    t->json_index = idx;
    if (!want_object(x, o, path) || !check_keys(x, o, path, table_keys))
        return false;
    char sub[512];
    join_path(sub, sizeof sub, path, "table");
    char *tname = NULL;
    if (!cJSON_GetObjectItemCaseSensitive(o, "table"))
        return fail(x, sub, "required (the schema-qualified table name, e.g. \"public.products\")");
    if (!get_str(x, o, path, "table", &tname, true))
        return false;
    bool ok = parse_table_name(x, sub, tname, &t->schema, &t->name);
    free(tname);
    if (!ok)
        return false;
    size_t n = strlen(t->schema) + strlen(t->name) + 2;
    if (!(t->ident = malloc(n)))
        return fail(x, sub, "out of memory");
    snprintf(t->ident, n, "%s.%s", t->schema, t->name);

    join_path(sub, sizeof sub, path, "index");
    bool given = cJSON_GetObjectItemCaseSensitive(o, "index") != NULL;
    if (!get_str(x, o, path, "index", &t->index, true))
        return false;
    if (!t->index && !(t->index = strdup(t->name)))
        return fail(x, sub, "out of memory");
    const char *why = index_name_problem(t->index);
    if (why && given)
        return fail(x, sub, "\"%.64s%s\" is not a valid index name: %s", t->index,
                    strlen(t->index) > 64 ? "…" : "", why);
    if (why)
        return fail(x, sub, "the default index name \"%.64s\" (the table's name) is not a valid index name: %s; "
                            "set \"index\"", t->index, why);

    if (!get_strv(x, o, path, "key", true, &t->key, &t->nkey) ||
        !get_strv(x, o, path, "columns", true, &t->columns, &t->ncolumns) ||
        !get_strv(x, o, path, "exclude", false, &t->exclude, &t->nexclude))
        return false;
    for (size_t i = 0; i < t->nexclude; i++)
        if (t->columns && !contains(t->columns, t->ncolumns, t->exclude[i])) {
            char el[560];
            snprintf(el, sizeof el, "%s.exclude[%zu]", path, i);
            return fail(x, el, "column \"%s\" is not in \"columns\" anyway", t->exclude[i]);
        }

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
    join_path(sub, sizeof sub, path, "version");
    if (v && !parse_version(x, v, sub, t))
        return false;
    if (t->managed && contains(t->key, t->nkey, t->version_column))
        return fail(x, sub, "a managed version column cannot be a key column");

    v = cJSON_GetObjectItemCaseSensitive(o, "capture");
    join_path(sub, sizeof sub, path, "capture");
    if (v) {
        if (!cJSON_IsString(v))
            return fail(x, sub, "must be \"trigger\", \"cursor\" or \"wal\", not %s", type_name(v));
        if (strcmp(v->valuestring, "cursor") == 0)
            t->capture = CFG_CAPTURE_CURSOR;
        else if (strcmp(v->valuestring, "wal") == 0)
            t->capture = CFG_CAPTURE_WAL;
        else if (strcmp(v->valuestring, "trigger") != 0)
            return fail(x, sub, "must be \"trigger\", \"cursor\" or \"wal\", not \"%s\"", v->valuestring);
    }
    if (t->capture == CFG_CAPTURE_WAL && !wal_cfg_check_table(x, t, sub))
        return false;
    /* Cursor mode installs no triggers: no change sequence, no managed version. */
    if (t->capture == CFG_CAPTURE_CURSOR && t->version_kind == CFG_VERSION_SEQ)
        return fail(x, sub,
                    "\"cursor\" needs a \"version\" ({\"column\": C} or {\"timestamp\": C}): without "
                    "triggers there is no change sequence to label the documents' versions with");
    if (t->capture == CFG_CAPTURE_CURSOR && t->managed) {
        join_path(sub, sizeof sub, path, "version.managed");
        return fail(x, sub,
                    "cannot be true with \"capture\": \"cursor\": versync's trigger sets a managed version, "
                    "and cursor mode installs no triggers; use a column the application (or your own "
                    "trigger) keeps increasing");
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "rename");
    join_path(sub, sizeof sub, path, "rename");
    if (v && !parse_rename(x, v, sub, t))
        return false;

    v = cJSON_GetObjectItemCaseSensitive(o, "deletes");
    join_path(sub, sizeof sub, path, "deletes");
    if (v) {
        if (!cJSON_IsString(v))
            return fail(x, sub, "must be \"delete\" or \"ignore\", not %s", type_name(v));
        if (strcmp(v->valuestring, "ignore") == 0)
            t->deletes_ignore = true;
        else if (strcmp(v->valuestring, "delete") != 0)
            return fail(x, sub, "must be \"delete\" or \"ignore\", not \"%s\"", v->valuestring);
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "soft_delete");
    join_path(sub, sizeof sub, path, "soft_delete");
    if (v) {
        if (!want_object(x, v, sub) || !check_keys(x, v, sub, soft_delete_keys))
            return false;
        if (!cJSON_GetObjectItemCaseSensitive(v, "column"))
            return fail(x, sub, "needs \"column\" (the column that is non-null for a deleted row)");
        if (!get_str(x, v, sub, "column", &t->soft_delete_column, true))
            return false;
    }

    join_path(sub, sizeof sub, path, "where");
    if (!get_str(x, o, path, "where", &t->where, true))
        return false;
    if (t->where) {
        /* The expression is spliced into the re-read between parentheses on lines of its own; the
         * catalog check (where.h) proves it is one boolean expression of the row. A ';' could only
         * end the statement it is spliced into. */
        if (strchr(t->where, ';'))
            return fail(x, sub,
                        "must be one SQL boolean expression without ';' (write chr(59) for a literal semicolon)");
        if (t->deletes_ignore)
            return fail(x, sub,
                        "cannot be combined with \"deletes\": \"ignore\": a row that leaves the filter must be "
                        "deleted from the index, which \"ignore\" forbids");
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "children");
    join_path(sub, sizeof sub, path, "children");
    if (v && !nested_cfg_parse(x, v, sub, t, t->ident, 1))
        return false;
    if (!parse_special(x, o, path, &t->special))
        return false;
    inherit_special(t);

    const char *raw_keys[] = {"index_settings", "mappings"};
    char **raw_out[] = {&t->index_settings_json, &t->mappings_json};
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(o, raw_keys[i]);
        join_path(sub, sizeof sub, path, raw_keys[i]);
        if (!v)
            continue;
        if (!want_object(x, v, sub))
            return false;
        /* Elasticsearch 8 has no mapping types: a "_doc" wrapper would reach
         * the store as an unknown root parameter and fail at init, far from
         * the line that holds it. */
        if (raw_out[i] == &t->mappings_json && cJSON_GetObjectItemCaseSensitive(v, "_doc"))
            return fail(x, sub, "a \"_doc\" type wrapper is not allowed (Elasticsearch 8 has no mapping "
                                "types): put \"properties\" at the top of \"mappings\"");
        if (!(*raw_out[i] = cJSON_PrintUnformatted(v)))
            return fail(x, sub, "out of memory");
    }
    return true;
}

static bool parse_root(ctx *x, const cJSON *root, cfg *c)
{
    if (!want_object(x, root, "(top level)") || !check_keys(x, root, "", top_keys))
        return false;
    long workers = c->workers, batch = c->batch_size, poll = c->poll_interval_ms;
    long expire = c->worker_stats_expire_s, lag_window = c->lag_window_s;
    if (!get_str(x, root, "", "postgres", &c->postgres, false) ||
        !get_str(x, root, "", "schema", &c->schema, true) || !get_str(x, root, "", "channel", &c->channel, true) ||
        !get_int(x, root, "", "workers", 1, CFG_WORKERS_MAX, &workers) ||
        !get_int(x, root, "", "batch_size", 1, 100000, &batch) ||
        !get_int(x, root, "", "poll_interval_ms", 1, 3600000, &poll) || !get_bool(x, root, "", "listen", &c->listen) ||
        !get_int(x, root, "", "worker_stats_expire_s", 60, 365L * 86400, &expire) ||
        !get_int(x, root, "", "lag_window_s", 1, 86400, &lag_window))
        return false;
    cfg_special special = CFG_SPECIAL_NULL;
    if (!parse_special(x, root, "", &special))
        return false;
    c->worker_stats_expire_s = expire;
    c->lag_window_s = lag_window;
    c->workers = (int)workers;
    c->batch_size = (int)batch;
    c->poll_interval_ms = (int)poll;
    if (strlen(c->schema) > 63)
        return fail(x, "schema", "a PostgreSQL name is at most 63 bytes");
    /* versync's function bodies are dollar-quoted and name this schema. */
    if (strchr(c->schema, '$'))
        return fail(x, "schema", "must not contain $");
    if (strlen(c->channel) > 63)
        return fail(x, "channel", "a NOTIFY channel name is at most 63 bytes");

    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (s && !parse_store(x, s, &c->store))
        return false;
    size_t n = strlen(c->store.url);
    while (n > 0 && c->store.url[n - 1] == '/')
        c->store.url[--n] = '\0';
    if (strncmp(c->store.url, "http://", 7) != 0 && strncmp(c->store.url, "https://", 8) != 0)
        return fail(x, "store.url", "\"%s\" must start with http:// or https://", c->store.url);

    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(root, "tables");
    if (!tables)
        return fail(x, "tables", "required: the list of tables to sync");
    if (!cJSON_IsArray(tables))
        return fail(x, "tables", "must be an array, not %s", type_name(tables));
    size_t count = (size_t)cJSON_GetArraySize(tables);
    if (count == 0)
        return fail(x, "tables", "must list at least one table");
    if (!(c->tables = calloc(count, sizeof *c->tables)))
        return fail(x, "tables", "out of memory");
    int i = 0;
    for (const cJSON *t = tables->child; t; t = t->next, i++) {
        c->ntables++;
        c->tables[i].special = special;
        if (!parse_table(x, t, i, &c->tables[i]))
            return false;
        for (int j = 0; j < i; j++) {
            char path[64];
            if (strcmp(c->tables[j].ident, c->tables[i].ident) == 0) {
                snprintf(path, sizeof path, "tables[%d].table", i);
                return fail(x, path, "%s is already mapped by tables[%d]", c->tables[i].ident, j);
            }
            if (strcmp(c->tables[j].index, c->tables[i].index) == 0) {
                snprintf(path, sizeof path, "tables[%d].index", i);
                return fail(x, path,
                            "index \"%s\" is already the index of tables[%d] (%s): documents of both tables "
                            "would share ids and versions",
                            c->tables[i].index, j, c->tables[j].ident);
            }
        }
    }
    return wal_cfg_parse(x, root, c);
}

static bool set_defaults(cfg *c)
{
    c->schema = strdup("versync");
    c->channel = strdup("versync");
    c->postgres = strdup("");
    c->store.url = strdup("http://127.0.0.1:9200");
    c->store.timeout_ms = 10000;
    c->store.max_bulk_bytes = 10L << 20;
    c->store.max_item_retries = 10;
    c->worker_stats_expire_s = 3600;
    c->lag_window_s = 300;
    c->workers = 2;
    c->batch_size = 500;
    c->poll_interval_ms = 1000;
    c->listen = true;
    return c->schema && c->channel && c->postgres && c->store.url;
}

bool cfg_parse(const char *name, const char *text, cfg *out, char *err, size_t errsz)
{
    ctx x = {name ? name : "(config)", err, errsz};
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    char *copy = strdup(text);
    bool ok = false;
    if (!copy || !(out->path = strdup(x.name)) || !set_defaults(out)) {
        fail(&x, NULL, "out of memory");
        goto done;
    }
    long bad = invalid_utf8_at(copy);
    if (bad >= 0) {
        int line, col;
        line_col(copy, (size_t)bad, &line, &col);
        char where[32];
        snprintf(where, sizeof where, "%d:%d", line, col);
        fail(&x, where, "invalid UTF-8 (byte 0x%02X); the config must be UTF-8 text", (unsigned char)copy[bad]);
        goto done;
    }
    if (!strip_comments(&x, copy))
        goto done;
    const char *p = copy;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p) {
        fail(&x, NULL, "the file is empty (expected a JSON object)");
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(copy, &end, 1);
    if (!root) {
        size_t off = end ? (size_t)(end - copy) : 0;
        const char *e = cJSON_GetErrorPtr();
        if (!end && e && e >= copy && e <= copy + strlen(copy))
            off = (size_t)(e - copy);
        int line, col;
        line_col(copy, off, &line, &col);
        char where[32];
        snprintf(where, sizeof where, "%d:%d", line, col);
        fail(&x, where, "invalid JSON%s", copy[off] ? " here" : " (unexpected end of file)");
        goto done;
    }
    const char *literal_secret = find_literal_secret(root);
    if (!expand_tree(&x, root, ""))
        goto done;
    ok = parse_root(&x, root, out);
    out->literal_secret = literal_secret;
done:
    cJSON_Delete(root);
    free(copy);
    if (!ok)
        cfg_free(out);
    return ok;
}

bool cfg_load(const char *path, cfg *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        st.st_mode = S_IFREG | 0600; /* unknown: leave the refusal to what can be seen */
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s: is a directory, not a config file", path);
        fclose(f);
        return false;
    }
    buf b;
    buf_init(&b, 16u << 20);
    bool ok = buf_read_stream(&b, f);
    bool rerr = ferror(f);
    fclose(f);
    if (!ok || rerr) {
        snprintf(err, errsz, "%s: %s", path, rerr ? "read error" : "file too large (over 16 MiB) or out of memory");
        buf_free(&b);
        return false;
    }
    const char *nul = b.len ? memchr(b.data, '\0', b.len) : NULL;
    if (nul) {
        int line, col;
        line_col(b.data, (size_t)(nul - b.data), &line, &col);
        snprintf(err, errsz, "%s: %d:%d: NUL byte in the file; not a JSON text file", path, line, col);
        buf_free(&b);
        return false;
    }
    /* Editors on some systems start UTF-8 files with a byte-order mark. */
    const char *text = b.data ? b.data : "";
    if (b.len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    ok = cfg_parse(path, text, out, err, errsz);
    buf_free(&b);
    if (ok && out->literal_secret && (st.st_mode & (S_IRGRP | S_IROTH))) {
        snprintf(err, errsz,
                 "%s: %s: holds a password or key written in the file, and the file is readable by %s (mode %04o); "
                 "write \"${NAME}\" there and set the environment variable NAME instead, or chmod 600 %s",
                 path, out->literal_secret, st.st_mode & S_IROTH ? "others" : "its group",
                 (unsigned)(st.st_mode & 07777), path);
        cfg_free(out);
        return false;
    }
    return ok;
}

static void free_table(cfg_table *t)
{
    free(t->schema);
    free(t->name);
    free(t->ident);
    free(t->index);
    free_strv(t->key, t->nkey);
    free_strv(t->key_types, t->key_types ? t->nkey : 0);
    free(t->version_column);
    free_strv(t->columns, t->ncolumns);
    free_strv(t->exclude, t->nexclude);
    for (size_t i = 0; t->rename && i < t->nrename; i++) {
        free(t->rename[i].from);
        free(t->rename[i].to);
    }
    free(t->rename);
    free(t->soft_delete_column);
    free(t->where);
    cJSON_free(t->index_settings_json);
    cJSON_free(t->mappings_json);
    for (size_t i = 0; t->cols && i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].field);
        free(t->cols[i].base);
        free(t->cols[i].render);
    }
    free(t->cols);
    free(t->version_type);
    nested_cfg_free(t->children, t->nchildren);
}

void cfg_free(cfg *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->postgres);
    free(c->store.url);
    free(c->store.username);
    free(c->store.password);
    free(c->store.api_key);
    free(c->store.ca_file);
    free(c->schema);
    free(c->channel);
    free(c->wal_slot);
    free(c->wal_publication);
    for (size_t i = 0; c->tables && i < c->ntables; i++)
        free_table(&c->tables[i]);
    free(c->tables);
    memset(c, 0, sizeof *c);
}

cfg_table *cfg_find_table(const cfg *c, const char *ident)
{
    for (size_t i = 0; c && ident && i < c->ntables; i++)
        if (strcmp(c->tables[i].ident, ident) == 0)
            return &c->tables[i];
    return NULL;
}

bool cfg_select_tables(const cfg *c, const char *const *names, size_t nnames, cfg_table ***out, size_t *nout, char *err,
                       size_t errsz)
{
    *nout = 0;
    if (!(*out = calloc(c->ntables + nnames + 1, sizeof **out))) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    if (nnames == 0)
        for (size_t i = 0; i < c->ntables; i++)
            (*out)[(*nout)++] = &c->tables[i];
    for (size_t i = 0; i < nnames; i++) {
        cfg_table *t = cfg_find_table(c, names[i]);
        if (!t && !strchr(names[i], '.')) {
            char q[512];
            snprintf(q, sizeof q, "public.%s", names[i]);
            t = cfg_find_table(c, q);
        }
        if (!t) {
            snprintf(err, errsz, "table %s is not in %s", names[i], c->path);
            free(*out);
            *out = NULL;
            *nout = 0;
            return false;
        }
        (*out)[(*nout)++] = t;
    }
    return true;
}

/* ---- cfg_json.h: the helpers above, for the nested-document parser ------ */

bool cfg_json_fail(struct ctx *x, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(x, path, "%s", msg);
}

const char *cfg_json_type_name(const cJSON *v) { return type_name(v); }
void cfg_json_path(char *out, size_t n, const char *path, const char *key) { join_path(out, n, path, key); }
bool cfg_json_object(struct ctx *x, const cJSON *v, const char *path) { return want_object(x, v, path); }

bool cfg_json_keys(struct ctx *x, const cJSON *obj, const char *path, const char *const *allowed)
{
    return check_keys(x, obj, path, allowed);
}

bool cfg_json_str(struct ctx *x, const cJSON *obj, const char *path, const char *key, char **out, bool nonempty)
{
    return get_str(x, obj, path, key, out, nonempty);
}

bool cfg_json_strv(struct ctx *x, const cJSON *obj, const char *path, const char *key, bool nonempty_array,
                   char ***out, size_t *n)
{
    return get_strv(x, obj, path, key, nonempty_array, out, n);
}

bool cfg_json_table_name(struct ctx *x, const char *path, const char *text, char **schema, char **name)
{
    return parse_table_name(x, path, text, schema, name);
}

bool cfg_json_rename(struct ctx *x, const cJSON *v, const char *path, cfg_table *t)
{
    return parse_rename(x, v, path, t);
}

void cfg_json_free_table(cfg_table *t) { free_table(t); }
