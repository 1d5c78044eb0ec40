/* proctitle — process titles shown by ps ("versync: worker 2"), by rewriting the argv area as PostgreSQL does. */
#include "versync/common/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static char *g_area;      /* start of the original argv strings */
static size_t g_area_len; /* bytes through the end of the last contiguous string */
static char **g_argv_copy; /* keeps the moved strings reachable (read below, so it is not optimised away) */

void proctitle_init(int argc, char **argv)
{
    if (g_area || argc <= 0 || !argv || !argv[0])
        return;
    /* The kernel lays argv then environ out back to back; only a contiguous run
     * may be overwritten. */
    char *end = NULL;
    for (int i = 0; i < argc; i++) {
        if (i == 0 || argv[i] == end + 1)
            end = argv[i] + strlen(argv[i]);
        else
            return; /* unusual layout: leave titles alone */
    }
    size_t envc = 0;
    while (environ && environ[envc])
        envc++;
    for (size_t i = 0; i < envc; i++)
        if (environ[i] == end + 1)
            end = environ[i] + strlen(environ[i]);
    char **newenv = malloc((envc + 1) * sizeof *newenv);
    char **newargv = malloc(((size_t)argc + 1) * sizeof *newargv);
    if (!newenv || !newargv) {
        free(newenv);
        free(newargv);
        return;
    }
    for (size_t i = 0; i < envc; i++)
        if (!(newenv[i] = strdup(environ[i])))
            newenv[i] = "";
    newenv[envc] = NULL;
    for (int i = 0; i < argc; i++)
        if (!(newargv[i] = strdup(argv[i])))
            newargv[i] = "";
    newargv[argc] = NULL;
    g_area = argv[0];
    g_area_len = (size_t)(end - argv[0]);
    for (int i = 0; i < argc; i++)
        argv[i] = newargv[i];
    environ = newenv;
    g_argv_copy = newargv;
}

void proctitle_set(const char *fmt, ...)
{
    if (!g_area || g_area_len < 2 || !g_argv_copy)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_area, g_area_len, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < g_area_len ? (size_t)n : g_area_len - 1;
    /* NUL padding: /proc/PID/cmdline then ends at our title. */
    memset(g_area + used, 0, g_area_len - used);
}
