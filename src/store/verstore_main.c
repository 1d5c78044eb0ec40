/* verstore — command line, data-directory lock, signals and the serve loop. */
#include "versync/log.h"
#include "versync/notify.h"
#include "versync/store_api.h"
#include "versync/store_engine.h"
#include "versync/store_http.h"
#include "versync/store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: verstore [OPTIONS]\n"
    "\n"
    "verstore is a single-binary document store that speaks the Elasticsearch REST API\n"
    "for documents and reproduces Elasticsearch's versioning semantics (internal,\n"
    "external, external_gte, if_seq_no/if_primary_term, durable delete tombstones).\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT      address to serve on (default 127.0.0.1:9200; port 0 picks a\n"
    "                          free port, printed in the ready line)\n"
    "  --data DIR              data directory, created if missing (default ./verstore-data);\n"
    "                          only one verstore may use it at a time\n"
    "  --durability MODE       request: a write is on disk before it is acknowledged (default)\n"
    "                          async: writes are acknowledged once committed and synced to\n"
    "                          disk in the background every 100 ms (survives a process crash,\n"
    "                          may lose the last 100 ms on a power failure)\n"
    "  --max-body BYTES        largest request body accepted; larger ones get 413\n"
    "                          (default 104857600; k/m/g suffixes allowed)\n"
    "  --threads N             HTTP worker threads (default: number of CPUs)\n"
    "  --log-level LEVEL       debug, info, warn or error (default info)\n"
    "  --log-format FORMAT     text or json (default text)\n"
    "  --help                  show this help and exit\n"
    "\n"
    "When ready it prints one line: verstore listening on http://HOST:PORT\n"
    "SIGTERM or SIGINT stops accepting, finishes requests in flight and closes cleanly.\n"
    "Exit status: 0 clean stop, 1 runtime failure, 2 bad option or unusable data directory.\n";

static volatile sig_atomic_t g_stop;
static int g_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    g_stop = 1;
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "verstore: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'verstore --help' for the options.\n");
    return 2;
}

static bool parse_listen(const char *s, char *host, size_t hostsz, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return false;
        h++;
        hl -= 2;
    }
    if (hl >= hostsz)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

/* mkdir -p */
static bool make_dirs(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9200", *data = "./verstore-data", *durability = "request";
    const char *level_s = "info", *format_s = "text";
    uint64_t max_body = 104857600;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},     {"data", required_argument, NULL, 'd'},
        {"durability", required_argument, NULL, 'D'}, {"max-body", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},    {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': listen = optarg; break;
        case 'd': data = optarg; break;
        case 'D': durability = optarg; break;
        case 'm':
            if (!store_util_parse_bytes(optarg, &max_body) || max_body == 0)
                return bad_usage("--max-body: expected a positive number of bytes, got '%s'", optarg);
            break;
        case 't': {
            char *end;
            errno = 0;
            threads = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || threads < 1 || threads > 1024)
                return bad_usage("--threads: expected a number from 1 to 1024, got '%s'", optarg);
            break;
        }
        case 'L': level_s = optarg; break;
        case 'F': format_s = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case ':': return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default: return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    log_level level;
    log_format format;
    if (!log_parse_level(level_s, &level))
        return bad_usage("--log-level: expected debug, info, warn or error, got '%s'", level_s);
    if (!log_parse_format(format_s, &format))
        return bad_usage("--log-format: expected text or json, got '%s'", format_s);
    bool durable;
    if (strcmp(durability, "request") == 0)
        durable = true;
    else if (strcmp(durability, "async") == 0)
        durable = false;
    else
        return bad_usage("--durability: expected request or async, got '%s'", durability);
    char host[256];
    int port;
    if (!parse_listen(listen, host, sizeof host, &port))
        return bad_usage("--listen: expected HOST:PORT (e.g. 127.0.0.1:9200), got '%s'", listen);
    if (!*data)
        return bad_usage("--data: the directory name is empty%s", "");
    log_init("verstore", level, format);
    signal(SIGPIPE, SIG_IGN);

    /* The data directory: create, check, lock. */
    struct stat st;
    if (stat(data, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "verstore: --data %s: not a directory\n", data);
        return 2;
    }
    if (!make_dirs(data)) {
        fprintf(stderr, "verstore: --data %s: cannot create the directory: %s\n", data, strerror(errno));
        return 2;
    }
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s/verstore.lock", data);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0) {
        fprintf(stderr, "verstore: --data %s: cannot use the data directory: %s\n", data, strerror(errno));
        return 2;
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "verstore: --data %s: the data directory is in use by another verstore process (lock %s is held)\n",
                data, lockpath);
        close(lockfd);
        return 2;
    }
    char pidline[32];
    int pl = snprintf(pidline, sizeof pidline, "%ld\n", (long)getpid());
    if (ftruncate(lockfd, 0) == 0 && write(lockfd, pidline, (size_t)pl) < 0)
        log_debug("cannot write the pid to %s", lockpath);

    int rc = 1;
    store_engine *engine = NULL;
    store_api *api = NULL;
    store_http *http = NULL;
    char err[512];
    store_engine_opts eo = {.dir = data, .durable = durable, .max_readers = (int)threads * 2 + 16};
    if (!store_engine_open(&eo, &engine, err, sizeof err)) {
        fprintf(stderr, "verstore: --data %s: %s\n", data, err);
        rc = 2;
        goto done;
    }
    if (!(api = store_api_new(engine))) {
        log_error("out of memory");
        goto done;
    }
    if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_error("cannot create the signal pipe: %s", strerror(errno));
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    store_http_opts ho = {.host = host, .port = port, .threads = (int)threads, .max_body = (size_t)max_body};
    int bound;
    if (!store_http_start(api, engine, &ho, &http, &bound, err, sizeof err)) {
        fprintf(stderr, "verstore: %s\n", err);
        rc = 2;
        goto done;
    }
    bool v6 = strchr(host, ':') != NULL;
    log_info("serving data directory %s (durability %s, %ld threads, max body %llu bytes)", data, durability,
             threads, (unsigned long long)max_body);
    printf("verstore listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stdout);
    notify_ready();

    while (!g_stop) {
        struct pollfd pfd = {g_pipe[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno != EINTR)
            break;
    }
    log_info("stopping: finishing requests in flight");
    notify_stopping();
    store_http_quiesce(http);
    /* Requests in flight finish, engine jobs included; a client that has sent
     * nothing for 5 s (e.g. hung up unnoticed mid-upload) is not waited for. */
    int64_t deadline = store_util_mono_ms() + 60000;
    while (store_http_in_flight(http) > 0 && store_util_mono_ms() < deadline && store_http_idle_ms(http) < 5000) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* Whatever still arrives is refused; what is already with the engine
     * must come back before the server may close its connections. */
    store_http_refuse_new(http);
    deadline = store_util_mono_ms() + 120000;
    while (store_http_busy(http) > 0) {
        if (store_util_mono_ms() > deadline) {
            log_error("the engine did not finish its work within 2 minutes; exiting without a clean close");
            _exit(1);
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    rc = 0;
done:
    store_http_stop(http);
    store_engine_close(engine);
    store_api_free(api);
    if (g_pipe[0] >= 0) {
        close(g_pipe[0]);
        close(g_pipe[1]);
    }
    if (rc == 0)
        log_info("stopped cleanly");
    close(lockfd);
    return rc;
}
