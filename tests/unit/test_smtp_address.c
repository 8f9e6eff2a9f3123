/*
 * test_smtp_address.c -- RFC 5321 4.1.2 path parser and EHLO name checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_address.h"

static enum smtp_address_error
parse(const char *s, bool allow_null, bool utf8, struct smtp_address *a)
{
    memset(a, 'x', sizeof(*a));
    return smtp_address_parse(s, strlen(s), allow_null, utf8, a);
}

/* Parses as OK into local@domain. */
static void
expect_ok(const char *path, bool utf8, const char *local, const char *domain)
{
    struct smtp_address a;
    assert_int_equal(parse(path, false, utf8, &a), SMTP_ADDRESS_OK);
    assert_string_equal(a.local, local);
    assert_string_equal(a.domain, domain);
}

static void
expect_err(const char *path, bool utf8, enum smtp_address_error e)
{
    struct smtp_address a;
    assert_int_equal(parse(path, true, utf8, &a), e);
}

static void
test_simple(void **state)
{
    (void)state;
    expect_ok("<user@example.org>", false, "user", "example.org");
    expect_ok("<First.Last+tag@Mail.Example.ORG>", false, "First.Last+tag",
              "Mail.Example.ORG");
    expect_ok("<u@localhost>", false, "u", "localhost");
    expect_ok("<!#$%&'*+-/=?^_`{|}~@x.example>", false,
              "!#$%&'*+-/=?^_`{|}~", "x.example");
    expect_ok("<u@1.2.3.4>", false, "u", "1.2.3.4"); /* digits labels */
    expect_ok("<u@a-b.c--d.example>", false, "u", "a-b.c--d.example");
}

static void
test_null_path(void **state)
{
    (void)state;
    struct smtp_address a;
    assert_int_equal(parse("<>", true, false, &a), SMTP_ADDRESS_OK);
    assert_string_equal(a.local, "");
    assert_string_equal(a.domain, "");
    assert_int_equal(parse("<>", false, false, &a), SMTP_ADDRESS_SYNTAX);
    assert_int_equal(parse("< >", true, false, &a), SMTP_ADDRESS_SYNTAX);
}

static void
test_quoted_local(void **state)
{
    (void)state;
    expect_ok("<\"john doe\"@example.org>", false, "\"john doe\"",
              "example.org");
    expect_ok("<\"a\\\"b\"@example.org>", false, "\"a\\\"b\"",
              "example.org");
    expect_ok("<\"a>b@c\"@example.org>", false, "\"a>b@c\"", "example.org");
    expect_ok("<\"\"@example.org>", false, "\"\"", "example.org");
    expect_err("<\"unterminated@example.org>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<\"a\"b@example.org>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<\"a\tb\"@example.org>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<\"a\\\x01\"@example.org>", false, SMTP_ADDRESS_SYNTAX);
}

static void
test_address_literal(void **state)
{
    (void)state;
    expect_ok("<u@[192.0.2.1]>", false, "u", "[192.0.2.1]");
    expect_ok("<u@[001.002.003.004]>", false, "u", "[001.002.003.004]");
    expect_ok("<u@[IPv6:2001:db8::1]>", false, "u", "[IPv6:2001:db8::1]");
    expect_ok("<u@[ipv6:::ffff:192.0.2.1]>", false, "u",
              "[ipv6:::ffff:192.0.2.1]");
    expect_err("<u@[256.0.0.1]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[1.2.3]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[1.2.3.4.5]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[1234.1.1.1]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[IPv6:2001:db8::g]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[IPv6:192.0.2.1]>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[x400:foo]>", false, SMTP_ADDRESS_SYNTAX); /* general */
    expect_err("<u@[192.0.2.1>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<u@[]>", false, SMTP_ADDRESS_SYNTAX);
}

static void
test_source_route(void **state)
{
    (void)state;
    /* RFC 5321 4.1.1.3 / C: accepted, route dropped. */
    expect_ok("<@a.example,@b.example:user@d.example>", false, "user",
              "d.example");
    expect_ok("<@relay.example:user@d.example>", false, "user", "d.example");
    expect_err("<@:user@d.example>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<@a.example user@d.example>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<@a.example,user@d.example>", false, SMTP_ADDRESS_SYNTAX);
    expect_err("<@a.example:>", false, SMTP_ADDRESS_SYNTAX);
}

static void
test_percent_bang_are_local(void **state)
{
    (void)state;
    /* Never routing: they stay in the local part at our domain. */
    expect_ok("<user%other.example@our.example>", false,
              "user%other.example", "our.example");
    expect_ok("<other.example!user@our.example>", false,
              "other.example!user", "our.example");
}

static void
test_syntax_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "user@example.org", "<user@example.org", "user@example.org>",
        "<user>", "<user@>", "<@example.org>", "<.a@x.example>",
        "<a.@x.example>", "<a..b@x.example>", "<a@-x.example>",
        "<a@x-.example>", "<a@x..example>", "<a@x.example.>",
        "<a b@x.example>", "<a@x example>", "<a@@x.example>",
        "<a@x_y.example>", "<a\x01@x.example>", "<a@x.example\r>",
        "<<a@x.example>>", "<a@x.example>x", "<", "", "<a@x.exa\0mple>",
    };
    struct smtp_address a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        if (strcmp(bad[i], "<a@x.exa") == 0)
            len = sizeof("<a@x.exa\0mple>") - 1;
        assert_int_equal(smtp_address_parse(bad[i], len, true, true, &a),
                         SMTP_ADDRESS_SYNTAX);
    }
}

static void
test_lengths(void **state)
{
    (void)state;
    char path[400], local[80];
    struct smtp_address a;

    /* RFC 5321 4.5.3.1.1: local part 64 octets. */
    memset(local, 'l', 64);
    local[64] = '\0';
    snprintf(path, sizeof(path), "<%s@example.org>", local);
    assert_int_equal(parse(path, false, false, &a), SMTP_ADDRESS_OK);
    assert_string_equal(a.local, local);
    snprintf(path, sizeof(path), "<%sl@example.org>", local);
    assert_int_equal(parse(path, false, false, &a), SMTP_ADDRESS_TOO_LONG);

    /* A label is at most 63 octets (RFC 1035). */
    memset(local, 'd', 64);
    local[64] = '\0';
    snprintf(path, sizeof(path), "<u@%s.example>", local);
    assert_int_equal(parse(path, false, false, &a), SMTP_ADDRESS_SYNTAX);

    /* RFC 5321 4.5.3.1.3: the whole path is at most 256 octets. */
    char domain[300] = "";
    while (strlen(domain) < 250)
        strcat(domain, "abcdefghi.");
    strcat(domain, "example");
    snprintf(path, sizeof(path), "<u@%s>", domain);
    assert_true(strlen(path) > 256);
    assert_int_equal(parse(path, false, false, &a), SMTP_ADDRESS_TOO_LONG);
    domain[strlen(domain) - 30] = '\0';
    strcat(domain, "x");
    snprintf(path, sizeof(path), "<u@%s>", domain);
    assert_true(strlen(path) <= 256);
    assert_int_equal(parse(path, false, false, &a), SMTP_ADDRESS_OK);
    assert_string_equal(a.domain, domain);
}

static void
test_utf8(void **state)
{
    (void)state;
    /* RFC 6531 3.3: UTF-8 only once SMTPUTF8 was declared. */
    expect_err("<j\xc3\xbcrgen@example.org>", false,
               SMTP_ADDRESS_UTF8_NOT_ALLOWED);
    expect_ok("<j\xc3\xbcrgen@example.org>", true, "j\xc3\xbcrgen",
              "example.org");
    expect_ok("<u@b\xc3\xbc\x63her.example>", true, "u",
              "b\xc3\xbc\x63her.example");
    expect_err("<u@b\xc3\xbc\x63her.example>", false,
               SMTP_ADDRESS_UTF8_NOT_ALLOWED);
    expect_ok("<\"\xe2\x82\xac\"@example.org>", true, "\"\xe2\x82\xac\"",
              "example.org");
    expect_ok("<\xf0\x9f\x93\xa7@example.org>", true, "\xf0\x9f\x93\xa7",
              "example.org");
    /* Malformed UTF-8 is a syntax error either way. */
    expect_err("<\xc0\x80@example.org>", true, SMTP_ADDRESS_SYNTAX);
    expect_err("<\xff@example.org>", true, SMTP_ADDRESS_SYNTAX);
    expect_err("<\xed\xa0\x80@example.org>", true, SMTP_ADDRESS_SYNTAX);
    expect_err("<\xc3@example.org>", true, SMTP_ADDRESS_SYNTAX);
    expect_err("<\xf4\x90\x80\x80@example.org>", true, SMTP_ADDRESS_SYNTAX);
    expect_err("<\xc3@example.org>", false, SMTP_ADDRESS_SYNTAX);
}

static void
test_path_span(void **state)
{
    (void)state;
    const char *s = "<\"a>b\"@x.example> SIZE=10";
    assert_int_equal(smtp_address_path_span(s, strlen(s)),
                     strlen("<\"a>b\"@x.example>"));
    s = "<\"a\\\">\"@x.example>";
    assert_int_equal(smtp_address_path_span(s, strlen(s)), strlen(s));
    assert_int_equal(smtp_address_path_span("<>", 2), 2);
    assert_int_equal(smtp_address_path_span("<abc", 4), 0);
    assert_int_equal(smtp_address_path_span("abc>", 4), 0);
    assert_int_equal(smtp_address_path_span("", 0), 0);
    s = "<\"a>";
    assert_int_equal(smtp_address_path_span(s, strlen(s)), 0);
}

static void
test_unquote(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(smtp_address_unquote_local("\"a\\\"b c\"", out,
                                                sizeof(out)), 5);
    assert_string_equal(out, "a\"b c");
    assert_int_equal(smtp_address_unquote_local("plain", out, sizeof(out)),
                     5);
    assert_string_equal(out, "plain");
    assert_int_equal(smtp_address_unquote_local("\"\"", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(smtp_address_unquote_local("toolongforthis!!", out,
                                                sizeof(out)), -1);
    assert_int_equal(smtp_address_unquote_local("x", out, 0), -1);
}

static void
test_helo_names(void **state)
{
    (void)state;
    static const char *const good[] = {
        "mail.example.org", "localhost", "[192.0.2.1]",
        "[IPv6:2001:db8::1]", "[IPv6:::1]", "[ipv6:fe80::1]",
        "[IPv6:2001:db8:0:0:0:0:0:1]", "[IPv6:::ffff:192.0.2.1]",
        "x", "192.0.2.1", "b\xc3\xbc\x63her.example", "my_pc",
        "a_b.example",
    };
    static const char *const bad[] = {
        "", "-a.example", "a-.example", "_-.example", "[1.2.3.4",
        "[IPv6:2001:db8::g]", "a b", "a..b", "a.", ".a", "[300.1.1.1]",
        "[IPv6:1:2:3:4:5:6:7:8:9]", "[general:tag]", "a\x01", "\xff.example",
        "[IPv4:1.2.3.4]",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(smtp_helo_name_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(smtp_helo_name_valid(bad[i], strlen(bad[i])));

    char longname[300] = "";
    while (strlen(longname) < 250)
        strcat(longname, "abcd.");
    strcat(longname, "example");
    assert_false(smtp_helo_name_valid(longname, strlen(longname)));
    char label[70];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_false(smtp_helo_name_valid(label, 64));
    assert_true(smtp_helo_name_valid(label, 63));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_null_path),
        cmocka_unit_test(test_quoted_local),
        cmocka_unit_test(test_address_literal),
        cmocka_unit_test(test_source_route),
        cmocka_unit_test(test_percent_bang_are_local),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_path_span),
        cmocka_unit_test(test_unquote),
        cmocka_unit_test(test_helo_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
