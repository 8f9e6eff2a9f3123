/*
 * check_probe.c -- `tlsmta check`'s probe: what an expert does by hand
 * with telnet and openssl s_client, in order. The main connection reads
 * the greeting, EHLO before TLS (RFC 5321 4.1.1.1), STARTTLS (RFC 3207) or
 * implicit TLS (RFC 8314), the negotiated session and the chain, EHLO
 * after TLS, QUIT. Further connections (check_tls.c, check_session.c,
 * check_weak.c) test each version, enumerate suites, resume the session
 * and look for known weaknesses.
 *
 * Trust boundary: everything the server sends is untrusted; it reaches
 * the report bounded (the printers escape it).
 */
#include "check/check.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check/check_conn.h"
#include "check/check_internal.h"

#define CHECK_TIMEOUT_DEFAULT 10  /* seconds per step */

/* How the main connection ended. */
enum check_main_result {
    CHECK_MAIN_NO_TLS,            /* TLS not reached (tls_error says why) */
    CHECK_MAIN_TLS_FAILED,        /* the handshake failed */
    CHECK_MAIN_TLS_OK,
};

/* Copy src (len bytes) into dst, bounded, as sent: the printers escape
 * (text \xNN, JSON \uXXXX). Only NUL, which a C string cannot hold,
 * becomes '?'. */
static void
check_bounded_copy(const char *src, size_t len, char *dst, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;

    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] != '\0' ? src[i] : '?';
    dst[n] = '\0';
}

/* Note one keyword line of an EHLO reply (RFC 5321 4.1.1.1; RFC 3207 4
 * STARTTLS; RFC 4954 3 AUTH, and the pre-standard "AUTH=" some servers
 * still send). */
static void
check_ehlo_keyword(struct check_ehlo *e, const char *line)
{
    size_t kw = strcspn(line, " =");

    if (kw == 8 && strncasecmp(line, "STARTTLS", 8) == 0)
        e->starttls = true;
    if (kw != 4 || strncasecmp(line, "AUTH", 4) != 0)
        return;
    /* The standard "AUTH mechs" wins over "AUTH=mechs". */
    if (e->auth && line[kw] == '=')
        return;
    e->auth = true;
    snprintf(e->auth_mechs, sizeof(e->auth_mechs), "%s",
             line[kw] ? line + kw + 1 : "");
}

void
check_ehlo_parse(const struct check_conn *c, int code, struct check_ehlo *e)
{
    size_t len = 0;
    const char *p = smtp_reply_read_lines(&c->rd, &len), *end = p + len;

    memset(e, 0, sizeof(*e));
    e->code = code > 0 ? code : 0;
    e->done = code == 250;
    if (!e->done)
        return;
    /* The first line is the greeting; each one after it a keyword. */
    const char *nl = memchr(p, '\n', len);
    for (p = nl ? nl + 1 : end; p < end && e->n_lines < CHECK_EHLO_MAX;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t skip = n > 4 ? 4 : n; /* "250-" / "250 " */
        char *line = e->lines[e->n_lines++];
        check_bounded_copy(p + skip, n - skip, line, CHECK_TEXT_MAX);
        check_ehlo_keyword(e, line);
        p += n + 1;
    }
}

void
check_probe_failed(struct check_report *r, const char *err)
{
    if (r->probe_errors++ == 0)
        snprintf(r->probe_error, sizeof(r->probe_error), "%s", err);
}

/* Fill the not-tested reasons of every TLS part with why. */
static void
check_probe_untested(struct check_report *r, const char *why)
{
    for (int v = 0; v < CHECK_VERSIONS; v++) {
        r->versions[v].result = CHECK_V_NOT_TESTED;
        snprintf(r->versions[v].detail, sizeof(r->versions[v].detail), "%s",
                 why);
    }
    r->starttls_injection = CHECK_INFO;
    snprintf(r->starttls_injection_detail, CHECK_TEXT_MAX, "%s", why);
    r->renegotiation = CHECK_INFO;
    snprintf(r->renegotiation_detail, CHECK_TEXT_MAX, "%s", why);
    snprintf(r->compression_detail, CHECK_TEXT_MAX, "not tested: %s", why);
}

static void
check_probe_target(const struct check_options *opt, struct check_target *t)
{
    memset(t, 0, sizeof(*t));
    t->opt = opt;
    t->mode = check_mode_resolve(opt);
    t->timeout_ms = (opt->timeout ? opt->timeout : CHECK_TIMEOUT_DEFAULT) *
                    1000u;
    t->name = opt->servername[0] ? opt->servername : opt->host;
    if (opt->helo_name != NULL && opt->helo_name[0] != '\0')
        snprintf(t->helo, sizeof(t->helo), "%s", opt->helo_name);
    else if (gethostname(t->helo, sizeof(t->helo) - 1) < 0 ||
             t->helo[0] == '\0')
        snprintf(t->helo, sizeof(t->helo), "localhost");
}

/* Section 1: the greeting, timed from t0 (connection established).
 * Returns true for a 220, else false with the reason in why
 * (CHECK_TEXT_MAX bytes). */
static bool
check_probe_banner(struct check_conn *c, int64_t t0, struct check_report *r,
                   char *why)
{
    char err[CHECK_ERR_MAX];
    int code = check_conn_reply(c, err, sizeof(err));

    r->banner_seconds = (double)(check_now_ms() - t0) / 1000.0;
    r->banner_code = code > 0 ? code : 0;
    r->banner[0] = '\0';
    r->banner_error[0] = '\0';
    if (code > 0)
        check_conn_reply_text(c, r->banner, sizeof(r->banner));
    if (code == 220)
        return true;
    if (code <= 0) {
        /* Section 1 says why (malformed, closed, silent); TLS was only
         * not tested because of it. */
        snprintf(r->banner_error, sizeof(r->banner_error), "%s", err);
        snprintf(why, CHECK_TEXT_MAX, "no 220 greeting");
        return false;
    }
    check_conn_why(c, code, "no 220 greeting", err, sizeof(err));
    snprintf(why, CHECK_TEXT_MAX, "%s", err);
    return false;
}

/* EHLO into e. Returns true when answered 250, else false with the
 * reason in why (CHECK_TEXT_MAX bytes). */
static bool
check_probe_ehlo(const struct check_target *t, struct check_conn *c,
                 struct check_ehlo *e, char *why)
{
    char cmd[CHECK_HELO_MAX + 8], err[CHECK_ERR_MAX];

    snprintf(cmd, sizeof(cmd), "EHLO %s", t->helo);
    int code = check_conn_command(c, cmd, err, sizeof(err));
    check_ehlo_parse(c, code, e);
    if (code == 250)
        return true;
    if (code <= 0) {
        /* Sections 2 and 7 say why (malformed, closed, silent). */
        snprintf(e->error, sizeof(e->error), "%s", err);
        snprintf(why, CHECK_TEXT_MAX, "EHLO got no valid reply");
        return false;
    }
    check_conn_why(c, code, "EHLO", err, sizeof(err));
    snprintf(why, CHECK_TEXT_MAX, "%s", err);
    return false;
}

/* The plaintext part of a STARTTLS or plain session: greeting, EHLO and
 * STARTTLS with its 220. Returns true when TLS can start. */
static bool
check_probe_plain(const struct check_target *t, struct check_conn *c,
                  int64_t t0, struct check_report *r)
{
    char err[CHECK_ERR_MAX];

    if (!check_probe_banner(c, t0, r, r->tls_error))
        return false;
    if (!check_probe_ehlo(t, c, &r->ehlo_plain, r->tls_error))
        return false;
    if (t->mode == CHECK_MODE_PLAIN) {
        snprintf(r->tls_error, sizeof(r->tls_error), "not tested (--plain)");
        check_conn_command(c, "QUIT", err, sizeof(err));
        return false;
    }
    /* Tried even when not advertised: the reply says how it is refused. */
    int code = check_conn_command(c, "STARTTLS", err, sizeof(err));
    if (code == 220)
        return true;
    check_conn_why(c, code, "STARTTLS", err, sizeof(err));
    snprintf(r->tls_error, sizeof(r->tls_error), "%s", err);
    if (code > 0)
        check_conn_command(c, "QUIT", err, sizeof(err));
    return false;
}

/* Inside TLS: the greeting (implicit TLS), EHLO again (RFC 3207 4.2:
 * everything learnt before is forgotten), QUIT, and the session for
 * resumption (TLS 1.3 tickets arrive after the handshake, so it is taken
 * once replies were read). */
static void
check_probe_inside(const struct check_target *t, struct check_conn *c,
                   int64_t t0, struct check_report *r, SSL_SESSION **sess)
{
    char why[CHECK_TEXT_MAX];

    /* tls_error keeps why the session failed after the handshake (a TLS
     * 1.3 server refuses a client certificate only then). */
    if (t->mode != CHECK_MODE_IMPLICIT ||
        check_probe_banner(c, t0, r, r->tls_error)) {
        if (check_probe_ehlo(t, c, &r->ehlo_tls, why))
            check_conn_command(c, "QUIT", why, sizeof(why));
        else
            snprintf(r->tls_error, sizeof(r->tls_error), "after TLS: %.400s",
                     why);
    }
    *sess = SSL_get1_session(c->ssl);
}

/* One main session with ctx on c (open, established at t0). ctx NULL:
 * the plaintext part only, then TLS fails for ctx_err. */
static enum check_main_result
check_probe_session(const struct check_target *t, struct check_conn *c,
                    int64_t t0, SSL_CTX *ctx, const char *ctx_err,
                    struct check_report *r, SSL_SESSION **sess)
{
    char err[CHECK_ERR_MAX];
    struct check_tls_start ts = {.ctx = ctx, .name = t->name, .ocsp = true};

    if (t->mode != CHECK_MODE_IMPLICIT && !check_probe_plain(t, c, t0, r))
        return CHECK_MAIN_NO_TLS;
    if (ctx == NULL) {
        snprintf(r->tls_error, sizeof(r->tls_error), "%s", ctx_err);
        return CHECK_MAIN_NO_TLS;
    }
    if (check_conn_tls(c, &ts, err, sizeof(err)) < 0) {
        snprintf(r->tls_error, sizeof(r->tls_error), "TLS handshake "
                 "failed: %s", err);
        return CHECK_MAIN_TLS_FAILED;
    }
    r->tls_ok = true;
    r->tls_error[0] = '\0';
    check_session_describe(t, c->ssl, r);
    check_probe_inside(t, c, t0, r, sess);
    return CHECK_MAIN_TLS_OK;
}

/* A main session again on a new connection, at the best version with
 * everything this OpenSSL can offer, when our modern settings failed. */
static SSL_CTX *
check_probe_retry(const struct check_target *t, struct check_report *r,
                  SSL_SESSION **sess)
{
    struct check_conn c;
    char err[CHECK_ERR_MAX];
    SSL_CTX *ctx = check_tls_ctx(t, true, check_tls_best(r), err,
                                 sizeof(err));

    if (ctx == NULL)
        return NULL;
    if (check_conn_open(t, &c, err, sizeof(err)) == 0 &&
        check_probe_session(t, &c, check_now_ms(), ctx, "", r, sess) ==
            CHECK_MAIN_TLS_OK) {
        check_conn_close(&c);
        return ctx;
    }
    check_conn_close(&c);
    SSL_CTX_free(ctx);
    return NULL;
}

/* Everything after the main connection reached TLS (ctx: its context,
 * NULL when the handshake failed). */
static void
check_probe_tls(const struct check_target *t, SSL_CTX *ctx,
                SSL_SESSION *sess, struct check_report *r)
{
    check_tls_versions(t, r);
    if (ctx == NULL && check_tls_best(r) != 0)
        ctx = check_probe_retry(t, r, &sess);
    check_tls_session_evidence(r);
    if (ctx != NULL)
        check_session_resume(t, ctx, sess, r);
    check_tls_ciphers(t, r);
    check_tls_session_evidence(r);
    if (ctx != NULL)
        check_weak_injection(t, ctx, r);
    else
        snprintf(r->starttls_injection_detail, CHECK_TEXT_MAX,
                 "no TLS session could be established");
    check_weak_renegotiation(t, r);
    SSL_SESSION_free(sess);
    SSL_CTX_free(ctx);
}

/* The main connection, c open since t0. */
static void
check_probe_main(const struct check_target *t, struct check_conn *c,
                 int64_t t0, struct check_report *r)
{
    char err[CHECK_ERR_MAX] = "";
    SSL_SESSION *sess = NULL;
    SSL_CTX *ctx = t->mode == CHECK_MODE_PLAIN
                       ? NULL
                       : check_tls_ctx(t, false, 0, err, sizeof(err));
    enum check_main_result res =
        check_probe_session(t, c, t0, ctx, err, r, &sess);
    check_conn_close(c);
    if (res == CHECK_MAIN_NO_TLS) {
        check_probe_untested(r, r->tls_error);
        SSL_CTX_free(ctx);
        return;
    }
    if (res == CHECK_MAIN_TLS_FAILED) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    check_probe_tls(t, ctx, sess, r);
}

void
check_probe(const struct check_options *opt, struct check_report *r)
{
    struct check_target t;
    struct check_conn c;
    char err[CHECK_ERR_MAX];

    memset(r, 0, sizeof(*r));
    r->opt = *opt;
    r->starttls_injection = CHECK_INFO;
    r->renegotiation = CHECK_INFO;
    /* A server that drops the connection must not kill the probe when
     * OpenSSL writes to the socket. */
    signal(SIGPIPE, SIG_IGN);
    check_probe_target(opt, &t);
    if (check_conn_first(&t, &c, r->address, sizeof(r->address), err,
                         sizeof(err)) < 0) {
        snprintf(r->connect_error, sizeof(r->connect_error), "%s", err);
        check_probe_untested(r, "the server could not be reached");
        check_conn_close(&c);
        return;
    }
    r->connected = true;
    check_probe_main(&t, &c, check_now_ms(), r);
}

void
check_report_free(struct check_report *r)
{
    for (size_t i = 0; i < r->n_chain; i++) {
        free(r->chain[i].pem);
        r->chain[i].pem = NULL;
    }
    r->n_chain = 0;
}
