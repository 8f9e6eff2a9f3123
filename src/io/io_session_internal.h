/*
 * io_session_internal.h -- the session struct, shared by the files of
 * src/io that implement one connection (io_session.c, io_auth.c). Nothing
 * outside src/io includes it.
 */
#ifndef TLSMTA_IO_SESSION_INTERNAL_H
#define TLSMTA_IO_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/bufferevent.h>

#include "io/io_commit.h"
#include "io/io_session.h"
#include "queue/spool.h"
#include "smtp/smtp_server.h"

struct auth_sasl;

#define IO_SESSION_ID_MAX 20
#define IO_FEED_IOV 8            /* evbuffer chunks fed per pass */
#define IO_RECEIVED_MAX 1024     /* bytes of one Received header */

enum io_phase {
    IO_PHASE_HANDSHAKE,          /* TLS handshake in progress */
    IO_PHASE_SMTP,               /* reading commands / data */
    IO_PHASE_STARTTLS_FLUSH,     /* 220 Ready to start TLS still going out */
    IO_PHASE_CLOSING,            /* last reply going out, then close */
};

struct io_session {
    struct io_shared *sh;              /* borrowed from io_server */
    const struct config_listen *lst;   /* borrowed: the listener */
    evutil_socket_t fd;                /* owned until a bufferevent with
                                          CLOSE_ON_FREE takes it */
    struct bufferevent *bev;           /* owned */
    struct event *handshake_timer;     /* owned; only during a handshake:
                                          its deadline as a whole */
    bool bev_owns_fd;                  /* bev closes fd (the TLS one) */
    struct smtp_server *smtp;          /* owned */
    struct smtp_server_params params;  /* borrowed by smtp */
    struct smtp_server_hooks hooks;    /* borrowed by smtp */
    struct spool_msg *msg;             /* owned; message being received */
    char *msg_sender;                  /* owned; its reverse-path, for logs */
    size_t msg_nrcpt;                  /* its recipient count, for logs */
    struct io_commit commit;           /* the message at the committer */
    bool commit_pending;               /* commit submitted, not answered */
    bool released;                     /* connection gone; the struct
                                          waits for its commit to end */
    char commit_id[SPOOL_QUEUE_ID_MAX]; /* queue id of that message */
    uint64_t commit_size;              /* its size in bytes */
    enum io_phase phase;
    bool tls;                          /* TLS established */
    char tls_version[16];              /* "TLSv1.3" once tls */
    char tls_cipher[64];               /* suite name once tls */
    char tls_received[160];            /* Received header comment */
    char id[IO_SESSION_ID_MAX];        /* session id for the log */
    char addr[64];                     /* client address text */
    unsigned tarpit;                   /* seconds to hold the next replies
                                          (after a failed AUTH) */
    struct event *tarpit_timer;        /* owned; only while holding */
    struct auth_sasl *sasl;            /* owned; SASL state, once AUTH is
                                          offered */
    char auth_mech[24];                /* mechanism of the exchange under
                                          way or done, for the log */
    bool mynetworks;                   /* client address in mynetworks:
                                          may relay without AUTH */
    bool cert_relay;                   /* the client certificate grants
                                          relay (relay_client_certs) */
    char *tls_client_received;         /* owned; Received comment on the
                                          client certificate, or NULL */
    struct io_session *prev, *next;    /* io_shared.sessions list */
};

/* The reply buffer every session writes into (one per process). */
extern struct buf io_out;

/* Write io_out to the session's bufferevent and empty it. */
void io_session_send(struct io_session *s);

/* Feed whatever input is waiting (after a pause: tarpit, commit). */
void io_session_resume(struct io_session *s);

/* The AUTH hooks of a session (io_auth.c): fills the auth members of
 * hooks and the auth mode of params for listener and TLS state. */
void io_auth_init_hooks(struct io_session *s);

/* Hold the replies just produced for s->tarpit seconds (io_auth.c).
 * Returns true if it did (the caller stops feeding). */
bool io_auth_tarpit(struct io_session *s);

/* Release the AUTH state of s (SASL connection, timer). */
void io_auth_release(struct io_session *s);

struct tls_info;
/* TLS is up: decide relay by client certificate, log it, and create the
 * SASL state when the listener offers AUTH (io_auth.c). */
void io_auth_tls_started(struct io_session *s, const struct tls_info *ti);

#endif
