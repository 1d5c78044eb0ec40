/* Unit tests for store_auth: the constant-time compare, users-file parsing and its errors, and checking basic/ApiKey headers against yescrypt hashes. */
#include "versync/store_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
    store_auth *a = parse("# comment\n\n  \nalice:$y$j9T$abc$def\r\napikey:k1:$y$j9T$x$y\nbob:$6$salt$hash", err,
                          sizeof err);
    assert_non_null(a);
    assert_int_equal(store_auth_count(a), 3);
    store_auth_free(a);
    store_auth_free(NULL);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
