/*
 * check_weak.c -- known weaknesses, each on a connection of its own:
 *  - STARTTLS command injection (the flaw of CVE-2011-0411, RFC 3207 4.2
 *    "the server MUST discard any knowledge obtained from the client"):
 *    "STARTTLS\r\nNOOP\r\n" in one write; a server that answers the NOOP
 *    inside TLS, before we sent anything there, took plaintext as if it
 *    came through TLS;
 *  - client-initiated renegotiation (RFC 5746; a cheap way to make the
 *    server work): SSL_renegotiate() on a TLS 1.2 (or older) session;
 *  - TLS compression (CRIME): negotiated when offered.
 *
 * Trust boundary: the server's answers are untrusted and only judged.
 */
#include "check/check_conn.h"

#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "tls/tls_ctx.h"

/* How long a vulnerable server gets to answer the injected NOOP: it does
 * so at once after the handshake, so a short wait is enough. */
#define CHECK_INJECTION_WAIT_MS 1500

static void
check_weak_set(enum check_level *level, char *detail, enum check_level l,
               const char *what, const char *why)
{
    *level = l;
    snprintf(detail, CHECK_TEXT_MAX, "%s%s%s", what, why[0] ? ": " : "", why);
}

/* After the handshake: is there a reply before we sent anything? */
static void
check_weak_injected(struct check_conn *c, struct check_report *r)
{
    char err[CHECK_ERR_MAX] = "", text[CHECK_ERR_MAX];
    unsigned wait = c->timeout_ms < CHECK_INJECTION_WAIT_MS
                        ? c->timeout_ms
                        : CHECK_INJECTION_WAIT_MS;
    int code = check_conn_reply_within(c, wait, true, err, sizeof(err));

    if (code > 0) {
        smtp_reply_read_text(&c->rd, text, sizeof(text));
        check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                       CHECK_FAIL, "the NOOP sent in plaintext with STARTTLS "
                       "was answered inside TLS", text);
        return;
    }
    if (code < 0) {
        check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                       CHECK_OK, "no reply inside TLS", err);
        return;
    }
    /* Make sure the TLS session works: our own NOOP is answered. */
    code = check_conn_command(c, "NOOP", err, sizeof(err));
    check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                   code > 0 ? CHECK_OK : CHECK_WARN,
                   code > 0 ? "input pipelined with STARTTLS was discarded"
                            : "no answer to NOOP inside TLS",
                   code > 0 ? "" : err);
}

void
check_weak_injection(const struct check_target *t, SSL_CTX *ctx,
                     struct check_report *r)
{
    struct check_conn c;
    char err[CHECK_ERR_MAX];
    struct check_tls_start ts = {.ctx = ctx, .name = t->name};

    if (t->mode != CHECK_MODE_STARTTLS) {
        check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                       CHECK_INFO, "implicit TLS has no STARTTLS", "");
        return;
    }
    int rc = check_conn_open(t, &c, err, sizeof(err)) < 0 ? -2 : 0;
    if (rc == 0 &&
        check_conn_starttls(t, &c, "STARTTLS\r\nNOOP", err, sizeof(err)) < 0)
        rc = -1;
    if (rc == 0)
        rc = check_conn_tls(&c, &ts, err, sizeof(err));
    if (rc == 0) {
        check_weak_injected(&c, r);
    } else if (rc == -2 && (c.ssl != NULL || c.fd < 0)) {
        /* The connection or handshake broke: no evidence either way. */
        check_probe_failed(r, err);
        check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                       CHECK_INFO, "not tested: the connection broke", err);
    } else {
        check_weak_set(&r->starttls_injection, r->starttls_injection_detail,
                       CHECK_WARN, "STARTTLS with a pipelined NOOP", err);
    }
    check_conn_close(&c);
}

/* Why no version up to TLS 1.2 can be tested: one broke (no evidence),
 * only TLS 1.3 is accepted, or none is. */
static const char *
check_weak_why_none(const struct check_report *r)
{
    for (int v = CHECK_TLS1_2; v >= CHECK_SSL3; v--)
        if (r->versions[v].result == CHECK_V_ERROR)
            return "the handshakes up to TLSv1.2 did not complete";
    if (r->versions[CHECK_TLS1_3].result == CHECK_V_ACCEPTED)
        return "TLS 1.3 only (it has neither renegotiation nor "
               "compression)";
    return "no TLS version was accepted";
}

/* The best accepted version up to TLS 1.2 (renegotiation and compression
 * do not exist in TLS 1.3, RFC 8446 4.1.2 / 1.2), or 0. */
static int
check_weak_version(const struct check_report *r)
{
    for (int v = CHECK_TLS1_2; v >= CHECK_SSL3; v--)
        if (r->versions[v].result == CHECK_V_ACCEPTED)
            return check_tls_number((enum check_version)v);
    return 0;
}

static void
check_weak_compression(SSL *ssl, struct check_report *r)
{
    const COMP_METHOD *comp = SSL_get_current_compression(ssl);
    STACK_OF(SSL_COMP) *ours = SSL_COMP_get_compression_methods();

    r->compression = comp != NULL;
    if (comp != NULL)
        snprintf(r->compression_detail, CHECK_TEXT_MAX, "negotiated: %s",
                 SSL_COMP_get_name(comp));
    else if (ours == NULL || sk_SSL_COMP_num(ours) == 0)
        snprintf(r->compression_detail, CHECK_TEXT_MAX, "not tested: this "
                 "OpenSSL build cannot offer compression");
    else
        snprintf(r->compression_detail, CHECK_TEXT_MAX, "refused");
}

/* Ask for a new handshake on the established session of c. */
static void
check_weak_renegotiate(struct check_conn *c, struct check_report *r)
{
    char err[CHECK_ERR_MAX] = "";
    int64_t deadline = check_now_ms() + c->timeout_ms;
    const char *secure = SSL_get_secure_renegotiation_support(c->ssl)
                             ? "" : " (no RFC 5746 secure renegotiation)";

    ERR_clear_error();
    if (SSL_renegotiate(c->ssl) != 1) {
        snprintf(r->renegotiation_detail, CHECK_TEXT_MAX, "OpenSSL would "
                 "not renegotiate%s: %s", secure,
                 tls_error_string(err, sizeof(err)));
        return;
    }
    for (;;) {
        ERR_clear_error();
        int rc = SSL_do_handshake(c->ssl);
        if (rc == 1) {
            r->renegotiation = CHECK_WARN;
            snprintf(r->renegotiation_detail, CHECK_TEXT_MAX,
                     "the server renegotiated at the client's request%s",
                     secure);
            return;
        }
        if (check_conn_ssl_wait(c, rc, deadline) < 0)
            break;
    }
    r->renegotiation = CHECK_OK;
    if (check_now_ms() >= deadline)
        snprintf(err, sizeof(err), "no answer within %u s",
                 c->timeout_ms / 1000);
    else
        tls_error_string(err, sizeof(err));
    snprintf(r->renegotiation_detail, CHECK_TEXT_MAX, "%s", err);
}

/* Renegotiation (level CHECK_INFO) and compression not tested. */
static void
check_weak_untested(struct check_report *r, const char *why)
{
    r->renegotiation = CHECK_INFO;
    snprintf(r->renegotiation_detail, CHECK_TEXT_MAX, "%s", why);
    snprintf(r->compression_detail, CHECK_TEXT_MAX, "not tested: %s", why);
}

void
check_weak_renegotiation(const struct check_target *t,
                         struct check_report *r)
{
    struct check_conn c;
    char err[CHECK_ERR_MAX];
    int version = check_weak_version(r);
    SSL_CTX *ctx = version ? check_tls_ctx(t, true, version, err,
                                           sizeof(err))
                           : NULL;
    struct check_tls_start ts = {.ctx = ctx, .name = t->name};

    if (version == 0) {
        check_weak_untested(r, check_weak_why_none(r));
        return;
    }
    if (ctx == NULL) {
        check_weak_untested(r, err);
        return;
    }
    enum check_open_result res = check_conn_open_tls(t, &c, &ts, err,
                                                     sizeof(err));
    if (res == CHECK_OPEN_TLS) {
        check_weak_compression(c.ssl, r);
        /* Implicit TLS: the greeting comes first; application data in
         * the middle of the new handshake would end it. */
        if (t->mode == CHECK_MODE_IMPLICIT && r->banner_code != 0)
            check_conn_reply(&c, err, sizeof(err));
        check_weak_renegotiate(&c, r);
    } else {
        if (res == CHECK_OPEN_ERROR)
            check_probe_failed(r, err);
        check_weak_untested(r, err);
    }
    check_conn_close(&c);
    SSL_CTX_free(ctx);
}
