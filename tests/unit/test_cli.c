/* Unit tests for bridge_cli: the exit-status scheme's helpers and the JSON-only output of cli_print. */
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_worst(void **state)
{
    (void)state;
    /* configuration beats unreachable beats drift beats ok, in either order */
    assert_int_equal(cli_exit_worst(CLI_EXIT_OK, CLI_EXIT_DRIFT), CLI_EXIT_DRIFT);
    assert_int_equal(cli_exit_worst(CLI_EXIT_DRIFT, CLI_EXIT_OK), CLI_EXIT_DRIFT);
    assert_int_equal(cli_exit_worst(CLI_EXIT_DRIFT, CLI_EXIT_UNREACHABLE), CLI_EXIT_UNREACHABLE);
    assert_int_equal(cli_exit_worst(CLI_EXIT_UNREACHABLE, CLI_EXIT_CONFIG), CLI_EXIT_CONFIG);
    assert_int_equal(cli_exit_worst(CLI_EXIT_CONFIG, CLI_EXIT_UNREACHABLE), CLI_EXIT_CONFIG);
    assert_int_equal(cli_exit_worst(CLI_EXIT_OK, CLI_EXIT_OK), CLI_EXIT_OK);
}

static void test_target_and_pg(void **state)
{
    (void)state;
    assert_int_equal(cli_target_exit(TARGET_OK), CLI_EXIT_OK);
    assert_int_equal(cli_target_exit(TARGET_UNREACHABLE), CLI_EXIT_UNREACHABLE);
    assert_int_equal(cli_target_exit(TARGET_REFUSED), CLI_EXIT_CONFIG);
    assert_int_equal(cli_pg_exit(NULL), CLI_EXIT_UNREACHABLE);
    assert_true(cli_pg_refused("cannot connect to PostgreSQL (host=x): connection to server at \"x\" failed: "
                               "FATAL:  password authentication failed for user \"vs\""));
    assert_true(cli_pg_refused("... FATAL:  role \"nobody\" does not exist"));
    assert_true(cli_pg_refused("... FATAL:  no pg_hba.conf entry for host \"10.0.0.1\""));
    assert_true(cli_pg_refused("invalid connection option \"hots\""));
    assert_false(cli_pg_refused("... failed: Connection refused\tIs the server running on that host?"));
    assert_false(cli_pg_refused("... failed: timeout expired"));
    assert_false(cli_pg_refused("... failed: No such file or directory"));
}

/* Under --log-format json, cli_print turns every line into a JSON log line and prints nothing. */
static void test_print_json(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_init("versync", LOG_INFO, LOG_FORMAT_JSON);
    log_set_fd(fds[1]);
    assert_true(cli_json(false));
    cli_print("created triggers on %s\n\nsecond \"line\"\n", "public.t");
    close(fds[1]);
    char out[4096];
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    int lines = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        lines++;
        assert_int_equal(l[0], '{');
        assert_non_null(strstr(l, "\"level\":\"info\""));
    }
    assert_int_equal(lines, 2); /* the empty line is dropped */
    log_set_fd(2);
    log_init("versync", LOG_INFO, LOG_FORMAT_TEXT);
    assert_false(cli_json(false));
    assert_true(cli_json(true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worst),
        cmocka_unit_test(test_target_and_pg),
        cmocka_unit_test(test_print_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
