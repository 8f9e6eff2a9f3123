/*
 * smtp_server.h -- the SMTP server session (RFC 5321), sans-I/O.
 *
 * The session takes the bytes a client sent and produces reply bytes and
 * actions (start TLS, close). It never touches a socket, a file or OpenSSL:
 * the I/O layer drives it, and policy (which recipients are ours) and
 * storage (the spool) are reached through the hooks the driver supplies.
 *
 * Extensions: PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
 * ENHANCEDSTATUSCODES (RFC 2034/3463), STARTTLS (RFC 3207), SMTPUTF8
 * (RFC 6531), AUTH (RFC 4954; the SASL work is the driver's, through the
 * auth hooks). Trust boundary: every byte fed in comes from the network.
 */
#ifndef TLSMTA_SMTP_SERVER_H
#define TLSMTA_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp_address.h"
#include "util/util_buf.h"

enum smtp_tls_mode {
    SMTP_TLS_NONE,              /* STARTTLS neither offered nor accepted */
    SMTP_TLS_OPTIONAL,          /* STARTTLS offered */
    SMTP_TLS_REQUIRED,          /* STARTTLS offered; 530 5.7.0 for MAIL,
                                   RCPT, DATA, AUTH until it is done */
    SMTP_TLS_IMPLICIT,          /* TLS before the greeting (RFC 8314) */
};

/* RFC 4954 AUTH on this session's listener. Whatever the mode, AUTH is
 * neither advertised nor accepted before TLS (538 5.7.11). */
enum smtp_auth_mode {
    SMTP_AUTH_MODE_OFF,          /* not offered; AUTH gets 503 5.5.1 */
    SMTP_AUTH_MODE_OPTIONAL,     /* offered after TLS */
    SMTP_AUTH_MODE_REQUIRED,     /* offered after TLS; MAIL before a
                                    successful AUTH gets 530 5.7.0
                                    Authentication required */
};

enum smtp_bare_newline {
    SMTP_BARE_NEWLINE_NORMALIZE, /* bare CR / LF in DATA stored as CRLF */
    SMTP_BARE_NEWLINE_REJECT,    /* 550 5.5.2 at end of DATA */
};

/* Fixed for the life of a session; owned by the driver, must outlive it. */
struct smtp_server_params {
    const char *hostname;        /* our name in the greeting and replies */
    const char *session_id;      /* prefix of the session's log lines */
    const char *client_addr;     /* "192.0.2.1" or "2001:db8::1", for logs */
    uint64_t message_size_limit; /* bytes; 0 means none (RFC 1870) */
    unsigned recipient_limit;    /* RCPTs per transaction; 452 4.5.3 past it;
                                    0 means 100 (RFC 5321 4.5.3.1.8) */
    unsigned hard_error_limit;   /* errors before 421 4.7.0 and close; 0
                                    means 20 (Postfix's default) */
    enum smtp_tls_mode tls_mode;
    enum smtp_bare_newline bare_newline;
    enum smtp_auth_mode auth_mode;   /* default (0) OFF */
    unsigned hopcount_limit;     /* Received: fields that refuse a message
                                    as a loop (554 5.4.6, RFC 5321 6.3);
                                    0 means no check */
};

/* What the driver's policy says of one forward-path (RFC 5321 4.1.1.3). */
enum smtp_rcpt_verdict {
    SMTP_RCPT_OK,                /* 250 2.1.5 */
    SMTP_RCPT_UNKNOWN_USER,      /* 550 5.1.1 */
    SMTP_RCPT_RELAY_DENIED,      /* 554 5.7.1 Relay access denied */
    SMTP_RCPT_TEMPFAIL,          /* 451 4.3.0 */
};

/* Outcome of storing a message. */
enum smtp_store_result {
    SMTP_STORE_OK,               /* 250 2.0.0 Ok: queued as ID */
    SMTP_STORE_TEMPFAIL,         /* 451 4.3.0 */
    SMTP_STORE_NOSPACE,          /* 452 4.3.1 */
    SMTP_STORE_PENDING,          /* the driver commits later (group commit)
                                    and then calls smtp_server_store_done() */
};

/* Read-only view of the current transaction, passed to the hooks. */
struct smtp_transaction {
    struct smtp_address sender;      /* reverse-path; null path allowed */
    struct smtp_address *rcpts;      /* accepted forward-paths, n_rcpts */
    size_t n_rcpts;
    uint64_t declared_size;          /* MAIL SIZE= value, 0 if none */
    bool body_8bitmime;              /* MAIL BODY=8BITMIME */
    bool smtputf8;                   /* MAIL SMTPUTF8 */
};

/* Read-only facts about the session, passed to the hooks. */
struct smtp_session_view {
    const char *helo_name;           /* as given in EHLO/HELO */
    bool esmtp;                      /* EHLO (true) or HELO */
    bool tls;                        /* TLS active (RFC 3848 ESMTPS) */
    bool authenticated;              /* AUTH succeeded (RFC 3848 ESMTPA) */
    const char *auth_user;           /* the login when authenticated, else
                                        NULL */
};

/* Result of one step of a SASL exchange (RFC 4954 4). */
enum smtp_auth_status {
    SMTP_AUTH_CONTINUE,   /* 334 <base64 challenge>, await a response */
    SMTP_AUTH_OK,         /* 235 2.7.0 Authentication successful */
    SMTP_AUTH_FAIL,       /* 535 5.7.8 Authentication credentials invalid */
    SMTP_AUTH_NO_MECH,    /* 504 5.5.4 Unrecognized authentication type */
    SMTP_AUTH_TEMPFAIL,   /* 454 4.7.0 Temporary authentication failure */
};

/* Driver-supplied policy and storage. All may be called only from inside
 * smtp_server_feed(). ctx is passed back unchanged. */
struct smtp_server_hooks {
    void *ctx;
    /* RFC 5321 4.5.1: "RCPT TO:<Postmaster>" (no domain) arrives here as
     * postmaster@<params.hostname> and must be accepted. */
    enum smtp_rcpt_verdict (*rcpt_check)(void *ctx,
                                         const struct smtp_session_view *sv,
                                         const struct smtp_address *rcpt);
    /* Open a new message for the transaction; 0, or -1 (451 4.3.0 sent,
     * transaction kept so the client may retry). Called when DATA is
     * accepted, before the 354 reply. */
    int (*msg_begin)(void *ctx, const struct smtp_session_view *sv,
                     const struct smtp_transaction *t);
    /* Append content: dot-unstuffed, CRLF line ends, in order. 0, or -1
     * (the session keeps reading to the end of DATA, then calls msg_abort
     * and answers 451 4.3.0 or 452 4.3.1 per errno_nospace). */
    int (*msg_write)(void *ctx, const char *data, size_t len,
                     bool *errno_nospace);
    /* Make the message durable (RFC 5321 4.1.1.4: only then 250). On
     * SMTP_STORE_OK the queue id (NUL-terminated, fits queue_id_size) is
     * written to queue_id. On failure the hook has thrown the message away
     * itself: msg_abort is not called after msg_commit. */
    enum smtp_store_result (*msg_commit)(void *ctx, char *queue_id,
                                         size_t queue_id_size);
    /* Throw the open message away (size limit, bare newline, error). */
    void (*msg_abort)(void *ctx);

    /* ---- AUTH (RFC 4954); all may be NULL when auth_mode is OFF ---- */

    /* Space-separated mechanisms for the EHLO AUTH keyword ("PLAIN
     * LOGIN"), or NULL/"" for none (then AUTH is not advertised and gets
     * 503 5.5.1). Asked only once TLS is active, at each EHLO and AUTH
     * (and MAIL with AUTH=); AUTH for a mechanism not in the list gets
     * 504 5.5.4 without reaching auth_start. Names are SASL mechanism
     * names (RFC 4422 3.1), sent as they are in the EHLO reply. With
     * auth_mode not OFF, a NULL auth_mechanisms, auth_start, auth_step,
     * auth_abort or auth_failed means no AUTH either. */
    const char *(*auth_mechanisms)(void *ctx);
    /* Start an exchange with mech (upper-cased as sent). has_initial is
     * false when the command had no initial response; "=" gives
     * has_initial true with initial_len 0. initial is already decoded
     * from base64. On CONTINUE, challenge holds the raw bytes to send in
     * the 334 (the session encodes them, at most 9210 octets: challenge
     * is bounded so); on OK, user holds the login (NUL-terminated; the
     * session copies it), on FAIL the login if known. user_size is 256. */
    enum smtp_auth_status (*auth_start)(void *ctx, const char *mech,
                                        const char *initial,
                                        size_t initial_len, bool has_initial,
                                        struct buf *challenge, char *user,
                                        size_t user_size);
    /* The client's (decoded) response to a 334. Same results. */
    enum smtp_auth_status (*auth_step)(void *ctx, const char *response,
                                       size_t len, struct buf *challenge,
                                       char *user, size_t user_size);
    /* Forget an unfinished exchange ("*" from the client, RFC 4954 4, or
     * the session ends). */
    void (*auth_abort)(void *ctx);
    /* An exchange ended in FAIL (user may be "" if unknown). Returns true
     * if the client may try again (535 goes out), false to answer 421
     * 4.7.0 and close (too many failures from this client address). The
     * session logs no line of its own for a 535: log it here. */
    bool (*auth_failed)(void *ctx, const char *user);
    /* MAIL from an authenticated client: may this login (sv->auth_user)
     * use this reverse-path (local "" for the null path <>)? false
     * answers 553 5.7.1 (Postfix reject_sender_login_mismatch). NULL
     * means always. */
    bool (*sender_allowed)(void *ctx, const struct smtp_session_view *sv,
                           const struct smtp_address *sender);
};

enum smtp_server_action {
    SMTP_ACTION_NONE,            /* keep feeding */
    SMTP_ACTION_STARTTLS,        /* flush output, discard any unread input
                                    (RFC 3207 4.2), handshake, then call
                                    smtp_server_tls_started() */
    SMTP_ACTION_CLOSE,           /* flush output, then close */
    SMTP_ACTION_STORE_PENDING,   /* msg_commit answered PENDING: flush
                                    output, feed nothing more until
                                    smtp_server_store_done() */
    SMTP_ACTION_AUTH_FAILED,     /* a 535 was just appended and feeding
                                    stopped right after the failed
                                    exchange: the driver may hold the reply
                                    (tarpit) before it feeds the rest, so
                                    pipelined guesses wait one by one */
};

/* Per-verb counts for the disconnect log line. */
struct smtp_server_counts {
    unsigned ehlo, helo, starttls, auth, mail, rcpt, data, rset, noop, quit,
        vrfy, help, unknown, errors, total;
};

struct smtp_server;

/* Create a session. params and hooks are borrowed (must outlive it).
 * Returns NULL only if memory runs out. Free with smtp_server_free(). */
struct smtp_server *smtp_server_new(const struct smtp_server_params *params,
                                    const struct smtp_server_hooks *hooks);

/* Free a session (NULL is fine). A message still open (connection lost
 * inside DATA) is thrown away through hooks->msg_abort first. */
void smtp_server_free(struct smtp_server *s);

/* Append the 220 greeting (RFC 5321 4.3.1) to out. For SMTP_TLS_IMPLICIT
 * call smtp_server_tls_started() first. */
void smtp_server_greeting(struct smtp_server *s, struct buf *out);

/* Feed len bytes received from the client. Replies are appended to out.
 * Returns how many bytes were consumed; fewer than len only when *action is
 * SMTP_ACTION_STARTTLS (the rest must be discarded unread, RFC 3207 4.2),
 * SMTP_ACTION_CLOSE, SMTP_ACTION_STORE_PENDING or SMTP_ACTION_AUTH_FAILED
 * (feed the rest later). Partial lines are kept inside the session, so input
 * may be split anywhere. Never fails: bad input gets an SMTP reply. */
size_t smtp_server_feed(struct smtp_server *s, const char *data, size_t len,
                        struct buf *out, enum smtp_server_action *action);

/* The commit that msg_commit left PENDING has finished with result (OK,
 * TEMPFAIL or NOSPACE; queue_id is used for OK). Appends the reply to the
 * DATA (RFC 5321 4.1.1.4: 250 only now) and makes the session ready to be
 * fed again. Does nothing unless a store is pending. */
void smtp_server_store_done(struct smtp_server *s,
                            enum smtp_store_result result,
                            const char *queue_id, struct buf *out);

/* The TLS handshake succeeded: RFC 3207 4.2, forget the EHLO name and any
 * transaction, require EHLO again, never offer STARTTLS again. */
void smtp_server_tls_started(struct smtp_server *s);

/* The client was idle for too long: appends 421 4.4.2 and returns
 * SMTP_ACTION_CLOSE (RFC 5321 4.5.3.2.7). An open message is aborted.
 * Once the session is closed (QUIT, an earlier 421) it appends nothing. */
enum smtp_server_action smtp_server_timeout(struct smtp_server *s,
                                            struct buf *out);

/* The server is shutting down: appends 421 4.3.2 and returns CLOSE;
 * otherwise as smtp_server_timeout(). */
enum smtp_server_action smtp_server_shutdown(struct smtp_server *s,
                                             struct buf *out);

/* Counts of commands seen so far. */
const struct smtp_server_counts *smtp_server_counts(const struct smtp_server *s);

/* True while inside DATA (for choosing a log word on disconnect). */
bool smtp_server_in_data(const struct smtp_server *s);

#endif
