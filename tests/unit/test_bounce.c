/*
 * test_bounce.c -- delivery status notifications (RFC 3464) committed to
 * a real spool: the envelope (from <> to the original sender), every
 * header and delivery-status field, remote text that tries to inject
 * fields or MIME boundaries, the original header section cut at the cap,
 * SMTPUTF8 addresses, delay warnings, and no notice for a null sender.
 *
 * With TLSMTA_BOUNCE_DUMP=DIR in the environment, each notice built is
 * also written to DIR/NAME.eml, for tests/integration/
 * test_bounce_format.py (Python's email package parses them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "queue/bounce.h"
#include "queue/spool.h"
#include "smtp/smtp_received.h"
#include "queue_test_util.h"

#define ARRIVAL ((time_t)1700000000)
#define NOW ((time_t)1700003600)

struct fixture {
    char dir[TU_DIR_MAX]; /* the spool directory */
    struct spool *sp;
    char hostname[64];
    struct config cfg; /* only hostname is set */
};

/* A notice read back from the spool. */
struct notice {
    char id[SPOOL_QUEUE_ID_MAX];
    struct spool_entry *e;
    char *text; /* content, NUL-terminated */
};

static const char original_headers[] =
    "Received: from client.example (client.example [192.0.2.1])\r\n"
    "\tby mail.example.org (tlsmta) with ESMTPS id X;\r\n"
    "\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@remote.test, carol@remote.test\r\n"
    "Subject: lunch\r\n"
    "Message-ID: <1@example.org>\r\n";
static const char original_body[] = "\r\nsee you at noon\r\nsecret body\r\n";

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];

    tu_mkdtemp(f->dir);
    assert_int_equal(spool_open(f->dir, &f->sp, err, sizeof(err)), SPOOL_OK);
    snprintf(f->hostname, sizeof(f->hostname), "mail.example.org");
    f->cfg.hostname = f->hostname;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    spool_close(f->sp);
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Commit a message from sender to the recipients of r, open it. */
static struct spool_entry *
original(struct fixture *f, const char *sender, const char *content,
         const struct bounce_rcpt *r, size_t n)
{
    const char *rcpts[16];
    struct spool_envelope env = {
        .sender = sender, .rcpts = rcpts, .n_rcpts = n};
    struct spool_msg *m;
    struct spool_entry *e;
    char id[SPOOL_QUEUE_ID_MAX], why[256];

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        rcpts[i] = r[i].rcpt;
    assert_int_equal(spool_msg_begin(f->sp, &env, ARRIVAL, &m), SPOOL_OK);
    snprintf(id, sizeof(id), "%s", spool_msg_id(m));
    assert_int_equal(spool_msg_write(m, content, strlen(content)), SPOOL_OK);
    assert_int_equal(spool_msg_commit(m), SPOOL_OK);
    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)),
                     SPOOL_OK);
    return e;
}

/* Write the notice to $TLSMTA_BOUNCE_DUMP/name.eml if asked to. */
static void
dump(const char *name, const char *text)
{
    const char *dir = getenv("TLSMTA_BOUNCE_DUMP");
    char path[PATH_MAX];

    if (dir == NULL || dir[0] == '\0')
        return;
    tu_path(path, "%s/%s.eml", dir, name);
    tu_write_file(path, text, strlen(text));
}

/* Every line ends with CRLF (no bare CR or LF) and has at most 998
 * octets before it (RFC 5322 2.1.1, 2.3). */
static void
check_lines(const char *t)
{
    size_t col = 0;

    for (; *t != '\0'; t++) {
        if (*t == '\r') {
            assert_int_equal(t[1], '\n');
            assert_true(col <= 998);
            col = 0;
            t++;
            continue;
        }
        assert_int_not_equal(*t, '\n');
        col++;
    }
    assert_int_equal(col, 0);
}

/* Commit an original, bounce r[0..n), read the notice back; the notice
 * is dumped as name. */
static void
bounce(struct fixture *f, const char *name, const char *content,
       const struct bounce_rcpt *r, size_t n, struct notice *out)
{
    struct spool_entry *orig = original(f, "alice@example.org", content, r, n);
    char why[256];

    assert_int_equal(
        bounce_send(f->sp, &f->cfg, orig, r, n, NOW, out->id, sizeof(out->id)),
        0);
    spool_entry_close(orig);
    assert_int_equal(
        spool_entry_open(f->sp, out->id, &out->e, why, sizeof(why)), SPOOL_OK);
    out->text = calloc(1, out->e->size + 1);
    assert_int_equal(
        pread(out->e->fd, out->text, out->e->size, out->e->content_offset),
        (ssize_t)out->e->size);
    assert_int_equal(strlen(out->text), out->e->size);
    dump(name, out->text);
    check_lines(out->text);
}

static void
notice_free(struct notice *n)
{
    spool_entry_close(n->e);
    free(n->text);
}

#define assert_has(hay, needle)                                                \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            fail_msg("missing \"%s\" in:\n%s", (needle), (hay));               \
    } while (0)

#define assert_lacks(hay, needle)                                              \
    do {                                                                       \
        if (strstr((hay), (needle)) != NULL)                                   \
            fail_msg("unexpected \"%s\" in:\n%s", (needle), (hay));            \
    } while (0)

/* A line of t starts with prefix. */
static bool
has_line(const char *t, const char *prefix)
{
    size_t len = strlen(prefix);

    if (strncmp(t, prefix, len) == 0)
        return true;
    for (const char *l = strstr(t, "\r\n"); l != NULL;
         l = strstr(l + 2, "\r\n"))
        if (strncmp(l + 2, prefix, len) == 0)
            return true;
    return false;
}

/* The value of the notice's boundary parameter, in b (128 bytes). */
static void
boundary_of(const char *t, char *b)
{
    const char *p = strstr(t, "boundary=\"");
    assert_non_null(p);
    p += 10;
    size_t len = strcspn(p, "\"");
    assert_true(len > 0 && len <= 70);
    memcpy(b, p, len);
    b[len] = '\0';
}

/* Occurrences of needle in t. */
static int
count(const char *t, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(t, needle); p != NULL;
         p = strstr(p + 1, needle))
        n++;
    return n;
}

static const struct bounce_rcpt two_failed[] = {
    {.rcpt = "bob@remote.test",
     .dsn = "5.1.1",
     .remote_mta = "mx.remote.test",
     .diagnostic = "550 5.1.1 <bob@remote.test>: Recipient address rejected",
     .text = "host mx.remote.test[192.0.2.5] said: 550 5.1.1 "
             "<bob@remote.test>: Recipient address rejected (in reply to "
             "RCPT TO command)"},
    {.rcpt = "carol@remote.test",
     .dsn = "5.4.4",
     .text = "Host or domain name not found"},
};

static void
test_envelope_and_headers(void **state)
{
    struct fixture *f = *state;
    char want[512], date[SMTP_DATE_MAX], b[128];
    struct notice n;

    bounce(f, "plain", "Subject: x\r\n\r\nbody\r\n", two_failed, 2, &n);
    assert_string_equal(n.e->sender, "");
    assert_int_equal(n.e->n_rcpts, 1);
    assert_string_equal(n.e->rcpts[0], "alice@example.org");
    assert_int_equal(n.e->arrival, NOW);
    assert_false(n.e->smtputf8);
    assert_false(n.e->body_8bitmime);

    smtp_received_date(NOW, date, sizeof(date));
    snprintf(want, sizeof(want),
             "Received: by mail.example.org (tlsmta) id %s;\r\n\t%s\r\n"
             "Date: %s\r\n",
             n.id, date, date);
    assert_memory_equal(n.text, want, strlen(want));
    assert_true(has_line(n.text, "From: MAILER-DAEMON@mail.example.org "
                                 "(Mail Delivery System)\r\n"));
    assert_true(has_line(n.text, "To: <alice@example.org>\r\n"));
    assert_true(has_line(n.text, "Subject: Undelivered Mail Returned to "
                                 "Sender\r\n"));
    snprintf(want, sizeof(want), "\r\nMessage-ID: <%s@mail.example.org>\r\n",
             n.id);
    assert_has(n.text, want);
    assert_true(has_line(n.text, "Auto-Submitted: auto-replied\r\n"));
    assert_true(has_line(n.text, "MIME-Version: 1.0\r\n"));
    assert_true(has_line(n.text, "Content-Type: multipart/report; "
                                 "report-type=delivery-status;\r\n\t"
                                 "boundary=\""));
    assert_lacks(n.text, "Content-Transfer-Encoding");
    boundary_of(n.text, b);
    assert_memory_equal(b, n.id, strlen(n.id));
    /* Three parts and the close delimiter: the boundary occurs nowhere else
     * but in the Content-Type parameter. */
    snprintf(want, sizeof(want), "\r\n--%s\r\n", b);
    assert_int_equal(count(n.text, want), 3);
    snprintf(want, sizeof(want), "\r\n--%s--\r\n", b);
    assert_int_equal(count(n.text, want), 1);
    assert_int_equal(count(n.text, b), 5);
    notice_free(&n);
}

static void
test_parts(void **state)
{
    struct fixture *f = *state;
    char content[1024], want[512], arrival[SMTP_DATE_MAX];
    struct notice n;

    snprintf(content, sizeof(content), "%s%s", original_headers, original_body);
    bounce(f, "two", content, two_failed, 2, &n);

    assert_has(n.text, "Content-Type: text/plain; charset=us-ascii\r\n");
    assert_has(n.text, "This is the mail system at host mail.example.org.");
    assert_has(n.text, "I'm sorry to have to inform you");
    assert_has(n.text, "<bob@remote.test>: host mx.remote.test[192.0.2.5] "
                       "said: 550 5.1.1\r\n    <bob@remote.test>: Recipient "
                       "address rejected (in reply to RCPT TO\r\n    "
                       "command)\r\n");
    assert_has(n.text, "\r\n\r\n<carol@remote.test>: Host or domain name "
                       "not found\r\n\r\n--");

    smtp_received_date(ARRIVAL, arrival, sizeof(arrival));
    assert_has(n.text, "Content-Type: message/delivery-status\r\n\r\n"
                       "Reporting-MTA: dns; mail.example.org\r\n"
                       "X-Tlsmta-Queue-ID: ");
    snprintf(want, sizeof(want),
             "X-Tlsmta-Sender: rfc822; alice@example.org\r\n"
             "Arrival-Date: %s\r\n\r\n",
             arrival);
    assert_has(n.text, want);
    assert_has(n.text, "\r\n\r\nFinal-Recipient: rfc822; bob@remote.test\r\n"
                       "Action: failed\r\nStatus: 5.1.1\r\n"
                       "Remote-MTA: dns; mx.remote.test\r\n"
                       "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: "
                       "Recipient address rejected\r\n\r\n");
    assert_has(n.text, "\r\n\r\nFinal-Recipient: rfc822; carol@remote.test"
                       "\r\nAction: failed\r\nStatus: 5.4.4\r\n\r\n--");

    /* Part 3: the original header section exactly, not the body. */
    snprintf(want, sizeof(want),
             "Content-Type: text/rfc822-headers\r\n\r\n%s\r\n--",
             original_headers);
    assert_has(n.text, want);
    assert_lacks(n.text, "secret body");
    notice_free(&n);
}

/* Remote text with CR, LF, a fake boundary, fake fields, control and
 * 8-bit bytes: one folded field of printable ASCII, nothing injected. */
static void
test_injection(void **state)
{
    struct fixture *f = *state;
    static const char evil[] =
        "550 5.7.1 no\r\nSubject: injected\r\n\r\n--x\r\n"
        "Final-Recipient: rfc822; evil@attacker.test\n\rX-Bare: lf\r"
        "Action: delivered \x1b[31m\x7f\xc3\xa9\x01 end";
    const struct bounce_rcpt r[] = {
        {.rcpt = "bob@remote.test",
         .dsn = "5.7.1",
         .remote_mta = "mx.remote.test\r\nX-Evil: 1",
         .diagnostic = evil,
         .text = evil},
    };
    struct notice n;

    bounce(f, "injection", "Subject: x\r\n\r\nbody\r\n", r, 1, &n);
    assert_false(has_line(n.text, "Subject: injected"));
    assert_false(has_line(n.text, "Final-Recipient: rfc822; evil"));
    assert_false(has_line(n.text, "Action: delivered"));
    assert_false(has_line(n.text, "X-Evil"));
    assert_false(has_line(n.text, "X-Bare"));
    assert_false(has_line(n.text, "--x"));
    assert_has(n.text, "Remote-MTA: dns; mx.remote.test X-Evil: 1\r\n");
    assert_has(n.text, "Diagnostic-Code: smtp; 550 5.7.1 no Subject: "
                       "injected --x Final-Recipient:\r\n rfc822; "
                       "evil@attacker.test X-Bare: lf Action: delivered "
                       "?[31m???? end\r\n\r\n--");
    assert_false(n.e->body_8bitmime);
    notice_free(&n);
}

/* Long remote text: folded at spaces within 78 octets, a giant word cut
 * within 998, never a line of only white space. */
static void
test_long_diagnostic(void **state)
{
    struct fixture *f = *state;
    char diag[6000], word[1501], flood[8001];
    struct notice n;

    memset(word, 'w', 1500);
    word[1500] = '\0';
    snprintf(diag, sizeof(diag), "550 5.0.0");
    for (int i = 0; i < 60; i++)
        strcat(diag, i % 3 ? " word " : "    \t\r\n  ");
    strcat(diag, word);
    strcat(diag, " tail");
    for (size_t i = 0; i < 8000; i++)
        flood[i] = i % 4 == 3 ? ' ' : 'f';
    flood[8000] = '\0';
    const struct bounce_rcpt r[] = {
        {.rcpt = "bob@remote.test", .diagnostic = "smtp; 550 short"},
        {.rcpt = "carol@remote.test", .diagnostic = diag},
        {.rcpt = "dave@remote.test", .diagnostic = flood, .text = ""},
    };

    bounce(f, "long", "Subject: x\r\n\r\nbody\r\n", r, 3, &n);
    /* Remote text is cut at BOUNCE_TEXT_MAX bytes; an empty reason gets
     * the action's words. */
    const char *fl = strstr(n.text, "Diagnostic-Code: smtp; fff fff");
    assert_non_null(fl);
    assert_true(strstr(fl, "\r\n\r\n") - fl < 2048 + 23 + 3 * 30);
    assert_has(n.text, "<dave@remote.test>: delivery failed\r\n");
    /* No text: the diagnostic is the reason; no dsn: 5.0.0. */
    assert_has(n.text, "<bob@remote.test>: 550 short\r\n");
    assert_has(n.text, "Diagnostic-Code: smtp; 550 short\r\n");
    assert_int_equal(count(n.text, "Status: 5.0.0\r\n"), 3);
    const char *d = strstr(n.text, "Diagnostic-Code: smtp; 550 5.0.0");
    assert_non_null(d);
    size_t lines = 0;
    for (const char *l = d; *l != '\0';) {
        const char *end = strstr(l, "\r\n");
        size_t len = (size_t)(end - l);
        if (l != d && l[0] != ' ')
            break; /* the field ended */
        assert_true(len <= 998);
        assert_true(len <= 78 || memchr(l + 1, ' ', len - 1) == NULL);
        assert_true(strspn(l, " ") < len);
        lines++;
        l = end + 2;
    }
    assert_true(lines > 4);
    assert_has(n.text, "wwww\r\n wwww");
    assert_has(n.text, "www\r\n tail\r\n\r\n");
    notice_free(&n);
}

/* A header section over BOUNCE_HEADERS_MAX: cut at a line boundary, an
 * over-long line folded by force, the body never included. */
static void
test_long_headers(void **state)
{
    struct fixture *f = *state;
    size_t cap = 200000, len = 0;
    char *content = malloc(cap);
    const struct bounce_rcpt r[] = {{.rcpt = "bob@remote.test"}};
    struct notice n;

    len += (size_t)snprintf(content + len, cap - len, "X-Long: ");
    memset(content + len, 'L', 2500);
    len += 2500;
    len += (size_t)snprintf(content + len, cap - len, "\r\n");
    for (int i = 0; len < 150000; i++)
        len +=
            (size_t)snprintf(content + len, cap - len, "X-Filler-%05d: %s\r\n",
                             i, "abcdefghijklmnopqrstuvwxyz0123456789");
    snprintf(content + len, cap - len, "\r\nbody\r\n");

    bounce(f, "longheaders", content, r, 1, &n);
    const char *part = strstr(n.text, "Content-Type: text/rfc822-headers"
                                      "\r\n\r\nX-Long: LLL");
    assert_non_null(part);
    part = strstr(part, "\r\n\r\n") + 4;
    const char *end = strstr(part, "\r\n\r\n--");
    assert_non_null(end);
    size_t plen = (size_t)(end - part) + 2;
    assert_true(plen <= BOUNCE_HEADERS_MAX + 4);
    assert_true(plen > BOUNCE_HEADERS_MAX - 100);
    /* The last line kept is a whole filler line. */
    const char *last = end;
    while (last > part && memcmp(last - 2, "\r\n", 2) != 0)
        last--;
    assert_memory_equal(last, "X-Filler-", 9);
    assert_int_equal(end - last, 9 + 5 + 2 + 36);
    assert_has(n.text, "LLLL\r\n LLLL");
    assert_lacks(n.text, "body\r\n");
    free(content);
    notice_free(&n);
}

/* Delay warnings; bad status codes replaced by the action's default. */
static void
test_delayed(void **state)
{
    struct fixture *f = *state;
    const struct bounce_rcpt r[] = {
        {.rcpt = "bob@remote.test",
         .action = BOUNCE_ACTION_DELAYED,
         .dsn = "4.4.1",
         .remote_mta = "mx.remote.test",
         .text = "connect to mx.remote.test: Connection refused"},
        {.rcpt = "carol@remote.test",
         .action = BOUNCE_ACTION_DELAYED,
         .dsn = "4.1"},
    };
    struct notice n;

    bounce(f, "delayed", "Subject: x\r\n\r\nbody\r\n", r, 2, &n);
    assert_true(has_line(n.text, "Subject: Delayed Mail (still being "
                                 "retried)\r\n"));
    assert_has(n.text, "THIS IS A WARNING ONLY");
    assert_has(n.text, "Action: delayed\r\nStatus: 4.4.1\r\n");
    assert_has(n.text, "Action: delayed\r\nStatus: 4.0.0\r\n");
    assert_has(n.text, "<carol@remote.test>: delivery temporarily failed");
    assert_lacks(n.text, "Diagnostic-Code");
    notice_free(&n);

    /* Mixed: a bounce that lists a delayed recipient as still retried. */
    const struct bounce_rcpt mixed[] = {
        {.rcpt = "bob@remote.test", .dsn = "5.1"},
        {.rcpt = "carol@remote.test", .action = BOUNCE_ACTION_DELAYED},
    };
    bounce(f, "mixed", "Subject: x\r\n\r\nbody\r\n", mixed, 2, &n);
    assert_true(has_line(n.text, "Subject: Undelivered Mail"));
    assert_has(n.text, "Action: failed\r\nStatus: 5.0.0\r\n");
    assert_has(n.text, "<bob@remote.test>: delivery failed\r\n");
    assert_has(n.text, "<carol@remote.test>: (still being retried) "
                       "delivery temporarily failed\r\n");
    notice_free(&n);
}

/* SMTPUTF8 addresses: type utf-8 (RFC 6533), an SMTPUTF8 notice. */
static void
test_utf8(void **state)
{
    struct fixture *f = *state;
    const struct bounce_rcpt r[] = {
        {.rcpt = "j\xc3\xb6rg@ex\xc3\xa4mple.test", .dsn = "5.1.1"},
    };
    struct notice n;

    bounce(f, "utf8", "Subject: x\r\n\r\nbody\r\n", r, 1, &n);
    assert_true(n.e->smtputf8);
    assert_true(n.e->body_8bitmime);
    assert_has(n.text, "Final-Recipient: utf-8; j\xc3\xb6rg@ex\xc3\xa4mple"
                       ".test\r\n");
    assert_has(n.text, "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n");
    notice_free(&n);
}

/* RFC 3464 2: never a notice for a notice. */
static void
test_null_sender(void **state)
{
    struct fixture *f = *state;
    struct spool_entry *orig =
        original(f, "", "Subject: x\r\n\r\nbody\r\n", two_failed, 2);
    char id[SPOOL_QUEUE_ID_MAX] = "";
    char path[PATH_MAX];

    assert_int_equal(
        bounce_send(f->sp, &f->cfg, orig, two_failed, 2, NOW, id, sizeof(id)),
        BOUNCE_NULL_SENDER);
    assert_string_equal(id, "");
    tu_path(path, "%s/queue", f->dir);
    assert_int_equal(tu_count_dir(path, NULL), 1);
    tu_path(path, "%s/tmp", f->dir);
    assert_int_equal(tu_count_dir(path, NULL), 0);
    spool_entry_close(orig);
}

/* A message without a header section, and an empty one. */
static void
test_no_headers(void **state)
{
    struct fixture *f = *state;
    const struct bounce_rcpt r[] = {{.rcpt = "bob@remote.test"}};
    struct notice n;

    bounce(f, "noheaders", "\r\nonly a body\r\n", r, 1, &n);
    assert_has(n.text, "Content-Type: text/rfc822-headers\r\n\r\n\r\n--");
    assert_lacks(n.text, "only a body");
    notice_free(&n);
    bounce(f, "noblank", "Subject: all header\r\nX-Last: no newline", r, 1, &n);
    assert_has(n.text, "Content-Type: text/rfc822-headers\r\n\r\n"
                       "Subject: all header\r\nX-Last: no newline\r\n\r\n--");
    notice_free(&n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_envelope_and_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_diagnostic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_headers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
