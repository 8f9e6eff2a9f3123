/*
 * smtp_reply.c -- the table of SMTP server replies (RFC 5321 4.2, 4.3.2)
 * with their RFC 3463 enhanced status codes.
 *
 * Texts follow Postfix where the field knows them. Multi-line replies
 * (EHLO) are not here. Nothing in this file sees peer bytes.
 */
#include "smtp/smtp_reply.h"

#include <assert.h>
#include <string.h>

#include "smtp/smtp_base64.h"

enum reply_arg {
    ARG_NONE,   /* no variable part */
    ARG_BEFORE, /* "CODE X.Y.Z ARG TEXT" (our hostname, RFC 5321 4.2) */
    ARG_AFTER,  /* "CODE X.Y.Z TEXT ARG" */
};

enum reply_flag {
    REPLY_LOCAL = 1, /* our trouble or a closing 421: no client error */
};

struct reply {
    const char *status; /* "550 5.1.1", or "220" alone where RFC 2034 3
                           (greeting, EHLO) or RFC 3463 (no class 3) allow
                           no enhanced code */
    const char *text;   /* may be "" when arg is all there is */
    enum reply_arg arg;
    unsigned flags; /* enum reply_flag */
};

/* clang-format off */
static const struct reply smtp_replies[SMTP_REPLY_COUNT] = {
    [SMTP_REPLY_GREETING] = {"220", "ESMTP tlsmta", ARG_BEFORE, 0},
    [SMTP_REPLY_HELO] = {"250", "", ARG_BEFORE, 0},
    [SMTP_REPLY_OK] = {"250 2.0.0", "Ok", ARG_NONE, 0},
    [SMTP_REPLY_SENDER_OK] = {"250 2.1.0", "Ok", ARG_NONE, 0},
    [SMTP_REPLY_RCPT_OK] = {"250 2.1.5", "Ok", ARG_NONE, 0},
    [SMTP_REPLY_QUEUED] = {"250 2.0.0", "Ok: queued as", ARG_AFTER, 0},
    /* RFC 5321 3.5.3: we do not disclose which users exist. */
    [SMTP_REPLY_VRFY] = {"252 2.0.0",
                         "Cannot VRFY user, but will accept message and "
                         "attempt delivery", ARG_NONE, 0},
    [SMTP_REPLY_HELP] = {"214 2.0.0",
                         "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT "
                         "VRFY HELP STARTTLS", ARG_NONE, 0},
    [SMTP_REPLY_BYE] = {"221 2.0.0", "Bye", ARG_NONE, 0},
    [SMTP_REPLY_TLS_READY] = {"220 2.0.0", "Ready to start TLS", ARG_NONE,
                              0},
    [SMTP_REPLY_DATA_GO] = {"354", "End data with <CR><LF>.<CR><LF>",
                            ARG_NONE, 0},
    [SMTP_REPLY_UNKNOWN_COMMAND] = {"500 5.5.2",
                                    "Error: command not recognized",
                                    ARG_NONE, 0},
    [SMTP_REPLY_LINE_TOO_LONG] = {"500 5.5.2", "Line too long", ARG_NONE, 0},
    [SMTP_REPLY_NUL_IN_COMMAND] = {"500 5.5.2",
                                   "Error: NUL character in command",
                                   ARG_NONE, 0},
    [SMTP_REPLY_SYNTAX] = {"501 5.5.4", "Syntax:", ARG_AFTER, 0},
    [SMTP_REPLY_BAD_HELO_NAME] = {"501 5.5.4",
                                  "Error: invalid domain name or address "
                                  "literal", ARG_NONE, 0},
    [SMTP_REPLY_BAD_PARAMETER] = {"501 5.5.4", "Error: bad parameter value",
                                  ARG_NONE, 0},
    [SMTP_REPLY_BAD_SENDER] = {"501 5.1.7", "Bad sender address syntax",
                               ARG_NONE, 0},
    /* RFC 5321 4.5.3.1.10 "501 Path too long" */
    [SMTP_REPLY_SENDER_TOO_LONG] = {"501 5.1.7", "Sender path too long",
                                    ARG_NONE, 0},
    [SMTP_REPLY_BAD_RCPT] = {"501 5.1.3", "Bad recipient address syntax",
                             ARG_NONE, 0},
    [SMTP_REPLY_RCPT_TOO_LONG] = {"501 5.1.3", "Recipient path too long",
                                  ARG_NONE, 0},
    [SMTP_REPLY_UTF8_ADDRESS] = {"553 5.6.7",
                                 "Non-ASCII address requires SMTPUTF8",
                                 ARG_NONE, 0},
    [SMTP_REPLY_UNKNOWN_PARAMETER] = {"555 5.5.4",
                                      "Unsupported MAIL/RCPT parameter",
                                      ARG_NONE, 0},
    [SMTP_REPLY_NOT_IMPLEMENTED] = {"502 5.5.1",
                                    "Error: command not implemented",
                                    ARG_NONE, 0},
    [SMTP_REPLY_NEED_HELO] = {"503 5.5.1", "Error: send HELO/EHLO first",
                              ARG_NONE, 0},
    [SMTP_REPLY_NESTED_MAIL] = {"503 5.5.1", "Error: nested MAIL command",
                                ARG_NONE, 0},
    [SMTP_REPLY_NEED_MAIL] = {"503 5.5.1", "Error: need MAIL command",
                              ARG_NONE, 0},
    [SMTP_REPLY_NEED_RCPT] = {"503 5.5.1", "Error: need RCPT command",
                              ARG_NONE, 0},
    [SMTP_REPLY_TLS_ACTIVE] = {"503 5.5.1", "Error: TLS already active",
                               ARG_NONE, 0},
    [SMTP_REPLY_NO_VALID_RCPT] = {"554 5.5.1", "Error: no valid recipients",
                                  ARG_NONE, 0},
    [SMTP_REPLY_MUST_STARTTLS] = {"530 5.7.0",
                                  "Must issue a STARTTLS command first",
                                  ARG_NONE, 0},
    [SMTP_REPLY_SIZE_EXCEEDED] = {"552 5.3.4",
                                  "Message size exceeds fixed limit",
                                  ARG_NONE, 0},
    [SMTP_REPLY_TOO_MANY_RCPTS] = {"452 4.5.3", "Error: too many recipients",
                                   ARG_NONE, 0},
    [SMTP_REPLY_UNKNOWN_USER] = {"550 5.1.1",
                                 "Recipient address rejected: User unknown",
                                 ARG_NONE, 0},
    [SMTP_REPLY_RELAY_DENIED] = {"554 5.7.1", "Relay access denied",
                                 ARG_NONE, 0},
    [SMTP_REPLY_RCPT_TEMPFAIL] = {"451 4.3.0",
                                  "Temporary lookup failure, try again later",
                                  ARG_NONE, REPLY_LOCAL},
    [SMTP_REPLY_MSG_TOO_BIG] = {"552 5.3.4", "Error: message file too big",
                                ARG_NONE, 0},
    [SMTP_REPLY_TOO_MANY_HOPS] = {"554 5.4.6",
                                  "Error: too many hops (mail loop?)",
                                  ARG_NONE, 0},
    [SMTP_REPLY_BARE_NEWLINE] = {"550 5.5.2",
                                 "Message contains bare CR or LF",
                                 ARG_NONE, 0},
    [SMTP_REPLY_STORE_TEMPFAIL] = {"451 4.3.0",
                                   "Error: queue file write error",
                                   ARG_NONE, REPLY_LOCAL},
    [SMTP_REPLY_STORE_NOSPACE] = {"452 4.3.1",
                                  "Insufficient system storage",
                                  ARG_NONE, REPLY_LOCAL},
    /* RFC 5321 3.8 / 4.2: 421 carries our domain. */
    [SMTP_REPLY_TOO_MANY_ERRORS] = {"421 4.7.0", "Too many errors",
                                    ARG_BEFORE, REPLY_LOCAL},
    [SMTP_REPLY_TIMEOUT] = {"421 4.4.2", "Error: timeout exceeded",
                            ARG_BEFORE, REPLY_LOCAL},
    [SMTP_REPLY_SHUTDOWN] = {"421 4.3.2", "Service shutting down",
                             ARG_BEFORE, REPLY_LOCAL},
    /* RFC 4954 6 gives the codes; the texts are RFC 4954's or Postfix's. */
    [SMTP_REPLY_AUTH_OK] = {"235 2.7.0", "Authentication successful",
                            ARG_NONE, 0},
    [SMTP_REPLY_AUTH_NOT_ENABLED] = {"503 5.5.1",
                                     "Error: authentication not enabled",
                                     ARG_NONE, 0},
    [SMTP_REPLY_AUTH_ALREADY] = {"503 5.5.1", "Error: already authenticated",
                                 ARG_NONE, 0},
    [SMTP_REPLY_AUTH_IN_MAIL] = {"503 5.5.1",
                                 "Error: MAIL transaction in progress",
                                 ARG_NONE, 0},
    [SMTP_REPLY_AUTH_NEED_TLS] = {"538 5.7.11",
                                  "Encryption required for requested "
                                  "authentication mechanism", ARG_NONE, 0},
    [SMTP_REPLY_AUTH_NO_MECH] = {"504 5.5.4",
                                 "Unrecognized authentication type",
                                 ARG_NONE, 0},
    [SMTP_REPLY_AUTH_BAD_BASE64] = {"501 5.5.2", "Invalid base64 data",
                                    ARG_NONE, 0},
    [SMTP_REPLY_AUTH_ABORTED] = {"501 5.7.0", "Authentication aborted",
                                 ARG_NONE, 0},
    [SMTP_REPLY_AUTH_LINE_TOO_LONG] = {"500 5.5.6",
                                       "Authentication Exchange line is too "
                                       "long", ARG_NONE, 0},
    [SMTP_REPLY_AUTH_FAILED] = {"535 5.7.8",
                                "Authentication credentials invalid",
                                ARG_NONE, 0},
    [SMTP_REPLY_AUTH_TEMPFAIL] = {"454 4.7.0",
                                  "Temporary authentication failure",
                                  ARG_NONE, REPLY_LOCAL},
    [SMTP_REPLY_AUTH_REQUIRED] = {"530 5.7.0", "Authentication required",
                                  ARG_NONE, 0},
    [SMTP_REPLY_SENDER_NOT_OWNED] = {"553 5.7.1",
                                     "Sender address rejected: not owned by "
                                     "user", ARG_AFTER, 0},
    [SMTP_REPLY_AUTH_TOO_MANY] = {"421 4.7.0",
                                  "Too many failed authentication attempts",
                                  ARG_BEFORE, REPLY_LOCAL},
};
/* clang-format on */

static const struct reply *
reply_get(enum smtp_reply_id id)
{
    assert((unsigned)id < SMTP_REPLY_COUNT);
    const struct reply *r = &smtp_replies[id];
    assert(r->status != NULL);
    return r;
}

int
smtp_reply_put(struct buf *out, enum smtp_reply_id id, const char *arg)
{
    const struct reply *r = reply_get(id);
    const char *before = "", *after = "";

    if (arg != NULL && r->arg == ARG_BEFORE)
        before = arg;
    else if (arg != NULL && r->arg == ARG_AFTER)
        after = arg;
    /* buf_printf() leaves out unchanged when it fails. */
    return buf_printf(out, "%s%s%s%s%s%s%s\r\n", r->status,
                      before[0] ? " " : "", before, r->text[0] ? " " : "",
                      r->text, after[0] ? " " : "", after);
}

int
smtp_reply_put_challenge(struct buf *out, const void *data, size_t len)
{
    struct buf line;
    int r;

    /* RFC 4954 4: the text is the base64 challenge and nothing else; an
     * empty one still has the space after the code. */
    buf_init(&line, out->max);
    r = buf_puts(&line, "334 ");
    if (r == 0)
        r = smtp_base64_encode(&line, data, len);
    if (r == 0)
        r = buf_puts(&line, "\r\n");
    if (r == 0)
        r = buf_append(out, line.data, line.len);
    buf_free(&line);
    return r;
}

unsigned
smtp_reply_code(enum smtp_reply_id id)
{
    const char *s = reply_get(id)->status;
    return (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
}

bool
smtp_reply_is_client_error(enum smtp_reply_id id)
{
    return smtp_reply_code(id) >= 400 && !(reply_get(id)->flags & REPLY_LOCAL);
}

const char *
smtp_reply_status(enum smtp_reply_id id)
{
    return reply_get(id)->status;
}
