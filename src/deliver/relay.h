/*
 * relay.h -- delivery of one message to the recipients of one domain over
 * SMTP: routing (relayhost, transport table, MX lookup per RFC 5321 5.1),
 * the TLS security level of the next hop (tls_policy), the walk over every
 * address of every MX host, and the SMTP client session with STARTTLS
 * (RFC 3207) or implicit TLS (RFC 8314) and AUTH (RFC 4954) at a
 * smarthost.
 *
 * Runs inside the queue manager's libevent loop: DNS is asynchronous
 * (libunbound), sockets are non-blocking, and many deliveries run at once
 * within the configured concurrency limits (the rest wait in a queue).
 *
 * Trust boundary: everything read from DNS and from the remote servers is
 * untrusted network input (parsed by dns/ and smtp/smtp_client.c); the
 * message content comes from the spool.
 */
#ifndef TLSMTA_DELIVER_RELAY_H
#define TLSMTA_DELIVER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct config;
struct event_base;
struct relay;

/* The message, borrowed until the done callback returns. */
struct relay_msg {
    const char *id;                /* queue id, for logs */
    const char *sender;            /* reverse-path, "" for <> */
    int fd;                        /* spool file, read with pread() */
    off_t offset;                  /* content starts here */
    uint64_t size;                 /* content bytes (CRLF lines) */
    bool smtputf8;                 /* RFC 6531 needed */
    bool body_8bitmime;            /* RFC 6152 */
    time_t arrival;                /* for the delay= of logs */
};

enum relay_status {
    RELAY_SENT,                    /* the next hop accepted it (250) */
    RELAY_DEFERRED,                /* try again later */
    RELAY_BOUNCED,                 /* permanent failure: return to sender */
};

#define RELAY_TEXT_MAX 640
#define RELAY_HOST_MAX 300

/* What became of one recipient. */
struct relay_result {
    enum relay_status status;
    char dsn[16];                  /* RFC 3463 status, "5.1.1" */
    char text[RELAY_TEXT_MAX];     /* why, for logs and the bounce: "host
                                      mx.example.net[192.0.2.1] said: 550
                                      5.1.1 ... (in reply to RCPT TO
                                      command)" */
    char remote_mta[RELAY_HOST_MAX]; /* host name of the server that
                                        answered, or "" */
    char diagnostic[RELAY_TEXT_MAX]; /* its reply "550 5.1.1 ...", or "" */
};

/* Called once per relay_deliver(), from the event loop (never from inside
 * relay_deliver()). results[i] is for rcpts[i]; valid during the call. */
typedef void (*relay_done_cb)(void *arg, const struct relay_result *results,
                              size_t n);

/* Create the delivery engine for base: the DNS resolver
 * (cfg->dns_resolver or /etc/resolv.conf) and the client TLS context.
 * Returns NULL with a reason in err (errlen bytes). cfg is borrowed for
 * the engine's life. */
struct relay *relay_new(struct event_base *base, const struct config *cfg,
                        char *err, size_t errlen);

/* Stop every delivery (no more callbacks) and free the engine. */
void relay_free(struct relay *r);

/* Deliver m to rcpts[0..n), all of one domain (lower-case, as in the
 * addresses), through relayhost, the transport entry of domain, or its MX
 * hosts. m and rcpts are borrowed until cb runs. Returns 0, or -1 if out
 * of memory (nothing started, no callback). */
int relay_deliver(struct relay *r, const struct relay_msg *m,
                  const char *domain, const char *const *rcpts, size_t n,
                  relay_done_cb cb, void *arg);

/* Deliveries started or waiting for a connection slot. */
size_t relay_active(const struct relay *r);

#endif
