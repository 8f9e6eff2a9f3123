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
 * SMTPUTF8 (RFC 6531), AUTH (RFC 4954: the SASL exchange itself is the
 * driver's, through the auth hooks; this file frames it, base64 and all).
 *
 * Trust boundary: every byte fed in comes from the network. Command lines
 * are bounded (SMTP_CMD_BUF_MAX); DATA is streamed to the hooks. AUTH
 * responses carry credentials: they never reach a log line.
 */
#include "smtp/smtp_server.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_base64.h"
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
/* RFC 4954 3: the AUTH= parameter lengthens MAIL by 500 octets. */
#define SMTP_AUTH_PARAM_MAX 500
/* RFC 4954 4: base64 lines of an exchange may be far longer than commands;
 * "12288 octets is considered to be a sufficient line length limit". We
 * take the AUTH command line itself (initial response included) up to
 * this too, as Postfix does, though RFC 4954 4 asks clients to keep it
 * within 512. */
#define SMTP_AUTH_LINE_MAX 12288
/* The longest line we buffer: the longest any verb allows. Only an AUTH
 * line or a response inside an exchange may grow this long (see
 * session_line_max()). */
#define SMTP_CMD_BUF_MAX SMTP_AUTH_LINE_MAX
/* The raw challenge whose base64 fills a 334 line of SMTP_AUTH_LINE_MAX
 * octets ("334 ", base64, CRLF). */
#define SMTP_AUTH_CHALLENGE_MAX ((SMTP_AUTH_LINE_MAX - 6) / 4 * 3)
#define SMTP_AUTH_USER_SIZE 256 /* login buffer handed to the auth hooks */

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
    bool auth_pending;  /* 334 sent: the next line is an AUTH response */
    bool auth_paused;   /* a 535 just went out: feed stops there once */
    bool helo_seen;     /* EHLO/HELO accepted since greeting / TLS */
    bool esmtp;         /* ... and it was EHLO */
    bool in_mail;       /* MAIL accepted: a transaction is open */
    bool msg_open;      /* msg_begin succeeded, no commit/abort yet */
    bool discarding;    /* dropping an over-long line up to its LF */
    char helo_name[SMTP_DOMAIN_MAX + 1]; /* EHLO/HELO argument */
    char verb[SMTP_VERB_LOG_MAX + 1];    /* verb of the current line, for
                                            log lines */
    char *auth_user;                     /* owned; the login once AUTH
                                            succeeded, else NULL */
    struct smtp_transaction txn;         /* txn.rcpts owned, grown on demand */
    size_t rcpt_cap;                     /* entries allocated in txn.rcpts */
    struct buf line;                     /* a command line split across feeds;
                                            freed once complete */
    struct smtp_data *data;              /* owned; only while PHASE_DATA */
    struct smtp_server_counts counts;
};

/* ---- replies, errors and logs ------------------------------------------ */

/* Count a client error; past the hard error limit the session ends with
 * 421. */
static void
session_count_error(struct smtp_server *s, struct buf *out)
{
    const struct smtp_server_params *p = s->params;
    unsigned limit =
        p->hard_error_limit ? p->hard_error_limit : SMTP_HARD_ERRORS_DEFAULT;

    s->counts.errors++;
    if (s->counts.errors >= limit) {
        smtp_reply_put(out, SMTP_REPLY_TOO_MANY_ERRORS, p->hostname);
        log_info("%s too-many-errors client=%s errors=%u", p->session_id,
                 p->client_addr, s->counts.errors);
        s->phase = PHASE_CLOSED;
    }
}

/* Send reply id. A client error is logged with its detail (may be NULL)
 * and counted. */
static void
session_reply_detail(struct smtp_server *s, struct buf *out,
                     enum smtp_reply_id id, const char *arg, const char *detail)
{
    const struct smtp_server_params *p = s->params;

    smtp_reply_put(out, id, arg);
    if (!smtp_reply_is_client_error(id))
        return;
    log_info("%s reject client=%s command=%s reply=\"%s\"%s%s", p->session_id,
             p->client_addr, s->verb[0] ? s->verb : "-", smtp_reply_status(id),
             detail ? " " : "", detail ? detail : "");
    session_count_error(s, out);
}

static void
session_reply(struct smtp_server *s, struct buf *out, enum smtp_reply_id id)
{
    session_reply_detail(s, out, id, NULL, NULL);
}

/* Copy len octets of peer-derived text into dst (size > 0, truncated to
 * fit) for a log line or a reply: anything but printable ASCII, and '"'
 * and '=' that would break a key=value log line, becomes '?'. */
static void
printable_copy(char *dst, size_t size, const char *src, size_t len)
{
    size_t n = 0;
    for (; n < len && n + 1 < size; n++) {
        unsigned char c = (unsigned char)src[n];
        dst[n] = (c > ' ' && c < 127 && c != '"' && c != '=') ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* Remember the first word of a line for log lines. */
static void
session_set_verb(struct smtp_server *s, const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && n < SMTP_VERB_LOG_MAX && line[n] != ' ' &&
           line[n] != '\r' && line[n] != '\n')
        n++;
    printable_copy(s->verb, sizeof(s->verb), line, n);
}

/* ---- session and transaction state ------------------------------------ */

static struct smtp_session_view
session_view(const struct smtp_server *s)
{
    struct smtp_session_view v = {
        .helo_name = s->helo_name,
        .esmtp = s->esmtp,
        .tls = s->tls,
        .authenticated = s->auth_user != NULL,
        .auth_user = s->auth_user,
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

/* Forget an unfinished AUTH exchange (the hooks too) and the login. */
static void
auth_reset(struct smtp_server *s)
{
    if (s->auth_pending) {
        s->auth_pending = false;
        s->hooks->auth_abort(s->hooks->ctx);
    }
    free(s->auth_user);
    s->auth_user = NULL;
}

/* State right after the greeting (RFC 3207 4.2 after TLS). */
static void
session_forget(struct smtp_server *s)
{
    txn_reset(s);
    auth_reset(s); /* none can exist before TLS; forget it all the same */
    s->helo_seen = false;
    s->esmtp = false;
    s->helo_name[0] = '\0';
    buf_free(&s->line);
    s->discarding = false;
}

/* End the session with a 421 reply (RFC 5321 3.8). */
static enum smtp_server_action
session_close_421(struct smtp_server *s, struct buf *out, enum smtp_reply_id id)
{
    if (s->phase != PHASE_CLOSED) {
        txn_reset(s);
        auth_reset(s);
        smtp_reply_put(out, id, s->params->hostname);
        s->phase = PHASE_CLOSED;
    }
    return SMTP_ACTION_CLOSE;
}

static bool
session_starttls_offered(const struct smtp_server *s)
{
    enum smtp_tls_mode m = s->params->tls_mode;
    return (m == SMTP_TLS_OPTIONAL || m == SMTP_TLS_REQUIRED) && !s->tls;
}

/* ---- AUTH availability -------------------------------------------------*/

/* AUTH is on for this listener and TLS is up: the cheap test, without
 * asking the hooks, for line lengths. */
static bool
session_auth_enabled(const struct smtp_server *s)
{
    return s->params->auth_mode != SMTP_AUTH_MODE_OFF && s->tls;
}

/* The mechanisms AUTH offers now ("PLAIN LOGIN"), or NULL if it offers
 * none. The one place that decides, for the EHLO keyword and the AUTH
 * command alike, so AUTH can never be offered or accepted before TLS by a
 * second code path (DESIGN.md; RFC 4954 4: no plaintext password
 * mechanism without TLS). */
static const char *
session_auth_mechanisms(const struct smtp_server *s)
{
    const struct smtp_server_hooks *h = s->hooks;

    if (!session_auth_enabled(s) || h->auth_mechanisms == NULL ||
        h->auth_start == NULL || h->auth_step == NULL ||
        h->auth_abort == NULL || h->auth_failed == NULL)
        return NULL;
    const char *mechs = h->auth_mechanisms(h->ctx);
    return mechs != NULL && mechs[0] != '\0' ? mechs : NULL;
}

/* Is mech (upper case) one of the space-separated names in list? */
static bool
auth_mech_listed(const char *list, const char *mech)
{
    size_t n = strlen(mech);
    const char *p = list;

    while (*p != '\0') {
        size_t w = strcspn(p, " ");
        if (w == n && strncasecmp(p, mech, n) == 0)
            return true;
        p += w;
        p += strspn(p, " ");
    }
    return false;
}

/* ---- EHLO ---------------------------------------------------------------*/

struct ehlo_keyword {
    const char *name;  /* "SIZE" */
    const char *param; /* "10000", or NULL for none */
};

/* The EHLO keywords (RFC 5321 4.1.1.1), decided in this one place, so an
 * extension that must wait for TLS (AUTH, DESIGN.md) cannot be offered
 * before it by a second code path. Returns how many were put in kw. */
static size_t
session_ehlo_keywords(const struct smtp_server *s, struct ehlo_keyword kw[],
                      char *size, size_t size_len)
{
    size_t n = 0;
    uint64_t limit = s->params->message_size_limit;

    kw[n++] = (struct ehlo_keyword){"PIPELINING", NULL};
    /* RFC 1870 3: "SIZE" with no number says nothing of a limit. */
    snprintf(size, size_len, "%llu", (unsigned long long)limit);
    kw[n++] = (struct ehlo_keyword){"SIZE", limit ? size : NULL};
    kw[n++] = (struct ehlo_keyword){"8BITMIME", NULL};
    kw[n++] = (struct ehlo_keyword){"ENHANCEDSTATUSCODES", NULL};
    if (session_starttls_offered(s))
        kw[n++] = (struct ehlo_keyword){"STARTTLS", NULL};
    /* RFC 4954 3: "AUTH" and the space-separated mechanisms. */
    const char *mechs = session_auth_mechanisms(s);
    if (mechs != NULL)
        kw[n++] = (struct ehlo_keyword){"AUTH", mechs};
    kw[n++] = (struct ehlo_keyword){"SMTPUTF8", NULL};
    return n;
}

#define SMTP_EHLO_KEYWORDS_MAX 8

static void
session_ehlo_reply(const struct smtp_server *s, struct buf *out)
{
    struct ehlo_keyword kw[SMTP_EHLO_KEYWORDS_MAX];
    char size[24];
    size_t n = session_ehlo_keywords(s, kw, size, sizeof(size));

    /* RFC 2034 3: no enhanced status code in the EHLO reply. */
    buf_printf(out, "250-%s\r\n", s->params->hostname);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "250%c%s%s%s\r\n", i + 1 < n ? '-' : ' ', kw[i].name,
                   kw[i].param ? " " : "", kw[i].param ? kw[i].param : "");
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

static const enum smtp_reply_id smtp_command_error_reply[] = {
    [SMTP_COMMAND_OK] = SMTP_REPLY_OK,
    [SMTP_COMMAND_SYNTAX] = SMTP_REPLY_SYNTAX,
    [SMTP_COMMAND_BAD_PATH] = SMTP_REPLY_OK, /* per path_role */
    [SMTP_COMMAND_BAD_PARAMETER] = SMTP_REPLY_BAD_PARAMETER,
    [SMTP_COMMAND_UNKNOWN_PARAMETER] = SMTP_REPLY_UNKNOWN_PARAMETER,
    [SMTP_COMMAND_BAD_MECHANISM] = SMTP_REPLY_AUTH_NO_MECH, /* RFC 4954 4 */
};

static enum smtp_reply_id
command_error_reply(const struct path_role *role, enum smtp_command_error e)
{
    return e == SMTP_COMMAND_BAD_PATH ? role->syntax
                                      : smtp_command_error_reply[e];
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

/* MAIL from an authenticated client: may its login use this reverse-path
 * (Postfix reject_sender_login_mismatch)? No hook means yes. */
static bool
mail_sender_allowed(const struct smtp_server *s)
{
    const struct smtp_server_hooks *h = s->hooks;
    struct smtp_session_view v = session_view(s);

    return s->auth_user == NULL || h->sender_allowed == NULL ||
           h->sender_allowed(h->ctx, &v, &s->txn.sender);
}

static enum smtp_reply_id
mail_check(struct smtp_server *s, const char *arg, size_t len)
{
    struct smtp_path_arg pa;
    enum smtp_command_error ce = smtp_command_mail(arg, len, &pa);
    if (ce != SMTP_COMMAND_OK)
        return command_error_reply(&sender_role, ce);
    const struct smtp_mail_params *mp = &pa.params;
    /* RFC 4954 5: AUTH= is ours to accept wherever AUTH is offered, even
     * before the client authenticated; elsewhere it is unknown. */
    if (mp->auth && session_auth_mechanisms(s) == NULL)
        return SMTP_REPLY_UNKNOWN_PARAMETER;
    enum smtp_address_error e = smtp_address_parse(
        pa.path, pa.path_len, true, mp->smtputf8, &s->txn.sender);
    if (e != SMTP_ADDRESS_OK)
        return path_error_reply(&sender_role, e);
    /* RFC 1870 6.1: refuse at once what could never be accepted. */
    uint64_t limit = s->params->message_size_limit;
    if (limit != 0 && mp->size > limit)
        return SMTP_REPLY_SIZE_EXCEEDED;
    if (!mail_sender_allowed(s))
        return SMTP_REPLY_SENDER_NOT_OWNED;
    s->txn.declared_size = mp->size;
    s->txn.body_8bitmime = mp->body_8bitmime;
    s->txn.smtputf8 = mp->smtputf8;
    return SMTP_REPLY_SENDER_OK;
}

static void
smtp_cmd_mail(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    char login[SMTP_AUTH_USER_SIZE], detail[SMTP_AUTH_USER_SIZE + 8];
    const char *reply_arg = "MAIL FROM:<address> [parameters]";

    if (!s->helo_seen) {
        session_reply(s, out, SMTP_REPLY_NEED_HELO);
        return;
    }
    if (s->in_mail) {
        session_reply(s, out, SMTP_REPLY_NESTED_MAIL);
        return;
    }
    enum smtp_reply_id r = mail_check(s, arg, len);
    detail[0] = '\0';
    if (r == SMTP_REPLY_SENDER_NOT_OWNED) {
        /* The login came through SASL from the peer: printable only. */
        printable_copy(login, sizeof(login), s->auth_user,
                       strlen(s->auth_user));
        snprintf(detail, sizeof(detail), "user=%s", login);
        reply_arg = login;
    }
    if (r == SMTP_REPLY_SENDER_OK)
        s->in_mail = true;
    else
        memset(&s->txn, 0, sizeof(s->txn));
    session_reply_detail(s, out, r, reply_arg, detail[0] ? detail : NULL);
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
    smtp_data_set_hop_limit(s->data, s->params->hopcount_limit);
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

/* ---- AUTH (RFC 4954) ----------------------------------------------------*/

/* What one call of auth_start or auth_step gave. */
struct auth_outcome {
    enum smtp_auth_status status;
    struct buf challenge;           /* CONTINUE: raw octets for the 334 */
    char user[SMTP_AUTH_USER_SIZE];  /* OK, FAIL: the login, may be "" */
};

typedef void auth_outcome_fn(struct smtp_server *s,
                             const struct auth_outcome *o, struct buf *out);

/* 334: the exchange goes on, the next line is the client's response. */
static void
auth_continue(struct smtp_server *s, const struct auth_outcome *o,
              struct buf *out)
{
    s->auth_pending = true;
    if (smtp_reply_put_challenge(out, o->challenge.data, o->challenge.len) <
        0) {
        auth_reset(s);
        session_reply(s, out, SMTP_REPLY_AUTH_TEMPFAIL);
    }
}

/* 235: authenticated for the rest of the session (RSET and EHLO keep it;
 * RFC 4954 4: no security layer is negotiated, so nothing is reset). */
static void
auth_ok(struct smtp_server *s, const struct auth_outcome *o, struct buf *out)
{
    s->auth_user = strdup(o->user);
    session_reply(s, out,
                  s->auth_user ? SMTP_REPLY_AUTH_OK : SMTP_REPLY_AUTH_TEMPFAIL);
}

/* 535, or 421 and close once the driver counts too many failures from this
 * client (RFC 4954 9 allows dropping the connection). The driver logs the
 * failure with the user (one line, for fail2ban), so no reject line here;
 * it still counts towards the hard error limit. */
static void
auth_fail(struct smtp_server *s, const struct auth_outcome *o, struct buf *out)
{
    const struct smtp_server_hooks *h = s->hooks;

    if (!h->auth_failed(h->ctx, o->user)) {
        session_close_421(s, out, SMTP_REPLY_AUTH_TOO_MANY);
        return;
    }
    smtp_reply_put(out, SMTP_REPLY_AUTH_FAILED, NULL);
    session_count_error(s, out);
    /* RFC 4954 14: let the driver slow guessing down, one guess at a
     * time even when several were pipelined. */
    s->auth_paused = true;
}

static void
auth_no_mech(struct smtp_server *s, const struct auth_outcome *o,
             struct buf *out)
{
    (void)o;
    session_reply(s, out, SMTP_REPLY_AUTH_NO_MECH);
}

static void
auth_tempfail(struct smtp_server *s, const struct auth_outcome *o,
              struct buf *out)
{
    (void)o;
    session_reply(s, out, SMTP_REPLY_AUTH_TEMPFAIL);
}

static auth_outcome_fn *const smtp_auth_outcomes[] = {
    [SMTP_AUTH_CONTINUE] = auth_continue,
    [SMTP_AUTH_OK] = auth_ok,
    [SMTP_AUTH_FAIL] = auth_fail,
    [SMTP_AUTH_NO_MECH] = auth_no_mech,
    [SMTP_AUTH_TEMPFAIL] = auth_tempfail,
};

static void
auth_outcome_init(struct auth_outcome *o)
{
    o->status = SMTP_AUTH_TEMPFAIL;
    buf_init(&o->challenge, SMTP_AUTH_CHALLENGE_MAX);
    o->user[0] = '\0';
}

/* Answer what a hook said; an exchange that ends here needs no abort. */
static void
auth_outcome_apply(struct smtp_server *s, struct auth_outcome *o,
                   struct buf *out)
{
    size_t n = sizeof(smtp_auth_outcomes) / sizeof(smtp_auth_outcomes[0]);

    if ((unsigned)o->status >= n)
        o->status = SMTP_AUTH_TEMPFAIL;
    o->user[sizeof(o->user) - 1] = '\0';
    smtp_auth_outcomes[o->status](s, o, out);
    buf_free(&o->challenge);
}

/* Decode client base64 into *dec (malloc'd, the caller frees it). Returns
 * SMTP_REPLY_OK, 501 5.5.2 (RFC 4954 4), or 454 if memory ran out. */
static enum smtp_reply_id
auth_decode(const char *b64, size_t len, char **dec, size_t *dec_len)
{
    *dec = malloc(smtp_base64_decoded_max(len) + 1);
    if (*dec == NULL)
        return SMTP_REPLY_AUTH_TEMPFAIL;
    if (smtp_base64_decode(b64, len, *dec, dec_len) == SMTP_BASE64_OK)
        return SMTP_REPLY_OK;
    free(*dec);
    *dec = NULL;
    return SMTP_REPLY_AUTH_BAD_BASE64;
}

/* A line inside the exchange: the client's base64 response to a 334, or
 * "*" to cancel. Not a command: no verb, never logged (credentials). */
static void
auth_response(struct smtp_server *s, const char *line, size_t len,
              struct buf *out)
{
    const struct smtp_server_hooks *h = s->hooks;
    struct auth_outcome o;
    char *dec;
    size_t dec_len = 0;

    snprintf(s->verb, sizeof(s->verb), "AUTH");
    s->auth_pending = false;
    /* RFC 4954 4: "*" cancels, answered with 501 (5.7.0 per RFC 4954 4's
     * client-initiated cancel). */
    enum smtp_reply_id r = len == 1 && line[0] == '*'
                               ? SMTP_REPLY_AUTH_ABORTED
                               : auth_decode(line, len, &dec, &dec_len);
    if (r != SMTP_REPLY_OK) {
        h->auth_abort(h->ctx);
        session_reply(s, out, r);
        return;
    }
    auth_outcome_init(&o);
    o.status = h->auth_step(h->ctx, dec, dec_len, &o.challenge, o.user,
                            sizeof(o.user));
    free(dec);
    auth_outcome_apply(s, &o, out);
}

/* Whether AUTH may start now; SMTP_REPLY_OK or the refusal. */
static enum smtp_reply_id
auth_admit(const struct smtp_server *s)
{
    if (s->params->auth_mode == SMTP_AUTH_MODE_OFF)
        return SMTP_REPLY_AUTH_NOT_ENABLED;
    if (!s->tls)
        return SMTP_REPLY_AUTH_NEED_TLS; /* DESIGN.md: never in plaintext */
    if (!s->helo_seen)
        return SMTP_REPLY_NEED_HELO;
    /* RFC 4954 4: one successful AUTH per session; none inside a mail
     * transaction. Both 503. */
    if (s->auth_user != NULL)
        return SMTP_REPLY_AUTH_ALREADY;
    if (s->in_mail)
        return SMTP_REPLY_AUTH_IN_MAIL;
    return SMTP_REPLY_OK;
}

/* Check the AUTH argument against the offer, decode any initial response
 * into *dec (malloc'd; NULL if none). */
static enum smtp_reply_id
auth_parse(const struct smtp_server *s, const char *arg, size_t len,
           struct smtp_auth_arg *aa, char **dec, size_t *dec_len)
{
    const char *mechs = session_auth_mechanisms(s);
    enum smtp_command_error ce = smtp_command_auth(arg, len, aa);

    *dec = NULL;
    *dec_len = 0;
    if (mechs == NULL)
        return SMTP_REPLY_AUTH_NOT_ENABLED;
    if (ce != SMTP_COMMAND_OK)
        return smtp_command_error_reply[ce];
    /* RFC 4954 4: 504 for a mechanism we do not offer, whatever the SASL
     * library might accept. */
    if (!auth_mech_listed(mechs, aa->mech))
        return SMTP_REPLY_AUTH_NO_MECH;
    if (aa->initial == NULL)
        return SMTP_REPLY_OK;
    return auth_decode(aa->initial, aa->initial_len, dec, dec_len);
}

/* RFC 4954 4: AUTH mechanism [initial-response]. With PIPELINING, RFC 4954
 * 4 wants AUTH last in a group unless it completes in one round trip with
 * its initial response (PLAIN, EXTERNAL); lines pipelined after a 334
 * anyway are taken, in order, as the responses, whatever the input split. */
static void
smtp_cmd_auth(struct smtp_server *s, const char *arg, size_t len,
              struct buf *out)
{
    const struct smtp_server_hooks *h = s->hooks;
    struct smtp_auth_arg aa;
    struct auth_outcome o;
    char *dec = NULL;
    size_t dec_len = 0;

    enum smtp_reply_id r = auth_admit(s);
    if (r == SMTP_REPLY_OK)
        r = auth_parse(s, arg, len, &aa, &dec, &dec_len);
    if (r != SMTP_REPLY_OK) {
        session_reply_detail(s, out, r, "AUTH mechanism [initial-response]",
                             NULL);
        return;
    }
    auth_outcome_init(&o);
    o.status =
        h->auth_start(h->ctx, aa.mech, dec ? dec : "", dec_len,
                      aa.initial != NULL, &o.challenge, o.user, sizeof(o.user));
    free(dec);
    auth_outcome_apply(s, &o, out);
}

/* ---- verb table and dispatch ------------------------------------------- */

enum verb_flag {
    VERB_BEFORE_TLS = 1,  /* allowed before STARTTLS on a listener that
                             requires it (RFC 3207 4) */
    VERB_NO_ARGS = 2,     /* takes no argument: 501 if one is given */
    VERB_NEEDS_ARG = 4,   /* takes an argument: 501 if none */
    VERB_BEFORE_AUTH = 8, /* allowed before AUTH on a listener that requires
                             it (RFC 4954 6: 530 for the others) */
    VERB_AUTH_PARAM = 16, /* line_max grows by SMTP_AUTH_PARAM_MAX where
                             AUTH is enabled (RFC 4954 3) */
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
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH | VERB_NEEDS_ARG,
         "EHLO hostname"),
    VERB("HELO", smtp_cmd_helo, helo, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH | VERB_NEEDS_ARG,
         "HELO hostname"),
    VERB("MAIL", smtp_cmd_mail, mail, SMTP_MAIL_LINE_MAX, VERB_AUTH_PARAM,
         "MAIL FROM:<address> [parameters]"),
    VERB("RCPT", smtp_cmd_rcpt, rcpt, SMTP_RCPT_LINE_MAX, 0,
         "RCPT TO:<address>"),
    VERB("DATA", smtp_cmd_data, data, SMTP_LINE_MAX, VERB_NO_ARGS, "DATA"),
    VERB("RSET", smtp_cmd_rset, rset, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH | VERB_NO_ARGS, "RSET"),
    VERB("NOOP", smtp_cmd_noop, noop, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH, "NOOP"),
    /* RFC 5321 4.1.1.10 wants no argument; closing anyway is kinder. */
    VERB("QUIT", smtp_cmd_quit, quit, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH, "QUIT"),
    VERB("VRFY", smtp_cmd_vrfy, vrfy, SMTP_LINE_MAX, VERB_NEEDS_ARG,
         "VRFY address"),
    VERB("HELP", smtp_cmd_help, help, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH, "HELP"),
    VERB("STARTTLS", smtp_cmd_starttls, starttls, SMTP_LINE_MAX,
         VERB_BEFORE_TLS | VERB_BEFORE_AUTH | VERB_NO_ARGS, "STARTTLS"),
    /* Not before TLS: 530 where TLS is required, else 538 (handler). */
    VERB("AUTH", smtp_cmd_auth, auth, SMTP_AUTH_LINE_MAX,
         VERB_BEFORE_AUTH | VERB_NEEDS_ARG,
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

static size_t
verb_line_max(const struct smtp_server *s, const struct smtp_verb *v)
{
    if ((v->flags & VERB_AUTH_PARAM) && session_auth_enabled(s))
        return v->line_max + SMTP_AUTH_PARAM_MAX;
    return v->line_max;
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
    if (raw_len > verb_line_max(s, v))
        return SMTP_REPLY_LINE_TOO_LONG;
    /* RFC 3207 4: on a listener that requires TLS, no mail before it. */
    if (s->params->tls_mode == SMTP_TLS_REQUIRED && !s->tls &&
        !(v->flags & VERB_BEFORE_TLS))
        return SMTP_REPLY_MUST_STARTTLS;
    /* RFC 4954 6: 530 where policy requires AUTH and none is in force. */
    if (s->params->auth_mode == SMTP_AUTH_MODE_REQUIRED &&
        s->auth_user == NULL && !(v->flags & VERB_BEFORE_AUTH))
        return SMTP_REPLY_AUTH_REQUIRED;
    if (((v->flags & VERB_NO_ARGS) && arg_len > 0) ||
        ((v->flags & VERB_NEEDS_ARG) && arg_len == 0))
        return SMTP_REPLY_SYNTAX;
    return SMTP_REPLY_OK;
}

/* One line: raw_len octets ending in LF, at most SMTP_CMD_BUF_MAX. A
 * command, or a response inside an AUTH exchange. */
static void
session_line(struct smtp_server *s, const char *line, size_t raw_len,
             struct buf *out)
{
    size_t len = raw_len - 1; /* the LF; a bare LF ends lines too */

    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (s->auth_pending) {
        auth_response(s, line, len, out);
        return;
    }
    s->counts.total++;
    session_set_verb(s, line, raw_len);
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

/* A line that passed its limit while buffered: its bytes are gone,
 * answer now. */
static void
session_line_too_long(struct smtp_server *s, struct buf *out)
{
    if (s->auth_pending) {
        /* RFC 4954 4: a response longer than our buffer fails the AUTH
         * command with 500 (5.5.6, RFC 4954 6). */
        auth_reset(s);
        session_reply(s, out, SMTP_REPLY_AUTH_LINE_TOO_LONG);
        return;
    }
    s->counts.total++;
    session_reply(s, out, SMTP_REPLY_LINE_TOO_LONG);
}

/* The most octets to buffer for the line being read, given its first
 * bytes (already buffered, then p): only an AUTH command or a response
 * inside an exchange may be long (RFC 4954 4). Any limit here is at least
 * SMTP_MAIL_LINE_MAX, so a line cut before its fifth byte is never near
 * one: the answer does not depend on how the input was split. */
static size_t
session_line_max(const struct smtp_server *s, const char *p, size_t n)
{
    char head[5];
    size_t h = 0;

    if (s->auth_pending)
        return SMTP_AUTH_LINE_MAX;
    for (size_t i = 0; i < s->line.len && h < sizeof(head); i++)
        head[h++] = s->line.data[i];
    for (size_t i = 0; i < n && h < sizeof(head); i++)
        head[h++] = p[i];
    if (h == sizeof(head) && strncasecmp(head, "AUTH ", sizeof(head)) == 0)
        return SMTP_AUTH_LINE_MAX;
    return SMTP_MAIL_LINE_MAX +
           (session_auth_enabled(s) ? SMTP_AUTH_PARAM_MAX : 0);
}

/* Name the line being dropped for the log: never a response inside an
 * AUTH exchange, which holds credentials. */
static void
session_set_verb_dropped(struct smtp_server *s, const char *p, size_t n)
{
    if (s->auth_pending)
        snprintf(s->verb, sizeof(s->verb), "AUTH");
    else
        session_set_verb(s, s->line.len ? s->line.data : p,
                         s->line.len ? s->line.len : n);
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
    if (s->line.len + take > session_line_max(s, p, take)) {
        /* RFC 5321 4.5.3.1.4: drop the line up to its LF, then 500. */
        session_set_verb_dropped(s, p, take);
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
    [SMTP_DATA_TOO_MANY_HOPS] = SMTP_REPLY_TOO_MANY_HOPS, /* RFC 5321 6.3 */
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
    auth_reset(s);
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
    if (s->auth_paused && s->phase == PHASE_COMMAND)
        return SMTP_ACTION_AUTH_FAILED;
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
    s->auth_paused = false;
    while (used < len && !s->auth_paused &&
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
