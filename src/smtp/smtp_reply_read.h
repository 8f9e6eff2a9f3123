/*
 * smtp_reply_read.h -- reading SMTP replies as a client: the reply grammar
 * of RFC 5321 4.2 (multi-line replies, 4.2.1) and the enhanced status code
 * at the head of the text (RFC 3463 2, RFC 2034).
 *
 * Strict: every line is three digits (first 2-5, second 0-5, RFC 5321 4.2
 * Reply-code), then "-" (more lines follow), SP or the end of the line,
 * ended by CRLF; every line of one reply has the same code. Lines are
 * bounded (SMTP_REPLY_READ_LINE_MAX) and so is their count
 * (SMTP_REPLY_READ_LINES_MAX). Anything else makes the reply malformed,
 * and a client then gives up the session.
 *
 * Trust boundary: every byte comes from the network (the SMTP server we
 * deliver to). Nothing here depends on a NUL terminator in the input.
 */
#ifndef TLSMTA_SMTP_REPLY_READ_H
#define TLSMTA_SMTP_REPLY_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util_buf.h"

/* RFC 5321 4.5.3.1.5 asks for 512 octets; servers send longer text. */
#define SMTP_REPLY_READ_LINE_MAX 2048 /* octets of one line, CRLF included */
#define SMTP_REPLY_READ_LINES_MAX 100 /* lines of one reply */
#define SMTP_REPLY_READ_DSN_SIZE 16   /* "5.1.1": class.subject.detail */

enum smtp_reply_read_status {
    SMTP_REPLY_READ_MORE = 0,  /* the reply is not complete yet */
    SMTP_REPLY_READ_DONE,      /* one whole reply is held */
    SMTP_REPLY_READ_MALFORMED, /* the reply breaks the grammar */
};

/* Why a reply was malformed. */
enum smtp_reply_read_error {
    SMTP_REPLY_READ_OK = 0,
    SMTP_REPLY_READ_BAD_LINE,       /* not "DDD", "DDD-text" or "DDD text" */
    SMTP_REPLY_READ_CODE_MISMATCH,  /* lines with different codes */
    SMTP_REPLY_READ_BARE_LF,        /* a line ended by LF without CR */
    SMTP_REPLY_READ_LINE_TOO_LONG,  /* over SMTP_REPLY_READ_LINE_MAX */
    SMTP_REPLY_READ_TOO_MANY_LINES, /* over SMTP_REPLY_READ_LINES_MAX */
    SMTP_REPLY_READ_NO_MEMORY,      /* allocation failed (our trouble) */
};

/* One reply being read. Fields are private to smtp_reply_read.c. */
struct smtp_reply_reader {
    struct buf lines;  /* owned; complete lines without CRLF, each ended
                          by '\n', then the partial line */
    size_t line_start; /* offset of the partial line in lines */
    unsigned n_lines;  /* complete lines */
    unsigned code;     /* code of the first line, 0 before it */
    enum smtp_reply_read_status status;
    enum smtp_reply_read_error error;
};

/* Start with no reply. Allocates nothing. */
void smtp_reply_read_init(struct smtp_reply_reader *r);

/* Take bytes of the server's stream, up to the end of one reply. Returns
 * how many were consumed: all of them while the reply is incomplete
 * (*status MORE), else up to and including the LF that ended the reply
 * (DONE) or the line found malformed (MALFORMED). Once DONE or MALFORMED,
 * consumes nothing until smtp_reply_read_reset(). */
size_t smtp_reply_read_feed(struct smtp_reply_reader *r, const char *data,
                            size_t len, enum smtp_reply_read_status *status);

/* Forget the reply (complete or not) and read the next one. */
void smtp_reply_read_reset(struct smtp_reply_reader *r);

/* Release the memory; the reader is empty and usable afterwards. */
void smtp_reply_read_free(struct smtp_reply_reader *r);

/* The three-digit code of a DONE reply (200-559). */
unsigned smtp_reply_read_code(const struct smtp_reply_reader *r);

/* The lines of a DONE reply, without CRLF, each followed by '\n' (a line
 * never holds '\n' itself), codes included: "250-a\n250 b\n". Points into
 * r, valid until the next feed/reset; *len gets the octets. The text is
 * the peer's: it may hold any octet except LF. */
const char *smtp_reply_read_lines(const struct smtp_reply_reader *r,
                                  size_t *len);

/* Copy the reply into dst (size > 0, NUL-terminated, truncated to fit) as
 * one line of printable ASCII: its lines joined with ' ', every octet
 * outside 0x20-0x7e written as '?'. Returns the length written. */
size_t smtp_reply_read_text(const struct smtp_reply_reader *r, char *dst,
                            size_t size);

/* The enhanced status code at the start of the first line's text (RFC 3463
 * 2: class "." 1*3digit "." 1*3digit, followed by SP or the end of line),
 * if its class is the reply code's first digit. Copies it NUL-terminated
 * into dsn and returns true; false if there is none. */
bool smtp_reply_read_dsn(const struct smtp_reply_reader *r,
                         char dsn[SMTP_REPLY_READ_DSN_SIZE]);

/* A short phrase for a MALFORMED reply ("malformed reply line", "reply
 * line too long"...); a static string, never NULL. */
const char *smtp_reply_read_why(const struct smtp_reply_reader *r);

#endif
