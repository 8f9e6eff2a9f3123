/*
 * relay_conn.c -- one SMTP connection of outbound delivery: a non-blocking
 * connect, the sans-I/O client session (smtp/smtp_client.c) driven by
 * libevent, STARTTLS (RFC 3207) or implicit TLS (RFC 8314) with the TLS
 * security level checked after the handshake, and the message content
 * streamed from the spool file.
 *
 * RFC 3207 4.2: after the server's 220 to STARTTLS, every byte it sent
 * before the handshake is discarded, and the session starts again with
 * EHLO (the client session does that part).
 *
 * Trust boundary: bytes from the remote server go to the client session
 * only; the TLS outcome is judged by tls/tls_client.c.
 */
#include "deliver/relay_internal.h"

#include "smtp/smtp_client.h"
#include "tls/tls_ctx.h"
#include "util/util_log.h"

#include <errno.h>
#include <openssl/err.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RELAY_CHUNK (64 * 1024)           /* bytes read from the spool */
#define RELAY_OUT_HIGH (256 * 1024)       /* pause reading the spool */
#define RELAY_DSN_TLS "4.7.5"             /* RFC 3463: cryptographic failure */
#define RELAY_DSN_CONNECT "4.4.1"         /* RFC 3463: no answer from host */
#define RELAY_DSN_LOST "4.4.2"            /* RFC 3463: bad connection */

static void relay_conn_read_cb(struct bufferevent *bev, void *arg);
static void relay_conn_write_cb(struct bufferevent *bev, void *arg);
static void relay_conn_event_cb(struct bufferevent *bev, short what,
                                void *arg);

/* ---- helpers ---------------------------------------------------------- */

static void
relay_addr_format(const struct sockaddr_storage *ss, char *out, size_t n)
{
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)
                              ->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)
                              ->sin_addr;
    if (evutil_inet_ntop(ss->ss_family, a, out, n) == NULL)
        snprintf(out, n, "?");
}

static void
relay_set_timeout(struct relay_job *job, unsigned seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    bufferevent_set_timeouts(job->conn->bev, &tv, &tv);
}

/* Hand what the client session wants to send to the socket. */
static void
relay_conn_flush(struct relay_job *job)
{
    size_t len;
    const char *out = smtp_client_output(job->conn->client, &len);
    if (len > 0) {
        bufferevent_write(job->conn->bev, out, len);
        smtp_client_output_clear(job->conn->client);
    }
}

static void relay_conn_end(struct relay_job *job);

/* The connection failed: pending recipients of a session that had passed
 * MAIL FROM are deferred through smtp_client_abort(); before that, the
 * reason is kept for the recipients in case every address fails. */
static void
relay_conn_fail(struct relay_job *job, const char *dsn, const char *what)
{
    struct relay_conn *c = job->conn;
    if (c->client != NULL)
        smtp_client_abort(c->client, what);
    snprintf(c->failure, sizeof(c->failure), "%s", what);
    snprintf(c->failure_dsn, sizeof(c->failure_dsn), "%s", dsn);
    relay_conn_end(job);
}

/* ---- the end of a connection ----------------------------------------- */

/* A reason of our own, naming the host: "... offered by host H" (Postfix
 * wording) or "... (host H)". */
static void
relay_local_text(const struct relay_job *job, char *dst, size_t n,
                 const char *text)
{
    size_t len = strlen(text);
    bool by_host = len >= 8 && strcmp(text + len - 8, " by host") == 0;
    if (strstr(text, job->relay_text) != NULL)
        relay_fmt(dst, n, "%s", text);
    else
        relay_fmt(dst, n, by_host ? "%s %s" : "%s (host %s)", text,
                  job->relay_text);
}

/* Copy the session's per-recipient results into the job, prefixing the
 * remote host ("host X[addr] said: ..."). Returns true if the session
 * asks for the next host instead. */
static bool
relay_conn_results(struct relay_job *job)
{
    struct smtp_client *cl = job->conn->client;
    bool next = smtp_client_try_next_host(cl);
    for (size_t i = 0; i < job->n_rcpts; i++) {
        const struct smtp_client_result *cr = smtp_client_rcpt_result(cl, i);
        struct relay_result *res = &job->results[i];
        if (cr == NULL || cr->status == SMTP_CLIENT_PENDING ||
            res->dsn[0] != '\0')
            continue;
        if (next && cr->code != 0) {
            relay_job_error(job, cr->dsn, "host %s said: %s", job->relay_text,
                            cr->text);
            continue;
        }
        if (next) {
            char text[RELAY_TEXT_MAX];
            relay_local_text(job, text, sizeof(text), cr->text);
            relay_job_error(job, cr->dsn, "%s", text);
            continue;
        }
        res->status = cr->status == SMTP_CLIENT_SENT      ? RELAY_SENT
                      : cr->status == SMTP_CLIENT_BOUNCED ? RELAY_BOUNCED
                                                          : RELAY_DEFERRED;
        snprintf(res->dsn, sizeof(res->dsn), "%s", cr->dsn);
        /* RFC 4954 6: 530 "authentication required" while we sent no
         * AUTH is our configuration's fault (no sasl_password_maps entry
         * for this next hop), not the message's: defer, never bounce. */
        if (cr->code == 530 && job->auth == NULL) {
            res->status = RELAY_DEFERRED;
            snprintf(res->dsn, sizeof(res->dsn), "4.7.0");
            log_warn("%s %s requires AUTH, but sasl_password_maps has no "
                     "entry for %s", job->m.id, job->relay_text, job->key);
        }
        if (cr->code != 0) {
            relay_fmt(res->text, sizeof(res->text), "host %s said: %s",
                      job->relay_text, cr->text);
            /* RFC 3464 2.3.6: the reply itself, without our comment. */
            const char *cut = strstr(cr->text, " (in reply to ");
            relay_fmt(res->diagnostic, sizeof(res->diagnostic), "%.*s",
                      cut ? (int)(cut - cr->text) : (int)strlen(cr->text),
                      cr->text);
        } else {
            relay_local_text(job, res->text, sizeof(res->text), cr->text);
        }
        snprintf(res->remote_mta, sizeof(res->remote_mta), "%s",
                 job->mx_hosts[job->i_mx]);
    }
    return next;
}

/* Take what the connection decided, then let relay.c go on (next address
 * or the end of the job). */
/* Log words for a session without TLS ("no TLS: not offered"). */
static void
relay_conn_no_tls(struct relay_job *job)
{
    const struct relay_conn *c = job->conn;
    const char *why = NULL;
    if (c->tls || job->tls_summary[0] != '\0')
        return;
    if (job->plaintext)
        why = "handshake failed, sent in plaintext (level may)";
    else if (job->level == CONFIG_TLS_LEVEL_NONE && !job->implicit_tls)
        why = "level none";
    else if (c->ehlo_done && !smtp_client_tls_offered(c->client))
        why = "not offered";
    if (why != NULL)
        relay_fmt(job->tls_summary, sizeof(job->tls_summary),
                  "\"no TLS: %s\"", why);
}

static void
relay_conn_end(struct relay_job *job)
{
    struct relay_conn *c = job->conn;
    relay_conn_no_tls(job);
    bool next = c->client == NULL || relay_conn_results(job);
    if (next && c->failure[0] != '\0')
        relay_job_error(job, c->failure_dsn, "%s", c->failure);
    /* One line per host that failed, so the reason of each is kept even
     * when the next host fails another way (Postfix does the same). */
    if (next && job->last_error[0] != '\0')
        log_warn("%s delivery via %s failed: %s",
                 job->m.id, job->relay_text, job->last_error);
    relay_conn_over(job);
}

void
relay_conn_free(struct relay_job *job)
{
    struct relay_conn *c = job->conn;
    if (c == NULL)
        return;
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (!c->bev_owns_fd && c->fd >= 0)
        close(c->fd);
    smtp_client_free(c->client);
    free(c);
    job->conn = NULL;
}

/* ---- TLS -------------------------------------------------------------- */

/* Names the server certificate must carry: verify checks the MX host name
 * (as Postfix's "hostname" match); secure the next-hop domain and its
 * subdomains, or the tls_policy match= list. */
static size_t
relay_tls_names(const struct relay_job *job, const char **names, size_t max,
                char (*dot)[RELAY_HOST_MAX + 1])
{
    const struct config_tls_policy *p = job->policy;
    size_t n = 0;
    /* Below secure, the words Verified/Trusted speak of the host we
     * connected to, as Postfix's "hostname" match. */
    if (job->level != CONFIG_TLS_LEVEL_SECURE && (p == NULL || !p->n_match)) {
        names[n++] = job->mx_hosts[job->i_mx];
        return n;
    }
    if (p == NULL || p->n_match == 0) {
        snprintf(*dot, sizeof(*dot), ".%s", job->host);
        names[n++] = job->host;
        names[n++] = *dot;
        return n;
    }
    for (size_t i = 0; i < p->n_match && n < max; i++) {
        if (strcmp(p->match[i], "nexthop") == 0) {
            names[n++] = job->host;
        } else if (strcmp(p->match[i], "dot-nexthop") == 0) {
            snprintf(*dot, sizeof(*dot), ".%s", job->host);
            names[n++] = *dot;
        } else {
            names[n++] = p->match[i];
        }
    }
    return n;
}

#define RELAY_TLS_NAMES_MAX 16

/* The handshake is done: judge the peer against the security level. */
static void
relay_tls_established(struct relay_job *job)
{
    struct relay_conn *c = job->conn;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    const char *names[RELAY_TLS_NAMES_MAX];
    char dot[RELAY_HOST_MAX + 1];
    char why[TLS_CLIENT_WHY_MAX], line[TLS_CLIENT_LOG_MAX];
    size_t n = relay_tls_names(job, names, RELAY_TLS_NAMES_MAX, &dot);

    c->tls_handshaking = false;
    c->tls = true;
    c->trust = tls_client_trust(ssl, names, n);
    tls_client_log_established(ssl, c->trust, job->mx_hosts[job->i_mx],
                               job->addr_text, job->port, line, sizeof(line));
    log_info("%s %s", job->m.id, line);
    snprintf(job->tls_summary, sizeof(job->tls_summary), "\"%s %s %s\"",
             tls_trust_words(c->trust), SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
    if (!tls_client_policy_ok(job->level, c->trust, ssl, why, sizeof(why))) {
        char what[RELAY_TEXT_MAX];
        relay_fmt(what, sizeof(what), "TLS is required (level %s), but %s",
                  config_tls_level_name(job->level), why);
        relay_conn_fail(job, RELAY_DSN_TLS, what);
        return;
    }
    relay_set_timeout(job, job->r->cfg->smtp_timeout);
    if (!job->implicit_tls)
        smtp_client_tls_done(c->client);
    relay_conn_flush(job);
}

/* Put an OpenSSL bufferevent on the socket: at once for implicit TLS, or
 * in place of the plain one after the server's 220 to STARTTLS. */
static int
relay_tls_begin(struct relay_job *job)
{
    struct relay_conn *c = job->conn;
    SSL *ssl = SSL_new(job->r->ssl_ctx);
    if (ssl == NULL ||
        tls_client_session_setup(ssl, job->mx_hosts[job->i_mx]) < 0) {
        SSL_free(ssl);
        return -1;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        job->r->base, c->fd, ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (c->bev != NULL) {
        /* RFC 3207 4.2: whatever the server sent before the handshake is
         * not trusted and is dropped. */
        bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
        bufferevent_free(c->bev); /* not CLOSE_ON_FREE: fd stays open */
    }
    c->bev = bev;
    c->bev_owns_fd = true;
    c->tls_handshaking = true;
    bufferevent_setcb(bev, relay_conn_read_cb, relay_conn_write_cb,
                      relay_conn_event_cb, job);
    relay_set_timeout(job, job->r->cfg->smtp_timeout);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return 0;
}

/* The handshake failed. Under "may", RFC 3207 allows going on in clear:
 * try this address again without TLS (the level was only opportunistic). */
static void
relay_tls_failed(struct relay_job *job, const char *reason)
{
    char what[RELAY_TEXT_MAX];
    job->conn->tls_failed = true;
    snprintf(what, sizeof(what), "TLS handshake failed: %s", reason);
    if (job->level == CONFIG_TLS_LEVEL_MAY && !job->implicit_tls) {
        log_warn("%s %s with %s; trying again without TLS", job->m.id, what,
                 job->relay_text);
        job->plaintext = true;
        snprintf(job->conn->failure, sizeof(job->conn->failure), "%s", what);
        relay_conn_free(job);
        relay_conn_start(job);
        return;
    }
    relay_fmt(job->tls_summary, sizeof(job->tls_summary),
              "\"no TLS: handshake failed\"");
    relay_conn_fail(job, RELAY_DSN_TLS, what);
}

/* ---- content ---------------------------------------------------------- */

/* Stream the spool content through the dot-stuffer while the socket keeps
 * up; the write callback calls again once the output drains. */
static void
relay_content_pump(struct relay_job *job)
{
    struct relay_conn *c = job->conn;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char buf[RELAY_CHUNK];
    while (c->content && evbuffer_get_length(out) < RELAY_OUT_HIGH) {
        uint64_t left = job->m.size - c->content_sent;
        if (left == 0) {
            c->content = false;
            smtp_client_content_end(c->client);
            relay_conn_flush(job);
            return;
        }
        size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        ssize_t got = pread(job->m.fd, buf, want,
                            job->m.offset + (off_t)c->content_sent);
        if (got <= 0) {
            char what[128];
            snprintf(what, sizeof(what), "cannot read the queue file: %s",
                     got < 0 ? strerror(errno) : "truncated");
            c->content = false;
            relay_conn_fail(job, "4.3.0", what);
            return;
        }
        smtp_client_content(c->client, buf, (size_t)got);
        c->content_sent += (uint64_t)got;
        relay_conn_flush(job);
    }
}

/* ---- the session ------------------------------------------------------ */

static void
relay_conn_action(struct relay_job *job, enum smtp_client_action a)
{
    struct relay_conn *c = job->conn;
    const char *stage = smtp_client_stage(c->client);
    /* Past EHLO: the server's extensions (STARTTLS or not) are known. */
    c->ehlo_done |= strcmp(stage, "greeting") != 0 &&
                    strcmp(stage, "EHLO") != 0 && strcmp(stage, "HELO") != 0;
    relay_conn_flush(job);
    switch (a) {
    case SMTP_CLIENT_WANT_READ:
        return;
    case SMTP_CLIENT_STARTTLS:
        evbuffer_drain(bufferevent_get_input(c->bev),
                       evbuffer_get_length(bufferevent_get_input(c->bev)));
        if (relay_tls_begin(job) < 0) {
            char err[256];
            relay_conn_fail(job, RELAY_DSN_TLS,
                            tls_error_string(err, sizeof(err)));
        }
        return;
    case SMTP_CLIENT_SEND_CONTENT:
        c->content = true;
        relay_content_pump(job);
        return;
    case SMTP_CLIENT_DONE:
        c->content = false; /* the session ended while we sent content */
        c->closing = true;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            relay_conn_end(job);
        return;
    }
}

static void
relay_conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct relay_job *job = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (job->conn != NULL && job->conn->bev == bev && !job->conn->closing) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            return;
        size_t len = v.iov_len;
        enum smtp_client_action a =
            smtp_client_feed(job->conn->client, v.iov_base, len);
        evbuffer_drain(in, len);
        relay_conn_action(job, a);
        if (a != SMTP_CLIENT_WANT_READ)
            return;
    }
}

static void
relay_conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct relay_job *job = arg;
    struct relay_conn *c = job->conn;
    (void)bev;
    if (c->content)
        relay_content_pump(job);
    else if (c->closing &&
             evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        relay_conn_end(job);
}

/* Why the socket failed, in words (the pending error of a failed
 * connect is in SO_ERROR). */
static const char *
relay_socket_error(const struct relay_conn *c, short what)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0)
        err = errno;
    if (what & BEV_EVENT_TIMEOUT)
        return "timed out";
    if (what & BEV_EVENT_EOF)
        return "connection closed by the server";
    return err != 0 ? evutil_socket_error_to_string(err) : "failed";
}

/* OpenSSL's reasons for a failed handshake: libevent moves them from
 * OpenSSL's error queue into the bufferevent. Writes "" if none. */
static void
relay_tls_reason(struct bufferevent *bev, char *dst, size_t n)
{
    size_t used = 0;
    unsigned long e;
    dst[0] = '\0';
    while ((e = bufferevent_get_openssl_error(bev)) != 0) {
        const char *r = ERR_reason_error_string(e);
        int k = snprintf(dst + used, n - used, "%s%s", used ? "; " : "",
                         r ? r : "unknown");
        if (k > 0 && (size_t)k < n - used)
            used += (size_t)k;
    }
}

static void
relay_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct relay_job *job = arg;
    struct relay_conn *c = job->conn;
    char reason[RELAY_TEXT_MAX];
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        if (c->tls_handshaking)
            relay_tls_established(job);
        else
            relay_set_timeout(job, job->r->cfg->smtp_timeout);
        return;
    }
    if (c->closing) {
        relay_conn_end(job); /* the server closed after QUIT: fine */
        return;
    }
    char err[256] = "";
    if (c->tls_handshaking)
        relay_tls_reason(c->bev, err, sizeof(err));
    if (!c->connected && err[0] == '\0') {
        snprintf(reason, sizeof(reason), "connect to %s: %s", job->relay_text,
                 relay_socket_error(c, what));
        relay_conn_fail(job, RELAY_DSN_CONNECT, reason);
        return;
    }
    if (c->tls_handshaking) {
        relay_tls_failed(job, err[0] ? err : relay_socket_error(c, what));
        return;
    }
    /* The session says where it was: "lost connection with H while
     * sending RCPT TO". */
    relay_fmt(reason, sizeof(reason), "%s with %s",
              (what & BEV_EVENT_TIMEOUT) ? "conversation timed out"
                                         : "lost connection",
              job->relay_text);
    smtp_client_abort(c->client, reason);
    relay_conn_end(job);
}

/* ---- start ------------------------------------------------------------ */

static enum smtp_client_tls
relay_client_tls(const struct relay_job *job)
{
    if (job->implicit_tls)
        return SMTP_CLIENT_TLS_IMPLICIT;
    if (job->plaintext || job->level == CONFIG_TLS_LEVEL_NONE)
        return SMTP_CLIENT_TLS_NONE;
    return job->level == CONFIG_TLS_LEVEL_MAY ? SMTP_CLIENT_TLS_MAY
                                              : SMTP_CLIENT_TLS_MUST;
}

static struct smtp_client *
relay_client_new(const struct relay_job *job)
{
    const struct config *cfg = job->r->cfg;
    struct smtp_client_params p = {
        .helo_name = cfg->outbound_helo_name ? cfg->outbound_helo_name
                                             : cfg->hostname,
        .sender = job->m.sender,
        .rcpts = job->rcpts,
        .n_rcpts = job->n_rcpts,
        .size = job->m.size,
        .body_8bitmime = job->m.body_8bitmime,
        .smtputf8 = job->m.smtputf8,
        .tls = relay_client_tls(job),
        .auth_user = job->auth ? job->auth->user : NULL,
        .auth_pass = job->auth ? job->auth->password : NULL,
    };
    return smtp_client_new(&p);
}

static int
relay_socket(struct relay_job *job, struct sockaddr_storage *ss,
             socklen_t *len)
{
    int one = 1;
    *ss = job->addrs[job->i_addr];
    if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)job->port);
        *len = sizeof(struct sockaddr_in6);
    } else {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)job->port);
        *len = sizeof(struct sockaddr_in);
    }
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd >= 0) /* DESIGN.md: no Nagle delay behind small commands */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

void
relay_conn_start(struct relay_job *job)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct relay_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        relay_job_error(job, "4.3.0", "out of memory");
        job->i_addr = job->n_addrs;
        job->i_mx = job->n_mx;
        relay_conn_over(job);
        return;
    }
    c->fd = -1;
    job->conn = c;
    job->n_tries++;
    relay_addr_format(&job->addrs[job->i_addr], job->addr_text,
                      sizeof(job->addr_text));
    snprintf(job->relay_text, sizeof(job->relay_text), "%s[%s]:%u",
             job->mx_hosts[job->i_mx], job->addr_text, job->port);
    job->tls_summary[0] = '\0';
    c->fd = relay_socket(job, &ss, &len);
    c->client = relay_client_new(job);
    if (c->fd < 0 || c->client == NULL) {
        relay_conn_fail(job, RELAY_DSN_CONNECT,
                        c->fd < 0 ? "cannot create a socket"
                                  : "out of memory");
        return;
    }
    if (job->implicit_tls) {
        if (relay_tls_begin(job) < 0) {
            relay_conn_fail(job, RELAY_DSN_TLS, "TLS setup failed");
            return;
        }
    } else {
        /* Not CLOSE_ON_FREE: STARTTLS frees this one and keeps the fd. */
        c->bev = bufferevent_socket_new(job->r->base, c->fd, 0);
        if (c->bev == NULL) {
            relay_conn_fail(job, RELAY_DSN_CONNECT, "out of memory");
            return;
        }
        bufferevent_setcb(c->bev, relay_conn_read_cb, relay_conn_write_cb,
                          relay_conn_event_cb, job);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    }
    struct timeval tv = {.tv_sec = job->r->cfg->smtp_connect_timeout};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss,
                                   (int)len) < 0) {
        char what[RELAY_TEXT_MAX];
        snprintf(what, sizeof(what), "connect to %s: %s", job->relay_text,
                 strerror(errno));
        relay_conn_fail(job, RELAY_DSN_CONNECT, what);
    }
}
