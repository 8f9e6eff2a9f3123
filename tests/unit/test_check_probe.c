/*
 * test_check_probe.c -- the probe of `tlsmta check` (src/check/check_probe.c
 * and the files it drives) against small scripted SMTP servers forked by
 * the test on 127.0.0.1: plaintext only with AUTH before TLS, STARTTLS
 * with a certificate from a throw-away CA, and the same server made
 * vulnerable to STARTTLS command injection (it keeps the input pipelined
 * after STARTTLS and answers it inside TLS). Also the EHLO parser and
 * an unreachable port. The integration tests (tests/integration/
 * test_check*.py) cover real servers (Postfix, openssl s_server, tlsmta).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check/check.h"
#include "check/check_conn.h"
#include "tls_test_util.h"

#define SRV_NAME "mx.probe.test"

/* How a scripted server behaves. */
struct srv_opts {
    bool starttls;               /* offer and do STARTTLS */
    bool vulnerable;             /* keep input pipelined with STARTTLS */
    bool auth;                   /* AUTH PLAIN LOGIN, before TLS too */
};

/* One connection of the server: plaintext, then TLS. */
struct srv_io {
    int fd;
    SSL *ssl;
    char buf[4096];
    size_t len;
};

static SSL_CTX *srv_ctx;         /* the server's TLS, built once */
static char ca_path[64];         /* the CA certificate, PEM */

static void
srv_send(struct srv_io *io, const char *s)
{
    size_t n = strlen(s);
    if (io->ssl != NULL)
        (void)SSL_write(io->ssl, s, (int)n);
    else
        (void)write(io->fd, s, n);
}

/* The next line (CRLF cut) into line. Returns 0, -1 at the end. */
static int
srv_line(struct srv_io *io, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(io->buf, '\n', io->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - io->buf) + 1;
            size_t keep = n - 1 < size - 1 ? n - 1 : size - 1;
            memcpy(line, io->buf, keep);
            line[keep > 0 && line[keep - 1] == '\r' ? keep - 1 : keep] = 0;
            memmove(io->buf, io->buf + n, io->len - n);
            io->len -= n;
            return 0;
        }
        int got = io->ssl ? SSL_read(io->ssl, io->buf + io->len,
                                     (int)(sizeof(io->buf) - io->len))
                          : (int)read(io->fd, io->buf + io->len,
                                      sizeof(io->buf) - io->len);
        if (got <= 0 || io->len + (size_t)got >= sizeof(io->buf))
            return -1;
        io->len += (size_t)got;
    }
}

static void
srv_ehlo(struct srv_io *io, const struct srv_opts *o)
{
    srv_send(io, "250-" SRV_NAME "\r\n250-PIPELINING\r\n");
    if (o->auth)
        srv_send(io, "250-AUTH PLAIN LOGIN\r\n");
    if (o->starttls && io->ssl == NULL)
        srv_send(io, "250-STARTTLS\r\n");
    srv_send(io, "250 8BITMIME\r\n");
}

/* STARTTLS. Returns 0 with TLS up, -1 to end the session. */
static int
srv_starttls(struct srv_io *io, const struct srv_opts *o)
{
    if (!o->starttls || io->ssl != NULL) {
        srv_send(io, "502 5.5.1 Not here\r\n");
        return 0;
    }
    srv_send(io, "220 2.0.0 Ready to start TLS\r\n");
    if (!o->vulnerable)
        io->len = 0; /* RFC 3207 4.2: forget what came before TLS */
    io->ssl = SSL_new(srv_ctx);
    SSL_set_fd(io->ssl, io->fd);
    return SSL_accept(io->ssl) == 1 ? 0 : -1;
}

static void
srv_session(int fd, const struct srv_opts *o)
{
    struct srv_io io = {.fd = fd};
    char line[1024];

    srv_send(&io, "220 " SRV_NAME " ESMTP probe test\r\n");
    while (srv_line(&io, line, sizeof(line)) == 0) {
        if (strncasecmp(line, "EHLO ", 5) == 0)
            srv_ehlo(&io, o);
        else if (strcasecmp(line, "STARTTLS") == 0) {
            if (srv_starttls(&io, o) < 0)
                break;
        } else if (strcasecmp(line, "NOOP") == 0)
            srv_send(&io, "250 2.0.0 Ok\r\n");
        else if (strcasecmp(line, "QUIT") == 0) {
            srv_send(&io, "221 2.0.0 Bye\r\n");
            break;
        } else
            srv_send(&io, "500 5.5.2 What\r\n");
    }
    if (io.ssl != NULL) {
        SSL_shutdown(io.ssl);
        SSL_free(io.ssl);
    }
    ERR_clear_error();
}

/* Fork a server on 127.0.0.1; returns its pid and the port in *port. */
static pid_t
srv_start(const struct srv_opts *o, unsigned *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    getsockname(lfd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        alarm(120); /* never outlive a stuck test */
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                _exit(0);
            srv_session(fd, o);
            close(fd);
        }
    }
    close(lfd);
    return pid;
}

static void
srv_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void
probe_opts(struct check_options *opt, unsigned port, const char *name)
{
    memset(opt, 0, sizeof(*opt));
    snprintf(opt->host, sizeof(opt->host), "127.0.0.1");
    opt->port = port;
    opt->mode = CHECK_MODE_AUTO;
    snprintf(opt->servername, sizeof(opt->servername), "%s", name);
    opt->ca_file = ca_path;
    opt->timeout = 5;
    opt->helo_name = "client.probe.test";
}

/* Start a server behaving as o, probe it under name, stop it. */
static void
probe_once(const struct srv_opts *o, const char *name, struct check_report *r)
{
    struct check_options opt;
    unsigned port;
    pid_t pid = srv_start(o, &port);

    probe_opts(&opt, port, name);
    check_probe(&opt, r);
    srv_stop(pid);
}

/* A CA, and a server certificate for SRV_NAME it signed. */
static int
setup(void **state)
{
    (void)state;
    EVP_PKEY *ca_key = tt_key_new(), *key = tt_key_new();
    X509 *ca = tt_cert_new("/CN=Probe Test CA", ca_key, NULL, NULL, true);
    X509 *cert = tt_cert_new("/CN=" SRV_NAME, key, ca, ca_key, false);

    tt_add_ext(cert, ca, NID_subject_alt_name, "DNS:" SRV_NAME);
    tt_check(X509_sign(cert, ca_key, EVP_sha256()) > 0, "X509_sign");
    snprintf(ca_path, sizeof(ca_path), "/tmp/test_check_probe_%d.pem",
             (int)getpid());
    tt_write_cert(ca_path, ca);
    srv_ctx = SSL_CTX_new(TLS_server_method());
    tt_check(srv_ctx && SSL_CTX_use_certificate(srv_ctx, cert) &&
                 SSL_CTX_use_PrivateKey(srv_ctx, key) &&
                 SSL_CTX_set_min_proto_version(srv_ctx, TLS1_2_VERSION),
             "server context");
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    SSL_CTX_free(srv_ctx);
    unlink(ca_path);
    return 0;
}

/* Feed raw reply bytes to a connection's reader, as if read. */
static void
feed(struct check_conn *c, const char *wire)
{
    enum smtp_reply_read_status st;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    smtp_reply_read_init(&c->rd);
    smtp_reply_read_feed(&c->rd, wire, strlen(wire), &st);
    assert_int_equal(st, SMTP_REPLY_READ_DONE);
}

static void
test_ehlo_parse(void **state)
{
    (void)state;
    struct check_conn c;
    struct check_ehlo e;
    char text[64];

    feed(&c, "250-mx.example greets you\r\n250-AUTH=LOGIN\r\n"
             "250-auth PLAIN LOGIN\r\n250-StartTLS\r\n250 X\001Y\r\n");
    check_ehlo_parse(&c, 250, &e);
    assert_true(e.done);
    assert_int_equal(e.code, 250);
    assert_int_equal(e.n_lines, 4);
    assert_string_equal(e.lines[0], "AUTH=LOGIN");
    assert_string_equal(e.lines[3], "X\001Y"); /* as sent: printers escape */
    assert_true(e.starttls);
    assert_true(e.auth);
    assert_string_equal(e.auth_mechs, "PLAIN LOGIN"); /* RFC 4954 form */
    check_conn_reply_text(&c, text, sizeof(text));
    assert_string_equal(text, "mx.example greets you AUTH=LOGIN auth PLAIN "
                              "LOGIN StartTLS X\001Y");
    smtp_reply_read_free(&c.rd);

    feed(&c, "502 5.5.1 No EHLO\r\n");
    check_ehlo_parse(&c, 502, &e);
    assert_false(e.done);
    assert_int_equal(e.code, 502);
    assert_int_equal(e.n_lines, 0);
    smtp_reply_read_free(&c.rd);
}

static void
test_unreachable(void **state)
{
    (void)state;
    struct srv_opts o = {0};
    struct check_options opt;
    struct check_report r;
    unsigned port;

    srv_stop(srv_start(&o, &port)); /* a port nobody listens on now */
    probe_opts(&opt, port, "");
    check_probe(&opt, &r);
    assert_false(r.connected);
    assert_non_null(strstr(r.connect_error, "Connection refused"));
    assert_int_equal(r.versions[CHECK_TLS1_3].result, CHECK_V_NOT_TESTED);
    check_report_free(&r);
}

static void
test_plaintext_auth_before_tls(void **state)
{
    (void)state;
    struct srv_opts o = {.auth = true};
    struct check_report r;

    probe_once(&o, SRV_NAME, &r);
    assert_true(r.connected);
    assert_int_equal(r.banner_code, 220);
    assert_string_equal(r.banner, SRV_NAME " ESMTP probe test");
    assert_true(r.ehlo_plain.done);
    assert_false(r.ehlo_plain.starttls);
    assert_true(r.ehlo_plain.auth);
    assert_string_equal(r.ehlo_plain.auth_mechs, "PLAIN LOGIN");
    assert_false(r.tls_ok);
    assert_string_equal(r.tls_error, "STARTTLS: 502 5.5.1 Not here");
    assert_int_equal(r.versions[CHECK_TLS1_2].result, CHECK_V_NOT_TESTED);
    assert_int_equal(r.starttls_injection, CHECK_INFO);
    assert_int_equal(r.renegotiation, CHECK_INFO);
    check_report_free(&r);
}

/* What every probe of the STARTTLS server finds, vulnerable or not. */
static void
assert_starttls_server(const struct check_report *r)
{
    assert_true(r->tls_ok);
    assert_string_equal(r->version, "TLSv1.3");
    assert_true(r->ehlo_plain.starttls);
    assert_true(r->ehlo_tls.done);
    assert_false(r->ehlo_tls.starttls);
    assert_int_equal(r->versions[CHECK_SSL3].result, CHECK_V_NOT_TESTED);
    assert_int_equal(r->versions[CHECK_TLS1_0].result, CHECK_V_REFUSED);
    assert_int_equal(r->versions[CHECK_TLS1_1].result, CHECK_V_REFUSED);
    assert_int_equal(r->versions[CHECK_TLS1_2].result, CHECK_V_ACCEPTED);
    assert_int_equal(r->versions[CHECK_TLS1_3].result, CHECK_V_ACCEPTED);
    /* OpenSSL's default TLS 1.3 suites. */
    assert_int_equal(r->versions[CHECK_TLS1_3].n_ciphers, 3);
    assert_true(r->versions[CHECK_TLS1_2].n_ciphers > 0);
    assert_int_equal(r->n_chain, 1);
    assert_string_equal(r->chain[0].info.subject, "CN=" SRV_NAME);
    assert_non_null(strstr(r->chain[0].pem, "BEGIN CERTIFICATE"));
    assert_true(r->chain_verified);
    assert_string_equal(r->verify_error, "");
    assert_int_equal(strcasecmp(r->group, "x25519"), 0);
    assert_int_equal(r->server_key_bits, 256);
    assert_false(r->ocsp_stapled);
    assert_true(r->resumption);
    assert_int_equal(r->renegotiation, CHECK_OK); /* OpenSSL 3 refuses */
    assert_false(r->compression);
}

static void
test_starttls_safe(void **state)
{
    (void)state;
    struct srv_opts o = {.starttls = true};
    struct check_options opt;
    struct check_report r;
    unsigned port;
    pid_t pid = srv_start(&o, &port);

    probe_opts(&opt, port, SRV_NAME);
    check_probe(&opt, &r);
    assert_starttls_server(&r);
    assert_true(r.name_matched);
    assert_string_equal(r.matched_name, SRV_NAME);
    assert_int_equal(r.starttls_injection, CHECK_OK);
    check_report_free(&r);

    /* Another name: the chain still verifies, the name does not match. */
    probe_opts(&opt, port, "other.probe.test");
    opt.ca_file = NULL; /* and the system store does not know our CA */
    check_probe(&opt, &r);
    srv_stop(pid);
    assert_false(r.name_matched);
    assert_false(r.chain_verified);
    assert_string_equal(r.verify_error,
                        "unable to get local issuer certificate");
    check_report_free(&r);
}

static void
test_starttls_injection(void **state)
{
    (void)state;
    struct srv_opts o = {.starttls = true, .vulnerable = true};
    struct check_report r;

    probe_once(&o, SRV_NAME, &r);
    assert_starttls_server(&r);
    assert_int_equal(r.starttls_injection, CHECK_FAIL);
    assert_non_null(strstr(r.starttls_injection_detail, "250 2.0.0 Ok"));
    check_report_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ehlo_parse),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_plaintext_auth_before_tls),
        cmocka_unit_test(test_starttls_safe),
        cmocka_unit_test(test_starttls_injection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
