/* fuzz_store_query — libFuzzer target for verstore's query DSL and query-string parsers. */
#include "versync/store/store_search.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input is tried both ways: as a JSON query object for the DSL parser
 * and as query-string text. Besides "no crash, no leak", a parser must
 * either return a tree or fill an error with a 4xx/5xx status and a
 * reason, never both and never neither. */

static void check_tree(const store_query *q, int depth)
{
    if (depth > 200)
        abort(); /* the depth limit did not hold */
    if (q->nvals && !q->vals)
        abort();
    for (size_t i = 0; i < q->nvals; i++)
        if (!q->vals[i].s)
            abort();
    for (size_t i = 0; i < q->nfields; i++)
        if (!q->fields[i])
            abort();
    if ((q->type == STORE_Q_CONSTANT) && q->nclauses != 1)
        abort();
    for (size_t i = 0; i < q->nclauses; i++)
        check_tree(q->clauses[i].q, depth + 1);
}

static void checked(store_query *q, store_error *err)
{
    if (q) {
        if (err->status)
            abort();
        check_tree(q, 0);
        store_query_free(q);
    } else if (err->status < 400 || !err->type || !err->reason.data) {
        abort();
    }
    store_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    store_error err = {0};
    cJSON *j = cJSON_ParseWithLength(s, size);
    if (j) {
        checked(store_query_parse(j, &err), &err);
        cJSON_Delete(j);
    }
    const char *df[] = {"title", "body*"};
    checked(store_query_parse_string(s, NULL, 0, size & 1, false, &err), &err);
    checked(store_query_parse_string(s, df, 2, false, true, &err), &err);
    for (int n = 0; n < 5; n++)
        (void)store_query_msm(s, n);
    free(s);
    return 0;
}
