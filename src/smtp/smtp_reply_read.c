/*
 * smtp_reply_read.c -- the client side of the SMTP reply grammar (RFC 5321
 * 4.2, 4.2.1) and RFC 3463 enhanced status codes, sans-I/O.
 *
 * Trust boundary: parses bytes from the network. Every line is bounded
 * before it is stored, so a server can make us hold at most
 * SMTP_REPLY_READ_LINES_MAX * SMTP_REPLY_READ_LINE_MAX octets.
 */
#include "smtp/smtp_reply_read.h"

#include <string.h>

/* Room for every line of the longest reply. */
#define REPLY_READ_BUF_MAX                                                     \
    ((size_t)SMTP_REPLY_READ_LINES_MAX * SMTP_REPLY_READ_LINE_MAX)

static const char *const reply_read_whys[] = {
    [SMTP_REPLY_READ_OK] = "no error",
    [SMTP_REPLY_READ_BAD_LINE] = "malformed reply line",
    [SMTP_REPLY_READ_CODE_MISMATCH] = "reply lines with different codes",
    [SMTP_REPLY_READ_BARE_LF] = "reply line not ended by CRLF",
    [SMTP_REPLY_READ_LINE_TOO_LONG] = "reply line too long",
    [SMTP_REPLY_READ_TOO_MANY_LINES] = "reply with too many lines",
    [SMTP_REPLY_READ_NO_MEMORY] = "out of memory reading the reply",
};

void
smtp_reply_read_init(struct smtp_reply_reader *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->lines, REPLY_READ_BUF_MAX);
}

void
smtp_reply_read_reset(struct smtp_reply_reader *r)
{
    buf_reset(&r->lines);
    r->line_start = 0;
    r->n_lines = 0;
    r->code = 0;
    r->status = SMTP_REPLY_READ_MORE;
    r->error = SMTP_REPLY_READ_OK;
}

void
smtp_reply_read_free(struct smtp_reply_reader *r)
{
    buf_free(&r->lines);
    smtp_reply_read_init(r);
}

static bool
is_digit_in(char c, char lo, char hi)
{
    return c >= lo && c <= hi;
}

/* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39. 0 if l is not one. */
static unsigned
reply_read_code_of(const char *l)
{
    if (!is_digit_in(l[0], '2', '5') || !is_digit_in(l[1], '0', '5') ||
        !is_digit_in(l[2], '0', '9'))
        return 0;
    return (unsigned)(l[0] - '0') * 100 + (unsigned)(l[1] - '0') * 10 +
           (unsigned)(l[2] - '0');
}

static void
reply_read_fail(struct smtp_reply_reader *r, enum smtp_reply_read_error e)
{
    r->status = SMTP_REPLY_READ_MALFORMED;
    r->error = e;
}

/* A whole line (LF included) ends at the end of r->lines: check it and
 * store it as "text\n". */
static void
reply_read_line(struct smtp_reply_reader *r)
{
    char *l = r->lines.data + r->line_start;
    size_t n = r->lines.len - r->line_start; /* with the LF */

    if (n < 2 || l[n - 2] != '\r')
        return reply_read_fail(r, SMTP_REPLY_READ_BARE_LF);
    n -= 2;
    unsigned code = n >= 3 ? reply_read_code_of(l) : 0;
    if (code == 0 || (n > 3 && l[3] != ' ' && l[3] != '-'))
        return reply_read_fail(r, SMTP_REPLY_READ_BAD_LINE);
    /* RFC 5321 4.2.1: every line of a multi-line reply has the same code. */
    if (r->code != 0 && code != r->code)
        return reply_read_fail(r, SMTP_REPLY_READ_CODE_MISMATCH);
    bool more = n > 3 && l[3] == '-';
    if (more && r->n_lines + 1 >= SMTP_REPLY_READ_LINES_MAX)
        return reply_read_fail(r, SMTP_REPLY_READ_TOO_MANY_LINES);
    r->code = code;
    r->n_lines++;
    l[n] = '\n';
    r->lines.len = r->line_start + n + 1;
    r->lines.data[r->lines.len] = '\0';
    r->line_start = r->lines.len;
    if (!more)
        r->status = SMTP_REPLY_READ_DONE;
}

size_t
smtp_reply_read_feed(struct smtp_reply_reader *r, const char *data, size_t len,
                     enum smtp_reply_read_status *status)
{
    size_t used = 0;

    while (r->status == SMTP_REPLY_READ_MORE && used < len) {
        const char *lf = memchr(data + used, '\n', len - used);
        size_t n = lf ? (size_t)(lf - (data + used)) + 1 : len - used;

        if (r->lines.len - r->line_start + n > SMTP_REPLY_READ_LINE_MAX) {
            reply_read_fail(r, SMTP_REPLY_READ_LINE_TOO_LONG);
            used += n;
            break;
        }
        if (buf_append(&r->lines, data + used, n) < 0) {
            reply_read_fail(r, SMTP_REPLY_READ_NO_MEMORY);
            break;
        }
        used += n;
        if (lf != NULL)
            reply_read_line(r);
    }
    *status = r->status;
    return used;
}

unsigned
smtp_reply_read_code(const struct smtp_reply_reader *r)
{
    return r->code;
}

const char *
smtp_reply_read_lines(const struct smtp_reply_reader *r, size_t *len)
{
    *len = r->line_start;
    return r->lines.data != NULL ? r->lines.data : "";
}

size_t
smtp_reply_read_text(const struct smtp_reply_reader *r, char *dst, size_t size)
{
    size_t len, n = 0;
    const char *p = smtp_reply_read_lines(r, &len);

    /* The last '\n' ends the reply and is not copied. */
    for (size_t i = 0; i + 1 < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        dst[n++] = c == '\n' ? ' ' : (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[n] = '\0';
    return n;
}

/* 1*3DIGIT at s (up to end); returns the digits' count, 0 if none or more
 * than three. */
static size_t
dsn_digits(const char *s, const char *end)
{
    size_t n = 0;
    while (s + n < end && is_digit_in(s[n], '0', '9'))
        n++;
    return n <= 3 ? n : 0;
}

bool
smtp_reply_read_dsn(const struct smtp_reply_reader *r,
                    char dsn[SMTP_REPLY_READ_DSN_SIZE])
{
    size_t len;
    const char *l = smtp_reply_read_lines(r, &len);
    const char *eol = memchr(l, '\n', len);

    if (eol == NULL || eol - l < 9) /* "DDD X.Y.Z" at least */
        return false;
    const char *s = l + 4, *p = s;
    /* RFC 3463 2: the class is 2, 4 or 5 and matches the reply code. */
    if (*p != l[0] || *p == '3' || p[1] != '.')
        return false;
    p += 2;
    size_t n = dsn_digits(p, eol);
    if (n == 0 || p + n >= eol || p[n] != '.')
        return false;
    p += n + 1;
    n = dsn_digits(p, eol);
    if (n == 0 || (p + n < eol && p[n] != ' '))
        return false;
    p += n;
    memcpy(dsn, s, (size_t)(p - s));
    dsn[p - s] = '\0';
    return true;
}

const char *
smtp_reply_read_why(const struct smtp_reply_reader *r)
{
    return reply_read_whys[r->error];
}
