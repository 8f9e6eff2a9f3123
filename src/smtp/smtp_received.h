/*
 * smtp_received.h -- the trace header a receiving SMTP server prepends
 * (RFC 5321 4.4), with the protocol keyword of RFC 3848 and the TLS
 * details in a comment, in the shape Postfix uses.
 */
#ifndef TLSMTA_SMTP_RECEIVED_H
#define TLSMTA_SMTP_RECEIVED_H

#include <time.h>

#include "util/util_buf.h"

struct smtp_received_info {
    const char *helo_name;   /* EHLO/HELO argument */
    const char *client_name; /* reverse DNS name, or NULL for "unknown" */
    const char *client_addr; /* "192.0.2.1" / "IPv6:2001:db8::1" */
    const char *by_host;     /* our hostname */
    const char *protocol;    /* "SMTP", "ESMTP", "ESMTPS", "ESMTPSA" */
    const char *tls;         /* "TLSv1.3 with cipher X (256/256 bits)", or
                                NULL when the session had no TLS */
    const char *tls_client;  /* text of the client-certificate comment
                                ("Client CN \"x\", Issuer \"y\" (verified
                                OK)"), its parentheses already quoted, or
                                NULL (no TLS) */
    const char *auth_user;   /* login to name as "(Authenticated sender:
                                ...)", or NULL to name none */
    const char *queue_id;    /* our queue id */
    const char *for_rcpt;    /* "user@example.org" when there is exactly one
                                recipient, else NULL (privacy) */
    time_t when;             /* time of receipt */
};

/* Append "Received: ...\r\n" (folded, CRLF line ends, each line under 78
 * octets where the parts allow) to out. Returns 0, or -1 if out is full. */
int smtp_received_format(struct buf *out, const struct smtp_received_info *ri);

#define SMTP_DATE_MAX 64 /* bytes of an smtp_received_date() text incl. NUL */

/* Write when as an RFC 5322 3.3 date-time ("Mon, 8 Apr 2024 09:41:18
 * +0200"): local time with a numeric zone, English names whatever the
 * locale. dst gets size bytes (SMTP_DATE_MAX is always enough), always
 * NUL-terminated. Also used for Date: and Arrival-Date: of bounces. */
void smtp_received_date(time_t when, char *dst, size_t size);

#endif
