/*
 * test_smtp_data.c -- DATA framing: end of data, dot-unstuffing, SMTP
 * smuggling sequences, bare CR/LF, size limit, chunked writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_data.h"
#include "util/util_buf.h"

/* The writer: collects content, can be told to fail. */
struct sink {
    struct buf content;
    unsigned writes;
    size_t largest;       /* biggest piece handed over */
    int fail_at;          /* fail on this write (1-based); 0 never */
    bool fail_nospace;
};

static int
sink_write(void *ctx, const char *data, size_t len, bool *nospace)
{
    struct sink *k = ctx;
    k->writes++;
    if (k->fail_at != 0 && (int)k->writes >= k->fail_at) {
        *nospace = k->fail_nospace;
        return -1;
    }
    if (len > k->largest)
        k->largest = len;
    assert_int_equal(buf_append(&k->content, data, len), 0);
    return 0;
}

struct run {
    enum smtp_data_result result;
    size_t consumed;      /* bytes taken up to and including the end */
    bool done;
};

static unsigned run_hop_limit; /* given to smtp_data_set_hop_limit() */

/* Feed in pieces of at most step bytes (0: all at once). */
static struct run
run_data(const char *in, size_t len, size_t step, uint64_t limit,
         bool reject, struct sink *k)
{
    struct smtp_data *d = malloc(sizeof(*d));
    struct run r = {SMTP_DATA_OK, 0, false};

    assert_non_null(d);
    buf_init(&k->content, 0);
    smtp_data_init(d, limit, reject, sink_write, k);
    smtp_data_set_hop_limit(d, run_hop_limit);
    while (r.consumed < len && !r.done) {
        size_t n = len - r.consumed;
        if (step != 0 && n > step)
            n = step;
        size_t used = smtp_data_feed(d, in + r.consumed, n, &r.done);
        assert_true(used == n || r.done);
        r.consumed += used;
    }
    if (r.done)
        r.result = smtp_data_finish(d);
    free(d);
    return r;
}

#define S(lit) lit, sizeof(lit) - 1

/* in ends data after exactly end_at bytes and stores want (normalise). */
static void
expect_stored(const char *in, size_t len, size_t end_at, const char *want,
              size_t want_len)
{
    struct sink k = {0};
    struct run r = run_data(in, len, 0, 0, false, &k);
    assert_true(r.done);
    assert_int_equal(r.consumed, end_at);
    assert_int_equal(r.result, SMTP_DATA_OK);
    assert_int_equal(k.content.len, want_len);
    assert_memory_equal(k.content.data ? k.content.data : "", want,
                        want_len);
    buf_free(&k.content);
}

/* in (a literal) ends data at its last byte and stores want. */
#define EXPECT_ALL(in, want) expect_stored(S(in), sizeof(in) - 1, S(want))

static void
test_simple_end(void **state)
{
    (void)state;
    static const char in[] = "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    expect_stored(S(in), sizeof(in) - 1 - 6,
                  S("Subject: x\r\n\r\nbody\r\n"));
}

static void
test_empty_message(void **state)
{
    (void)state;
    /* The dot right after 354 ends the data (the DATA line's CRLF counts).*/
    expect_stored(S(".\r\nNOOP\r\n"), 3, S(""));
}

static void
test_dot_unstuffing(void **state)
{
    (void)state;
    static const char in[] = "..a\r\n.b\r\n...\r\n..\r\nx.y\r\n .\r\n.\r\n";
    expect_stored(S(in), sizeof(in) - 1,
                  S(".a\r\nb\r\n..\r\n.\r\nx.y\r\n .\r\n"));
}

/* The four SMTP smuggling forms (smtp_data.h) end nothing: the data goes
 * on to the real <CRLF>.<CRLF>, with the bare newlines normalised. */
static void
test_smuggling_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in;     /* "a" SEQ "MAIL FROM:<x@y>\r\n.\r\n" */
        const char *want;   /* stored */
    } forms[] = {
        /* <LF>.<LF> */
        {"a\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"},
        /* <CR>.<CR> */
        {"a\r.\rMAIL FROM:<x@y>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"},
        /* <LF>.<CRLF> */
        {"a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n",
         "a\r\n.\r\nMAIL FROM:<x@y>\r\n"},
        /* <CRLF>.<LF>: the line starts after a real CRLF, so its "." is
         * stuffing and goes. */
        {"a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\r\n\r\nMAIL FROM:<x@y>\r\n"},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        expect_stored(forms[i].in, strlen(forms[i].in), strlen(forms[i].in),
                      forms[i].want, strlen(forms[i].want));
}

static void
test_smuggling_more(void **state)
{
    (void)state;
    /* <CRLF>.<CR><CRLF>: not an end; <CR><LF> after a bare CR is. */
    EXPECT_ALL("a\r\n.\r\r\n.\r\n", "a\r\n\r\n\r\n");
    /* Start of data: ".<LF>" and "<LF>.<CRLF>" do not end it. */
    EXPECT_ALL(".\nb\r\n.\r\n", "\r\nb\r\n");
    EXPECT_ALL("\n.\r\nb\r\n.\r\n", "\r\n.\r\nb\r\n");
    /* <CR><CRLF>.<CRLF> ends (the CRLF before the dot is real). */
    EXPECT_ALL("a\r\r\n.\r\n", "a\r\n\r\n");
}

/* In reject mode every smuggling form refuses the whole message, read to
 * the real end. */
static void
test_smuggling_rejected(void **state)
{
    (void)state;
    static const char *const ins[] = {
        "a\n.\nMAIL\r\n.\r\nNEXT",   "a\r.\rMAIL\r\n.\r\nNEXT",
        "a\n.\r\nMAIL\r\n.\r\nNEXT", "a\r\n.\nMAIL\r\n.\r\nNEXT",
        "bare\rcr\r\n.\r\nNEXT",     "bare\nlf\r\n.\r\nNEXT",
    };
    for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
        struct sink k = {0};
        size_t len = strlen(ins[i]);
        struct run r = run_data(ins[i], len, 0, 0, true, &k);
        assert_true(r.done);
        assert_int_equal(r.consumed, len - 4);
        assert_int_equal(r.result, SMTP_DATA_BARE_NEWLINE);
        assert_int_equal(k.writes, 0);
        buf_free(&k.content);
    }
}

static void
test_bare_normalised(void **state)
{
    (void)state;
    EXPECT_ALL("a\rb\nc\r\r\nd\n\n\r\n.\r\n",
               "a\r\nb\r\nc\r\n\r\nd\r\n\r\n\r\n");
}

static void
test_size_limit(void **state)
{
    (void)state;
    struct sink k = {0};
    /* 10 stored octets: at the limit. */
    struct run r = run_data(S("12345678\r\n.\r\n"), 0, 10, false, &k);
    assert_int_equal(r.result, SMTP_DATA_OK);
    buf_free(&k.content);
    /* Stuffing dots are not counted. */
    r = run_data(S("..2345678\r\n.\r\n"), 0, 10, false, &k);
    assert_int_equal(r.result, SMTP_DATA_OK);
    assert_string_equal(k.content.data, ".2345678\r\n");
    buf_free(&k.content);
    /* 11: over, read to the end all the same. */
    static const char big[] = "123456789\r\n.\r\nNEXT";
    r = run_data(S(big), 0, 10, false, &k);
    assert_true(r.done);
    assert_int_equal(r.consumed, sizeof(big) - 1 - 4);
    assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
    buf_free(&k.content);
    /* A permanent verdict outranks the others. */
    r = run_data(S("12345\n6789\r\n.\r\n"), 0, 10, true, &k);
    assert_int_equal(r.result, SMTP_DATA_TOO_BIG);
    buf_free(&k.content);
}

/* A message of n octets of text in lines of line_len, with its end. */
static char *
make_message(size_t n, size_t line_len, size_t *len)
{
    char *m = malloc(n + 8);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = (char)('a' + i % 26);
    for (size_t i = line_len; i + 1 < n; i += line_len + 2) {
        m[i] = '\r';
        m[i + 1] = '\n';
    }
    memcpy(m + n, "\r\n.\r\n", 5);
    *len = n + 5;
    return m;
}

static void
test_chunked_writes(void **state)
{
    (void)state;
    size_t len;
    char *m = make_message(100000, 76, &len);
    struct sink k = {0};
    struct run r = run_data(m, len, 1000, 0, false, &k);
    assert_int_equal(r.result, SMTP_DATA_OK);
    assert_int_equal(k.content.len, 100002);
    assert_memory_equal(k.content.data, m, 100002);
    assert_int_equal(k.largest, SMTP_DATA_CHUNK);
    assert_int_equal(k.writes, (100002 + SMTP_DATA_CHUNK - 1) /
                                   SMTP_DATA_CHUNK);
    buf_free(&k.content);
    free(m);
}

static void
test_long_line_kept(void **state)
{
    (void)state;
    /* No line length limit but the message size: don't lose mail. */
    size_t len;
    char *m = make_message(200000, 300000, &len);
    struct sink k = {0};
    struct run r = run_data(m, len, 0, 0, false, &k);
    assert_int_equal(r.result, SMTP_DATA_OK);
    assert_int_equal(k.content.len, 200002);
    buf_free(&k.content);
    free(m);
}

static void
test_writer_failure(void **state)
{
    (void)state;
    size_t len;
    char *m = make_message(3 * SMTP_DATA_CHUNK, 76, &len);
    struct sink k = {.fail_at = 2, .fail_nospace = true};
    struct run r = run_data(m, len, 0, 0, false, &k);
    assert_true(r.done);
    assert_int_equal(r.consumed, len);
    assert_int_equal(r.result, SMTP_DATA_NO_SPACE);
    assert_int_equal(k.writes, 2); /* never called again after -1 */
    buf_free(&k.content);

    struct sink k2 = {.fail_at = 1};
    r = run_data(m, len, 0, 0, false, &k2);
    assert_int_equal(r.result, SMTP_DATA_WRITE_FAILED);
    assert_int_equal(k2.writes, 1);
    buf_free(&k2.content);
    free(m);
}

/* The same input split anywhere gives the same result. */
static void
test_split_anywhere(void **state)
{
    (void)state;
    static const char *const ins[] = {
        "..a\r\n.b\r\na\r.\rb\n.\nc\r\n.\nd\r\r\n.\r\nTAIL",
        ".\r\nTAIL",
        "x\r\n..\r\n.\r\r\n\r\n.\r\nTAIL",
    };
    for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
        size_t len = strlen(ins[i]);
        for (int reject = 0; reject < 2; reject++) {
            struct sink whole = {0};
            struct run rw = run_data(ins[i], len, 0, 0, reject, &whole);
            assert_int_equal(rw.consumed, len - 4);
            for (size_t step = 1; step < len; step++) {
                struct sink k = {0};
                struct run r = run_data(ins[i], len, step, 0, reject, &k);
                assert_int_equal(r.consumed, rw.consumed);
                assert_int_equal(r.result, rw.result);
                assert_int_equal(k.content.len, whole.content.len);
                if (k.content.len)
                    assert_memory_equal(k.content.data, whole.content.data,
                                        k.content.len);
                buf_free(&k.content);
            }
            buf_free(&whole.content);
        }
    }
}

/* RFC 5321 6.3: count Received: header fields, whatever the piece size
 * (a field name split across feeds still counts), never in the body, never
 * a continuation line or X-Received:. */
static void
test_hop_limit(void **state)
{
    static const char loop[] = "received: 1\r\nReceived: 2\r\n"
                               "RECEIVED:3\r\nSubject: x\r\n\r\nbody\r\n.\r\n";
    static const char fine[] = "Received: 1\r\n Received: cont\r\n"
                               "X-Received: 2\r\nReceived: 3\r\n"
                               "\r\nReceived: body\r\n.\r\n";
    static const char no_header[] = "\r\nReceived: 1\r\nReceived: 2\r\n"
                                    "Received: 3\r\n.\r\n";
    (void)state;
    run_hop_limit = 3;
    for (size_t step = 0; step <= 11; step++) {
        struct sink k = {0};
        struct run r = run_data(S(loop), step, 0, false, &k);
        assert_true(r.done);
        assert_int_equal(r.result, SMTP_DATA_TOO_MANY_HOPS);
        buf_free(&k.content);
        r = run_data(S(fine), step, 0, false, &k);
        assert_int_equal(r.result, SMTP_DATA_OK);
        buf_free(&k.content);
        r = run_data(S(no_header), step, 0, false, &k);
        assert_int_equal(r.result, SMTP_DATA_OK);
        buf_free(&k.content);
    }
    run_hop_limit = 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hop_limit),
        cmocka_unit_test(test_simple_end),
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_dot_unstuffing),
        cmocka_unit_test(test_smuggling_forms),
        cmocka_unit_test(test_smuggling_more),
        cmocka_unit_test(test_smuggling_rejected),
        cmocka_unit_test(test_bare_normalised),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_chunked_writes),
        cmocka_unit_test(test_long_line_kept),
        cmocka_unit_test(test_writer_failure),
        cmocka_unit_test(test_split_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
