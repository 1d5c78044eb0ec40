/* verstore — command line, data-directory lock, signals and the serve loop. */
#include "versync/common/log.h"
#include "versync/common/timing.h"
#include "versync/common/notify.h"
#include "versync/common/scan.h"
#include "versync/common/signals.h"
#include "versync/store/store_api.h"
#include "versync/store/store_auth.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_http.h"
#include "versync/store/store_search.h"
#include "versync/store/store_util.h"
#include "versync/common/version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
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
    "  --search-threads N      threads for searches, aggregations, _count, _mget and scrolls,\n"
    "                          so that they never hold the HTTP threads (default: CPUs * 3 / 2\n"
    "                          + 1, as Elasticsearch's search pool); 0 runs them on the HTTP\n"
    "                          threads\n"
    "  --search-queue N        such requests waiting for a search thread; more get 429\n"
    "                          es_rejected_execution_exception (default 1000)\n"
    "  --search-timeout TIME   time limit of a search that gives no `timeout` (e.g. 30s):\n"
    "                          it then answers what it found with timed_out: true, as\n"
    "                          Elasticsearch's search.default_search_timeout (default -1: none)\n"
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
    "  --values-level-entries N  exact values (keyword, number, date) a batch writes into a\n"
    "                          small newest level that moves entries down to older levels,\n"
    "                          each 8 times larger, when it holds more than N (default\n"
    "                          32768; from 1 to 16777216); smaller levels cost a batch\n"
    "                          fewer pages and moves more often\n"
    "  --postings-level-pages N  new text postings go into a recent level of the index that\n"
    "                          moves whole terms to the older level when it holds more than N\n"
    "                          pages of 4 KiB (default 512; 0 moves after every batch)\n"
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

/* Everything the command line decides. */
typedef struct verstore_opts {
    const char *listen, *data, *durability, *users, *tls_cert, *tls_key;
    log_level level;
    log_format format;
    bool durable, insecure;
    uint64_t max_body, max_disk, max_memory;
    bool max_memory_set;
    store_disk_watermark flood;
    long threads, search_threads, search_queue;
    int64_t search_timeout;
    size_t vlevel_entries, plevel_pages;
    char host[256];
    int port;
} verstore_opts;

/* Parse and check the command line into `o`. Returns -1 to go on serving,
 * or the exit status when verstore is done (--help, --hash-password, a bad
 * option: the message already printed). */
static int parse_options(int argc, char **argv, verstore_opts *o)
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
    long search_threads = threads * 3 / 2 + 1, search_queue = 1000;
    int64_t search_timeout = -1, vlevel_entries = STORE_VLEVEL_NEWEST_DEFAULT, plevel_pages = STORE_PLEVEL_PAGES_DEFAULT;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},     {"data", required_argument, NULL, 'd'},
        {"durability", required_argument, NULL, 'D'}, {"max-body", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},    {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'},
        {"users", required_argument, NULL, 'u'},      {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},    {"insecure-no-auth", no_argument, NULL, 'I'},
        {"hash-password", no_argument, NULL, 'H'},    {"flood-stage", required_argument, NULL, 'f'},
        {"max-disk", required_argument, NULL, 'M'},    {"max-memory", required_argument, NULL, 'R'},
        {"search-threads", required_argument, NULL, 'S'}, {"search-queue", required_argument, NULL, 'Q'},
        {"search-timeout", required_argument, NULL, 'T'}, {"version", no_argument, NULL, 'V'},
        {"values-level-entries", required_argument, NULL, 'E'}, {"postings-level-pages", required_argument, NULL, 'P'},
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
        case 'S':
        case 'Q': {
            int64_t t;
            if (!scan_int64(optarg, 0, ch == 'S' ? 1024 : 1000000, &t))
                return bad_usage(ch == 'S' ? "--search-threads: expected a number from 0 to 1024, got '%s'"
                                           : "--search-queue: expected a number from 0 to 1000000, got '%s'",
                                 optarg);
            *(ch == 'S' ? &search_threads : &search_queue) = (long)t;
            break;
        }
        case 'T':
            if (!store_util_parse_time_ms(optarg, &search_timeout))
                return bad_usage("--search-timeout: expected a time with its unit (e.g. 500ms, 30s, 1m) or -1, got '%s'",
                                 optarg);
            break;
        case 'E':
            if (!scan_int64(optarg, 1, 16777216, &vlevel_entries))
                return bad_usage("--values-level-entries: expected a number from 1 to 16777216, got '%s'", optarg);
            break;
        case 'P':
            if (!scan_int64(optarg, 0, 16777216, &plevel_pages))
                return bad_usage("--postings-level-pages: expected a number from 0 to 16777216, got '%s'", optarg);
            break;
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
    memset(o, 0, sizeof *o);
    if (!log_parse_level(level_s, &o->level))
        return bad_usage("--log-level: expected debug, info, warn or error, got '%s'", level_s);
    if (!log_parse_format(format_s, &o->format))
        return bad_usage("--log-format: expected text or json, got '%s'", format_s);
    if (strcmp(durability, "request") == 0)
        o->durable = true;
    else if (strcmp(durability, "async") == 0)
        o->durable = false;
    else
        return bad_usage("--durability: expected request or async, got '%s'", durability);
    if (!parse_listen(listen, o->host, sizeof o->host, &o->port))
        return bad_usage("--listen: expected HOST:PORT (e.g. 127.0.0.1:9200), got '%s'", listen);
    if (!*data)
        return bad_usage("--data: the directory name is empty%s", "");
    if (!tls_cert != !tls_key)
        return bad_usage("--tls-cert and --tls-key go together%s", "");
    if (!users && !insecure && !is_loopback(o->host)) {
        fprintf(stderr,
                "verstore: --listen %s: refusing to serve a non-loopback address without authentication; give "
                "--users FILE, or --insecure-no-auth to serve it open anyway\n",
                listen);
        return 2;
    }
    o->listen = listen, o->data = data, o->durability = durability;
    o->users = users, o->tls_cert = tls_cert, o->tls_key = tls_key, o->insecure = insecure;
    o->max_body = max_body, o->max_disk = max_disk, o->max_memory = max_memory, o->max_memory_set = max_memory_set;
    o->flood = flood, o->threads = threads;
    o->search_threads = search_threads, o->search_queue = search_queue, o->search_timeout = search_timeout;
    o->vlevel_entries = (size_t)vlevel_entries, o->plevel_pages = (size_t)plevel_pages;
    return -1;
}

/* Create the data directory if needed and hold its lock for the process's
 * life (a second verstore on it is refused). Returns the lock's descriptor,
 * or -1 with the reason printed. */
static int lock_data_dir(const char *data)
{
    struct stat st;
    char lockpath[4200];
    if (stat(data, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "verstore: --data %s: not a directory\n", data);
        return -1;
    }
    if (!make_dirs(data)) {
        fprintf(stderr, "verstore: --data %s: cannot create the directory: %s\n", data, strerror(errno));
        return -1;
    }
    snprintf(lockpath, sizeof lockpath, "%s/verstore.lock", data);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0) {
        fprintf(stderr, "verstore: --data %s: cannot use the data directory: %s\n", data, strerror(errno));
        return -1;
    }
    if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "verstore: --data %s: the data directory is in use by another verstore process (lock %s is held)\n",
                data, lockpath);
        close(lockfd);
        return -1;
    }
    char pidline[32];
    int pl = snprintf(pidline, sizeof pidline, "%ld\n", (long)getpid());
    if (ftruncate(lockfd, 0) == 0 && write(lockfd, pidline, (size_t)pl) < 0)
        log_debug("cannot write the pid to %s", lockpath);
    return lockfd;
}

/* Say once, at start, what this server enforces. */
static void log_settings(const verstore_opts *o, const store_auth *auth)
{
    if (o->max_memory)
        log_info("--max-memory: requests past %llu bytes of bodies, answers and search state get 429",
                 (unsigned long long)o->max_memory);
    log_info("serving data directory %s (durability %s, %ld threads, %ld search threads, max body %llu bytes)",
             o->data, o->durability, o->threads, o->search_threads, (unsigned long long)o->max_body);
    if (o->max_disk)
        log_info("--max-disk: the data file stops growing at %llu bytes", (unsigned long long)o->max_disk);
    if (o->flood.max_used_pct > 0)
        log_info("--flood-stage: writes refused while the disk is more than %g%% used", o->flood.max_used_pct);
    else if (o->flood.min_free)
        log_info("--flood-stage: writes refused while less than %llu bytes are free",
                 (unsigned long long)o->flood.min_free);
    if (auth)
        log_info("authentication required: %zu users and API keys from %s", store_auth_count(auth), o->users);
}

/* After a stop signal: let requests in flight finish, then wait for what
 * the engine already holds. Exits the process (status 1) if the engine does
 * not give its work back within 2 minutes. */
static void drain(store_http *http)
{
    log_info("stopping: finishing requests in flight");
    notify_stopping();
    store_http_quiesce(http);
    /* Requests in flight finish, engine jobs included, for up to 60 s. A
     * request whose body is still arriving gets 5 s to complete it: a client
     * trickling a byte a second (or hung up unnoticed mid-upload) must not
     * hold the shutdown, and its write was never acknowledged. */
    int64_t t0 = timing_now_ms(), deadline = t0 + 60000, grace = t0 + 5000;
    for (;;) {
        long flying = store_http_in_flight(http), uploading = store_http_uploading(http);
        int64_t now = timing_now_ms();
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
    deadline = timing_now_ms() + 120000;
    bool aborted = false;
    while (store_http_busy(http) > 0) {
        if (!aborted && timing_now_ms() >= t0 + 60000) {
            /* Searches still running after the 60 s stop each at their next
             * scan step; their clients get no answer (as on a hang-up). */
            log_info("stopping: cutting short the searches still running after 60 s");
            store_deadline_abort_all();
            aborted = true;
        }
        if (timing_now_ms() > deadline) {
            log_error("the engine did not finish its work within 2 minutes; exiting without a clean close");
            _exit(1);
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Open the engine, start the HTTP front, announce readiness, serve until a
 * stop signal, drain. Returns the exit status (0 after a clean stop). */
static int serve(verstore_opts *o, store_auth *auth, const char *cert_pem, const char *key_pem)
{
    int rc = 1;
    store_engine *engine = NULL;
    store_api *api = NULL;
    store_http *http = NULL;
    char err[512];
    store_engine_opts eo = {.dir = o->data,
                            .durable = o->durable,
                            .max_readers = (int)(o->threads + o->search_threads) * 2 + 16 + STORE_SEARCH_MAX_SCROLLS,
                            .max_size = (size_t)o->max_disk,
                            .vlevel_entries = o->vlevel_entries,
                            .plevel_pages = o->plevel_pages,
                            .plevel_pages_set = true,
                            .flood_stage = o->flood};
    if (!store_engine_open(&eo, &engine, err, sizeof err)) {
        fprintf(stderr, "verstore: --data %s: %s\n", o->data, err);
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
    store_http_opts ho = {.host = o->host,
                          .port = o->port,
                          .threads = (int)o->threads,
                          .max_body = (size_t)o->max_body,
                          .auth = auth,
                          .tls_cert_pem = cert_pem,
                          .tls_key_pem = key_pem,
                          .search_threads = (int)o->search_threads,
                          .search_queue = (int)o->search_queue,
                          .search_timeout_ms = o->search_timeout};
    int bound;
    if (!store_http_start(api, engine, &ho, &http, &bound, err, sizeof err)) {
        fprintf(stderr, "verstore: %s\n", err);
        rc = 2;
        goto done;
    }
    bool v6 = strchr(o->host, ':') != NULL;
    if (!o->max_memory_set) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        o->max_memory = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 2 : 0;
    }
    store_breaker_set_limit(o->max_memory);
    log_settings(o, auth);
    printf("verstore listening on %s://%s%s%s:%d\n", cert_pem ? "https" : "http", v6 ? "[" : "", o->host,
           v6 ? "]" : "", bound);
    fflush(stdout);
    notify_ready();

    while (!signals_stop) {
        struct pollfd pfd = {signals_wake_fd(), POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno != EINTR)
            break;
        store_api_tick(api);
    }
    drain(http);
    rc = 0;
done:
    store_http_stop(http);
    store_api_free(api); /* first: its scroll contexts hold read snapshots of the engine */
    store_engine_close(engine);
    return rc;
}

int main(int argc, char **argv)
{
    verstore_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    log_init("verstore", o.level, o.format);
    signals_ignore_pipe();
    /* Large blocks (a search's hit lists, a bulk body) straight from mmap and
     * back to the system when freed. By default glibc raises this threshold
     * each time such a block is freed, after which they come from the heaps
     * of the threads that used them and stay there: at 1 M documents, 244 MB
     * of freed search state stayed resident after a query run (31 MB with a
     * fixed threshold). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* Fixing that threshold also fixes the one at which a thread's heap gives its free top back
     * (128 KB by default), and one _bulk of 500 documents holds more than that (its ops alone are
     * 336 KB): every request then returned those pages (madvise) and faulted them back in, zeroed
     * by the kernel. A thread keeps up to 4 MB free before giving any back. */
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    char aerr[512];
    store_auth *auth = NULL;
    char *cert_pem = NULL, *key_pem = NULL;
    int lockfd = -1;
    rc = 2;
    if (o.users && !(auth = store_auth_load(o.users, aerr, sizeof aerr))) {
        fprintf(stderr, "verstore: --users %s\n", aerr);
        goto done;
    }
    if (o.tls_cert &&
        (!(cert_pem = read_pem("--tls-cert", o.tls_cert)) || !(key_pem = read_pem("--tls-key", o.tls_key))))
        goto done;
    if ((lockfd = lock_data_dir(o.data)) < 0)
        goto done;
    rc = serve(&o, auth, cert_pem, key_pem);
    if (rc == 0)
        log_info("stopped cleanly");
done:
    if (lockfd >= 0)
        close(lockfd);
    store_auth_free(auth);
    free(cert_pem);
    if (key_pem)
        explicit_bzero(key_pem, strlen(key_pem));
    free(key_pem);
    return rc;
}
