/*
 * test_io_authfail.c -- failed-AUTH counting per client address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "io/io_authfail.h"

static void
test_counts_per_address(void **state)
{
    (void)state;
    struct io_authfail *t = io_authfail_new(600);
    assert_non_null(t);
    assert_int_equal(io_authfail_record(t, "192.0.2.1", 1000), 1);
    assert_int_equal(io_authfail_record(t, "192.0.2.1", 1001), 2);
    assert_int_equal(io_authfail_record(t, "192.0.2.2", 1001), 1);
    assert_int_equal(io_authfail_count(t, "192.0.2.1", 1002), 2);
    assert_int_equal(io_authfail_count(t, "2001:db8::1", 1002), 0);
    io_authfail_free(t);
}

static void
test_window_forgets(void **state)
{
    (void)state;
    struct io_authfail *t = io_authfail_new(10);
    io_authfail_record(t, "192.0.2.1", 1000);
    io_authfail_record(t, "192.0.2.1", 1005);
    /* Forgotten window seconds after the last failure. */
    assert_int_equal(io_authfail_count(t, "192.0.2.1", 1014), 2);
    assert_int_equal(io_authfail_count(t, "192.0.2.1", 1015), 0);
    assert_int_equal(io_authfail_record(t, "192.0.2.1", 1016), 1);
    io_authfail_free(t);
}

static void
test_bounded(void **state)
{
    (void)state;
    struct io_authfail *t = io_authfail_new(600);
    char addr[64];
    for (unsigned i = 0; i < IO_AUTHFAIL_MAX_ENTRIES + 10; i++) {
        snprintf(addr, sizeof(addr), "10.%u.%u.%u", i >> 16, (i >> 8) & 255,
                 i & 255);
        io_authfail_record(t, addr, 1000);
    }
    /* The oldest were dropped to make room; the newest are kept. */
    assert_int_equal(io_authfail_count(t, "10.0.0.0", 1000), 0);
    assert_int_equal(io_authfail_count(t, addr, 1000), 1);
    io_authfail_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_per_address),
        cmocka_unit_test(test_window_forgets),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
