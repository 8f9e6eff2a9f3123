/*
 * test_smtp_client.c -- the SMTP client session: transcripts (server bytes
 * in, exact client bytes out) run whole and split at every few bytes,
 * per-recipient results, STARTTLS, AUTH PLAIN/LOGIN, HELO fallback,
 * PIPELINING, SIZE, SMTPUTF8, strict reply parsing, dot-stuffing across
 * every chunk boundary (checked against the server's own DATA framing),
 * 421 and abort. Also the reply reader (smtp_reply_read.c) on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_client.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_reply_read.h"
#include "util/util_buf.h"

#define HELO "EHLO client.example.org\r\n"
#define GREETING "220 mx.example.net ESMTP\r\n"

/* ---- transcripts ------------------------------------------------------- */

enum step_kind { FEED, TLS_DONE, BODY, BODY_END, ABORT };

/* One driver move: what is fed (or done), the exact bytes the client must
 * then want to send, and the action it must return. */
struct step {
    enum step_kind kind;
    const char *in;  /* FEED: server bytes; BODY: content; ABORT: what */
    const char *out; /* expected output, "" for none */
    enum smtp_client_action act;
};

/* clang-format off */
#define S(in, out, act) {FEED, in, out, SMTP_CLIENT_##act}
#define TLS(out) {TLS_DONE, NULL, out, SMTP_CLIENT_WANT_READ}
#define CONTENT(in, out) {BODY, in, out, SMTP_CLIENT_SEND_CONTENT}
#define END(out) {BODY_END, NULL, out, SMTP_CLIENT_WANT_READ}
#define ABORT_(what) {ABORT, what, "", SMTP_CLIENT_DONE}
/* After "MAIL FROM" went out: b accepted and the message sent. */
#define DELIVER_B                                                          \
    S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),             \
    S("250 ok\r\n", "DATA\r\n", WANT_READ),                                \
    S("354 go\r\n", "", SEND_CONTENT), END(".\r\n"),                        \
    S("250 2.0.0 Ok: queued as ABC\r\n", "QUIT\r\n", DONE)
/* clang-format on */

/* An expected result; text NULL: not checked. */
struct want {
    enum smtp_client_status status;
    int code;
    const char *dsn;
    const char *text;
};

static void
expect_output(struct smtp_client *c, const char *want)
{
    size_t len;
    const char *p = smtp_client_output(c, &len);
    char *got = strndup(p, len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    smtp_client_output_clear(c);
}

/* Feed in pieces of split bytes (0: at once). */
static enum smtp_client_action
feed_split(struct smtp_client *c, const char *in, size_t split)
{
    size_t len = strlen(in), pos = 0;
    enum smtp_client_action a = smtp_client_action(c);

    if (len == 0)
        return smtp_client_feed(c, in, 0);
    while (pos < len) {
        size_t n = split == 0 || len - pos < split ? len - pos : split;
        a = smtp_client_feed(c, in + pos, n);
        pos += n;
    }
    return a;
}

static void
run_step(struct smtp_client *c, const struct step *s, size_t split)
{
    enum smtp_client_action a = SMTP_CLIENT_WANT_READ;

    switch (s->kind) {
    case FEED:
        a = feed_split(c, s->in, split);
        break;
    case TLS_DONE:
        smtp_client_tls_done(c);
        break;
    case BODY:
        smtp_client_content(c, s->in, strlen(s->in));
        break;
    case BODY_END:
        smtp_client_content_end(c);
        break;
    case ABORT:
        smtp_client_abort(c, s->in);
        break;
    }
    if (s->kind != FEED)
        a = smtp_client_action(c);
    assert_int_equal(a, s->act);
    expect_output(c, s->out);
}

static void
check_result(const struct smtp_client *c, size_t i, const struct want *w)
{
    const struct smtp_client_result *r = smtp_client_rcpt_result(c, i);
    assert_non_null(r);
    assert_int_equal(r->status, w->status);
    assert_int_equal(r->code, w->code);
    assert_string_equal(r->dsn, w->dsn);
    if (w->text != NULL)
        assert_string_equal(r->text, w->text);
    for (const char *p = r->text; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Run the transcript whole and split into pieces of 1, 2 and 7 bytes;
 * every run must give the same bytes and the results in want, and say
 * whether the next host is worth a try as next_host. */
static void
transcript(const struct smtp_client_params *p, const struct step *steps,
           size_t n, const struct want *want, bool next_host)
{
    static const size_t splits[] = {0, 1, 2, 7};

    for (size_t k = 0; k < N(splits); k++) {
        struct smtp_client *c = smtp_client_new(p);
        assert_non_null(c);
        for (size_t i = 0; i < n; i++)
            run_step(c, &steps[i], splits[k]);
        assert_int_equal(smtp_client_action(c), SMTP_CLIENT_DONE);
        for (size_t i = 0; i < p->n_rcpts; i++)
            check_result(c, i, &want[i]);
        assert_int_equal(smtp_client_try_next_host(c), next_host);
        smtp_client_free(c);
    }
}

static const char *const rcpts3[] = {"b@example.net", "c@example.net",
                                     "d@example.net"};

static struct smtp_client_params
params(size_t n_rcpts)
{
    struct smtp_client_params p = {
        .helo_name = "client.example.org",
        .sender = "a@example.org",
        .rcpts = rcpts3,
        .n_rcpts = n_rcpts,
        .size = 1234,
        .tls = SMTP_CLIENT_TLS_NONE,
    };
    return p;
}

/* clang-format off */
#define SENT_ABC                                                            \
    {SMTP_CLIENT_SENT, 250, "2.0.0",                                        \
     "250 2.0.0 Ok: queued as ABC (in reply to end of DATA command)"}
/* clang-format on */

/* ---- plain delivery ---------------------------------------------------- */

static void
test_plain_no_pipelining(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    p.body_8bitmime = true;
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx.example.net\r\n250-SIZE 10000\r\n250 8BITMIME\r\n",
          "MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME\r\n", WANT_READ),
        S("250 2.1.0 Ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("250 2.1.5 Ok\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        S("251 2.1.5 Ok, will forward\r\n", "DATA\r\n", WANT_READ),
        S("354 End data with <CR><LF>.<CR><LF>\r\n", "", SEND_CONTENT),
        CONTENT("Subject: x\r\n\r\nhello\r\n.\r\n",
                "Subject: x\r\n\r\nhello\r\n..\r\n"),
        END(".\r\n"),
        S("250 2.0.0 Ok: queued as ABC\r\n", "QUIT\r\n", DONE),
    };
    const struct want want[] = {SENT_ABC, SENT_ABC};
    transcript(&p, steps, N(steps), want, false);
}

/* RFC 2920: MAIL, every RCPT and DATA in one write; replies in order,
 * 4xx and 5xx per recipient. */
static void
test_pipelining_mixed_rcpts(void **state)
{
    (void)state;
    struct smtp_client_params p = params(3);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE\r\n",
          "MAIL FROM:<a@example.org> SIZE=1234\r\n"
          "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
          "RCPT TO:<d@example.net>\r\nDATA\r\n",
          WANT_READ),
        S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
          "450 4.2.0 <c@example.net>: Recipient address rejected: "
          "Greylisted\r\n"
          "550 5.1.1 <d@example.net>: no such user\r\n354 go ahead\r\n",
          "", SEND_CONTENT),
        CONTENT("hi\r\n", "hi\r\n"),
        END(".\r\n"),
        S("250 2.0.0 Ok: queued as ABC\r\n", "QUIT\r\n", DONE),
    };
    const struct want want[] = {
        SENT_ABC,
        {SMTP_CLIENT_DEFERRED, 450, "4.2.0",
         "450 4.2.0 <c@example.net>: Recipient address rejected: Greylisted "
         "(in reply to RCPT TO command)"},
        {SMTP_CLIENT_BOUNCED, 550, "5.1.1",
         "550 5.1.1 <d@example.net>: no such user (in reply to RCPT TO "
         "command)"},
    };
    transcript(&p, steps, N(steps), want, false);
}

/* A reply glued to the 354 is read only after the end of data. */
static void
test_reply_during_content(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n",
          "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
          "DATA\r\n",
          WANT_READ),
        S("250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 Ok: queued", "",
          SEND_CONTENT),
        CONTENT("QUIT\r\n", "QUIT\r\n"),
        S(" as ABC\r\n", "", SEND_CONTENT),
        {BODY_END, NULL, ".\r\nQUIT\r\n", SMTP_CLIENT_DONE},
    };
    const struct want want[] = {SENT_ABC};
    transcript(&p, steps, N(steps), want, false);
}

static void
test_rcpt_rejected_no_pipelining(void **state)
{
    (void)state;
    struct smtp_client_params p = params(3);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx.example.net\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 Ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("550 no such user\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        S("452 4.5.3 too many\r\n", "RCPT TO:<d@example.net>\r\n", WANT_READ),
        S("250 Ok\r\n", "DATA\r\n", WANT_READ),
        S("354 go\r\n", "", SEND_CONTENT),
        END(".\r\n"),
        S("451 4.3.0 queue write error\r\n", "QUIT\r\n", DONE),
    };
    /* b 550, c 452, d accepted (then 451 at the end of data). */
    const struct want want[] = {
        {SMTP_CLIENT_BOUNCED, 550, "5.0.0",
         "550 no such user (in reply to RCPT TO command)"},
        {SMTP_CLIENT_DEFERRED, 452, "4.5.3", NULL},
        {SMTP_CLIENT_DEFERRED, 451, "4.3.0",
         "451 4.3.0 queue write error (in reply to end of DATA command)"},
    };
    transcript(&p, steps, N(steps), want, false);
}

/* All RCPTs refused in a pipelined group: a 354 to DATA gets just "." */
static void
test_pipelined_no_rcpt_data_354(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n",
          "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
          "DATA\r\n",
          WANT_READ),
        S("250 Ok\r\n550 5.7.1 relay denied\r\n354 go\r\n", ".\r\n", WANT_READ),
        S("554 5.5.1 no valid recipients\r\n", "QUIT\r\n", DONE),
    };
    const struct want want[] = {
        {SMTP_CLIENT_BOUNCED, 550, "5.7.1",
         "550 5.7.1 relay denied (in reply to RCPT TO command)"},
    };
    transcript(&p, steps, N(steps), want, false);
}

static void
test_pipelined_no_rcpt_data_554(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n",
          "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
          "DATA\r\n",
          WANT_READ),
        S("250 Ok\r\n450 4.1.1 try later\r\n554 5.5.1 no valid "
          "recipients\r\n",
          "QUIT\r\n", DONE),
    };
    const struct want want[] = {
        {SMTP_CLIENT_DEFERRED, 450, "4.1.1", NULL},
    };
    transcript(&p, steps, N(steps), want, false);
}

/* MAIL refused in a pipelined group: the rest of the replies are read,
 * a 4xx makes the next host worth a try. */
static void
test_pipelined_mail_refused(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n",
          "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
          "RCPT TO:<c@example.net>\r\nDATA\r\n",
          WANT_READ),
        S("451 4.7.1 try again\r\n503 need MAIL\r\n503 need MAIL\r\n", "",
          WANT_READ),
        S("354 go\r\n", ".\r\n", WANT_READ),
        S("503 5.5.1 no\r\n", "QUIT\r\n", DONE),
    };
    const struct want d = {SMTP_CLIENT_DEFERRED, 451, "4.7.1",
                           "451 4.7.1 try again (in reply to MAIL FROM "
                           "command)"};
    const struct want want[] = {d, d};
    transcript(&p, steps, N(steps), want, true);
}

static void
test_mail_bounced(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    p.sender = "";
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<>\r\n", WANT_READ),
        S("553 5.1.8 sender rejected\r\n", "QUIT\r\n", DONE),
    };
    const struct want b = {SMTP_CLIENT_BOUNCED, 553, "5.1.8", NULL};
    const struct want want[] = {b, b};
    transcript(&p, steps, N(steps), want, false);
}

/* ---- STARTTLS (RFC 3207) ----------------------------------------------- */

static void
test_starttls(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    p.tls = SMTP_CLIENT_TLS_MAY;
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n", "STARTTLS\r\n",
          WANT_READ),
        /* RFC 3207 4.2: what follows the 220 is an injection: dropped. */
        S("220 2.0.0 Ready to start TLS\r\n250-mx\r\n250 PIPELINING\r\n", "",
          STARTTLS),
        S("250 more injected\r\n", "", STARTTLS),
        TLS(HELO),
        S("250-mx\r\n250 SIZE 100000\r\n",
          "MAIL FROM:<a@example.org> SIZE=1234\r\n", WANT_READ),
        DELIVER_B,
    };
    const struct want want[] = {SENT_ABC};
    transcript(&p, steps, N(steps), want, false);

    struct smtp_client *c = smtp_client_new(&p);
    for (size_t i = 0; i < 2; i++)
        run_step(c, &steps[i], 0);
    assert_true(smtp_client_tls_offered(c));
    assert_string_equal(smtp_client_stage(c), "STARTTLS");
    /* TLS failed: the driver aborts; then the next host may do. */
    run_step(c, &steps[2], 0);
    assert_string_equal(smtp_client_stage(c), "TLS handshake");
    smtp_client_abort(c, "TLS handshake failed");
    check_result(c, 0,
                 &(struct want){SMTP_CLIENT_DEFERRED, 0, "4.4.2",
                                "TLS handshake failed while performing the "
                                "TLS handshake"});
    assert_true(smtp_client_try_next_host(c));
    smtp_client_free(c);
}

static void
test_tls_must_not_offered(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    p.tls = SMTP_CLIENT_TLS_MUST;
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n", "QUIT\r\n", DONE),
    };
    const struct want d = {SMTP_CLIENT_DEFERRED, 0, "4.7.4",
                           "TLS is required, but was not offered by host"};
    const struct want want[] = {d, d};
    transcript(&p, steps, N(steps), want, true);

    /* HELO fallback has no STARTTLS either. */
    const struct step helo[] = {
        S(GREETING, HELO, WANT_READ),
        S("502 5.5.2 what\r\n", "HELO client.example.org\r\n", WANT_READ),
        S("250 mx\r\n", "QUIT\r\n", DONE),
    };
    transcript(&p, helo, N(helo), want, true);
}

static void
test_starttls_refused(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    p.tls = SMTP_CLIENT_TLS_MUST;
    const struct step must[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", WANT_READ),
        S("454 4.7.0 TLS not available\r\n", "QUIT\r\n", DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_DEFERRED, 454, "4.7.0",
                              "454 4.7.0 TLS not available (in reply to "
                              "STARTTLS command)"}};
    transcript(&p, must, N(must), d, true);

    /* At level may the session goes on in plaintext. */
    p.tls = SMTP_CLIENT_TLS_MAY;
    const struct step may[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", WANT_READ),
        S("454 4.7.0 TLS not available\r\n", "MAIL FROM:<a@example.org>\r\n",
          WANT_READ),
        DELIVER_B,
    };
    const struct want sent[] = {SENT_ABC};
    transcript(&p, may, N(may), sent, false);

    /* Level none never asks. */
    p.tls = SMTP_CLIENT_TLS_NONE;
    struct smtp_client *c = smtp_client_new(&p);
    run_step(c, &may[0], 0);
    run_step(c,
             &(struct step)S("250-mx\r\n250 STARTTLS\r\n",
                             "MAIL FROM:<a@example.org>\r\n", WANT_READ),
             0);
    assert_true(smtp_client_tls_offered(c));
    smtp_client_free(c);
}

/* ---- AUTH (RFC 4954) --------------------------------------------------- */

static struct smtp_client_params
auth_params(enum smtp_client_tls tls)
{
    struct smtp_client_params p = params(1);
    p.tls = tls;
    p.auth_user = "user";
    p.auth_pass = "secret";
    return p;
}

static void
test_auth_plain_implicit_tls(void **state)
{
    (void)state;
    struct smtp_client_params p = auth_params(SMTP_CLIENT_TLS_IMPLICIT);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n",
          "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n", WANT_READ),
        S("235 2.7.0 Authentication successful\r\n",
          "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        DELIVER_B,
    };
    const struct want want[] = {SENT_ABC};
    transcript(&p, steps, N(steps), want, false);
}

static void
test_auth_login_after_starttls(void **state)
{
    (void)state;
    struct smtp_client_params p = auth_params(SMTP_CLIENT_TLS_MUST);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        /* AUTH before TLS is ignored: credentials go only over TLS. */
        S("250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n", "STARTTLS\r\n",
          WANT_READ),
        S("220 go\r\n", "", STARTTLS),
        TLS(HELO),
        S("250-mx\r\n250 AUTH=LOGIN\r\n", "AUTH LOGIN\r\n", WANT_READ),
        S("334 VXNlcm5hbWU6\r\n", "dXNlcg==\r\n", WANT_READ),
        S("334 UGFzc3dvcmQ6\r\n", "c2VjcmV0\r\n", WANT_READ),
        S("235 2.7.0 ok\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        DELIVER_B,
    };
    const struct want want[] = {SENT_ABC};
    transcript(&p, steps, N(steps), want, false);
}

static void
test_auth_failures(void **state)
{
    (void)state;
    struct smtp_client_params p = auth_params(SMTP_CLIENT_TLS_IMPLICIT);
    /* 535 is a configuration problem: deferred, class 4, next host. */
    const struct step fail[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 AUTH PLAIN\r\n", "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n",
          WANT_READ),
        S("535 5.7.8 Error: authentication failed\r\n", "QUIT\r\n", DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_DEFERRED, 535, "4.7.8",
                              "535 5.7.8 Error: authentication failed (in "
                              "reply to AUTH command)"}};
    transcript(&p, fail, N(fail), d, true);

    const struct step nomech[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 AUTH CRAM-MD5\r\n", "QUIT\r\n", DONE),
    };
    const struct want nm[] = {{SMTP_CLIENT_DEFERRED, 0, "4.7.0",
                               "no supported AUTH mechanism (PLAIN, LOGIN) "
                               "offered by host"}};
    transcript(&p, nomech, N(nomech), nm, true);

    /* Without TLS the credentials stay home. */
    p.tls = SMTP_CLIENT_TLS_MAY;
    const struct step notls[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 AUTH PLAIN\r\n", "QUIT\r\n", DONE),
    };
    const struct want nt[] = {{SMTP_CLIENT_DEFERRED, 0, "4.7.0", NULL}};
    transcript(&p, notls, N(notls), nt, true);
}

/* RFC 4954 4: an initial response over 512 octets waits for "334 ". */
static void
test_auth_plain_long(void **state)
{
    (void)state;
    char user[201], pass[201], b64[600];
    memset(user, 'u', 200);
    memset(pass, 'p', 200);
    user[200] = pass[200] = '\0';
    struct smtp_client_params p = params(1);
    p.tls = SMTP_CLIENT_TLS_IMPLICIT;
    p.auth_user = user;
    p.auth_pass = pass;
    struct smtp_client *c = smtp_client_new(&p);
    run_step(c, &(struct step)S(GREETING, HELO, WANT_READ), 0);
    run_step(c,
             &(struct step)S("250-mx\r\n250 AUTH PLAIN\r\n", "AUTH PLAIN\r\n",
                             WANT_READ),
             0);
    assert_int_equal(smtp_client_feed(c, "334 \r\n", 6), SMTP_CLIENT_WANT_READ);
    size_t len;
    const char *out = smtp_client_output(c, &len);
    assert_int_equal(len, 536 + 2);
    memcpy(b64, out, len);
    assert_memory_equal(b64, "AHV1dXV1dXV1dXV1dXV1", 20);
    assert_memory_equal(b64 + 536, "\r\n", 2);
    smtp_client_output_clear(c);
    run_step(c,
             &(struct step)S("235 ok\r\n", "MAIL FROM:<a@example.org>\r\n",
                             WANT_READ),
             0);
    smtp_client_free(c);
}

/* ---- HELO, multi-line and malformed replies ---------------------------- */

static void
test_helo_fallback(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    p.smtputf8 = false;
    p.tls = SMTP_CLIENT_TLS_MAY;
    const struct step steps[] = {
        S("220-mx.example.net ESMTP\r\n220-no UCE\r\n220 really\r\n", HELO,
          WANT_READ),
        S("500 5.5.1 command unrecognized\r\n", "HELO client.example.org\r\n",
          WANT_READ),
        S("250\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        DELIVER_B,
    };
    const struct want want[] = {SENT_ABC};
    transcript(&p, steps, N(steps), want, false);

    const struct step bad[] = {
        S(GREETING, HELO, WANT_READ),
        S("500 unrecognized\r\n", "HELO client.example.org\r\n", WANT_READ),
        S("501 5.5.4 go away\r\n", "QUIT\r\n", DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_DEFERRED, 501, "4.5.4",
                              "501 5.5.4 go away (in reply to HELO "
                              "command)"}};
    transcript(&p, bad, N(bad), d, true);
}

static void
test_greeting_refused(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    const struct step steps[] = {
        S("554-mx.example.net no mail\r\n554 go away\r\n", "QUIT\r\n", DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_DEFERRED, 554, "4.0.0",
                              "554-mx.example.net no mail 554 go away (in "
                              "reply to initial greeting)"}};
    transcript(&p, steps, N(steps), d, true);
}

/* One malformed reply to EHLO: deferred "protocol error", QUIT. */
static void
malformed_ehlo(const char *reply, const char *why)
{
    struct smtp_client_params p = params(1);
    char text[SMTP_CLIENT_TEXT_SIZE];
    snprintf(text, sizeof(text),
             "protocol error: %s (in reply to EHLO "
             "command)",
             why);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S(reply, "QUIT\r\n", DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_DEFERRED, 0, "4.5.0", text}};
    transcript(&p, steps, N(steps), d, true);
}

static void
test_malformed_replies(void **state)
{
    (void)state;
    malformed_ehlo("250-mx\r\n251 b\r\n", "reply lines with different codes");
    malformed_ehlo("250*mx\r\n", "malformed reply line");
    malformed_ehlo("25\r\n", "malformed reply line");
    malformed_ehlo("2a0 x\r\n", "malformed reply line");
    malformed_ehlo("190 x\r\n", "malformed reply line");
    malformed_ehlo("260 x\r\n", "malformed reply line");
    malformed_ehlo("250 mx\n", "reply line not ended by CRLF");

    char *lng = malloc(3000);
    memset(lng, 'x', 2999);
    memcpy(lng, "250 ", 4);
    lng[2999] = '\0';
    malformed_ehlo(lng, "reply line too long");
    free(lng);

    struct buf many;
    buf_init(&many, 0);
    for (int i = 0; i < 100; i++)
        buf_puts(&many, "250-X\r\n");
    buf_puts(&many, "250 end\r\n");
    malformed_ehlo(many.data, "reply with too many lines");
    buf_free(&many);
}

/* Control and non-ASCII octets in a reply become '?' in the result. */
static void
test_reply_text_printable(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("550-5.1.1 bad\x01user\r\n550 5.1.1 \xc3\xa9t\xe9\r\n", "QUIT\r\n",
          DONE),
    };
    const struct want d[] = {{SMTP_CLIENT_BOUNCED, 550, "5.1.1",
                              "550-5.1.1 bad?user 550 5.1.1 ??t? (in reply "
                              "to RCPT TO command)"}};
    transcript(&p, steps, N(steps), d, false);

    /* The NUL cut the step's string: feed it with its length. */
    struct smtp_client *c = smtp_client_new(&p);
    for (size_t i = 0; i < 3; i++)
        run_step(c, &steps[i], 0);
    static const char nul[] = "550 5.1.1 a\0b\r\n";
    smtp_client_feed(c, nul, sizeof(nul) - 1);
    assert_string_equal(smtp_client_rcpt_result(c, 0)->text,
                        "550 5.1.1 a?b (in reply to RCPT TO command)");
    smtp_client_free(c);
}

/* A long reply is cut, but the command it answered is kept. */
static void
test_long_reply_text(void **state)
{
    (void)state;
    struct smtp_client_params p = params(1);
    struct smtp_client *c = smtp_client_new(&p);
    char line[1500];
    memset(line, 'y', sizeof(line));
    memcpy(line, "550 4.1.1 ", 10); /* class mismatch: derived dsn */
    memcpy(line + sizeof(line) - 2, "\r\n", 2);
    run_step(c, &(struct step)S(GREETING, HELO, WANT_READ), 0);
    run_step(c,
             &(struct step)S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n",
                             WANT_READ),
             0);
    run_step(
        c,
        &(struct step)S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        0);
    smtp_client_feed(c, line, sizeof(line));
    const struct smtp_client_result *r = smtp_client_rcpt_result(c, 0);
    assert_int_equal(r->status, SMTP_CLIENT_BOUNCED);
    assert_string_equal(r->dsn, "5.0.0");
    assert_int_equal(strlen(r->text), SMTP_CLIENT_TEXT_SIZE - 1);
    const char *end = " (in reply to RCPT TO command)";
    assert_string_equal(r->text + strlen(r->text) - strlen(end), end);
    smtp_client_free(c);
}

/* ---- SIZE and SMTPUTF8 -------------------------------------------------- */

static void
test_size_limit(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    p.size = 2000;
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", "QUIT\r\n", DONE),
    };
    const struct want b = {SMTP_CLIENT_BOUNCED, 0, "5.3.4",
                           "message size 2000 exceeds size limit 1000 of "
                           "server"};
    const struct want want[] = {b, b};
    transcript(&p, steps, N(steps), want, false);

    /* SIZE 0 (RFC 1870 5) and a huge SIZE are no limit. */
    const struct step zero[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 SIZE 0\r\n", "MAIL FROM:<a@example.org> SIZE=2000\r\n",
          WANT_READ),
        S("452 4.3.1 full\r\n", "QUIT\r\n", DONE),
    };
    const struct want d = {SMTP_CLIENT_DEFERRED, 452, "4.3.1", NULL};
    const struct want dd[] = {d, d};
    transcript(&p, zero, N(zero), dd, true);
    const struct step huge[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 SIZE 99999999999999999999999\r\n",
          "MAIL FROM:<a@example.org> SIZE=2000\r\n", WANT_READ),
        S("452 4.3.1 full\r\n", "QUIT\r\n", DONE),
    };
    transcript(&p, huge, N(huge), dd, true);
}

static void
test_smtputf8(void **state)
{
    (void)state;
    static const char *const utf8[] = {"d\xc3\xa9@example.net"};
    struct smtp_client_params p = params(1);
    p.rcpts = utf8;
    p.smtputf8 = true;
    const struct step offered[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 SMTPUTF8\r\n",
          "MAIL FROM:<a@example.org> SMTPUTF8\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<d\xc3\xa9@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "DATA\r\n", WANT_READ),
        S("354 go\r\n", "", SEND_CONTENT),
        END(".\r\n"),
        S("250 2.0.0 Ok: queued as ABC\r\n", "QUIT\r\n", DONE),
    };
    const struct want sent[] = {SENT_ABC};
    transcript(&p, offered, N(offered), sent, false);

    const struct step missing[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 8BITMIME\r\n", "QUIT\r\n", DONE),
    };
    const struct want b[] = {{SMTP_CLIENT_BOUNCED, 0, "5.6.7",
                              "SMTPUTF8 is required, but was not offered by "
                              "host"}};
    transcript(&p, missing, N(missing), b, false);

    /* A UTF-8 address without the smtputf8 flag is never sent. */
    p.smtputf8 = false;
    const struct step noflag[] = {
        S(GREETING, "QUIT\r\n", DONE),
    };
    const struct want nf[] = {{SMTP_CLIENT_BOUNCED, 0, "5.6.7", NULL}};
    transcript(&p, noflag, N(noflag), nf, false);
}

/* No spool string can inject a command line. */
static void
test_bad_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {"b@example.net\r\nRSET", "c@example.net",
                                      "no-domain", ""};
    struct smtp_client_params p = params(4);
    p.rcpts = bad;
    const struct step steps[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "DATA\r\n", WANT_READ),
        S("354 go\r\n", "", SEND_CONTENT),
        END(".\r\n"),
        S("250 2.0.0 Ok: queued as ABC\r\n", "QUIT\r\n", DONE),
    };
    const struct want b = {SMTP_CLIENT_BOUNCED, 0, "5.1.3",
                           "invalid recipient address syntax"};
    const struct want want[] = {b, SENT_ABC, b, b};
    transcript(&p, steps, N(steps), want, false);

    p.sender = "a@example.org>\r\nRCPT TO:<x@evil";
    const struct step none[] = {S(GREETING, "QUIT\r\n", DONE)};
    const struct want bs = {SMTP_CLIENT_BOUNCED, 0, "5.1.7", NULL};
    const struct want all[] = {bs, bs, bs, bs};
    transcript(&p, none, N(none), all, false);

    p = params(1);
    p.helo_name = "bad\r\nname";
    const struct want dh[] = {{SMTP_CLIENT_DEFERRED, 0, "4.3.5", NULL}};
    transcript(&p, none, N(none), dh, false);
}

/* ---- dot-stuffing (RFC 5321 4.5.2) -------------------------------------- */

static int
store_write(void *ctx, const char *data, size_t len, bool *nospace)
{
    (void)nospace;
    return buf_append(ctx, data, len);
}

/* What the next hop must store: CRLF lines, bare CR and LF made CRLF, a
 * last line ended. */
static void
normalise(const char *in, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
            i++;
        if (in[i] == '\r' || in[i] == '\n')
            buf_puts(out, "\r\n");
        else
            buf_append(out, in + i, 1);
    }
    if (out->len > 0 && (out->len < 2 || out->data[out->len - 1] != '\n'))
        buf_puts(out, "\r\n");
}

/* Send content through a client in pieces cut at cuts[] and return the
 * bytes written after the 354. */
static void
send_content(const char *content, size_t len, const size_t *cuts, size_t n_cuts,
             struct buf *wire)
{
    struct smtp_client_params p = params(1);
    struct smtp_client *c = smtp_client_new(&p);
    static const char *const replies[] = {GREETING, "250 mx\r\n", "250 ok\r\n",
                                          "250 ok\r\n", "354 go\r\n"};
    for (size_t i = 0; i < N(replies); i++) {
        smtp_client_feed(c, replies[i], strlen(replies[i]));
        smtp_client_output_clear(c);
    }
    assert_int_equal(smtp_client_action(c), SMTP_CLIENT_SEND_CONTENT);
    size_t pos = 0, out_len;
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        smtp_client_content(c, content + pos, end - pos);
        pos = end;
    }
    smtp_client_content_end(c);
    const char *out = smtp_client_output(c, &out_len);
    buf_append(wire, out, out_len);
    smtp_client_free(c);
}

/* The wire bytes, read by our own server's DATA framing, end exactly at
 * their end and store the normalised content. */
static void
check_wire(const char *content, size_t len, const struct buf *wire)
{
    struct buf stored, want;
    struct smtp_data *d = malloc(sizeof(*d));
    bool done = false;

    buf_init(&stored, 0);
    buf_init(&want, 0);
    smtp_data_init(d, 0, true, store_write, &stored);
    assert_int_equal(smtp_data_feed(d, wire->data, wire->len, &done),
                     wire->len);
    assert_true(done);
    assert_int_equal(smtp_data_finish(d), SMTP_DATA_OK); /* no bare CR/LF */
    normalise(content, len, &want);
    assert_int_equal(stored.len, want.len);
    assert_memory_equal(stored.data ? stored.data : "",
                        want.data ? want.data : "", want.len);
    free(d);
    buf_free(&stored);
    buf_free(&want);
}

static void
test_dot_stuffing(void **state)
{
    (void)state;
    static const struct {
        const char *in, *wire;
    } cases[] = {
        {"", ".\r\n"},
        {".", "..\r\n.\r\n"},
        {".\r\n", "..\r\n.\r\n"},
        {"a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
        {"..x\r\n", "...x\r\n.\r\n"},
        {"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
        {"x\r", "x\r\n.\r\n"},
        {"x\r\r\n.", "x\r\n\r\n..\r\n.\r\n"},
        {"a.b\r\n .\r\n", "a.b\r\n .\r\n.\r\n"},
        {"\r\n.\r\n.\n\r.\r\n", "\r\n..\r\n..\r\n\r\n..\r\n.\r\n"},
        {"end\r\n\r\n", "end\r\n\r\n.\r\n"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *in = cases[i].in;
        size_t len = strlen(in);
        struct buf whole;
        buf_init(&whole, 0);
        send_content(in, len, NULL, 0, &whole);
        assert_string_equal(whole.data, cases[i].wire);
        check_wire(in, len, &whole);

        /* One byte at a time, and every cut in two pieces. */
        size_t cuts[64];
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        struct buf bytes;
        buf_init(&bytes, 0);
        send_content(in, len, cuts, len, &bytes);
        assert_string_equal(bytes.data, whole.data);
        for (size_t k = 0; k <= len; k++) {
            struct buf two;
            buf_init(&two, 0);
            send_content(in, len, &k, 1, &two);
            assert_string_equal(two.data, whole.data);
            buf_free(&two);
        }
        buf_free(&bytes);
        buf_free(&whole);
    }
}

/* ---- 421, early replies, abort ----------------------------------------- */

static void
test_421(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    const struct step rcpt[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        /* RFC 5321 3.8: no QUIT after 421. */
        S("421 4.3.2 shutting down\r\n", "", DONE),
        S("250 ignored\r\n", "", DONE),
    };
    const struct want d = {SMTP_CLIENT_DEFERRED, 421, "4.3.2",
                           "421 4.3.2 shutting down (in reply to RCPT TO "
                           "command)"};
    const struct want want[] = {d, d};
    transcript(&p, rcpt, N(rcpt), want, false);

    const struct step greet[] = {S("421 busy\r\n", "", DONE)};
    const struct want g = {SMTP_CLIENT_DEFERRED, 421, "4.0.0",
                           "421 busy (in reply to initial greeting)"};
    const struct want gw[] = {g, g};
    transcript(&p, greet, N(greet), gw, true);

    /* During the content: read after the end of data, so no QUIT goes
     * inside the message. */
    const struct step body[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("550 no\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "DATA\r\n", WANT_READ),
        S("354 go\r\n", "", SEND_CONTENT),
        CONTENT("a\r\n", "a\r\n"),
        S("421 4.4.2 timeout\r\n", "", SEND_CONTENT),
        CONTENT("b\r\n", "b\r\n"),
        {BODY_END, NULL, ".\r\n", SMTP_CLIENT_DONE},
    };
    const struct want bw[] = {
        {SMTP_CLIENT_BOUNCED, 550, "5.0.0", NULL},
        {SMTP_CLIENT_DEFERRED, 421, "4.4.2",
         "421 4.4.2 timeout (in reply to end of DATA command)"},
    };
    transcript(&p, body, N(body), bw, false);
}

static void
test_abort(void **state)
{
    (void)state;
    struct smtp_client_params p = params(2);
    const struct step rcpt[] = {
        S(GREETING, HELO, WANT_READ),
        S("250-mx\r\n250 PIPELINING\r\n",
          "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
          "RCPT TO:<c@example.net>\r\nDATA\r\n",
          WANT_READ),
        S("250 ok\r\n550 5.1.1 no\r\n", "", WANT_READ),
        ABORT_(NULL),
        ABORT_("ignored"),
    };
    const struct want want[] = {
        {SMTP_CLIENT_BOUNCED, 550, "5.1.1", NULL},
        {SMTP_CLIENT_DEFERRED, 0, "4.4.2",
         "lost connection while sending RCPT TO"},
    };
    transcript(&p, rcpt, N(rcpt), want, false);

    const struct step greet[] = {ABORT_("conversation timed out")};
    const struct want g = {SMTP_CLIENT_DEFERRED, 0, "4.4.2",
                           "conversation timed out while receiving the "
                           "initial server greeting"};
    const struct want gw[] = {g, g};
    transcript(&p, greet, N(greet), gw, true);

    const struct step body[] = {
        S(GREETING, HELO, WANT_READ),
        S("250 mx\r\n", "MAIL FROM:<a@example.org>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<b@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "RCPT TO:<c@example.net>\r\n", WANT_READ),
        S("250 ok\r\n", "DATA\r\n", WANT_READ),
        S("354 go\r\n", "", SEND_CONTENT),
        CONTENT("a\r\n", "a\r\n"),
        END(".\r\n"),
        ABORT_("lost connection with mx[192.0.2.1]"),
    };
    const struct want b = {SMTP_CLIENT_DEFERRED, 0, "4.4.2",
                           "lost connection with mx[192.0.2.1] while "
                           "sending end of data -- message may be sent more "
                           "than once"};
    const struct want bw[] = {b, b};
    transcript(&p, body, N(body), bw, false);
}

/* ---- the reply reader alone -------------------------------------------- */

static void
test_reply_reader(void **state)
{
    (void)state;
    struct smtp_reply_reader r;
    enum smtp_reply_read_status st;
    char dsn[SMTP_REPLY_READ_DSN_SIZE], text[64];
    static const char two[] = "250-a b\r\n250 2.1.5 c\r\n451 next\r\n";

    smtp_reply_read_init(&r);
    /* Consumes up to the end of one reply, not beyond. */
    assert_int_equal(smtp_reply_read_feed(&r, two, strlen(two), &st), 22);
    assert_int_equal(st, SMTP_REPLY_READ_DONE);
    assert_int_equal(smtp_reply_read_code(&r), 250);
    assert_false(smtp_reply_read_dsn(&r, dsn)); /* first line has none */
    smtp_reply_read_text(&r, text, sizeof(text));
    assert_string_equal(text, "250-a b 250 2.1.5 c");
    assert_int_equal(smtp_reply_read_feed(&r, "x", 1, &st), 0);
    smtp_reply_read_reset(&r);

    static const struct {
        const char *reply, *dsn;
    } dsns[] = {
        {"250 2.1.5 Ok\r\n", "2.1.5"},
        {"550 5.100.999\r\n", "5.100.999"},
        {"550 5.1.1x\r\n", NULL},
        {"550 5.1.1234 x\r\n", NULL},
        {"550 4.1.1 x\r\n", NULL},
        {"354 3.0.0 x\r\n", NULL},
        {"550 5..1 x\r\n", NULL},
        {"550 5.1. x\r\n", NULL},
        {"550 5.1\r\n", NULL},
        {"550\r\n", NULL},
        {"450-4.7.1 a\r\n450 b\r\n", "4.7.1"},
    };
    for (size_t i = 0; i < N(dsns); i++) {
        smtp_reply_read_feed(&r, dsns[i].reply, strlen(dsns[i].reply), &st);
        assert_int_equal(st, SMTP_REPLY_READ_DONE);
        assert_int_equal(smtp_reply_read_dsn(&r, dsn), dsns[i].dsn != NULL);
        if (dsns[i].dsn != NULL)
            assert_string_equal(dsn, dsns[i].dsn);
        smtp_reply_read_reset(&r);
    }
    smtp_reply_read_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_no_pipelining),
        cmocka_unit_test(test_pipelining_mixed_rcpts),
        cmocka_unit_test(test_reply_during_content),
        cmocka_unit_test(test_rcpt_rejected_no_pipelining),
        cmocka_unit_test(test_pipelined_no_rcpt_data_354),
        cmocka_unit_test(test_pipelined_no_rcpt_data_554),
        cmocka_unit_test(test_pipelined_mail_refused),
        cmocka_unit_test(test_mail_bounced),
        cmocka_unit_test(test_starttls),
        cmocka_unit_test(test_tls_must_not_offered),
        cmocka_unit_test(test_starttls_refused),
        cmocka_unit_test(test_auth_plain_implicit_tls),
        cmocka_unit_test(test_auth_login_after_starttls),
        cmocka_unit_test(test_auth_failures),
        cmocka_unit_test(test_auth_plain_long),
        cmocka_unit_test(test_helo_fallback),
        cmocka_unit_test(test_greeting_refused),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_reply_text_printable),
        cmocka_unit_test(test_long_reply_text),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_smtputf8),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_dot_stuffing),
        cmocka_unit_test(test_421),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_reply_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
