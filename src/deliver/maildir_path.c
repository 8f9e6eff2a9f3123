/*
 * maildir_path.c -- from a recipient to the directory of its Maildir
 * (maildir.h, maildir_expand()).
 *
 * Trust boundary: the recipient comes from the network through the spool.
 * It becomes path components only after an encoding that makes traversal
 * impossible: no '/', no leading '.', no control characters.
 */
#include "deliver/maildir.h"

#include "util/util_buf.h"

#include <stdbool.h>
#include <string.h>

#define MAILDIR_LOCAL_MAX 1024         /* bytes of an unquoted local part */

/* Index of the '@' that ends the local part, or -1. A quoted local part
 * (RFC 5321 4.1.2 Quoted-string) may itself contain '@'. */
static long
maildir_split(const char *rcpt)
{
    size_t i = 1;

    if (rcpt[0] != '"') {
        const char *at = strchr(rcpt, '@');
        return at == NULL ? -1 : at - rcpt;
    }
    for (; rcpt[i] != '\0' && rcpt[i] != '"'; i++)
        if (rcpt[i] == '\\' && rcpt[i + 1] != '\0')
            i++; /* quoted-pairSMTP */
    if (rcpt[i] != '"' || rcpt[i + 1] != '@')
        return -1;
    return (long)i + 1;
}

const char *
maildir_rcpt_domain(const char *rcpt)
{
    long at = maildir_split(rcpt);
    return at < 0 || rcpt[at + 1] == '\0' ? NULL : rcpt + at + 1;
}

/* The local part rcpt[0..len) without quotes and backslash escapes. */
static int
maildir_unquote(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;

    if (len >= 2 && s[0] == '"') {
        s++;
        len -= 2;
    } else if (len >= outlen) {
        return -1;
    } else {
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        if (o + 1 >= outlen)
            return -1;
        out[o++] = s[i];
    }
    out[o] = '\0';
    return 0;
}

/* Append s[0..len) as one safe path component: lower-cased, and '/', '%',
 * controls, DEL and a leading '.' as %XX (so "." and ".." cannot occur,
 * and distinct addresses never share a mailbox). */
static int
maildir_put_component(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        bool unsafe = c == '/' || c == '%' || c < 0x20 || c == 0x7f ||
                      (i == 0 && c == '.');
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (unsafe ? buf_append(b, esc, 3) : buf_append(b, &c, 1))
            return -1;
    }
    return 0;
}

/* Expand tmpl into b with the already split local part and domain. */
static int
maildir_put_template(struct buf *b, const char *tmpl, const char *local,
                     const char *domain)
{
    for (const char *p = tmpl; *p != '\0'; p++) {
        int r = 0;
        if (*p != '%')
            r = buf_append(b, p, 1);
        else if (p[1] == 'u')
            r = maildir_put_component(b, local, strlen(local));
        else if (p[1] == 'd')
            r = maildir_put_component(b, domain, strlen(domain));
        else if (p[1] == '%')
            r = buf_append(b, "%", 1);
        else
            return MAILDIR_ERR_TEMPLATE;
        if (r < 0)
            return MAILDIR_ERR_ADDRESS;
        if (*p == '%')
            p++;
    }
    return MAILDIR_OK;
}

int
maildir_expand(const char *tmpl, const char *rcpt, char *out, size_t outlen)
{
    char local[MAILDIR_LOCAL_MAX];
    long at = maildir_split(rcpt);
    struct buf b;

    if (tmpl == NULL || *tmpl == '\0')
        return MAILDIR_ERR_TEMPLATE;
    if (outlen < 2)
        return MAILDIR_ERR_ADDRESS;
    if (at <= 0 || rcpt[at + 1] == '\0' ||
        maildir_unquote(rcpt, (size_t)at, local, sizeof(local)) < 0 ||
        local[0] == '\0')
        return MAILDIR_ERR_ADDRESS;
    buf_init(&b, outlen - 1);
    int r = maildir_put_template(&b, tmpl, local, rcpt + at + 1);
    if (r == MAILDIR_OK) {
        while (b.len > 1 && b.data[b.len - 1] == '/')
            b.len--;
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    buf_free(&b);
    return r;
}
