/*
 * bounce.h -- delivery status notifications (RFC 3464): the message that
 * tells an envelope sender that some recipients failed (or are delayed),
 * committed to the spool like any other message, from the null
 * reverse-path <> so that it can never cause another bounce (RFC 5321
 * 4.5.5, RFC 3834 Auto-Submitted).
 *
 * The notice is multipart/report (RFC 6522) with three parts: a text for
 * people, message/delivery-status (RFC 3464 2.2, 2.3) and the original
 * header section as text/rfc822-headers.
 *
 * Trust boundary: recipient addresses, the original headers and above all
 * the diagnostic text of remote servers are untrusted. Remote text is
 * reduced to printable ASCII and folded, so it can never start a header
 * field or a MIME part; the MIME boundary is checked against every part.
 */
#ifndef TLSMTA_QUEUE_BOUNCE_H
#define TLSMTA_QUEUE_BOUNCE_H

#include <stddef.h>
#include <time.h>

struct config;
struct spool;
struct spool_entry;

#define BOUNCE_NULL_SENDER 1     /* bounce_send(): sender is <> */
#define BOUNCE_HEADERS_MAX 65536 /* bytes of original headers kept */

/* RFC 3464 2.3.3 Action of one recipient. */
enum bounce_action {
    BOUNCE_ACTION_FAILED = 0, /* given up: "failed", 5.x.y */
    BOUNCE_ACTION_DELAYED,    /* still retried: "delayed", 4.x.y */
};

/* One recipient reported in the notice. Strings are borrowed. */
struct bounce_rcpt {
    const char *rcpt;          /* forward-path without <>, as in the
                                  envelope */
    enum bounce_action action; /* zero value: failed */
    const char *dsn;           /* RFC 3463 status "5.1.1"; NULL or
                                  malformed: 5.0.0 (failed), 4.0.0
                                  (delayed) */
    const char *remote_mta;    /* "mx.example.net" or an address
                                  literal; NULL: none was reached */
    const char *diagnostic;    /* remote reply "550 5.1.1 no such
                                  user" without the "smtp;" type (a
                                  leading one is tolerated); NULL:
                                  the remote said nothing */
    const char *text;          /* reason for people ("host mx said:
                                  550 ..."); NULL: use diagnostic */
};

/* Build a DSN about e's recipients r[0..n) (n >= 1) and commit it to the
 * spool sp as a new message from <> to e->sender, dated now. The notice
 * says "failed" if any r[i] failed, else it is a delay warning. The
 * original header section is read from e->fd at e->content_offset (at most
 * BOUNCE_HEADERS_MAX bytes, cut at a line boundary); cfg->hostname names
 * this MTA (Reporting-MTA, From, Message-ID).
 *
 * Returns 0 once the notice is durable (its queue id in id_out, id_len
 * bytes, SPOOL_QUEUE_ID_MAX is enough): only then may the caller mark
 * those recipients done. Returns BOUNCE_NULL_SENDER, writing nothing, when
 * e->sender is "" (RFC 3464 2: never a DSN about a DSN; the caller logs
 * and drops). Otherwise a negative enum spool_error: SPOOL_ERR_IO (the
 * original could not be read, or writing failed) or SPOOL_ERR_NOSPACE;
 * nothing is left in the spool and the caller retries later.
 *
 * Addresses that are not ASCII (SMTPUTF8, RFC 6531) are written as type
 * "utf-8" (RFC 6533 3) and make the notice an SMTPUTF8 message. */
int bounce_send(struct spool *sp, const struct config *cfg,
                const struct spool_entry *e, const struct bounce_rcpt *r,
                size_t n, time_t now, char *id_out, size_t id_len);

#endif
