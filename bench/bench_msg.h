/*
 * bench_msg.h -- the test message that smtp_source sends.
 *
 * One template per run: RFC 5322 headers and a body of text lines of at most
 * 76 characters (RFC 5322 2.1.1 asks for at most 78), of an exact total size.
 * No line starts with '.', so the template needs no dot-stuffing
 * (RFC 5321 4.5.2). Trust boundary: none; everything is generated locally.
 */
#ifndef BENCH_MSG_H
#define BENCH_MSG_H

#include <stddef.h>

#define BENCH_MSG_LINE_MAX 76   /* body characters per line, before CRLF */
#define BENCH_MSG_SEQ_DIGITS 10 /* width of the counter in Message-ID */

struct bench_msg {
    char *text;     /* owned; size bytes, CRLF line ends, no NUL inside */
    size_t size;    /* exact message size in bytes, as stored by the server */
    size_t seq_off; /* offset of the Message-ID counter digits in text */
};

/* Build a message of exactly `size` bytes, headers From: `sender`, a Date: of
 * now, and Message-ID <SEQ.PID@helo>. Returns 0, or -1 with *min_size set
 * when `size` is below the size of the headers alone, or -1 with *min_size 0
 * on allocation failure. Free with bench_msg_free(). */
int bench_msg_init(struct bench_msg *msg, size_t size, const char *sender,
                   const char *helo, size_t *min_size);

/* Write `seq` (modulo 10^10) into the Message-ID, so that every message sent
 * from this template has its own id. The text stays the same size. */
void bench_msg_stamp(struct bench_msg *msg, unsigned long seq);

/* Release the text; the struct may be reused after bench_msg_init(). */
void bench_msg_free(struct bench_msg *msg);

#endif
