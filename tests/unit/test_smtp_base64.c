/*
 * test_smtp_base64.c -- the strict base64 codec of SMTP AUTH: the RFC 4648
 * 10 test vectors both ways, every kind of refusal RFC 4954 4 asks for,
 * and a round trip of every length over all byte values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_base64.h"
#include "util/util_buf.h"

/* RFC 4648 10. */
static const char *const vectors[][2] = {
    {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},
    {"foo", "Zm9v"},   {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void
test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *raw = vectors[i][0], *enc = vectors[i][1];
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(smtp_base64_encode(&b, raw, strlen(raw)), 0);
        assert_int_equal(b.len, strlen(enc));
        if (b.len)
            assert_memory_equal(b.data, enc, b.len);
        buf_free(&b);

        char out[16];
        size_t n = 99;
        assert_int_equal(smtp_base64_decode(enc, strlen(enc), out, &n),
                         SMTP_BASE64_OK);
        assert_int_equal(n, strlen(raw));
        assert_memory_equal(out, raw, n);
        assert_true(n <= smtp_base64_decoded_max(strlen(enc)));
    }
}

static void
expect_error(const char *in, enum smtp_base64_error want)
{
    char out[64];
    size_t n = 99;
    assert_int_equal(smtp_base64_decode(in, strlen(in), out, &n), want);
    assert_int_equal(n, 0);
}

static void
test_refusals(void **state)
{
    (void)state;
    /* RFC 4954 4: no character outside the alphabet, "=" only at the end
     * (its examples "=AAA" and "AAA=BBB"). */
    expect_error("Zm9v YmFy", SMTP_BASE64_BAD_CHAR);
    expect_error("Zm9v\r\n", SMTP_BASE64_BAD_CHAR);
    expect_error("Zm9-", SMTP_BASE64_BAD_CHAR); /* base64url */
    expect_error("Zm9_", SMTP_BASE64_BAD_CHAR);
    expect_error("Zm\x80v", SMTP_BASE64_BAD_CHAR);
    expect_error("=AAA", SMTP_BASE64_BAD_PADDING);
    expect_error("AAA=BBB", SMTP_BASE64_BAD_PADDING);
    expect_error("AA=A", SMTP_BASE64_BAD_PADDING);
    expect_error("A===", SMTP_BASE64_BAD_PADDING);
    expect_error("====", SMTP_BASE64_BAD_PADDING);
    expect_error("Zg==Zg==", SMTP_BASE64_BAD_PADDING);
    expect_error("Zg", SMTP_BASE64_BAD_LENGTH); /* no padding */
    expect_error("Zm9vY", SMTP_BASE64_BAD_LENGTH);
    expect_error("=", SMTP_BASE64_BAD_LENGTH);
    /* RFC 4648 3.5: one encoding per value, zero bits under the padding. */
    expect_error("Zh==", SMTP_BASE64_NONCANONICAL);
    expect_error("Zm9=", SMTP_BASE64_NONCANONICAL);
    expect_error("Zm8AZm/=", SMTP_BASE64_NONCANONICAL);
    /* A NUL is a bad character, not an end. */
    char nul[] = "Zm9vYmFy";
    nul[4] = '\0';
    char out[8];
    size_t n;
    assert_int_equal(smtp_base64_decode(nul, 8, out, &n),
                     SMTP_BASE64_BAD_CHAR);
}

static void
test_round_trip(void **state)
{
    (void)state;
    unsigned char raw[300];
    char dec[300];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(raw); len++) {
        struct buf b;
        size_t n;
        buf_init(&b, 0);
        assert_int_equal(smtp_base64_encode(&b, raw, len), 0);
        assert_int_equal(b.len, (len + 2) / 3 * 4);
        assert_int_equal(smtp_base64_decode(b.data ? b.data : "", b.len, dec,
                                            &n),
                         SMTP_BASE64_OK);
        assert_int_equal(n, len);
        if (len)
            assert_memory_equal(dec, raw, len);
        buf_free(&b);
    }
}

static void
test_encode_bound(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "334 "), 0);
    /* 6 octets need 8 characters: past the bound, out unchanged. */
    assert_int_equal(smtp_base64_encode(&b, "abcdef", 6), -1);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "334 ");
    assert_int_equal(smtp_base64_encode(&b, "abc", 3), 0);
    assert_string_equal(b.data, "334 YWJj");
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
