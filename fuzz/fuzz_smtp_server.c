/*
 * fuzz_smtp_server.c -- libFuzzer harness for the SMTP server session
 * (src/smtp/), fed random bytes as a client would send them.
 *
 * Not built by meson. Build and run by hand (Debian 12: apt-get install
 * clang libclang-rt-14-dev):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -D_GNU_SOURCE -I src \
 *       fuzz/fuzz_smtp_server.c src/smtp/smtp_*.c \
 *       src/util/util_buf.c src/util/util_log.c -o /tmp/fuzz_smtp_server
 *   mkdir -p /tmp/fuzz-corpus
 *   /tmp/fuzz_smtp_server -max_total_time=60 /tmp/fuzz-corpus
 *
 * The first input byte chooses the session parameters (TLS mode, bare
 * newline policy, small limits), the second the AUTH mode and how the rest
 * is cut into pieces. The AUTH hooks offer PLAIN LOGIN X-FUZZ and let the
 * first octet of each decoded client message pick the outcome (success
 * with a login made of its octets, failure, 334 echoing it...). Beyond the
 * sanitizers, the harness aborts when:
 *  - the same input gives other replies or another stored message when
 *    fed in one piece and in small pieces (RFC 2920 pipelining must not
 *    depend on how the bytes arrive; runs that start TLS are exempt, as
 *    the driver then drops the rest of a piece);
 *  - a reply line is not "DDD SP/- text CRLF" with a 2xx-5xx code;
 *  - a committed message holds a bare CR or LF, or is over the limit;
 *  - msg_begin/msg_commit/msg_abort do not pair up, or the writer gets a
 *    piece over SMTP_DATA_CHUNK;
 *  - an AUTH hook runs before TLS, auth_start runs inside an exchange or
 *    after a success, auth_step/auth_abort outside one, an exchange is left
 *    open at the end, or a hook's view says authenticated when no
 *    exchange succeeded.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"
#include "smtp/smtp_server.h"
#include "util/util_buf.h"
#include "util/util_log.h"

#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond))                                                        \
            abort();                                                        \
    } while (0)

/* What the AUTH hooks know of the session. */
struct fuzz_auth {
    bool tls;               /* the harness started TLS */
    bool exchange;          /* a 334 is outstanding */
    bool authenticated;     /* an exchange ended in OK */
    unsigned failures;      /* auth_failed calls */
};

struct fuzz_store {
    struct buf content;     /* the open message */
    struct buf committed;   /* every committed message, concatenated */
    uint64_t limit;         /* message_size_limit */
    bool open;              /* msg_begin without commit/abort */
    unsigned commits;
    struct fuzz_auth auth;
};

/* A hook's view agrees with what the AUTH hooks saw. */
static void
fuzz_check_view(const struct fuzz_store *f, const struct smtp_session_view *sv)
{
    FUZZ_CHECK(sv->authenticated == f->auth.authenticated);
    FUZZ_CHECK(!sv->authenticated || (sv->tls && sv->auth_user != NULL));
}

static enum smtp_rcpt_verdict
fuzz_rcpt_check(void *ctx, const struct smtp_session_view *sv,
                const struct smtp_address *a)
{
    fuzz_check_view(ctx, sv);
    /* Deterministic, so both runs of one input agree. */
    return (enum smtp_rcpt_verdict)((unsigned char)a->local[0] % 4);
}

static int
fuzz_msg_begin(void *ctx, const struct smtp_session_view *sv,
               const struct smtp_transaction *t)
{
    struct fuzz_store *f = ctx;
    fuzz_check_view(f, sv);
    FUZZ_CHECK(!f->open);
    FUZZ_CHECK(t->n_rcpts > 0);
    if (t->sender.local[0] == 'F')
        return -1;
    f->open = true;
    buf_reset(&f->content);
    return 0;
}

static int
fuzz_msg_write(void *ctx, const char *data, size_t len, bool *nospace)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->open);
    FUZZ_CHECK(len > 0 && len <= SMTP_DATA_CHUNK);
    if (buf_append(&f->content, data, len) < 0) {
        *nospace = true;
        return -1;
    }
    return 0;
}

/* A stored message has CRLF line ends only (bare ones are normalised or
 * refused). */
static void
fuzz_check_crlf(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r')
            FUZZ_CHECK(i + 1 < n && p[i + 1] == '\n');
        if (p[i] == '\n')
            FUZZ_CHECK(i > 0 && p[i - 1] == '\r');
    }
}

static enum smtp_store_result
fuzz_msg_commit(void *ctx, char *queue_id, size_t size)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->open);
    f->open = false;
    fuzz_check_crlf(f->content.data, f->content.len);
    FUZZ_CHECK(f->limit == 0 || f->content.len <= f->limit);
    buf_append(&f->committed, f->content.data, f->content.len);
    buf_append(&f->committed, "|", 1);
    f->commits++;
    memcpy(queue_id, "QID", size < 4 ? size : 4);
    queue_id[size - 1] = '\0';
    return (enum smtp_store_result)(f->commits % 3);
}

static void
fuzz_msg_abort(void *ctx)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->open);
    f->open = false;
    buf_append(&f->committed, "A|", 2);
}

/* ---- AUTH ---------------------------------------------------------------*/

static const char *
fuzz_auth_mechanisms(void *ctx)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->auth.tls);
    return "PLAIN LOGIN X-FUZZ";
}

/* The outcome a decoded client message asks for with its first octet;
 * the rest becomes the login or the next challenge. */
static enum smtp_auth_status
fuzz_auth_decide(struct fuzz_store *f, const char *msg, size_t len,
                 struct buf *challenge, char *user, size_t user_size)
{
    enum smtp_auth_status st =
        len == 0 ? SMTP_AUTH_CONTINUE
                 : (enum smtp_auth_status)((unsigned char)msg[0] % 5);
    size_t n = len > 0 ? len - 1 : 0;

    FUZZ_CHECK(user_size > 1);
    if (n >= user_size)
        n = user_size - 1;
    memcpy(user, msg + (len > 0), n); /* any octets, NUL and CR included */
    user[n] = '\0';
    if (st == SMTP_AUTH_CONTINUE &&
        buf_append(challenge, msg, len > 64 ? 64 : len) < 0)
        st = SMTP_AUTH_TEMPFAIL;
    f->auth.exchange = st == SMTP_AUTH_CONTINUE;
    f->auth.authenticated = st == SMTP_AUTH_OK;
    return st;
}

static enum smtp_auth_status
fuzz_auth_start(void *ctx, const char *mech, const char *initial,
                size_t initial_len, bool has_initial, struct buf *challenge,
                char *user, size_t user_size)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->auth.tls && !f->auth.exchange && !f->auth.authenticated);
    FUZZ_CHECK(strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0 ||
               strcmp(mech, "X-FUZZ") == 0);
    FUZZ_CHECK(has_initial || initial_len == 0);
    if (!has_initial) {
        f->auth.exchange = true;
        buf_puts(challenge, mech);
        return SMTP_AUTH_CONTINUE;
    }
    return fuzz_auth_decide(f, initial, initial_len, challenge, user,
                            user_size);
}

static enum smtp_auth_status
fuzz_auth_step(void *ctx, const char *response, size_t len,
               struct buf *challenge, char *user, size_t user_size)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->auth.tls && f->auth.exchange);
    return fuzz_auth_decide(f, response, len, challenge, user, user_size);
}

static void
fuzz_auth_abort(void *ctx)
{
    struct fuzz_store *f = ctx;
    FUZZ_CHECK(f->auth.exchange);
    f->auth.exchange = false;
}

static bool
fuzz_auth_failed(void *ctx, const char *user)
{
    struct fuzz_store *f = ctx;
    (void)user;
    FUZZ_CHECK(!f->auth.exchange && !f->auth.authenticated);
    return ++f->auth.failures < 3;
}

static bool
fuzz_sender_allowed(void *ctx, const struct smtp_session_view *sv,
                    const struct smtp_address *sender)
{
    struct fuzz_store *f = ctx;
    fuzz_check_view(f, sv);
    FUZZ_CHECK(sv->authenticated);
    return sender->local[0] != 'x';
}

/* Every reply line: three digits 2xx-5xx, SP or '-', text, CRLF. */
static void
fuzz_check_replies(const struct buf *out)
{
    size_t i = 0;
    while (i < out->len) {
        const char *l = out->data + i;
        const char *eol = memchr(l, '\n', out->len - i);
        FUZZ_CHECK(eol != NULL && eol - l >= 5 && eol[-1] == '\r');
        FUZZ_CHECK(l[0] >= '2' && l[0] <= '5');
        FUZZ_CHECK(l[1] >= '0' && l[1] <= '9' && l[2] >= '0' && l[2] <= '9');
        FUZZ_CHECK(l[3] == ' ' || l[3] == '-');
        for (const char *p = l; p < eol - 1; p++)
            FUZZ_CHECK(*p != '\r' && *p != '\0');
        i += (size_t)(eol - l) + 1;
    }
}

struct fuzz_run {
    struct buf out;         /* all replies */
    struct fuzz_store store;
    bool tls_started;       /* a STARTTLS was acted on */
};

/* Feed data in pieces of step bytes (0: one piece), as the I/O layer
 * does: on STARTTLS drop the rest of the piece and start TLS; on CLOSE
 * stop. With idle_end, the session ends by a timeout. */
static void
fuzz_session(const struct smtp_server_params *p, const uint8_t *data,
             size_t len, size_t step, bool idle_end, struct fuzz_run *r)
{
    struct smtp_server_hooks hooks = {
        .ctx = &r->store,
        .rcpt_check = fuzz_rcpt_check,
        .msg_begin = fuzz_msg_begin,
        .msg_write = fuzz_msg_write,
        .msg_commit = fuzz_msg_commit,
        .msg_abort = fuzz_msg_abort,
        .auth_mechanisms = fuzz_auth_mechanisms,
        .auth_start = fuzz_auth_start,
        .auth_step = fuzz_auth_step,
        .auth_abort = fuzz_auth_abort,
        .auth_failed = fuzz_auth_failed,
        .sender_allowed = fuzz_sender_allowed,
    };
    struct smtp_server *s = smtp_server_new(p, &hooks);
    enum smtp_server_action action = SMTP_ACTION_NONE;
    size_t pos = 0;

    FUZZ_CHECK(s != NULL);
    if (p->tls_mode == SMTP_TLS_IMPLICIT) {
        r->store.auth.tls = true;
        smtp_server_tls_started(s);
    }
    smtp_server_greeting(s, &r->out);
    while (pos < len && action != SMTP_ACTION_CLOSE) {
        size_t n = step == 0 || len - pos < step ? len - pos : step;
        size_t used = smtp_server_feed(s, (const char *)data + pos, n,
                                       &r->out, &action);
        FUZZ_CHECK(used <= n);
        FUZZ_CHECK(used == n || action != SMTP_ACTION_NONE);
        if (action == SMTP_ACTION_AUTH_FAILED) {
            /* A driver without a tarpit feeds the rest at once. */
            pos += used;
            action = SMTP_ACTION_NONE;
            continue;
        }
        pos += n;
        if (action == SMTP_ACTION_STARTTLS) {
            r->tls_started = true;
            r->store.auth.tls = true;
            smtp_server_tls_started(s);
            action = SMTP_ACTION_NONE;
        }
    }
    if (idle_end)
        smtp_server_timeout(s, &r->out);
    smtp_server_free(s);
    FUZZ_CHECK(!r->store.open);
    FUZZ_CHECK(!r->store.auth.exchange);
    fuzz_check_replies(&r->out);
}

static void
fuzz_run_init(struct fuzz_run *r, uint64_t limit)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, 0);
    buf_init(&r->store.content, 0);
    buf_init(&r->store.committed, 0);
    r->store.limit = limit;
}

static void
fuzz_run_free(struct fuzz_run *r)
{
    buf_free(&r->out);
    buf_free(&r->store.content);
    buf_free(&r->store.committed);
}

static bool
buf_same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 ||
                                memcmp(a->data, b->data, a->len) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERR); /* reject lines would drown the output */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t cfg = data[0];
    size_t step = (data[1] & 63) % 17 + 1;
    static const enum smtp_auth_mode auth_modes[] = {
        SMTP_AUTH_MODE_OFF, SMTP_AUTH_MODE_OPTIONAL, SMTP_AUTH_MODE_REQUIRED,
        SMTP_AUTH_MODE_OPTIONAL,
    };
    struct smtp_server_params p = {
        .hostname = "mx.example.org",
        .session_id = "FUZZ",
        .client_addr = "192.0.2.1",
        .message_size_limit = (cfg & 2) ? 64 : 0,
        .recipient_limit = (cfg & 4) ? 2 : 0,
        .hard_error_limit = (cfg & 8) ? 3 : 1000,
        .tls_mode = (enum smtp_tls_mode)((cfg >> 4) & 3),
        .bare_newline = (cfg & 64) ? SMTP_BARE_NEWLINE_REJECT
                                   : SMTP_BARE_NEWLINE_NORMALIZE,
        .auth_mode = auth_modes[data[1] >> 6],
    };
    struct fuzz_run whole, pieces;

    fuzz_run_init(&whole, p.message_size_limit);
    fuzz_run_init(&pieces, p.message_size_limit);
    fuzz_session(&p, data + 2, size - 2, 0, cfg & 1, &whole);
    fuzz_session(&p, data + 2, size - 2, step, cfg & 1, &pieces);
    if (!whole.tls_started && !pieces.tls_started) {
        FUZZ_CHECK(buf_same(&whole.out, &pieces.out));
        FUZZ_CHECK(buf_same(&whole.store.committed,
                            &pieces.store.committed));
    }
    fuzz_run_free(&whole);
    fuzz_run_free(&pieces);
    return 0;
}
