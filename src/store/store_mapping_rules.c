/* store_mapping_rules — Elasticsearch's mapping rules that sit outside the field mappers: no type wrapper in PUT _mapping, dotted property names as objects, `_source` merged parameter by parameter. */
#include "versync/store/store_mapping_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Object nesting a mapping may have; deeper ones are refused at parse time
 * anyway (index.mapping.depth.limit), this only bounds the recursion here. */
#define MAX_DEPTH 64

static bool oom(const char **type, char *err, size_t errsz)
{
    *type = "illegal_argument_exception";
    snprintf(err, errsz, "out of memory");
    return false;
}

static bool expand_props(cJSON *props, int depth, const char **type, char *err, size_t errsz);

/* Expand the "properties" (and recurse into the objects) of field `def`. */
static bool expand_def(cJSON *def, int depth, const char **type, char *err, size_t errsz)
{
    if (!cJSON_IsObject(def))
        return true;
    cJSON *sub = cJSON_GetObjectItemCaseSensitive(def, "properties");
    return !cJSON_IsObject(sub) || expand_props(sub, depth + 1, type, err, errsz);
}

/* Move every "a.b.c": def of `props` to "a": {"properties": {"b.c": def}}
 * (then expanded in turn), merging into an existing "a". */
static bool expand_props(cJSON *props, int depth, const char **type, char *err, size_t errsz)
{
    if (depth > MAX_DEPTH) {
        *type = "illegal_argument_exception";
        snprintf(err, errsz, "mapping is nested more than %d levels deep", MAX_DEPTH);
        return false;
    }
    cJSON *k = props->child;
    while (k) {
        cJSON *next = k->next;
        const char *name = k->string, *dot = strchr(name, '.');
        if (!name[0] || (dot && (dot == name || !dot[1]))) {
            *type = "illegal_argument_exception";
            snprintf(err, errsz, "field name cannot be an empty string");
            return false;
        }
        if (dot) {
            char head[1024];
            size_t hl = (size_t)(dot - name);
            if (hl >= sizeof head) {
                *type = "illegal_argument_exception";
                snprintf(err, errsz, "field name [%.200s...] is too long", name);
                return false;
            }
            memcpy(head, name, hl);
            head[hl] = '\0';
            cJSON *parent = cJSON_GetObjectItemCaseSensitive(props, head);
            if (!parent) {
                if (!(parent = cJSON_CreateObject()) || !cJSON_AddItemToObject(props, head, parent)) {
                    cJSON_Delete(parent);
                    return oom(type, err, errsz);
                }
            } else if (!cJSON_IsObject(parent)) {
                *type = "mapper_parsing_exception";
                snprintf(err, errsz, "Expected map for property [%.200s]", head);
                return false;
            }
            const cJSON *pt = cJSON_GetObjectItemCaseSensitive(parent, "type");
            if (cJSON_IsString(pt) && strcmp(pt->valuestring, "object") != 0 && strcmp(pt->valuestring, "nested") != 0) {
                *type = "illegal_argument_exception";
                snprintf(err, errsz, "can't merge a non object mapping [%.200s] with an object mapping", head);
                return false;
            }
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(parent, "properties");
            if (!sub && !(sub = cJSON_AddObjectToObject(parent, "properties")))
                return oom(type, err, errsz);
            cJSON *item = cJSON_DetachItemViaPointer(props, k);
            const char *rest = dot + 1;
            cJSON *same = cJSON_GetObjectItemCaseSensitive(sub, rest);
            if (same) { /* declared twice: the later one wins, as a JSON object's duplicate key */
                cJSON_ReplaceItemViaPointer(sub, same, item);
            } else if (!cJSON_AddItemToObject(sub, rest, item)) {
                cJSON_Delete(item);
                return oom(type, err, errsz);
            }
            /* The parent is revisited below (or was already: then again) */
            if (!expand_props(sub, depth + 1, type, err, errsz))
                return false;
        } else if (!expand_def(k, depth, type, err, errsz)) {
            return false;
        }
        k = next;
    }
    return true;
}

bool store_mapping_rules_normalise(cJSON *body, bool put, const char **type, char *err, size_t errsz)
{
    if (!cJSON_IsObject(body))
        return true;
    cJSON *root = body;
    if (body->child && !body->child->next && strcmp(body->child->string, "_doc") == 0 &&
        cJSON_IsObject(body->child)) {
        if (put) { /* RestPutMappingAction: MapperService.isMappingSourceTyped */
            *type = "illegal_argument_exception";
            snprintf(err, errsz, "Types cannot be provided in put mapping requests");
            return false;
        }
        root = body->child;
    }
    cJSON *props = cJSON_GetObjectItemCaseSensitive(root, "properties");
    return !cJSON_IsObject(props) || expand_props(props, 1, type, err, errsz);
}

/* A parameter's value as Elasticsearch prints it in a conflict ("[a, b]" for lists). */
static void show(const cJSON *v, const char *dflt, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "%s", dflt);
    } else if (cJSON_IsString(v)) {
        snprintf(out, n, "%s", v->valuestring);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        size_t used = (size_t)snprintf(out, n, "[");
        for (const cJSON *e = v->child; e && used < n; e = e->next)
            used += (size_t)snprintf(out + used, n - used, "%s%s", e == v->child ? "" : ", ",
                                     cJSON_IsString(e) ? e->valuestring : "?");
        if (used < n)
            snprintf(out + used, n - used, "]");
    } else {
        char *s = cJSON_PrintUnformatted(v);
        snprintf(out, n, "%s", s ? s : "?");
        free(s);
    }
}

static bool truthy(const cJSON *v, bool dflt)
{
    if (!v)
        return dflt;
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "false") != 0;
    return !cJSON_IsFalse(v);
}

bool store_mapping_rules_merge_source(cJSON *root, const cJSON *add, char *err, size_t errsz)
{
    if (!cJSON_IsObject(add)) {
        snprintf(err, errsz, "Expected map for property [_source] but got [%s]", cJSON_IsString(add) ? add->valuestring : "?");
        return false;
    }
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(root, "_source");
    char conflicts[768] = "";
    size_t used = 0;
    for (const cJSON *p = add->child; p; p = p->next) {
        const cJSON *old = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, p->string) : NULL;
        char was[200], now[200];
        bool bad = false;
        if (strcmp(p->string, "enabled") == 0) {
            bool o = truthy(old, true), n = truthy(p, true);
            bad = !o && n; /* "may be enabled but once disabled, may not be enabled" */
            show(old, "true", was, sizeof was);
        } else if (strcmp(p->string, "includes") == 0 || strcmp(p->string, "excludes") == 0) {
            show(old, "[]", was, sizeof was);
            show(p, "[]", now, sizeof now);
            bad = strcmp(was, now) != 0;
        } else if (strcmp(p->string, "mode") == 0) {
            show(old, "stored", was, sizeof was);
            bad = cJSON_IsString(p) && strcmp(p->valuestring, "stored") == 0 && strcmp(was, "stored") != 0;
        }
        if (bad) {
            show(p, "", now, sizeof now);
            used += (size_t)snprintf(conflicts + used, used < sizeof conflicts ? sizeof conflicts - used : 0,
                                     "\n\tCannot update parameter [%s] from [%s] to [%s]", p->string, was, now);
            if (used >= sizeof conflicts)
                used = sizeof conflicts - 1;
        }
    }
    if (conflicts[0]) {
        snprintf(err, errsz, "Mapper for [_source] conflicts with existing mapper:%s", conflicts);
        return false;
    }
    if (!cJSON_IsObject(cur)) {
        cJSON *copy = cJSON_Duplicate(add, true);
        bool ok = copy && (cur ? cJSON_ReplaceItemViaPointer(root, cur, copy) : cJSON_AddItemToObject(root, "_source", copy));
        if (!ok) {
            cJSON_Delete(copy);
            snprintf(err, errsz, "out of memory");
        }
        return ok;
    }
    for (const cJSON *p = add->child; p; p = p->next) {
        cJSON *copy = cJSON_Duplicate(p, true), *old = cJSON_GetObjectItemCaseSensitive(cur, p->string);
        bool ok = copy && (old ? cJSON_ReplaceItemViaPointer(cur, old, copy) : cJSON_AddItemToObject(cur, p->string, copy));
        if (!ok) {
            cJSON_Delete(copy);
            snprintf(err, errsz, "out of memory");
            return false;
        }
    }
    return true;
}

const char *store_mapping_rules_error_type(const char *reason)
{
    static const char *const parsing[] = {"No handler for type [", "No type specified for field [",
                                          "Root mapping definition has unsupported parameters", "unknown parameter [",
                                          "Expected map for property [", "Type [object] cannot be used in multi field",
                                          "Could not convert [", NULL};
    for (size_t i = 0; reason && parsing[i]; i++)
        if (strncmp(reason, parsing[i], strlen(parsing[i])) == 0)
            return "mapper_parsing_exception";
    return "illegal_argument_exception";
}

bool store_mapping_rules_is_merge_error(const char *reason)
{
    static const char *const merge[] = {"mapper [", "Mapper for [", "Limit of ", "Field name [", NULL};
    for (size_t i = 0; reason && merge[i]; i++)
        if (strncmp(reason, merge[i], strlen(merge[i])) == 0)
            return true;
    return false;
}
