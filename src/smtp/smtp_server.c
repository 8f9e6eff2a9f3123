/*
 * smtp_server.c -- the SMTP server session (RFC 5321), sans-I/O.
 *
 * Bytes in, reply bytes and actions out (see smtp_server.h). Command lines
 * are split here, dispatched through a verb table, and DATA is handed to
 * the framing machine of smtp_data.c. Replies come from smtp_reply.c.
 *
 * Extensions: PIPELINING (RFC 2920: every command in the input is answered
 * in order, whatever the split of the input), SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), ENHANCEDSTATUSCODES (RFC 2034), STARTTLS (RFC 3207),
 * SMTPUTF8 (RFC 6531).
 *
 * Trust boundary: every byte fed in comes from the network. Command lines
 * are bounded (SMTP_CMD_BUF_MAX); DATA is streamed to the hooks.
 */
#include "smtp/smtp_server.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_command.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_reply.h"
#include "util/util_log.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define SMTP_LINE_MAX 512
/* Extensions may lengthen MAIL and RCPT: SMTPUTF8 by 10 (RFC 6531 3.1), and
 * MAIL further by SIZE= 26 (RFC 1870 3) and BODY= 16 (RFC 6152 2). */
#define SMTP_RCPT_LINE_MAX (SMTP_LINE_MAX + 10)
#define SMTP_MAIL_LINE_MAX (SMTP_LINE_MAX + 26 + 16 + 10)
/* The longest line we buffer: the longest any verb allows. AUTH (RFC 4954
 * 4: 12288 octets) will raise it when AUTH exists. */
#define SMTP_CMD_BUF_MAX SMTP_MAIL_LINE_MAX

#define SMTP_RCPT_LIMIT_DEFAULT 100 /* RFC 5321 4.5.3.1.8 minimum */
#define SMTP_HARD_ERRORS_DEFAULT 20 /* as Postfix smtpd_hard_error_limit */
#define SMTP_QUEUE_ID_MAX 64        /* queue id buffer for msg_commit */
#define SMTP_VERB_LOG_MAX 15        /* verb bytes quoted in log lines */

enum session_phase {
    PHASE_COMMAND,     /* reading command lines */
    PHASE_DATA,        /* inside DATA, bytes go to smtp_data */
    PHASE_TLS_PENDING, /* 220 sent for STARTTLS, waiting for the driver */
    PHASE_STORE_PENDING, /* end of DATA seen, waiting for the commit */
    PHASE_CLOSED,      /* QUIT or 421 sent: nothing more is read */
};

struct smtp_server {
    const struct smtp_server_params *params; /* borrowed */
    const struct smtp_server_hooks *hooks;   /* borrowed */
    enum session_phase phase;
    bool tls;           /* TLS active (STARTTLS done, or implicit) */
    bool authenticated; /* AUTH succeeded (issue 3: never yet) */
    bool helo_seen;     /* EHLO/HELO accepted since greeting / TLS */
    bool esmtp;         /* ... and it was EHLO */
    bool in_mail;       /* MAIL accepted: a transaction is open */
    bool msg_open;      /* msg_begin succeeded, no commit/abort yet */
    bool discarding;    /* dropping an over-long line up to its LF */
    char helo_name[SMTP_DOMAIN_MAX + 1]; /* EHLO/HELO argument */
    char verb[SMTP_VERB_LOG_MAX + 1];    /* verb of the current line, for
                                            log lines */
    struct smtp_transaction txn;         /* txn.rcpts owned, grown on demand */
    size_t rcpt_cap;                     /* entries allocated in txn.rcpts */
    struct buf line;                     /* a command line split across feeds;
                                            freed once complete */
    struct smtp_data *data;              /* owned; only while PHASE_DATA */
    struct smtp_server_counts counts;
};

/* ---- replies, errors and logs ------------------------------------------ */

/* Send reply id. A client error is logged with its detail (may be NULL)
 * and counted; past the hard error limit the session ends with 421. */
static void
session_reply_detail(struct smtp_server *s, struct buf *out,
                     enum smtp_reply_id id, const char *arg, const char *detail)
{
    const struct smtp_server_params *p = s->params;
    unsigned limit =
        p->hard_error_limit ? p->hard_error_limit : SMTP_HARD_ERRORS_DEFAULT;

    smtp_reply_put(out, id, arg);
    if (!smtp_reply_is_client_error(id))
        return;
    s->counts.errors++;
    log_info("%s reject client=%s command=%s reply=\"%s\"%s%s", p->session_id,
             p->client_addr, s->verb[0] ? s->verb : "-", smtp_reply_status(id),
             detail ? " " : "", detail ? detail : "");
    if (s->counts.errors >= limit) {
        smtp_reply_put(out, SMTP_REPLY_TOO_MANY_ERRORS, p->hostname);
        log_info("%s too-many-errors client=%s errors=%u", p->session_id,
                 p->client_addr, s->counts.errors);
        s->phase = PHASE_CLOSED;
    }
}

static void
session_reply(struct smtp_server *s, struct buf *out, enum smtp_reply_id id)
{
    session_reply_detail(s, out, id, NULL, NULL);
}

/* Remember the first word of a line for log lines. */
static void
session_set_verb(struct smtp_server *s, const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && n < SMTP_VERB_LOG_MAX && line[n] != ' ' &&
           line[n] != '\r' && line[n] != '\n') {
        /* Peer bytes: keep the log line "key=value" parseable. */
        unsigned char c = (unsigned char)line[n];
        s->verb[n++] =
            (c > ' ' && c < 127 && c != '"' && c != '=') ? (char)c : '?';
    }
    s->verb[n] = '\0';
}

/* ---- session and transaction state ------------------------------------ */

static struct smtp_session_view
session_view(const struct smtp_server *s)
{
    struct smtp_session_view v = {
        .helo_name = s->helo_name,
        .esmtp = s->esmtp,
        .tls = s->tls,
        .authenticated = s->authenticated,
    };
    return v;
}

/* Drop an open DATA section and the message the hooks hold for it. */
static void
session_abort_message(struct smtp_server *s)
{
    free(s->data);
    s->data = NULL;
    if (s->phase == PHASE_DATA)
        s->phase = PHASE_COMMAND;
    if (s->msg_open) {
        s->msg_open = false;
        s->hooks->msg_abort(s->hooks->ctx);
    }
}

/* RFC 5321 4.1.1.5 (RSET), 4.1.4 (EHLO): throw the transaction away whole.*/
static void
txn_reset(struct smtp_server *s)
{
    session_abort_message(s);
    free(s->txn.rcpts);
    memset(&s->txn, 0, sizeof(s->txn));
    s->rcpt_cap = 0;
    s->in_mail = false;
}

/* State right after the greeting (RFC 3207 4.2 after TLS). */
static void
session_forget(struct smtp_server *s)
{
    txn_reset(s);
    s->helo_seen = false;
    s->esmtp = false;
    s->helo_name[0] = '\0';
    buf_free(&s->line);
    s->discarding = false;
}

static bool
session_starttls_offered(const struct smtp_server *s)
{
    enum smtp_tls_mode m = s->params->tls_mode;
    return (m == SMTP_TLS_OPTIONAL || m == SMTP_TLS_REQUIRED) && !s->tls;
}

/* ---- EHLO ---------------------------------------------------------------*/

/* The EHLO keywords (RFC 5321 4.1.1.1), decided in this one place, so an
 * extension that must wait for TLS (AUTH, DESIGN.md) cannot be offered
 * before it by a second code path. Returns how many were put in kw. */
static size_t
session_ehlo_keywords(const struct smtp_server *s, const char *kw[],
                      char *size_kw, size_t size_kw_len)
{
    size_t n = 0;
    uint64_t limit = s->params->message_size_limit;

    kw[n++] = "PIPELINING";
    /* RFC 1870 3: "SIZE" with no number says nothing of a limit. */
    if (limit == 0)
        snprintf(size_kw, size_kw_len, "SIZE");
    else
        snprintf(size_kw, size_kw_len, "SIZE %llu", (unsigned long long)limit);
    kw[n++] = size_kw;
    kw[n++] = "8BITMIME";
    kw[n++] = "ENHANCEDSTATUSCODES";
    if (session_starttls_offered(s))
        kw[n++] = "STARTTLS";
    kw[n++] = "SMTPUTF8";
    return n;
}

#define SMTP_EHLO_KEYWORDS_MAX 8

static void
session_ehlo_reply(const struct smtp_server *s, struct buf *out)
{
    const char *kw[SMTP_EHLO_KEYWORDS_MAX];
    char size_kw[32];
    size_t n = session_ehlo_keywords(s, kw, size_kw, sizeof(size_kw));

    /* RFC 2034 3: no enhanced status code in the EHLO reply. */
    buf_printf(out, "250-%s\r\n", s->params->hostname);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "250%c%s\r\n", i + 1 < n ? '-' : ' ', kw[i]);
}

/* ---- command handlers -------------------------------------------------- */

/* A handler gets the argument after the verb and its separating spaces
 * (trailing blanks removed, not NUL-terminated). */
typedef void smtp_verb_fn(struct smtp_server *s, const char *arg, size_t len,
                          struct buf *out);

static void
session_hello(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out, bool esmtp)
{
    /* RFC 5321 4.1.1.1: Domain or address-literal, nothing after it. */
    if (!smtp_helo_name_valid(arg, len)) {
        session_reply(s, out, SMTP_REPLY_BAD_HELO_NAME);
        return;
    }
    txn_reset(s); /* RFC 5321 4.1.4: EHLO implies RSET */
    memcpy(s->helo_name, arg, len);
    s->helo_name[len] = '\0';
    s->helo_seen = true;
    s->esmtp = esmtp;
    if (esmtp)
        session_ehlo_reply(s, out);
    else
        session_reply_detail(s, out, SMTP_REPLY_HELO, s->params->hostname,
                             NULL);
}

static void
smtp_cmd_ehlo(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    session_hello(s, arg, len, out, true);
}

static void
smtp_cmd_helo(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    session_hello(s, arg, len, out, false);
}

/* Which reply refuses a path, for the sender or for a recipient. */
struct path_role {
    enum smtp_reply_id syntax;   /* SMTP_ADDRESS_SYNTAX */
    enum smtp_reply_id too_long; /* SMTP_ADDRESS_TOO_LONG */
};

static const struct path_role sender_role = {SMTP_REPLY_BAD_SENDER,
                                             SMTP_REPLY_SENDER_TOO_LONG};
static const struct path_role rcpt_role = {SMTP_REPLY_BAD_RCPT,
                                           SMTP_REPLY_RCPT_TOO_LONG};

static enum smtp_reply_id
command_error_reply(const struct path_role *role, enum smtp_command_error e)
{
    static const enum smtp_reply_id replies[] = {
        [SMTP_COMMAND_OK] = SMTP_REPLY_OK,
        [SMTP_COMMAND_SYNTAX] = SMTP_REPLY_SYNTAX,
        [SMTP_COMMAND_BAD_PATH] = SMTP_REPLY_OK, /* per role, below */
        [SMTP_COMMAND_BAD_PARAMETER] = SMTP_REPLY_BAD_PARAMETER,
        [SMTP_COMMAND_UNKNOWN_PARAMETER] = SMTP_REPLY_UNKNOWN_PARAMETER,
    };
    return e == SMTP_COMMAND_BAD_PATH ? role->syntax : replies[e];
}

static enum smtp_reply_id
path_error_reply(const struct path_role *role, enum smtp_address_error e)
{
    if (e == SMTP_ADDRESS_TOO_LONG)
        return role->too_long;
    if (e == SMTP_ADDRESS_UTF8_NOT_ALLOWED)
        return SMTP_REPLY_UTF8_ADDRESS; /* RFC 6531 3.5 */
    return role->syntax;
}

static enum smtp_reply_id
mail_check(struct smtp_server *s, const char *arg, size_t len)
{
    struct smtp_path_arg pa;
    enum smtp_command_error ce = smtp_command_mail(arg, len, &pa);
    if (ce != SMTP_COMMAND_OK)
        return command_error_reply(&sender_role, ce);
    const struct smtp_mail_params *mp = &pa.params;
    enum smtp_address_error e = smtp_address_parse(
        pa.path, pa.path_len, true, mp->smtputf8, &s->txn.sender);
    if (e != SMTP_ADDRESS_OK)
        return path_error_reply(&sender_role, e);
    /* RFC 1870 6.1: refuse at once what could never be accepted. */
    uint64_t limit = s->params->message_size_limit;
    if (limit != 0 && mp->size > limit)
        return SMTP_REPLY_SIZE_EXCEEDED;
    s->txn.declared_size = mp->size;
    s->txn.body_8bitmime = mp->body_8bitmime;
    s->txn.smtputf8 = mp->smtputf8;
    return SMTP_REPLY_SENDER_OK;
}

static void
smtp_cmd_mail(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    if (!s->helo_seen) {
        session_reply(s, out, SMTP_REPLY_NEED_HELO);
        return;
    }
    if (s->in_mail) {
        session_reply(s, out, SMTP_REPLY_NESTED_MAIL);
        return;
    }
    enum smtp_reply_id r = mail_check(s, arg, len);
    if (r == SMTP_REPLY_SENDER_OK)
        s->in_mail = true;
    else
        memset(&s->txn, 0, sizeof(s->txn));
    session_reply_detail(s, out, r, "MAIL FROM:<address> [parameters]", NULL);
}

/* RFC 5321 4.5.1: "RCPT TO:<Postmaster>" without a domain must be
 * accepted; it is taken as postmaster at our hostname, which the driver's
 * policy must accept. */
static bool
rcpt_postmaster(const struct smtp_server *s, const char *path, size_t len,
                struct smtp_address *a)
{
    static const char pm[] = "<postmaster>";
    if (len != sizeof(pm) - 1 || strncasecmp(path, pm, len) != 0)
        return false;
    snprintf(a->local, sizeof(a->local), "postmaster");
    snprintf(a->domain, sizeof(a->domain), "%s", s->params->hostname);
    return true;
}

static enum smtp_reply_id
rcpt_parse(struct smtp_server *s, const char *arg, size_t len,
           struct smtp_address *a)
{
    struct smtp_path_arg pa;
    enum smtp_command_error ce = smtp_command_rcpt(arg, len, &pa);
    if (ce != SMTP_COMMAND_OK)
        return command_error_reply(&rcpt_role, ce);
    if (rcpt_postmaster(s, pa.path, pa.path_len, a))
        return SMTP_REPLY_OK;
    enum smtp_address_error e =
        smtp_address_parse(pa.path, pa.path_len, false, s->txn.smtputf8, a);
    return e == SMTP_ADDRESS_OK ? SMTP_REPLY_OK
                                : path_error_reply(&rcpt_role, e);
}

/* Keep an accepted forward-path; the array grows on demand so an idle
 * session holds none. Returns 0, or -1 if memory ran out. */
static int
rcpt_add(struct smtp_server *s, const struct smtp_address *a)
{
    struct smtp_transaction *t = &s->txn;
    if (t->n_rcpts == s->rcpt_cap) {
        size_t cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
        struct smtp_address *r = realloc(t->rcpts, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        t->rcpts = r;
        s->rcpt_cap = cap;
    }
    t->rcpts[t->n_rcpts++] = *a;
    return 0;
}

static const enum smtp_reply_id smtp_rcpt_verdict_reply[] = {
    [SMTP_RCPT_OK] = SMTP_REPLY_RCPT_OK,
    [SMTP_RCPT_UNKNOWN_USER] = SMTP_REPLY_UNKNOWN_USER,
    [SMTP_RCPT_RELAY_DENIED] = SMTP_REPLY_RELAY_DENIED,
    [SMTP_RCPT_TEMPFAIL] = SMTP_REPLY_RCPT_TEMPFAIL,
};

/* Ask the policy about a, keep it if accepted; returns the reply. */
static enum smtp_reply_id
rcpt_decide(struct smtp_server *s, const struct smtp_address *a)
{
    struct smtp_session_view v = session_view(s);
    enum smtp_rcpt_verdict verdict = s->hooks->rcpt_check(s->hooks->ctx, &v, a);

    if ((unsigned)verdict >=
        sizeof(smtp_rcpt_verdict_reply) / sizeof(smtp_rcpt_verdict_reply[0]))
        verdict = SMTP_RCPT_TEMPFAIL;
    if (verdict == SMTP_RCPT_OK && rcpt_add(s, a) < 0)
        return SMTP_REPLY_RCPT_TEMPFAIL;
    return smtp_rcpt_verdict_reply[verdict];
}

static void
smtp_cmd_rcpt(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    const struct smtp_server_params *p = s->params;
    unsigned limit =
        p->recipient_limit ? p->recipient_limit : SMTP_RCPT_LIMIT_DEFAULT;
    struct smtp_address a;
    char detail[sizeof(a.local) + sizeof(a.domain) + 8];

    if (!s->in_mail) {
        session_reply(s, out, SMTP_REPLY_NEED_MAIL);
        return;
    }
    enum smtp_reply_id r = rcpt_parse(s, arg, len, &a);
    if (r == SMTP_REPLY_OK && s->txn.n_rcpts >= limit)
        r = SMTP_REPLY_TOO_MANY_RCPTS; /* RFC 5321 4.5.3.1.10 */
    detail[0] = '\0';
    if (r == SMTP_REPLY_OK) {
        r = rcpt_decide(s, &a);
        snprintf(detail, sizeof(detail), "to=<%s@%s>", a.local, a.domain);
    }
    session_reply_detail(s, out, r, "RCPT TO:<address>",
                         detail[0] ? detail : NULL);
}

static void
smtp_cmd_data(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    const struct smtp_server_hooks *h = s->hooks;
    struct smtp_session_view v = session_view(s);

    (void)arg;
    (void)len;
    if (!s->in_mail) {
        session_reply(s, out, SMTP_REPLY_NEED_MAIL);
        return;
    }
    if (s->txn.n_rcpts == 0) {
        /* RFC 5321 3.3: no recipient was accepted -> 554 (or 503). */
        session_reply(s, out, SMTP_REPLY_NO_VALID_RCPT);
        return;
    }
    s->data = malloc(sizeof(*s->data));
    if (s->data == NULL || h->msg_begin(h->ctx, &v, &s->txn) < 0) {
        free(s->data);
        s->data = NULL;
        session_reply(s, out, SMTP_REPLY_STORE_TEMPFAIL);
        return;
    }
    s->msg_open = true;
    smtp_data_init(s->data, s->params->message_size_limit,
                   s->params->bare_newline == SMTP_BARE_NEWLINE_REJECT,
                   h->msg_write, h->ctx);
    s->phase = PHASE_DATA;
    session_reply(s, out, SMTP_REPLY_DATA_GO);
}

static void
smtp_cmd_rset(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg;
    (void)len;
    txn_reset(s);
    session_reply(s, out, SMTP_REPLY_OK);
}

static void
smtp_cmd_noop(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg; /* RFC 5321 4.1.1.9: a NOOP argument is ignored */
    (void)len;
    session_reply(s, out, SMTP_REPLY_OK);
}

static void
smtp_cmd_quit(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg;
    (void)len;
    session_reply(s, out, SMTP_REPLY_BYE);
    s->phase = PHASE_CLOSED;
}

static void
smtp_cmd_vrfy(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg; /* VERB_NEEDS_ARG made sure there is one */
    (void)len;
    session_reply(s, out, SMTP_REPLY_VRFY);
}

static void
smtp_cmd_help(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg;
    (void)len;
    session_reply(s, out, SMTP_REPLY_HELP);
}

static void
smtp_cmd_starttls(struct smtp_server *s, const char *arg, size_t len,
                  struct buf *out)
{
    (void)arg;
    (void)len;
    if (!session_starttls_offered(s)) {
        /* RFC 5321 4.2.4: 502 where the listener has no TLS at all; 503
         * once TLS is up (RFC 3207 4.2: not offered again). */
        session_reply(s, out,
                      s->tls ? SMTP_REPLY_TLS_ACTIVE
                             : SMTP_REPLY_NOT_IMPLEMENTED);
        return;
    }
    session_reply(s, out, SMTP_REPLY_TLS_READY);
    s->phase = PHASE_TLS_PENDING;
}

/* AUTH arrives with issue 3; until then it is not implemented. */
static void
smtp_cmd_auth(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    (void)arg;
    (void)len;
    session_reply(s, out, SMTP_REPLY_NOT_IMPLEMENTED);
}

/* ---- verb table and dispatch ------------------------------------------- */

enum verb_flag {
    VERB_BEFORE_TLS = 1, /* allowed before STARTTLS on a listener that
                            requires it (RFC 3207 4) */
    VERB_NO_ARGS = 2,    /* takes no argument: 501 if one is given */
    VERB_NEEDS_ARG = 4,  /* takes an argument: 501 if none */
};

struct smtp_verb {
    const char *name; /* matched case-insensitively, RFC 5321 2.4 */
    smtp_verb_fn *handler;
    size_t count;      /* offsetof its counter in smtp_server_counts */
    size_t line_max;   /* octets incl. CRLF */
    unsigned flags;    /* enum verb_flag */
    const char *usage; /* for "501 5.5.4 Syntax: ..." */
};

/* clang-format off */
#define VERB(n, h, c, max, f, u)                                             \
    {n, h, offsetof(struct smtp_server_counts, c), max, f, u}

static const struct smtp_verb smtp_verbs[] = {
    VERB("EHLO", smtp_cmd_ehlo, ehlo, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_NEEDS_ARG, "EHLO hostname"),
    VERB("HELO", smtp_cmd_helo, helo, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_NEEDS_ARG, "HELO hostname"),
    VERB("MAIL", smtp_cmd_mail, mail, SMTP_MAIL_LINE_MAX, 0,
         "MAIL FROM:<address> [parameters]"),
    VERB("RCPT", smtp_cmd_rcpt, rcpt, SMTP_RCPT_LINE_MAX, 0,
         "RCPT TO:<address>"),
    VERB("DATA", smtp_cmd_data, data, SMTP_LINE_MAX, VERB_NO_ARGS, "DATA"),
    VERB("RSET", smtp_cmd_rset, rset, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_NO_ARGS, "RSET"),
    VERB("NOOP", smtp_cmd_noop, noop, SMTP_LINE_MAX, VERB_BEFORE_TLS, "NOOP"),
    /* RFC 5321 4.1.1.10 wants no argument; closing anyway is kinder. */
    VERB("QUIT", smtp_cmd_quit, quit, SMTP_LINE_MAX, VERB_BEFORE_TLS,
         "QUIT"),
    VERB("VRFY", smtp_cmd_vrfy, vrfy, SMTP_LINE_MAX, VERB_NEEDS_ARG,
         "VRFY address"),
    VERB("HELP", smtp_cmd_help, help, SMTP_LINE_MAX, VERB_BEFORE_TLS,
         "HELP"),
    VERB("STARTTLS", smtp_cmd_starttls, starttls, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_NO_ARGS, "STARTTLS"),
    VERB("AUTH", smtp_cmd_auth, auth, SMTP_LINE_MAX, 0,
         "AUTH mechanism [initial-response]"),
};
/* clang-format on */

static const struct smtp_verb *
verb_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
        if (strlen(smtp_verbs[i].name) == len &&
            strncasecmp(smtp_verbs[i].name, name, len) == 0)
            return &smtp_verbs[i];
    return NULL;
}

static void
verb_count(struct smtp_server *s, const struct smtp_verb *v)
{
    unsigned *c =
        (unsigned *)((char *)&s->counts +
                     (v ? v->count
                        : offsetof(struct smtp_server_counts, unknown)));
    (*c)++;
}

/* The checks every verb shares, in order; SMTP_REPLY_OK when the handler
 * may run. raw_len is the line length with its end of line. */
static enum smtp_reply_id
verb_admit(const struct smtp_server *s, const struct smtp_verb *v,
           size_t raw_len, size_t arg_len)
{
    if (v == NULL)
        return raw_len > SMTP_LINE_MAX ? SMTP_REPLY_LINE_TOO_LONG
                                       : SMTP_REPLY_UNKNOWN_COMMAND;
    if (raw_len > v->line_max)
        return SMTP_REPLY_LINE_TOO_LONG;
    /* RFC 3207 4: on a listener that requires TLS, no mail before it. */
    if (s->params->tls_mode == SMTP_TLS_REQUIRED && !s->tls &&
        !(v->flags & VERB_BEFORE_TLS))
        return SMTP_REPLY_MUST_STARTTLS;
    if (((v->flags & VERB_NO_ARGS) && arg_len > 0) ||
        ((v->flags & VERB_NEEDS_ARG) && arg_len == 0))
        return SMTP_REPLY_SYNTAX;
    return SMTP_REPLY_OK;
}

/* One command line: len octets ending in LF, at most SMTP_CMD_BUF_MAX. */
static void
session_line(struct smtp_server *s, const char *line, size_t raw_len,
             struct buf *out)
{
    size_t len = raw_len - 1; /* the LF; a bare LF ends lines too */

    s->counts.total++;
    session_set_verb(s, line, raw_len);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    size_t vlen = 0;
    while (vlen < len && line[vlen] != ' ')
        vlen++;
    const struct smtp_verb *v = verb_find(line, vlen);
    verb_count(s, v);
    size_t a = vlen;
    while (a < len && line[a] == ' ')
        a++;
    enum smtp_reply_id r = verb_admit(s, v, raw_len, len - a);
    if ((r == SMTP_REPLY_OK || r == SMTP_REPLY_UNKNOWN_COMMAND) &&
        memchr(line, '\0', len) != NULL)
        r = SMTP_REPLY_NUL_IN_COMMAND;
    if (r != SMTP_REPLY_OK)
        session_reply_detail(s, out, r, v ? v->usage : NULL, NULL);
    else
        v->handler(s, line + a, len - a, out);
}

/* A line that passed SMTP_CMD_BUF_MAX: its bytes are gone, answer now. */
static void
session_line_too_long(struct smtp_server *s, struct buf *out)
{
    s->counts.total++;
    session_reply(s, out, SMTP_REPLY_LINE_TOO_LONG);
}

/* Take command-line bytes up to and including the next LF. Returns how
 * many were consumed. */
static size_t
session_feed_line(struct smtp_server *s, const char *p, size_t n,
                  struct buf *out)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;

    if (s->discarding) {
        if (lf) {
            s->discarding = false;
            session_line_too_long(s, out);
        }
        return take;
    }
    if (s->line.len + take > SMTP_CMD_BUF_MAX) {
        /* RFC 5321 4.5.3.1.4: drop the line up to its LF, then 500. */
        session_set_verb(s, s->line.len ? s->line.data : p,
                         s->line.len ? s->line.len : take);
        buf_free(&s->line);
        if (lf)
            session_line_too_long(s, out);
        else
            s->discarding = true;
        return take;
    }
    if (lf && s->line.len == 0) {
        session_line(s, p, take, out); /* the usual case: no copy */
        return take;
    }
    if (buf_append(&s->line, p, take) < 0) {
        buf_free(&s->line);
        s->discarding = !lf;
        if (lf)
            session_line_too_long(s, out);
        return take;
    }
    if (lf) {
        session_line(s, s->line.data, s->line.len, out);
        buf_free(&s->line);
    }
    return take;
}

/* ---- DATA --------------------------------------------------------------- */

static const enum smtp_reply_id smtp_data_result_reply[] = {
    [SMTP_DATA_OK] = SMTP_REPLY_QUEUED,
    [SMTP_DATA_TOO_BIG] = SMTP_REPLY_MSG_TOO_BIG, /* RFC 1870 6.2 */
    [SMTP_DATA_BARE_NEWLINE] = SMTP_REPLY_BARE_NEWLINE,
    [SMTP_DATA_NO_SPACE] = SMTP_REPLY_STORE_NOSPACE,
    [SMTP_DATA_WRITE_FAILED] = SMTP_REPLY_STORE_TEMPFAIL,
};

static const enum smtp_reply_id smtp_store_result_reply[] = {
    [SMTP_STORE_OK] = SMTP_REPLY_QUEUED,
    [SMTP_STORE_TEMPFAIL] = SMTP_REPLY_STORE_TEMPFAIL,
    [SMTP_STORE_NOSPACE] = SMTP_REPLY_STORE_NOSPACE,
};

static enum smtp_reply_id
store_reply(enum smtp_store_result sr)
{
    if ((unsigned)sr > SMTP_STORE_NOSPACE)
        sr = SMTP_STORE_TEMPFAIL;
    return smtp_store_result_reply[sr];
}

/* <CRLF>.<CRLF> was read: commit or abort, answer, end the transaction. */
static void
session_data_end(struct smtp_server *s, struct buf *out)
{
    const struct smtp_server_hooks *h = s->hooks;
    char queue_id[SMTP_QUEUE_ID_MAX] = "";
    enum smtp_data_result dr = smtp_data_finish(s->data);
    enum smtp_reply_id r = smtp_data_result_reply[dr];

    snprintf(s->verb, sizeof(s->verb), "DATA");
    if (dr == SMTP_DATA_OK) {
        /* RFC 5321 4.1.1.4: 250 only once the message is durable. A failed
         * commit has discarded the message itself (see the hook). */
        s->msg_open = false;
        enum smtp_store_result sr =
            h->msg_commit(h->ctx, queue_id, sizeof(queue_id));
        if (sr == SMTP_STORE_PENDING) {
            /* Group commit: the reply waits for smtp_server_store_done(),
             * and so does every command pipelined behind the data. */
            txn_reset(s);
            s->phase = PHASE_STORE_PENDING;
            return;
        }
        r = store_reply(sr);
        queue_id[sizeof(queue_id) - 1] = '\0';
    }
    txn_reset(s); /* aborts the message unless committed above */
    session_reply_detail(s, out, r, queue_id, NULL);
}

void
smtp_server_store_done(struct smtp_server *s, enum smtp_store_result result,
                       const char *queue_id, struct buf *out)
{
    if (s->phase != PHASE_STORE_PENDING)
        return;
    s->phase = PHASE_COMMAND;
    snprintf(s->verb, sizeof(s->verb), "DATA");
    session_reply_detail(s, out, store_reply(result),
                         result == SMTP_STORE_OK ? queue_id : "", NULL);
}

static size_t
session_feed_data(struct smtp_server *s, const char *p, size_t n,
                  struct buf *out)
{
    bool done = false;
    size_t used = smtp_data_feed(s->data, p, n, &done);
    if (done)
        session_data_end(s, out);
    return used;
}

/* ---- public interface --------------------------------------------------- */

struct smtp_server *
smtp_server_new(const struct smtp_server_params *params,
                const struct smtp_server_hooks *hooks)
{
    struct smtp_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->params = params;
    s->hooks = hooks;
    s->phase = PHASE_COMMAND;
    buf_init(&s->line, SMTP_CMD_BUF_MAX);
    return s;
}

void
smtp_server_free(struct smtp_server *s)
{
    if (s == NULL)
        return;
    txn_reset(s);
    buf_free(&s->line);
    free(s);
}

void
smtp_server_greeting(struct smtp_server *s, struct buf *out)
{
    /* RFC 5321 4.3.1; RFC 2034 3: no enhanced code in the greeting. */
    smtp_reply_put(out, SMTP_REPLY_GREETING, s->params->hostname);
}

static enum smtp_server_action
session_action(const struct smtp_server *s)
{
    if (s->phase == PHASE_TLS_PENDING)
        return SMTP_ACTION_STARTTLS;
    if (s->phase == PHASE_STORE_PENDING)
        return SMTP_ACTION_STORE_PENDING;
    return s->phase == PHASE_CLOSED ? SMTP_ACTION_CLOSE : SMTP_ACTION_NONE;
}

size_t
smtp_server_feed(struct smtp_server *s, const char *data, size_t len,
                 struct buf *out, enum smtp_server_action *action)
{
    size_t used = 0;

    /* RFC 2920: answer every command of a pipelined group, in order. Stop
     * right after STARTTLS (RFC 3207 4.2: what follows is never read) and
     * after QUIT or a closing 421. */
    while (used < len &&
           (s->phase == PHASE_COMMAND || s->phase == PHASE_DATA)) {
        if (s->phase == PHASE_DATA)
            used += session_feed_data(s, data + used, len - used, out);
        else
            used += session_feed_line(s, data + used, len - used, out);
    }
    *action = session_action(s);
    return used;
}

void
smtp_server_tls_started(struct smtp_server *s)
{
    /* RFC 3207 4.2: discard all knowledge obtained from the client before
     * the handshake; EHLO is required again. */
    session_forget(s);
    s->tls = true;
    if (s->phase == PHASE_TLS_PENDING)
        s->phase = PHASE_COMMAND;
}

/* End the session with a 421 reply (RFC 5321 3.8). */
static enum smtp_server_action
session_close_421(struct smtp_server *s, struct buf *out, enum smtp_reply_id id)
{
    if (s->phase != PHASE_CLOSED) {
        txn_reset(s);
        smtp_reply_put(out, id, s->params->hostname);
        s->phase = PHASE_CLOSED;
    }
    return SMTP_ACTION_CLOSE;
}

enum smtp_server_action
smtp_server_timeout(struct smtp_server *s, struct buf *out)
{
    return session_close_421(s, out, SMTP_REPLY_TIMEOUT);
}

enum smtp_server_action
smtp_server_shutdown(struct smtp_server *s, struct buf *out)
{
    return session_close_421(s, out, SMTP_REPLY_SHUTDOWN);
}

const struct smtp_server_counts *
smtp_server_counts(const struct smtp_server *s)
{
    return &s->counts;
}

bool
smtp_server_in_data(const struct smtp_server *s)
{
    return s->phase == PHASE_DATA;
}
