/* Unit tests for target: the verdict on GET / and the write blocks in _settings. */
#include "versync/bridge/target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_root(void **state)
{
    (void)state;
    char err[512];
    assert_true(target_root_ok("u", "{\"version\":{\"number\":\"8.13.0\"}}", err, sizeof err));
    assert_true(target_root_ok("u", "{\"version\":{\"number\":\"7.0.0\"}}", err, sizeof err));
    assert_true(target_root_ok("u", "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"1.3.0\"}}", err,
                               sizeof err));
    assert_false(target_root_ok("http://es", "{\"version\":{\"number\":\"6.8.23\"}}", err, sizeof err));
    assert_non_null(strstr(err, "store at http://es is incompatible: Elasticsearch 6.8.23; versync needs"));
    assert_false(target_root_ok("u", "{}", err, sizeof err));
    assert_non_null(strstr(err, "no version.number"));
    assert_false(target_root_ok("u", "not json", err, sizeof err));
    assert_false(target_root_ok("u", NULL, err, sizeof err));
}

static void test_write_block(void **state)
{
    (void)state;
    assert_null(target_write_block("{\"i\":{\"settings\":{\"index.number_of_shards\":\"1\"}}}"));
    assert_null(target_write_block("{\"i\":{\"settings\":{\"index.blocks.read_only\":\"false\"}}}"));
    assert_string_equal(target_write_block("{\"i\":{\"settings\":{\"index.blocks.read_only_allow_delete\":\"true\"}}}"),
                        "index.blocks.read_only_allow_delete");
    assert_string_equal(target_write_block("{\"i\":{\"settings\":{\"index.blocks.write\":true}}}"),
                        "index.blocks.write");
    assert_null(target_write_block("[]"));
    assert_null(target_write_block(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_write_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
