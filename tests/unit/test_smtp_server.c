/*
 * test_smtp_server.c -- the SMTP server session: transcripts (client bytes
 * in, exact server bytes out) for every reply, pipelining split at every
 * byte boundary, STARTTLS, AUTH (RFC 4954), limits. Hooks are in-memory;
 * the AUTH hooks play PLAIN and LOGIN for alice/secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "smtp/smtp_server.h"
#include "util/util_buf.h"

/* ---- in-memory hooks ----------------------------------------------------*/

struct mock {
    struct buf content;         /* what msg_write got */
    struct buf log;             /* one word per hook call, for ordering */
    char sender[400];           /* at msg_begin: local@domain */
    char rcpts[1200];           /* at msg_begin: "a@b c@d" */
    char last_rcpt[400];        /* last rcpt_check argument */
    char helo[300];             /* view.helo_name at msg_begin */
    bool view_tls, view_esmtp;
    bool body_8bitmime, smtputf8;
    uint64_t declared_size;
    unsigned begins, writes, commits, aborts;
    bool begin_fail;
    bool write_fail, write_nospace;
    enum smtp_store_result commit_result;
    /* AUTH */
    const char *mechs;          /* auth_mechanisms answer */
    unsigned mech_asks;         /* auth_mechanisms calls */
    bool exchange;              /* an exchange is open in the "library" */
    char mech[24];              /* its mechanism */
    bool login_have_user;       /* LOGIN: the user name has come */
    char login_user[64];        /* LOGIN: that name */
    bool initial_given;         /* auth_start has_initial */
    size_t initial_len;         /* auth_start initial_len */
    unsigned auth_failures;     /* auth_failed calls */
    unsigned failure_limit;     /* auth_failed says false at this many;
                                   0: never */
    bool view_auth;             /* view.authenticated at msg_begin */
    char view_user[64];         /* view.auth_user at msg_begin */
};

static enum smtp_rcpt_verdict
mock_rcpt_check(void *ctx, const struct smtp_session_view *sv,
                const struct smtp_address *a)
{
    struct mock *m = ctx;
    (void)sv;
    snprintf(m->last_rcpt, sizeof(m->last_rcpt), "%s@%s", a->local,
             a->domain);
    if (strncmp(a->local, "unknown", 7) == 0)
        return SMTP_RCPT_UNKNOWN_USER;
    if (strcmp(a->local, "tempfail") == 0)
        return SMTP_RCPT_TEMPFAIL;
    if (strcasecmp(a->domain, "example.org") == 0 ||
        strcasecmp(a->domain, "mx.example.org") == 0)
        return SMTP_RCPT_OK;
    return SMTP_RCPT_RELAY_DENIED;
}

static int
mock_msg_begin(void *ctx, const struct smtp_session_view *sv,
               const struct smtp_transaction *t)
{
    struct mock *m = ctx;
    buf_puts(&m->log, "begin ");
    if (m->begin_fail)
        return -1;
    m->begins++;
    snprintf(m->sender, sizeof(m->sender), "%s@%s", t->sender.local,
             t->sender.domain);
    m->rcpts[0] = '\0';
    for (size_t i = 0; i < t->n_rcpts; i++) {
        size_t l = strlen(m->rcpts);
        snprintf(m->rcpts + l, sizeof(m->rcpts) - l, "%s%s@%s",
                 i ? " " : "", t->rcpts[i].local, t->rcpts[i].domain);
    }
    snprintf(m->helo, sizeof(m->helo), "%s", sv->helo_name);
    m->view_auth = sv->authenticated;
    snprintf(m->view_user, sizeof(m->view_user), "%s",
             sv->auth_user ? sv->auth_user : "(null)");
    m->view_tls = sv->tls;
    m->view_esmtp = sv->esmtp;
    m->body_8bitmime = t->body_8bitmime;
    m->smtputf8 = t->smtputf8;
    m->declared_size = t->declared_size;
    buf_reset(&m->content);
    return 0;
}

static int
mock_msg_write(void *ctx, const char *data, size_t len, bool *nospace)
{
    struct mock *m = ctx;
    m->writes++;
    if (m->write_fail) {
        *nospace = m->write_nospace;
        return -1;
    }
    assert_int_equal(buf_append(&m->content, data, len), 0);
    return 0;
}

static enum smtp_store_result
mock_msg_commit(void *ctx, char *queue_id, size_t size)
{
    struct mock *m = ctx;
    buf_puts(&m->log, "commit ");
    if (m->commit_result != SMTP_STORE_OK)
        return m->commit_result;
    m->commits++;
    snprintf(queue_id, size, "Q%u", m->commits);
    return SMTP_STORE_OK;
}

static void
mock_msg_abort(void *ctx)
{
    struct mock *m = ctx;
    buf_puts(&m->log, "abort ");
    m->aborts++;
}

/* ---- in-memory AUTH: PLAIN and LOGIN for alice/secret ------------------*/

static const char *
mock_auth_mechanisms(void *ctx)
{
    struct mock *m = ctx;
    m->mech_asks++;
    return m->mechs;
}

/* PLAIN (RFC 4616): authzid NUL authcid NUL passwd. */
static enum smtp_auth_status
mock_plain(const char *msg, size_t len, char *user, size_t user_size)
{
    const char *a = memchr(msg, '\0', len);
    const char *b = a ? memchr(a + 1, '\0', len - (size_t)(a + 1 - msg)) : NULL;
    if (b == NULL)
        return SMTP_AUTH_FAIL;
    snprintf(user, user_size, "%.*s", (int)(b - a - 1), a + 1);
    size_t plen = len - (size_t)(b + 1 - msg);
    return strcmp(user, "alice") == 0 && plen == 6 &&
                   memcmp(b + 1, "secret", 6) == 0
               ? SMTP_AUTH_OK
               : SMTP_AUTH_FAIL;
}

static enum smtp_auth_status
mock_challenge(struct mock *m, struct buf *challenge, const char *text)
{
    m->exchange = true;
    assert_int_equal(buf_puts(challenge, text), 0);
    return SMTP_AUTH_CONTINUE;
}

/* LOGIN: "Username:", then "Password:" (the draft-murchison-sasl-login
 * prompts every client expects). */
static enum smtp_auth_status
mock_login(struct mock *m, const char *r, size_t len, struct buf *challenge,
           char *user, size_t user_size)
{
    if (!m->login_have_user) {
        snprintf(m->login_user, sizeof(m->login_user), "%.*s", (int)len, r);
        m->login_have_user = true;
        return mock_challenge(m, challenge, "Password:");
    }
    snprintf(user, user_size, "%s", m->login_user);
    m->exchange = false;
    return strcmp(user, "alice") == 0 && len == 6 &&
                   memcmp(r, "secret", 6) == 0
               ? SMTP_AUTH_OK
               : SMTP_AUTH_FAIL;
}

static enum smtp_auth_status
mock_auth_start(void *ctx, const char *mech, const char *initial,
                size_t initial_len, bool has_initial, struct buf *challenge,
                char *user, size_t user_size)
{
    struct mock *m = ctx;
    assert_false(m->exchange); /* the session ended the last one */
    assert_int_equal(user_size, 256);
    buf_printf(&m->log, "start(%s%s) ", mech, has_initial ? ",ir" : "");
    snprintf(m->mech, sizeof(m->mech), "%s", mech);
    m->initial_given = has_initial;
    m->initial_len = initial_len;
    m->login_have_user = false;
    if (strcmp(mech, "PLAIN") == 0 && has_initial && initial_len > 0)
        return mock_plain(initial, initial_len, user, user_size);
    if (strcmp(mech, "PLAIN") == 0)
        return mock_challenge(m, challenge, "");
    if (strcmp(mech, "LOGIN") == 0 && has_initial && initial_len > 0)
        return mock_login(m, initial, initial_len, challenge, user,
                          user_size);
    if (strcmp(mech, "LOGIN") == 0)
        return mock_challenge(m, challenge, "Username:");
    if (strcmp(mech, "BINARY") == 0)
        return mock_challenge(m, challenge, "\377\001");
    if (strcmp(mech, "TEMP") == 0)
        return SMTP_AUTH_TEMPFAIL;
    return SMTP_AUTH_NO_MECH;
}

static enum smtp_auth_status
mock_auth_step(void *ctx, const char *response, size_t len,
               struct buf *challenge, char *user, size_t user_size)
{
    struct mock *m = ctx;
    assert_true(m->exchange);
    buf_puts(&m->log, "step ");
    m->exchange = false;
    if (strcmp(m->mech, "LOGIN") == 0)
        return mock_login(m, response, len, challenge, user, user_size);
    return mock_plain(response, len, user, user_size);
}

static void
mock_auth_abort(void *ctx)
{
    struct mock *m = ctx;
    assert_true(m->exchange);
    m->exchange = false;
    buf_puts(&m->log, "auth_abort ");
}

static bool
mock_auth_failed(void *ctx, const char *user)
{
    struct mock *m = ctx;
    buf_printf(&m->log, "failed(%s) ", user);
    m->auth_failures++;
    return m->failure_limit == 0 || m->auth_failures < m->failure_limit;
}

/* alice may send as alice@ any domain, and as the null path. */
static bool
mock_sender_allowed(void *ctx, const struct smtp_session_view *sv,
                    const struct smtp_address *sender)
{
    struct mock *m = ctx;
    assert_true(sv->authenticated);
    buf_printf(&m->log, "sender(%s) ", sv->auth_user);
    return sender->local[0] == '\0' || strcmp(sender->local, sv->auth_user) == 0;
}

/* ---- a session under test ----------------------------------------------*/

struct t {
    struct smtp_server_params params;
    struct smtp_server_hooks hooks;
    struct mock m;
    struct smtp_server *s;
    struct buf out;
    enum smtp_server_action action;
    unsigned auth_pauses;   /* SMTP_ACTION_AUTH_FAILED seen by t_feed */
};

static void
t_start(struct t *t)
{
    t->hooks = (struct smtp_server_hooks){
        .ctx = &t->m,
        .rcpt_check = mock_rcpt_check,
        .msg_begin = mock_msg_begin,
        .msg_write = mock_msg_write,
        .msg_commit = mock_msg_commit,
        .msg_abort = mock_msg_abort,
        .auth_mechanisms = mock_auth_mechanisms,
        .auth_start = mock_auth_start,
        .auth_step = mock_auth_step,
        .auth_abort = mock_auth_abort,
        .auth_failed = mock_auth_failed,
        .sender_allowed = mock_sender_allowed,
    };
    if (t->m.mechs == NULL)
        t->m.mechs = "PLAIN LOGIN";
    buf_init(&t->m.content, 0);
    buf_init(&t->m.log, 0);
    buf_init(&t->out, 0);
    t->s = smtp_server_new(&t->params, &t->hooks);
    assert_non_null(t->s);
}

static struct t *
t_new_mode(enum smtp_tls_mode mode)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->params = (struct smtp_server_params){
        .hostname = "mx.example.org",
        .session_id = "TEST",
        .client_addr = "192.0.2.9",
        .message_size_limit = 10000,
        .recipient_limit = 3,
        .hard_error_limit = 100,
        .tls_mode = mode,
        .bare_newline = SMTP_BARE_NEWLINE_NORMALIZE,
    };
    t_start(t);
    return t;
}

static struct t *
t_new(void)
{
    return t_new_mode(SMTP_TLS_OPTIONAL);
}

/* Start again with the (changed) params. */
static void
t_restart(struct t *t)
{
    smtp_server_free(t->s);
    buf_free(&t->m.content);
    buf_free(&t->m.log);
    buf_free(&t->out);
    struct smtp_server_params p = t->params;
    memset(&t->m, 0, sizeof(t->m));
    t->params = p;
    t_start(t);
}

static void
t_free(struct t *t)
{
    smtp_server_free(t->s);
    buf_free(&t->m.content);
    buf_free(&t->m.log);
    buf_free(&t->out);
    free(t);
}

/* Feed len bytes, return the count consumed; output stays in t->out. A
 * pause after a failed AUTH is fed through at once, as a driver without a
 * tarpit would (test_auth_pause_after_failure checks the pause itself). */
static size_t
t_feed(struct t *t, const char *in, size_t len)
{
    size_t used = 0;
    do {
        used += smtp_server_feed(t->s, in + used, len - used, &t->out,
                                 &t->action);
        if (t->action == SMTP_ACTION_AUTH_FAILED)
            t->auth_pauses++;
    } while (t->action == SMTP_ACTION_AUTH_FAILED && used < len);
    if (t->action == SMTP_ACTION_AUTH_FAILED)
        t->action = SMTP_ACTION_NONE;
    return used;
}

/* Feed in (all consumed, no action) and expect exactly want out. */
static void
t_expect(struct t *t, const char *in, const char *want)
{
    size_t used = t_feed(t, in, strlen(in));
    assert_string_equal(t->out.data ? t->out.data : "", want);
    assert_int_equal(used, strlen(in));
    assert_int_equal(t->action, SMTP_ACTION_NONE);
    buf_reset(&t->out);
}

#define EHLO_REPLY_TLS                                                      \
    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10000\r\n"            \
    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"           \
    "250 SMTPUTF8\r\n"
#define EHLO_REPLY_NO_TLS                                                   \
    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10000\r\n"            \
    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"
#define OK "250 2.0.0 Ok\r\n"
#define SENDER_OK "250 2.1.0 Ok\r\n"
#define RCPT_OK "250 2.1.5 Ok\r\n"
#define GO "354 End data with <CR><LF>.<CR><LF>\r\n"
#define UNKNOWN "500 5.5.2 Error: command not recognized\r\n"
#define TOO_LONG "500 5.5.2 Line too long\r\n"
#define NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define NEED_HELO "503 5.5.1 Error: send HELO/EHLO first\r\n"
#define MUST_TLS "530 5.7.0 Must issue a STARTTLS command first\r\n"
#define BAD_PARAM "501 5.5.4 Error: bad parameter value\r\n"
/* MAIL with the AUTH= allowance of RFC 4954 3: 564 + 500 octets. */
#define SMTP_TEST_MAIL_AUTH_MAX 1064
#define UNSUPP_PARAM "555 5.5.4 Unsupported MAIL/RCPT parameter\r\n"
#define AUTH_OFF "503 5.5.1 Error: authentication not enabled\r\n"

/* EHLO, MAIL and RCPT accepted. */
static void
t_envelope(struct t *t)
{
    t_expect(t, "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                "RCPT TO:<u@example.org>\r\n",
             EHLO_REPLY_TLS SENDER_OK RCPT_OK);
}

/* ---- greeting, EHLO, HELO ----------------------------------------------*/

static void
test_greeting(void **state)
{
    (void)state;
    struct t *t = t_new();
    smtp_server_greeting(t->s, &t->out);
    assert_string_equal(t->out.data, "220 mx.example.org ESMTP tlsmta\r\n");
    t_free(t);
}

static void
test_ehlo_keywords(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "EHLO client.example\r\n", EHLO_REPLY_TLS);
    t->params.tls_mode = SMTP_TLS_REQUIRED;
    t_restart(t);
    t_expect(t, "EHLO client.example\r\n", EHLO_REPLY_TLS);
    t->params.tls_mode = SMTP_TLS_NONE;
    t_restart(t);
    t_expect(t, "EHLO client.example\r\n", EHLO_REPLY_NO_TLS);
    t->params.tls_mode = SMTP_TLS_IMPLICIT;
    t_restart(t);
    smtp_server_tls_started(t->s);
    t_expect(t, "EHLO client.example\r\n", EHLO_REPLY_NO_TLS);
    /* RFC 1870: no limit -> "SIZE" alone. */
    t->params.message_size_limit = 0;
    t_restart(t);
    t_expect(t, "EHLO c\r\n",
             "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE\r\n"
             "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n");
    t_free(t);
}

static void
test_ehlo_argument(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n");
    t_expect(t, "HELO\r\n", "501 5.5.4 Syntax: HELO hostname\r\n");
    t_expect(t, "EHLO bad..name.example\r\n",
             "501 5.5.4 Error: invalid domain name or address literal\r\n");
    t_expect(t, "EHLO a.example b\r\n",
             "501 5.5.4 Error: invalid domain name or address literal\r\n");
    t_expect(t, "EHLO [300.1.1.1]\r\n",
             "501 5.5.4 Error: invalid domain name or address literal\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\n", NEED_HELO);
    t_expect(t, "EHLO [IPv6:2001:db8::1]\r\n", EHLO_REPLY_TLS);
    t_expect(t, "EHLO [192.0.2.1]\r\n", EHLO_REPLY_TLS);
    t_expect(t, "HELO client.example\r\n", "250 mx.example.org\r\n");
    t_expect(t, "EHLO   spaced.example  \r\n", EHLO_REPLY_TLS);
    /* Underscores are common in Windows host names: accepted. */
    t_expect(t, "EHLO my_pc\r\n", EHLO_REPLY_TLS);
    t_free(t);
}

/* ---- a whole transaction -----------------------------------------------*/

static void
test_transaction(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "RCPT TO:<v@Example.ORG>\r\n", RCPT_OK);
    t_expect(t, "DATA\r\n", GO);
    assert_true(smtp_server_in_data(t->s));
    t_expect(t, "Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\n",
             "250 2.0.0 Ok: queued as Q1\r\n");
    assert_false(smtp_server_in_data(t->s));
    assert_string_equal(t->m.content.data,
                        "Subject: hi\r\n\r\nbody\r\n.dot\r\n");
    assert_string_equal(t->m.sender, "a@client.example");
    assert_string_equal(t->m.rcpts, "u@example.org v@Example.ORG");
    assert_string_equal(t->m.helo, "client.example");
    assert_true(t->m.view_esmtp);
    assert_false(t->m.view_tls);
    assert_string_equal(t->m.log.data, "begin commit ");
    /* The transaction is over: a new MAIL is not nested. */
    t_expect(t, "MAIL FROM:<>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n"
                ".\r\n",
             SENDER_OK RCPT_OK GO "250 2.0.0 Ok: queued as Q2\r\n");
    assert_string_equal(t->m.sender, "@");
    assert_int_equal(t->m.content.len, 0);
    size_t used = t_feed(t, "QUIT\r\nNOOP\r\n", 12);
    assert_int_equal(used, 6);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data, "221 2.0.0 Bye\r\n");
    buf_reset(&t->out);
    assert_int_equal(t_feed(t, "NOOP\r\n", 6), 0);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    assert_int_equal(t->out.len, 0);

    const struct smtp_server_counts *c = smtp_server_counts(t->s);
    assert_int_equal(c->ehlo, 1);
    assert_int_equal(c->mail, 2);
    assert_int_equal(c->rcpt, 3);
    assert_int_equal(c->data, 2);
    assert_int_equal(c->quit, 1);
    assert_int_equal(c->errors, 0);
    assert_int_equal(c->total, 9);
    t_free(t);
}

static void
test_pipelined_in_one_write(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t,
             "EHLO c.example\r\nMAIL FROM:<a@c.example> BODY=8BITMIME "
             "SIZE=20\r\nRCPT TO:<u@example.org>\r\nRCPT TO:<x@other.example>"
             "\r\nDATA\r\nhello\r\n.\r\nRSET\r\nNOOP\r\n",
             EHLO_REPLY_TLS SENDER_OK RCPT_OK
             "554 5.7.1 Relay access denied\r\n" GO
             "250 2.0.0 Ok: queued as Q1\r\n" OK OK);
    assert_true(t->m.body_8bitmime);
    assert_int_equal(t->m.declared_size, 20);
    assert_string_equal(t->m.rcpts, "u@example.org");
    t_free(t);
}

static void
test_case_insensitive(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "ehlo c.example\r\nmail from:<a@c.example> size=5 "
                "body=7bit\r\nrCpT tO:<u@example.org>\r\nRsEt\r\nnoop\r\n"
                "hElP\r\nvrfy u\r\n",
             EHLO_REPLY_TLS SENDER_OK RCPT_OK OK OK
             "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT "
             "VRFY HELP STARTTLS\r\n"
             "252 2.0.0 Cannot VRFY user, but will accept message and "
             "attempt delivery\r\n");
    t_free(t);
}

/* ---- every error reply -------------------------------------------------*/

static void
test_unknown_and_sequence(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "FOO\r\n\r\nMAILX\r\nEHLOx\r\n", UNKNOWN UNKNOWN UNKNOWN
             UNKNOWN);
    t_expect(t, "MAIL FROM:<a@b.example>\r\n", NEED_HELO);
    t_expect(t, "RCPT TO:<u@example.org>\r\n", NEED_MAIL);
    t_expect(t, "DATA\r\n", NEED_MAIL);
    t_expect(t, "HELO c.example\r\n", "250 mx.example.org\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n",
             SENDER_OK "503 5.5.1 Error: nested MAIL command\r\n");
    /* RFC 5321 3.3: MAIL ok, no recipient accepted. */
    t_expect(t, "RCPT TO:<u@elsewhere.example>\r\nDATA\r\n",
             "554 5.7.1 Relay access denied\r\n"
             "554 5.5.1 Error: no valid recipients\r\n");
    t_expect(t, "AUTH PLAIN AGFiYwB4\r\n", AUTH_OFF);
    assert_int_equal(smtp_server_counts(t->s)->unknown, 4);
    assert_int_equal(smtp_server_counts(t->s)->errors, 11);
    t_free(t);
}

static void
test_syntax_errors(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_TLS);
    t_expect(t, "MAIL\r\nMAIL TO:<a@b.example>\r\nMAIL FROM<a@b.example>\r\n",
             "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n"
             "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n"
             "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
    t_expect(t, "MAIL FROM:a@b.example\r\nMAIL FROM:<a@b.example>SIZE=1\r\n"
                "MAIL FROM:<a@b..example>\r\nMAIL FROM:<a@b.example\r\n",
             "501 5.1.7 Bad sender address syntax\r\n"
             "501 5.1.7 Bad sender address syntax\r\n"
             "501 5.1.7 Bad sender address syntax\r\n"
             "501 5.1.7 Bad sender address syntax\r\n");
    t_expect(t, "MAIL FROM: <a@b.example>\r\n", SENDER_OK);
    t_expect(t, "RCPT\r\nRCPT TO:<>\r\nRCPT TO:<bad>\r\nRCPT TO:u@example.org"
                "\r\n",
             "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
             "501 5.1.3 Bad recipient address syntax\r\n"
             "501 5.1.3 Bad recipient address syntax\r\n"
             "501 5.1.3 Bad recipient address syntax\r\n");
    t_expect(t, "RCPT TO: <u@example.org>\r\n", RCPT_OK);
    t_expect(t, "DATA now\r\nRSET x\r\nSTARTTLS x\r\nVRFY\r\n",
             "501 5.5.4 Syntax: DATA\r\n501 5.5.4 Syntax: RSET\r\n"
             "501 5.5.4 Syntax: STARTTLS\r\n"
             "501 5.5.4 Syntax: VRFY address\r\n");
    t_expect(t, "NOOP anything goes\r\nHELP me\r\n",
             OK "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP "
                "QUIT VRFY HELP STARTTLS\r\n");
    t_free(t);
}

/* MAIL with param (after EHLO) gets want; the transaction is reset. */
static void
expect_mail_param(struct t *t, const char *params, const char *want)
{
    char line[700];
    snprintf(line, sizeof(line), "MAIL FROM:<a@b.example>%s\r\nRSET\r\n",
             params);
    char expect[300];
    snprintf(expect, sizeof(expect), "%s" OK, want);
    t_expect(t, line, expect);
}

static void
test_mail_parameters(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_TLS);
    expect_mail_param(t, " SIZE=10000", SENDER_OK);
    expect_mail_param(t, " SIZE=0", SENDER_OK);
    expect_mail_param(t, "  SIZE=1  BODY=8BITMIME  SMTPUTF8", SENDER_OK);
    expect_mail_param(t, " BODY=7BIT", SENDER_OK);
    expect_mail_param(t, " SIZE=10001",
                      "552 5.3.4 Message size exceeds fixed limit\r\n");
    expect_mail_param(t, " SIZE=99999999999999999999",
                      "552 5.3.4 Message size exceeds fixed limit\r\n");
    expect_mail_param(t, " SIZE=999999999999999999999", BAD_PARAM);
    expect_mail_param(t, " SIZE=abc", BAD_PARAM);
    expect_mail_param(t, " SIZE=-1", BAD_PARAM);
    expect_mail_param(t, " SIZE=", BAD_PARAM);
    expect_mail_param(t, " SIZE", BAD_PARAM);
    expect_mail_param(t, " BODY=BINARYMIME", BAD_PARAM);
    expect_mail_param(t, " BODY", BAD_PARAM);
    expect_mail_param(t, " SMTPUTF8=yes", BAD_PARAM);
    expect_mail_param(t, " -X=1", BAD_PARAM);
    expect_mail_param(t, " X==1", BAD_PARAM);
    expect_mail_param(t, " FOO=bar", UNSUPP_PARAM);
    expect_mail_param(t, " AUTH=<>", UNSUPP_PARAM);
    expect_mail_param(t, " RET=HDRS", UNSUPP_PARAM);
    t_expect(t, "MAIL FROM:<a@b.example>\r\n"
                "RCPT TO:<u@example.org> NOTIFY=NEVER\r\n"
                "RCPT TO:<u@example.org> =x\r\n",
             SENDER_OK UNSUPP_PARAM BAD_PARAM);
    t_free(t);
}

static void
test_addresses_in_session(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.recipient_limit = 10;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_TLS);
    /* RFC 6531: UTF-8 only with SMTPUTF8 on MAIL. */
    t_expect(t, "MAIL FROM:<j\xc3\xbcrgen@b.example>\r\n",
             "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<\xc3\xbc@example.org>"
                "\r\nRSET\r\n",
             SENDER_OK "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n"
             OK);
    t_expect(t, "MAIL FROM:<j\xc3\xbcrgen@b.example> SMTPUTF8\r\n"
                "RCPT TO:<\xc3\xbc@example.org>\r\n",
             SENDER_OK RCPT_OK);
    assert_string_equal(t->m.last_rcpt, "\xc3\xbc@example.org");
    /* Source route dropped; % and ! stay in the local part. */
    t_expect(t, "RCPT TO:<@relay.example,@b.example:v@example.org>\r\n"
                "RCPT TO:<w%elsewhere.example@example.org>\r\n",
             RCPT_OK RCPT_OK);
    assert_string_equal(t->m.last_rcpt, "w%elsewhere.example@example.org");
    t_expect(t, "RCPT TO:<u@elsewhere.example>\r\n",
             "554 5.7.1 Relay access denied\r\n");
    t_expect(t, "RSET\r\n", OK);

    /* Too long paths. */
    char line[700], local[100];
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(line, sizeof(line), "MAIL FROM:<%s@b.example>\r\n", local);
    t_expect(t, line, "501 5.1.7 Sender path too long\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\n", SENDER_OK);
    snprintf(line, sizeof(line), "RCPT TO:<%s@example.org>\r\n", local);
    t_expect(t, line, "501 5.1.3 Recipient path too long\r\n");
    /* Quoted local parts and address literals. */
    t_expect(t, "RCPT TO:<\"john doe\"@example.org>\r\n", RCPT_OK);
    assert_string_equal(t->m.last_rcpt, "\"john doe\"@example.org");
    t_expect(t, "RCPT TO:<u@[192.0.2.1]>\r\n",
             "554 5.7.1 Relay access denied\r\n");
    t_free(t);
}

static void
test_rcpt_verdicts(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.recipient_limit = 10;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n",
             EHLO_REPLY_TLS SENDER_OK);
    t_expect(t, "RCPT TO:<u@example.org>\r\n", RCPT_OK);
    t_expect(t, "RCPT TO:<unknown@example.org>\r\n",
             "550 5.1.1 Recipient address rejected: User unknown\r\n");
    t_expect(t, "RCPT TO:<u@relay.example>\r\n",
             "554 5.7.1 Relay access denied\r\n");
    t_expect(t, "RCPT TO:<tempfail@example.org>\r\n",
             "451 4.3.0 Temporary lookup failure, try again later\r\n");
    /* RFC 5321 4.5.1: <postmaster> without a domain. */
    t_expect(t, "RCPT TO:<Postmaster>\r\n", RCPT_OK);
    assert_string_equal(t->m.last_rcpt, "postmaster@mx.example.org");
    t_expect(t, "DATA\r\n.\r\n", GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_string_equal(t->m.rcpts,
                        "u@example.org postmaster@mx.example.org");
    /* Rejections count as errors, the local tempfail does not. */
    assert_int_equal(smtp_server_counts(t->s)->errors, 2);
    t_free(t);
}

static void
test_recipient_limit(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n"
                "RCPT TO:<d@example.org>\r\n",
             RCPT_OK RCPT_OK "452 4.5.3 Error: too many recipients\r\n");
    t_expect(t, "DATA\r\nx\r\n.\r\n", GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_string_equal(t->m.rcpts,
                        "u@example.org b@example.org c@example.org");
    /* The limit is per transaction. */
    t_expect(t, "MAIL FROM:<>\r\nRCPT TO:<a@example.org>\r\n",
             SENDER_OK RCPT_OK);
    t_free(t);
}

static void
test_reset_forgets(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "RSET\r\nRCPT TO:<u@example.org>\r\n", OK NEED_MAIL);
    t_expect(t, "MAIL FROM:<a@b.example>\r\nEHLO again.example\r\n"
                "RCPT TO:<u@example.org>\r\n",
             SENDER_OK EHLO_REPLY_TLS NEED_MAIL);
    t_expect(t, "MAIL FROM:<a@b.example>\r\nHELO again.example\r\n"
                "DATA\r\n",
             SENDER_OK "250 mx.example.org\r\n" NEED_MAIL);
    t_free(t);
}

/* ---- DATA outcomes -----------------------------------------------------*/

static void
test_data_begin_fails(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t->m.begin_fail = true;
    t_expect(t, "DATA\r\n", "451 4.3.0 Error: queue file write error\r\n");
    assert_false(smtp_server_in_data(t->s));
    /* The transaction is kept: the client may retry. */
    t->m.begin_fail = false;
    t_expect(t, "DATA\r\nx\r\n.\r\n", GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_int_equal(smtp_server_counts(t->s)->errors, 0);
    t_free(t);
}

/* Group commit: msg_commit answers PENDING; the reply to DATA and every
 * command pipelined behind it wait for smtp_server_store_done(). */
static void
test_data_store_pending(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t->m.commit_result = SMTP_STORE_PENDING;
    const char *in = "DATA\r\nx\r\n.\r\nNOOP\r\n";
    size_t used = t_feed(t, in, strlen(in));
    assert_int_equal(used, strlen(in) - strlen("NOOP\r\n"));
    assert_int_equal(t->action, SMTP_ACTION_STORE_PENDING);
    assert_string_equal(t->out.data, GO);
    buf_reset(&t->out);
    /* Still pending: nothing is read. */
    assert_int_equal(t_feed(t, "NOOP\r\n", 6), 0);
    assert_int_equal(t->action, SMTP_ACTION_STORE_PENDING);
    smtp_server_store_done(t->s, SMTP_STORE_OK, "QX1", &t->out);
    t_expect(t, "NOOP\r\n", "250 2.0.0 Ok: queued as QX1\r\n" OK);
    /* A second call is ignored; a failed store answers 452. */
    smtp_server_store_done(t->s, SMTP_STORE_OK, "QX1", &t->out);
    assert_int_equal(t->out.len, 0);
    t_envelope(t);
    t_feed(t, "DATA\r\ny\r\n.\r\n", 13);
    buf_reset(&t->out);
    smtp_server_store_done(t->s, SMTP_STORE_NOSPACE, "", &t->out);
    assert_string_equal(t->out.data, "452 4.3.1 Insufficient system storage\r\n");
    t_free(t);
}

static void
test_data_store_failures(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t->m.commit_result = SMTP_STORE_TEMPFAIL;
    t_expect(t, "DATA\r\nx\r\n.\r\n",
             GO "451 4.3.0 Error: queue file write error\r\n");
    /* A failed commit is not followed by an abort (the hook cleaned up). */
    assert_string_equal(t->m.log.data, "begin commit ");
    t_expect(t, "RCPT TO:<u@example.org>\r\n", NEED_MAIL);

    t_envelope(t);
    t->m.commit_result = SMTP_STORE_NOSPACE;
    t_expect(t, "DATA\r\nx\r\n.\r\n",
             GO "452 4.3.1 Insufficient system storage\r\n");

    t->m.commit_result = SMTP_STORE_OK;
    t->m.write_fail = true;
    t_envelope(t);
    buf_reset(&t->m.log);
    t_expect(t, "DATA\r\nx\r\n.\r\n",
             GO "451 4.3.0 Error: queue file write error\r\n");
    assert_string_equal(t->m.log.data, "begin abort ");
    t->m.write_nospace = true;
    t_envelope(t);
    t_expect(t, "DATA\r\nx\r\n.\r\n",
             GO "452 4.3.1 Insufficient system storage\r\n");
    assert_int_equal(t->m.aborts, 2);
    /* Only the 503 was the client's fault; our 4xx do not count. */
    assert_int_equal(smtp_server_counts(t->s)->errors, 1);
    t_free(t);
}

static void
test_data_size_limit(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.message_size_limit = 20;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"
                "RCPT TO:<u@example.org>\r\nDATA\r\n",
             "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 20\r\n"
             "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
             "250 SMTPUTF8\r\n" SENDER_OK RCPT_OK GO);
    /* 21 stored octets: read to the end, then refuse. */
    t_expect(t, "0123456789\r\n0123456\r\n.\r\nNOOP\r\n",
             "552 5.3.4 Error: message file too big\r\n" OK);
    assert_int_equal(t->m.aborts, 1);
    assert_int_equal(t->m.commits, 0);
    /* Exactly at the limit (dot-stuffing not counted). */
    t_expect(t, "MAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<u@example.org>"
                "\r\nDATA\r\n..23456789\r\n0123456\r\n.\r\n",
             SENDER_OK RCPT_OK GO "250 2.0.0 Ok: queued as Q1\r\n");
    t_free(t);
}

/* RFC 5321 6.3: a message carrying hopcount_limit Received: fields is a
 * loop. Only header fields count (not continuation lines, not the body),
 * in any case, split anywhere. */
static void
test_data_hop_limit(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.hopcount_limit = 3;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"
                "RCPT TO:<u@example.org>\r\nDATA\r\n",
             "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10000\r\n"
             "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
             "250 SMTPUTF8\r\n" SENDER_OK RCPT_OK GO);
    t_expect(t, "Received: a\r\nRECEIVED: b\r\n  received: c\r\n"
                "X-Received: d\r\n\r\nReceived: body\r\n.\r\n",
             "250 2.0.0 Ok: queued as Q1\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\n"
                "DATA\r\nReceived: a\r\nreceived: b\r\nReceived:c\r\n"
                "\r\nbody\r\n.\r\n",
             SENDER_OK RCPT_OK GO
             "554 5.4.6 Error: too many hops (mail loop?)\r\n");
    assert_int_equal(t->m.aborts, 1);
    t_free(t);
}

static void
test_bare_newline_modes(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "DATA\r\na\rb\nc\r\n.\r\n",
             GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_string_equal(t->m.content.data, "a\r\nb\r\nc\r\n");
    t->params.bare_newline = SMTP_BARE_NEWLINE_REJECT;
    t_restart(t);
    t_envelope(t);
    t_expect(t, "DATA\r\na\nb\r\n.\r\nNOOP\r\n",
             GO "550 5.5.2 Message contains bare CR or LF\r\n" OK);
    assert_string_equal(t->m.log.data, "begin abort ");
    t_envelope(t);
    t_expect(t, "DATA\r\na\rb\r\n.\r\n",
             GO "550 5.5.2 Message contains bare CR or LF\r\n");
    t_envelope(t);
    t_expect(t, "DATA\r\nclean\r\n.\r\n", GO "250 2.0.0 Ok: queued as Q1\r\n");
    t_free(t);
}

/* The smuggling sequences end nothing: what follows them is content, and
 * no command inside the content is executed. */
static void
test_smuggling_in_session(void **state)
{
    (void)state;
    static const char *const seqs[] = {"\n.\n", "\r.\r", "\n.\r\n",
                                       "\r\n.\n"};
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        for (int reject = 0; reject < 2; reject++) {
            struct t *t = t_new();
            t->params.bare_newline = reject ? SMTP_BARE_NEWLINE_REJECT
                                            : SMTP_BARE_NEWLINE_NORMALIZE;
            t_restart(t);
            t_envelope(t);
            char in[300];
            snprintf(in, sizeof(in),
                     "DATA\r\nx%sMAIL FROM:<evil@x.example>\r\n"
                     "RCPT TO:<victim@example.org>\r\nDATA\r\nevil\r\n"
                     ".\r\nNOOP\r\n",
                     seqs[i]);
            t_expect(t, in,
                     reject ? GO "550 5.5.2 Message contains bare CR or LF"
                                 "\r\n" OK
                            : GO "250 2.0.0 Ok: queued as Q1\r\n" OK);
            assert_int_equal(smtp_server_counts(t->s)->mail, 1);
            if (!reject)
                assert_non_null(strstr(t->m.content.data,
                                       "MAIL FROM:<evil@x.example>\r\n"));
            t_free(t);
        }
    }
}

/* ---- command line limits -----------------------------------------------*/

/* "VERB " + filler up to total octets with CRLF. */
static char *
long_line(const char *verb, size_t total, const char *eol)
{
    char *l = malloc(total + 1);
    assert_non_null(l);
    size_t v = strlen(verb), e = strlen(eol);
    memcpy(l, verb, v);
    memset(l + v, 'x', total - v - e);
    memcpy(l + total - e, eol, e);
    l[total] = '\0';
    return l;
}

static void
test_line_length(void **state)
{
    (void)state;
    struct t *t = t_new();
    char *l = long_line("NOOP ", 512, "\r\n");
    t_expect(t, l, OK);
    free(l);
    l = long_line("NOOP ", 513, "\r\n");
    t_expect(t, l, TOO_LONG);
    free(l);
    l = long_line("NOOP ", 512, "\n");
    t_expect(t, l, OK);
    free(l);
    l = long_line("FOO ", 600, "\r\n");
    t_expect(t, l, TOO_LONG);
    free(l);
    /* Far too long: dropped up to the LF, one reply, then business as
     * usual. */
    l = long_line("NOOP ", 100000, "\r\n");
    t_expect(t, l, TOO_LONG);
    t_expect(t, "NOOP\r\n", OK);
    free(l);
    /* MAIL gets the SIZE/BODY/SMTPUTF8 allowance: 564 octets. */
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_TLS);
    char mail[700];
    static const char m1[] = "MAIL FROM:<a@b.example> SIZE=1";
    snprintf(mail, sizeof(mail), "%-562s\r\n", m1);
    assert_int_equal(strlen(mail), 564);
    t_expect(t, mail, SENDER_OK);
    t_expect(t, "RSET\r\n", OK);
    snprintf(mail, sizeof(mail), "%-563s\r\n", m1);
    t_expect(t, mail, TOO_LONG);
    assert_int_equal(smtp_server_counts(t->s)->errors, 4);
    t_free(t);
}

static void
test_lf_only_and_nul(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_expect(t, "EHLO c.example\nMAIL FROM:<a@b.example>\nRSET\n",
             EHLO_REPLY_TLS SENDER_OK OK);
    static const char nul1[] = "NO\0OP\r\nNOOP \0\r\nMAIL FROM:<a\0@b>\r\n";
    size_t used = t_feed(t, nul1, sizeof(nul1) - 1);
    assert_int_equal(used, sizeof(nul1) - 1);
    assert_string_equal(t->out.data,
                        "500 5.5.2 Error: NUL character in command\r\n"
                        "500 5.5.2 Error: NUL character in command\r\n"
                        "500 5.5.2 Error: NUL character in command\r\n");
    t_free(t);
}

/* ---- STARTTLS ----------------------------------------------------------*/

static void
test_starttls_pipelined(void **state)
{
    (void)state;
    struct t *t = t_new();
    static const char in[] = "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"
                             "STARTTLS\r\nNOOP\r\nMAIL FROM:<evil@x>\r\n";
    size_t used = t_feed(t, in, sizeof(in) - 1);
    /* RFC 3207 4.2: consumed stops at the end of the STARTTLS line. */
    assert_int_equal(used, strlen("EHLO c.example\r\nMAIL FROM:<a@b.example>"
                                  "\r\nSTARTTLS\r\n"));
    assert_int_equal(t->action, SMTP_ACTION_STARTTLS);
    assert_string_equal(t->out.data, EHLO_REPLY_TLS SENDER_OK
                        "220 2.0.0 Ready to start TLS\r\n");
    buf_reset(&t->out);
    /* Nothing more is read until the handshake is done. */
    assert_int_equal(t_feed(t, "NOOP\r\n", 6), 0);
    assert_int_equal(t->action, SMTP_ACTION_STARTTLS);
    smtp_server_tls_started(t->s);
    /* Everything from before is forgotten. */
    t_expect(t, "RCPT TO:<u@example.org>\r\n", NEED_MAIL);
    t_expect(t, "MAIL FROM:<a@b.example>\r\n", NEED_HELO);
    t_expect(t, "EHLO c2.example\r\n", EHLO_REPLY_NO_TLS);
    t_expect(t, "STARTTLS\r\n", "503 5.5.1 Error: TLS already active\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\n"
                "DATA\r\n.\r\n",
             SENDER_OK RCPT_OK GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_true(t->m.view_tls);
    assert_string_equal(t->m.helo, "c2.example");
    assert_int_equal(smtp_server_counts(t->s)->starttls, 2);
    t_free(t);
}

static void
test_starttls_refused(void **state)
{
    (void)state;
    struct t *t = t_new_mode(SMTP_TLS_NONE);
    t_expect(t, "STARTTLS\r\n",
             "502 5.5.1 Error: command not implemented\r\n");
    t_free(t);
    t = t_new_mode(SMTP_TLS_IMPLICIT);
    smtp_server_tls_started(t->s);
    t_expect(t, "STARTTLS\r\n", "503 5.5.1 Error: TLS already active\r\n");
    t_free(t);
    t = t_new();
    t_expect(t, "STARTTLS now\r\n", "501 5.5.4 Syntax: STARTTLS\r\n");
    /* Without EHLO first: allowed (RFC 3207 leaves it to the client). */
    size_t used = t_feed(t, "STARTTLS\r\n", 10);
    assert_int_equal(used, 10);
    assert_int_equal(t->action, SMTP_ACTION_STARTTLS);
    t_free(t);
}

static void
test_tls_required(void **state)
{
    (void)state;
    struct t *t = t_new_mode(SMTP_TLS_REQUIRED);
    t_expect(t, "EHLO c.example\r\nHELO c.example\r\nNOOP\r\nRSET\r\nHELP\r\n",
             EHLO_REPLY_TLS "250 mx.example.org\r\n" OK OK
             "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT "
             "VRFY HELP STARTTLS\r\n");
    t_expect(t, "MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>\r\n"
                "DATA\r\nAUTH PLAIN\r\nVRFY u\r\n",
             MUST_TLS MUST_TLS MUST_TLS MUST_TLS MUST_TLS);
    size_t used = t_feed(t, "STARTTLS\r\n", 10);
    assert_int_equal(used, 10);
    assert_int_equal(t->action, SMTP_ACTION_STARTTLS);
    buf_reset(&t->out);
    smtp_server_tls_started(t->s);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n",
             EHLO_REPLY_NO_TLS SENDER_OK);
    /* auth_mode OFF: AUTH is not offered, even after TLS. */
    t_expect(t, "AUTH PLAIN\r\n", AUTH_OFF);
    t_free(t);
}

/* ---- closing -----------------------------------------------------------*/

static void
test_hard_error_limit(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.hard_error_limit = 3;
    t_restart(t);
    static const char in[] = "FOO\r\nNOOP\r\nBAR\r\nBAZ\r\nNOOP\r\n";
    size_t used = t_feed(t, in, sizeof(in) - 1);
    assert_int_equal(used, sizeof(in) - 1 - 6);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data,
                        UNKNOWN OK UNKNOWN UNKNOWN
                        "421 4.7.0 mx.example.org Too many errors\r\n");
    t_free(t);
}

static void
test_timeout_and_shutdown(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "DATA\r\npartial", GO);
    assert_int_equal(smtp_server_timeout(t->s, &t->out), SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data,
                        "421 4.4.2 mx.example.org Error: timeout exceeded\r\n");
    assert_string_equal(t->m.log.data, "begin abort ");
    buf_reset(&t->out);
    /* Already closed: nothing more is said. */
    assert_int_equal(smtp_server_shutdown(t->s, &t->out), SMTP_ACTION_CLOSE);
    assert_int_equal(t->out.len, 0);
    assert_int_equal(t_feed(t, "NOOP\r\n", 6), 0);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    t_free(t);

    t = t_new();
    assert_int_equal(smtp_server_shutdown(t->s, &t->out), SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data,
                        "421 4.3.2 mx.example.org Service shutting down\r\n");
    t_free(t);
}

static void
test_free_inside_data_aborts(void **state)
{
    (void)state;
    struct t *t = t_new();
    t_envelope(t);
    t_expect(t, "DATA\r\nsome content\r\n", GO);
    smtp_server_free(t->s);
    t->s = NULL;
    assert_string_equal(t->m.log.data, "begin abort ");
    t_free(t);
}

/* ---- AUTH (RFC 4954) ---------------------------------------------------*/

#define EHLO_REPLY_AUTH                                                     \
    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10000\r\n"            \
    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n"   \
    "250 SMTPUTF8\r\n"
#define AUTH_OK "235 2.7.0 Authentication successful\r\n"
#define AUTH_BAD64 "501 5.5.2 Invalid base64 data\r\n"
#define AUTH_ABORTED "501 5.7.0 Authentication aborted\r\n"
#define AUTH_INVALID "535 5.7.8 Authentication credentials invalid\r\n"
#define AUTH_NEED_TLS                                                       \
    "538 5.7.11 Encryption required for requested authentication "         \
    "mechanism\r\n"
#define AUTH_NO_MECH "504 5.5.4 Unrecognized authentication type\r\n"
#define AUTH_REQUIRED "530 5.7.0 Authentication required\r\n"
#define AUTH_TOO_MANY                                                       \
    "421 4.7.0 mx.example.org Too many failed authentication attempts\r\n"
#define AUTH_SYNTAX "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
#define PLAIN_ALICE "AGFsaWNlAHNlY3JldA=="  /* \0alice\0secret */
#define PLAIN_WRONG "AGFsaWNlAHdyb25n"      /* \0alice\0wrong */
#define PLAIN_BOB "AGJvYgBzZWNyZXQ="        /* \0bob\0secret */
#define B64_ALICE "YWxpY2U="
#define B64_SECRET "c2VjcmV0"
#define C_USERNAME "334 VXNlcm5hbWU6\r\n"   /* "Username:" */
#define C_PASSWORD "334 UGFzc3dvcmQ6\r\n"   /* "Password:" */

/* A session on implicit TLS with AUTH in mode, EHLO done. */
static struct t *
t_new_auth(enum smtp_auth_mode mode)
{
    struct t *t = t_new_mode(SMTP_TLS_IMPLICIT);
    t->params.auth_mode = mode;
    t_restart(t);
    smtp_server_tls_started(t->s);
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_AUTH);
    return t;
}

static void
test_auth_advertised_after_tls_only(void **state)
{
    (void)state;
    struct t *t = t_new();
    t->params.auth_mode = SMTP_AUTH_MODE_OPTIONAL;
    t_restart(t);
    /* Before TLS: not in EHLO, 538 for AUTH, the hooks not even asked. */
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_TLS);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_NEED_TLS);
    assert_int_equal(t->m.mech_asks, 0);
    assert_int_equal(t_feed(t, "STARTTLS\r\n", 10), 10);
    buf_reset(&t->out);
    smtp_server_tls_started(t->s);
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_AUTH);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);

    /* A listener without TLS at all: 538 too. */
    t->params.tls_mode = SMTP_TLS_NONE;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\n", EHLO_REPLY_NO_TLS);
    t_expect(t, "AUTH LOGIN\r\n", AUTH_NEED_TLS);
    /* Where TLS is required, the STARTTLS 530 comes first. */
    t->params.tls_mode = SMTP_TLS_REQUIRED;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nAUTH LOGIN\r\n", EHLO_REPLY_TLS MUST_TLS);
    assert_int_equal(t->m.mech_asks, 0);

    /* Mode OFF: never offered, even on TLS. */
    t->params.tls_mode = SMTP_TLS_IMPLICIT;
    t->params.auth_mode = SMTP_AUTH_MODE_OFF;
    t_restart(t);
    smtp_server_tls_started(t->s);
    t_expect(t, "EHLO c.example\r\nAUTH PLAIN " PLAIN_ALICE "\r\n",
             EHLO_REPLY_NO_TLS AUTH_OFF);
    assert_int_equal(t->m.mech_asks, 0);
    /* No mechanism to offer: neither. */
    t->params.auth_mode = SMTP_AUTH_MODE_OPTIONAL;
    t_restart(t);
    smtp_server_tls_started(t->s);
    t->m.mechs = "";
    t_expect(t, "EHLO c.example\r\nAUTH PLAIN " PLAIN_ALICE "\r\n",
             EHLO_REPLY_NO_TLS AUTH_OFF);
    t_free(t);
}

static void
test_auth_plain(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* RFC 4954 4.1: initial response, one round trip. */
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    assert_true(t->m.initial_given);
    assert_int_equal(t->m.initial_len, 13);
    assert_string_equal(t->m.log.data, "start(PLAIN,ir) ");
    /* The hooks see the login; RSET keeps it. */
    t_expect(t, "RSET\r\n", OK);
    t_expect(t, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<u@example.org>\r\n"
                "DATA\r\n.\r\n",
             SENDER_OK RCPT_OK GO "250 2.0.0 Ok: queued as Q1\r\n");
    assert_true(t->m.view_auth);
    assert_string_equal(t->m.view_user, "alice");
    assert_int_equal(smtp_server_counts(t->s)->auth, 1);
    assert_int_equal(smtp_server_counts(t->s)->errors, 0);
    t_free(t);

    /* "=": present but empty (RFC 4954 4), then "334 " and the response. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t_expect(t, "AUTH PLAIN =\r\n", "334 \r\n");
    assert_true(t->m.initial_given);
    assert_int_equal(t->m.initial_len, 0);
    t_expect(t, PLAIN_ALICE "\r\n", AUTH_OK);
    assert_string_equal(t->m.log.data, "start(PLAIN,ir) step ");
    t_free(t);

    /* No initial response at all; mechanism name in lower case. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t_expect(t, "auth plain\r\n", "334 \r\n");
    assert_false(t->m.initial_given);
    t_expect(t, PLAIN_ALICE "\r\n", AUTH_OK);
    assert_string_equal(t->m.log.data, "start(PLAIN) step ");
    t_free(t);
}

static void
test_auth_login(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* The challenges are the hook's bytes, base64-encoded by the session. */
    t_expect(t, "AUTH LOGIN\r\n", C_USERNAME);
    t_expect(t, B64_ALICE "\r\n", C_PASSWORD);
    t_expect(t, B64_SECRET "\r\n", AUTH_OK);
    assert_string_equal(t->m.log.data, "start(LOGIN) step step ");
    t_free(t);

    /* The user name as initial response; bare LF line ends. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t_expect(t, "AUTH LOGIN " B64_ALICE "\n", C_PASSWORD);
    t_expect(t, B64_SECRET "\n", AUTH_OK);
    t_free(t);

    /* Binary challenge bytes. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t->m.mechs = "PLAIN LOGIN BINARY";
    t_expect(t, "AUTH BINARY\r\n", "334 /wE=\r\n");
    t_expect(t, "*\r\n", AUTH_ABORTED);
    t_free(t);
}

static void
test_auth_cancel_and_retry(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* RFC 4954 4: "*" cancels with 501; the session is clean after. */
    t_expect(t, "AUTH LOGIN\r\n", C_USERNAME);
    t_expect(t, "*\r\n", AUTH_ABORTED);
    t_expect(t, "AUTH LOGIN\r\n" B64_ALICE "\r\n*\r\n",
             C_USERNAME C_PASSWORD AUTH_ABORTED);
    /* Wrong password: 535, the driver told; then another mechanism. */
    t_expect(t, "AUTH PLAIN " PLAIN_WRONG "\r\n", AUTH_INVALID);
    t_expect(t, "AUTH LOGIN\r\n" B64_ALICE "\r\nd3Jvbmc=\r\n",
             C_USERNAME C_PASSWORD AUTH_INVALID);
    t_expect(t, "AUTH LOGIN\r\n" B64_ALICE "\r\n" B64_SECRET "\r\n",
             C_USERNAME C_PASSWORD AUTH_OK);
    assert_string_equal(t->m.log.data,
                        "start(LOGIN) auth_abort start(LOGIN) step "
                        "auth_abort start(PLAIN,ir) failed(alice) "
                        "start(LOGIN) step step failed(alice) "
                        "start(LOGIN) step step ");
    assert_int_equal(t->m.auth_failures, 2);
    assert_int_equal(smtp_server_counts(t->s)->auth, 5);
    /* Aborts and failures are client errors. */
    assert_int_equal(smtp_server_counts(t->s)->errors, 4);
    t_free(t);
}

/* RFC 4954 14: after a 535 feeding stops, so that the driver can hold the
 * reply before the next (pipelined) guess is even read. */
static void
test_auth_pause_after_failure(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    const char *in = "AUTH PLAIN " PLAIN_WRONG "\r\nAUTH PLAIN " PLAIN_WRONG
                     "\r\nNOOP\r\n";
    size_t first = strlen("AUTH PLAIN " PLAIN_WRONG "\r\n");
    size_t used = smtp_server_feed(t->s, in, strlen(in), &t->out, &t->action);
    assert_int_equal(used, first);
    assert_int_equal(t->action, SMTP_ACTION_AUTH_FAILED);
    assert_string_equal(t->out.data, AUTH_INVALID);
    buf_reset(&t->out);
    used += smtp_server_feed(t->s, in + used, strlen(in) - used, &t->out,
                             &t->action);
    assert_int_equal(used, 2 * first);
    assert_int_equal(t->action, SMTP_ACTION_AUTH_FAILED);
    buf_reset(&t->out);
    used += smtp_server_feed(t->s, in + used, strlen(in) - used, &t->out,
                             &t->action);
    assert_int_equal(used, strlen(in));
    assert_int_equal(t->action, SMTP_ACTION_NONE);
    assert_string_equal(t->out.data, "250 2.0.0 Ok\r\n");
    assert_int_equal(t->m.auth_failures, 2);
    t_free(t);
}

static void
test_auth_bad_base64(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* In the command: refused before the hooks see anything. */
    static const char *const bad[] = {
        "AUTH PLAIN AGFsaWNlAHNlY3JldA\r\n",   /* length */
        "AUTH PLAIN AGFsaWNlAHNlY3JldA=A\r\n", /* "=" inside */
        "AUTH PLAIN AGFsaWNl!HNlY3JldA==\r\n", /* character */
        "AUTH PLAIN AGFsaWNlAHNlY3JldB==\r\n", /* bits under the padding */
        "AUTH PLAIN ==\r\n",
        "AUTH PLAIN ====\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        t_expect(t, bad[i], AUTH_BAD64);
    assert_int_equal(t->m.log.len, 0);
    /* In a response: the exchange is aborted. */
    t_expect(t, "AUTH LOGIN\r\nYWxpY2U\r\n", C_USERNAME AUTH_BAD64);
    static const char nul[] = "AUTH PLAIN\r\nAGFsaWNl\0AHNlY3JldA==\r\n";
    assert_int_equal(t_feed(t, nul, sizeof(nul) - 1), sizeof(nul) - 1);
    assert_string_equal(t->out.data, "334 \r\n" AUTH_BAD64);
    buf_reset(&t->out);
    assert_string_equal(t->m.log.data,
                        "start(LOGIN) auth_abort start(PLAIN) auth_abort ");
    /* A command pipelined where a response was due is taken as one. */
    t_expect(t, "AUTH LOGIN\r\nMAIL FROM:<alice@example.org>\r\n",
             C_USERNAME AUTH_BAD64);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    t_free(t);
}

static void
test_auth_too_many_failures(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t->m.failure_limit = 2;
    t_expect(t, "AUTH PLAIN " PLAIN_WRONG "\r\n", AUTH_INVALID);
    /* The driver says no more: 421 and close, the rest is not read. */
    static const char in[] = "AUTH PLAIN " PLAIN_WRONG "\r\nNOOP\r\n";
    size_t used = t_feed(t, in, sizeof(in) - 1);
    assert_int_equal(used, sizeof(in) - 1 - 6);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data, AUTH_TOO_MANY);
    assert_string_equal(t->m.log.data, "start(PLAIN,ir) failed(alice) "
                                       "start(PLAIN,ir) failed(alice) ");
    t_free(t);

    /* Also from inside a 334 exchange; the user may be unknown. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t->m.failure_limit = 1;
    assert_int_equal(t_feed(t, "AUTH PLAIN\r\neA==\r\n", 18), 18);
    assert_int_equal(t->action, SMTP_ACTION_CLOSE);
    assert_string_equal(t->out.data, "334 \r\n" AUTH_TOO_MANY);
    assert_string_equal(t->m.log.data, "start(PLAIN) step failed() ");
    t_free(t);
}

static void
test_auth_sequence(void **state)
{
    (void)state;
    struct t *t = t_new_mode(SMTP_TLS_IMPLICIT);
    t->params.auth_mode = SMTP_AUTH_MODE_OPTIONAL;
    t_restart(t);
    smtp_server_tls_started(t->s);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", NEED_HELO);
    t_expect(t, "HELO c.example\r\n", "250 mx.example.org\r\n");
    t_expect(t, "AUTH\r\nAUTH PLAIN " PLAIN_ALICE " x\r\n",
             AUTH_SYNTAX AUTH_SYNTAX);
    /* RFC 4954 4: 504 for what we do not offer, bad names included;
     * the hooks are not asked to start those. */
    t->m.mechs = "PLAIN LOGIN NOPE TEMP";
    t_expect(t, "AUTH CRAM-MD5\r\nAUTH PL@IN\r\n"
                "AUTH ABCDEFGHIJKLMNOPQRSTU\r\nAUTH NOPE\r\nAUTH TEMP\r\n",
             AUTH_NO_MECH AUTH_NO_MECH AUTH_NO_MECH AUTH_NO_MECH
             "454 4.7.0 Temporary authentication failure\r\n");
    assert_string_equal(t->m.log.data, "start(NOPE) start(TEMP) ");
    /* RFC 4954 4: not inside a mail transaction. */
    t_expect(t, "MAIL FROM:<a@b.example>\r\nAUTH PLAIN " PLAIN_ALICE "\r\n",
             SENDER_OK "503 5.5.1 Error: MAIL transaction in progress\r\n");
    t_expect(t, "RSET\r\nAUTH PLAIN " PLAIN_ALICE "\r\n", OK AUTH_OK);
    /* RFC 4954 4: once only, 503; RSET and EHLO keep it. */
    t->m.mechs = "PLAIN LOGIN";
    t_expect(t, "RSET\r\nEHLO c.example\r\nAUTH LOGIN\r\n",
             OK EHLO_REPLY_AUTH "503 5.5.1 Error: already authenticated\r\n");
    t_free(t);
}

static void
test_auth_required(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_REQUIRED);
    /* RFC 4954 6: 530 for all but AUTH EHLO HELO NOOP RSET QUIT. */
    t_expect(t, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<u@example.org>\r\n"
                "DATA\r\nVRFY u\r\nNOOP\r\nRSET\r\n",
             AUTH_REQUIRED AUTH_REQUIRED AUTH_REQUIRED AUTH_REQUIRED OK OK);
    t_expect(t, "AUTH PLAIN " PLAIN_WRONG "\r\nMAIL FROM:<alice@example.org>"
                "\r\n",
             AUTH_INVALID AUTH_REQUIRED);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\nMAIL FROM:<alice@example.org>"
                "\r\n",
             AUTH_OK SENDER_OK);
    t_free(t);

    /* Before TLS where STARTTLS is required: that 530 first. */
    t = t_new_mode(SMTP_TLS_REQUIRED);
    t->params.auth_mode = SMTP_AUTH_MODE_REQUIRED;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n",
             EHLO_REPLY_TLS MUST_TLS);
    t_free(t);
    /* Where STARTTLS is optional: no AUTH before it, no MAIL either. */
    t = t_new_mode(SMTP_TLS_OPTIONAL);
    t->params.auth_mode = SMTP_AUTH_MODE_REQUIRED;
    t_restart(t);
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nAUTH LOGIN\r\n",
             EHLO_REPLY_TLS AUTH_REQUIRED AUTH_NEED_TLS);
    t_free(t);
}

static void
test_auth_sender_login(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* Not authenticated: the login map is not consulted. */
    t_expect(t, "MAIL FROM:<bob@example.org>\r\nRSET\r\n", SENDER_OK OK);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    t_expect(t, "MAIL FROM:<bob@example.org>\r\n",
             "553 5.7.1 Sender address rejected: not owned by user alice"
             "\r\n");
    /* The refused MAIL opened no transaction. */
    t_expect(t, "RCPT TO:<u@example.org>\r\n", NEED_MAIL);
    t_expect(t, "MAIL FROM:<alice@example.org>\r\nRSET\r\nMAIL FROM:<>\r\n",
             SENDER_OK OK SENDER_OK);
    assert_string_equal(t->m.log.data, "start(PLAIN,ir) sender(alice) "
                                       "sender(alice) sender(alice) ");
    t_free(t);

    /* No hook: any sender. */
    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t->hooks.sender_allowed = NULL;
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\nMAIL FROM:<bob@example.org>"
                "\r\n",
             AUTH_OK SENDER_OK);
    t_free(t);
}

static void
test_auth_mail_parameter(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* RFC 4954 5: accepted even before AUTH; checked, then ignored. */
    t_expect(t, "MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com\r\n"
                "RSET\r\nMAIL FROM:<a@b.example> AUTH=<> SIZE=10\r\nRSET\r\n",
             SENDER_OK OK SENDER_OK OK);
    t_expect(t, "MAIL FROM:<a@b.example> AUTH=a+zz\r\n"
                "MAIL FROM:<a@b.example> AUTH=a+4\r\n"
                "MAIL FROM:<a@b.example> AUTH\r\n",
             BAD_PARAM BAD_PARAM BAD_PARAM);
    /* RFC 4954 3: it lengthens MAIL by 500 octets. */
    char mail[1100];
    static const char m1[] = "MAIL FROM:<a@b.example> AUTH=";
    snprintf(mail, sizeof(mail), "%s%0*d\r\n", m1,
             (int)(SMTP_TEST_MAIL_AUTH_MAX - strlen(m1) - 2), 0);
    assert_int_equal(strlen(mail), SMTP_TEST_MAIL_AUTH_MAX);
    t_expect(t, mail, SENDER_OK);
    t_expect(t, "RSET\r\n", OK);
    snprintf(mail, sizeof(mail), "%s%0*d\r\n", m1,
             (int)(SMTP_TEST_MAIL_AUTH_MAX - strlen(m1) - 1), 0);
    t_expect(t, mail, TOO_LONG);
    t_free(t);

    /* Where AUTH is not offered, AUTH= is as unknown as ever. */
    t = t_new();
    t_expect(t, "EHLO c.example\r\nMAIL FROM:<a@b.example> AUTH=<>\r\n",
             EHLO_REPLY_TLS UNSUPP_PARAM);
    t_free(t);
}

/* "AUTH PLAIN" and spaces up to a line of total octets, CRLF included,
 * ending in a base64 text of b64_len characters ("AAAA..."). */
static char *
auth_line(size_t total, size_t b64_len)
{
    char *l = malloc(total + 1);
    assert_non_null(l);
    assert_true(total >= b64_len + 13);
    memset(l, ' ', total);
    memcpy(l, "AUTH PLAIN", 10);
    memset(l + total - 2 - b64_len, 'A', b64_len);
    memcpy(l + total - 2, "\r\n", 3);
    return l;
}

static void
test_auth_long_lines(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    /* RFC 4954 4: up to 12288 octets for AUTH, with its CRLF. */
    char *l = auth_line(8000, 7984);
    t_expect(t, l, AUTH_INVALID);
    assert_int_equal(t->m.initial_len, 7984 / 4 * 3);
    free(l);
    l = auth_line(12288, 12272);
    t_expect(t, l, AUTH_INVALID);
    free(l);
    l = auth_line(12289, 12272);
    t_expect(t, l, TOO_LONG);
    free(l);
    /* Far too long, in pieces: one reply, then business as usual. */
    l = auth_line(100000, 99980);
    assert_int_equal(t_feed(t, l, 5000), 5000);
    assert_int_equal(t_feed(t, l + 5000, 100000 - 5000), 100000 - 5000);
    assert_string_equal(t->out.data, TOO_LONG);
    buf_reset(&t->out);
    free(l);
    /* Other commands keep their limits. */
    l = long_line("NOOP ", 513, "\r\n");
    t_expect(t, l, TOO_LONG);
    free(l);

    /* Responses inside an exchange: up to 12288 too, then 500 5.5.6. */
    char *r = malloc(12290);
    assert_non_null(r);
    memset(r, 'A', 12284); /* trailing blanks do not count as base64 */
    memcpy(r + 12284, "  \r\n", 5);
    t_expect(t, "AUTH PLAIN\r\n", "334 \r\n");
    t_expect(t, r, AUTH_INVALID);
    memset(r, 'A', 12285);
    memcpy(r + 12285, "  \r\n", 5);
    t_expect(t, "AUTH PLAIN\r\n", "334 \r\n");
    t_expect(t, r, "500 5.5.6 Authentication Exchange line is too long\r\n");
    assert_false(t->m.exchange);
    free(r);
    t_expect(t, "AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    t_free(t);
}

static void
test_auth_end_inside_exchange(void **state)
{
    (void)state;
    struct t *t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t_expect(t, "AUTH LOGIN\r\n", C_USERNAME);
    smtp_server_free(t->s);
    t->s = NULL;
    assert_string_equal(t->m.log.data, "start(LOGIN) auth_abort ");
    t_free(t);

    t = t_new_auth(SMTP_AUTH_MODE_OPTIONAL);
    t_expect(t, "AUTH LOGIN\r\n" B64_ALICE "\r\n", C_USERNAME C_PASSWORD);
    assert_int_equal(smtp_server_timeout(t->s, &t->out), SMTP_ACTION_CLOSE);
    assert_false(t->m.exchange);
    assert_string_equal(t->m.log.data, "start(LOGIN) step auth_abort ");
    t_free(t);
}

/* ---- split anywhere ----------------------------------------------------*/

/* Everything a run produced, to compare runs. */
struct outcome {
    struct buf out;
    struct buf content;
    struct buf log;
    size_t consumed;
    enum smtp_server_action action;
};

/* Feed in as pieces ending at the offsets in cuts (ascending, < len), as
 * a driver would: stop at CLOSE. */
static void
run_pieces(const struct smtp_server_params *params, const char *in,
           size_t len, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->params = *params;
    t_start(t);
    if (params->tls_mode == SMTP_TLS_IMPLICIT)
        smtp_server_tls_started(t->s);
    size_t pos = 0;
    o->action = SMTP_ACTION_NONE;
    for (size_t i = 0; i <= ncuts && o->action == SMTP_ACTION_NONE; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t used = t_feed(t, in + pos, end - pos);
        o->action = t->action;
        pos += used;
        if (o->action == SMTP_ACTION_NONE)
            assert_int_equal(pos, end);
    }
    o->consumed = pos;
    buf_init(&o->out, 0);
    buf_init(&o->content, 0);
    buf_init(&o->log, 0);
    buf_append(&o->out, t->out.data, t->out.len);
    buf_append(&o->content, t->m.content.data, t->m.content.len);
    buf_append(&o->log, t->m.log.data, t->m.log.len);
    t_free(t);
}

static void
outcome_equal(const struct outcome *a, const struct outcome *b)
{
    assert_int_equal(a->out.len, b->out.len);
    assert_memory_equal(a->out.data, b->out.data, a->out.len);
    assert_int_equal(a->content.len, b->content.len);
    if (a->content.len)
        assert_memory_equal(a->content.data, b->content.data,
                            a->content.len);
    assert_int_equal(a->log.len, b->log.len);
    if (a->log.len)
        assert_memory_equal(a->log.data, b->log.data, a->log.len);
    assert_int_equal(a->consumed, b->consumed);
    assert_int_equal(a->action, b->action);
}

static void
outcome_free(struct outcome *o)
{
    buf_free(&o->out);
    buf_free(&o->content);
    buf_free(&o->log);
}

struct transcript {
    const char *in;
    size_t len;
};
#define TRANSCRIPT(lit) {lit, sizeof(lit) - 1}

static const struct transcript split_transcripts[] = {
    TRANSCRIPT(
    "EHLO c.example\r\nMAIL FROM:<a@c.example> SIZE=30\r\n"
    "RCPT TO:<u@example.org>\r\nRCPT TO:<x@relay.example>\r\nDATA\r\n"
    "..stuffed\r\nbare\nlf\rcr\r\n\r\n.\nx\r\n.\r\nNOOP\r\n"
    "MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\n.\r\nQUIT\r\nNOOP\r\n"),

    TRANSCRIPT(
    "helo c.example\nmail from: <a@b.example>\nrcpt to:<u@example.org>\n"
    "data\nline\n.\r\n.\r\nrset\r\nFOO\r\n\r\nVRFY x\r\nHELP\r\n"),

    TRANSCRIPT(
    "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.org>"
    "\r\nDATA\r\n0123456789012345678901234567890123456789\r\n.\r\n"
    "NO\0OP\r\nRSET\r\nSTARTTLS\r\nNOOP\r\n"),
};

/* AUTH exchanges pipelined with commands, for a session on TLS. */
static const struct transcript split_auth_transcripts[] = {
    TRANSCRIPT(
    "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nAUTH LOGIN\r\nRSET\r\n"
    "AUTH LOGIN\r\nYWxpY2U=\r\n*\r\nAUTH LOGIN\r\nYWxpY2U\r\nAUTH PLAIN\r\n"
    PLAIN_WRONG "\r\nAUTH LOGIN YWxpY2U=\nc2VjcmV0  \r\nAUTH PLAIN =\r\n"
    "MAIL FROM:<bob@example.org>\r\n"
    "MAIL FROM:<alice@example.org> AUTH=<>\r\nRCPT TO:<u@example.org>\r\n"
    "DATA\r\nhi\r\n.\r\nAUTH PLAIN " PLAIN_ALICE "\r\nQUIT\r\nNOOP\r\n"),

    TRANSCRIPT(
    "EHLO c.example\r\nAUTH PLAIN\r\nAG\0FsaWNl\r\nAUTH PLAIN " PLAIN_ALICE
    " \r\nMAIL FROM:<alice@example.org>\r\nRSET\r\nAUTH PLAIN =\r\n"
    "STARTTLS\r\nNOOP\r\n"),
};

static void
split_check(const struct smtp_server_params *params, const char *in,
            size_t len)
{
    struct outcome whole, o;
    run_pieces(params, in, len, NULL, 0, &whole);
    /* Two pieces, cut at every byte boundary. */
    for (size_t k = 1; k < len; k++) {
        run_pieces(params, in, len, &k, 1, &o);
        outcome_equal(&whole, &o);
        outcome_free(&o);
    }
    /* One byte at a time. */
    size_t *cuts = malloc(len * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t k = 1; k < len; k++)
        cuts[k - 1] = k;
    run_pieces(params, in, len, cuts, len - 1, &o);
    outcome_equal(&whole, &o);
    outcome_free(&o);
    free(cuts);
    outcome_free(&whole);
}

static void
test_split_at_every_byte(void **state)
{
    (void)state;
    struct smtp_server_params p = {
        .hostname = "mx.example.org", .session_id = "SPLIT",
        .client_addr = "192.0.2.9", .message_size_limit = 40,
        .recipient_limit = 3, .hard_error_limit = 100,
        .tls_mode = SMTP_TLS_OPTIONAL,
    };
    size_t n_tr = sizeof(split_transcripts) / sizeof(split_transcripts[0]);
    for (int mode = 0; mode < 2; mode++) {
        p.bare_newline = mode ? SMTP_BARE_NEWLINE_REJECT
                              : SMTP_BARE_NEWLINE_NORMALIZE;
        for (size_t i = 0; i < n_tr; i++)
            split_check(&p, split_transcripts[i].in, split_transcripts[i].len);
    }
    /* A line too long split anywhere, and around the buffer bound. */
    char *l = long_line("NOOP ", 1500, "\r\n");
    size_t n = strlen(l);
    char *two = malloc(n + 7);
    memcpy(two, l, n);
    memcpy(two + n, "NOOP\r\n", 7);
    split_check(&p, two, n + 6);
    free(two);
    free(l);

    /* AUTH, on TLS, optional and required. */
    p.tls_mode = SMTP_TLS_IMPLICIT;
    n_tr = sizeof(split_auth_transcripts) / sizeof(split_auth_transcripts[0]);
    for (int mode = 0; mode < 2; mode++) {
        p.auth_mode = mode ? SMTP_AUTH_MODE_REQUIRED : SMTP_AUTH_MODE_OPTIONAL;
        for (size_t i = 0; i < n_tr; i++)
            split_check(&p, split_auth_transcripts[i].in,
                        split_auth_transcripts[i].len);
    }
    /* A response over the AUTH bound, around the bound. */
    static const char pre[] = "EHLO c.example\r\nAUTH PLAIN\r\n";
    static const char post[] = "\r\nAUTH PLAIN " PLAIN_ALICE "\r\n";
    size_t np = sizeof(pre) - 1, nr = 12288, nq = sizeof(post) - 1;
    char *in = malloc(np + nr + nq + 1);
    assert_non_null(in);
    memcpy(in, pre, np);
    memset(in + np, 'A', nr);
    memcpy(in + np + nr, post, nq + 1);
    split_check(&p, in, np + nr + nq);
    free(in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting),
        cmocka_unit_test(test_ehlo_keywords),
        cmocka_unit_test(test_ehlo_argument),
        cmocka_unit_test(test_transaction),
        cmocka_unit_test(test_pipelined_in_one_write),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_unknown_and_sequence),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_mail_parameters),
        cmocka_unit_test(test_addresses_in_session),
        cmocka_unit_test(test_rcpt_verdicts),
        cmocka_unit_test(test_recipient_limit),
        cmocka_unit_test(test_reset_forgets),
        cmocka_unit_test(test_data_begin_fails),
        cmocka_unit_test(test_data_store_failures),
        cmocka_unit_test(test_data_store_pending),
        cmocka_unit_test(test_data_size_limit),
        cmocka_unit_test(test_data_hop_limit),
        cmocka_unit_test(test_bare_newline_modes),
        cmocka_unit_test(test_smuggling_in_session),
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_lf_only_and_nul),
        cmocka_unit_test(test_starttls_pipelined),
        cmocka_unit_test(test_starttls_refused),
        cmocka_unit_test(test_tls_required),
        cmocka_unit_test(test_hard_error_limit),
        cmocka_unit_test(test_timeout_and_shutdown),
        cmocka_unit_test(test_free_inside_data_aborts),
        cmocka_unit_test(test_auth_advertised_after_tls_only),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_auth_login),
        cmocka_unit_test(test_auth_cancel_and_retry),
        cmocka_unit_test(test_auth_pause_after_failure),
        cmocka_unit_test(test_auth_bad_base64),
        cmocka_unit_test(test_auth_too_many_failures),
        cmocka_unit_test(test_auth_sequence),
        cmocka_unit_test(test_auth_required),
        cmocka_unit_test(test_auth_sender_login),
        cmocka_unit_test(test_auth_mail_parameter),
        cmocka_unit_test(test_auth_long_lines),
        cmocka_unit_test(test_auth_end_inside_exchange),
        cmocka_unit_test(test_split_at_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
