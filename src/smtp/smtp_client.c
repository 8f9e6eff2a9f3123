/*
 * smtp_client.c -- the SMTP client session (RFC 5321), sans-I/O.
 *
 * A table of stages, one reply handler each. Replies are read by
 * smtp_reply_read.c; every reply that decides recipients goes through
 * client_apply_reply(), which turns it into results. Extensions: STARTTLS
 * (RFC 3207), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531), AUTH PLAIN/LOGIN (RFC 4954, RFC 4616), enhanced
 * status codes (RFC 3463, RFC 2034).
 *
 * Trust boundary: every byte fed in comes from the server we deliver to.
 * It can decide the fate of this message only: replies are bounded and
 * parsed strictly, their text made printable, and nothing it sends before
 * TLS survives the handshake (RFC 3207 4.2). AUTH credentials go only over
 * TLS and are wiped from our buffers once sent.
 */
#include "smtp/smtp_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_address.h"
#include "smtp/smtp_base64.h"
#include "smtp/smtp_reply_read.h"
#include "util/util_buf.h"

/* RFC 4954 4: an AUTH command with its initial response should fit the
 * 512 octets of a command line (RFC 5321 4.5.3.1.4); if not, the response
 * goes after an empty 334 challenge. */
#define CLIENT_AUTH_LINE_MAX 512
#define CLIENT_ALL ((size_t)-1) /* client_settle(): every open recipient */
/* Server bytes kept while the content is sent (see smtp_client_feed()). */
#define CLIENT_EARLY_MAX (64 * 1024)

enum client_state {
    ST_GREETING, /* waiting for 220 */
    ST_EHLO,     /* EHLO sent */
    ST_HELO,     /* HELO sent (EHLO got 5xx) */
    ST_STARTTLS, /* STARTTLS sent */
    ST_TLS,      /* 220 to STARTTLS: the driver does the handshake */
    ST_AUTH,     /* an AUTH exchange, see enum auth_step */
    ST_MAIL,     /* MAIL sent (with RCPTs and DATA when pipelining) */
    ST_RCPT,     /* reading the reply to rcpts[rcpt_cur] */
    ST_DATA,     /* reading the reply to DATA */
    ST_CONTENT,  /* 354 came: the driver pumps the content */
    ST_DOT,      /* end of data sent */
    ST_DISCARD,  /* "." after a 354 that no recipient needed */
    ST_DONE,     /* results final */
    ST_COUNT
};

enum auth_step {
    AUTH_STEP_PLAIN,      /* "AUTH PLAIN" without initial response */
    AUTH_STEP_LOGIN_USER, /* "AUTH LOGIN": the user name is asked next */
    AUTH_STEP_LOGIN_PASS, /* the password is asked next */
    AUTH_STEP_FINAL,      /* credentials sent, 235 expected */
};

/* What the server offered in its last EHLO reply (RFC 5321 4.1.1.1). */
struct client_ext {
    bool starttls;     /* RFC 3207 */
    bool pipelining;   /* RFC 2920 */
    bool size;         /* RFC 1870: SIZE= may be given */
    bool eightbitmime; /* RFC 6152 */
    bool smtputf8;     /* RFC 6531 */
    bool enhanced;     /* RFC 2034 ENHANCEDSTATUSCODES */
    bool auth;         /* RFC 4954, any mechanism */
    bool auth_plain;   /* ... PLAIN among them */
    bool auth_login;   /* ... LOGIN among them */
    uint64_t size_max; /* SIZE's limit in octets, 0 for none given */
};

struct client_rcpt {
    struct smtp_client_result res;
    bool in_txn; /* open when MAIL was sent: a RCPT TO goes out for it */
};

struct smtp_client {
    struct smtp_client_params p; /* copy; its strings are borrowed */
    enum client_state state;
    enum smtp_client_action action;
    enum auth_step auth_step;
    struct smtp_reply_reader reader;
    struct buf out;   /* bytes for the server */
    struct buf early; /* fed during the content, read after
                         its end */
    struct client_ext ext;
    struct client_rcpt *rcpts; /* owned, p.n_rcpts entries */
    size_t rcpt_cur;           /* the RCPT whose reply comes next */
    size_t n_accepted;         /* RCPTs that got 2xx */
    bool tls;                  /* TLS is on (implicit or STARTTLS) */
    bool tls_offered;          /* the EHLO before TLS had STARTTLS */
    bool starttls_refused;     /* STARTTLS got 4xx/5xx (TLS may) */
    bool mail_accepted;        /* MAIL got 2xx */
    bool pipelined;            /* MAIL, RCPTs and DATA went as one */
    bool txn_failed;           /* MAIL failed: replies are only read */
    bool next_host;            /* see smtp_client_try_next_host() */
    bool secret_out;           /* out holds credentials */
    bool nomem;                /* an append failed */
    bool bol;                  /* content: at the start of a line */
    bool cr;                   /* content: a CR held back */
};

typedef void client_reply_fn(struct smtp_client *c, unsigned cls);

static client_reply_fn on_greeting, on_ehlo, on_helo, on_starttls, on_auth,
    on_mail, on_rcpt, on_data, on_dot, on_discard;

/* Per stage: its name, the command a reply answers (Postfix's "in reply
 * to" words), what we were doing (for "lost connection while ..."), and
 * the handler of its replies (NULL: nothing is read). */
struct client_stage {
    const char *name;
    const char *in_reply_to;
    const char *doing;
    client_reply_fn *on_reply;
};

/* clang-format off */
static const struct client_stage client_stages[ST_COUNT] = {
    [ST_GREETING] = {"greeting", "initial greeting",
                     "receiving the initial server greeting", on_greeting},
    [ST_EHLO] = {"EHLO", "EHLO command", "performing the EHLO handshake",
                 on_ehlo},
    [ST_HELO] = {"HELO", "HELO command", "performing the HELO handshake",
                 on_helo},
    [ST_STARTTLS] = {"STARTTLS", "STARTTLS command", "sending STARTTLS",
                     on_starttls},
    [ST_TLS] = {"TLS handshake", "STARTTLS command",
                "performing the TLS handshake", NULL},
    [ST_AUTH] = {"AUTH", "AUTH command", "authenticating", on_auth},
    [ST_MAIL] = {"MAIL FROM", "MAIL FROM command", "sending MAIL FROM",
                 on_mail},
    [ST_RCPT] = {"RCPT TO", "RCPT TO command", "sending RCPT TO", on_rcpt},
    [ST_DATA] = {"DATA", "DATA command", "sending DATA command", on_data},
    [ST_CONTENT] = {"message body", "end of DATA command",
                    "sending message body", NULL},
    /* Postfix's words: a lost reply here may mean a duplicate. */
    [ST_DOT] = {"end of data", "end of DATA command",
                "sending end of data -- message may be sent more than once",
                on_dot},
    [ST_DISCARD] = {"end of data", "end of DATA command",
                    "sending end of data", on_discard},
    [ST_DONE] = {"QUIT", "QUIT command", "closing the session", NULL},
};
/* clang-format on */

/* ---- output ------------------------------------------------------------ */

static void client_put(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_put(struct smtp_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(&c->out, fmt, ap) < 0)
        c->nomem = true;
    va_end(ap);
}

static void
client_put_raw(struct smtp_client *c, const char *data, size_t len)
{
    if (buf_append(&c->out, data, len) < 0)
        c->nomem = true;
}

/* Append prefix, the base64 of len octets of secret, CRLF (RFC 4954 4). */
static void
client_put_secret(struct smtp_client *c, const char *prefix, const char *secret,
                  size_t len)
{
    c->secret_out = true;
    if (buf_puts(&c->out, prefix) < 0 ||
        smtp_base64_encode(&c->out, secret, len) < 0 ||
        buf_puts(&c->out, "\r\n") < 0)
        c->nomem = true;
}

/* ---- results ----------------------------------------------------------- */

/* RFC 3463 2: the class of the status says sent (2), deferred (4) or
 * bounced (5); a 5xx that only defers (a session failure) becomes 4.x.x,
 * as Postfix does. */
static void
result_fix_class(struct smtp_client_result *res)
{
    static const char class_of[] = {[SMTP_CLIENT_PENDING] = '4',
                                    [SMTP_CLIENT_SENT] = '2',
                                    [SMTP_CLIENT_DEFERRED] = '4',
                                    [SMTP_CLIENT_BOUNCED] = '5'};
    res->dsn[0] = class_of[res->status];
}

/* A result with a local reason (code 0). */
static void result_local(struct smtp_client_result *res,
                         enum smtp_client_status st, const char *dsn,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
result_local(struct smtp_client_result *res, enum smtp_client_status st,
             const char *dsn, const char *fmt, ...)
{
    va_list ap;

    memset(res, 0, sizeof(*res));
    res->status = st;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->text, sizeof(res->text), fmt, ap);
    va_end(ap);
    /* Our own words, but "what" and addresses may come from elsewhere. */
    for (char *p = res->text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
}

/* The reply held by the reader as a result: its text and the command it
 * answered, its enhanced status code or one derived from the code. */
static void
result_reply(const struct smtp_client *c, enum smtp_client_status st,
             struct smtp_client_result *res)
{
    const char *cmd = client_stages[c->state].in_reply_to;
    size_t suffix = strlen(" (in reply to )") + strlen(cmd);

    memset(res, 0, sizeof(*res));
    res->status = st;
    res->code = (int)smtp_reply_read_code(&c->reader);
    if (!smtp_reply_read_dsn(&c->reader, res->dsn))
        snprintf(res->dsn, sizeof(res->dsn), "%d.0.0", res->code / 100);
    result_fix_class(res);
    size_t n =
        smtp_reply_read_text(&c->reader, res->text, sizeof(res->text) - suffix);
    snprintf(res->text + n, sizeof(res->text) - n, " (in reply to %s)", cmd);
}

/* Decide rcpts[only] (CLIENT_ALL: every open recipient) as res says. */
static void
client_settle(struct smtp_client *c, const struct smtp_client_result *res,
              size_t only)
{
    for (size_t i = 0; i < c->p.n_rcpts; i++) {
        struct smtp_client_result *r = &c->rcpts[i].res;
        if (r->status != SMTP_CLIENT_PENDING ||
            (only != CLIENT_ALL && i != only))
            continue;
        *r = *res;
        if (res->status == SMTP_CLIENT_DEFERRED && !c->mail_accepted)
            c->next_host = true;
    }
}

static bool
client_any_open(const struct smtp_client *c)
{
    for (size_t i = 0; i < c->p.n_rcpts; i++)
        if (c->rcpts[i].res.status == SMTP_CLIENT_PENDING)
            return true;
    return false;
}

/* The reply decides rcpts[only] (or all open ones) by its class: 2xx sent,
 * 4xx deferred, 5xx bounced (RFC 5321 4.2.1). */
static void
client_apply_reply(struct smtp_client *c, unsigned cls, size_t only)
{
    struct smtp_client_result res;
    result_reply(c,
                 cls == 2   ? SMTP_CLIENT_SENT
                 : cls == 5 ? SMTP_CLIENT_BOUNCED
                            : SMTP_CLIENT_DEFERRED,
                 &res);
    client_settle(c, &res, only);
}

/* ---- ending ------------------------------------------------------------ */

/* Results are final. Every path decides all open recipients first; this
 * only guards against a path that forgot, so no recipient is lost. */
static void
client_finish(struct smtp_client *c)
{
    struct smtp_client_result res;

    if (client_any_open(c)) {
        result_local(&res, SMTP_CLIENT_DEFERRED, "4.3.0",
                     "session ended without a result while %s",
                     client_stages[c->state].doing);
        client_settle(c, &res, CLIENT_ALL);
    }
    c->state = ST_DONE;
    c->action = SMTP_CLIENT_DONE;
}

/* RFC 5321 4.1.1.10: end the session politely -- except inside the
 * content, where QUIT would be taken as a line of the message. */
static void
client_quit(struct smtp_client *c)
{
    if (c->state != ST_CONTENT)
        client_put(c, "QUIT\r\n");
    client_finish(c);
}

/* The session failed at a stage that is about the host, not the message
 * (greeting, EHLO, STARTTLS, AUTH): whatever the code, defer. */
static void
client_fail_reply(struct smtp_client *c)
{
    struct smtp_client_result res;
    result_reply(c, SMTP_CLIENT_DEFERRED, &res);
    client_settle(c, &res, CLIENT_ALL);
    client_quit(c);
}

static void
client_fail_local(struct smtp_client *c, const char *dsn, const char *why)
{
    struct smtp_client_result res;
    result_local(&res, SMTP_CLIENT_DEFERRED, dsn, "%s", why);
    client_settle(c, &res, CLIENT_ALL);
    client_quit(c);
}

/* The server broke the protocol: defer everything open, RFC 3463 X.5.0. */
static void
client_protocol_error(struct smtp_client *c, const char *why)
{
    struct smtp_client_result res;
    result_local(&res, SMTP_CLIENT_DEFERRED, "4.5.0",
                 "protocol error: %s (in reply to %s)", why,
                 client_stages[c->state].in_reply_to);
    client_settle(c, &res, CLIENT_ALL);
    client_quit(c);
}

/* A well-formed reply of a class this stage does not expect. */
static void
client_unexpected(struct smtp_client *c)
{
    char text[SMTP_CLIENT_TEXT_SIZE / 2], why[SMTP_CLIENT_TEXT_SIZE];

    smtp_reply_read_text(&c->reader, text, sizeof(text));
    snprintf(why, sizeof(why), "unexpected reply: %s", text);
    client_protocol_error(c, why);
}

/* ---- EHLO and its extensions ------------------------------------------- */

static bool
word_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

typedef void ext_parse_fn(struct client_ext *e, const char *arg, size_t n);

/* RFC 1870 4: "SIZE" [SP number]; a missing or odd number means no limit
 * we can check; 0 means none (RFC 1870 5). */
static void
ext_parse_size(struct client_ext *e, const char *arg, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (arg[i] < '0' || arg[i] > '9')
            return;
        unsigned d = (unsigned)(arg[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    e->size_max = v;
}

/* RFC 4954 3: "AUTH" SP mechanisms separated by SP. */
static void
ext_parse_auth(struct client_ext *e, const char *arg, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t w = 0;
        while (i + w < n && arg[i + w] != ' ')
            w++;
        e->auth_plain |= word_is(arg + i, w, "PLAIN");
        e->auth_login |= word_is(arg + i, w, "LOGIN");
        i += w + 1;
    }
}

static const struct ehlo_keyword {
    const char *name;
    size_t flag;         /* offsetof the bool in struct client_ext */
    ext_parse_fn *parse; /* for the parameters, or NULL */
} ehlo_keywords[] = {
    {"STARTTLS", offsetof(struct client_ext, starttls), NULL},
    {"PIPELINING", offsetof(struct client_ext, pipelining), NULL},
    {"SIZE", offsetof(struct client_ext, size), ext_parse_size},
    {"8BITMIME", offsetof(struct client_ext, eightbitmime), NULL},
    {"SMTPUTF8", offsetof(struct client_ext, smtputf8), NULL},
    {"ENHANCEDSTATUSCODES", offsetof(struct client_ext, enhanced), NULL},
    {"AUTH", offsetof(struct client_ext, auth), ext_parse_auth},
};

/* One EHLO line's text (after "250-"): keyword, then SP and parameters.
 * "AUTH=PLAIN LOGIN" is the pre-RFC 4954 form some servers still send. */
static void
ext_parse_line(struct client_ext *e, const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && s[k] != ' ' && s[k] != '=')
        k++;
    const char *arg = k < n ? s + k + 1 : s + n;
    size_t arg_n = k < n ? n - k - 1 : 0;

    for (size_t i = 0; i < sizeof(ehlo_keywords) / sizeof(*ehlo_keywords);
         i++) {
        const struct ehlo_keyword *kw = &ehlo_keywords[i];
        if (!word_is(s, k, kw->name))
            continue;
        *(bool *)((char *)e + kw->flag) = true;
        if (kw->parse != NULL)
            kw->parse(e, arg, arg_n);
    }
}

/* RFC 5321 4.1.1.1: the first line names the server, each further line is
 * an extension. What an earlier EHLO said is forgotten. */
static void
client_parse_ehlo(struct smtp_client *c)
{
    size_t len;
    const char *p = smtp_reply_read_lines(&c->reader, &len);
    const char *end = p + len;

    memset(&c->ext, 0, sizeof(c->ext));
    p = memchr(p, '\n', len) + 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol - p > 4)
            ext_parse_line(&c->ext, p + 4, (size_t)(eol - p - 4));
        p = eol + 1;
    }
    if (!c->tls)
        c->tls_offered = c->ext.starttls;
}

/* ---- session stages ---------------------------------------------------- */

static void
client_send_ehlo(struct smtp_client *c)
{
    client_put(c, "EHLO %s\r\n", c->p.helo_name);
    c->state = ST_EHLO;
}

static void client_start_auth(struct smtp_client *c);
static void client_start_mail(struct smtp_client *c);

/* After a 2xx to EHLO/HELO: STARTTLS, AUTH or the transaction. */
static void
client_after_hello(struct smtp_client *c)
{
    bool want_tls =
        c->p.tls == SMTP_CLIENT_TLS_MAY || c->p.tls == SMTP_CLIENT_TLS_MUST;

    if (want_tls && !c->tls && c->ext.starttls && !c->starttls_refused) {
        client_put(c, "STARTTLS\r\n");
        c->state = ST_STARTTLS;
    } else if (c->p.tls == SMTP_CLIENT_TLS_MUST && !c->tls) {
        /* RFC 3207 4.1 leaves it to the client: our policy says no. */
        client_fail_local(c, "4.7.4",
                          "TLS is required, but was not offered by host");
    } else if (c->p.auth_user != NULL) {
        client_start_auth(c);
    } else {
        client_start_mail(c);
    }
}

static void
on_greeting(struct smtp_client *c, unsigned cls)
{
    if (cls != 2)
        return client_fail_reply(c);
    if (!client_any_open(c)) /* every address was refused at new() */
        return client_quit(c);
    client_send_ehlo(c);
}

static void
on_ehlo(struct smtp_client *c, unsigned cls)
{
    if (cls == 2) {
        client_parse_ehlo(c);
        return client_after_hello(c);
    }
    if (cls != 5)
        return client_fail_reply(c);
    /* RFC 5321 3.2: a server that does not know EHLO gets HELO. */
    client_put(c, "HELO %s\r\n", c->p.helo_name);
    c->state = ST_HELO;
}

static void
on_helo(struct smtp_client *c, unsigned cls)
{
    if (cls != 2)
        return client_fail_reply(c);
    memset(&c->ext, 0, sizeof(c->ext)); /* HELO: no extensions */
    client_after_hello(c);
}

static void
on_starttls(struct smtp_client *c, unsigned cls)
{
    if (cls == 2) {
        /* RFC 3207 4.2: the driver discards what it has not fed us, and
         * feed() drops the rest of this read. */
        c->state = ST_TLS;
        c->action = SMTP_CLIENT_STARTTLS;
        return;
    }
    if (c->p.tls == SMTP_CLIENT_TLS_MUST)
        return client_fail_reply(c);
    /* RFC 3207 4: after 454 the client decides; opportunistic TLS goes on
     * in plaintext, as Postfix does at level "may". */
    c->starttls_refused = true;
    client_after_hello(c);
}

/* ---- AUTH (RFC 4954, PLAIN RFC 4616, LOGIN) ---------------------------- */

/* RFC 4616 2: message = [authzid] NUL authcid NUL passwd. */
static int
auth_plain_message(const struct smtp_client *c, struct buf *raw)
{
    if (buf_append(raw, "", 1) < 0 || buf_puts(raw, c->p.auth_user) < 0 ||
        buf_append(raw, "", 1) < 0 || buf_puts(raw, c->p.auth_pass) < 0)
        return -1;
    return 0;
}

/* Append prefix and the PLAIN message in base64. */
static void
client_put_plain(struct smtp_client *c, const char *prefix)
{
    struct buf raw;

    buf_init(&raw, 0);
    if (auth_plain_message(c, &raw) < 0)
        c->nomem = true;
    else
        client_put_secret(c, prefix, raw.data, raw.len);
    if (raw.data != NULL)
        explicit_bzero(raw.data, raw.len);
    buf_free(&raw);
}

static void
client_auth_plain(struct smtp_client *c)
{
    size_t raw = 2 + strlen(c->p.auth_user) + strlen(c->p.auth_pass);
    size_t line = strlen("AUTH PLAIN \r\n") + (raw + 2) / 3 * 4;

    if (line <= CLIENT_AUTH_LINE_MAX) {
        client_put_plain(c, "AUTH PLAIN ");
        c->auth_step = AUTH_STEP_FINAL;
    } else {
        client_put(c, "AUTH PLAIN\r\n");
        c->auth_step = AUTH_STEP_PLAIN;
    }
}

static void
client_start_auth(struct smtp_client *c)
{
    const char *why = NULL;

    if (!c->tls)
        why = "authentication is configured, but TLS is not active: "
              "credentials not sent";
    else if (!c->ext.auth)
        why = "authentication is configured, but AUTH was not offered "
              "by host";
    else if (!c->ext.auth_plain && !c->ext.auth_login)
        why = "no supported AUTH mechanism (PLAIN, LOGIN) offered by host";
    if (why != NULL)
        return client_fail_local(c, "4.7.0", why);
    c->state = ST_AUTH;
    if (c->ext.auth_plain)
        return client_auth_plain(c);
    client_put(c, "AUTH LOGIN\r\n");
    c->auth_step = AUTH_STEP_LOGIN_USER;
}

/* A 334 challenge: send what the step asks for (LOGIN asks for the user
 * name, then the password; the challenge text itself says no more). */
static void
client_auth_respond(struct smtp_client *c)
{
    const char *s =
        c->auth_step == AUTH_STEP_LOGIN_USER ? c->p.auth_user : c->p.auth_pass;
    if (c->auth_step == AUTH_STEP_PLAIN)
        client_put_plain(c, "");
    else
        client_put_secret(c, "", s, strlen(s));
    c->auth_step = c->auth_step == AUTH_STEP_LOGIN_USER ? AUTH_STEP_LOGIN_PASS
                                                        : AUTH_STEP_FINAL;
}

static void
on_auth(struct smtp_client *c, unsigned cls)
{
    if (cls == 3 && c->auth_step != AUTH_STEP_FINAL)
        return client_auth_respond(c);
    if (cls == 2 && c->auth_step == AUTH_STEP_FINAL)
        return client_start_mail(c);
    /* A refused login is our configuration's problem, never the
     * message's: defer, even on 535 (Postfix smtp_sasl_auth_soft_bounce). */
    client_fail_reply(c);
}

/* ---- the transaction --------------------------------------------------- */

/* The first recipient at or after i that is in the transaction. */
static size_t
client_next_rcpt(const struct smtp_client *c, size_t i)
{
    while (i < c->p.n_rcpts && !c->rcpts[i].in_txn)
        i++;
    return i;
}

static void
client_put_rcpt(struct smtp_client *c, size_t i)
{
    client_put(c, "RCPT TO:<%s>\r\n", c->p.rcpts[i]);
}

/* Limits the server announced that the message cannot meet: bounce every
 * open recipient now, without MAIL. Returns true if it did. */
static bool
client_mail_refused(struct smtp_client *c)
{
    struct smtp_client_result res;

    if (c->p.smtputf8 && !c->ext.smtputf8) {
        /* RFC 6531 3.4: no SMTPUTF8, no way to deliver. */
        result_local(&res, SMTP_CLIENT_BOUNCED, "5.6.7",
                     "SMTPUTF8 is required, but was not offered by host");
    } else if (c->ext.size_max != 0 && c->p.size > c->ext.size_max) {
        /* RFC 1870 6: the server would refuse it anyway. */
        result_local(&res, SMTP_CLIENT_BOUNCED, "5.3.4",
                     "message size %" PRIu64 " exceeds size limit %" PRIu64
                     " of server",
                     c->p.size, c->ext.size_max);
    } else {
        return false;
    }
    client_settle(c, &res, CLIENT_ALL);
    return true;
}

static void
client_put_mail(struct smtp_client *c)
{
    client_put(c, "MAIL FROM:<%s>", c->p.sender);
    if (c->ext.size)
        client_put(c, " SIZE=%" PRIu64, c->p.size);
    /* RFC 6152 3: BODY= only to a server that offers 8BITMIME; like
     * Postfix we send 8-bit content to others as it is. */
    if (c->p.body_8bitmime && c->ext.eightbitmime)
        client_put(c, " BODY=8BITMIME");
    if (c->p.smtputf8)
        client_put(c, " SMTPUTF8");
    client_put(c, "\r\n");
}

static void
client_start_mail(struct smtp_client *c)
{
    if (!client_any_open(c) || client_mail_refused(c))
        return client_quit(c);
    client_put_mail(c);
    for (size_t i = 0; i < c->p.n_rcpts; i++)
        c->rcpts[i].in_txn = c->rcpts[i].res.status == SMTP_CLIENT_PENDING;
    c->rcpt_cur = client_next_rcpt(c, 0);
    /* RFC 2920 3.1: MAIL, RCPT and DATA may go in one group, DATA last. */
    c->pipelined = c->ext.pipelining;
    if (c->pipelined) {
        for (size_t i = c->rcpt_cur; i < c->p.n_rcpts;
             i = client_next_rcpt(c, i + 1))
            client_put_rcpt(c, i);
        client_put(c, "DATA\r\n");
    }
    c->state = ST_MAIL;
}

static void
on_mail(struct smtp_client *c, unsigned cls)
{
    if (cls == 3)
        return client_unexpected(c);
    if (cls == 2) {
        c->mail_accepted = true;
        c->state = ST_RCPT;
        if (!c->pipelined)
            client_put_rcpt(c, c->rcpt_cur);
        return;
    }
    client_apply_reply(c, cls, CLIENT_ALL);
    if (!c->pipelined)
        return client_quit(c);
    /* RFC 2920 3.1: the RCPT and DATA replies still come; read them, so a
     * 354 can be answered before QUIT. */
    c->txn_failed = true;
    c->state = ST_RCPT;
}

static void
on_rcpt(struct smtp_client *c, unsigned cls)
{
    if (cls == 3 && !c->txn_failed)
        return client_unexpected(c);
    if (cls == 2 && !c->txn_failed)
        c->n_accepted++;
    else if (!c->txn_failed)
        client_apply_reply(c, cls, c->rcpt_cur);
    c->rcpt_cur = client_next_rcpt(c, c->rcpt_cur + 1);
    if (c->rcpt_cur < c->p.n_rcpts) {
        if (!c->pipelined)
            client_put_rcpt(c, c->rcpt_cur);
        return;
    }
    c->state = ST_DATA;
    if (c->pipelined) /* DATA went with the group */
        return;
    /* RFC 5321 3.3: DATA only with at least one accepted recipient. */
    if (c->n_accepted == 0)
        return client_quit(c);
    client_put(c, "DATA\r\n");
}

static void
on_data(struct smtp_client *c, unsigned cls)
{
    if (cls == 2)
        return client_unexpected(c);
    if (cls == 3 && (c->n_accepted == 0 || c->txn_failed)) {
        /* RFC 2920 3.1: a pipelined DATA got 354 though no recipient was
         * accepted: send an empty message's end, nothing of the content. */
        client_put(c, ".\r\n");
        c->state = ST_DISCARD;
        return;
    }
    if (cls == 3) {
        c->state = ST_CONTENT;
        c->action = SMTP_CLIENT_SEND_CONTENT;
        c->bol = true;
        c->cr = false;
        return;
    }
    client_apply_reply(c, cls, CLIENT_ALL); /* the accepted ones */
    client_quit(c);
}

static void
on_dot(struct smtp_client *c, unsigned cls)
{
    if (cls == 3)
        return client_unexpected(c);
    /* RFC 5321 3.3: the reply to the end of data is for every accepted
     * recipient at once. */
    client_apply_reply(c, cls, CLIENT_ALL);
    client_quit(c);
}

static void
on_discard(struct smtp_client *c, unsigned cls)
{
    (void)cls;
    client_quit(c);
}

/* One complete reply. */
static void
client_on_reply(struct smtp_client *c)
{
    unsigned code = smtp_reply_read_code(&c->reader);

    /* RFC 5321 3.8: 421 closes the channel, whatever it answers; no
     * QUIT after it. */
    if (code == 421) {
        client_apply_reply(c, 4, CLIENT_ALL);
        return client_finish(c);
    }
    client_stages[c->state].on_reply(c, code / 100);
}

/* ---- the envelope, checked at start ------------------------------------ */

/* Is addr, between angle brackets, an RFC 5321 4.1.2 path? */
static enum smtp_address_error
client_check_path(const char *addr, bool null_ok, bool utf8)
{
    char path[SMTP_PATH_MAX + 1];
    struct smtp_address a;
    size_t n = addr != NULL ? strlen(addr) : SMTP_PATH_MAX;

    if (n + 2 > SMTP_PATH_MAX)
        return SMTP_ADDRESS_TOO_LONG;
    path[0] = '<';
    memcpy(path + 1, addr, n);
    path[n + 1] = '>';
    return smtp_address_parse(path, n + 2, null_ok, utf8, &a);
}

/* Bounce rcpts[only] (or all) for an address that cannot be sent. */
static void
client_bounce_address(struct smtp_client *c, enum smtp_address_error e,
                      const char *dsn, const char *role, size_t only)
{
    struct smtp_client_result res;

    if (e == SMTP_ADDRESS_UTF8_NOT_ALLOWED)
        result_local(&res, SMTP_CLIENT_BOUNCED, "5.6.7",
                     "non-ASCII %s address without SMTPUTF8", role);
    else
        result_local(&res, SMTP_CLIENT_BOUNCED, dsn,
                     "invalid %s address syntax", role);
    client_settle(c, &res, only);
}

/* Our spool's words, checked again: no byte of them may break a command
 * line (RFC 5321 4.1.2 allows no CR, LF or control in a path). */
static void
client_check_envelope(struct smtp_client *c)
{
    const struct smtp_client_params *p = &c->p;
    struct smtp_client_result res;
    enum smtp_address_error e;

    if (p->helo_name == NULL ||
        !smtp_helo_name_valid(p->helo_name, strlen(p->helo_name))) {
        result_local(&res, SMTP_CLIENT_DEFERRED, "4.3.5",
                     "invalid helo_name in configuration");
        return client_settle(c, &res, CLIENT_ALL);
    }
    e = client_check_path(p->sender, true, p->smtputf8);
    if (e != SMTP_ADDRESS_OK)
        return client_bounce_address(c, e, "5.1.7", "sender", CLIENT_ALL);
    for (size_t i = 0; i < p->n_rcpts; i++) {
        e = client_check_path(p->rcpts[i], false, p->smtputf8);
        if (e != SMTP_ADDRESS_OK)
            client_bounce_address(c, e, "5.1.3", "recipient", i);
    }
}

/* ---- public ------------------------------------------------------------ */

struct smtp_client *
smtp_client_new(const struct smtp_client_params *p)
{
    struct smtp_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->rcpts = calloc(p->n_rcpts ? p->n_rcpts : 1, sizeof(*c->rcpts));
    if (c->rcpts == NULL) {
        free(c);
        return NULL;
    }
    c->p = *p;
    c->tls = p->tls == SMTP_CLIENT_TLS_IMPLICIT;
    c->state = ST_GREETING;
    c->action = SMTP_CLIENT_WANT_READ;
    buf_init(&c->out, 0);
    buf_init(&c->early, CLIENT_EARLY_MAX);
    smtp_reply_read_init(&c->reader);
    client_check_envelope(c);
    c->next_host = false; /* a local refusal: no other host will do */
    return c;
}

void
smtp_client_output_clear(struct smtp_client *c)
{
    if (c->secret_out && c->out.data != NULL)
        explicit_bzero(c->out.data, c->out.len);
    c->secret_out = false;
    buf_reset(&c->out);
}

void
smtp_client_free(struct smtp_client *c)
{
    if (c == NULL)
        return;
    smtp_client_output_clear(c);
    buf_free(&c->out);
    buf_free(&c->early);
    smtp_reply_read_free(&c->reader);
    free(c->rcpts);
    free(c);
}

/* An append failed somewhere: nothing we send can be trusted whole. */
static void
client_check_memory(struct smtp_client *c)
{
    if (c->nomem) {
        c->nomem = false;
        smtp_client_abort(c, "local error: out of memory");
    }
}

/* RFC 5321 4.3.2: no reply comes before the end of data; like Postfix,
 * we read what does only after it, so the outcome does not depend on how
 * the bytes were cut. */
static void
client_keep_early(struct smtp_client *c, const char *data, size_t len)
{
    if (buf_append(&c->early, data, len) < 0)
        client_protocol_error(c, "too much data before the end of data");
}

enum smtp_client_action
smtp_client_feed(struct smtp_client *c, const char *data, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        enum smtp_reply_read_status st;
        if (c->state == ST_CONTENT) {
            client_keep_early(c, data + pos, len - pos);
            break;
        }
        if (client_stages[c->state].on_reply == NULL)
            break;
        pos += smtp_reply_read_feed(&c->reader, data + pos, len - pos, &st);
        if (st == SMTP_REPLY_READ_MORE)
            break;
        if (st == SMTP_REPLY_READ_MALFORMED)
            client_protocol_error(c, smtp_reply_read_why(&c->reader));
        else
            client_on_reply(c);
        smtp_reply_read_reset(&c->reader);
    }
    client_check_memory(c);
    return c->action;
}

enum smtp_client_action
smtp_client_action(const struct smtp_client *c)
{
    return c->action;
}

void
smtp_client_tls_done(struct smtp_client *c)
{
    if (c->state != ST_TLS)
        return;
    /* RFC 3207 4.2: forget everything learnt before the handshake. */
    c->tls = true;
    memset(&c->ext, 0, sizeof(c->ext));
    smtp_reply_read_reset(&c->reader);
    c->action = SMTP_CLIENT_WANT_READ;
    client_send_ehlo(c);
    client_check_memory(c);
}

/* RFC 5321 4.5.2 and 2.3.8: lines end in CRLF only, a line that starts
 * with "." gets another one. A bare CR or LF becomes CRLF; a CR is held
 * until the next byte shows whether it was bare. */
void
smtp_client_content(struct smtp_client *c, const char *data, size_t len)
{
    if (c->state != ST_CONTENT)
        return;
    for (size_t i = 0; i < len;) {
        if (c->cr) {
            client_put_raw(c, "\r\n", 2);
            c->cr = false;
            c->bol = true;
            if (data[i] == '\n') { /* it was a CRLF */
                i++;
                continue;
            }
        }
        if (data[i] == '\r' || data[i] == '\n') {
            c->cr = data[i] == '\r';
            if (!c->cr) /* bare LF */
                client_put_raw(c, "\r\n", 2);
            c->bol = true;
            i++;
            continue;
        }
        if (c->bol && data[i] == '.')
            client_put_raw(c, ".", 1);
        size_t n = 1;
        while (i + n < len && data[i + n] != '\r' && data[i + n] != '\n')
            n++;
        client_put_raw(c, data + i, n);
        c->bol = false;
        i += n;
    }
    client_check_memory(c);
}

void
smtp_client_content_end(struct smtp_client *c)
{
    if (c->state != ST_CONTENT)
        return;
    if (c->cr || !c->bol)
        client_put_raw(c, "\r\n", 2);
    c->cr = false;
    client_put_raw(c, ".\r\n", 3);
    c->state = ST_DOT;
    c->action = SMTP_CLIENT_WANT_READ;
    if (c->early.len > 0)
        smtp_client_feed(c, c->early.data, c->early.len);
    buf_free(&c->early);
    client_check_memory(c);
}

const char *
smtp_client_output(const struct smtp_client *c, size_t *len)
{
    *len = c->out.len;
    return c->out.data != NULL ? c->out.data : "";
}

void
smtp_client_abort(struct smtp_client *c, const char *what)
{
    struct smtp_client_result res;

    if (c->state == ST_DONE)
        return;
    result_local(&res, SMTP_CLIENT_DEFERRED, "4.4.2", "%s while %s",
                 what != NULL ? what : "lost connection",
                 client_stages[c->state].doing);
    client_settle(c, &res, CLIENT_ALL);
    smtp_client_output_clear(c);
    client_finish(c);
}

const struct smtp_client_result *
smtp_client_rcpt_result(const struct smtp_client *c, size_t i)
{
    return i < c->p.n_rcpts ? &c->rcpts[i].res : NULL;
}

bool
smtp_client_try_next_host(const struct smtp_client *c)
{
    return c->next_host;
}

bool
smtp_client_tls_offered(const struct smtp_client *c)
{
    return c->tls_offered;
}

const char *
smtp_client_stage(const struct smtp_client *c)
{
    return client_stages[c->state].name;
}
