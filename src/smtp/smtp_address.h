/*
 * smtp_address.h -- RFC 5321 4.1.2 paths and mailboxes.
 *
 * Parses the bytes inside <...> of MAIL FROM / RCPT TO. Trust boundary:
 * input comes from the network. Source routes (RFC 5321 4.1.1.3, C.) are
 * accepted and dropped; "%" and "!" in a local part are ordinary characters
 * and never route anywhere.
 */
#ifndef TLSMTA_SMTP_ADDRESS_H
#define TLSMTA_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_PART_MAX 64   /* RFC 5321 4.5.3.1.1, octets */
#define SMTP_DOMAIN_MAX 255      /* RFC 5321 4.5.3.1.2, octets */
#define SMTP_PATH_MAX 256        /* RFC 5321 4.5.3.1.3, octets incl. <> */

struct smtp_address {
    char local[SMTP_LOCAL_PART_MAX + 1]; /* local part as received, quotes
                                             kept if it was quoted; "" for
                                             the null path <> */
    char domain[SMTP_DOMAIN_MAX + 1];    /* domain or [address literal] as
                                             received; "" for <> */
};

/* Why a path was refused; each maps to one reply (501 5.1.3, 501 5.1.7...).*/
enum smtp_address_error {
    SMTP_ADDRESS_OK = 0,
    SMTP_ADDRESS_SYNTAX,        /* not a path */
    SMTP_ADDRESS_TOO_LONG,      /* a part over its RFC 5321 4.5.3.1 limit */
    SMTP_ADDRESS_UTF8_NOT_ALLOWED, /* non-ASCII without SMTPUTF8 */
};

/* Parse a path "<...>" (with the angle brackets) of length len. With
 * allow_null, "<>" is accepted (reverse-path). With utf8 (SMTPUTF8 was
 * given, RFC 6531 3.3), UTF-8 is allowed in local part and domain.
 * Fills *out on SMTP_ADDRESS_OK. */
enum smtp_address_error smtp_address_parse(const char *s, size_t len,
                                           bool allow_null, bool utf8,
                                           struct smtp_address *out);

/* Length of the path "<...>" at the start of s (len bytes), up to and
 * including the first ">" that is not inside a quoted local part (RFC 5321
 * 4.1.2 Quoted-string may contain ">"), so MAIL/RCPT can find where the
 * parameters begin. Returns 0 if s does not start with "<" or the path is
 * not closed. Checks nothing else: use smtp_address_parse() on the span. */
size_t smtp_address_path_span(const char *s, size_t len);

/* Unquote a local part as stored in struct smtp_address (removing the
 * quotes and backslash escapes of a quoted-string) into dst of dst_size
 * bytes. Returns the length written, or -1 if it does not fit. */
int smtp_address_unquote_local(const char *local, char *dst, size_t dst_size);

/* Validate the argument of EHLO/HELO: a domain or an address literal
 * ([192.0.2.1], [IPv6:2001:db8::1]), RFC 5321 4.1.1.1 and 4.1.3. */
bool smtp_helo_name_valid(const char *s, size_t len);

#endif
