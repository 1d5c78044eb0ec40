/* fuzz_cfg — libFuzzer target for versync's config loader (comments, ${VAR}, validation, error messages). */
#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/store/store_router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: the config file text. cfg_parse must never crash or leak; a refusal
 * must come with one message that names the file; an accepted config must be
 * complete (tables with a name, an index verstore would accept, key and
 * column lists of the stated length), since every later stage trusts it. */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Seeds use ${FUZZ_PW}; ${FUZZ_UNSET} stays unset on purpose. */
    setenv("FUZZ_PW", "s3cret", 1);
    setenv("FUZZ_EMPTY", "", 1);
    unsetenv("FUZZ_UNSET");
    return 0;
}

static void check_strings(char **v, size_t n)
{
    if (n && !v)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cfg c;
    char err[512];
    err[0] = '\0';
    if (cfg_parse("fuzz.json", text, &c, err, sizeof err)) {
        if (c.ntables == 0 || !c.tables || !c.schema || !c.channel || !c.store.url || !c.postgres)
            abort();
        if (c.workers < 1 || c.batch_size < 1 || c.store.timeout_ms < 1)
            abort();
        for (size_t i = 0; i < c.ntables; i++) {
            cfg_table *t = &c.tables[i];
            if (!t->schema || !t->name || !t->ident || !t->index)
                abort();
            buf reason = BUF_INIT;
            if (!store_router_valid_index(t->index, &reason))
                abort(); /* versync must refuse an index the store refuses */
            buf_free(&reason);
            for (size_t j = 0; j < i; j++)
                if (strcmp(c.tables[j].index, t->index) == 0)
                    abort(); /* two tables may not share an index */
            check_strings(t->key, t->nkey);
            check_strings(t->columns, t->ncolumns);
            check_strings(t->exclude, t->nexclude);
            if (t->version_kind != CFG_VERSION_SEQ && !t->version_column)
                abort();
            for (size_t j = 0; j < t->nrename; j++)
                if (!t->rename[j].from || !t->rename[j].to)
                    abort();
            if (cfg_find_table(&c, t->ident) == NULL)
                abort();
        }
        cfg_free(&c);
    } else {
        if (strncmp(err, "fuzz.json", 9) != 0)
            abort(); /* every message names the file */
        if (strlen(err) < 12)
            abort();
    }
    free(text);
    return 0;
}
