/*
 * relay_internal.h -- what relay.c (routing, the MX walk, results) and
 * relay_conn.c (one SMTP connection: socket, TLS, the client session, the
 * content pump) share. Nobody else includes it.
 */
#ifndef TLSMTA_DELIVER_RELAY_INTERNAL_H
#define TLSMTA_DELIVER_RELAY_INTERNAL_H

#include "config/config.h"
#include "deliver/relay.h"
#include "tls/tls_client.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

struct dns_resolver;
struct dns_query;
struct smtp_client;

/* Next hops with connections open, for destination_concurrency_limit. */
struct relay_dest {
    char key[RELAY_HOST_MAX];      /* nexthop key */
    unsigned active;               /* jobs holding a slot */
    struct relay_dest *next;       /* owned */
};

struct relay {
    struct event_base *base;       /* borrowed */
    const struct config *cfg;      /* borrowed */
    struct dns_resolver *dns;      /* owned */
    SSL_CTX *ssl_ctx;              /* owned; client context */
    struct relay_job *jobs;        /* owned; every job (list) */
    size_t n_jobs;
    size_t n_running;              /* jobs holding a slot */
    struct relay_dest *dests;      /* owned */
};

/* One connection to one address (relay_conn.c). */
struct relay_conn {
    struct bufferevent *bev;       /* owned; plain or TLS */
    evutil_socket_t fd;            /* owned; the socket, or -1 */
    bool bev_owns_fd;              /* the TLS bev closes fd */
    struct smtp_client *client;    /* owned */
    bool connected;                /* TCP (and for implicit TLS, the
                                      handshake) is up */
    bool tls;                      /* this connection uses TLS now */
    bool ehlo_done;                /* the session got past EHLO/HELO */
    bool tls_handshaking;          /* handshake under way */
    bool tls_failed;               /* the handshake failed */
    bool closing;                  /* QUIT is going out; then close */
    bool content;                  /* pumping the message content */
    uint64_t content_sent;         /* bytes of content handed over */
    enum tls_trust trust;          /* once tls */
    char tls_summary[160];         /* "Verified TLSv1.3 cipher=.. " */
    char failure[RELAY_TEXT_MAX];  /* our own reason when the
                                      connection failed, or "" */
    char failure_dsn[16];
};

struct relay_job {
    struct relay *r;               /* borrowed */
    struct relay_msg m;            /* strings borrowed from the caller */
    char domain[256];              /* the recipients' domain */
    const char *const *rcpts;      /* borrowed; n_rcpts */
    size_t n_rcpts;
    struct relay_result *results;  /* owned; n_rcpts */
    relay_done_cb cb;
    void *arg;

    /* Route. */
    char host[RELAY_HOST_MAX];     /* next-hop host or domain */
    unsigned port;
    bool mx;                       /* look up MX records of host */
    bool implicit_tls;             /* RFC 8314 */
    char key[RELAY_HOST_MAX];      /* nexthop key: "[h]:p" or domain */
    enum config_tls_level level;   /* from tls_policy or the default */
    const struct config_tls_policy *policy; /* borrowed, or NULL */
    const struct config_sasl_password *auth; /* borrowed, or NULL */

    /* The walk over MX hosts and their addresses. */
    char **mx_hosts;               /* owned; n_mx names in order */
    size_t n_mx, i_mx;
    struct sockaddr_storage *addrs; /* owned; of mx_hosts[i_mx] */
    size_t n_addrs, i_addr;
    struct dns_query *q;           /* pending lookup, or NULL */
    unsigned n_tries;              /* connections attempted */
    bool plaintext;                /* may: retrying this address without
                                      TLS after a failed handshake */
    char addr_text[64];            /* address being tried */
    char relay_text[RELAY_HOST_MAX + 80]; /* "host[addr]:port" */

    struct relay_conn *conn;       /* owned; the open connection */
    char last_error[RELAY_TEXT_MAX]; /* why the last host failed */
    char last_dsn[16];
    char tls_summary[160];         /* of the last TLS connection */

    bool running;                  /* holds a concurrency slot */
    bool finished;                 /* results final, callback pending */
    struct event *done_ev;         /* owned; runs the callback */
    struct relay_job *prev, *next; /* relay.jobs */
};

/* Connect to job->addrs[job->i_addr] and run the SMTP session there.
 * Always ends in relay_conn_over() (maybe later, from the loop). */
void relay_conn_start(struct relay_job *job);

/* Free the connection of job, if any. */
void relay_conn_free(struct relay_job *job);

/* The connection of job is over (relay.c): take the client's results, or
 * move on to the next address. */
void relay_conn_over(struct relay_job *job);

/* snprintf() into dst (n bytes), for texts that may be cut (reasons,
 * remote replies): always NUL-terminated. */
void relay_fmt(char *dst, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why a host failed: the text for the recipients if every host
 * fails (relay.c). */
void relay_job_error(struct relay_job *job, const char *dsn,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
