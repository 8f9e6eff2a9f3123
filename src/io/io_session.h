/*
 * io_session.h -- one SMTP connection: a bufferevent (plain or OpenSSL)
 * driving a sans-I/O smtp_server session, plus the hooks that give it
 * policy (local domains, relay) and storage (the spool).
 */
#ifndef TLSMTA_IO_SESSION_H
#define TLSMTA_IO_SESSION_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config/config.h"

struct spool;
struct io_commit;
struct io_committer;
struct io_authfail;

/* What every session of the server shares; owned by io_server. */
struct io_shared {
    struct event_base *base;       /* the loop */
    const struct config *cfg;      /* borrowed */
    SSL_CTX *tls_ctx;              /* server context, or NULL if no certs */
    struct spool *spool;           /* open spool */
    int wake_fd;                   /* queue manager wake-up pipe, or -1 */
    struct io_committer *committer; /* group commit thread, or NULL to
                                      commit in the loop */
    struct io_authfail *authfail;  /* failed AUTHs per client address */
    unsigned n_sessions;           /* sessions alive now */
    struct io_session *sessions;   /* list of live sessions (for shutdown) */
};

/* Start a session on an accepted socket fd (ownership passes to the
 * session, which closes it). addr is the client's address text;
 * mynetworks: the address is in the config's mynetworks (may relay
 * without AUTH). Logs and closes fd on failure. */
void io_session_start(struct io_shared *sh, const struct config_listen *lst,
                      evutil_socket_t fd, const char *addr, bool mynetworks);

/* The committer's done callback (arg: the io_shared): answers the DATA of
 * the session that submitted c, or finishes freeing it if it went away. */
void io_session_commit_done_cb(struct io_commit *c, void *arg);

/* Send 421 to every live session and close them (server shutdown). */
void io_session_close_all(struct io_shared *sh);

#endif
