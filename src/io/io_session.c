/*
 * io_session.c -- one SMTP connection driven by libevent.
 *
 * Reads bytes from a bufferevent (plain socket, then OpenSSL after
 * STARTTLS, or OpenSSL from the start on an implicit-TLS listener), feeds
 * them to the sans-I/O smtp_server session and writes its replies back.
 * The hooks below answer the session's policy questions (local domains,
 * relay) and store accepted messages in the spool.
 *
 * Trust boundary: every byte read here comes from the network.
 */
#include "io/io_session.h"
#include "io/io_session_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "io/io_commit.h"
#include "queue/spool.h"
#include "smtp/smtp_received.h"
#include "smtp/smtp_server.h"
#include "tls/tls_ctx.h"
#include "tls/tls_describe.h"
#include "util/util_log.h"

/* One reply buffer for the whole process: replies are copied into the
 * bufferevent as soon as the session has produced them. */
struct buf io_out;
static unsigned long io_session_counter;

static void io_session_read_cb(struct bufferevent *bev, void *arg);
static void io_session_write_cb(struct bufferevent *bev, void *arg);
static void io_session_event_cb(struct bufferevent *bev, short what,
                                void *arg);

/* ---- policy and storage hooks ---------------------------------------- */

static enum smtp_rcpt_verdict
io_rcpt_check_cb(void *ctx, const struct smtp_session_view *sv,
                 const struct smtp_address *rcpt)
{
    struct io_session *s = ctx;
    const struct config *cfg = s->sh->cfg;
    char local[SMTP_LOCAL_PART_MAX + 1];

    if (smtp_address_unquote_local(rcpt->local, local, sizeof(local)) < 0)
        local[0] = '\0';
    /* RFC 5321 4.5.1: postmaster at our own name is always accepted (the
     * session turns a bare <postmaster> into postmaster@hostname). */
    if (strcasecmp(local, "postmaster") == 0 &&
        strcasecmp(rcpt->domain, cfg->hostname) == 0)
        return SMTP_RCPT_OK;
    if (config_is_local_domain(cfg, rcpt->domain)) {
        if (local[0] == '\0')
            return SMTP_RCPT_UNKNOWN_USER;
        return config_is_local_recipient(cfg, local, rcpt->domain)
                   ? SMTP_RCPT_OK
                   : SMTP_RCPT_UNKNOWN_USER;
    }
    /* Never an open relay (DESIGN.md invariants): only an authenticated
     * client, or one in mynetworks, may send to a domain that is not
     * ours. */
    return sv->authenticated || s->cert_relay || s->mynetworks
               ? SMTP_RCPT_OK
               : SMTP_RCPT_RELAY_DENIED;
}

static char *
io_address_text(const struct smtp_address *a)
{
    char *s = NULL;
    if (a->local[0] == '\0' && a->domain[0] == '\0')
        return strdup("");
    if (a->domain[0] == '\0')
        return strdup(a->local);
    if (asprintf(&s, "%s@%s", a->local, a->domain) < 0)
        return NULL;
    return s;
}

static int
io_write_received(struct io_session *s, const struct smtp_session_view *sv,
                  const struct smtp_transaction *t)
{
    struct buf hdr;
    char *for_rcpt = t->n_rcpts == 1 ? io_address_text(&t->rcpts[0]) : NULL;
    struct smtp_received_info ri = {
        .helo_name = sv->helo_name,
        .client_name = NULL,
        .client_addr = s->addr,
        .by_host = s->sh->cfg->hostname,
        .protocol = sv->tls ? (sv->authenticated ? "ESMTPSA" : "ESMTPS")
                            : (sv->esmtp ? (sv->authenticated ? "ESMTPA"
                                                               : "ESMTP")
                                         : "SMTP"),
        .tls = sv->tls ? s->tls_received : NULL,
        .tls_client = sv->tls ? s->tls_client_received : NULL,
        .auth_user = sv->authenticated && s->sh->cfg->received_auth_user
                         ? sv->auth_user
                         : NULL,
        .queue_id = spool_msg_id(s->msg),
        .for_rcpt = for_rcpt,
        .when = time(NULL),
    };
    buf_init(&hdr, IO_RECEIVED_MAX);
    int r = smtp_received_format(&hdr, &ri);
    if (r == 0)
        r = spool_msg_write(s->msg, hdr.data, hdr.len);
    buf_free(&hdr);
    free(for_rcpt);
    return r;
}

static int
io_msg_begin_cb(void *ctx, const struct smtp_session_view *sv,
                const struct smtp_transaction *t)
{
    struct io_session *s = ctx;
    char **rcpts = calloc(t->n_rcpts ? t->n_rcpts : 1, sizeof(*rcpts));
    char *sender = io_address_text(&t->sender);
    int r = SPOOL_ERR_IO;

    if (rcpts == NULL || sender == NULL)
        goto out;
    for (size_t i = 0; i < t->n_rcpts; i++)
        if ((rcpts[i] = io_address_text(&t->rcpts[i])) == NULL)
            goto out;
    struct spool_envelope env = {
        .sender = sender,
        .rcpts = (const char *const *)rcpts,
        .n_rcpts = t->n_rcpts,
        .client_addr = s->addr,
        .helo_name = sv->helo_name,
        .smtputf8 = t->smtputf8,
        .body_8bitmime = t->body_8bitmime,
    };
    r = spool_msg_begin(s->sh->spool, &env, time(NULL), &s->msg);
    if (r == 0 && (r = io_write_received(s, sv, t)) != 0) {
        spool_msg_abort(s->msg);
        s->msg = NULL;
    }
    if (r == 0) {
        free(s->msg_sender);
        s->msg_sender = sender;
        sender = NULL;
        s->msg_nrcpt = t->n_rcpts;
    }
out:
    if (r != 0)
        log_err("%s spool error=%s client=%s", s->id,
                r == SPOOL_ERR_NOSPACE ? "no space" : strerror(errno),
                s->addr);
    if (rcpts != NULL)
        for (size_t i = 0; i < t->n_rcpts; i++)
            free(rcpts[i]);
    free(rcpts);
    free(sender);
    return r == 0 ? 0 : -1;
}

static int
io_msg_write_cb(void *ctx, const char *data, size_t len, bool *nospace)
{
    struct io_session *s = ctx;
    int r = s->msg ? spool_msg_write(s->msg, data, len) : SPOOL_ERR_IO;
    if (r == SPOOL_ERR_NOSPACE)
        *nospace = true;
    return r == 0 ? 0 : -1;
}

static void
io_wake_queue_manager(struct io_shared *sh)
{
    /* A full pipe already holds a wake-up; EAGAIN is fine. */
    if (sh->wake_fd >= 0 && write(sh->wake_fd, "m", 1) < 0 &&
        errno != EAGAIN)
        log_warn("queue manager wake-up failed: %s", strerror(errno));
}

static void
io_log_queued(struct io_session *s, const char *queue_id, uint64_t size)
{
    log_info("%s queued from=<%s> size=%llu nrcpt=%zu session=%s client=%s "
             "tls=%s", queue_id, s->msg_sender ? s->msg_sender : "",
             (unsigned long long)size, s->msg_nrcpt, s->id, s->addr,
             s->tls ? s->tls_version : "none");
}

/* Map a spool result to the session's; log the outcome. */
static enum smtp_store_result
io_store_result(struct io_session *s, int r, const char *queue_id,
                uint64_t size)
{
    if (r == 0) {
        io_log_queued(s, queue_id, size);
        io_wake_queue_manager(s->sh);
        return SMTP_STORE_OK;
    }
    log_err("%s spool commit failed queue_id=%s error=%s client=%s", s->id,
            queue_id, r == SPOOL_ERR_NOSPACE ? "no space" : "I/O", s->addr);
    return r == SPOOL_ERR_NOSPACE ? SMTP_STORE_NOSPACE : SMTP_STORE_TEMPFAIL;
}

static enum smtp_store_result
io_msg_commit_cb(void *ctx, char *queue_id, size_t queue_id_size)
{
    struct io_session *s = ctx;

    if (s->msg == NULL)
        return SMTP_STORE_TEMPFAIL;
    snprintf(queue_id, queue_id_size, "%s", spool_msg_id(s->msg));
    uint64_t size = spool_msg_size(s->msg);
    struct spool_msg *m = s->msg;
    s->msg = NULL;
    if (s->sh->committer != NULL) {
        /* Group commit: the 250 goes out from io_session_commit_done_cb. */
        snprintf(s->commit_id, sizeof(s->commit_id), "%s", queue_id);
        s->commit_size = size;
        s->commit.msg = m;
        s->commit_pending = true;
        io_committer_submit(s->sh->committer, &s->commit);
        return SMTP_STORE_PENDING;
    }
    return io_store_result(s, spool_msg_commit(m), queue_id, size);
}

static void
io_msg_abort_cb(void *ctx)
{
    struct io_session *s = ctx;
    if (s->msg != NULL)
        spool_msg_abort(s->msg);
    s->msg = NULL;
}

/* ---- life cycle ------------------------------------------------------ */

static void
io_session_log_end(struct io_session *s)
{
    static const struct {
        const char *name;
        size_t off;
    } verbs[] = {
#define V(n) {#n, offsetof(struct smtp_server_counts, n)}
        V(ehlo), V(helo), V(starttls), V(auth), V(mail), V(rcpt), V(data),
        V(rset), V(noop), V(vrfy), V(help), V(quit), V(unknown),
#undef V
    };
    char line[512];
    size_t used = 0;
    const struct smtp_server_counts *c = smtp_server_counts(s->smtp);

    line[0] = '\0';
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        unsigned n = *(const unsigned *)((const char *)c + verbs[i].off);
        if (n == 0)
            continue;
        int w = snprintf(line + used, sizeof(line) - used, " %s=%u",
                         verbs[i].name, n);
        if (w > 0 && (size_t)w < sizeof(line) - used)
            used += (size_t)w;
    }
    log_info("%s disconnect client=%s tls=%s%s%s%s commands=%u", s->id,
             s->addr, s->tls ? s->tls_version : "none", s->tls ? "/" : "",
             s->tls ? s->tls_cipher : "", line, c->total);
}

/* Close the connection and release everything but the struct itself.
 * Runs once. */
static void
io_session_release(struct io_session *s)
{
    if (s->released)
        return;
    s->released = true;
    if (s->handshake_timer != NULL)
        event_free(s->handshake_timer);
    s->handshake_timer = NULL;
    if (s->smtp != NULL) {
        io_session_log_end(s);
        smtp_server_free(s->smtp);
        s->smtp = NULL;
    }
    /* After smtp_server_free(), which may still call auth_abort. */
    io_auth_release(s);
    if (s->msg != NULL)
        spool_msg_abort(s->msg);
    s->msg = NULL;
    if (s->bev != NULL)
        bufferevent_free(s->bev);
    s->bev = NULL;
    if (!s->bev_owns_fd)
        evutil_closesocket(s->fd);
    if (s->prev)
        s->prev->next = s->next;
    else
        s->sh->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->sh->n_sessions--;
}

/* End the session. While its message is at the committer the struct stays
 * (the commit request lives in it) and io_session_commit_done_cb frees it. */
static void
io_session_free(struct io_session *s)
{
    io_session_release(s);
    if (s->commit_pending)
        return;
    free(s->msg_sender);
    free(s->tls_client_received);
    free(s);
}

void
io_session_send(struct io_session *s)
{
    if (io_out.len > 0) {
        bufferevent_write(s->bev, io_out.data, io_out.len);
        buf_reset(&io_out);
    }
}

/* Write what is pending, then close once it has left (write callback). */
static void
io_session_close_after_flush(struct io_session *s)
{
    io_session_send(s);
    s->phase = IO_PHASE_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        io_session_free(s);
}

static void
io_session_set_timeout(struct io_session *s, unsigned seconds)
{
    struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
    bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* smtpd_tls_timeout bounds the whole handshake, not only the silence
 * between two bytes: a client dribbling a ClientHello cannot hold a slot. */
static void
io_session_handshake_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct io_session *s = arg;
    (void)fd;
    (void)what;
    log_warn("%s tls handshake failed client=%s reason=handshake not "
             "finished in %u s", s->id, s->addr,
             s->sh->cfg->smtpd_tls_timeout);
    io_session_free(s);
}

static int
io_session_arm_handshake_timer(struct io_session *s)
{
    struct timeval tv = {.tv_sec = s->sh->cfg->smtpd_tls_timeout};
    s->handshake_timer =
        evtimer_new(s->sh->base, io_session_handshake_timeout_cb, s);
    return s->handshake_timer ? evtimer_add(s->handshake_timer, &tv) : -1;
}

static struct bufferevent *
io_session_tls_bev(struct io_session *s)
{
    SSL *ssl = SSL_new(s->sh->tls_ctx);
    if (ssl == NULL)
        return NULL;
    if (tls_server_session_setup(ssl, s->lst->client_certificates) < 0) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        s->sh->base, s->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client that drops the TCP connection without close_notify is
     * treated as an ordinary end of the session. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    s->bev_owns_fd = true;
    bufferevent_setcb(bev, io_session_read_cb, io_session_write_cb,
                      io_session_event_cb, s);
    s->bev = bev;
    s->phase = IO_PHASE_HANDSHAKE;
    io_session_set_timeout(s, s->sh->cfg->smtpd_tls_timeout);
    if (io_session_arm_handshake_timer(s) < 0)
        log_warn("%s cannot arm the handshake timer", s->id);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return bev;
}

/* The 220 Ready to start TLS has been written: swap the plain bufferevent
 * for an OpenSSL one on the same socket. Input was discarded already. */
static void
io_session_starttls_begin(struct io_session *s)
{
    struct bufferevent *plain = s->bev;
    if (io_session_tls_bev(s) == NULL) {
        log_err("%s tls setup failed client=%s", s->id, s->addr);
        s->bev = plain;
        io_session_free(s);
        return;
    }
    bufferevent_free(plain);
}

static void
io_session_tls_done(struct io_session *s)
{
    struct tls_info *ti = malloc(sizeof(*ti)); /* ~1.7 kB: not on an idle
                                                  session, not on the stack */
    char client[TLS_LOG_CLIENT_MAX];

    if (s->handshake_timer != NULL)
        event_free(s->handshake_timer);
    s->handshake_timer = NULL;
    if (ti == NULL) {
        io_session_free(s);
        return;
    }
    tls_describe(bufferevent_openssl_get_ssl(s->bev), ti);
    s->tls = true;
    snprintf(s->tls_version, sizeof(s->tls_version), "%s", ti->version);
    snprintf(s->tls_cipher, sizeof(s->tls_cipher), "%s", ti->cipher);
    tls_info_received(ti, s->tls_received, sizeof(s->tls_received));
    char received_client[TLS_RECEIVED_CLIENT_MAX];
    s->tls_client_received = strdup(
        tls_info_received_client(ti, received_client, sizeof(received_client)));
    log_info("%s tls established client=%s version=%s cipher=%s bits=%d "
             "group=%s %s",
             s->id, s->addr, ti->version, ti->cipher, ti->bits,
             ti->group[0] ? ti->group : "none",
             tls_info_log_client(ti, client, sizeof(client)));
    io_auth_tls_started(s, ti);
    free(ti);
    s->phase = IO_PHASE_SMTP;
    io_session_set_timeout(s, s->sh->cfg->smtpd_timeout);
    smtp_server_tls_started(s->smtp);
    if (s->lst->tls == CONFIG_TLS_IMPLICIT) {
        smtp_server_greeting(s->smtp, &io_out);
        io_session_send(s);
    }
    /* The client may have sent its EHLO with its last handshake flight. */
    io_session_resume(s);
}

/* RFC 3207 4.2: bytes sent after the STARTTLS line and before the
 * handshake are discarded, never executed. */
static void
io_session_starttls(struct io_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t junk = evbuffer_get_length(in);
    if (junk > 0)
        log_warn("%s discarded %zu bytes pipelined after STARTTLS client=%s",
                 s->id, junk, s->addr);
    evbuffer_drain(in, junk);
    bufferevent_disable(s->bev, EV_READ);
    io_session_send(s);
    s->phase = IO_PHASE_STARTTLS_FLUSH;
}

/* ---- libevent callbacks --------------------------------------------- */

/* Feed up to IO_FEED_IOV chunks of input to the session. */
static enum smtp_server_action
io_session_feed(struct io_session *s, struct evbuffer *in)
{
    struct evbuffer_iovec v[IO_FEED_IOV];
    enum smtp_server_action act = SMTP_ACTION_NONE;
    size_t used = 0;
    int n = evbuffer_peek(in, -1, NULL, v, IO_FEED_IOV);

    if (n > IO_FEED_IOV)
        n = IO_FEED_IOV;
    for (int i = 0; i < n && act == SMTP_ACTION_NONE; i++)
        used += smtp_server_feed(s->smtp, v[i].iov_base, v[i].iov_len,
                                 &io_out, &act);
    evbuffer_drain(in, used);
    return act;
}

static void
io_session_read_cb(struct bufferevent *bev, void *arg)
{
    struct io_session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (s->phase == IO_PHASE_SMTP && evbuffer_get_length(in) > 0) {
        enum smtp_server_action act = io_session_feed(s, in);
        if (act == SMTP_ACTION_STARTTLS) {
            io_session_starttls(s);
            return;
        }
        if (act == SMTP_ACTION_CLOSE) {
            io_session_close_after_flush(s);
            return;
        }
        if (io_auth_tarpit(s))
            return; /* resumed when the tarpit timer fires */
        io_session_send(s);
        if (act == SMTP_ACTION_STORE_PENDING)
            return; /* resumed by io_session_commit_done_cb */
    }
}

void
io_session_resume(struct io_session *s)
{
    if (s->phase == IO_PHASE_SMTP &&
        evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
        io_session_read_cb(s->bev, s);
}

void
io_session_commit_done_cb(struct io_commit *c, void *arg)
{
    struct io_session *s =
        (struct io_session *)((char *)c - offsetof(struct io_session, commit));
    (void)arg;

    s->commit_pending = false;
    enum smtp_store_result sr =
        io_store_result(s, c->result, s->commit_id, s->commit_size);
    if (s->released) {
        if (sr == SMTP_STORE_OK)
            log_info("%s client=%s left before the reply to DATA; queue_id=%s "
                     "is queued and will be delivered", s->id, s->addr,
                     s->commit_id);
        io_session_free(s);
        return;
    }
    smtp_server_store_done(s->smtp, sr, s->commit_id, &io_out);
    io_session_send(s);
    /* Commands pipelined behind the data wait in the input buffer. */
    io_session_resume(s);
}

static void
io_session_write_cb(struct bufferevent *bev, void *arg)
{
    struct io_session *s = arg;
    /* The OpenSSL bufferevent may call this with output still queued
     * (after a partial write); act only once everything has gone out. */
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (s->phase == IO_PHASE_STARTTLS_FLUSH)
        io_session_starttls_begin(s);
    else if (s->phase == IO_PHASE_CLOSING)
        io_session_free(s);
}

static void
io_session_log_tls_error(struct io_session *s, short what)
{
    char reason[512] = "";
    size_t used = 0;
    unsigned long e;

    while ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
        const char *r = ERR_reason_error_string(e);
        int n = snprintf(reason + used, sizeof(reason) - used, "%s%s",
                         used ? "; " : "", r ? r : "unknown");
        if (n > 0 && (size_t)n < sizeof(reason) - used)
            used += (size_t)n;
    }
    if (used == 0)
        snprintf(reason, sizeof(reason), "%s",
                 (what & BEV_EVENT_TIMEOUT) ? "handshake timeout"
                 : (what & BEV_EVENT_EOF)   ? "connection closed by client"
                 : errno ? strerror(errno)  : "connection lost");
    log_warn("%s tls handshake failed client=%s reason=%s", s->id, s->addr,
             reason);
}

static void
io_session_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct io_session *s = arg;
    (void)bev;

    if (what & BEV_EVENT_CONNECTED) {
        io_session_tls_done(s);
        return;
    }
    if (s->phase == IO_PHASE_HANDSHAKE) {
        io_session_log_tls_error(s, what);
        io_session_free(s);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && s->phase == IO_PHASE_SMTP) {
        log_info("%s timeout client=%s", s->id, s->addr);
        smtp_server_timeout(s->smtp, &io_out);
        io_session_close_after_flush(s);
        return;
    }
    if ((what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) &&
        s->phase != IO_PHASE_CLOSING) {
        int err = EVUTIL_SOCKET_ERROR();
        log_info("%s lost connection client=%s error=%s%s", s->id, s->addr,
                 (what & BEV_EVENT_ERROR) && err ? strerror(err)
                                                 : "closed by client",
                 smtp_server_in_data(s->smtp) ? " after=DATA" : "");
    }
    io_session_free(s);
}

/* ---- start ------------------------------------------------------------ */

static enum smtp_tls_mode
io_tls_mode(enum config_listen_tls t)
{
    static const enum smtp_tls_mode map[] = {
        [CONFIG_TLS_NONE] = SMTP_TLS_NONE,
        [CONFIG_TLS_STARTTLS] = SMTP_TLS_OPTIONAL,
        [CONFIG_TLS_STARTTLS_REQUIRED] = SMTP_TLS_REQUIRED,
        [CONFIG_TLS_IMPLICIT] = SMTP_TLS_IMPLICIT,
    };
    return map[t];
}

static void
io_session_init_smtp(struct io_session *s)
{
    const struct config *cfg = s->sh->cfg;
    s->params = (struct smtp_server_params){
        .hostname = cfg->hostname,
        .session_id = s->id,
        .client_addr = s->addr,
        .message_size_limit = cfg->message_size_limit,
        .recipient_limit = cfg->smtpd_recipient_limit,
        .hard_error_limit = cfg->smtpd_hard_error_limit,
        .hopcount_limit = cfg->hopcount_limit,
        .tls_mode = io_tls_mode(s->lst->tls),
        .bare_newline = cfg->smtpd_bare_newline == CONFIG_BARE_NEWLINE_REJECT
                            ? SMTP_BARE_NEWLINE_REJECT
                            : SMTP_BARE_NEWLINE_NORMALIZE,
    };
    /* Without a certificate STARTTLS cannot be offered (config check
     * refuses such a listener; this is the belt to its braces). */
    if (s->sh->tls_ctx == NULL)
        s->params.tls_mode = SMTP_TLS_NONE;
    s->hooks = (struct smtp_server_hooks){
        .ctx = s,
        .rcpt_check = io_rcpt_check_cb,
        .msg_begin = io_msg_begin_cb,
        .msg_write = io_msg_write_cb,
        .msg_commit = io_msg_commit_cb,
        .msg_abort = io_msg_abort_cb,
    };
    io_auth_init_hooks(s);
}

static int
io_session_open_plain(struct io_session *s)
{
    s->bev = bufferevent_socket_new(s->sh->base, s->fd, 0);
    if (s->bev == NULL)
        return -1;
    bufferevent_setcb(s->bev, io_session_read_cb, io_session_write_cb,
                      io_session_event_cb, s);
    s->phase = IO_PHASE_SMTP;
    io_session_set_timeout(s, s->sh->cfg->smtpd_timeout);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    smtp_server_greeting(s->smtp, &io_out);
    io_session_send(s);
    return 0;
}

void
io_session_start(struct io_shared *sh, const struct config_listen *lst,
                 evutil_socket_t fd, const char *addr, bool mynetworks)
{
    struct io_session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        evutil_closesocket(fd);
        return;
    }
    if (io_out.max == 0)
        buf_init(&io_out, 0);
    s->sh = sh;
    s->lst = lst;
    s->fd = fd;
    snprintf(s->id, sizeof(s->id), "%X%06lX", (unsigned)getpid(),
             ++io_session_counter & 0xffffffUL);
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    s->mynetworks = mynetworks;
    io_session_init_smtp(s);
    s->next = sh->sessions;
    if (s->next)
        s->next->prev = s;
    sh->sessions = s;
    sh->n_sessions++;
    log_info("%s connect client=%s listener=%s%s", s->id, s->addr, lst->name,
             s->mynetworks ? " mynetworks=yes" : "");

    s->smtp = smtp_server_new(&s->params, &s->hooks);
    bool implicit = lst->tls == CONFIG_TLS_IMPLICIT && sh->tls_ctx != NULL;
    if (s->smtp == NULL ||
        (implicit ? io_session_tls_bev(s) == NULL
                  : io_session_open_plain(s) < 0)) {
        log_err("%s cannot set up session client=%s", s->id, s->addr);
        io_session_free(s);
    }
}

void
io_session_close_all(struct io_shared *sh)
{
    while (sh->sessions != NULL) {
        struct io_session *s = sh->sessions;
        if (s->phase == IO_PHASE_SMTP) {
            smtp_server_shutdown(s->smtp, &io_out);
            io_session_send(s);
            /* Best effort: one attempt to push the 421 out now. */
            bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
        }
        io_session_free(s);
    }
}
