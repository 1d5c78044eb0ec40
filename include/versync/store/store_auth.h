/* store_auth — verstore's access control: users file (crypt(3)/yescrypt hashes), basic auth and API keys, constant-time checks. */
#ifndef VERSYNC_STORE_AUTH_H
#define VERSYNC_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct store_auth store_auth;

typedef enum store_auth_result {
    STORE_AUTH_OK = 0,
    STORE_AUTH_MISSING = 1, /* no (usable) Authorization header */
    STORE_AUTH_FAILED = 2,  /* credentials given but wrong */
    STORE_AUTH_THROTTLED = 3, /* too many failures from this client address: not checked (429) */
} store_auth_result;

/* Parse users-file text: lines `name:HASH` or `apikey:ID:HASH` where HASH is a
 * crypt(3) string this system can verify (each is tried once: a hash it
 * cannot use is refused with its line number); blank lines and lines
 * starting with '#' are skipped.
 * `name` is the file name used in errors ("FILE:LINE: ..."). On success the
 * caller owns the result (store_auth_free); on failure NULL and `err`. */
store_auth *store_auth_parse(const char *text, size_t len, const char *name, char *err, size_t errsz);

/* Read and parse FILE; same ownership and errors as store_auth_parse. */
store_auth *store_auth_load(const char *path, char *err, size_t errsz);

/* Number of users plus API keys. */
size_t store_auth_count(const store_auth *a);

/* Check an Authorization header value (NULL: none). On STORE_AUTH_FAILED and
 * STORE_AUTH_OK the claimed user name (or "apikey:ID") is copied to `who`.
 * Successful headers are cached (bounded, compared in full in constant
 * time), so yescrypt's cost is paid once per credential. Thread-safe. */
store_auth_result store_auth_check(store_auth *a, const char *header, char *who, size_t whosz);

/* As store_auth_check, for a client at address bytes `addr` (an IPv4
 * address, or the /64 of an IPv6 one; NULL: no throttle). Failed checks
 * drain a per-address budget (8, refilled at one every 2 seconds); once it is empty
 * uncached credentials from that address get STORE_AUTH_THROTTLED without
 * any hashing, while cached ones still pass. */
store_auth_result store_auth_check_from(store_auth *a, const char *header, const void *addr, size_t addrlen,
                                        char *who, size_t whosz);

/* Constant-time equality: the time depends only on the lengths, never on
 * where the contents differ. */
bool store_auth_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Hash `password` with yescrypt and a fresh random salt. Caller frees the
 * result with free(); NULL on failure (logged). */
char *store_auth_hash_password(const char *password);

/* Free; NULL is a no-op. */
void store_auth_free(store_auth *a);

#endif
