/*
 * bench_session.h -- one SMTP client session of the benchmark tools,
 * driven by libevent.
 *
 * A session connects, optionally starts TLS (implicit, RFC 8314 3.3, or
 * STARTTLS, RFC 3207), says EHLO (again after STARTTLS, RFC 3207 4.2), then
 * sends its quota of messages one transaction after the other (RFC 5321
 * 3.3: MAIL, RCPT, DATA; a new MAIL after a 250 needs no RSET), with or
 * without PIPELINING (RFC 2920), and says QUIT. A held session instead stays
 * idle after EHLO until bench_session_quit(). Trust boundary: parses the
 * server's replies (bounded lines; anything malformed ends the session).
 */
#ifndef BENCH_SESSION_H
#define BENCH_SESSION_H

#include <stdbool.h>
#include <sys/time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "bench_msg.h"
#include "bench_net.h"
#include "bench_stats.h"

enum bench_tls_mode {
    BENCH_TLS_NONE,     /* plain SMTP */
    BENCH_TLS_STARTTLS, /* RFC 3207; the server must advertise STARTTLS */
    BENCH_TLS_IMPLICIT, /* RFC 8314: TLS from the first byte */
};

struct bench_session;

/* What every session of a run shares; read-only while sessions live, except
 * next_seq and the stats. */
struct bench_run {
    struct event_base *base;   /* not owned */
    struct bench_addr addr;    /* the target */
    enum bench_tls_mode tls;
    SSL_CTX *ssl_ctx;          /* not owned; NULL when tls is NONE */
    const char *helo;          /* EHLO argument */
    const char *sender;        /* reverse-path, without brackets */
    const char *rcpt_fmt;      /* forward-path; a "%d" becomes seq % users */
    unsigned users;            /* >= 1 */
    const char *size_param;    /* " SIZE=n" when advertised, else "" */
    struct bench_msg *msg;     /* not owned; NULL when no session sends */
    bool pipelining;           /* send MAIL, RCPT, DATA in one write */
    struct timeval timeout;    /* longest wait for one reply */
    struct bench_stats *stats; /* not owned */
    unsigned long next_seq;    /* messages started so far (Message-ID) */
    /* A held session finished EHLO and is now idle. May be NULL. */
    void (*ready_cb)(struct bench_session *s, void *arg);
    /* A session ended: ok is false when an error, not QUIT, ended it. The
     * session is freed when this returns; do not keep the pointer. */
    void (*done_cb)(struct bench_session *s, bool ok, void *arg);
    void *arg;                 /* passed to both callbacks */
};

/* Start a session that sends `msgs` messages, then QUIT; or, with `hold`
 * and msgs 0, that idles after EHLO. Returns the session, or NULL when not
 * even a socket could be had (the error is counted in run->stats and
 * done_cb is not called). The session frees itself after done_cb. */
struct bench_session *bench_session_start(struct bench_run *run,
                                          unsigned msgs, bool hold);

/* Send QUIT from a held, idle session; it ends (done_cb) on the reply.
 * Does nothing to a session that is not idle. */
void bench_session_quit(struct bench_session *s);

/* The caller's pointer stored with the session (NULL until set). */
void bench_session_set_data(struct bench_session *s, void *data);
void *bench_session_data(const struct bench_session *s);

#endif
