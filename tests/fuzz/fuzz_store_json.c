/* fuzz_store_json — libFuzzer target for verstore's allocation-free JSON scanner, checked against cJSON. */
#include "versync/common/buf.h"
#include "versync/store/store_json.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every request body verstore stores or parses goes through store_json first
 * and, for the structured ones, through cJSON after it: a body store_json
 * calls valid that cJSON then refuses would be answered 500. So besides
 * "no crash, no leak, no read past the end", the target checks that
 * agreement, that ?pretty keeps the document equal, and that the object
 * iterator sees exactly the members cJSON sees. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1); /* exact size, no NUL: overreads trap */
    if (!s)
        return 0;
    memcpy(s, data, size);
    const char *end = s + size;

    bool valid = json_is_valid(s, size);
    bool object = json_is_object(s, size);
    if (object && !valid)
        abort();
    if (valid) {
        cJSON *a = cJSON_ParseWithLength(s, size);
        if (!a)
            abort(); /* store_json accepted what cJSON cannot parse */
        if (object != cJSON_IsObject(a))
            abort();
        buf pretty = BUF_INIT;
        const char *v = json_ws(s, end);
        if (!store_json_pretty(v, (size_t)(end - v), &pretty))
            abort();
        /* Compared as printed text: cJSON_Compare mismatches duplicate keys. */
        cJSON *b = cJSON_ParseWithLength(pretty.data ? pretty.data : "", pretty.len);
        char *ta = cJSON_PrintUnformatted(a), *tb = b ? cJSON_PrintUnformatted(b) : NULL;
        if (!ta || !tb || strcmp(ta, tb) != 0)
            abort(); /* ?pretty changed the document */
        cJSON_free(ta);
        cJSON_free(tb);
        cJSON_Delete(b);
        buf_free(&pretty);
        if (object) {
            json_iter it;
            if (!json_obj_begin(&it, s, end))
                abort();
            json_tok k, val;
            int r, n = 0;
            buf key = BUF_INIT;
            while ((r = json_obj_next(&it, &k, &val)) == 1) {
                if (k.type != JSON_STRING)
                    abort();
                buf_reset(&key);
                if (!json_unescape(&k, &key))
                    abort();
                n++;
            }
            buf_free(&key);
            if (r != 0 || n != cJSON_GetArraySize(a))
                abort();
        }
        cJSON_Delete(a);
    }

    /* Scanning from every prefix of the input stays inside it. */
    json_tok t;
    const char *p = json_ws(s, end);
    const char *q = p < end ? json_scan(p, end, &t) : NULL;
    if (q && (q <= p || q > end || t.p < s || t.p + t.n > end))
        abort();

    /* Java longs: the parser agrees with strtoll on what fits. */
    int64_t lv;
    if (size <= 40 && json_parse_long(s, size, &lv)) {
        char tmp[48];
        memcpy(tmp, s, size);
        tmp[size] = '\0';
        char *e;
        long long ll = strtoll(tmp, &e, 10);
        if (*e || ll != lv)
            abort();
    }
    free(s);
    return 0;
}
