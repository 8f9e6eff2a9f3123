/*
 * bench_session.c -- one SMTP client session over libevent (see
 * bench_session.h).
 *
 * The session is a table of steps, each with the reply class that means
 * success and the handlers for success and failure. The descriptor is ours
 * while the session is plain; a TLS start (implicit, or after "220" to
 * STARTTLS) frees the plain bufferevent without closing the descriptor and
 * hands it to an OpenSSL bufferevent, which then owns it and the SSL.
 */
#include "bench_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "bench_tls.h"

#define BENCH_REPLY_MAX 512  /* RFC 5321 4.5.3.1.5: reply line with CRLF */
#define BENCH_ADDR_MAX 256   /* RFC 5321 4.5.3.1.3: path with brackets */
#define BENCH_TLS_ERR_SHOWN 3 /* handshake errors printed in full */

enum bench_step {
    ST_CONNECT, ST_HANDSHAKE, ST_GREETING, ST_EHLO, ST_STARTTLS, ST_MAIL,
    ST_RCPT, ST_DATA, ST_DOT, ST_RSET, ST_QUIT, ST_IDLE, ST_DONE, ST_COUNT
};

struct bench_session {
    struct bench_run *run;   /* not owned */
    struct bufferevent *bev; /* owned */
    int fd;                  /* owned while plain; -1 once bev owns it */
    enum bench_step step;
    unsigned msgs_left;      /* messages still to send */
    bool hold;               /* idle after EHLO instead of QUIT */
    bool ok;                 /* at ST_DONE: ended by QUIT */
    bool tls_up;             /* handshake done */
    bool setup_done;         /* setup latency recorded */
    bool ext_starttls;       /* seen in the last EHLO reply */
    bool ext_pipelining;
    bool ext_size;
    bool pipelined;          /* this transaction's commands went together */
    unsigned long seq;       /* this transaction's message number */
    const char *fail_step;   /* first refusal in this transaction, or NULL */
    int fail_code;
    double t_start, t_txn;   /* bench_now() at connect, at MAIL */
    void *data;              /* the caller's */
};

struct bench_step_def {
    const char *name;
    int expect; /* reply code whose class means success; 0: no reply due */
    void (*ok)(struct bench_session *s);
    void (*bad)(struct bench_session *s, int code);
};

static const struct bench_step_def bench_steps[ST_COUNT];

/* ---- ending -------------------------------------------------------- */

static void
bench_end(struct bench_session *s, bool ok)
{
    s->ok = ok;
    s->step = ST_DONE;
    if (!ok)
        s->run->stats->sessions_failed++;
}

/* An error that is not a reply: count it under the current step. */
static void
bench_error(struct bench_session *s, const char *kind)
{
    bench_stats_fail(s->run->stats, bench_steps[s->step].name, 0, kind);
    bench_end(s, false);
}

static void
bench_session_bad(struct bench_session *s, int code)
{
    bench_stats_fail(s->run->stats, bench_steps[s->step].name, code, NULL);
    bench_end(s, false);
}

/* Free a session that reached ST_DONE, after telling the driver. */
static void
bench_settle(struct bench_session *s)
{
    if (s->step != ST_DONE)
        return;
    s->run->done_cb(s, s->ok, s->run->arg);
    /* After 221 nothing is pending: send close_notify (RFC 8446 6.1) right
     * away; OpenSSL also keeps only cleanly closed sessions resumable. */
    if (s->ok && s->tls_up)
        SSL_shutdown(bufferevent_openssl_get_ssl(s->bev));
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* ---- commands ------------------------------------------------------ */

static void
bench_send(struct bench_session *s, enum bench_step next, const char *cmd)
{
    bufferevent_write(s->bev, cmd, strlen(cmd));
    s->step = next;
}

static void
bench_send_ehlo(struct bench_session *s)
{
    s->ext_starttls = s->ext_pipelining = s->ext_size = false;
    evbuffer_add_printf(bufferevent_get_output(s->bev), "EHLO %s\r\n",
                        s->run->helo);
    s->step = ST_EHLO;
}

/* Copy fmt to dst, the first "%d" replaced by n. */
static void
bench_rcpt_format(char *dst, size_t cap, const char *fmt, unsigned n)
{
    const char *pct = strstr(fmt, "%d");

    if (pct == NULL)
        snprintf(dst, cap, "%s", fmt);
    else
        snprintf(dst, cap, "%.*s%u%s", (int)(pct - fmt), fmt, n, pct + 2);
}

static void
bench_add_rcpt(struct bench_session *s)
{
    char rcpt[BENCH_ADDR_MAX];

    bench_rcpt_format(rcpt, sizeof rcpt, s->run->rcpt_fmt,
                      (unsigned)(s->seq % s->run->users));
    evbuffer_add_printf(bufferevent_get_output(s->bev), "RCPT TO:<%s>\r\n",
                        rcpt);
}

static void
bench_txn_begin(struct bench_session *s)
{
    struct bench_run *r = s->run;
    struct evbuffer *out = bufferevent_get_output(s->bev);

    s->seq = r->next_seq++;
    s->fail_step = NULL;
    s->fail_code = 0;
    s->pipelined = r->pipelining && s->ext_pipelining;
    s->t_txn = bench_now();
    if (s->ext_size) /* RFC 1870 6: only when advertised */
        evbuffer_add_printf(out, "MAIL FROM:<%s> SIZE=%zu\r\n", r->sender,
                            r->msg->size);
    else
        evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", r->sender);
    if (s->pipelined) { /* RFC 2920 3.1: DATA may end the group */
        bench_add_rcpt(s);
        evbuffer_add(out, "DATA\r\n", 6);
    }
    s->step = ST_MAIL;
}

/* Ready for a transaction: send the next message, idle, or QUIT. */
static void
bench_work(struct bench_session *s)
{
    struct bench_run *r = s->run;

    if (!s->setup_done) {
        s->setup_done = true;
        bench_lat_add(&r->stats->setup_lat, (bench_now() - s->t_start) * 1e6);
    }
    if (s->msgs_left > 0 && r->msg) {
        bench_txn_begin(s);
    } else if (s->hold) {
        s->step = ST_IDLE;
        bufferevent_set_timeouts(s->bev, NULL, NULL);
        if (r->ready_cb)
            r->ready_cb(s, r->arg);
    } else {
        bench_send(s, ST_QUIT, "QUIT\r\n");
    }
}

/* ---- transaction outcome ------------------------------------------- */

/* The transaction is over: count the message as accepted or refused. */
static void
bench_txn_end(struct bench_session *s, bool accepted)
{
    struct bench_stats *st = s->run->stats;

    s->msgs_left--;
    if (accepted && s->fail_step == NULL) {
        st->msgs_ok++;
        bench_lat_add(&st->msg_lat, (bench_now() - s->t_txn) * 1e6);
        return;
    }
    st->msgs_failed++;
    bench_stats_fail(st, s->fail_step, s->fail_code, NULL);
}

static void
bench_txn_bad(struct bench_session *s, int code)
{
    enum bench_step at = s->step;

    if (s->fail_step == NULL) {
        s->fail_step = bench_steps[at].name;
        s->fail_code = code;
    }
    if (code == 421) { /* RFC 5321 3.8: the server is closing */
        bench_txn_end(s, false);
        bench_end(s, false);
    } else if (s->pipelined && (at == ST_MAIL || at == ST_RCPT)) {
        s->step = at + 1; /* the next pipelined reply is still due */
    } else if (at == ST_MAIL || at == ST_DOT) {
        bench_txn_end(s, false); /* nothing left open on the server */
        bench_work(s);
    } else {
        bench_txn_end(s, false);
        bench_send(s, ST_RSET, "RSET\r\n");
    }
}

/* ---- reply handlers, one per step ----------------------------------- */

static void
bench_greeting_ok(struct bench_session *s)
{
    bench_send_ehlo(s);
}

static void bench_tls_start(struct bench_session *s);

static void
bench_ehlo_ok(struct bench_session *s)
{
    if (s->run->tls != BENCH_TLS_STARTTLS || s->tls_up)
        bench_work(s);
    else if (!s->ext_starttls)
        bench_error(s, "no-starttls");
    else
        bench_send(s, ST_STARTTLS, "STARTTLS\r\n");
}

static void
bench_starttls_ok(struct bench_session *s)
{
    bench_tls_start(s);
}

static void
bench_mail_ok(struct bench_session *s)
{
    if (!s->pipelined)
        bench_add_rcpt(s);
    s->step = ST_RCPT;
}

static void
bench_rcpt_ok(struct bench_session *s)
{
    if (!s->pipelined)
        bufferevent_write(s->bev, "DATA\r\n", 6);
    s->step = ST_DATA;
}

static void
bench_data_ok(struct bench_session *s)
{
    struct bench_msg *msg = s->run->msg;

    /* Pipelined, a refused RCPT may still meet a 354 (RFC 2920 3.1 asks
     * servers not to); end that DATA empty. */
    if (s->fail_step == NULL) {
        bench_msg_stamp(msg, s->seq);
        bufferevent_write(s->bev, msg->text, msg->size);
    }
    bench_send(s, ST_DOT, ".\r\n");
}

static void
bench_dot_ok(struct bench_session *s)
{
    bench_txn_end(s, true);
    bench_work(s);
}

static void
bench_quit_ok(struct bench_session *s)
{
    bench_end(s, true);
}

static const struct bench_step_def bench_steps[ST_COUNT] = {
    [ST_CONNECT] = { "CONNECT", 0, NULL, bench_session_bad },
    [ST_HANDSHAKE] = { "HANDSHAKE", 0, NULL, bench_session_bad },
    [ST_GREETING] = { "GREETING", 220, bench_greeting_ok, bench_session_bad },
    [ST_EHLO] = { "EHLO", 250, bench_ehlo_ok, bench_session_bad },
    [ST_STARTTLS] = { "STARTTLS", 220, bench_starttls_ok, bench_session_bad },
    [ST_MAIL] = { "MAIL", 250, bench_mail_ok, bench_txn_bad },
    [ST_RCPT] = { "RCPT", 250, bench_rcpt_ok, bench_txn_bad },
    [ST_DATA] = { "DATA", 354, bench_data_ok, bench_txn_bad },
    [ST_DOT] = { "DATA-END", 250, bench_dot_ok, bench_txn_bad },
    [ST_RSET] = { "RSET", 250, bench_work, bench_session_bad },
    [ST_QUIT] = { "QUIT", 221, bench_quit_ok, bench_session_bad },
    [ST_IDLE] = { "IDLE", 0, NULL, bench_session_bad },
    [ST_DONE] = { "DONE", 0, NULL, bench_session_bad },
};

/* ---- reading replies ------------------------------------------------ */

/* Note an EHLO keyword (RFC 5321 4.1.1.1: one per line, case-insensitive). */
static void
bench_ehlo_line(struct bench_session *s, const char *kw)
{
    static const struct { const char *name; size_t off; } exts[] = {
        { "STARTTLS", offsetof(struct bench_session, ext_starttls) },
        { "PIPELINING", offsetof(struct bench_session, ext_pipelining) },
        { "SIZE", offsetof(struct bench_session, ext_size) },
    };

    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t n = strlen(exts[i].name);

        if (strncasecmp(kw, exts[i].name, n) == 0
            && (kw[n] == '\0' || kw[n] == ' '))
            *(bool *)((char *)s + exts[i].off) = true;
    }
}

/* One reply line (RFC 5321 4.2: code, '-' or ' ', text). */
static void
bench_line(struct bench_session *s, const char *line, size_t n)
{
    const struct bench_step_def *d = &bench_steps[s->step];
    int code;

    if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0'
        || line[1] > '9' || line[2] < '0' || line[2] > '9'
        || (n > 3 && line[3] != ' ' && line[3] != '-')) {
        bench_error(s, "bad-reply");
        return;
    }
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (s->step == ST_EHLO && n > 4)
        bench_ehlo_line(s, line + 4);
    if (n > 3 && line[3] == '-')
        return; /* more lines of this reply follow */
    if (d->expect && code / 100 == d->expect / 100)
        d->ok(s);
    else
        d->bad(s, code);
}

/* Take one line from in. Returns 1 if a line was handled, 0 if none is
 * complete yet. */
static int
bench_read_line(struct bench_session *s, struct evbuffer *in)
{
    char line[BENCH_REPLY_MAX + 1];
    size_t eol_len, n;
    struct evbuffer_ptr p =
        evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

    if (p.pos < 0) {
        if (evbuffer_get_length(in) > BENCH_REPLY_MAX)
            bench_error(s, "reply-too-long");
        return 0;
    }
    n = (size_t)p.pos < BENCH_REPLY_MAX ? (size_t)p.pos : BENCH_REPLY_MAX;
    evbuffer_copyout(in, line, n);
    line[n] = '\0';
    evbuffer_drain(in, (size_t)p.pos + eol_len);
    bench_line(s, line, n);
    return 1;
}

static void
bench_read_cb(struct bufferevent *bev, void *arg)
{
    struct bench_session *s = arg;

    /* Stop when the session ends or STARTTLS replaced the bufferevent:
     * bytes after "220" to STARTTLS are never read (RFC 3207 4.2). */
    while (s->step != ST_DONE && s->bev == bev)
        if (bench_read_line(s, bufferevent_get_input(bev)) == 0)
            break;
    bench_settle(s);
}

/* ---- connection events ---------------------------------------------- */

static const char *
bench_errno_kind(int err)
{
    static const struct { int err; const char *kind; } kinds[] = {
        { ECONNREFUSED, "refused" },       { ECONNRESET, "reset" },
        { ETIMEDOUT, "timed-out" },        { EPIPE, "broken-pipe" },
        { EADDRNOTAVAIL, "no-local-port" }, { EMFILE, "too-many-files" },
        { ENFILE, "too-many-files" },      { ENOMEM, "no-memory" },
    };

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].err == err)
            return kinds[i].kind;
    return "error";
}

/* The socket or TLS layer reported an error. */
static void
bench_io_error(struct bench_session *s, struct bufferevent *bev)
{
    static unsigned shown;
    unsigned long e = s->fd < 0 ? bufferevent_get_openssl_error(bev) : 0;
    int err = EVUTIL_SOCKET_ERROR();

    if (e == 0) {
        bench_error(s, bench_errno_kind(err));
        return;
    }
    if (shown++ < BENCH_TLS_ERR_SHOWN) {
        char buf[256];

        ERR_error_string_n(e, buf, sizeof buf);
        fprintf(stderr, "tls error: %s\n", buf);
    }
    bench_error(s, "tls-error");
}

static void
bench_connected(struct bench_session *s)
{
    char desc[BENCH_STATS_TLS_LEN];
    SSL *ssl;

    if (s->step == ST_CONNECT) {
        if (s->run->tls == BENCH_TLS_IMPLICIT)
            bench_tls_start(s);
        else
            s->step = ST_GREETING;
        return;
    }
    ssl = bufferevent_openssl_get_ssl(s->bev);
    bench_tls_describe(ssl, desc, sizeof desc);
    bench_stats_tls(s->run->stats, desc, SSL_session_reused(ssl));
    s->tls_up = true;
    if (s->run->tls == BENCH_TLS_IMPLICIT)
        s->step = ST_GREETING;
    else
        bench_send_ehlo(s); /* RFC 3207 4.2: EHLO again over TLS */
}

static void
bench_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct bench_session *s = arg;

    if (what & BEV_EVENT_CONNECTED)
        bench_connected(s);
    else if (what & BEV_EVENT_TIMEOUT)
        bench_error(s, "timeout");
    else if (s->step == ST_QUIT && (what & BEV_EVENT_EOF))
        bench_end(s, true); /* closed before its 221: nothing is lost */
    else if (what & BEV_EVENT_EOF)
        bench_error(s, "closed");
    else if (what & BEV_EVENT_ERROR)
        bench_io_error(s, bev);
    bench_settle(s);
}

static void
bench_bev_setup(struct bench_session *s)
{
    bufferevent_setcb(s->bev, bench_read_cb, NULL, bench_event_cb, s);
    bufferevent_set_timeouts(s->bev, &s->run->timeout, &s->run->timeout);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* Replace the plain bufferevent by a TLS one on the same descriptor. */
static void
bench_tls_start(struct bench_session *s)
{
    SSL *ssl = bench_tls_ssl_new(s->run->ssl_ctx);
    struct bufferevent *bev;

    s->step = ST_HANDSHAKE;
    if (ssl == NULL) {
        bench_error(s, "no-memory");
        return;
    }
    bufferevent_free(s->bev); /* not BEV_OPT_CLOSE_ON_FREE: fd stays */
    s->bev = NULL;
    bev = bufferevent_openssl_socket_new(s->run->base, s->fd, ssl,
                                         BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        bench_error(s, "no-memory");
        return;
    }
    s->fd = -1;
    s->bev = bev;
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bench_bev_setup(s);
}

/* ---- public --------------------------------------------------------- */

/* Count a session that never got going. Returns NULL. */
static struct bench_session *
bench_start_failed(struct bench_session *s, int err)
{
    bench_stats_fail(s->run->stats, "CONNECT", 0, bench_errno_kind(err));
    s->run->stats->sessions_failed++;
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return NULL;
}

struct bench_session *
bench_session_start(struct bench_run *run, unsigned msgs, bool hold)
{
    struct bench_session *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    run->stats->sessions++;
    s->run = run;
    s->msgs_left = msgs;
    s->hold = hold;
    s->step = ST_CONNECT;
    s->t_start = bench_now();
    s->fd = bench_socket(&run->addr);
    if (s->fd < 0)
        return bench_start_failed(s, errno);
    s->bev = bufferevent_socket_new(run->base, s->fd, 0);
    if (s->bev == NULL)
        return bench_start_failed(s, ENOMEM);
    bench_bev_setup(s);
    if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&run->addr.ss,
                                   (int)run->addr.len) < 0)
        return bench_start_failed(s, errno);
    return s;
}

void
bench_session_quit(struct bench_session *s)
{
    if (s->step != ST_IDLE)
        return;
    bufferevent_set_timeouts(s->bev, &s->run->timeout, &s->run->timeout);
    bench_send(s, ST_QUIT, "QUIT\r\n");
}

void
bench_session_set_data(struct bench_session *s, void *data)
{
    s->data = data;
}

void *
bench_session_data(const struct bench_session *s)
{
    return s->data;
}
