/*
 * bench_msg.c -- generate the benchmark message (see bench_msg.h).
 *
 * The body is pseudo-random English-looking words cut into lines, so that the
 * server's DATA path sees ordinary text rather than one long run of a single
 * byte. The generator is seeded with a constant: every run sends the same
 * bytes, apart from the Message-ID counter.
 */
#include "bench_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const bench_msg_words[] = {
    "the",     "message", "server",  "queue",   "delivery", "transport",
    "secure",  "layer",   "of",      "and",     "mail",     "relay",
    "a",       "to",      "benchmark", "session", "cipher", "handshake",
    "is",      "in",      "for",     "with",    "spool",    "maildir",
    "load",    "test",    "sender",  "recipient", "envelope", "content",
};
#define BENCH_MSG_NWORDS (sizeof bench_msg_words / sizeof bench_msg_words[0])

/* Format the headers into buf; returns their length or -1 if too long. */
static int
bench_msg_headers(char *buf, size_t cap, const char *sender, const char *helo,
                  size_t *seq_off)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    int before, len;

    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z",
             localtime_r(&now, &tm));
    before = snprintf(buf, cap,
                      "From: <%s>\r\n"
                      "To: undisclosed-recipients:;\r\n"
                      "Subject: tlsmta benchmark message\r\n"
                      "Date: %s\r\n"
                      "Message-ID: <",
                      sender, date);
    if (before < 0 || (size_t)before >= cap)
        return -1;
    *seq_off = (size_t)before;
    len = snprintf(buf + before, cap - (size_t)before,
                   "%0*d.%ld@%s>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=us-ascii\r\n"
                   "\r\n",
                   BENCH_MSG_SEQ_DIGITS, 0, (long)getpid(), helo);
    if (len < 0 || (size_t)len >= cap - (size_t)before)
        return -1;
    return before + len;
}

/* Fill dst with exactly n characters of words separated by spaces; the
 * first character is always a letter (never '.', never a space). */
static void
bench_msg_text(char *dst, size_t n, unsigned *rng)
{
    size_t i = 0;

    while (i < n) {
        const char *w;
        size_t wl;

        *rng = *rng * 1103515245u + 12345u;
        w = bench_msg_words[(*rng >> 16) % BENCH_MSG_NWORDS];
        wl = strlen(w);
        if (wl > n - i)
            wl = n - i;
        memcpy(dst + i, w, wl);
        i += wl;
        if (i < n)
            dst[i++] = ' ';
    }
    if (n > 0 && dst[n - 1] == ' ')
        dst[n - 1] = 'x'; /* no trailing white space on a line */
}

/* Length of the next body line's text, given `left` bytes still to fill
 * (text plus CRLF). Never leaves exactly 1 byte, which no line can fill. */
static size_t
bench_msg_line_len(size_t left, unsigned *rng)
{
    size_t n;

    *rng = *rng * 1103515245u + 12345u;
    n = 60 + (*rng >> 16) % (BENCH_MSG_LINE_MAX - 60 + 1);
    if (n + 2 >= left)
        return left - 2;
    if (left - (n + 2) == 1)
        n--;
    return n;
}

/* Fill the body: `left` bytes at p, as CRLF-terminated lines. */
static void
bench_msg_body(char *p, size_t left)
{
    unsigned rng = 5321;

    while (left > 0) {
        size_t n = bench_msg_line_len(left, &rng);

        bench_msg_text(p, n, &rng);
        p[n] = '\r';
        p[n + 1] = '\n';
        p += n + 2;
        left -= n + 2;
    }
}

int
bench_msg_init(struct bench_msg *msg, size_t size, const char *sender,
               const char *helo, size_t *min_size)
{
    char head[1024];
    int hlen = bench_msg_headers(head, sizeof head, sender, helo,
                                 &msg->seq_off);

    *min_size = hlen < 0 ? sizeof head : (size_t)hlen;
    /* A body of 1 byte cannot be a line; so the body is 0 or >= 2 bytes. */
    if (hlen < 0 || size < (size_t)hlen || size == (size_t)hlen + 1)
        return -1;
    msg->text = malloc(size);
    if (msg->text == NULL) {
        *min_size = 0;
        return -1;
    }
    memcpy(msg->text, head, (size_t)hlen);
    bench_msg_body(msg->text + hlen, size - (size_t)hlen);
    msg->size = size;
    return 0;
}

void
bench_msg_stamp(struct bench_msg *msg, unsigned long seq)
{
    char *d = msg->text + msg->seq_off;

    for (int i = BENCH_MSG_SEQ_DIGITS - 1; i >= 0; i--) {
        d[i] = (char)('0' + seq % 10);
        seq /= 10;
    }
}

void
bench_msg_free(struct bench_msg *msg)
{
    free(msg->text);
    msg->text = NULL;
    msg->size = 0;
}
