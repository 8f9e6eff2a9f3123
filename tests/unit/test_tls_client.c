/*
 * test_tls_client.c -- unit tests of src/tls/tls_client: real in-memory
 * handshakes (BIO pair) between tls_client_ctx_new()'s client and
 * tls_server_ctx_new()'s server. Trust outcomes (Verified, Trusted,
 * Untrusted), RFC 6125 name matching (whole-label wildcards only, ".name"
 * for subdomains, IP literals), SNI as the server sees it (RFC 6066 3),
 * TLS 1.2 as the floor, the security level checks with their reasons and
 * the Postfix-style log phrase.
 *
 * A throw-away PKI is made at start: a test CA, server certificates it
 * signs with various subjectAltNames, and one from a CA nobody trusts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "queue_test_util.h"
#include "tls_test_util.h"
#include "tls/tls_client.h"
#include "tls/tls_ctx.h"

#define MX "mx.example.test"

struct pki {
    char dir[TU_DIR_MAX];
    EVP_PKEY *key;            /* one key for every certificate */
    X509 *ca, *other_ca;      /* the trusted CA, and one nobody trusts */
    SSL_CTX *server;          /* tls_server_ctx_new(), leaf MX */
    SSL_CTX *client;          /* tls_client_ctx_new(), anchors: ca */
    struct config cfg;        /* filled by hand */
    char cert_path[PATH_MAX], key_path[PATH_MAX], ca_path[PATH_MAX];
};

static struct pki P;

/* A server certificate for CN=cn with subjectAltName san (openssl.cnf
 * syntax, NULL: none) signed by ca. Caller frees. */
static X509 *
leaf_new(const char *cn, const char *san, X509 *ca)
{
    char subject[256];
    snprintf(subject, sizeof(subject), "/O=Example/CN=%s", cn);
    X509 *cert = tt_cert_new(subject, P.key, ca, P.key, false);
    if (san != NULL) {
        tt_add_ext(cert, ca, NID_subject_alt_name, san);
        tt_check(X509_sign(cert, P.key, EVP_sha256()) > 0, "re-sign");
    }
    return cert;
}

static int
pki_setup(void **state)
{
    char err[512];
    (void)state;
    tu_mkdtemp(P.dir);
    P.key = tt_key_new();
    P.ca = tt_cert_new("/O=Example/CN=Test CA", P.key, NULL, NULL, true);
    P.other_ca = tt_cert_new("/CN=Other CA", P.key, NULL, NULL, true);
    tu_path(P.cert_path, "%s/server.pem", P.dir);
    tu_path(P.key_path, "%s/server.key", P.dir);
    tu_path(P.ca_path, "%s/ca.pem", P.dir);
    X509 *mx = leaf_new(MX, "DNS:" MX, P.ca);
    tt_write_cert(P.cert_path, mx);
    X509_free(mx);
    tt_write_key(P.key_path, P.key);
    tt_write_cert(P.ca_path, P.ca);
    P.cfg.path = "t.conf";
    P.cfg.tls_pairs[0] = (struct config_tls_pair){P.cert_path, P.key_path, 4,
                                                  5};
    P.cfg.n_tls_pairs = 1;
    P.cfg.outbound_tls_ca_file = P.ca_path;
    P.server = tls_server_ctx_new(&P.cfg, err, sizeof(err));
    P.client = P.server ? tls_client_ctx_new(&P.cfg, err, sizeof(err)) : NULL;
    if (P.client == NULL)
        fprintf(stderr, "%s\n", err);
    return P.client ? 0 : -1;
}

static int
pki_teardown(void **state)
{
    (void)state;
    SSL_CTX_free(P.server);
    SSL_CTX_free(P.client);
    X509_free(P.ca);
    X509_free(P.other_ca);
    EVP_PKEY_free(P.key);
    tu_rm_rf(P.dir);
    return 0;
}

/* One connection: server SSL from sctx presenting leaf (NULL: the
 * context's MX certificate), client from cctx set up for host. */
struct conn {
    SSL *srv, *cli;
    int rc;                   /* tt_handshake(): 1 or -1 */
};

static void
conn_open(struct conn *c, SSL_CTX *sctx, SSL_CTX *cctx, X509 *leaf,
          const char *host)
{
    c->srv = SSL_new(sctx);
    c->cli = SSL_new(cctx);
    assert_non_null(c->srv);
    assert_non_null(c->cli);
    if (leaf != NULL) {
        assert_int_equal(SSL_use_certificate(c->srv, leaf), 1);
        assert_int_equal(SSL_use_PrivateKey(c->srv, P.key), 1);
    }
    assert_int_equal(tls_client_session_setup(c->cli, host), 0);
    c->rc = tt_handshake(c->srv, c->cli);
}

static void
conn_close(struct conn *c)
{
    SSL_free(c->srv);
    SSL_free(c->cli);
}

/* The trust of a handshake with a server presenting leaf, for names. */
static enum tls_trust
trust_of(X509 *leaf, const char *const *names, size_t n)
{
    struct conn c;
    conn_open(&c, P.server, P.client, leaf, NULL);
    assert_int_equal(c.rc, 1);
    enum tls_trust t = tls_client_trust(c.cli, names, n);
    conn_close(&c);
    return t;
}

/* The trust of a server certificate with subjectAltName san for name. */
static enum tls_trust
trust_for(const char *san, const char *name)
{
    X509 *leaf = leaf_new("leaf", san, P.ca);
    enum tls_trust t = trust_of(leaf, &name, 1);
    X509_free(leaf);
    return t;
}

static void
test_chain_and_name_verified(void **state)
{
    const char *names[] = {"other.example.test", MX};
    char why[TLS_CLIENT_WHY_MAX] = "", log[TLS_CLIENT_LOG_MAX];
    struct conn c;
    (void)state;
    conn_open(&c, P.server, P.client, NULL, MX);
    assert_int_equal(c.rc, 1);
    enum tls_trust t = tls_client_trust(c.cli, names, 2);
    assert_int_equal(t, TLS_TRUST_VERIFIED);
    assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_VERIFY, t, c.cli, why,
                                     sizeof(why)));
    assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_SECURE, t, c.cli, why,
                                     sizeof(why)));
    tls_client_log_established(c.cli, t, MX, "127.0.0.5", 25, log,
                               sizeof(log));
    const char *want = "Verified TLS connection established to "
                       MX "[127.0.0.5]:25: TLSv1.3 with cipher TLS_";
    assert_memory_equal(log, want, strlen(want));
    assert_non_null(strstr(log, " bits)"));
    /* A trailing dot (DNS root) on the name changes nothing. */
    const char *dotted = MX ".";
    assert_int_equal(tls_client_trust(c.cli, &dotted, 1), TLS_TRUST_VERIFIED);
    conn_close(&c);
}

static void
test_wrong_name_trusted(void **state)
{
    const char *names[] = {"other.example.test"};
    char why[TLS_CLIENT_WHY_MAX];
    struct conn c;
    (void)state;
    conn_open(&c, P.server, P.client, NULL, MX);
    enum tls_trust t = tls_client_trust(c.cli, names, 1);
    assert_int_equal(t, TLS_TRUST_TRUSTED);
    assert_false(tls_client_policy_ok(CONFIG_TLS_LEVEL_SECURE, t, c.cli, why,
                                      sizeof(why)));
    assert_string_equal(why, "server certificate name mismatch: none of "
                             "other.example.test matched");
    assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_ENCRYPT, t, c.cli, why,
                                     sizeof(why)));
    assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_MAY, t, c.cli, why,
                                     sizeof(why)));
    /* No name at all cannot verify either. */
    assert_int_equal(tls_client_trust(c.cli, NULL, 0), TLS_TRUST_TRUSTED);
    conn_close(&c);
}

static void
test_unknown_ca_untrusted(void **state)
{
    const char *names[] = {MX};
    char why[TLS_CLIENT_WHY_MAX];
    X509 *leaf = leaf_new(MX, "DNS:" MX, P.other_ca);
    struct conn c;
    (void)state;
    conn_open(&c, P.server, P.client, leaf, MX);
    assert_int_equal(c.rc, 1); /* SSL_VERIFY_NONE: judged afterwards */
    enum tls_trust t = tls_client_trust(c.cli, names, 1);
    assert_int_equal(t, TLS_TRUST_UNTRUSTED);
    assert_false(tls_client_policy_ok(CONFIG_TLS_LEVEL_VERIFY, t, c.cli, why,
                                      sizeof(why)));
    assert_string_equal(why, "server certificate verification failed for "
                             MX ": unable to get local issuer certificate");
    assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_ENCRYPT, t, c.cli, why,
                                     sizeof(why)));
    conn_close(&c);
    X509_free(leaf);
}

/* Without [outbound] tls_ca_file the system store is used, which does not
 * know the test CA. */
static void
test_system_store_untrusted(void **state)
{
    struct config cfg = {.path = "t.conf"};
    char err[512];
    const char *names[] = {MX};
    struct conn c;
    (void)state;
    SSL_CTX *cctx = tls_client_ctx_new(&cfg, err, sizeof(err));
    assert_non_null(cctx);
    conn_open(&c, P.server, cctx, NULL, MX);
    assert_int_equal(c.rc, 1);
    assert_int_equal(tls_client_trust(c.cli, names, 1), TLS_TRUST_UNTRUSTED);
    conn_close(&c);
    SSL_CTX_free(cctx);
}

/* RFC 6125 6.4.3: the wildcard is one whole left-most label. */
static void
test_wildcard_one_label(void **state)
{
    (void)state;
    const char *san = "DNS:*.example.test";
    assert_int_equal(trust_for(san, "a.example.test"), TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for(san, "A.Example.TEST"), TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for(san, "a.b.example.test"), TLS_TRUST_TRUSTED);
    assert_int_equal(trust_for(san, "example.test"), TLS_TRUST_TRUSTED);
    /* X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: "mx*" is not a wildcard. */
    assert_int_equal(trust_for("DNS:mx*.example.test", "mx1.example.test"),
                     TLS_TRUST_TRUSTED);
}

/* Postfix dot-nexthop: ".example.test" matches any subdomain. */
static void
test_dot_name_matches_subdomains(void **state)
{
    (void)state;
    const char *dot = ".example.test";
    assert_int_equal(trust_for("DNS:sub.example.test", dot),
                     TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for("DNS:a.sub.example.test", dot),
                     TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for("DNS:*.example.test", dot), TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for("DNS:example.test", dot), TLS_TRUST_TRUSTED);
    assert_int_equal(trust_for("DNS:sub.example.net", dot), TLS_TRUST_TRUSTED);
    assert_int_equal(trust_for("DNS:sub.badexample.test", dot),
                     TLS_TRUST_TRUSTED);
}

/* No subjectAltName dNSName: the CN is the name (X509_check_host). With
 * dNSNames, the CN is not looked at. */
static void
test_cn_only_without_san(void **state)
{
    const char *name = "cn.example.test";
    (void)state;
    X509 *leaf = leaf_new(name, NULL, P.ca);
    assert_int_equal(trust_of(leaf, &name, 1), TLS_TRUST_VERIFIED);
    X509_free(leaf);
    leaf = leaf_new(name, "DNS:other.example.test", P.ca);
    assert_int_equal(trust_of(leaf, &name, 1), TLS_TRUST_TRUSTED);
    X509_free(leaf);
}

static void
test_ip_literal_name(void **state)
{
    (void)state;
    assert_int_equal(trust_for("IP:127.0.0.5", "127.0.0.5"),
                     TLS_TRUST_VERIFIED);
    assert_int_equal(trust_for("IP:127.0.0.5", "127.0.0.6"),
                     TLS_TRUST_TRUSTED);
    assert_int_equal(trust_for("DNS:127.0.0.5", "127.0.0.5"),
                     TLS_TRUST_TRUSTED);
}

/* What the server saw as SNI for a client set up with host. */
static void
assert_sni(const char *host, const char *want)
{
    struct conn c;
    conn_open(&c, P.server, P.client, NULL, host);
    assert_int_equal(c.rc, 1);
    const char *got = SSL_get_servername(c.srv, TLSEXT_NAMETYPE_host_name);
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
    conn_close(&c);
}

static void
test_sni_sent(void **state)
{
    (void)state;
    assert_sni(MX, MX);
    assert_sni(MX ".", MX); /* RFC 6066 3: no trailing dot */
}

/* RFC 6066 3: literal addresses are not sent; nor is an unknown name. */
static void
test_no_sni_for_ip_literal(void **state)
{
    (void)state;
    assert_sni("127.0.0.5", NULL);
    assert_sni("::1", NULL);
    assert_sni("2001:db8::25", NULL);
    assert_sni(NULL, NULL);
}

static void
test_session_setup_refuses_bad_names(void **state)
{
    char longname[300];
    (void)state;
    SSL *ssl = SSL_new(P.client);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(tls_client_session_setup(ssl, longname), -1);
    assert_int_equal(tls_client_session_setup(ssl, ""), -1);
    assert_int_equal(tls_client_session_setup(ssl, "."), -1);
    SSL_free(ssl);
}

/* A server that speaks TLS 1.1 at most: our client refuses it, though a
 * client allowing TLS 1.1 gets through (so the server really works). */
static void
test_tls11_server_refused(void **state)
{
    struct conn c;
    (void)state;
    SSL_CTX *old = SSL_CTX_new(TLS_server_method());
    assert_non_null(old);
    SSL_CTX_set_security_level(old, 0); /* OpenSSL 3: TLS 1.1 needs 0 */
    assert_int_equal(SSL_CTX_set_min_proto_version(old, TLS1_1_VERSION), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate_file(old, P.cert_path,
                                                  SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(old, P.key), 1);

    SSL_CTX *lax = tt_client_ctx(NULL, NULL, 0);
    SSL_CTX_set_security_level(lax, 0);
    SSL_CTX_set_min_proto_version(lax, TLS1_1_VERSION);
    conn_open(&c, old, lax, NULL, MX);
    assert_int_equal(c.rc, 1);
    assert_string_equal(SSL_get_version(c.cli), "TLSv1.1");
    conn_close(&c);

    conn_open(&c, old, P.client, NULL, MX);
    assert_int_equal(c.rc, -1);
    assert_int_equal(SSL_is_init_finished(c.cli), 0);
    conn_close(&c);
    /* Refused for its version, not for OpenSSL's security level. */
    char err[512];
    SSL_CTX *ours = tls_client_ctx_new(&P.cfg, err, sizeof(err));
    assert_non_null(ours);
    SSL_CTX_set_security_level(ours, 0);
    conn_open(&c, old, ours, NULL, MX);
    assert_int_equal(c.rc, -1);
    conn_close(&c);
    SSL_CTX_free(ours);
    SSL_CTX_free(lax);
    SSL_CTX_free(old);
}

/* The floor holds whatever [tls] min_version says for the listeners; the
 * shared options are there. */
static void
test_ctx_policy(void **state)
{
    (void)state;
    assert_int_equal(SSL_CTX_get_min_proto_version(P.client), TLS1_2_VERSION);
    uint64_t opts = SSL_CTX_get_options(P.client);
    assert_true(opts & SSL_OP_NO_COMPRESSION);
    assert_true(opts & SSL_OP_NO_RENEGOTIATION);
    assert_true(SSL_CTX_get_mode(P.client) & SSL_MODE_RELEASE_BUFFERS);
    assert_int_equal(SSL_CTX_get_verify_mode(P.client), SSL_VERIFY_NONE);

    struct config cfg = P.cfg;
    char err[512];
    cfg.tls_min_version = TLS1_3_VERSION;
    SSL_CTX *cctx = tls_client_ctx_new(&cfg, err, sizeof(err));
    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_get_min_proto_version(cctx), TLS1_2_VERSION);
    SSL_CTX_free(cctx);
}

static void
test_bad_ca_file(void **state)
{
    struct config cfg = {.path = "t.conf"};
    char err[512], path[PATH_MAX];
    (void)state;
    tu_path(path, "%s/missing.pem", P.dir);
    cfg.outbound_tls_ca_file = path;
    assert_null(tls_client_ctx_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "t.conf: [outbound] tls_ca_file: "));
    assert_non_null(strstr(err, path));
    assert_int_equal(ERR_peek_error(), 0);
}

/* The level table, also without an SSL at hand. */
static void
test_levels(void **state)
{
    char why[TLS_CLIENT_WHY_MAX];
    (void)state;
    for (int t = TLS_TRUST_ANONYMOUS; t <= TLS_TRUST_VERIFIED; t++) {
        assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_NONE, t, NULL, why,
                                         sizeof(why)));
        assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_MAY, t, NULL, why,
                                         sizeof(why)));
        assert_true(tls_client_policy_ok(CONFIG_TLS_LEVEL_ENCRYPT, t, NULL,
                                         why, sizeof(why)));
        bool verified = t == TLS_TRUST_VERIFIED;
        assert_int_equal(tls_client_policy_ok(CONFIG_TLS_LEVEL_VERIFY, t,
                                              NULL, why, sizeof(why)),
                         verified);
        assert_int_equal(tls_client_policy_ok(CONFIG_TLS_LEVEL_SECURE, t,
                                              NULL, why, sizeof(why)),
                         verified);
    }
    assert_false(tls_client_policy_ok(CONFIG_TLS_LEVEL_SECURE,
                                      TLS_TRUST_ANONYMOUS, NULL, why,
                                      sizeof(why)));
    assert_string_equal(why, "no server certificate");
    assert_false(tls_client_policy_ok((enum config_tls_level)99,
                                      TLS_TRUST_VERIFIED, NULL, why,
                                      sizeof(why)));
    assert_string_equal(why, "unknown TLS security level");
}

static void
test_trust_words(void **state)
{
    (void)state;
    assert_string_equal(tls_trust_words(TLS_TRUST_ANONYMOUS), "Anonymous");
    assert_string_equal(tls_trust_words(TLS_TRUST_UNTRUSTED), "Untrusted");
    assert_string_equal(tls_trust_words(TLS_TRUST_TRUSTED), "Trusted");
    assert_string_equal(tls_trust_words(TLS_TRUST_VERIFIED), "Verified");
    assert_string_equal(tls_trust_words((enum tls_trust)7), "Unknown");
}

/* Many long names: the reason is cut short, never overflows. */
static void
test_long_name_list(void **state)
{
    char name[200], why[TLS_CLIENT_WHY_MAX];
    const char *names[] = {name, name, name};
    struct conn c;
    (void)state;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    conn_open(&c, P.server, P.client, NULL, MX);
    enum tls_trust t = tls_client_trust(c.cli, names, 3);
    assert_int_equal(t, TLS_TRUST_TRUSTED);
    assert_false(tls_client_policy_ok(CONFIG_TLS_LEVEL_VERIFY, t, c.cli, why,
                                      sizeof(why)));
    assert_non_null(strstr(why, "... matched"));
    conn_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_and_name_verified),
        cmocka_unit_test(test_wrong_name_trusted),
        cmocka_unit_test(test_unknown_ca_untrusted),
        cmocka_unit_test(test_system_store_untrusted),
        cmocka_unit_test(test_wildcard_one_label),
        cmocka_unit_test(test_dot_name_matches_subdomains),
        cmocka_unit_test(test_cn_only_without_san),
        cmocka_unit_test(test_ip_literal_name),
        cmocka_unit_test(test_sni_sent),
        cmocka_unit_test(test_no_sni_for_ip_literal),
        cmocka_unit_test(test_session_setup_refuses_bad_names),
        cmocka_unit_test(test_tls11_server_refused),
        cmocka_unit_test(test_ctx_policy),
        cmocka_unit_test(test_bad_ca_file),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_trust_words),
        cmocka_unit_test(test_long_name_list),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
