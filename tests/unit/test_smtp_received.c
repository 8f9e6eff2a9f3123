/*
 * test_smtp_received.c -- the Received: trace header (RFC 5321 4.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "smtp/smtp_received.h"

#define JAN_1_2024_NOON 1704110400 /* Mon, 1 Jan 2024 12:00:00 UTC */

static void
set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static struct smtp_received_info
info_full(void)
{
    struct smtp_received_info ri = {
        .helo_name = "client.example",
        .client_name = "mail.client.example",
        .client_addr = "192.0.2.1",
        .by_host = "mx.example.org",
        .protocol = "ESMTPS",
        .tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        .queue_id = "4XyZ12",
        .for_rcpt = "user@example.org",
        .when = JAN_1_2024_NOON,
    };
    return ri;
}

static void
test_postfix_shape(void **state)
{
    (void)state;
    struct buf out;
    struct smtp_received_info ri = info_full();
    set_tz("UTC0");
    buf_init(&out, 0);
    assert_int_equal(smtp_received_format(&out, &ri), 0);
    assert_string_equal(out.data,
        "Received: from client.example (mail.client.example [192.0.2.1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
        "\r\n"
        "\tby mx.example.org (tlsmta) with ESMTPS id 4XyZ12\r\n"
        "\tfor <user@example.org>; Mon, 1 Jan 2024 12:00:00 +0000\r\n");
    buf_free(&out);
}

/* Issue 3: the client certificate and the login, each in its comment; a
 * login cannot close its comment early. */
static void
test_client_cert_and_auth_user(void **state)
{
    (void)state;
    struct buf out;
    struct smtp_received_info ri = info_full();
    ri.protocol = "ESMTPSA";
    ri.tls_client = "Client CN \"relay\", Issuer \"CA\" (verified OK)";
    ri.auth_user = "eve) (x";
    set_tz("UTC0");
    buf_init(&out, 0);
    assert_int_equal(smtp_received_format(&out, &ri), 0);
    assert_string_equal(out.data,
        "Received: from client.example (mail.client.example [192.0.2.1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
        "\r\n"
        "\t(Client CN \"relay\", Issuer \"CA\" (verified OK))\r\n"
        "\t(Authenticated sender: eve\\) \\(x)\r\n"
        "\tby mx.example.org (tlsmta) with ESMTPSA id 4XyZ12\r\n"
        "\tfor <user@example.org>; Mon, 1 Jan 2024 12:00:00 +0000\r\n");
    buf_free(&out);
}

static void
test_no_tls_no_for(void **state)
{
    (void)state;
    struct buf out;
    struct smtp_received_info ri = info_full();
    ri.tls = NULL;
    ri.for_rcpt = NULL;
    ri.client_name = NULL;
    ri.client_addr = "IPv6:2001:db8::1";
    ri.protocol = "ESMTP";
    ri.queue_id = "Q1";
    set_tz("EST5");
    buf_init(&out, 0);
    assert_int_equal(smtp_received_format(&out, &ri), 0);
    assert_string_equal(out.data,
        "Received: from client.example (unknown [IPv6:2001:db8::1])\r\n"
        "\tby mx.example.org (tlsmta) with ESMTP id Q1;\r\n"
        "\tMon, 1 Jan 2024 07:00:00 -0500\r\n");
    buf_free(&out);
    set_tz("UTC0");
}

/* Every line within 78 octets unless it holds a single token. */
static void
assert_folded(const char *h)
{
    while (*h != '\0') {
        const char *eol = strstr(h, "\r\n");
        assert_non_null(eol);
        size_t n = (size_t)(eol - h);
        if (n > 78) {
            const char *body = h[0] == '\t' ? h + 1 : h;
            assert_null(memchr(body, ' ', (size_t)(eol - body)));
        }
        h = eol + 2;
        assert_true(*h == '\0' || *h == '\t');
    }
}

static void
test_folding(void **state)
{
    (void)state;
    struct buf out;
    char helo[220], rcpt[300];
    struct smtp_received_info ri = info_full();
    memset(helo, 'h', 200);
    strcpy(helo + 200, ".example");
    memset(rcpt, 'r', 64);
    strcpy(rcpt + 64, "@a-rather-long-domain-name-for-testing.example.org");
    ri.helo_name = helo;
    ri.for_rcpt = rcpt;
    ri.tls = "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits) "
             "key-exchange X25519 server-signature RSA-PSS (2048 bits)";
    buf_init(&out, 0);
    assert_int_equal(smtp_received_format(&out, &ri), 0);
    assert_folded(out.data);
    assert_non_null(strstr(out.data, helo));
    assert_non_null(strstr(out.data, rcpt));
    assert_int_equal(strncmp(out.data, "Received: from\r\n\t", 17), 0);
    buf_free(&out);
}

static void
test_control_characters(void **state)
{
    (void)state;
    struct buf out;
    struct smtp_received_info ri = info_full();
    ri.helo_name = "evil\r\nX-Injected: 1";
    ri.for_rcpt = "a\rb@example.org";
    ri.client_name = "name\x7f";
    buf_init(&out, 0);
    assert_int_equal(smtp_received_format(&out, &ri), 0);
    assert_null(strstr(out.data, "\r\nX-Injected"));
    assert_non_null(strstr(out.data, "evil??X-Injected: 1"));
    assert_non_null(strstr(out.data, "<a?b@example.org>;"));
    assert_non_null(strstr(out.data, "(name? [192.0.2.1])"));
    assert_folded(out.data);
    buf_free(&out);
}

static void
test_buffer_full(void **state)
{
    (void)state;
    struct buf out;
    struct smtp_received_info ri = info_full();
    buf_init(&out, 100);
    assert_int_equal(buf_puts(&out, "Keep: me\r\n"), 0);
    assert_int_equal(smtp_received_format(&out, &ri), -1);
    assert_string_equal(out.data, "Keep: me\r\n");
    assert_int_equal(out.len, 10);
    buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_shape),
        cmocka_unit_test(test_client_cert_and_auth_user),
        cmocka_unit_test(test_no_tls_no_for),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_buffer_full),
    };
    set_tz("UTC0");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
