/*
 * test_auth_certs.c -- unit tests of src/auth/auth_certs: relay rights by
 * fingerprint, by issuer and subject, by issuer alone, never for a
 * certificate that did not verify; the deciding line, the log words, and
 * the AUTH EXTERNAL identity. Certificates are described by hand here,
 * in the form tls_describe() writes (test_tls_client_cert.c checks that
 * form against real handshakes and the openssl command line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/auth_certs.h"

#define PIN_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PIN_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define CA "CN=Test CA,O=Example Org"
#define CLIENT "CN=relay.example.org,O=Example Org"

/* The relay_client_certs file, as the config parses it. */
static const struct config_client_cert LIST[] = {
    {.sha256 = PIN_A, .line = 2},
    {.issuer = CA, .subject = CLIENT, .line = 4},
    {.issuer = CA, .subject = "CN=other,O=Example Org", .line = 5},
};
#define N_LIST (sizeof(LIST) / sizeof(LIST[0]))

static struct tls_info
cert(const char *pin, const char *issuer, const char *subject, bool verified)
{
    struct tls_info ti = {.peer_cert_requested = true, .peer_cert = true,
                          .peer_verified = verified};
    snprintf(ti.peer_sha256, sizeof(ti.peer_sha256), "%s", pin);
    snprintf(ti.peer_issuer, sizeof(ti.peer_issuer), "%s", issuer);
    snprintf(ti.peer_subject, sizeof(ti.peer_subject), "%s", subject);
    ti.peer_verify_error = verified ? 0 : 18; /* self-signed */
    return ti;
}

static void
expect(const struct config_client_cert *list, size_t n,
       const struct tls_info *ti, enum auth_certs_grant grant, int line)
{
    struct auth_certs_result r = auth_certs_match(list, n, ti);
    assert_string_equal(auth_certs_grant_name(r.grant),
                        auth_certs_grant_name(grant));
    assert_int_equal(r.line, line);
}

static void
test_no_cert(void **state)
{
    struct tls_info ti = {.peer_cert_requested = true};
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_NO_CERT, 0);
    assert_false(auth_certs_granted(AUTH_CERTS_NO_CERT));
}

static void
test_fingerprint(void **state)
{
    struct tls_info ti = cert(PIN_A, CA, "CN=x", true);
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_FINGERPRINT, 2);
    assert_true(auth_certs_granted(AUTH_CERTS_FINGERPRINT));
    /* A pin does not need the names: kept whole or not. */
    ti.peer_names_truncated = true;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_FINGERPRINT, 2);
}

/* Issue 3: relay is refused for an unverified certificate, even a listed
 * one (unlike Postfix's relay_clientcerts). */
static void
test_fingerprint_unverified(void **state)
{
    struct tls_info ti = cert(PIN_A, "CN=me", "CN=me", false);
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_NOT_VERIFIED, 2);
}

static void
test_unlisted(void **state)
{
    struct tls_info ti = cert(PIN_B, CA, "CN=stranger,O=Example Org", true);
    struct tls_info other_ca = cert(PIN_B, "CN=Other CA", CLIENT, true);
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_NOT_LISTED, 0);
    expect(LIST, N_LIST, &other_ca, AUTH_CERTS_NOT_LISTED, 0);
    expect(NULL, 0, &ti, AUTH_CERTS_NOT_LISTED, 0);
    assert_false(auth_certs_granted(AUTH_CERTS_NOT_LISTED));
}

static void
test_issuer_subject_verified(void **state)
{
    struct tls_info ti = cert(PIN_B, CA, CLIENT, true);
    struct tls_info other = cert(PIN_B, CA, "CN=other,O=Example Org", true);
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_ISSUER_SUBJECT, 4);
    expect(LIST, N_LIST, &other, AUTH_CERTS_ISSUER_SUBJECT, 5);
    assert_true(auth_certs_granted(AUTH_CERTS_ISSUER_SUBJECT));
}

/* Sendmail CERTISSUER/CERTSUBJECT: names count only with verify=OK. A
 * self-signed certificate can copy any issuer and subject. */
static void
test_issuer_subject_unverified(void **state)
{
    struct tls_info ti = cert(PIN_B, CA, CLIENT, false);
    (void)state;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_NOT_VERIFIED, 4);
    assert_false(auth_certs_granted(AUTH_CERTS_NOT_VERIFIED));
    /* Names cut at TLS_DN_MAX are never matched. */
    ti.peer_verified = true;
    ti.peer_names_truncated = true;
    expect(LIST, N_LIST, &ti, AUTH_CERTS_NOT_VERIFIED, 4);
}

/* Names compare byte for byte: case, spaces and order all count. */
static void
test_names_exact(void **state)
{
    const char *near[] = {"CN=Relay.example.org,O=Example Org",
                          "CN=relay.example.org, O=Example Org",
                          "O=Example Org,CN=relay.example.org",
                          "CN=relay.example.org"};
    (void)state;
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        struct tls_info ti = cert(PIN_B, CA, near[i], true);
        expect(LIST, N_LIST, &ti, AUTH_CERTS_NOT_LISTED, 0);
    }
}

/* The most specific entry decides, wherever it is in the file; a
 * refusal names the first entry that matched. */
static void
test_most_specific_wins(void **state)
{
    const struct config_client_cert list[] = {
        {.issuer = CA, .line = 1},
        {.issuer = CA, .subject = CLIENT, .line = 4},
        {.sha256 = PIN_B, .line = 9},
    };
    struct tls_info ti = cert(PIN_B, CA, CLIENT, true);
    (void)state;
    expect(list, 3, &ti, AUTH_CERTS_FINGERPRINT, 9);
    expect(list, 2, &ti, AUTH_CERTS_ISSUER_SUBJECT, 4);
    ti.peer_verified = false;
    expect(list, 3, &ti, AUTH_CERTS_NOT_VERIFIED, 9);
}

static void
test_issuer_only(void **state)
{
    const struct config_client_cert list[] = {{.issuer = CA, .line = 3}};
    struct tls_info ti = cert(PIN_B, CA, "CN=anyone", true);
    (void)state;
    expect(list, 1, &ti, AUTH_CERTS_ISSUER, 3);
    ti.peer_verified = false;
    expect(list, 1, &ti, AUTH_CERTS_NOT_VERIFIED, 3);
    assert_true(auth_certs_granted(AUTH_CERTS_ISSUER));
}

static void
test_grant_names(void **state)
{
    (void)state;
    assert_string_equal(auth_certs_grant_name(AUTH_CERTS_NO_CERT), "no-cert");
    assert_string_equal(auth_certs_grant_name(AUTH_CERTS_ISSUER_SUBJECT),
                        "issuer-subject");
    assert_string_equal(auth_certs_grant_name((enum auth_certs_grant)42),
                        "unknown");
    assert_false(auth_certs_granted((enum auth_certs_grant)42));
}

static void
test_identity(void **state)
{
    char id[AUTH_CERTS_IDENTITY_MAX], small[8];
    struct tls_info ti = cert(PIN_A, CA, "CN=Jos\\C3\\A9+OU=x," CLIENT, true);
    (void)state;
    assert_int_equal(auth_certs_identity(&ti, id, sizeof(id)), 0);
    assert_string_equal(id, "Jos\\C3\\A9");
    assert_int_equal(auth_certs_identity(&ti, small, sizeof(small)), -1);
    assert_string_equal(small, "");
    /* Unverified (never granted): the name is only the holder's claim. */
    ti.peer_verified = false;
    assert_int_equal(auth_certs_identity(&ti, id, sizeof(id)), 0);
    assert_string_equal(id, "sha256:" PIN_A);
    /* Verified without a CN. */
    ti = cert(PIN_A, CA, "O=Example Org,C=DE", true);
    assert_int_equal(auth_certs_identity(&ti, id, sizeof(id)), 0);
    assert_string_equal(id, "sha256:" PIN_A);
    ti.peer_cert = false;
    assert_int_equal(auth_certs_identity(&ti, id, sizeof(id)), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_cert),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_fingerprint_unverified),
        cmocka_unit_test(test_unlisted),
        cmocka_unit_test(test_issuer_subject_verified),
        cmocka_unit_test(test_issuer_subject_unverified),
        cmocka_unit_test(test_names_exact),
        cmocka_unit_test(test_most_specific_wins),
        cmocka_unit_test(test_issuer_only),
        cmocka_unit_test(test_grant_names),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
