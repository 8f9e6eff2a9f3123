/*
 * check_conn.h -- the probe's connections (private to src/check): one
 * TCP connection to the server under test, SMTP replies read with the
 * strict reader of smtp/smtp_reply_read.h (RFC 5321 4.2), commands
 * written, STARTTLS (RFC 3207) or implicit TLS (RFC 8314) through
 * OpenSSL. Sockets are non-blocking and every step (connect, one reply,
 * one write, one handshake) waits in poll() for at most the per-step
 * timeout, so a silent or slow server can never hang the probe.
 *
 * Also the parts of check_probe() that live in other files
 * (check_tls.c, check_session.c, check_weak.c).
 *
 * Trust boundary: every byte read comes from the server under test.
 */
#ifndef TLSMTA_CHECK_CONN_H
#define TLSMTA_CHECK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "check/check.h"
#include "smtp/smtp_reply_read.h"

#define CHECK_CONN_IN_MAX 4096    /* bytes read ahead of the reply reader */
#define CHECK_HELO_MAX 256        /* EHLO argument, RFC 1035 2.3.4 */
#define CHECK_CONN_NO_REPLY "no reply within" /* starts the time-out
                                                 reason of a reply */
#define CHECK_ERR_MAX 400         /* room of our error texts (they fit
                                     in CHECK_TEXT_MAX with a prefix) */

/* Where and how to reach the server, fixed by the first connection. */
struct check_target {
    const struct check_options *opt; /* borrowed */
    enum check_mode mode;         /* resolved: never CHECK_MODE_AUTO */
    struct sockaddr_storage addr; /* the address that answered */
    socklen_t addrlen;
    unsigned timeout_ms;          /* per step */
    char helo[CHECK_HELO_MAX];    /* our EHLO argument */
    const char *name;             /* SNI and the name to match: servername,
                                     else host (borrowed from opt) */
};

/* One connection. */
struct check_conn {
    int fd;                       /* -1 when closed */
    SSL *ssl;                     /* owned; NULL before TLS */
    unsigned timeout_ms;          /* per step */
    struct smtp_reply_reader rd;  /* the reply being read */
    char in[CHECK_CONN_IN_MAX];   /* bytes read, not yet fed to rd */
    size_t in_off;                /* first unfed byte */
    size_t in_len;                /* end of the read bytes */
};

/* Milliseconds of a monotonic clock. */
int64_t check_now_ms(void);

/* Resolve opt->host (getaddrinfo; an IP literal is used as is; with
 * --domain the resolver of delivery, check_domain_addrs()) and connect to
 * the first address that answers within the timeout. Fills
 * t->addr and r->address ("192.0.2.1:25", "[2001:db8::1]:25"). Returns 0
 * with c open, or -1 with the reason in err. */
int check_conn_first(struct check_target *t, struct check_conn *c,
                     char *address, size_t address_size, char *err,
                     size_t errlen);

/* --domain: the addresses of host (AAAA first, then A; port 0) through
 * the resolver delivery uses (dns/dns.h), with opt->dns_resolver and
 * opt->timeout, like check_domain_mx(). Returns 0 with *addrs (n_addrs >
 * 0 entries; caller frees), or -1 with the reason in err. */
int check_domain_addrs(const struct check_options *opt, const char *host,
                       struct sockaddr_storage **addrs, size_t *n_addrs,
                       char *err, size_t errlen);

/* Connect again to t's address. Returns 0 with c open, or -1 (err). */
int check_conn_open(const struct check_target *t, struct check_conn *c,
                    char *err, size_t errlen);

/* Send SSL_shutdown (without waiting), close and free everything; c can
 * be opened again. Safe on a closed connection. */
void check_conn_close(struct check_conn *c);

/* Write all of data (TLS once started). Returns 0, or -1 (err). */
int check_conn_send(struct check_conn *c, const char *data, size_t len,
                    char *err, size_t errlen);

/* Read one whole reply into c->rd within wait_ms. Returns its code
 * (200-559), 0 when nothing complete arrived in time (when quiet is set
 * this is not an error and err is untouched), or -1 with the reason in
 * err: closed, malformed, an I/O or TLS error, or (without quiet) the
 * time limit. */
int check_conn_reply_within(struct check_conn *c, unsigned wait_ms,
                            bool quiet, char *err, size_t errlen);

/* check_conn_reply_within() with the per-step timeout, not quiet. */
int check_conn_reply(struct check_conn *c, char *err, size_t errlen);

/* Send cmd (without CRLF) and read its reply. Returns as
 * check_conn_reply(). */
int check_conn_command(struct check_conn *c, const char *cmd, char *err,
                       size_t errlen);

/* Start TLS on c with a new SSL of ctx: SNI and the name remembered by
 * tls_client_session_setup(name), sess to resume (or NULL), an OCSP
 * request when ocsp is set. Returns 0; -1 when the server refused at
 * the TLS level (an alert, or a choice OpenSSL rejects), OpenSSL's reason
 * in err; or -2 when the transport broke (time out, EOF without alert,
 * reset, bytes that are not TLS, no memory), the reason in err: that
 * says nothing about what the server accepts. Bytes read before are
 * dropped (RFC 3207 4.2: nothing from before the handshake may be used
 * after it), except that any left unread are reported as -2. */
struct check_tls_start {
    SSL_CTX *ctx;                 /* borrowed */
    const char *name;             /* SNI / name, or NULL */
    SSL_SESSION *session;         /* to resume, or NULL */
    bool ocsp;                    /* ask for OCSP stapling */
};
int check_conn_tls(struct check_conn *c, const struct check_tls_start *ts,
                   char *err, size_t errlen);

/* Wait for an SSL operation that returned ret to be able to go on
 * (WANT_READ / WANT_WRITE) until deadline (check_now_ms()). Returns 0 to
 * retry, -1 when it cannot (any other error, time out). */
int check_conn_ssl_wait(struct check_conn *c, int ret, int64_t deadline);

/* After an unexpected reply: "what: 554 5.7.1 text" from the reply held
 * when code > 0, else "what: " and the reason already in err (from the
 * call that returned code). */
void check_conn_why(const struct check_conn *c, int code, const char *what,
                    char *err, size_t errlen);

/* Copy the text of the reply held in c->rd into dst (size bytes, cut
 * there) without the codes, lines joined with ' ', bytes as sent except
 * NUL as '?': escape before printing. */
void check_conn_reply_text(const struct check_conn *c, char *dst,
                           size_t size);

/* A probe connection up to a finished handshake: connect, and for
 * STARTTLS the greeting, EHLO, STARTTLS and its 220. */
enum check_open_result {
    CHECK_OPEN_TLS,               /* handshake done, c->ssl is up */
    CHECK_OPEN_REFUSED,           /* refused at the TLS level (err) */
    CHECK_OPEN_ERROR,             /* the connection broke before or
                                     during the handshake (err) */
};
enum check_open_result check_conn_open_tls(const struct check_target *t,
                                           struct check_conn *c,
                                           const struct check_tls_start *ts,
                                           char *err, size_t errlen);

/* The STARTTLS preamble on an open connection: greeting, EHLO, then cmd
 * ("STARTTLS", or "STARTTLS\r\nNOOP" for the injection test) in one write
 * and its 220. Returns 0, or -1 (err). */
int check_conn_starttls(const struct check_target *t, struct check_conn *c,
                        const char *cmd, char *err, size_t errlen);

/*
 * The parts of check_probe().
 */

/* A TLS parameter set for target t (policy, exactly one version or 0).
 * Returns the context or NULL with err. */
SSL_CTX *check_tls_ctx(const struct check_target *t, bool legacy,
                       int version, char *err, size_t errlen);

/* Section 3 and 5: one handshake per version, then the suites of each
 * accepted version. */
void check_tls_versions(const struct check_target *t, struct check_report *r);
void check_tls_ciphers(const struct check_target *t, struct check_report *r);

/* OpenSSL's number of version v (SSL3_VERSION ...), 0 out of range. */
int check_tls_number(enum check_version v);

/* The OpenSSL version number of the best accepted version (0: none). */
int check_tls_best(const struct check_report *r);

/* Section 4 and 6 from an established session of the main connection:
 * suite, group, key size, OCSP, the chain, its verification and the
 * name match. */
void check_session_describe(const struct check_target *t, SSL *ssl,
                            struct check_report *r);

/* Section 4: whether a new connection resumes session with ctx. */
void check_session_resume(const struct check_target *t, SSL_CTX *ctx,
                          SSL_SESSION *session, struct check_report *r);

/* Section 8: STARTTLS injection (with ctx), renegotiation and
 * compression (at the best version up to TLS 1.2). */
void check_weak_injection(const struct check_target *t, SSL_CTX *ctx,
                          struct check_report *r);
void check_weak_renegotiation(const struct check_target *t,
                              struct check_report *r);

/* Count a probe connection that broke (err: why) in r->probe_errors;
 * the first reason is kept in r->probe_error. */
void check_probe_failed(struct check_report *r, const char *err);

/* The main session is evidence: its version is accepted (whatever its
 * separate handshake said) and its suite is among that version's. Call
 * after check_tls_versions() and again after check_tls_ciphers(). */
void check_tls_session_evidence(struct check_report *r);

/* Fill e from the EHLO reply held in c->rd (code already known). */
void check_ehlo_parse(const struct check_conn *c, int code,
                      struct check_ehlo *e);

#endif
