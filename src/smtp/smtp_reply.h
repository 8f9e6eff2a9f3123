/*
 * smtp_reply.h -- every single-line reply the SMTP server sends, as a table
 * of code, enhanced status code and text.
 *
 * Enhanced status codes: RFC 3463 (classes 2, 4 and 5 only, so the 354
 * intermediate reply has none), advertised as ENHANCEDSTATUSCODES (RFC
 * 2034); RFC 2034 3 exempts the greeting and the HELO/EHLO replies. The
 * multi-line EHLO reply is built by smtp_server.c; the 334 AUTH challenge
 * (RFC 4954 4) carries base64 text only.
 */
#ifndef TLSMTA_SMTP_REPLY_H
#define TLSMTA_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util_buf.h"

enum smtp_reply_id {
    SMTP_REPLY_GREETING,          /* 220 HOST ESMTP tlsmta */
    SMTP_REPLY_HELO,              /* 250 HOST */
    SMTP_REPLY_OK,                /* 250 2.0.0 Ok */
    SMTP_REPLY_SENDER_OK,         /* 250 2.1.0 Ok */
    SMTP_REPLY_RCPT_OK,           /* 250 2.1.5 Ok */
    SMTP_REPLY_QUEUED,            /* 250 2.0.0 Ok: queued as ID */
    SMTP_REPLY_VRFY,              /* 252 2.0.0 */
    SMTP_REPLY_HELP,              /* 214 2.0.0 */
    SMTP_REPLY_BYE,               /* 221 2.0.0 Bye */
    SMTP_REPLY_TLS_READY,         /* 220 2.0.0 Ready to start TLS */
    SMTP_REPLY_DATA_GO,           /* 354 */
    SMTP_REPLY_UNKNOWN_COMMAND,   /* 500 5.5.2 */
    SMTP_REPLY_LINE_TOO_LONG,     /* 500 5.5.2 */
    SMTP_REPLY_NUL_IN_COMMAND,    /* 500 5.5.2 */
    SMTP_REPLY_SYNTAX,            /* 501 5.5.4 Syntax: USAGE */
    SMTP_REPLY_BAD_HELO_NAME,     /* 501 5.5.4 */
    SMTP_REPLY_BAD_PARAMETER,     /* 501 5.5.4 (malformed SIZE=, BODY=) */
    SMTP_REPLY_BAD_SENDER,        /* 501 5.1.7 */
    SMTP_REPLY_SENDER_TOO_LONG,   /* 501 5.1.7 */
    SMTP_REPLY_BAD_RCPT,          /* 501 5.1.3 */
    SMTP_REPLY_RCPT_TOO_LONG,     /* 501 5.1.3 */
    SMTP_REPLY_UTF8_ADDRESS,      /* 553 5.6.7, RFC 6531 3.5 */
    SMTP_REPLY_UNKNOWN_PARAMETER, /* 555 5.5.4 */
    SMTP_REPLY_NOT_IMPLEMENTED,   /* 502 5.5.1 */
    SMTP_REPLY_NEED_HELO,         /* 503 5.5.1 */
    SMTP_REPLY_NESTED_MAIL,       /* 503 5.5.1 */
    SMTP_REPLY_NEED_MAIL,         /* 503 5.5.1 */
    SMTP_REPLY_NEED_RCPT,         /* 503 5.5.1 */
    SMTP_REPLY_TLS_ACTIVE,        /* 503 5.5.1 */
    SMTP_REPLY_NO_VALID_RCPT,     /* 554 5.5.1, RFC 5321 3.3 */
    SMTP_REPLY_MUST_STARTTLS,     /* 530 5.7.0, RFC 3207 4 */
    SMTP_REPLY_SIZE_EXCEEDED,     /* 552 5.3.4, RFC 1870 6.1 at MAIL */
    SMTP_REPLY_TOO_MANY_RCPTS,    /* 452 4.5.3, RFC 5321 4.5.3.1.10 */
    SMTP_REPLY_UNKNOWN_USER,      /* 550 5.1.1 */
    SMTP_REPLY_RELAY_DENIED,      /* 554 5.7.1 Relay access denied */
    SMTP_REPLY_RCPT_TEMPFAIL,     /* 451 4.3.0 */
    SMTP_REPLY_MSG_TOO_BIG,       /* 552 5.3.4 after DATA */
    SMTP_REPLY_BARE_NEWLINE,      /* 550 5.5.2 after DATA */
    SMTP_REPLY_TOO_MANY_HOPS,     /* 554 5.4.6 after DATA, RFC 5321 6.3 */
    SMTP_REPLY_STORE_TEMPFAIL,    /* 451 4.3.0 */
    SMTP_REPLY_STORE_NOSPACE,     /* 452 4.3.1 */
    SMTP_REPLY_TOO_MANY_ERRORS,   /* 421 4.7.0 HOST */
    SMTP_REPLY_TIMEOUT,           /* 421 4.4.2 HOST */
    SMTP_REPLY_SHUTDOWN,          /* 421 4.3.2 HOST */
    /* AUTH, RFC 4954 4 and 6 */
    SMTP_REPLY_AUTH_OK,            /* 235 2.7.0 */
    SMTP_REPLY_AUTH_NOT_ENABLED,   /* 503 5.5.1 */
    SMTP_REPLY_AUTH_ALREADY,       /* 503 5.5.1 */
    SMTP_REPLY_AUTH_IN_MAIL,       /* 503 5.5.1 */
    SMTP_REPLY_AUTH_NEED_TLS,      /* 538 5.7.11 */
    SMTP_REPLY_AUTH_NO_MECH,       /* 504 5.5.4 */
    SMTP_REPLY_AUTH_BAD_BASE64,    /* 501 5.5.2 */
    SMTP_REPLY_AUTH_ABORTED,       /* 501 5.7.0 */
    SMTP_REPLY_AUTH_LINE_TOO_LONG, /* 500 5.5.6 */
    SMTP_REPLY_AUTH_FAILED,        /* 535 5.7.8 */
    SMTP_REPLY_AUTH_TEMPFAIL,      /* 454 4.7.0 */
    SMTP_REPLY_AUTH_REQUIRED,      /* 530 5.7.0 */
    SMTP_REPLY_SENDER_NOT_OWNED,   /* 553 5.7.1 ... not owned by user LOGIN */
    SMTP_REPLY_AUTH_TOO_MANY,      /* 421 4.7.0 HOST */
    SMTP_REPLY_COUNT
};

/* Append reply id to out as one CRLF-terminated line. arg fills the
 * reply's variable part (our hostname, a queue id, a usage string) and is
 * ignored by replies without one; it must be text we produced, never peer
 * bytes. Returns 0, or -1 if out is full. */
int smtp_reply_put(struct buf *out, enum smtp_reply_id id, const char *arg);

/* Append a 334 AUTH challenge (RFC 4954 4): "334 " and the base64 of len
 * octets of data, CRLF; "334 " alone for an empty challenge. Returns 0, or
 * -1 if out is full (then out is unchanged). */
int smtp_reply_put_challenge(struct buf *out, const void *data, size_t len);

/* The three-digit reply code of id (RFC 5321 4.2). */
unsigned smtp_reply_code(enum smtp_reply_id id);

/* True if id tells the client it did something wrong: a 4xx/5xx reply that
 * is not about local trouble and does not close the session. These count
 * towards the hard error limit and are logged as protocol errors. */
bool smtp_reply_is_client_error(enum smtp_reply_id id);

/* "550 5.1.1" -- code and enhanced code of id for log lines; a static
 * string, never NULL. */
const char *smtp_reply_status(enum smtp_reply_id id);

#endif
