/* bridge_nested_cfg — parse and validate "children" (nested documents) of a table mapping. */
#include "versync/bridge/nested.h"

#include "versync/bridge/cfg_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const child_keys[] = {"name",    "table",   "relationship", "join",     "through", "columns",
                                         "exclude", "rename",  "order_by",     "children", "key",     NULL};
static const char *const through_keys[] = {"table", "join", "to", NULL};

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bool contains(char **v, size_t n, const char *s)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void free_child(cfg_child *ch)
{
    free(ch->name);
    cfg_json_free_table(&ch->t); /* frees ch->t.children too */
    free_strv(ch->join_from, ch->njoin);
    free_strv(ch->join_to, ch->njoin);
    free(ch->link_schema);
    free(ch->link_name);
    free(ch->link_ident);
    free_strv(ch->to_from, ch->nto);
    free_strv(ch->to_to, ch->nto);
    free_strv(ch->order_by, ch->norder);
    free(ch->path);
    free(ch->edge);
}

void nested_cfg_free(cfg_child *children, size_t n)
{
    for (size_t i = 0; children && i < n; i++)
        free_child(&children[i]);
    free(children);
}

bool nested_is_tree(const cfg_table *t) { return t && t->nchildren > 0; }

static bool tree_uses(const cfg_table *t, const char *ident)
{
    for (size_t i = 0; i < t->nchildren; i++) {
        const cfg_child *ch = &t->children[i];
        if (strcmp(ch->t.ident, ident) == 0 || (ch->link_ident && strcmp(ch->link_ident, ident) == 0) ||
            tree_uses(&ch->t, ident))
            return true;
    }
    return false;
}

bool nested_uses_table(const cfg *c, const char *ident)
{
    for (size_t i = 0; c && ident && i < c->ntables; i++)
        if (tree_uses(&c->tables[i], ident))
            return true;
    return false;
}

/* A join object {"parent_col": "child_col", …} into two parallel arrays. */
static bool parse_join(struct ctx *x, const cJSON *v, const char *path, char ***from, char ***to, size_t *n)
{
    if (!cfg_json_object(x, v, path))
        return false;
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (count == 0)
        return cfg_json_fail(x, path, "must map at least one column pair ({\"parent column\": \"child column\"})");
    if (count > 32)
        return cfg_json_fail(x, path, "at most 32 column pairs");
    if (!(*from = calloc(count, sizeof **from)) || !(*to = calloc(count, sizeof **to)))
        return cfg_json_fail(x, path, "out of memory");
    for (const cJSON *c = v->child; c; c = c->next) {
        char sub[512];
        cfg_json_path(sub, sizeof sub, path, c->string);
        if (!*c->string)
            return cfg_json_fail(x, path, "a column name must not be empty");
        if (!cJSON_IsString(c) || !*c->valuestring)
            return cfg_json_fail(x, sub, "must be a non-empty string (a column name), not %s",
                                 cJSON_IsString(c) ? "an empty string" : cfg_json_type_name(c));
        if (contains(*from, *n, c->string))
            return cfg_json_fail(x, sub, "duplicate key");
        (*from)[*n] = strdup(c->string);
        (*to)[*n] = strdup(c->valuestring);
        (*n)++;
        if (!(*from)[*n - 1] || !(*to)[*n - 1])
            return cfg_json_fail(x, sub, "out of memory");
    }
    return true;
}

static char *joined(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

static bool parse_child(struct ctx *x, const cJSON *o, const char *path, const cfg_table *parent, const char *pedge,
                        cfg_child *ch, int depth)
{
    char sub[512];
    if (cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "where")) {
        cfg_json_path(sub, sizeof sub, path, "where");
        /* Only the root row decides whether a document exists; filtering children would need the
         * filter's columns captured on every child table too, which nothing here does yet. */
        return cfg_json_fail(x, sub,
                             "is only allowed on a top-level table: a filter on nested children is not "
                             "supported (filter the root table's rows with its own \"where\")");
    }
    if (!cfg_json_object(x, o, path) || !cfg_json_keys(x, o, path, child_keys))
        return false;
    if (!(ch->path = strdup(path)))
        return cfg_json_fail(x, path, "out of memory");
    cfg_json_path(sub, sizeof sub, path, "name");
    if (!cJSON_GetObjectItemCaseSensitive(o, "name"))
        return cfg_json_fail(x, sub, "required (the field of the parent document that holds this child)");
    if (!cfg_json_str(x, o, path, "name", &ch->name, true))
        return false;
    if (!(ch->edge = joined(pedge, "/", ch->name)))
        return cfg_json_fail(x, sub, "out of memory");

    cfg_json_path(sub, sizeof sub, path, "table");
    char *tname = NULL;
    if (!cJSON_GetObjectItemCaseSensitive(o, "table"))
        return cfg_json_fail(x, sub, "required (the schema-qualified child table, e.g. \"public.publisher\")");
    if (!cfg_json_str(x, o, path, "table", &tname, true))
        return false;
    bool ok = cfg_json_table_name(x, sub, tname, &ch->t.schema, &ch->t.name);
    free(tname);
    if (!ok)
        return false;
    if (!(ch->t.ident = joined(ch->t.schema, ".", ch->t.name)) || !(ch->t.index = strdup(ch->t.name)))
        return cfg_json_fail(x, sub, "out of memory");
    ch->t.json_index = parent->json_index;

    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(o, "relationship");
    cfg_json_path(sub, sizeof sub, path, "relationship");
    if (!rel)
        return cfg_json_fail(x, sub, "required: \"one\" (an object or null) or \"many\" (an array)");
    if (!cJSON_IsString(rel) || (strcmp(rel->valuestring, "one") != 0 && strcmp(rel->valuestring, "many") != 0))
        return cfg_json_fail(x, sub, "must be \"one\" or \"many\", not %s%s%s",
                             cJSON_IsString(rel) ? "\"" : "", cJSON_IsString(rel) ? rel->valuestring
                                                                                  : cfg_json_type_name(rel),
                             cJSON_IsString(rel) ? "\"" : "");
    ch->many = strcmp(rel->valuestring, "many") == 0;

    const cJSON *join = cJSON_GetObjectItemCaseSensitive(o, "join");
    const cJSON *through = cJSON_GetObjectItemCaseSensitive(o, "through");
    if (join && through) {
        cfg_json_path(sub, sizeof sub, path, "join");
        return cfg_json_fail(x, sub, "give either \"join\" or \"through\" (whose own \"join\" and \"to\" say how "
                                     "the link table joins), not both");
    }
    if (!join && !through)
        return cfg_json_fail(x, path, "needs \"join\" ({\"parent column\": \"child column\"}) or \"through\" (a "
                                      "link table)");
    if (join) {
        cfg_json_path(sub, sizeof sub, path, "join");
        if (!parse_join(x, join, sub, &ch->join_from, &ch->join_to, &ch->njoin))
            return false;
    } else {
        char tp[512];
        cfg_json_path(tp, sizeof tp, path, "through");
        if (!cfg_json_object(x, through, tp) || !cfg_json_keys(x, through, tp, through_keys))
            return false;
        const char *need[] = {"table", "join", "to"};
        const char *what[] = {"the link table, e.g. \"public.book_author\"",
                              "{\"parent column\": \"link column\"}", "{\"link column\": \"child column\"}"};
        for (int i = 0; i < 3; i++)
            if (!cJSON_GetObjectItemCaseSensitive(through, need[i])) {
                cfg_json_path(sub, sizeof sub, tp, need[i]);
                return cfg_json_fail(x, sub, "required (%s)", what[i]);
            }
        cfg_json_path(sub, sizeof sub, tp, "table");
        char *lname = NULL;
        if (!cfg_json_str(x, through, tp, "table", &lname, true))
            return false;
        ok = cfg_json_table_name(x, sub, lname, &ch->link_schema, &ch->link_name);
        free(lname);
        if (!ok)
            return false;
        if (!(ch->link_ident = joined(ch->link_schema, ".", ch->link_name)))
            return cfg_json_fail(x, sub, "out of memory");
        cfg_json_path(sub, sizeof sub, tp, "join");
        if (!parse_join(x, cJSON_GetObjectItemCaseSensitive(through, "join"), sub, &ch->join_from, &ch->join_to,
                        &ch->njoin))
            return false;
        cfg_json_path(sub, sizeof sub, tp, "to");
        if (!parse_join(x, cJSON_GetObjectItemCaseSensitive(through, "to"), sub, &ch->to_from, &ch->to_to, &ch->nto))
            return false;
    }

    if (!cfg_json_strv(x, o, path, "columns", true, &ch->t.columns, &ch->t.ncolumns) ||
        !cfg_json_strv(x, o, path, "exclude", false, &ch->t.exclude, &ch->t.nexclude) ||
        !cfg_json_strv(x, o, path, "key", true, &ch->t.key, &ch->t.nkey) ||
        !cfg_json_strv(x, o, path, "order_by", true, &ch->order_by, &ch->norder))
        return false;
    for (size_t i = 0; i < ch->t.nexclude; i++)
        if (ch->t.columns && !contains(ch->t.columns, ch->t.ncolumns, ch->t.exclude[i])) {
            char el[1100];
            snprintf(el, sizeof el, "%s.exclude[%zu]", path, i);
            return cfg_json_fail(x, el, "column \"%s\" is not in \"columns\" anyway", ch->t.exclude[i]);
        }
    if (ch->order_by && !ch->many) {
        cfg_json_path(sub, sizeof sub, path, "order_by");
        return cfg_json_fail(x, sub, "only a \"many\" child is an array to order");
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "rename");
    cfg_json_path(sub, sizeof sub, path, "rename");
    if (v && !cfg_json_rename(x, v, sub, &ch->t))
        return false;
    v = cJSON_GetObjectItemCaseSensitive(o, "children");
    cfg_json_path(sub, sizeof sub, path, "children");
    if (v && !nested_cfg_parse(x, v, sub, &ch->t, ch->edge, depth + 1))
        return false;
    return true;
}

bool nested_cfg_parse(struct ctx *x, const void *vv, const char *path, cfg_table *t, const char *edge, int depth)
{
    const cJSON *v = vv;
    if (!cJSON_IsArray(v))
        return cfg_json_fail(x, path, "must be an array of child mappings, not %s", cfg_json_type_name(v));
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (count == 0)
        return cfg_json_fail(x, path, "must list at least one child (or leave \"children\" out)");
    if (count > NESTED_MAX_CHILDREN)
        return cfg_json_fail(x, path, "at most %d children per table", NESTED_MAX_CHILDREN);
    if (depth > NESTED_MAX_DEPTH)
        return cfg_json_fail(x, path, "children nest at most %d levels deep", NESTED_MAX_DEPTH);
    const cfg_table *root = depth == 1 ? t : NULL;
    if (root) {
        /* Versions of a document built from many rows come from the worker (README, "Nested documents"). */
        char sub[512];
        snprintf(sub, sizeof sub, "%.*s", (int)(strlen(path) - strlen(".children")), path);
        if (root->version_kind != CFG_VERSION_SEQ)
            return cfg_json_fail(x, sub,
                                 "\"version\" cannot be used with \"children\": a nested document is built from "
                                 "many rows, so no one row's version column orders its states; versync labels "
                                 "it with a version the worker draws after the change committed (leave "
                                 "\"version\" out)");
        if (root->capture == CFG_CAPTURE_CURSOR)
            return cfg_json_fail(x, sub, "\"capture\": \"cursor\" cannot be used with \"children\": changes of "
                                         "child rows are found by triggers");
        if (root->capture == CFG_CAPTURE_WAL)
            return cfg_json_fail(x, sub, "\"capture\": \"wal\" cannot be used with \"children\": a nested "
                                         "document needs the versions the worker draws for it, and the WAL "
                                         "stream of one table does not say which root documents a child "
                                         "row belongs to; use trigger capture for this table");
    }
    if (!(t->children = calloc(count, sizeof *t->children)))
        return cfg_json_fail(x, path, "out of memory");
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        char sub[512];
        if (snprintf(sub, sizeof sub, "%s[%d]", path, i) >= (int)sizeof sub)
            return cfg_json_fail(x, path, "nested too deeply to name");
        t->nchildren++;
        if (!parse_child(x, c, sub, t, edge, &t->children[i], depth))
            return false;
        for (int j = 0; j < i; j++)
            if (strcmp(t->children[j].name, t->children[i].name) == 0) {
                char np[512];
                cfg_json_path(np, sizeof np, sub, "name");
                return cfg_json_fail(x, np, "\"%s\" is already the name of %s[%d]", t->children[i].name, path, j);
            }
    }
    return true;
}
