/*
 * bounce.c -- delivery status notifications: RFC 3464 (delivery-status
 * fields), RFC 6522 (multipart/report), RFC 3463 (status codes), RFC 3834
 * (Auto-Submitted), RFC 5322 (line limits, dates), in the shape of
 * Postfix's bounce messages.
 *
 * Trust boundary: remote diagnostic text, recipient addresses and the
 * original header section are untrusted bytes. Remote text becomes
 * printable ASCII with single spaces, folded only at its own spaces, so
 * no CR or LF of it can reach the output and no fold can start a field;
 * addresses lose their control bytes; the original headers are copied as
 * lines. The MIME boundary is chosen so that it occurs in no part.
 */
#include "queue/bounce.h"

#include "config/config.h"
#include "queue/spool.h"
#include "smtp/smtp_received.h"
#include "util/util_buf.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BOUNCE_LINE_SOFT 78         /* RFC 5322 2.1.1 SHOULD, no CRLF */
#define BOUNCE_LINE_HARD 998        /* RFC 5322 2.1.1 MUST, no CRLF */
#define BOUNCE_ADDR_MAX 512         /* bytes of an address written */
#define BOUNCE_TEXT_MAX 2048        /* bytes of remote text per rcpt */
#define BOUNCE_BOUNDARY_MAX 71      /* RFC 2046 5.1.1: 70 chars + NUL */
#define BOUNCE_BOUNDARY_TRIES 1000  /* collisions tolerated */
#define BOUNCE_HEADER_CONT "\r\n "  /* RFC 5322 2.2.3 folding */
#define BOUNCE_TEXT_CONT "\r\n    " /* indent of a wrapped reason */

/* RFC 3464 2.3.3 Action values, indexed by enum bounce_action. */
static const struct {
    const char *word;   /* Action: field value */
    const char *status; /* RFC 3463 default status */
    const char *reason; /* text when the caller has none */
} bounce_actions[] = {
    [BOUNCE_ACTION_FAILED] = {"failed", "5.0.0", "delivery failed"},
    [BOUNCE_ACTION_DELAYED] = {"delayed", "4.0.0",
                               "delivery temporarily failed"},
};

/* The two kinds of notice: a bounce (some recipient failed) or a delay
 * warning (all of them delayed). */
struct bounce_notice {
    const char *subject;
    const char *intro; /* text part after the first line */
};

static const struct bounce_notice bounce_notice_failed = {
    "Undelivered Mail Returned to Sender",
    "I'm sorry to have to inform you that your message could not\r\n"
    "be delivered to one or more recipients. Its headers are attached\r\n"
    "below.\r\n"
    "\r\n"
    "For further assistance, please send mail to postmaster.\r\n"
    "\r\n"
    "If you do so, please include this problem report.\r\n",
};

static const struct bounce_notice bounce_notice_delayed = {
    "Delayed Mail (still being retried)",
    "####################################################################"
    "\r\n"
    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #"
    "\r\n"
    "####################################################################"
    "\r\n"
    "\r\n"
    "Your message could not be delivered yet to the recipients below.\r\n"
    "The mail system will keep trying; if it finally gives up, you will\r\n"
    "be told.\r\n",
};

/* Everything one notice is built from, and its parts before assembly. */
struct bounce_doc {
    const struct config *cfg;    /* borrowed */
    const struct spool_entry *e; /* borrowed; the original */
    const struct bounce_rcpt *r; /* borrowed; n recipients */
    size_t n;
    time_t now;
    const struct bounce_notice *notice;
    bool utf8;          /* an address is not ASCII */
    bool headers_8bit;  /* original headers have 8-bit */
    struct buf text;    /* part 1: for people */
    struct buf status;  /* part 2: message/delivery-status */
    struct buf headers; /* part 3: original header section */
    char boundary[BOUNCE_BOUNDARY_MAX];
};

static bool
bounce_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* RFC 3464 2.1.2 address type: RFC 6533 3 types a non-ASCII (SMTPUTF8)
 * address "utf-8", not "rfc822". */
static const char *
bounce_addr_type(const char *addr)
{
    return bounce_ascii(addr, strlen(addr)) ? "rfc822" : "utf-8";
}

/* Append addr with its control bytes as '?', cut at BOUNCE_ADDR_MAX:
 * never a line break inside a field, whatever the spool held. */
static int
bounce_put_addr(struct buf *out, const char *addr)
{
    for (size_t i = 0; addr[i] != '\0' && i < BOUNCE_ADDR_MAX; i++) {
        unsigned char c = (unsigned char)addr[i];
        char o = c < 0x20 || c == 0x7f ? '?' : (char)c;
        if (buf_append(out, &o, 1) < 0)
            return -1;
    }
    return 0;
}

/* Append untrusted text s as printable ASCII: every run of whitespace
 * (CR and LF included) one space, other bytes '?', no space at either
 * end, at most BOUNCE_TEXT_MAX bytes. */
static int
bounce_sanitize(struct buf *out, const char *s)
{
    size_t start = out->len;
    bool space = false;

    for (; *s != '\0' && out->len - start < BOUNCE_TEXT_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = out->len > start;
            continue;
        }
        char o = c > 0x20 && c < 0x7f ? (char)c : '?';
        if ((space && buf_append(out, " ", 1) < 0) ||
            buf_append(out, &o, 1) < 0)
            return -1;
        space = false;
    }
    return 0;
}

/* Append sanitized text s (single spaces only) to a line that already
 * has col bytes, breaking at spaces to stay within BOUNCE_LINE_SOFT where
 * words allow: a break replaces the space by cont (CRLF + indent). A word
 * that would pass BOUNCE_LINE_HARD is split (RFC 5322 2.1.1 MUST). */
static int
bounce_fold(struct buf *out, size_t col, const char *s, const char *cont)
{
    size_t cont_cols = strlen(cont) - 2;
    bool first = true;

    while (*s != '\0') {
        size_t wlen = strcspn(s, " ");
        if (!first) {
            bool wrap = col + 1 + wlen > BOUNCE_LINE_SOFT;
            if (buf_puts(out, wrap ? cont : " ") < 0)
                return -1;
            col = wrap ? cont_cols : col + 1;
        }
        for (; col + wlen > BOUNCE_LINE_HARD; col = cont_cols) {
            size_t chunk = BOUNCE_LINE_HARD - col;
            if (buf_append(out, s, chunk) < 0 || buf_puts(out, cont) < 0)
                return -1;
            s += chunk;
            wlen -= chunk;
        }
        if (buf_append(out, s, wlen) < 0)
            return -1;
        col += wlen;
        s += wlen + (s[wlen] == ' ');
        first = false;
    }
    return 0;
}

/* Sanitize untrusted s; if any text is left, append prefix, the text
 * folded with cont, then suffix. col: bytes already on the line. Returns 1
 * (written), 0 (s had no text: nothing written) or -1. */
static int
bounce_put_text(struct buf *out, size_t col, const char *prefix, const char *s,
                const char *cont, const char *suffix)
{
    struct buf clean;
    int rc;

    buf_init(&clean, 0);
    rc = bounce_sanitize(&clean, s);
    if (rc == 0 && clean.len > 0) {
        rc = 1;
        if (buf_puts(out, prefix) < 0 ||
            bounce_fold(out, col + strlen(prefix), clean.data, cont) < 0 ||
            buf_puts(out, suffix) < 0)
            rc = -1;
    }
    buf_free(&clean);
    return rc;
}

/* RFC 3463 2: class "." subject "." detail, class 2, 4 or 5, 1-3 digits
 * each. */
static bool
bounce_status_valid(const char *s)
{
    if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return false;
    s += 2;
    for (int part = 0; part < 2; part++) {
        size_t d = strspn(s, "0123456789");
        if (d < 1 || d > 3 || s[d] != (part == 0 ? '.' : '\0'))
            return false;
        s += d + 1;
    }
    return true;
}

static const char *
bounce_status(const struct bounce_rcpt *r)
{
    return bounce_status_valid(r->dsn) ? r->dsn
                                       : bounce_actions[r->action].status;
}

/* The remote reply of r without a "smtp;" type the caller may have put
 * (RFC 3464 2.3.6), or NULL. */
static const char *
bounce_diag_text(const struct bounce_rcpt *r)
{
    const char *diag = r->diagnostic;

    if (diag == NULL)
        return NULL;
    diag += strspn(diag, " \t");
    return strncasecmp(diag, "smtp;", 5) == 0 ? diag + 5 : diag;
}

/* A blank line, then "<addr>: reason", the reason folded with an
 * indent. */
static int
bounce_text_rcpt(struct buf *out, const struct bounce_rcpt *r, bool in_failure)
{
    const char *why = r->text != NULL ? r->text : bounce_diag_text(r);
    size_t start = out->len + 2;

    if (buf_puts(out, "\r\n<") < 0 || bounce_put_addr(out, r->rcpt) < 0 ||
        buf_puts(out, ">:") < 0)
        return -1;
    /* A delayed recipient listed in a bounce: say it is not given up. */
    if (in_failure && r->action == BOUNCE_ACTION_DELAYED &&
        buf_puts(out, " (still being retried)") < 0)
        return -1;
    int rc = why == NULL ? 0
                         : bounce_put_text(out, out->len - start, " ", why,
                                           BOUNCE_TEXT_CONT, "");
    if (rc == 0)
        rc = buf_printf(out, " %s", bounce_actions[r->action].reason);
    if (rc < 0)
        return -1;
    return buf_puts(out, "\r\n");
}

/* Part 1: the explanation for people. */
static int
bounce_text_part(struct bounce_doc *d)
{
    bool failure = d->notice == &bounce_notice_failed;

    if (buf_printf(&d->text, "This is the mail system at host %s.\r\n\r\n",
                   d->cfg->hostname) < 0 ||
        buf_puts(&d->text, d->notice->intro) < 0 ||
        buf_puts(&d->text, "\r\n                   The mail system\r\n") < 0)
        return -1;
    for (size_t i = 0; i < d->n; i++)
        if (bounce_text_rcpt(&d->text, &d->r[i], failure) < 0)
            return -1;
    return 0;
}

/* The "smtp; ..." Diagnostic-Code of r, if the remote said anything. */
static int
bounce_status_diag(struct buf *out, const struct bounce_rcpt *r)
{
    const char *diag = bounce_diag_text(r);

    if (diag == NULL)
        return 0;
    return bounce_put_text(out, 0, "Diagnostic-Code: smtp; ", diag,
                           BOUNCE_HEADER_CONT, "\r\n") < 0
               ? -1
               : 0;
}

/* RFC 3464 2.3: one per-recipient group, after its blank line. */
static int
bounce_status_rcpt(struct buf *out, const struct bounce_rcpt *r)
{
    if (buf_printf(out, "\r\nFinal-Recipient: %s; ",
                   bounce_addr_type(r->rcpt)) < 0 ||
        bounce_put_addr(out, r->rcpt) < 0 ||
        buf_printf(out, "\r\nAction: %s\r\nStatus: %s\r\n",
                   bounce_actions[r->action].word, bounce_status(r)) < 0)
        return -1;
    if (r->remote_mta != NULL &&
        bounce_put_text(out, 0, "Remote-MTA: dns; ", r->remote_mta,
                        BOUNCE_HEADER_CONT, "\r\n") < 0)
        return -1;
    return bounce_status_diag(out, r);
}

/* Part 2: RFC 3464 2.2 per-message fields, then each recipient. */
static int
bounce_status_part(struct bounce_doc *d)
{
    char arrival[SMTP_DATE_MAX];

    smtp_received_date(d->e->arrival, arrival, sizeof(arrival));
    if (buf_printf(&d->status,
                   "Reporting-MTA: dns; %s\r\n"
                   "X-Tlsmta-Queue-ID: %s\r\n"
                   "X-Tlsmta-Sender: %s; ",
                   d->cfg->hostname, d->e->id,
                   bounce_addr_type(d->e->sender)) < 0 ||
        bounce_put_addr(&d->status, d->e->sender) < 0 ||
        buf_printf(&d->status, "\r\nArrival-Date: %s\r\n", arrival) < 0)
        return -1;
    for (size_t i = 0; i < d->n; i++)
        if (bounce_status_rcpt(&d->status, &d->r[i]) < 0)
            return -1;
    return 0;
}

/* Append one original header line (without its line end) with CRLF; a
 * line longer than RFC 5322 allows is folded by force (a space is added
 * where it is split, as an unfolding reader will see it). */
static int
bounce_header_line(struct buf *out, const char *line, size_t len)
{
    size_t max = BOUNCE_LINE_HARD;

    while (len > max) {
        if (buf_append(out, line, max) < 0 ||
            buf_puts(out, BOUNCE_HEADER_CONT) < 0)
            return -1;
        line += max;
        len -= max;
        max = BOUNCE_LINE_HARD - 1;
    }
    if (buf_append(out, line, len) < 0 || buf_puts(out, "\r\n") < 0)
        return -1;
    return 0;
}

/* Copy the header section of in[0..len) line by line up to the first
 * empty line. complete: in holds the whole content, so a last line
 * without a line end belongs to it; otherwise it was cut by the cap and is
 * dropped (the section is cut at a line boundary). */
static int
bounce_copy_headers(struct buf *out, const char *in, size_t len, bool complete)
{
    size_t pos = 0;

    while (pos < len) {
        const char *lf = memchr(in + pos, '\n', len - pos);
        if (lf == NULL && !complete)
            break;
        size_t end = lf != NULL ? (size_t)(lf - in) : len;
        size_t text = end > pos && in[end - 1] == '\r' ? end - 1 : end;
        if (text == pos && lf != NULL)
            break; /* RFC 5322 2.1: the empty line ends the header section */
        if (bounce_header_line(out, in + pos, text - pos) < 0)
            return -1;
        pos = end + 1;
    }
    return 0;
}

/* Part 3: the original header section, read from the spool file. */
static int
bounce_read_headers(struct bounce_doc *d)
{
    const struct spool_entry *e = d->e;
    size_t want =
        e->size < BOUNCE_HEADERS_MAX ? (size_t)e->size : BOUNCE_HEADERS_MAX;
    char *in = malloc(want + 1);
    size_t got = 0;
    int rc = SPOOL_ERR_IO;

    if (in == NULL)
        return SPOOL_ERR_IO;
    while (got < want) {
        ssize_t r =
            pread(e->fd, in + got, want - got, e->content_offset + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out; /* an error, or shorter than its envelope says */
        got += (size_t)r;
    }
    if (bounce_copy_headers(&d->headers, in, got, got == e->size) == 0)
        rc = 0;
    d->headers_8bit =
        !bounce_ascii(d->headers.data ? d->headers.data : "", d->headers.len);
out:
    free(in);
    return rc;
}

static bool
bounce_occurs(const struct buf *b, const char *s)
{
    return b->len > 0 && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* RFC 2046 5.1.1: the boundary must occur in no part. It starts with the
 * notice's queue id, new and unique, and is checked anyway, since the
 * parts quote text chosen by others. */
static int
bounce_pick_boundary(struct bounce_doc *d, const char *id)
{
    for (unsigned n = 0; n < BOUNCE_BOUNDARY_TRIES; n++) {
        snprintf(d->boundary, sizeof(d->boundary), "%s.%lld.%u/tlsmta", id,
                 (long long)d->now, n);
        if (!bounce_occurs(&d->text, d->boundary) &&
            !bounce_occurs(&d->status, d->boundary) &&
            !bounce_occurs(&d->headers, d->boundary))
            return 0;
    }
    return -1;
}

/* The notice's own header section (RFC 5322 3.6, RFC 3834 5, RFC 6522 3). */
static int
bounce_top_headers(struct buf *out, const struct bounce_doc *d, const char *id)
{
    const char *host = d->cfg->hostname;
    char date[SMTP_DATE_MAX];

    smtp_received_date(d->now, date, sizeof(date));
    if (buf_printf(out,
                   "Received: by %s (tlsmta) id %s;\r\n\t%s\r\n"
                   "Date: %s\r\n"
                   "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n"
                   "To: <",
                   host, id, date, date, host) < 0 ||
        bounce_put_addr(out, d->e->sender) < 0)
        return -1;
    return buf_printf(out,
                      ">\r\n"
                      "Subject: %s\r\n"
                      "Message-ID: <%s@%s>\r\n"
                      "Auto-Submitted: auto-replied\r\n"
                      "MIME-Version: 1.0\r\n"
                      "Content-Type: multipart/report; "
                      "report-type=delivery-status;\r\n"
                      "\tboundary=\"%s\"\r\n"
                      "%s"
                      "\r\n"
                      "This is a MIME-encapsulated message.\r\n",
                      d->notice->subject, id, host, d->boundary,
                      d->utf8 || d->headers_8bit
                          ? "Content-Transfer-Encoding: 8bit\r\n"
                          : "");
}

/* One body part: delimiter, its header fields, a blank line, content. */
static int
bounce_part(struct buf *out, const struct bounce_doc *d, const char *fields,
            bool eight_bit, const struct buf *content)
{
    if (buf_printf(out, "\r\n--%s\r\n%s%s\r\n", d->boundary, fields,
                   eight_bit ? "Content-Transfer-Encoding: 8bit\r\n" : "") <
            0 ||
        buf_append(out, content->data ? content->data : "", content->len) < 0)
        return -1;
    return 0;
}

/* The whole notice, parts built before, into out. */
static int
bounce_assemble(struct buf *out, const struct bounce_doc *d, const char *id)
{
    const char *text_fields =
        d->utf8 ? "Content-Description: Notification\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                : "Content-Description: Notification\r\n"
                  "Content-Type: text/plain; charset=us-ascii\r\n";

    if (bounce_top_headers(out, d, id) < 0 ||
        bounce_part(out, d, text_fields, d->utf8, &d->text) < 0 ||
        bounce_part(out, d,
                    "Content-Description: Delivery report\r\n"
                    "Content-Type: message/delivery-status\r\n",
                    d->utf8, &d->status) < 0 ||
        bounce_part(out, d,
                    "Content-Description: Undelivered Message Headers\r\n"
                    "Content-Type: text/rfc822-headers\r\n",
                    d->headers_8bit, &d->headers) < 0)
        return -1;
    return buf_printf(out, "\r\n--%s--\r\n", d->boundary);
}

/* Begin the notice in the spool, write it, commit it. */
static int
bounce_commit(struct spool *sp, struct bounce_doc *d, char *id_out,
              size_t id_len)
{
    const char *rcpt[1] = {d->e->sender};
    struct spool_envelope env = {
        .sender = "",
        .rcpts = rcpt,
        .n_rcpts = 1,
        .helo_name = d->cfg->hostname,
        .smtputf8 = d->utf8,
        .body_8bitmime = d->utf8 || d->headers_8bit,
    };
    struct spool_msg *m;
    struct buf out;
    char id[SPOOL_QUEUE_ID_MAX];
    int rc = spool_msg_begin(sp, &env, d->now, &m);

    if (rc != 0)
        return rc;
    snprintf(id, sizeof(id), "%s", spool_msg_id(m));
    buf_init(&out, 0);
    if (bounce_pick_boundary(d, id) < 0 || bounce_assemble(&out, d, id) < 0)
        rc = SPOOL_ERR_IO;
    else
        rc = spool_msg_write(m, out.data, out.len);
    buf_free(&out);
    if (rc != 0) {
        spool_msg_abort(m);
        return rc;
    }
    rc = spool_msg_commit(m);
    if (rc == 0 && id_out != NULL)
        snprintf(id_out, id_len, "%s", id);
    return rc;
}

static bool
bounce_any_utf8(const struct bounce_doc *d)
{
    if (!bounce_ascii(d->e->sender, strlen(d->e->sender)))
        return true;
    for (size_t i = 0; i < d->n; i++)
        if (!bounce_ascii(d->r[i].rcpt, strlen(d->r[i].rcpt)))
            return true;
    return false;
}

static const struct bounce_notice *
bounce_pick_notice(const struct bounce_rcpt *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].action == BOUNCE_ACTION_FAILED)
            return &bounce_notice_failed;
    return &bounce_notice_delayed;
}

int
bounce_send(struct spool *sp, const struct config *cfg,
            const struct spool_entry *e, const struct bounce_rcpt *r, size_t n,
            time_t now, char *id_out, size_t id_len)
{
    struct bounce_doc d = {.cfg = cfg, .e = e, .r = r, .n = n, .now = now};
    int rc;

    assert(n > 0);
    /* RFC 3464 2 / RFC 5321 4.5.5: never a notice about a notice. */
    if (e->sender == NULL || e->sender[0] == '\0')
        return BOUNCE_NULL_SENDER;
    for (size_t i = 0; i < n; i++)
        assert(r[i].action <= BOUNCE_ACTION_DELAYED);
    d.notice = bounce_pick_notice(r, n);
    d.utf8 = bounce_any_utf8(&d);
    buf_init(&d.text, 0);
    buf_init(&d.status, 0);
    buf_init(&d.headers, 0);
    rc = bounce_read_headers(&d);
    if (rc == 0 && (bounce_text_part(&d) < 0 || bounce_status_part(&d) < 0))
        rc = SPOOL_ERR_IO;
    if (rc == 0)
        rc = bounce_commit(sp, &d, id_out, id_len);
    buf_free(&d.text);
    buf_free(&d.status);
    buf_free(&d.headers);
    return rc;
}
