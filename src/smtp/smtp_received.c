/*
 * smtp_received.c -- the Received: trace header (RFC 5321 4.4, RFC 5322
 * 3.6.7) in Postfix's shape:
 *
 *   Received: from HELO (NAME [ADDR])
 *           (using TLSv1.3 with cipher ... (256/256 bits))
 *           by HOST (tlsmta) with ESMTPS id QID
 *           for <RCPT>; Mon, 1 Jan 2024 12:00:00 +0000
 *
 * The protocol keyword is the RFC 3848 one the caller chose. Lines are
 * folded (RFC 5322 2.2.3) to stay within 78 octets where the parts allow.
 *
 * Trust boundary: the HELO name and the recipient come from the client
 * (already validated by the parser); any control character in any part is
 * still written as '?', so no part can end the header or forge another.
 */
#include "smtp/smtp_received.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RECEIVED_LINE_MAX 78    /* RFC 5322 2.1.1 SHOULD, without CRLF */
#define RECEIVED_TOKEN_MAX 1024 /* longest part we compose: a path, a name */

/* Writes folded header text into a buffer. */
struct hdr_writer {
    struct buf *out;
    size_t col;  /* octets on the current line so far */
    bool fresh;  /* at the start of a continuation line */
    bool failed; /* an append failed: the header is dropped */
};

static void
hw_raw(struct hdr_writer *w, const char *s, size_t n)
{
    if (buf_append(w->out, s, n) < 0)
        w->failed = true;
    w->col += n;
}

/* Start a continuation line (RFC 5322 2.2.3 folding: CRLF then WSP). */
static void
hw_break(struct hdr_writer *w)
{
    hw_raw(w, "\r\n\t", 3);
    w->col = 1;
    w->fresh = true;
}

/* One unbreakable token, after a space or a fold. */
static void
hw_token(struct hdr_writer *w, const char *tok, size_t n)
{
    if (!w->fresh && w->col + 1 + n > RECEIVED_LINE_MAX)
        hw_break(w);
    if (!w->fresh)
        hw_raw(w, " ", 1);
    hw_raw(w, tok, n);
    w->fresh = false;
}

/* Append s to dst, control characters written as '?'. */
static void
hw_clean(struct buf *dst, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char ch = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        buf_append(dst, &ch, 1);
    }
}

/* The token pre + value + post, value cleaned; value NULL is "unknown". */
static void
hw_part(struct hdr_writer *w, const char *pre, const char *value,
        const char *post)
{
    struct buf t;
    buf_init(&t, RECEIVED_TOKEN_MAX);
    buf_puts(&t, pre);
    hw_clean(&t, value && value[0] ? value : "unknown");
    buf_puts(&t, post);
    hw_token(w, t.data ? t.data : "", t.len);
    buf_free(&t);
}

/* Words of text, split at spaces, each a token (cleaned). */
static void
hw_words(struct hdr_writer *w, const char *text)
{
    struct buf t;
    buf_init(&t, RECEIVED_TOKEN_MAX);
    hw_clean(&t, text);
    for (char *p = t.data; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n > 0)
            hw_token(w, p, n);
        p += n + (p[n] == ' ');
    }
    buf_free(&t);
}

/* A new folded line of words: pre text post (text trusted to be a
 * well-formed comment body). */
static void
hw_line(struct hdr_writer *w, const char *pre, const char *text,
        const char *post)
{
    struct buf t;
    buf_init(&t, RECEIVED_TOKEN_MAX);
    buf_printf(&t, "%s%s%s", pre, text, post);
    hw_break(w);
    hw_words(w, t.data ? t.data : "");
    buf_free(&t);
}

/* A comment "(" prefix text ")" made of words; in text, '(' ')' and '\\'
 * become quoted-pairs (RFC 5322 3.2.2) so a peer's name cannot close it. */
static void
hw_comment(struct hdr_writer *w, const char *prefix, const char *text)
{
    struct buf t;
    buf_init(&t, RECEIVED_TOKEN_MAX);
    buf_puts(&t, prefix);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '(' || *p == ')' || *p == '\\')
            buf_append(&t, "\\", 1);
        buf_append(&t, p, 1);
    }
    hw_line(w, "(", t.data ? t.data : "", ")");
    buf_free(&t);
}

void
smtp_received_date(time_t when, char *dst, size_t size)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (localtime_r(&when, &tm) == NULL)
        gmtime_r(&when, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(dst, size, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
             off / 60, off % 60);
}

int
smtp_received_format(struct buf *out, const struct smtp_received_info *ri)
{
    struct hdr_writer w = {out, 0, false, false};
    size_t start = out->len;
    char date[SMTP_DATE_MAX];

    hw_raw(&w, "Received:", 9);
    hw_words(&w, "from");
    hw_part(&w, "", ri->helo_name, "");
    hw_part(&w, "(", ri->client_name, "");
    hw_part(&w, "[", ri->client_addr, "])");
    if (ri->tls != NULL)
        hw_line(&w, "(using ", ri->tls, ")");
    if (ri->tls != NULL && ri->tls_client != NULL)
        /* Already quoted by tls_info_received_client(). */
        hw_line(&w, "(", ri->tls_client, ")");
    if (ri->auth_user != NULL)
        hw_comment(&w, "Authenticated sender: ", ri->auth_user);
    hw_break(&w);
    hw_words(&w, "by");
    hw_part(&w, "", ri->by_host, "");
    hw_words(&w, "(tlsmta) with");
    hw_part(&w, "", ri->protocol, "");
    hw_words(&w, "id");
    hw_part(&w, "", ri->queue_id, ri->for_rcpt ? "" : ";");
    hw_break(&w);
    if (ri->for_rcpt != NULL) {
        hw_words(&w, "for");
        hw_part(&w, "<", ri->for_rcpt, ">;");
    }
    smtp_received_date(ri->when, date, sizeof(date));
    hw_words(&w, date);
    hw_raw(&w, "\r\n", 2);
    if (w.failed) {
        out->len = start; /* leave nothing half-written */
        if (out->data != NULL)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}
