/* peak_rss — run a command and write the peak resident set and the CPU time of it and every
 * descendant it reaped.
 *
 *   peak_rss OUTFILE COMMAND [ARG…]
 *
 * The bench used to poll /proc/PID/status of the workers ten times a second
 * from the shell (a few hundred fork+execs per drain, on the same two CPUs
 * the drain was measured on). wait4 hands over the same figure once, at the
 * end: the kernel keeps the largest ru_maxrss of the process and of each
 * child it waited for (the supervisor waits for its workers), and their
 * CPU time with it. OUTFILE gets one line: the peak in kB (as VmHWM), then
 * user and system CPU seconds. The exit status is the command's, 128 + N
 * when signal N ended it, 127 when it could not be started. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss OUTFILE COMMAND [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("peak_rss: exec");
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("peak_rss: wait4");
            return 127;
        }
    FILE *f = fopen(argv[1], "w");
    if (!f ||
        fprintf(f, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
                (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec) < 0 ||
        fclose(f) != 0) {
        perror("peak_rss: writing the figure");
        return 127;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
