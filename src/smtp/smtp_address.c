/*
 * smtp_address.c -- RFC 5321 4.1.2 paths, mailboxes and EHLO names.
 *
 * Grammar implemented (RFC 5321 4.1.2, 4.1.3; RFC 6531 3.3 for UTF-8):
 *   Path = "<" [ A-d-l ":" ] Mailbox ">"     A-d-l = At-domain *("," ...)
 *   Mailbox = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 *   Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]
 *   address-literal = "[" IPv4 / "IPv6:" IPv6 "]"
 * General-address-literals are refused: no Standardized-tag other than
 * "IPv6" is registered (RFC 5321 4.1.3).
 *
 * Trust boundary: every byte comes from the network. All scanning is
 * bounded by the given length; nothing here depends on a NUL terminator.
 */
#include "smtp/smtp_address.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define SMTP_LABEL_MAX 63     /* RFC 1035 2.3.4, octets per label */
#define SMTP_IPV6_TEXT_MAX 45 /* longest IPv6 text incl. dotted quad */

/* A bounded cursor over untrusted bytes. */
struct cursor {
    const char *p;   /* next byte */
    const char *end; /* one past the last byte */
    bool non_ascii;  /* a UTF-8 sequence was seen */
};

static bool
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 5322 3.2.3 atext, as used by RFC 5321 Atom. */
static bool
is_atext(unsigned char c)
{
    return is_alpha(c) || is_digit(c) ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Length of the well-formed UTF-8 sequence (RFC 3629 4) starting at p with
 * at most n bytes available, or 0 if there is none. Overlong forms,
 * surrogates and code points over U+10FFFF are refused. */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (p[0] == 0xE0)
        lo = 0xA0;
    else if (p[0] == 0xED)
        hi = 0x9F;
    else if (p[0] == 0xF0)
        lo = 0x90;
    else if (p[0] == 0xF4)
        hi = 0x8F;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/* If the cursor is on a UTF-8 sequence (RFC 6531 3.3 UTF8-non-ascii),
 * step over it and return true. */
static bool
take_utf8(struct cursor *c)
{
    const unsigned char *u = (const unsigned char *)c->p;
    if (c->p >= c->end || u[0] < 0x80)
        return false;
    size_t n = utf8_seq_len(u, (size_t)(c->end - c->p));
    if (n == 0)
        return false;
    c->p += n;
    c->non_ascii = true;
    return true;
}

static bool
at(const struct cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

/* sub-domain = Let-dig [Ldh-str]; with UTF-8, U-label characters count as
 * letters (RFC 6531 3.3; IDNA validity is not checked here). */
static bool
scan_label(struct cursor *c)
{
    const char *start = c->p;
    bool last_hyphen = false;

    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (is_alpha(ch) || is_digit(ch)) {
            c->p++;
            last_hyphen = false;
        } else if (ch == '-' && c->p != start) {
            c->p++;
            last_hyphen = true;
        } else if (!take_utf8(c)) {
            break;
        } else {
            last_hyphen = false;
        }
    }
    return c->p != start && !last_hyphen &&
           (size_t)(c->p - start) <= SMTP_LABEL_MAX;
}

/* Domain = sub-domain *("." sub-domain) */
static bool
scan_domain(struct cursor *c)
{
    if (!scan_label(c))
        return false;
    while (at(c, '.')) {
        c->p++;
        if (!scan_label(c))
            return false;
    }
    return true;
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT 0..255. */
static bool
ipv4_valid(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        if (part > 0 && (i >= len || s[i++] != '.'))
            return false;
        while (i < len && is_digit((unsigned char)s[i]) && digits < 4) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
    }
    return i == len;
}

/* IPv6-addr of RFC 5321 4.1.3; inet_pton() accepts the same forms. */
static bool
ipv6_valid(const char *s, size_t len)
{
    char text[SMTP_IPV6_TEXT_MAX + 1];
    struct in6_addr a;

    if (len == 0 || len > SMTP_IPV6_TEXT_MAX || memchr(s, '\0', len))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET6, text, &a) == 1;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]", RFC 5321 4.1.3. */
static bool
literal_valid(const char *s, size_t len)
{
    static const char tag[] = "IPv6:";
    const size_t tag_len = sizeof(tag) - 1;

    if (len < 2 || s[0] != '[' || s[len - 1] != ']')
        return false;
    s++;
    len -= 2;
    if (len > tag_len && strncasecmp(s, tag, tag_len) == 0)
        return ipv6_valid(s + tag_len, len - tag_len);
    return ipv4_valid(s, len);
}

/* Domain or address-literal filling the rest of the cursor. */
static bool
scan_host(struct cursor *c)
{
    if (at(c, '[')) {
        bool ok = literal_valid(c->p, (size_t)(c->end - c->p));
        c->p = c->end;
        return ok;
    }
    return scan_domain(c) && c->p == c->end;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 4.1.2) */
static bool
scan_quoted(struct cursor *c)
{
    c->p++; /* opening quote */
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch == '\\') {
            /* quoted-pairSMTP = %d92 %d32-126 */
            if (c->end - c->p < 2 || c->p[1] < 32 || c->p[1] > 126)
                return false;
            c->p += 2;
        } else if (ch >= 32 && ch <= 126) {
            c->p++;
        } else if (!take_utf8(c)) {
            return false;
        }
    }
    return false;
}

/* Dot-string = Atom *("." Atom), up to the "@". */
static bool
scan_dot_string(struct cursor *c)
{
    bool need_atext = true;

    while (c->p < c->end && *c->p != '@') {
        if (*c->p == '.') {
            if (need_atext)
                return false;
            need_atext = true;
            c->p++;
        } else if (is_atext((unsigned char)*c->p)) {
            c->p++;
            need_atext = false;
        } else if (take_utf8(c)) {
            need_atext = false;
        } else {
            return false;
        }
    }
    return !need_atext;
}

/* A-d-l ":" -- a source route, RFC 5321 4.1.1.3 and Appendix C: checked for
 * syntax and dropped; it never routes anywhere. */
static bool
skip_source_route(struct cursor *c)
{
    for (;;) {
        if (!at(c, '@'))
            return false;
        c->p++;
        if (!scan_domain(c))
            return false;
        if (at(c, ':')) {
            c->p++;
            return true;
        }
        if (!at(c, ','))
            return false;
        c->p++;
    }
}

static enum smtp_address_error
copy_part(char *dst, size_t dst_size, const char *s, size_t len)
{
    if (len >= dst_size)
        return SMTP_ADDRESS_TOO_LONG;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return SMTP_ADDRESS_OK;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), filling the
 * whole cursor. */
static enum smtp_address_error
parse_mailbox(struct cursor *c, struct smtp_address *out)
{
    const char *local = c->p;
    bool ok = at(c, '"') ? scan_quoted(c) : scan_dot_string(c);
    if (!ok || !at(c, '@'))
        return SMTP_ADDRESS_SYNTAX;
    size_t local_len = (size_t)(c->p - local);
    c->p++;
    const char *host = c->p;
    if (!scan_host(c))
        return SMTP_ADDRESS_SYNTAX;
    enum smtp_address_error e =
        copy_part(out->local, sizeof(out->local), local, local_len);
    if (e == SMTP_ADDRESS_OK)
        e = copy_part(out->domain, sizeof(out->domain), host,
                      (size_t)(c->end - host));
    return e;
}

enum smtp_address_error
smtp_address_parse(const char *s, size_t len, bool allow_null, bool utf8,
                   struct smtp_address *out)
{
    struct smtp_address tmp;

    if (len < 2 || s[0] != '<' || s[len - 1] != '>')
        return SMTP_ADDRESS_SYNTAX;
    if (len > SMTP_PATH_MAX)
        return SMTP_ADDRESS_TOO_LONG;
    if (len == 2) {
        if (!allow_null)
            return SMTP_ADDRESS_SYNTAX;
        out->local[0] = out->domain[0] = '\0';
        return SMTP_ADDRESS_OK;
    }
    struct cursor c = {s + 1, s + len - 1, false};
    if (at(&c, '@') && !skip_source_route(&c))
        return SMTP_ADDRESS_SYNTAX;
    enum smtp_address_error e = parse_mailbox(&c, &tmp);
    if (e != SMTP_ADDRESS_OK)
        return e;
    /* RFC 6531 3.3: UTF-8 only once the client declared SMTPUTF8. */
    if (c.non_ascii && !utf8)
        return SMTP_ADDRESS_UTF8_NOT_ALLOWED;
    *out = tmp;
    return SMTP_ADDRESS_OK;
}

size_t
smtp_address_path_span(const char *s, size_t len)
{
    bool quoted = false;

    if (len == 0 || s[0] != '<')
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (quoted && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == '>')
            return i + 1;
    }
    return 0;
}

int
smtp_address_unquote_local(const char *local, char *dst, size_t dst_size)
{
    size_t n = 0, len = strlen(local);
    size_t i = 0;
    bool quoted = len >= 2 && local[0] == '"' && local[len - 1] == '"';

    if (quoted) {
        i = 1;
        len--;
    }
    for (; i < len; i++) {
        if (quoted && local[i] == '\\' && i + 1 < len)
            i++;
        if (n + 1 >= dst_size)
            return -1;
        dst[n++] = local[i];
    }
    if (dst_size == 0)
        return -1;
    dst[n] = '\0';
    return (int)n;
}

bool
smtp_helo_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > SMTP_DOMAIN_MAX)
        return false;
    if (s[0] == '[')
        return literal_valid(s, len);
    /* Hosts named "my_pc" are common (Windows); refusing them would lose
     * mail for nothing: the name is only recorded, and RFC 5321 4.1.4 lets
     * a server check it but not refuse mail over it. So '_' counts as a
     * letter here; everything else follows the domain grammar. */
    char name[SMTP_DOMAIN_MAX + 1];
    memcpy(name, s, len);
    for (size_t i = 0; i < len; i++)
        if (name[i] == '_')
            name[i] = 'a';
    /* RFC 6531 3.7.1: an SMTPUTF8 server accepts U-labels in EHLO. */
    struct cursor c = {name, name + len, false};
    return scan_domain(&c) && c.p == c.end;
}
