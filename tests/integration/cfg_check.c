/* cfg_check — load a versync config with the real loader, for integration tests.
 *
 * usage: cfg_check FILE
 * Exits 0 when cfg_load accepts FILE (printing "ok: N tables, W workers"),
 * else 2 with cfg_load's message (file, JSON path, problem) on stderr. Lets a
 * test prove that a shipped config (docker/versync.json, the examples) is one
 * versync would start with, without needing PostgreSQL or a store. */
#include "versync/bridge/cfg.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cfg_check FILE\n");
        return 2;
    }
    cfg c;
    char err[1024];
    if (!cfg_load(argv[1], &c, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    printf("ok: %zu tables, %d workers\n", c.ntables, c.workers);
    cfg_free(&c);
    return 0;
}
