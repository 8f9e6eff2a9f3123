/*
 * smtp_base64.c -- strict base64 (RFC 4648 4) for SMTP AUTH (RFC 4954 4).
 *
 * Trust boundary: smtp_base64_decode() reads bytes from the network and
 * never reads past len nor writes past smtp_base64_decoded_max(len).
 */
#include "smtp/smtp_base64.h"

#include <stdlib.h>

static const char smtp_base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 if c is not in the alphabet ("=" is not). */
static int
base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

size_t
smtp_base64_decoded_max(size_t len)
{
    return len / 4 * 3;
}

/* RFC 4954 4: "=" only at the end (at most two), every other character
 * in the alphabet, whole groups of four. */
static enum smtp_base64_error
base64_check(const char *in, size_t len, size_t *pad)
{
    size_t p = 0;
    while (p < len && p < 3 && in[len - 1 - p] == '=')
        p++;
    if (p == 3)
        return SMTP_BASE64_BAD_PADDING;
    for (size_t i = 0; i < len - p; i++)
        if (base64_value((unsigned char)in[i]) < 0)
            return in[i] == '=' ? SMTP_BASE64_BAD_PADDING
                                : SMTP_BASE64_BAD_CHAR;
    if (len % 4 != 0)
        return SMTP_BASE64_BAD_LENGTH;
    *pad = p;
    return SMTP_BASE64_OK;
}

enum smtp_base64_error
smtp_base64_decode(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t pad = 0, n = 0;
    enum smtp_base64_error e = base64_check(in, len, &pad);

    *out_len = 0;
    if (e != SMTP_BASE64_OK)
        return e;
    for (size_t i = 0; i < len; i += 4) {
        unsigned long v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d =
                in[i + k] == '=' ? 0 : base64_value((unsigned char)in[i + k]);
            v = v << 6 | (unsigned long)d;
        }
        size_t octets = i + 4 < len ? 3 : 3 - pad;
        /* RFC 4648 3.5: the bits under the padding must be zero. */
        if (octets < 3 && (v & ((1UL << (8 * (3 - octets))) - 1)) != 0)
            return SMTP_BASE64_NONCANONICAL;
        for (size_t k = 0; k < octets; k++)
            out[n++] = (char)(v >> (16 - 8 * k) & 0xff);
    }
    *out_len = n;
    return SMTP_BASE64_OK;
}

int
smtp_base64_encode(struct buf *out, const void *in, size_t len)
{
    const unsigned char *p = in;
    size_t size = (len + 2) / 3 * 4, n = 0;
    char *enc = malloc(size + 1);

    if (enc == NULL)
        return -1;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        unsigned long v = (unsigned long)p[i] << 16;
        if (left > 1)
            v |= (unsigned long)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        for (size_t k = 0; k < 4; k++)
            enc[n++] =
                k <= left ? smtp_base64_alphabet[v >> (18 - 6 * k) & 63] : '=';
    }
    int r = buf_append(out, enc, n);
    free(enc);
    return r;
}
