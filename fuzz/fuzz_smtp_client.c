/*
 * fuzz_smtp_client.c -- libFuzzer harness for the SMTP client session
 * (src/smtp/smtp_client.c and smtp_reply_read.c), fed random bytes as a
 * server would send them.
 *
 * Not built by meson. Build and run by hand (Debian 12: apt-get install
 * clang libclang-rt-14-dev):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -D_GNU_SOURCE -I src \
 *       fuzz/fuzz_smtp_client.c src/smtp/smtp_*.c \
 *       src/util/util_buf.c src/util/util_log.c -o /tmp/fuzz_smtp_client
 *   mkdir -p /tmp/fuzz-client-corpus
 *   /tmp/fuzz_smtp_client -max_total_time=60 /tmp/fuzz-client-corpus
 *
 * The first input byte chooses the session parameters (TLS mode, AUTH,
 * recipients, SMTPUTF8, size), the second how the rest is cut into
 * pieces. The harness plays the driver: it feeds the pieces, does "TLS"
 * on STARTTLS, pumps a content full of dots and bare newlines on
 * SEND_CONTENT, and aborts the session if the input ends first. Beyond
 * the sanitizers, it aborts when:
 *  - the same input gives other client bytes or other results when fed in
 *    one piece and in small pieces (runs that start TLS are exempt: the
 *    client then drops the rest of a piece, as RFC 3207 4.2 wants);
 *  - the client ever sends a bare CR or LF, or a command line over 1000
 *    octets (only the content may be longer);
 *  - AUTH is sent before TLS;
 *  - a recipient is still pending at DONE, a result's status and its
 *    enhanced code disagree, a code is outside 200-559, or a text is not
 *    printable ASCII.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_client.h"
#include "util/util_buf.h"
#include "util/util_log.h"

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#define FUZZ_LINE_MAX 1000 /* no command line of ours is longer */

static const char *const fuzz_rcpts[] = {"b@example.net", "c@example.net",
                                         "d\xc3\xa9@example.net"};

/* Dots at line starts, bare CR and LF, a CR split from its LF by the
 * pumping below. */
static const char fuzz_content[] =
    "Subject: x\r\n\r\n.\r\n..\n.\r.x\r\r\n\n\r\nend.\r";

struct fuzz_run {
    struct buf out;     /* every byte the client sent */
    struct buf results; /* status, code, dsn, text of each rcpt */
    bool tls;           /* TLS is on (implicit or after STARTTLS) */
    bool tls_started;   /* a STARTTLS action was taken */
};

/* Take the client's output; before TLS it must hold no AUTH. */
static void
fuzz_take_output(struct smtp_client *c, struct fuzz_run *r)
{
    size_t len;
    const char *p = smtp_client_output(c, &len);

    if (!r->tls)
        FUZZ_CHECK(memmem(p, len, "AUTH", 4) == NULL);
    FUZZ_CHECK(buf_append(&r->out, p, len) == 0);
    smtp_client_output_clear(c);
}

/* Pump the content in pieces of 1..7 octets, as a driver would. */
static void
fuzz_send_content(struct smtp_client *c, struct fuzz_run *r)
{
    size_t len = sizeof(fuzz_content) - 1;
    for (size_t pos = 0, n = 1; pos < len; pos += n, n = n % 7 + 1) {
        if (n > len - pos)
            n = len - pos;
        smtp_client_content(c, fuzz_content + pos, n);
        fuzz_take_output(c, r);
    }
    smtp_client_content_end(c);
    fuzz_take_output(c, r);
}

/* Act on the client's action until it wants more bytes or is done. */
static enum smtp_client_action
fuzz_drive(struct smtp_client *c, struct fuzz_run *r, enum smtp_client_action a)
{
    fuzz_take_output(c, r);
    while (a == SMTP_CLIENT_STARTTLS || a == SMTP_CLIENT_SEND_CONTENT) {
        if (a == SMTP_CLIENT_STARTTLS) {
            r->tls = r->tls_started = true;
            smtp_client_tls_done(c);
        } else {
            fuzz_send_content(c, r);
        }
        a = smtp_client_action(c);
        fuzz_take_output(c, r);
    }
    return a;
}

/* The client never sends a bare CR or LF, nor an overlong command. */
static void
fuzz_check_output(const struct buf *out)
{
    size_t line = 0;
    for (size_t i = 0; i < out->len; i++) {
        if (out->data[i] == '\r')
            FUZZ_CHECK(i + 1 < out->len && out->data[i + 1] == '\n');
        if (out->data[i] == '\n')
            FUZZ_CHECK(i > 0 && out->data[i - 1] == '\r');
        line = out->data[i] == '\n' ? 0 : line + 1;
        FUZZ_CHECK(line <= FUZZ_LINE_MAX);
    }
}

static void
fuzz_check_results(const struct smtp_client *c, size_t n, struct buf *log)
{
    static const char class_of[] = {[SMTP_CLIENT_SENT] = '2',
                                    [SMTP_CLIENT_DEFERRED] = '4',
                                    [SMTP_CLIENT_BOUNCED] = '5'};
    for (size_t i = 0; i < n; i++) {
        const struct smtp_client_result *r = smtp_client_rcpt_result(c, i);
        FUZZ_CHECK(r->status != SMTP_CLIENT_PENDING);
        FUZZ_CHECK(r->dsn[0] == class_of[r->status] && r->dsn[1] == '.');
        FUZZ_CHECK(r->code == 0 || (r->code >= 200 && r->code <= 559));
        FUZZ_CHECK(r->status != SMTP_CLIENT_SENT || r->code / 100 == 2);
        for (const char *p = r->text; *p != '\0'; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
        buf_printf(log, "%d %d %s %s|", (int)r->status, r->code, r->dsn,
                   r->text);
    }
    FUZZ_CHECK(smtp_client_rcpt_result(c, n) == NULL);
}

/* One session: data in pieces of step octets (0: one piece). */
static void
fuzz_session(const struct smtp_client_params *p, const uint8_t *data,
             size_t len, size_t step, struct fuzz_run *r)
{
    struct smtp_client *c = smtp_client_new(p);
    enum smtp_client_action a = SMTP_CLIENT_WANT_READ;
    size_t pos = 0;

    FUZZ_CHECK(c != NULL);
    r->tls = p->tls == SMTP_CLIENT_TLS_IMPLICIT;
    while (pos < len && a != SMTP_CLIENT_DONE) {
        size_t n = step == 0 || len - pos < step ? len - pos : step;
        a = smtp_client_feed(c, (const char *)data + pos, n);
        pos += n;
        a = fuzz_drive(c, r, a);
    }
    if (a != SMTP_CLIENT_DONE)
        smtp_client_abort(c, "lost connection");
    FUZZ_CHECK(smtp_client_action(c) == SMTP_CLIENT_DONE);
    fuzz_take_output(c, r);
    fuzz_check_output(&r->out);
    fuzz_check_results(c, p->n_rcpts, &r->results);
    FUZZ_CHECK(smtp_client_stage(c) != NULL);
    smtp_client_free(c);
}

static bool
buf_same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERR);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t cfg = data[0];
    size_t step = data[1] % 17 + 1;
    struct smtp_client_params p = {
        .helo_name = "client.example.org",
        .sender = (cfg & 0x40) ? "" : "a@example.org",
        .rcpts = fuzz_rcpts,
        .n_rcpts = (cfg >> 2) % 4,
        .size = (cfg & 0x80) ? 5000 : 100,
        .body_8bitmime = cfg & 0x20,
        .smtputf8 = cfg & 0x10,
        .tls = (enum smtp_client_tls)(cfg & 3),
        .auth_user = (data[1] & 0x80) ? "user" : NULL,
        .auth_pass = "secret",
    };
    struct fuzz_run whole = {0}, pieces = {0};

    buf_init(&whole.out, 0);
    buf_init(&whole.results, 0);
    buf_init(&pieces.out, 0);
    buf_init(&pieces.results, 0);
    fuzz_session(&p, data + 2, size - 2, 0, &whole);
    fuzz_session(&p, data + 2, size - 2, step, &pieces);
    if (!whole.tls_started && !pieces.tls_started) {
        FUZZ_CHECK(buf_same(&whole.out, &pieces.out));
        FUZZ_CHECK(buf_same(&whole.results, &pieces.results));
    }
    buf_free(&whole.out);
    buf_free(&whole.results);
    buf_free(&pieces.out);
    buf_free(&pieces.results);
    return 0;
}
