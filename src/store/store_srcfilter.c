/* store_srcfilter — Elasticsearch's _source filtering (_source=false, includes/excludes with * patterns) for GET, _mget and _search. */
#include "versync/store/store_srcfilter.h"

#include "versync/store/store_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_srcfilter_free(store_srcfilter *f)
{
    for (size_t i = 0; i < f->ninc; i++)
        free(f->inc[i]);
    for (size_t i = 0; i < f->nexc; i++)
        free(f->exc[i]);
    free(f->inc);
    free(f->exc);
    memset(f, 0, sizeof *f);
}

static void split_list(const char *s, char ***list, size_t *n)
{
    while (s && *s) {
        size_t len = strcspn(s, ",");
        if (len) {
            char **p = realloc(*list, (*n + 1) * sizeof *p);
            if (!p)
                return;
            *list = p;
            p[(*n)++] = strndup(s, len);
        }
        s += len;
        if (*s == ',')
            s++;
    }
}

void store_srcfilter_from_params(store_srcfilter *f, const char *s, const char *includes, const char *excludes)
{
    memset(f, 0, sizeof *f);
    if (s) {
        if (strcmp(s, "false") == 0)
            f->none = true;
        else if (strcmp(s, "true") != 0 && strcmp(s, "") != 0)
            split_list(s, &f->inc, &f->ninc);
    }
    split_list(includes, &f->inc, &f->ninc);
    split_list(excludes, &f->exc, &f->nexc);
}

static bool glob(const char *pat, const char *s) { return store_util_glob(pat, strlen(pat), s, strlen(s)); }

static bool any_match(char **list, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (glob(list[i], path))
            return true;
    return false;
}

static bool may_match_below(char **list, size_t n, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < n; i++)
        if (strchr(list[i], '*') || (strncmp(list[i], path, pl) == 0 && list[i][pl] == '.'))
            return true;
    return false;
}

static cJSON *filter_obj(const cJSON *obj, const char *prefix, const store_srcfilter *f, bool included)
{
    cJSON *out = cJSON_CreateObject();
    for (const cJSON *it = obj->child; it && out; it = it->next) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", it->string);
        if (f->nexc && any_match(f->exc, f->nexc, path))
            continue;
        bool inc = included || !f->ninc || any_match(f->inc, f->ninc, path);
        if (cJSON_IsObject(it) && (f->nexc || !inc)) {
            if (!inc && !may_match_below(f->inc, f->ninc, path))
                continue;
            cJSON *sub = filter_obj(it, path, f, inc);
            if (sub && (inc || sub->child))
                cJSON_AddItemToObject(out, it->string, sub);
            else
                cJSON_Delete(sub);
            continue;
        }
        if (inc)
            cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, true));
    }
    return out;
}

/* Append the source, filtered when asked. */
void store_srcfilter_put(buf *b, const char *src, size_t n, const store_srcfilter *f)
{
    if (!f || (!f->ninc && !f->nexc)) {
        buf_append(b, src, n);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(src, n);
    cJSON *out = j && cJSON_IsObject(j) ? filter_obj(j, "", f, false) : NULL;
    char *s = out ? cJSON_PrintUnformatted(out) : NULL;
    if (s)
        buf_puts(b, s);
    else
        buf_append(b, src, n);
    free(s);
    cJSON_Delete(out);
    cJSON_Delete(j);
}

void store_srcfilter_from_json(const cJSON *s, store_srcfilter *f)
{
    if (cJSON_IsFalse(s)) {
        f->none = true;
        return;
    }
    if (cJSON_IsString(s)) {
        split_list(s->valuestring, &f->inc, &f->ninc);
        return;
    }
    const cJSON *inc = s, *exc = NULL;
    if (cJSON_IsObject(s)) {
        inc = cJSON_GetObjectItemCaseSensitive(s, "includes");
        if (!inc)
            inc = cJSON_GetObjectItemCaseSensitive(s, "include");
        exc = cJSON_GetObjectItemCaseSensitive(s, "excludes");
        if (!exc)
            exc = cJSON_GetObjectItemCaseSensitive(s, "exclude");
    }
    const cJSON *it;
    if (cJSON_IsArray(inc))
        cJSON_ArrayForEach(it, inc) if (cJSON_IsString(it)) split_list(it->valuestring, &f->inc, &f->ninc);
    if (cJSON_IsString(inc))
        split_list(inc->valuestring, &f->inc, &f->ninc);
    if (cJSON_IsArray(exc))
        cJSON_ArrayForEach(it, exc) if (cJSON_IsString(it)) split_list(it->valuestring, &f->exc, &f->nexc);
    if (cJSON_IsString(exc))
        split_list(exc->valuestring, &f->exc, &f->nexc);
}
