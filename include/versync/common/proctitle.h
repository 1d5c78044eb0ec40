/* proctitle — process titles shown by ps ("versync: worker 2"), by rewriting the argv area as PostgreSQL does. */
#ifndef VERSYNC_PROCTITLE_H
#define VERSYNC_PROCTITLE_H

/* Take over the memory of argv[] and environ so titles can be written there.
 * Must run first thing in main: it moves every argv string and the environment
 * to the heap (updating argv[i] and environ), so pointers taken earlier into
 * them would go stale. The copies live until exit (never freed). Without a
 * contiguous argv area it does nothing, and proctitle_set does nothing. */
void proctitle_init(int argc, char **argv);

/* Show `fmt` as the process title (truncated to the original argv's size). */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
