/*
 * check_conn_tls.c -- TLS on a probe connection: the STARTTLS preamble
 * (RFC 3207 4: greeting, EHLO, STARTTLS, 220) and the client handshake
 * through OpenSSL on the non-blocking socket, each step bounded by the
 * per-step timeout.
 *
 * Trust boundary: the server's replies and handshake messages are
 * untrusted; nothing learnt before TLS is kept after it (RFC 3207 4.2).
 */
#include "check/check_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "tls/tls_client.h"
#include "tls/tls_ctx.h"

/* Set up c->ssl for ts. Returns 0, or -1 (err). */
static int
check_conn_ssl_new(struct check_conn *c, const struct check_tls_start *ts,
                   char *err, size_t errlen)
{
    c->ssl = SSL_new(ts->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        snprintf(err, errlen, "cannot start TLS: out of memory");
        return -1;
    }
    /* RFC 6066 3: SNI for a name, never for an address literal. */
    if (tls_client_session_setup(c->ssl, ts->name) < 0) {
        snprintf(err, errlen, "cannot send the server name %s",
                 ts->name ? ts->name : "");
        return -1;
    }
    if (ts->session != NULL && SSL_set_session(c->ssl, ts->session) != 1) {
        snprintf(err, errlen, "cannot offer the saved session");
        return -1;
    }
    if (ts->ocsp)
        SSL_set_tlsext_status_type(c->ssl, TLSEXT_STATUSTYPE_ocsp);
    return 0;
}

/* True when the failed handshake (rc from SSL_connect) was a TLS-level
 * "no": an alert from the server (RFC 8446 6.2, RFC 5246 7.2.2) or a
 * choice OpenSSL rejects (a version or suite we did not offer). False
 * for a broken transport: EOF without an alert, a reset, or bytes that
 * are not TLS records at all -- those say nothing about what the server
 * accepts. */
static bool
check_conn_tls_refused(const struct check_conn *c, int rc)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);

    if (SSL_get_error(c->ssl, rc) != SSL_ERROR_SSL || e == 0 ||
        ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    return reason != SSL_R_UNEXPECTED_EOF_WHILE_READING &&
           reason != SSL_R_WRONG_VERSION_NUMBER &&
           reason != SSL_R_PACKET_LENGTH_TOO_LONG &&
           reason != SSL_R_RECORD_LENGTH_MISMATCH &&
           reason != SSL_R_LENGTH_TOO_SHORT &&
           reason != SSL_R_UNEXPECTED_RECORD;
}

/* Why the handshake (rc) failed, into err; returns -1 (refused) or -2
 * (transport). */
static int
check_conn_tls_why(struct check_conn *c, int rc, int64_t deadline,
                   char *err, size_t errlen)
{
    bool refused = check_conn_tls_refused(c, rc);

    if (check_now_ms() >= deadline)
        snprintf(err, errlen, "the handshake timed out");
    else if (!refused && ERR_peek_error() == 0)
        snprintf(err, errlen, "the server closed the connection "
                 "during the handshake%s%s", errno ? ": " : "",
                 errno ? strerror(errno) : "");
    else
        tls_error_string(err, errlen);
    return refused && check_now_ms() < deadline ? -1 : -2;
}

int
check_conn_tls(struct check_conn *c, const struct check_tls_start *ts,
               char *err, size_t errlen)
{
    /* RFC 3207 4: the server must not send anything after its 220 before
     * the handshake; such bytes could never be trusted. */
    if (c->in_off < c->in_len) {
        snprintf(err, errlen, "the server sent %zu bytes after its 220 "
                 "reply to STARTTLS, before TLS", c->in_len - c->in_off);
        return -2;
    }
    smtp_reply_read_reset(&c->rd);
    ERR_clear_error();
    if (check_conn_ssl_new(c, ts, err, errlen) < 0)
        return -2;
    int64_t deadline = check_now_ms() + c->timeout_ms;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(c->ssl);
        if (rc == 1)
            return 0;
        if (check_conn_ssl_wait(c, rc, deadline) == 0)
            continue;
        return check_conn_tls_why(c, rc, deadline, err, errlen);
    }
}

void
check_conn_why(const struct check_conn *c, int code, const char *what,
               char *err, size_t errlen)
{
    char text[CHECK_TEXT_MAX];

    if (code <= 0) {
        snprintf(text, sizeof(text), "%s", err);
        snprintf(err, errlen, "%s: %s", what, text);
        return;
    }
    smtp_reply_read_text(&c->rd, text, sizeof(text));
    snprintf(err, errlen, "%s: %s", what, text);
}

int
check_conn_starttls(const struct check_target *t, struct check_conn *c,
                    const char *cmd, char *err, size_t errlen)
{
    char ehlo[CHECK_HELO_MAX + 8];

    int code = check_conn_reply(c, err, errlen);
    if (code != 220) {
        check_conn_why(c, code, "greeting", err, errlen);
        return -1;
    }
    snprintf(ehlo, sizeof(ehlo), "EHLO %s", t->helo);
    code = check_conn_command(c, ehlo, err, errlen);
    if (code != 250) {
        check_conn_why(c, code, "EHLO", err, errlen);
        return -1;
    }
    code = check_conn_command(c, cmd, err, errlen);
    if (code != 220) {
        check_conn_why(c, code, "STARTTLS", err, errlen);
        return -1;
    }
    return 0;
}

enum check_open_result
check_conn_open_tls(const struct check_target *t, struct check_conn *c,
                    const struct check_tls_start *ts, char *err,
                    size_t errlen)
{
    if (check_conn_open(t, c, err, errlen) < 0)
        return CHECK_OPEN_ERROR;
    if (t->mode == CHECK_MODE_STARTTLS &&
        check_conn_starttls(t, c, "STARTTLS", err, errlen) < 0)
        return CHECK_OPEN_ERROR;
    switch (check_conn_tls(c, ts, err, errlen)) {
    case 0:
        return CHECK_OPEN_TLS;
    case -1:
        return CHECK_OPEN_REFUSED;
    default:
        return CHECK_OPEN_ERROR;
    }
}
