/* Unit tests for log: line shape, levels, JSON lines, secret redaction. */
#include "versync/common/log.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Log into a pipe and return what was written (NUL-terminated, static). */
static const char *capture(void (*emit)(void))
{
    static char out[16384];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    emit();
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    log_set_fd(2);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void emit_levels(void)
{
    log_debug("hidden %d", 1);
    log_info("shown %d", 2);
    log_error("multi\nline");
}

static void test_text_lines_have_time_pid_program(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_init("versync", LOG_INFO, LOG_FORMAT_TEXT);
    log_set_role("worker 2");
    const char *out = capture(emit_levels);
    log_set_role(NULL);
    char expect[64];
    snprintf(expect, sizeof expect, "versync[%ld] worker 2 info: shown 2\n", (long)getpid());
    assert_non_null(strstr(out, expect));
    assert_null(strstr(out, "hidden"));
    /* ISO-8601 UTC timestamp first */
    assert_int_equal(out[4], '-');
    assert_int_equal(out[10], 'T');
    assert_non_null(strstr(out, "Z versync["));
    /* a newline inside a message cannot start a forged line */
    assert_non_null(strstr(out, "error: multi\\nline\n"));
}

static void emit_json(void) { log_warn("quote \" and \\ here"); }

static void test_json_lines_parse(void **state)
{
    (void)state;
    log_init("verstore", LOG_DEBUG, LOG_FORMAT_JSON);
    const char *out = capture(emit_json);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
    assert_string_equal(cJSON_GetObjectItem(j, "program")->valuestring, "verstore");
    assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "quote \" and \\ here");
    assert_int_equal(cJSON_GetObjectItem(j, "pid")->valueint, getpid());
    assert_non_null(cJSON_GetObjectItem(j, "ts"));
    cJSON_Delete(j);
    log_init("versync", LOG_INFO, LOG_FORMAT_TEXT);
}

static void test_parse_level_and_format(void **state)
{
    (void)state;
    log_level l;
    log_format f;
    assert_true(log_parse_level("DEBUG", &l));
    assert_int_equal(l, LOG_DEBUG);
    assert_true(log_parse_level("warning", &l));
    assert_int_equal(l, LOG_WARN);
    assert_false(log_parse_level("loud", &l));
    assert_false(log_parse_level(NULL, &l));
    assert_true(log_parse_format("json", &f));
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_false(log_parse_format("xml", &f));
}

static void test_redact_conninfo(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(log_redact("host=db user=app password=s3cret dbname=app", out, sizeof out),
                        "host=db user=app password=*** dbname=app");
    assert_string_equal(log_redact("password = 'it\\'s x' host=h", out, sizeof out),
                        "password = *** host=h");
    assert_string_equal(log_redact("postgresql://app:s3cret@db:5432/app?sslmode=require", out, sizeof out),
                        "postgresql://app:***@db:5432/app?sslmode=require");
    assert_string_equal(log_redact("postgres://db/app?user=x&password=hunter2&x=1", out, sizeof out),
                        "postgres://db/app?user=x&password=***&x=1");
    assert_string_equal(log_redact("https://elastic:changeme@es:9200", out, sizeof out),
                        "https://elastic:***@es:9200");
    assert_string_equal(log_redact("postgresql://app@db/app", out, sizeof out), "postgresql://app@db/app");
    assert_string_equal(log_redact(NULL, out, sizeof out), "");
    char tiny[8];
    assert_string_equal(log_redact("host=abcdefghij", tiny, sizeof tiny), "host=ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines_have_time_pid_program),
        cmocka_unit_test(test_json_lines_parse),
        cmocka_unit_test(test_parse_level_and_format),
        cmocka_unit_test(test_redact_conninfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
