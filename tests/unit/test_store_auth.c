/* Unit tests for store_auth: the constant-time compare, users-file parsing and its errors, and checking basic/ApiKey headers against yescrypt hashes. */
#include "versync/store/store_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crypt.h>
#include <cmocka.h>

/* A real SHA-512 crypt hash of `pw` (heap). */
static char *sha512_hash(const char *pw)
{
    char *setting = crypt_gensalt_ra("$6$", 0, NULL, 0);
    assert_non_null(setting);
    void *data = NULL;
    int dsz = 0;
    char *r = crypt_ra(pw, setting, &data, &dsz);
    assert_non_null(r);
    char *out = strdup(r);
    free(data);
    free(setting);
    return out;
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(store_auth_ct_equal("abc", 3, "abc", 3));
    assert_true(store_auth_ct_equal("", 0, "", 0));
    assert_false(store_auth_ct_equal("abc", 3, "abd", 3));
    assert_false(store_auth_ct_equal("xbc", 3, "abc", 3));
    assert_false(store_auth_ct_equal("abc", 3, "abcd", 4)); /* a prefix is not equal */
    assert_false(store_auth_ct_equal("abcd", 4, "abc", 3));
    assert_false(store_auth_ct_equal("a\0", 2, "a", 1)); /* trailing NUL counts */
    assert_false(store_auth_ct_equal("", 0, "a", 1));
}

static store_auth *parse(const char *text, char *err, size_t errsz)
{
    err[0] = '\0';
    return store_auth_parse(text, strlen(text), "users.txt", err, errsz);
}

static void test_parse_ok(void **state)
{
    (void)state;
    char err[512];
    char *y = store_auth_hash_password("pw"), *s = sha512_hash("pw"), text[1024];
    snprintf(text, sizeof text, "# comment\n\n  \nalice:%s\r\napikey:k1:%s\nbob:%s", y, y, s);
    store_auth *a = parse(text, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(store_auth_count(a), 3);
    store_auth_free(a);
    store_auth_free(NULL);
    free(y);
    free(s);
}

static void expect_error(const char *text, const char *want)
{
    char err[512];
    store_auth *a = parse(text, err, sizeof err);
    assert_null(a);
    if (!strstr(err, want))
        fail_msg("error [%s] does not contain [%s]", err, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("alice:$y$j9T$a$b\nbob\n", "users.txt:2: expected name:HASH");
    expect_error("carol:plaintext\n", "users.txt:1: the hash of 'carol' is not a crypt(3) string");
    expect_error(":$y$j9T$a$b\n", "users.txt:1: the user name is empty");
    expect_error("apikey:$y$j9T$a$b\n", "users.txt:1: expected apikey:ID:HASH");
    expect_error("apikey::$y$j9T$a$b\n", "users.txt:1: expected apikey:ID:HASH");
    expect_error("a:$y$j9T$a$b\nb:$y$x$y\na:$y$j9T$c$d\n", "users.txt:3: user 'a' is listed twice");
    expect_error("a:$y$j9T$a b\n", "users.txt:1:");
    expect_error("# only a comment\n", "users.txt: no users or API keys");
    /* Hashes this crypt(3) cannot use are refused at start, with the line. */
    char *y = store_auth_hash_password("pw"), text[1024];
    snprintf(text, sizeof text, "ok:%s\nalice:$y$j9T$abc$def\n", y);
    expect_error(text, "users.txt:2: the hash of 'alice' cannot be used");
    snprintf(text, sizeof text, "ok:%s\nbob:$6$salt$hash\n", y); /* digest cut short */
    expect_error(text, "users.txt:2: the hash of 'bob' cannot be used");
    snprintf(text, sizeof text, "ok:%s\nzed:$zz$unknownscheme$abc\n", y);
    expect_error(text, "users.txt:2: the hash of 'zed' cannot be used");
    snprintf(text, sizeof text, "ok:%s\nhalf:%.20s\n", y, y);
    expect_error(text, "users.txt:2: the hash of 'half' cannot be used");
    free(y);
    expect_error("", "users.txt: no users or API keys");
}

static void test_check(void **state)
{
    (void)state;
    char *h = store_auth_hash_password("pw");
    assert_non_null(h);
    assert_memory_equal(h, "$y$", 3);
    char text[1024], err[512], who[128];
    snprintf(text, sizeof text, "alice:%s\napikey:k1:%s\n", h, h);
    store_auth *a = parse(text, err, sizeof err);
    assert_non_null(a);
    /* alice:pw / alice:no / k1:pw / bob:pw in base64 */
    assert_int_equal(store_auth_check(a, NULL, who, sizeof who), STORE_AUTH_MISSING);
    assert_int_equal(store_auth_check(a, "Bearer xyz", who, sizeof who), STORE_AUTH_MISSING);
    assert_int_equal(store_auth_check(a, "Basic YWxpY2U6cHc=", who, sizeof who), STORE_AUTH_OK);
    assert_string_equal(who, "alice");
    assert_int_equal(store_auth_check(a, "Basic YWxpY2U6cHc=", who, sizeof who), STORE_AUTH_OK); /* cached */
    assert_int_equal(store_auth_check(a, "Basic YWxpY2U6bm8=", who, sizeof who), STORE_AUTH_FAILED);
    assert_string_equal(who, "alice");
    assert_int_equal(store_auth_check(a, "Basic Ym9iOnB3", who, sizeof who), STORE_AUTH_FAILED);
    assert_string_equal(who, "bob");
    assert_int_equal(store_auth_check(a, "ApiKey azE6cHc=", who, sizeof who), STORE_AUTH_OK);
    assert_string_equal(who, "apikey:k1");
    assert_int_equal(store_auth_check(a, "Basic azE6cHc=", who, sizeof who), STORE_AUTH_FAILED); /* key != user */
    assert_int_equal(store_auth_check(a, "Basic !!", who, sizeof who), STORE_AUTH_FAILED);
    assert_int_equal(store_auth_check(a, "Basic YWxpY2U=", who, sizeof who), STORE_AUTH_FAILED); /* no ':' */
    store_auth_free(a);
    free(h);
}

static double check_ms(store_auth *a, const char *hdr, store_auth_result want)
{
    char who[128];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_auth_check(a, hdr, who, sizeof who), want);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* With a yescrypt user first and a SHA-512 user second, an unknown name and
 * a wrong password for either user all cost the same (one verification per
 * scheme): before, an unknown name cost one yescrypt and the SHA-512 user's
 * wrong password one SHA-512, some 30 times less. */
static void test_unknown_costs_like_wrong(void **state)
{
    (void)state;
    char *y = store_auth_hash_password("pw"), *s = sha512_hash("pw"), text[1024], err[512];
    snprintf(text, sizeof text, "yes:%s\nsha:%s\n", y, s);
    store_auth *a = parse(text, err, sizeof err);
    assert_non_null(a);
    /* yes:bad, sha:bad, nobody:bad */
    const char *hdr[3] = {"Basic eWVzOmJhZA==", "Basic c2hhOmJhZA==", "Basic bm9ib2R5OmJhZA=="};
    double med[3];
    for (int h = 0; h < 3; h++) {
        double t[5];
        for (int i = 0; i < 5; i++)
            t[i] = check_ms(a, hdr[h], STORE_AUTH_FAILED);
        qsort(t, 5, sizeof t[0], dbl_cmp);
        med[h] = t[2];
    }
    for (int h = 1; h < 3; h++)
        if (med[h] < med[0] / 3 || med[h] > med[0] * 3)
            fail_msg("check %d took %.2f ms, the yescrypt user's wrong password %.2f ms", h, med[h], med[0]);
    char who[128];
    assert_int_equal(store_auth_check(a, "Basic c2hhOnB3", who, sizeof who), STORE_AUTH_OK); /* sha:pw */
    assert_int_equal(store_auth_check(a, "Basic eWVzOnB3", who, sizeof who), STORE_AUTH_OK); /* yes:pw */
    store_auth_free(a);
    free(y);
    free(s);
}

/* Failures drain a per-address budget; then that address is refused
 * without hashing, other addresses and cached credentials are not. */
static void test_throttle(void **state)
{
    (void)state;
    char *s = sha512_hash("pw"), text[512], err[512], who[128];
    snprintf(text, sizeof text, "sha:%s\n", s);
    store_auth *a = parse(text, err, sizeof err);
    assert_non_null(a);
    const unsigned char bad_ip[4] = {10, 0, 0, 1}, other_ip[4] = {10, 0, 0, 2};
    assert_int_equal(store_auth_check_from(a, "Basic c2hhOnB3", bad_ip, 4, who, sizeof who), STORE_AUTH_OK);
    int failed = 0;
    store_auth_result r;
    while ((r = store_auth_check_from(a, "Basic c2hhOmJhZA==", bad_ip, 4, who, sizeof who)) == STORE_AUTH_FAILED)
        assert_true(++failed <= 12); /* the budget is 8 and refills at 1 per 2 s */
    assert_int_equal(r, STORE_AUTH_THROTTLED);
    assert_true(failed >= 8);
    /* cached: still fine; another address: unaffected */
    assert_int_equal(store_auth_check_from(a, "Basic c2hhOnB3", bad_ip, 4, who, sizeof who), STORE_AUTH_OK);
    assert_int_equal(store_auth_check_from(a, "Basic c2hhOmJhZA==", other_ip, 4, who, sizeof who),
                     STORE_AUTH_FAILED);
    store_auth_free(a);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_unknown_costs_like_wrong),
        cmocka_unit_test(test_throttle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
