/*
 * test_tls_describe.c -- unit tests of tls_describe_cipher() and
 * tls_describe_cert() (src/tls/tls_describe_cipher.c, _cert.c): every
 * cipher suite this OpenSSL knows is broken into known parts, exact
 * breakdowns of well-known suites, and certificates made here with fixed
 * dates (RSA with subjectAltNames signed by an EC CA, EC self-signed, RSA
 * self-signed, expired, a forged self-issued one, hostile contents).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tls_test_util.h"
#include "tls/tls_describe.h"

#define NOW ((time_t)1767225600)        /* 2026-01-01T00:00:00Z */
#define DAY 86400L
#define AFTER ((time_t)1772366400)      /* 2026-03-01T12:00:00Z */
#define BEFORE ((time_t)1764577800)     /* 2025-12-01T08:30:00Z */
#define CA_DN "CN=Test CA,O=Example Org"
#define MX_DN "CN=mx.example.org,O=Example Org"

/* ---------------------------------------------------------------- */
/* Cipher suites                                                    */
/* ---------------------------------------------------------------- */

/* Every suite OpenSSL has, TLS 1.3 ones included, at security level 0. */
static SSL *
all_ciphers_ssl(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    tt_check(ctx != NULL, "SSL_CTX_new");
    SSL_CTX_set_security_level(ctx, 0);
    tt_check(SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL"),
             "cipher list");
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);          /* the SSL keeps its reference */
    tt_check(ssl != NULL, "SSL_new");
    return ssl;
}

/* The suite OpenSSL calls name, or NULL if this build lacks it. */
static const SSL_CIPHER *
find_cipher(SSL *ssl, const char *name)
{
    STACK_OF(SSL_CIPHER) *all = SSL_get_ciphers(ssl);
    for (int i = 0; i < sk_SSL_CIPHER_num(all); i++)
        if (strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(all, i)),
                   name) == 0)
            return sk_SSL_CIPHER_value(all, i);
    return NULL;
}

static bool
printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* A field is set, readable, not cut short and not "unknown". */
#define assert_word(field)                                             \
    do {                                                               \
        assert_true((field)[0] != '\0');                               \
        assert_true(printable(field));                                 \
        assert_true(strlen(field) + 1 < sizeof(field));                \
        assert_string_not_equal((field), "unknown");                   \
    } while (0)

static void
check_one_suite(const struct tls_cipher_info *ci)
{
    assert_word(ci->name);
    assert_word(ci->iana);
    assert_word(ci->version);
    assert_word(ci->kx);
    assert_word(ci->auth);
    assert_word(ci->enc);
    assert_word(ci->mac);
    assert_word(ci->hash);
    assert_true(ci->id != 0 && ci->id <= 0xFFFF);
    assert_int_equal(ci->aead, strcmp(ci->mac, "AEAD") == 0);
    assert_int_equal(ci->enc_bits == 0, strcmp(ci->enc, "NULL") == 0);
    assert_int_equal(ci->weak, ci->weak_reason[0] != '\0');
    if (strcmp(ci->version, "TLSv1.3") == 0) {
        assert_string_equal(ci->kx, "any");
        assert_string_equal(ci->auth, "any");
        assert_true(ci->forward_secret && ci->aead && !ci->weak);
    }
    if (strcmp(ci->enc, "NULL") == 0 || strcmp(ci->auth, "NULL") == 0)
        assert_true(ci->weak);
    if (strstr(ci->enc, "-CBC") != NULL && strcmp(ci->mac, "HMAC-SHA1") == 0)
        assert_true(ci->weak);
    /* The families whose key exchange is ephemeral. */
    assert_int_equal(ci->forward_secret,
                     strstr(ci->kx, "DHE") != NULL ||
                         strcmp(ci->kx, "any") == 0);
}

static void
test_every_suite(void **state)
{
    (void)state;
    SSL *ssl = all_ciphers_ssl();
    STACK_OF(SSL_CIPHER) *all = SSL_get_ciphers(ssl);
    struct tls_cipher_info ci;
    int n = sk_SSL_CIPHER_num(all), weak = 0, tls13 = 0;

    assert_true(n > 50);
    for (int i = 0; i < n; i++) {
        tls_describe_cipher(sk_SSL_CIPHER_value(all, i), &ci);
        if (strstr(ci.name, "GOST") != NULL)
            continue;           /* an engine's suites, not ours to name */
        check_one_suite(&ci);
        weak += ci.weak;
        tls13 += strcmp(ci.version, "TLSv1.3") == 0;
    }
    assert_true(weak > 0 && weak < n);
    assert_true(tls13 >= 3);
    SSL_free(ssl);
}

static void
assert_cipher(const struct tls_cipher_info *got,
              const struct tls_cipher_info *want)
{
    assert_string_equal(got->name, want->name);
    assert_string_equal(got->iana, want->iana);
    assert_int_equal(got->id, want->id);
    assert_string_equal(got->version, want->version);
    assert_string_equal(got->kx, want->kx);
    assert_string_equal(got->auth, want->auth);
    assert_string_equal(got->enc, want->enc);
    assert_int_equal(got->enc_bits, want->enc_bits);
    assert_string_equal(got->mac, want->mac);
    assert_string_equal(got->hash, want->hash);
    assert_int_equal(got->forward_secret, want->forward_secret);
    assert_int_equal(got->aead, want->aead);
    assert_int_equal(got->weak, want->weak);
    assert_string_equal(got->weak_reason, want->weak_reason);
}

static const struct tls_cipher_info known_suites[] = {
    { "ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      0xC030, "TLSv1.2", "ECDHE", "RSA", "AES-256-GCM", 256, "AEAD",
      "SHA384", true, true, false, "" },
    { "ECDHE-ECDSA-CHACHA20-POLY1305",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, "TLSv1.2",
      "ECDHE", "ECDSA", "CHACHA20-POLY1305", 256, "AEAD", "SHA256", true,
      true, false, "" },
    { "AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, "SSLv3", "RSA",
      "RSA", "AES-128-CBC", 128, "HMAC-SHA1", "SHA256", false, false, true,
      "CBC with HMAC-SHA1 (Lucky13; RFC 7525: AEAD)" },
    { "DHE-RSA-AES256-SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 0x006B,
      "TLSv1.2", "DHE", "RSA", "AES-256-CBC", 256, "HMAC-SHA256", "SHA256",
      true, false, false, "" },
    { "ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
      0xC028, "TLSv1.2", "ECDHE", "RSA", "AES-256-CBC", 256, "HMAC-SHA384",
      "SHA384", true, false, false, "" },
    { "ECDHE-ECDSA-AES128-CCM8", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
      0xC0AE, "TLSv1.2", "ECDHE", "ECDSA", "AES-128-CCM-8", 128, "AEAD",
      "SHA256", true, true, false, "" },
    { "ADH-AES128-SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA", 0x0034, "SSLv3",
      "DHE", "NULL", "AES-128-CBC", 128, "HMAC-SHA1", "SHA256", true, false,
      true, "anonymous: no authentication (RFC 7525 4.2)" },
    { "NULL-SHA", "TLS_RSA_WITH_NULL_SHA", 0x0002, "SSLv3", "RSA", "RSA",
      "NULL", 0, "HMAC-SHA1", "SHA256", false, false, true,
      "no encryption (NULL cipher)" },
    { "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", 0x1301, "TLSv1.3",
      "any", "any", "AES-128-GCM", 128, "AEAD", "SHA256", true, true, false,
      "" },
    { "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", 0x1302, "TLSv1.3",
      "any", "any", "AES-256-GCM", 256, "AEAD", "SHA384", true, true, false,
      "" },
    { "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", 0x1303,
      "TLSv1.3", "any", "any", "CHACHA20-POLY1305", 256, "AEAD", "SHA256",
      true, true, false, "" },
};

static void
test_known_suites(void **state)
{
    (void)state;
    SSL *ssl = all_ciphers_ssl();
    struct tls_cipher_info ci;

    for (size_t i = 0; i < sizeof(known_suites) / sizeof(known_suites[0]);
         i++) {
        const SSL_CIPHER *c = find_cipher(ssl, known_suites[i].name);
        assert_non_null(c);
        tls_describe_cipher(c, &ci);
        assert_cipher(&ci, &known_suites[i]);
    }
    SSL_free(ssl);
}

/* Suites this build may have removed (no-weak-ssl-ciphers): checked when
 * present. */
static const struct tls_cipher_info legacy_suites[] = {
    { "DES-CBC3-SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, "SSLv3",
      "RSA", "RSA", "3DES-EDE-CBC", 112, "HMAC-SHA1", "SHA256", false, false,
      true, "3DES: 64-bit block (Sweet32, CVE-2016-2183)" },
    { "RC4-SHA", "TLS_RSA_WITH_RC4_128_SHA", 0x0005, "SSLv3", "RSA", "RSA",
      "RC4", 128, "HMAC-SHA1", "SHA256", false, false, true,
      "RC4 is broken (RFC 7465)" },
};

static void
test_legacy_suites(void **state)
{
    (void)state;
    SSL *ssl = all_ciphers_ssl();
    struct tls_cipher_info ci;
    int found = 0;

    for (size_t i = 0; i < sizeof(legacy_suites) / sizeof(legacy_suites[0]);
         i++) {
        const SSL_CIPHER *c = find_cipher(ssl, legacy_suites[i].name);
        if (c == NULL)
            continue;
        tls_describe_cipher(c, &ci);
        assert_cipher(&ci, &legacy_suites[i]);
        found++;
    }
    SSL_free(ssl);
    if (found == 0)
        skip();                 /* nothing to check in this build */
}

/* ---------------------------------------------------------------- */
/* Certificates                                                     */
/* ---------------------------------------------------------------- */

struct certs {
    EVP_PKEY *ec, *rsa, *other;
    X509 *ca;                   /* EC, self-signed CA */
    X509 *mx;                   /* RSA 2048, signed by ca, SANs */
    X509 *ec_self, *rsa_self;   /* self-signed leaves */
    X509 *expired;              /* signed by ca, ended before NOW */
    X509 *forged;               /* names itself as issuer, other key */
};

static struct certs C;

/* tt_cert_new()'s certificate with fixed validity and serial, an optional
 * subjectAltName (openssl.cnf syntax), signed again. */
static X509 *
cert_fixed(X509 *cert, time_t before, time_t after, const char *serial_hex,
           const char *san, X509 *issuer, EVP_PKEY *sign_key)
{
    BIGNUM *bn = NULL;

    tt_check(ASN1_TIME_set(X509_getm_notBefore(cert), before) != NULL &&
                 ASN1_TIME_set(X509_getm_notAfter(cert), after) != NULL,
             "ASN1_TIME_set");
    tt_check(BN_hex2bn(&bn, serial_hex) > 0 &&
                 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL,
             "serial");
    BN_free(bn);
    if (san != NULL)
        tt_add_ext(cert, issuer != NULL ? issuer : cert,
                   NID_subject_alt_name, san);
    tt_check(X509_sign(cert, sign_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

static int
certs_setup(void **state)
{
    (void)state;
    C.ec = tt_key_new();
    C.other = tt_key_new();
    C.rsa = EVP_RSA_gen(2048);
    tt_check(C.rsa != NULL, "EVP_RSA_gen");
    C.ca = cert_fixed(tt_cert_new("/O=Example Org/CN=Test CA", C.ec, NULL,
                                  NULL, true),
                      NOW - 365 * DAY, NOW + 3650 * DAY, "01", NULL, NULL,
                      C.ec);
    C.mx = cert_fixed(tt_cert_new("/O=Example Org/CN=mx.example.org", C.rsa,
                                  C.ca, C.ec, false),
                      BEFORE, AFTER, "1A2B3C4D5E6F708192A3",
                      "DNS:mx.example.org,DNS:mail.example.org,"
                      "IP:192.0.2.1,IP:2001:db8::25",
                      C.ca, C.ec);
    C.ec_self = cert_fixed(tt_cert_new("/CN=ec.example.org", C.ec, NULL,
                                       NULL, false),
                           BEFORE, (time_t)2569104000, /* 2051-05-31 */
                           "00FF", "DNS:ec.example.org", NULL, C.ec);
    C.rsa_self = cert_fixed(tt_cert_new("/CN=rsa.example.org", C.rsa, NULL,
                                        NULL, false),
                            BEFORE, AFTER, "7", NULL, NULL, C.rsa);
    C.expired = cert_fixed(tt_cert_new("/CN=old.example.org", C.ec, C.ca,
                                       C.ec, false),
                           NOW - 366 * DAY, NOW - DAY / 2, "0A", NULL, C.ca,
                           C.ec);
    /* Subject == issuer, but signed with a key that is not its own. */
    C.forged = cert_fixed(tt_cert_new("/CN=forged.example.org", C.ec, NULL,
                                      NULL, false),
                          BEFORE, AFTER, "0B", NULL, NULL, C.other);
    return 0;
}

static int
certs_teardown(void **state)
{
    (void)state;
    X509 *all[] = { C.ca, C.mx, C.ec_self, C.rsa_self, C.expired, C.forged };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        X509_free(all[i]);
    EVP_PKEY_free(C.ec);
    EVP_PKEY_free(C.rsa);
    EVP_PKEY_free(C.other);
    return 0;
}

/* SHA-256 of the DER, computed here independently of tls_describe.c. */
static void
fingerprint(X509 *x, char hex[TLS_SHA256_HEX_MAX])
{
    unsigned char *der = NULL, md[32];
    int len = i2d_X509(x, &der);

    tt_check(len > 0 && EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(),
                                   NULL),
             "digest");
    OPENSSL_free(der);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
assert_fingerprint(X509 *x, const struct tls_cert_info *ci)
{
    char want[TLS_SHA256_HEX_MAX];
    fingerprint(x, want);
    assert_string_equal(ci->sha256, want);
}

static void
test_cert_rsa_ca_signed(void **state)
{
    (void)state;
    struct tls_cert_info ci;

    assert_int_equal(tls_describe_cert(C.mx, NOW, &ci), 0);
    assert_string_equal(ci.subject, MX_DN);
    assert_string_equal(ci.issuer, CA_DN);
    assert_string_equal(ci.san, "DNS:mx.example.org, DNS:mail.example.org, "
                                "IP:192.0.2.1, IP:2001:db8::25");
    assert_string_equal(ci.key_type, "RSA");
    assert_int_equal(ci.key_bits, 2048);
    assert_string_equal(ci.curve, "");
    assert_string_equal(ci.sig_alg, "ecdsa-with-SHA256");
    assert_string_equal(ci.not_before, "2025-12-01T08:30:00Z");
    assert_string_equal(ci.not_after, "2026-03-01T12:00:00Z");
    assert_int_equal(ci.days_left, 59);
    assert_string_equal(ci.serial, "1A2B3C4D5E6F708192A3");
    assert_fingerprint(C.mx, &ci);
    assert_false(ci.self_signed);
}

static void
test_cert_ec_self_signed(void **state)
{
    (void)state;
    struct tls_cert_info ci;

    assert_int_equal(tls_describe_cert(C.ec_self, NOW, &ci), 0);
    assert_string_equal(ci.subject, "CN=ec.example.org");
    assert_string_equal(ci.issuer, "CN=ec.example.org");
    assert_string_equal(ci.san, "DNS:ec.example.org");
    assert_string_equal(ci.key_type, "EC");
    assert_int_equal(ci.key_bits, 256);
    assert_string_equal(ci.curve, "prime256v1");
    assert_string_equal(ci.sig_alg, "ecdsa-with-SHA256");
    /* Past 2049: GeneralizedTime (RFC 5280 4.1.2.5). */
    assert_string_equal(ci.not_after, "2051-05-31T00:00:00Z");
    assert_int_equal(ci.days_left, 9281);
    assert_string_equal(ci.serial, "FF");
    assert_fingerprint(C.ec_self, &ci);
    assert_true(ci.self_signed);
}

static void
test_cert_rsa_self_signed(void **state)
{
    (void)state;
    struct tls_cert_info ci;

    assert_int_equal(tls_describe_cert(C.rsa_self, NOW, &ci), 0);
    assert_string_equal(ci.key_type, "RSA");
    assert_int_equal(ci.key_bits, 2048);
    assert_string_equal(ci.sig_alg, "sha256WithRSAEncryption");
    assert_string_equal(ci.san, "");
    assert_string_equal(ci.serial, "07");
    assert_true(ci.self_signed);
}

static void
test_cert_ca_and_forged(void **state)
{
    (void)state;
    struct tls_cert_info ci;

    assert_int_equal(tls_describe_cert(C.ca, NOW, &ci), 0);
    assert_string_equal(ci.subject, CA_DN);
    assert_string_equal(ci.issuer, CA_DN);
    assert_int_equal(ci.days_left, 3650);
    assert_true(ci.self_signed);
    /* Self-issued is not self-signed: its own key does not verify it. */
    assert_int_equal(tls_describe_cert(C.forged, NOW, &ci), 0);
    assert_string_equal(ci.subject, ci.issuer);
    assert_false(ci.self_signed);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_cert_expired(void **state)
{
    (void)state;
    struct tls_cert_info ci;

    assert_int_equal(tls_describe_cert(C.expired, NOW, &ci), 0);
    assert_string_equal(ci.not_before, "2024-12-31T00:00:00Z");
    assert_string_equal(ci.not_after, "2025-12-31T12:00:00Z");
    assert_int_equal(ci.days_left, -1); /* half a day ago: floor */
    assert_false(ci.self_signed);
    assert_int_equal(tls_describe_cert(C.expired, NOW + 40 * DAY, &ci), 0);
    assert_int_equal(ci.days_left, -41);
}

/* days_left is floor((not_after - now) / 1 day) at every edge. */
static void
test_cert_days_left(void **state)
{
    (void)state;
    struct { time_t now; long days; } cases[] = {
        { AFTER, 0 },          { AFTER - 1, 0 },
        { AFTER - DAY + 1, 0 }, { AFTER - DAY, 1 },
        { AFTER + 1, -1 },     { AFTER + DAY, -1 },
        { AFTER + DAY + 1, -2 }, { AFTER - 21 * DAY, 21 },
    };
    struct tls_cert_info ci;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tls_describe_cert(C.mx, cases[i].now, &ci), 0);
        assert_int_equal(ci.days_left, cases[i].days);
    }
}

/* A DNS subjectAltName with arbitrary bytes (no syntax check here). */
static void
add_raw_dns(GENERAL_NAMES *names, const char *bytes, int len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    tt_check(g != NULL && s != NULL && ASN1_STRING_set(s, bytes, len),
             "GENERAL_NAME");
    GENERAL_NAME_set0_value(g, GEN_DNS, s);
    tt_check(sk_GENERAL_NAME_push(names, g) > 0, "push");
}

/* A directoryName "CN=d, x,O=y" and an iPAddress of 3 octets. */
static void
add_dirname_and_bad_ip(GENERAL_NAMES *names)
{
    GENERAL_NAME *dir = GENERAL_NAME_new(), *ip = GENERAL_NAME_new();
    X509_NAME *dn = X509_NAME_new();
    ASN1_OCTET_STRING *addr = ASN1_OCTET_STRING_new();

    tt_check(dir != NULL && ip != NULL && dn != NULL && addr != NULL &&
                 X509_NAME_add_entry_by_txt(dn, "O", MBSTRING_ASC,
                                            (const unsigned char *)"y", -1,
                                            -1, 0) &&
                 X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_ASC,
                                            (const unsigned char *)"d, x",
                                            -1, -1, 0) &&
                 ASN1_OCTET_STRING_set(addr, (const unsigned char *)"\1\2\3",
                                       3),
             "dirName");
    GENERAL_NAME_set0_value(dir, GEN_DIRNAME, dn);
    GENERAL_NAME_set0_value(ip, GEN_IPADD, addr);
    tt_check(sk_GENERAL_NAME_push(names, dir) > 0 &&
                 sk_GENERAL_NAME_push(names, ip) > 0,
             "push");
}

/* A certificate whose subject and subjectAltNames try to break out. */
static X509 *
hostile_cert(int n_names)
{
    X509 *x = tt_cert_new("/O=B\xc3\xa4" "cker\x7f/CN=a\x01, CN=b \"q\"",
                          C.ec, C.ca, C.ec, false);
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    char name[64];

    static const char raw[] = "evil\r\n,DNS:x\\\0\xff.example";

    add_raw_dns(names, raw, (int)sizeof(raw) - 1);
    add_dirname_and_bad_ip(names);
    for (int i = 0; i < n_names; i++) {
        int len = snprintf(name, sizeof(name), "host%03d.example.org", i);
        add_raw_dns(names, name, len);
    }
    tt_check(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
                           X509V3_ADD_DEFAULT) == 1, "add SAN");
    GENERAL_NAMES_free(names);
    tt_check(X509_sign(x, C.ec, EVP_sha256()) > 0, "X509_sign");
    return x;
}

static void
test_cert_hostile(void **state)
{
    (void)state;
    struct tls_cert_info ci;
    X509 *x = hostile_cert(2);

    assert_int_equal(tls_describe_cert(x, NOW, &ci), 0);
    assert_string_equal(ci.subject,
                        "CN=a\\01\\, CN=b \\\"q\\\",O=B\\C3\\A4cker\\7F");
    assert_string_equal(ci.san,
                        "DNS:evil\\0D\\0A\\2CDNS:x\\5C\\00\\FF.example, "
                        "DirName:CN=d\\5C\\2C x\\2CO=y, IP:<invalid>, "
                        "DNS:host000.example.org, DNS:host001.example.org");
    X509_free(x);
}

/* A list longer than TLS_SAN_MAX stops at a whole entry, marked. */
static void
test_cert_san_bounded(void **state)
{
    (void)state;
    struct tls_cert_info ci;
    X509 *x = hostile_cert(200);

    assert_int_equal(tls_describe_cert(x, NOW, &ci), 0);
    size_t len = strlen(ci.san);
    assert_true(len < TLS_SAN_MAX && len > TLS_SAN_MAX - 40);
    assert_true(printable(ci.san));
    assert_string_equal(ci.san + len - 5, ", ...");
    assert_memory_equal(ci.san + len - 5 - 11, "example.org", 11);
    X509_free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_suite),
        cmocka_unit_test(test_known_suites),
        cmocka_unit_test(test_legacy_suites),
        cmocka_unit_test(test_cert_rsa_ca_signed),
        cmocka_unit_test(test_cert_ec_self_signed),
        cmocka_unit_test(test_cert_rsa_self_signed),
        cmocka_unit_test(test_cert_ca_and_forged),
        cmocka_unit_test(test_cert_expired),
        cmocka_unit_test(test_cert_days_left),
        cmocka_unit_test(test_cert_hostile),
        cmocka_unit_test(test_cert_san_bounded),
    };
    return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
