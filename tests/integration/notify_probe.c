/* notify_probe — call the notify module the way the programs do, for integration tests.
 *
 * usage: notify_probe STEP…   where STEP is ready | stopping | status=TEXT | raw=STATE
 * Runs each step in order and prints its return value (1 sent, 0 no
 * NOTIFY_SOCKET, negative errno) on one line, space-separated. Exits 0 when
 * every step returned 1 or every step returned 0, else 1. */
#include "versync/common/log.h"
#include "versync/common/notify.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    log_init("notify_probe", LOG_INFO, LOG_FORMAT_TEXT);
    int sent = 0, silent = 0;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (strcmp(argv[i], "ready") == 0)
            rc = notify_ready();
        else if (strcmp(argv[i], "stopping") == 0)
            rc = notify_stopping();
        else if (strncmp(argv[i], "status=", 7) == 0)
            rc = notify_status("%s", argv[i] + 7);
        else if (strncmp(argv[i], "raw=", 4) == 0)
            rc = notify_send(argv[i] + 4);
        else {
            fprintf(stderr, "notify_probe: unknown step \"%s\"\n", argv[i]);
            return 2;
        }
        printf("%s%d", i > 1 ? " " : "", rc);
        sent += rc == 1;
        silent += rc == 0;
    }
    printf("\n");
    return (sent == argc - 1 || silent == argc - 1) ? 0 : 1;
}
