/* verstore — command line, data-directory lock, signals and the serve loop. */
#include "versync/log.h"
#include "versync/notify.h"
#include "versync/scan.h"
#include "versync/signals.h"
#include "versync/store_api.h"
#include "versync/store_auth.h"
#include "versync/store_breaker.h"
#include "versync/store_engine.h"
#include "versync/store_http.h"
#include "versync/store_util.h"
#include "versync/version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
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
    "  --flood-stage WATERMARK refuse writes while the data directory's filesystem is more\n"
    "                          than P% used (e.g. 95%) or has less than SIZE free (e.g.\n"
    "                          500m), as Elasticsearch's flood-stage watermark: 429\n"
    "                          cluster_block_exception; reads and index deletes go on\n"
    "                          (default: off; writes that find the disk full get the same)\n"
    "  --max-disk BYTES        never let the data file grow past BYTES; writes that need\n"
    "                          more get the same 429 (default: no limit)\n"
    "  --max-memory BYTES      memory budget for request bodies, answers and search state;\n"
    "                          a request that would exceed it gets 429\n"
    "                          circuit_breaking_exception (default: half the RAM)\n"
    "  --users FILE            require authentication: HTTP basic auth for the users and\n"
    "                          Authorization: ApiKey for the keys listed in FILE (lines\n"
    "                          name:HASH or apikey:ID:HASH, HASH from --hash-password);\n"
    "                          read once at start\n"
    "  --tls-cert FILE         serve HTTPS with this PEM certificate (chain)\n"
    "  --tls-key FILE          ... and this PEM private key (both or neither)\n"
    "  --insecure-no-auth      allow a non-loopback --listen without --users\n"
    "  --hash-password         read a password from stdin, print its yescrypt hash, exit\n"
    "  --log-level LEVEL       debug, info, warn or error (default info)\n"
    "  --log-format FORMAT     text or json (default text)\n"
    "  --version               print the version (git revision) and exit\n"
    "  --help                  show this help and exit\n"
    "\n"
    "When ready it prints one line: verstore listening on http://HOST:PORT (https:// with TLS)\n"
    "SIGTERM or SIGINT stops accepting, finishes requests in flight (up to 60 s; one still\n"
    "sending its body gets 5 s, then is closed unanswered) and closes cleanly.\n"
    "\n"
    "Limits on one request: at most 1000 query parameters (and a 96 KiB request target);\n"
    "wildcard patterns of at most 1000 characters once runs of * are merged.\n"
    "Exit status: 0 clean stop, 1 runtime failure, 2 bad option or unusable data directory.\n";

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
    int64_t p;
    if (!scan_int64(colon + 1, 0, 65535, &p))
        return false;
    *port = (int)p;
    return true;
}

/* Addresses only this machine can reach: serving them without auth is safe.
 * Only numeric addresses count (127.0.0.0/8, ::1, ::ffff:127.x.x.x): a name
 * such as "127.evil.example" resolves to whatever its owner likes. The one
 * name accepted is "localhost", which resolvers answer locally. */
static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

/* Read a whole PEM file into a NUL-terminated string the caller frees. */
static char *read_pem(const char *opt, const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    if (!f) {
        fprintf(stderr, "verstore: %s %s: cannot read the file: %s\n", opt, path, strerror(errno));
        return NULL;
    }
    buf b = BUF_INIT;
    if (!buf_read_stream(&b, f) || !buf_putc(&b, '\0'))
        fprintf(stderr, "verstore: %s %s: cannot read the file\n", opt, path);
    else if (!strstr(b.data, "-----BEGIN "))
        fprintf(stderr, "verstore: %s %s: not a PEM file (no -----BEGIN line)\n", opt, path);
    else
        text = buf_steal(&b);
    buf_free(&b);
    fclose(f);
    return text;
}

/* --hash-password: one line from stdin (without its newline) -> hash on stdout. */
static int hash_password(void)
{
    char line[4096];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "verstore: --hash-password: expected a password on stdin\n");
        return 2;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) {
        fprintf(stderr, "verstore: --hash-password: the password is empty\n");
        return 2;
    }
    char *h = store_auth_hash_password(line);
    explicit_bzero(line, sizeof line);
    if (!h)
        return 1;
    printf("%s\n", h);
    free(h);
    return 0;
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
    const char *users = NULL, *tls_cert = NULL, *tls_key = NULL;
    bool insecure = false, want_hash = false;
    uint64_t max_body = 104857600, max_disk = 0, max_memory = 0;
    bool max_memory_set = false;
    store_disk_watermark flood = {0};
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},     {"data", required_argument, NULL, 'd'},
        {"durability", required_argument, NULL, 'D'}, {"max-body", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},    {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'},
        {"users", required_argument, NULL, 'u'},      {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},    {"insecure-no-auth", no_argument, NULL, 'I'},
        {"hash-password", no_argument, NULL, 'H'},    {"flood-stage", required_argument, NULL, 'f'},
        {"max-disk", required_argument, NULL, 'M'},    {"max-memory", required_argument, NULL, 'R'},
        {"version", no_argument, NULL, 'V'},           {NULL, 0, NULL, 0},
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
        case 'f':
            if (!store_disk_parse_watermark(optarg, &flood))
                return bad_usage("--flood-stage: expected a percentage of the disk in use (e.g. 95%%) or the space "
                                 "to keep free (e.g. 500m), got '%s'", optarg);
            break;
        case 'R':
            if (!store_util_parse_bytes(optarg, &max_memory) || max_memory < 1048576)
                return bad_usage("--max-memory: expected a size of at least 1m (k/m/g suffixes), got '%s'", optarg);
            max_memory_set = true;
            break;
        case 'M':
            if (!store_util_parse_bytes(optarg, &max_disk) || max_disk < 65536 || max_disk > SIZE_MAX)
                return bad_usage("--max-disk: expected a number of bytes of at least 64k, got '%s'", optarg);
            break;
        case 't': {
            int64_t t;
            if (!scan_int64(optarg, 1, 1024, &t))
                return bad_usage("--threads: expected a number from 1 to 1024, got '%s'", optarg);
            threads = (long)t;
            break;
        }
        case 'L': level_s = optarg; break;
        case 'F': format_s = optarg; break;
        case 'u': users = optarg; break;
        case 'C': tls_cert = optarg; break;
        case 'K': tls_key = optarg; break;
        case 'I': insecure = true; break;
        case 'H': want_hash = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("verstore %s\n", version_string()); return 0;
        case ':': return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default: return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (want_hash)
        return hash_password();
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
    if (!tls_cert != !tls_key)
        return bad_usage("--tls-cert and --tls-key go together%s", "");
    if (!users && !insecure && !is_loopback(host)) {
        fprintf(stderr,
                "verstore: --listen %s: refusing to serve a non-loopback address without authentication; give "
                "--users FILE, or --insecure-no-auth to serve it open anyway\n",
                listen);
        return 2;
    }
    log_init("verstore", level, format);
    signals_ignore_pipe();
    char aerr[512];
    store_auth *auth = NULL;
    char *cert_pem = NULL, *key_pem = NULL;
    if (users && !(auth = store_auth_load(users, aerr, sizeof aerr))) {
        fprintf(stderr, "verstore: --users %s\n", aerr);
        return 2;
    }
    if (tls_cert && (!(cert_pem = read_pem("--tls-cert", tls_cert)) || !(key_pem = read_pem("--tls-key", tls_key)))) {
        free(cert_pem);
        store_auth_free(auth);
        return 2;
    }

    /* The data directory: create, check, lock. */
    int rc = 1, lockfd = -1;
    store_engine *engine = NULL;
    store_api *api = NULL;
    store_http *http = NULL;
    struct stat st;
    char lockpath[4200];
    if (stat(data, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "verstore: --data %s: not a directory\n", data);
        rc = 2;
        goto done;
    }
    if (!make_dirs(data)) {
        fprintf(stderr, "verstore: --data %s: cannot create the directory: %s\n", data, strerror(errno));
        rc = 2;
        goto done;
    }
    snprintf(lockpath, sizeof lockpath, "%s/verstore.lock", data);
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0) {
        fprintf(stderr, "verstore: --data %s: cannot use the data directory: %s\n", data, strerror(errno));
        rc = 2;
        goto done;
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "verstore: --data %s: the data directory is in use by another verstore process (lock %s is held)\n",
                data, lockpath);
        rc = 2;
        goto done;
    }
    char pidline[32];
    int pl = snprintf(pidline, sizeof pidline, "%ld\n", (long)getpid());
    if (ftruncate(lockfd, 0) == 0 && write(lockfd, pidline, (size_t)pl) < 0)
        log_debug("cannot write the pid to %s", lockpath);

    char err[512];
    store_engine_opts eo = {.dir = data,
                            .durable = durable,
                            .max_readers = (int)threads * 2 + 16,
                            .max_size = (size_t)max_disk,
                            .flood_stage = flood};
    if (!store_engine_open(&eo, &engine, err, sizeof err)) {
        fprintf(stderr, "verstore: --data %s: %s\n", data, err);
        rc = 2;
        goto done;
    }
    if (!(api = store_api_new(engine))) {
        log_error("out of memory");
        goto done;
    }
    /* SIGTERM/SIGINT wake the main loop below through the signal pipe. */
    if (!signals_init(SIGNALS_WAKE_PIPE, NULL, err, sizeof err)) {
        log_error("%s", err);
        goto done;
    }
    store_http_opts ho = {.host = host,
                          .port = port,
                          .threads = (int)threads,
                          .max_body = (size_t)max_body,
                          .auth = auth,
                          .tls_cert_pem = cert_pem,
                          .tls_key_pem = key_pem};
    int bound;
    if (!store_http_start(api, engine, &ho, &http, &bound, err, sizeof err)) {
        fprintf(stderr, "verstore: %s\n", err);
        rc = 2;
        goto done;
    }
    bool v6 = strchr(host, ':') != NULL;
    if (!max_memory_set) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        max_memory = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 2 : 0;
    }
    store_breaker_set_limit(max_memory);
    if (max_memory)
        log_info("--max-memory: requests past %llu bytes of bodies, answers and search state get 429",
                 (unsigned long long)max_memory);
    log_info("serving data directory %s (durability %s, %ld threads, max body %llu bytes)", data, durability,
             threads, (unsigned long long)max_body);
    if (max_disk)
        log_info("--max-disk: the data file stops growing at %llu bytes", (unsigned long long)max_disk);
    if (flood.max_used_pct > 0)
        log_info("--flood-stage: writes refused while the disk is more than %g%% used", flood.max_used_pct);
    else if (flood.min_free)
        log_info("--flood-stage: writes refused while less than %llu bytes are free", (unsigned long long)flood.min_free);
    if (auth)
        log_info("authentication required: %zu users and API keys from %s", store_auth_count(auth), users);
    printf("verstore listening on %s://%s%s%s:%d\n", cert_pem ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stdout);
    notify_ready();

    while (!signals_stop) {
        struct pollfd pfd = {signals_wake_fd(), POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno != EINTR)
            break;
    }
    log_info("stopping: finishing requests in flight");
    notify_stopping();
    store_http_quiesce(http);
    /* Requests in flight finish, engine jobs included, for up to 60 s. A
     * request whose body is still arriving gets 5 s to complete it: a client
     * trickling a byte a second (or hung up unnoticed mid-upload) must not
     * hold the shutdown, and its write was never acknowledged. */
    int64_t t0 = store_util_mono_ms(), deadline = t0 + 60000, grace = t0 + 5000;
    for (;;) {
        long flying = store_http_in_flight(http), uploading = store_http_uploading(http);
        int64_t now = store_util_mono_ms();
        if (flying <= 0 || now >= deadline || store_http_idle_ms(http) >= 5000)
            break; /* done, or nothing has arrived for 5 s (a client gone unnoticed) */
        if (flying <= uploading && now >= grace) {
            log_info("stopping: closing %ld connection(s) still sending a request body", uploading);
            break;
        }
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
    if (rc == 0)
        log_info("stopped cleanly");
    if (lockfd >= 0)
        close(lockfd);
    store_auth_free(auth);
    free(cert_pem);
    if (key_pem)
        explicit_bzero(key_pem, strlen(key_pem));
    free(key_pem);
    return rc;
}
