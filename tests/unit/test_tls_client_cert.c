/*
 * test_tls_client_cert.c -- unit tests of mutual TLS in src/tls: the CA
 * file of tls_server_ctx_new(), tls_server_session_setup() for each
 * listener mode over real in-memory handshakes (no certificate, one that
 * does not verify, one that does), the client certificate fields of
 * tls_describe() checked against the openssl command line, resumption
 * across modes, and the log and Received renderings.
 *
 * A throw-away PKI is made at start: a test CA, a client certificate it
 * signs, a self-signed one and one from another CA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "queue_test_util.h"
#include "tls_test_util.h"
#include "tls/tls_ctx.h"
#include "tls/tls_describe.h"

#define CLIENT_SUBJECT "/O=Example Org/CN=client.example.org"
#define CLIENT_DN "CN=client.example.org,O=Example Org"
#define CA_DN "CN=Test CA,O=Example Org"

/* A name with every kind of special: RFC 2253 escapes, UTF-8, parens. */
#define ODD_SUBJECT "/O=B\xc3\xa4" "cker, (Nord)/CN=Jos\xc3\xa9 \"x\"/OU=a+b"

struct pki {
    char dir[TU_DIR_MAX];
    EVP_PKEY *key;            /* one key for every certificate */
    X509 *ca, *client, *self, *stranger, *odd;
    SSL_CTX *server;          /* from tls_server_ctx_new() */
    struct config cfg;        /* filled by hand */
    char cert_path[PATH_MAX], key_path[PATH_MAX], ca_path[PATH_MAX];
};

static struct pki P;

static int
pki_setup(void **state)
{
    char err[512];
    (void)state;
    tu_mkdtemp(P.dir);
    P.key = tt_key_new();
    P.ca = tt_cert_new("/O=Example Org/CN=Test CA", P.key, NULL, NULL, true);
    P.client = tt_cert_new(CLIENT_SUBJECT, P.key, P.ca, P.key, false);
    P.self = tt_cert_new(CLIENT_SUBJECT, P.key, NULL, NULL, false);
    X509 *other = tt_cert_new("/CN=Other CA", P.key, NULL, NULL, true);
    P.stranger = tt_cert_new("/CN=stranger", P.key, other, P.key, false);
    X509_free(other);
    P.odd = tt_cert_new(ODD_SUBJECT, P.key, P.ca, P.key, false);
    tu_path(P.cert_path, "%s/server.pem", P.dir);
    tu_path(P.key_path, "%s/server.key", P.dir);
    tu_path(P.ca_path, "%s/ca.pem", P.dir);
    X509 *server = tt_cert_new("/CN=mx.example.org", P.key, P.ca, P.key,
                               false);
    tt_write_cert(P.cert_path, server);
    X509_free(server);
    tt_write_key(P.key_path, P.key);
    tt_write_cert(P.ca_path, P.ca);
    P.cfg.path = "t.conf";
    P.cfg.tls_line = 3;
    P.cfg.tls_pairs[0] = (struct config_tls_pair){P.cert_path, P.key_path, 4,
                                                  5};
    P.cfg.n_tls_pairs = 1;
    P.cfg.tls_ca_file = P.ca_path;
    P.server = tls_server_ctx_new(&P.cfg, err, sizeof(err));
    if (P.server == NULL)
        fprintf(stderr, "%s\n", err);
    return P.server ? 0 : -1;
}

static int
pki_teardown(void **state)
{
    (void)state;
    SSL_CTX_free(P.server);
    X509_free(P.ca);
    X509_free(P.client);
    X509_free(P.self);
    X509_free(P.stranger);
    X509_free(P.odd);
    EVP_PKEY_free(P.key);
    tu_rm_rf(P.dir);
    return 0;
}

/* One session: a server SSL under mode against a client presenting cert
 * (NULL: none). Fills *ti when the server side is established. Returns
 * the server's outcome (1 or -1). sess, if not NULL, is offered for
 * resumption; *reused tells whether it was. */
struct run {
    struct tls_info ti;       /* the server's description */
    bool reused;              /* the session was resumed */
    SSL_SESSION *session;     /* owned: the client's session after */
    int n_cas;                /* CA names the server sent (-1: none) */
};

static int
run_session(enum config_client_certs mode, X509 *cert, int max_version,
            SSL_SESSION *offer, struct run *r)
{
    SSL_CTX *cctx = tt_client_ctx(cert, cert ? P.key : NULL, max_version);
    SSL *srv = SSL_new(P.server), *cli = SSL_new(cctx);

    memset(r, 0, sizeof(*r));
    assert_int_equal(tls_server_session_setup(srv, mode), 0);
    if (offer != NULL)
        assert_int_equal(SSL_set_session(cli, offer), 1);
    int rc = tt_handshake(srv, cli);
    if (rc == 1)
        tls_describe(srv, &r->ti);
    r->reused = SSL_session_reused(srv);
    r->session = SSL_get1_session(cli);
    r->n_cas = sk_X509_NAME_num(SSL_get_client_CA_list(cli));
    /* A session freed without close_notify is dropped from the caches
     * and made unresumable; these sessions ended cleanly. */
    SSL_set_shutdown(srv, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(cli, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(srv);
    SSL_free(cli);
    SSL_CTX_free(cctx);
    return rc;
}

/* The first line of a command's output, after its first '='. */
static void
command_value(const char *cmd, char *dst, size_t dst_size)
{
    char line[1024] = "";
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    char *eq = strchr(line, '=');
    assert_non_null(eq);
    snprintf(dst, dst_size, "%s", eq + 1);
}

/* What `openssl x509 ARGS` says about cert. */
static void
openssl_says(X509 *cert, const char *args, char *dst, size_t dst_size)
{
    char path[PATH_MAX], cmd[2 * PATH_MAX];
    tu_path(path, "%s/probe.pem", P.dir);
    tt_write_cert(path, cert);
    snprintf(cmd, sizeof(cmd), "openssl x509 -noout %s -in '%s'", args, path);
    command_value(cmd, dst, dst_size);
}

static void
test_none_requests_nothing(void **state)
{
    struct run r;
    char text[TLS_RECEIVED_CLIENT_MAX];
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_NONE, P.client, 0, NULL,
                                 &r), 1);
    assert_false(r.ti.peer_cert_requested);
    assert_false(r.ti.peer_cert);
    assert_false(r.ti.peer_verified);
    assert_true(r.n_cas <= 0); /* -1: no list at all */
    assert_string_equal(tls_info_received_client(&r.ti, text, sizeof(text)),
                        "No client certificate requested");
    assert_string_equal(tls_info_log_client(&r.ti, text, sizeof(text)),
                        "client_cert=not-requested");
    SSL_SESSION_free(r.session);
}

static void
test_request_without_cert(void **state)
{
    struct run r;
    char text[TLS_RECEIVED_CLIENT_MAX];
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, NULL, 0, NULL,
                                 &r), 1);
    assert_true(r.ti.peer_cert_requested);
    assert_false(r.ti.peer_cert);
    assert_false(r.ti.peer_verified);
    /* The CertificateRequest named our CA for the client to choose. */
    assert_int_equal(r.n_cas, 1);
    assert_string_equal(tls_info_received_client(&r.ti, text, sizeof(text)),
                        "Client did not present a certificate");
    assert_string_equal(tls_info_log_client(&r.ti, text, sizeof(text)),
                        "client_cert=absent");
    SSL_SESSION_free(r.session);
}

static void
test_request_self_signed(void **state)
{
    struct run r;
    char text[TLS_LOG_CLIENT_MAX];
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, P.self, 0, NULL,
                                 &r), 1);
    assert_true(r.ti.peer_cert);
    assert_false(r.ti.peer_verified);
    assert_int_equal(r.ti.peer_verify_error,
                     X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    assert_string_equal(r.ti.peer_subject, CLIENT_DN);
    assert_string_equal(r.ti.peer_issuer, CLIENT_DN);
    tls_info_log_client(&r.ti, text, sizeof(text));
    assert_non_null(strstr(text, "client_cert=unverified subject=\""
                                 CLIENT_DN "\" issuer=\"" CLIENT_DN "\""));
    assert_non_null(strstr(text, " verify_error=\"self"));
    assert_string_equal(tls_info_received_client(&r.ti, text, sizeof(text)),
                        "Client CN \"client.example.org\", Issuer "
                        "\"client.example.org\" (not verified)");
    SSL_SESSION_free(r.session);
}

static void
test_request_other_ca(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, P.stranger, 0,
                                 NULL, &r), 1);
    assert_true(r.ti.peer_cert);
    assert_false(r.ti.peer_verified);
    assert_int_equal(r.ti.peer_verify_error,
                     X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
    assert_string_equal(r.ti.peer_issuer, "CN=Other CA");
    SSL_SESSION_free(r.session);
}

/* Verified, and every field as the openssl command line shows it. */
static void
test_request_verified(void **state)
{
    struct run r;
    char want[1024], text[TLS_LOG_CLIENT_MAX];
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, P.client, 0,
                                 NULL, &r), 1);
    assert_true(r.ti.peer_cert);
    assert_true(r.ti.peer_verified);
    assert_int_equal(r.ti.peer_verify_error, X509_V_OK);
    assert_false(r.ti.peer_names_truncated);
    assert_string_equal(r.ti.peer_subject, CLIENT_DN);
    assert_string_equal(r.ti.peer_issuer, CA_DN);
    openssl_says(P.client, "-fingerprint -sha256", want, sizeof(want));
    size_t o = 0;
    for (size_t i = 0; want[i] != '\0'; i++)
        if (want[i] != ':')
            want[o++] = (char)tolower((unsigned char)want[i]);
    want[o] = '\0';
    assert_int_equal(strlen(r.ti.peer_sha256), 64);
    assert_string_equal(r.ti.peer_sha256, want);
    snprintf(want, sizeof(want), "client_cert=verified subject=\"" CLIENT_DN
             "\" issuer=\"" CA_DN "\" sha256=%s", r.ti.peer_sha256);
    assert_string_equal(tls_info_log_client(&r.ti, text, sizeof(text)), want);
    assert_string_equal(tls_info_received_client(&r.ti, text, sizeof(text)),
                        "Client CN \"client.example.org\", Issuer "
                        "\"Test CA\" (verified OK)");
    SSL_SESSION_free(r.session);
}

/* The names are byte for byte what an administrator copies from
 * `openssl x509 -noout -subject -nameopt RFC2253`. */
static void
test_names_match_openssl_rfc2253(void **state)
{
    struct run r;
    char want[1024], text[TLS_RECEIVED_CLIENT_MAX];
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, P.odd, 0, NULL,
                                 &r), 1);
    assert_true(r.ti.peer_verified);
    openssl_says(P.odd, "-subject -nameopt RFC2253", want, sizeof(want));
    assert_string_equal(r.ti.peer_subject, want);
    assert_string_equal(r.ti.peer_subject,
                        "OU=a\\+b,CN=Jos\\C3\\A9 \\\"x\\\","
                        "O=B\\C3\\A4cker\\, (Nord)");
    openssl_says(P.odd, "-issuer -nameopt RFC2253", want, sizeof(want));
    assert_string_equal(r.ti.peer_issuer, want);
    /* Parens in a name cannot close the Received comment. */
    assert_string_equal(tls_info_received_client(&r.ti, text, sizeof(text)),
                        "Client CN \"Jos\\C3\\A9 \\\"x\\\"\", Issuer "
                        "\"Test CA\" (verified OK)");
    SSL_SESSION_free(r.session);
}

static void
test_require_refuses_without_cert(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, NULL, 0, NULL,
                                 &r), -1);
    SSL_SESSION_free(r.session);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, NULL,
                                 TLS1_2_VERSION, NULL, &r), -1);
    SSL_SESSION_free(r.session);
}

static void
test_require_refuses_unverified(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.self, 0, NULL,
                                 &r), -1);
    SSL_SESSION_free(r.session);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.stranger, 0,
                                 NULL, &r), -1);
    SSL_SESSION_free(r.session);
}

static void
test_require_accepts_verified(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.client, 0,
                                 NULL, &r), 1);
    assert_true(r.ti.peer_verified);
    assert_string_equal(r.ti.peer_subject, CLIENT_DN);
    SSL_SESSION_free(r.session);
}

/* A session made on a "request" listener without a certificate resumes
 * there, but not on a "require" listener: there the client must present
 * a certificate in a full handshake. */
static void
check_resumption_stays_in_its_mode(int max_version)
{
    struct run first, again;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, NULL,
                                 max_version, NULL, &first), 1);
    assert_non_null(first.session);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, NULL,
                                 max_version, first.session, &again), 1);
    assert_true(again.reused);
    SSL_SESSION_free(again.session);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, NULL,
                                 max_version, first.session, &again), -1);
    assert_false(again.reused);
    SSL_SESSION_free(again.session);
    SSL_SESSION_free(first.session);
}

static void
test_resumption_stays_in_its_mode(void **state)
{
    (void)state;
    check_resumption_stays_in_its_mode(TLS1_2_VERSION); /* session id */
    check_resumption_stays_in_its_mode(0);              /* 1.3 ticket */
}

/* A resumed session still carries its verified certificate. */
static void
test_resumed_session_keeps_cert(void **state)
{
    struct run first, again;
    (void)state;
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.client,
                                 TLS1_2_VERSION, NULL, &first), 1);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.client,
                                 TLS1_2_VERSION, first.session, &again), 1);
    assert_true(again.reused);
    assert_true(again.ti.peer_verified);
    assert_string_equal(again.ti.peer_sha256, first.ti.peer_sha256);
    SSL_SESSION_free(again.session);
    SSL_SESSION_free(first.session);
}

/* A subject too long to keep is flagged, so nobody matches on it. */
static void
test_long_names_flagged(void **state)
{
    char subject[1200];
    struct run r;
    (void)state;
    int n = snprintf(subject, sizeof(subject), "/CN=long");
    for (int i = 0; i < 10; i++)
        n += snprintf(subject + n, sizeof(subject) - (size_t)n,
                      "/OU=%060d", i);
    X509 *cert = tt_cert_new(subject, P.key, P.ca, P.key, false);
    assert_int_equal(run_session(CONFIG_CLIENT_CERTS_REQUEST, cert, 0, NULL,
                                 &r), 1);
    assert_true(r.ti.peer_verified);
    assert_true(r.ti.peer_names_truncated);
    assert_int_equal(strlen(r.ti.peer_subject), TLS_DN_MAX - 1);
    X509_free(cert);
    SSL_SESSION_free(r.session);
}

/* A self-signed certificate verifies once ca_file lists it as its own
 * trust anchor (how an administrator pins a device's certificate). */
static void
test_self_signed_as_anchor(void **state)
{
    char err[512], path[PATH_MAX];
    struct config cfg = P.cfg;
    struct run r;
    (void)state;
    tu_path(path, "%s/anchors.pem", P.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(PEM_write_X509(f, P.ca) && PEM_write_X509(f, P.self));
    assert_int_equal(fclose(f), 0);
    cfg.tls_ca_file = path;
    SSL_CTX *saved = P.server;
    P.server = tls_server_ctx_new(&cfg, err, sizeof(err));
    assert_non_null(P.server);
    int rc = run_session(CONFIG_CLIENT_CERTS_REQUIRE, P.self, 0, NULL, &r);
    SSL_CTX_free(P.server);
    P.server = saved;
    assert_int_equal(rc, 1);
    assert_true(r.ti.peer_verified);
    assert_int_equal(r.n_cas, 2);
    SSL_SESSION_free(r.session);
}

static void
test_bad_ca_file(void **state)
{
    char err[512], path[PATH_MAX];
    struct config cfg = P.cfg;
    (void)state;
    tu_path(path, "%s/missing.pem", P.dir);
    cfg.tls_ca_file = path;
    assert_null(tls_server_ctx_new(&cfg, err, sizeof(err)));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "t.conf:3: ca_file: %s: cannot load CA "
             "certificates: ", path);
    assert_memory_equal(err, want, strlen(want));
    /* A file without certificates is no CA file either. */
    tu_write_file(path, "not a certificate\n", 18);
    assert_null(tls_server_ctx_new(&cfg, err, sizeof(err)));
    assert_memory_equal(err, want, strlen(want));
}

static void
test_session_setup_bad_mode(void **state)
{
    (void)state;
    SSL *ssl = SSL_new(P.server);
    assert_int_equal(tls_server_session_setup(ssl, (enum config_client_certs)7),
                     -1);
    SSL_free(ssl);
}

static void
test_dn_common_name(void **state)
{
    char cn[16];
    (void)state;
    assert_true(tls_dn_common_name("CN=a\\,b,O=x", cn, sizeof(cn)));
    assert_string_equal(cn, "a\\,b");
    assert_true(tls_dn_common_name("OU=x+CN=y,CN=z", cn, sizeof(cn)));
    assert_string_equal(cn, "y");
    assert_true(tls_dn_common_name("O=CN=x,CN=z", cn, sizeof(cn)));
    assert_string_equal(cn, "z");
    assert_false(tls_dn_common_name("O=x", cn, sizeof(cn)));
    assert_string_equal(cn, "");
    assert_false(tls_dn_common_name("CN=,O=x", cn, sizeof(cn)));
    assert_false(tls_dn_common_name("CN=0123456789abcdef", cn, sizeof(cn)));
    assert_false(tls_dn_common_name("", cn, sizeof(cn)));
}

/* Without a CN the whole name is shown; parens are quoted-pairs. */
static void
test_received_without_cn(void **state)
{
    struct tls_info ti = {.peer_cert = true, .peer_verified = true,
                          .peer_subject = "O=Acme (EU),C=DE",
                          .peer_issuer = "CN=CA (1)"};
    char text[TLS_RECEIVED_CLIENT_MAX];
    (void)state;
    assert_string_equal(tls_info_received_client(&ti, text, sizeof(text)),
                        "Client CN \"O=Acme \\(EU\\),C=DE\", Issuer "
                        "\"CA \\(1\\)\" (verified OK)");
}

/* Cut short, the text never ends in half a quoted-pair. */
static void
test_received_cut_short(void **state)
{
    struct tls_info ti = {.peer_cert = true, .peer_subject = "CN=a\\,b",
                          .peer_issuer = "CN=CA"};
    char text[14];
    (void)state;
    assert_string_equal(tls_info_received_client(&ti, text, sizeof(text)),
                        "Client CN \"a");
    char wide[15];
    assert_string_equal(tls_info_received_client(&ti, wide, sizeof(wide)),
                        "Client CN \"a\\,");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_requests_nothing),
        cmocka_unit_test(test_request_without_cert),
        cmocka_unit_test(test_request_self_signed),
        cmocka_unit_test(test_request_other_ca),
        cmocka_unit_test(test_request_verified),
        cmocka_unit_test(test_names_match_openssl_rfc2253),
        cmocka_unit_test(test_require_refuses_without_cert),
        cmocka_unit_test(test_require_refuses_unverified),
        cmocka_unit_test(test_require_accepts_verified),
        cmocka_unit_test(test_resumption_stays_in_its_mode),
        cmocka_unit_test(test_resumed_session_keeps_cert),
        cmocka_unit_test(test_long_names_flagged),
        cmocka_unit_test(test_self_signed_as_anchor),
        cmocka_unit_test(test_bad_ca_file),
        cmocka_unit_test(test_session_setup_bad_mode),
        cmocka_unit_test(test_dn_common_name),
        cmocka_unit_test(test_received_without_cn),
        cmocka_unit_test(test_received_cut_short),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
