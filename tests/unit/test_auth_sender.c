/*
 * test_auth_sender.c -- unit tests of src/auth/auth_sender.c: the
 * sender_login_maps rule (own entry, then domain entry, then refused), the
 * null sender, no map, case rules for addresses and logins, and the
 * verdict names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_sender.h"
#include "config/config.h"
#include "util/util_buf.h"

#include "queue_test_util.h"

/* Write a NUL-terminated text to a file (aborts on error). */
#define write_text(path, text) tu_write_file((path), (text), strlen(text))

static char tmpdir[TU_DIR_MAX];

static void
load(const char *text, struct config *cfg)
{
    struct buf errors;
    buf_init(&errors, 0);
    write_text("t.conf", text);
    if (config_load("t.conf", cfg, &errors) != 0)
        fail_msg("config: %s", errors.data);
    buf_free(&errors);
}

static int
setup(void **state)
{
    (void)state;
    return (tu_mkdtemp(tmpdir), chdir(tmpdir) == 0) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    if (chdir("/") != 0)
        return -1;
    tu_rm_rf(tmpdir);
    return 0;
}

#define LISTENER "[listen mx]\naddress = 127.0.0.1:2525\ntls = none\n"

/* Check one sender for one login: verdict and deciding line. */
static void
expect(const struct config *cfg, const char *login, const char *local,
       const char *domain, enum auth_sender_verdict verdict, int line)
{
    struct auth_sender_result r = auth_sender_check(cfg, login, local, domain);
    if (r.verdict != verdict || r.line != line)
        fail_msg("%s as %s@%s: %s line %d, expected %s line %d", login, local,
                 domain, auth_sender_verdict_name(r.verdict), r.line,
                 auth_sender_verdict_name(verdict), line);
}

static void
test_rule(void **state)
{
    struct config cfg;
    (void)state;
    write_text("senders", "# sender             logins\n"
                          "alice@example.org    alice@example.org\n"
                          "sales@example.org    alice@example.org, bob\n"
                          "@example.org         carol@Example.ORG\n"
                          "@example.net         bob\n");
    load("[auth]\nsender_login_maps = senders\n" LISTENER, &cfg);
    expect(&cfg, "alice@example.org", "alice", "example.org",
           AUTH_SENDER_OWNED, 2);
    expect(&cfg, "alice@example.org", "Alice", "EXAMPLE.org.",
           AUTH_SENDER_OWNED, 2);
    expect(&cfg, "bob", "sales", "example.org", AUTH_SENDER_OWNED, 3);
    /* The address's own entry decides, even if the domain's lists carol. */
    expect(&cfg, "carol@example.org", "alice", "example.org",
           AUTH_SENDER_NOT_OWNER, 2);
    expect(&cfg, "carol@example.org", "anyone", "example.org",
           AUTH_SENDER_OWNED, 4);
    expect(&cfg, "carol@EXAMPLE.ORG", "x", "example.org", AUTH_SENDER_OWNED,
           4);
    expect(&cfg, "Carol@example.org", "x", "example.org",
           AUTH_SENDER_NOT_OWNER, 4); /* local part of a login is exact */
    expect(&cfg, "alice@example.org", "x", "example.net",
           AUTH_SENDER_NOT_OWNER, 5);
    expect(&cfg, "alice@example.org", "alice", "example.com",
           AUTH_SENDER_UNLISTED, 0);
    expect(&cfg, "alice@example.org", "alice", "sub.example.org",
           AUTH_SENDER_UNLISTED, 0);
    expect(&cfg, "alice@example.org", "", "", AUTH_SENDER_NULL, 0);
    char longlocal[80];
    memset(longlocal, 'a', sizeof(longlocal) - 1);
    longlocal[sizeof(longlocal) - 1] = '\0';
    expect(&cfg, "bob", longlocal, "example.net", AUTH_SENDER_UNLISTED, 0);
    config_free(&cfg);

    load(LISTENER, &cfg);
    expect(&cfg, "alice", "anyone", "example.com", AUTH_SENDER_NO_MAP, 0);
    config_free(&cfg);
}

static void
test_verdicts(void **state)
{
    (void)state;
    assert_true(auth_sender_allowed(AUTH_SENDER_NO_MAP));
    assert_true(auth_sender_allowed(AUTH_SENDER_NULL));
    assert_true(auth_sender_allowed(AUTH_SENDER_OWNED));
    assert_false(auth_sender_allowed(AUTH_SENDER_NOT_OWNER));
    assert_false(auth_sender_allowed(AUTH_SENDER_UNLISTED));
    assert_false(auth_sender_allowed((enum auth_sender_verdict)99));
    assert_string_equal(auth_sender_verdict_name(AUTH_SENDER_NOT_OWNER),
                        "not-owner");
    assert_string_equal(auth_sender_verdict_name(AUTH_SENDER_UNLISTED),
                        "unlisted");
    assert_string_equal(auth_sender_verdict_name((enum auth_sender_verdict)99),
                        "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_verdicts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
