/*
 * smtp_client.h -- the SMTP client session (RFC 5321), sans-I/O: server
 * bytes in, command bytes and actions out, one result per recipient.
 *
 * One session delivers one message to one host: greeting, EHLO (HELO when
 * EHLO gets 5xx), STARTTLS (RFC 3207) as the TLS mode asks, AUTH PLAIN or
 * LOGIN (RFC 4954, only over TLS), MAIL with SIZE (RFC 1870), BODY=8BITMIME
 * (RFC 6152) and SMTPUTF8 (RFC 6531), RCPT, DATA with dot-stuffing (RFC
 * 5321 4.5.2), QUIT. With PIPELINING (RFC 2920) MAIL, every RCPT and DATA
 * go out in one write. Replies are parsed strictly by smtp_reply_read.c.
 *
 * The driver (deliver/) owns the socket, TLS, timeouts and the MX walk:
 *
 *   c = smtp_client_new(&params);            connect (TLS first if IMPLICIT)
 *   loop:
 *     write smtp_client_output(), then smtp_client_output_clear()
 *     WANT_READ:    read, act = smtp_client_feed(c, bytes, n)
 *     STARTTLS:     drop unread bytes, handshake, smtp_client_tls_done(c)
 *     SEND_CONTENT: smtp_client_content() in pieces, writing output between
 *                   them, then smtp_client_content_end(); act = WANT_READ
 *     DONE:         write the output (QUIT), close; read the results
 *   on EOF / timeout / TLS failure: smtp_client_abort(c, "lost connection")
 *
 * Trust boundary: every byte fed in comes from the network. Reply text is
 * made printable ASCII before it reaches a result. Envelope strings come
 * from our spool; they are checked again (RFC 5321 4.1.2) so that no CR or
 * LF can ever reach a command line.
 */
#ifndef TLSMTA_SMTP_CLIENT_H
#define TLSMTA_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_CLIENT_TEXT_SIZE 512 /* octets of a result text, NUL included */
#define SMTP_CLIENT_DSN_SIZE 16   /* "5.1.1" and its NUL */

enum smtp_client_tls {
    SMTP_CLIENT_TLS_NONE,     /* never STARTTLS */
    SMTP_CLIENT_TLS_MAY,      /* STARTTLS if offered; refused (454): the
                                 session goes on in plaintext */
    SMTP_CLIENT_TLS_MUST,     /* STARTTLS required: not offered or refused
                                 -> session fails (try next host) */
    SMTP_CLIENT_TLS_IMPLICIT, /* connection is already TLS (RFC 8314) */
};

/* What to deliver and how. Copied by smtp_client_new(); the strings and
 * the rcpts array it points to are borrowed and must outlive the client. */
struct smtp_client_params {
    const char *helo_name;    /* EHLO/HELO argument, our host name */
    const char *sender;       /* reverse-path without <>, "" for null */
    const char *const *rcpts; /* forward-paths without <> */
    size_t n_rcpts;           /* entries in rcpts */
    uint64_t size;            /* content octets, for SIZE= (RFC 1870) */
    bool body_8bitmime;       /* BODY=8BITMIME if offered (RFC 6152) */
    bool smtputf8;            /* the envelope needs SMTPUTF8 (RFC 6531) */
    enum smtp_client_tls tls;
    const char *auth_user; /* NULL: no AUTH. Sent only over TLS */
    const char *auth_pass; /* with auth_user */
};

enum smtp_client_action {
    SMTP_CLIENT_WANT_READ,    /* send smtp_client_output() if any, then
                                 read more and feed it */
    SMTP_CLIENT_STARTTLS,     /* flush the output, discard every byte not
                                 fed yet (RFC 3207 4.2), handshake, then
                                 smtp_client_tls_done() */
    SMTP_CLIENT_SEND_CONTENT, /* pump the message with smtp_client_content()
                                 and smtp_client_content_end() */
    SMTP_CLIENT_DONE,         /* results final; flush output (QUIT, when
                                 there is one) then close */
};

enum smtp_client_status {
    SMTP_CLIENT_PENDING,  /* not decided yet */
    SMTP_CLIENT_SENT,     /* the server took responsibility (2xx to DATA) */
    SMTP_CLIENT_DEFERRED, /* try again later (4xx, session trouble) */
    SMTP_CLIENT_BOUNCED,  /* permanent failure (5xx, or local: size...) */
};

struct smtp_client_result {
    enum smtp_client_status status;
    int code; /* the server's reply code; 0 when text is a local reason */
    char dsn[SMTP_CLIENT_DSN_SIZE];   /* RFC 3463 status: from the reply when
                                         it has one, else derived (X.0.0);
                                         its class always matches status
                                         (2 sent, 4 deferred, 5 bounced) */
    char text[SMTP_CLIENT_TEXT_SIZE]; /* printable ASCII. code != 0: the
        reply, lines joined with ' ', and the command it answered:
        "550 5.1.1 <x@y>: no such user (in reply to RCPT TO command)"; the
        driver writes "host H said: " before it. code == 0: a local reason
        ("lost connection while sending RCPT TO", "TLS is required, but
        was not offered by host", "protocol error: ...") */
};

struct smtp_client;

/* A session for p (copied; p's strings and rcpts array borrowed), waiting
 * for the greeting. Recipients whose address is not a valid RFC 5321 path
 * (or needs SMTPUTF8 without p->smtputf8) are bounced at once (5.1.3 /
 * 5.6.7); an invalid sender bounces them all (5.1.7). Returns NULL when
 * memory runs out. */
struct smtp_client *smtp_client_new(const struct smtp_client_params *p);

/* Release c (NULL is fine); credentials in its buffers are wiped. */
void smtp_client_free(struct smtp_client *c);

/* Feed len bytes read from the server. Consumes all of them: complete
 * replies are acted on in order (RFC 2920: pipelined replies may arrive
 * in one read or split anywhere); after a 220 to STARTTLS the rest is
 * dropped (RFC 3207 4.2). Bytes fed while the action is SEND_CONTENT are
 * kept (up to 64 KiB, more is a protocol error) and read after
 * smtp_client_content_end(), as RFC 5321 4.3.2 has no reply before the
 * end of data. Bytes fed while the action is STARTTLS or DONE are
 * ignored. Returns the next action (see smtp_client_action()). */
enum smtp_client_action smtp_client_feed(struct smtp_client *c,
                                         const char *data, size_t len);

/* The action the driver must take now, as last returned by feed. */
enum smtp_client_action smtp_client_action(const struct smtp_client *c);

/* The TLS handshake after STARTTLS succeeded: everything learnt from the
 * server before it is forgotten and EHLO is sent again (RFC 3207 4.2).
 * The action becomes WANT_READ. Ignored unless the action is STARTTLS. */
void smtp_client_tls_done(struct smtp_client *c);

/* Message content: len spool bytes (CRLF lines), any split. Appended to
 * the output dot-stuffed (RFC 5321 4.5.2: a "." at the start of a line is
 * doubled) with every bare CR and bare LF written as CRLF, so no content
 * can end the data early at the next hop. Output grows by at most 2*len:
 * feed pieces of a few KiB and flush between them. Ignored unless the
 * action is SEND_CONTENT. If memory runs out the session is aborted
 * (action DONE, every open recipient deferred). */
void smtp_client_content(struct smtp_client *c, const char *data, size_t len);

/* End of content: CRLF if the last line was not ended, then ".\r\n".
 * The action becomes WANT_READ (the reply to the end of data). Ignored
 * unless the action is SEND_CONTENT. */
void smtp_client_content_end(struct smtp_client *c);

/* Bytes to send to the server now (*len octets; may be 0). Points into c,
 * valid until the next call that takes c non-const. */
const char *smtp_client_output(const struct smtp_client *c, size_t *len);

/* The output was sent: forget it (wiping it if it held credentials). */
void smtp_client_output_clear(struct smtp_client *c);

/* The connection broke, timed out, or TLS failed: every undecided
 * recipient is deferred (4.4.2, code 0) with text "<what> while <stage>",
 * e.g. "lost connection while sending RCPT TO" (what NULL: "lost
 * connection"). The output is dropped and the action becomes DONE.
 * Nothing happens once the action is DONE. */
void smtp_client_abort(struct smtp_client *c, const char *what);

/* The result of rcpts[i] of the params, or NULL if i >= n_rcpts. Final
 * for every recipient once the action is DONE. Points into c. */
const struct smtp_client_result *
smtp_client_rcpt_result(const struct smtp_client *c, size_t i);

/* True if recipients were deferred because the session failed before MAIL
 * FROM was accepted (greeting, EHLO, STARTTLS, AUTH, TLS required but not
 * offered, a 4xx to MAIL, a 421 or an abort before it): the driver may try
 * them on the next MX host. */
bool smtp_client_try_next_host(const struct smtp_client *c);

/* True if the last EHLO reply before TLS listed STARTTLS (for the log's
 * "no TLS: not offered"). Kept after the handshake. */
bool smtp_client_tls_offered(const struct smtp_client *c);

/* The stage of the session for log lines: "greeting", "EHLO", "HELO",
 * "STARTTLS", "TLS handshake", "AUTH", "MAIL FROM", "RCPT TO", "DATA",
 * "message body", "end of data", "QUIT". A static string. */
const char *smtp_client_stage(const struct smtp_client *c);

#endif
