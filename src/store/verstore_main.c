/* verstore — command-line entry point (the server lands with its issue). */
#include "versync/log.h"

int main(void)
{
    log_init("verstore", LOG_INFO, LOG_FORMAT_TEXT);
    log_error("not implemented yet");
    return 2;
}
