/*
 * smtp_base64.h -- strict base64 (RFC 4648 4) for SMTP AUTH exchanges
 * (RFC 4954 4: 334 challenges out, client responses in).
 *
 * Decoding is strict, as RFC 4954 4 demands: any character outside the
 * alphabet, a length that is not a multiple of four, "=" anywhere but at
 * the end, and non-zero bits under the padding (RFC 4648 3.5, so each
 * value has exactly one encoding) are all refused.
 * Trust boundary: the encoded text comes from the network.
 */
#ifndef TLSMTA_SMTP_BASE64_H
#define TLSMTA_SMTP_BASE64_H

#include <stddef.h>

#include "util/util_buf.h"

/* Why a base64 text was refused; every one is 501 5.5.2 in SMTP. */
enum smtp_base64_error {
    SMTP_BASE64_OK = 0,
    SMTP_BASE64_BAD_CHAR,     /* outside A-Z a-z 0-9 + / = */
    SMTP_BASE64_BAD_LENGTH,   /* not a multiple of 4 characters */
    SMTP_BASE64_BAD_PADDING,  /* "=" not only at the end, or "===" */
    SMTP_BASE64_NONCANONICAL, /* bits under the padding are not zero */
};

/* Octets that decoding len characters can give at most: 3 per 4. */
size_t smtp_base64_decoded_max(size_t len);

/* Decode len characters of in (not NUL-terminated; "" decodes to no
 * octets). out must have room for smtp_base64_decoded_max(len) octets;
 * *out_len gets the count written. On an error *out_len is 0 and out
 * holds garbage. Returns SMTP_BASE64_OK or why the text was refused. */
enum smtp_base64_error smtp_base64_decode(const char *in, size_t len, char *out,
                                          size_t *out_len);

/* Append the base64 of len octets of in to out (no line breaks, no NUL
 * counted). Returns 0, or -1 if out's bound or memory would be passed;
 * on -1 out is unchanged. */
int smtp_base64_encode(struct buf *out, const void *in, size_t len);

#endif
