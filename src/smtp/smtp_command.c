/*
 * smtp_command.c -- MAIL and RCPT arguments: "FROM:"/"TO:", the path and
 * the ESMTP parameters (RFC 5321 4.1.2), each parameter in a table with its
 * own small parser; and the AUTH argument (RFC 4954 4).
 *
 * Trust boundary: every byte comes from the network.
 */
#include "smtp/smtp_command.h"

#include <string.h>
#include <strings.h>

#include "smtp/smtp_address.h"

#define SMTP_SIZE_DIGITS_MAX 20 /* RFC 1870 3: size-value 1*20DIGIT */

/* Apply one parameter; value is NULL when there was no "=". Returns
 * SMTP_COMMAND_OK or why it is refused. */
typedef enum smtp_command_error smtp_param_fn(struct smtp_mail_params *mp,
                                              const char *value, size_t len);

struct smtp_param {
    const char *keyword; /* esmtp-keyword, matched case-insensitively */
    smtp_param_fn *apply;
};

/* RFC 1870 3: size-value = 1*20DIGIT. A value past 2^64-1 is taken as
 * 2^64-1: over any limit we could have. */
static enum smtp_command_error
param_size(struct smtp_mail_params *mp, const char *value, size_t len)
{
    uint64_t v = 0;

    if (value == NULL || len == 0 || len > SMTP_SIZE_DIGITS_MAX)
        return SMTP_COMMAND_BAD_PARAMETER;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(value[i] - '0');
        if (d > 9)
            return SMTP_COMMAND_BAD_PARAMETER;
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    mp->size = v;
    return SMTP_COMMAND_OK;
}

/* RFC 6152 2: BODY=7BIT / 8BITMIME. No BINARYMIME: we offer no CHUNKING. */
static enum smtp_command_error
param_body(struct smtp_mail_params *mp, const char *value, size_t len)
{
    if (value != NULL && len == 4 && strncasecmp(value, "7BIT", 4) == 0)
        mp->body_8bitmime = false;
    else if (value != NULL && len == 8 &&
             strncasecmp(value, "8BITMIME", 8) == 0)
        mp->body_8bitmime = true;
    else
        return SMTP_COMMAND_BAD_PARAMETER;
    return SMTP_COMMAND_OK;
}

/* RFC 6531 3.4: SMTPUTF8 takes no value. */
static enum smtp_command_error
param_smtputf8(struct smtp_mail_params *mp, const char *value, size_t len)
{
    (void)len;
    if (value != NULL)
        return SMTP_COMMAND_BAD_PARAMETER;
    mp->smtputf8 = true;
    return SMTP_COMMAND_OK;
}

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
           (c >= 'a' && c <= 'f');
}

/* RFC 4954 8 (RFC 3461 4): xtext = *(xchar / hexchar), xchar = %x21-2A /
 * %x2C-3C / %x3E-7E, hexchar = "+" HEXDIG HEXDIG. */
static bool
xtext_valid(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '+') {
            if (len - i < 3 || !is_hex(v[i + 1]) || !is_hex(v[i + 2]))
                return false;
            i += 2;
        } else if (c < 0x21 || c > 0x7e || c == '=') {
            return false;
        }
    }
    return true;
}

/* RFC 4954 5: AUTH=xtext, a mailbox or "<>". Checked and then ignored:
 * a client we do not trust to name the submitter counts as AUTH=<>. */
static enum smtp_command_error
param_auth(struct smtp_mail_params *mp, const char *value, size_t len)
{
    if (value == NULL || !xtext_valid(value, len))
        return SMTP_COMMAND_BAD_PARAMETER;
    mp->auth = true;
    return SMTP_COMMAND_OK;
}

static const struct smtp_param smtp_mail_params[] = {
    {"SIZE", param_size},
    {"BODY", param_body},
    {"SMTPUTF8", param_smtputf8},
    {"AUTH", param_auth},
    {NULL, NULL},
};

/* We offer no RCPT parameters (no DSN yet). */
static const struct smtp_param smtp_rcpt_params[] = {
    {NULL, NULL},
};

static bool
is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") (RFC 5321 4.1.2) */
static bool
param_keyword_valid(const char *k, size_t len)
{
    if (len == 0 || !is_alnum(k[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alnum(k[i]) && k[i] != '-')
            return false;
    return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 3.3 adds UTF-8; we take
 * any octet over 126 here and leave meaning to the parameter. */
static bool
param_value_valid(const char *v, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 33 || c == '=' || c == 127)
            return false;
    }
    return true;
}

static const struct smtp_param *
param_find(const struct smtp_param *table, const char *k, size_t len)
{
    for (; table->keyword != NULL; table++)
        if (strlen(table->keyword) == len &&
            strncasecmp(table->keyword, k, len) == 0)
            return table;
    return NULL;
}

/* One "keyword[=value]" of length len. */
static enum smtp_command_error
param_apply(const struct smtp_param *table, const char *p, size_t len,
            struct smtp_mail_params *mp)
{
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    const char *value = eq ? eq + 1 : NULL;
    size_t vlen = eq ? len - klen - 1 : 0;

    if (!param_keyword_valid(p, klen) ||
        (value != NULL && !param_value_valid(value, vlen)))
        return SMTP_COMMAND_BAD_PARAMETER;
    const struct smtp_param *prm = param_find(table, p, klen);
    if (prm == NULL)
        return SMTP_COMMAND_UNKNOWN_PARAMETER; /* RFC 5321 4.1.1.11: 555 */
    return prm->apply(mp, value, vlen);
}

/* Parameters after the path: SP-separated, RFC 5321 4.1.2. */
static enum smtp_command_error
params_parse(const struct smtp_param *table, const char *p, size_t len,
             struct smtp_mail_params *mp)
{
    size_t i = 0;

    while (i < len) {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && p[i] != ' ')
            i++;
        enum smtp_command_error r =
            param_apply(table, p + start, i - start, mp);
        if (r != SMTP_COMMAND_OK)
            return r;
    }
    return SMTP_COMMAND_OK;
}

/* If arg starts with prefix (case-insensitive), step past it and any
 * spaces: RFC 5321 4.1.2 allows none after the colon, but enough clients
 * send "MAIL FROM: <a@b>" that every MTA tolerates it. */
static bool
skip_prefix(const char **arg, size_t *len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (*len < n || strncasecmp(*arg, prefix, n) != 0)
        return false;
    *arg += n;
    *len -= n;
    while (*len > 0 && **arg == ' ') {
        (*arg)++;
        (*len)--;
    }
    return true;
}

/* Split "<path> params": the path span, and the parameters after it, which
 * must be separated by a space. Returns the path length, 0 if malformed. */
static size_t
split_path(const char *arg, size_t len, const char **params, size_t *plen)
{
    size_t n = smtp_address_path_span(arg, len);
    if (n == 0 || (n < len && arg[n] != ' '))
        return 0;
    *params = arg + n;
    *plen = len - n;
    return n;
}

/* "PREFIX" spaces "<path>" [SP params], params parsed with table. */
static enum smtp_command_error
command_split(const char *arg, size_t len, const char *prefix,
              const struct smtp_param *table, struct smtp_path_arg *out)
{
    const char *params;
    size_t plen;

    memset(out, 0, sizeof(*out));
    if (!skip_prefix(&arg, &len, prefix))
        return SMTP_COMMAND_SYNTAX;
    size_t n = split_path(arg, len, &params, &plen);
    if (n == 0)
        return SMTP_COMMAND_BAD_PATH;
    out->path = arg;
    out->path_len = n;
    return params_parse(table, params, plen, &out->params);
}

enum smtp_command_error
smtp_command_mail(const char *arg, size_t len, struct smtp_path_arg *out)
{
    return command_split(arg, len, "FROM:", smtp_mail_params, out);
}

enum smtp_command_error
smtp_command_rcpt(const char *arg, size_t len, struct smtp_path_arg *out)
{
    return command_split(arg, len, "TO:", smtp_rcpt_params, out);
}

/* RFC 4422 3.1: mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE;
 * RFC 4954 8 takes the name case-insensitively. Copies it upper-cased.
 * Returns false if it is no mechanism name. */
static bool
auth_mech_copy(const char *p, size_t len, char *mech)
{
    if (len == 0 || len > SMTP_SASL_MECH_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!is_alnum(c) && c != '-' && c != '_')
            return false;
        mech[i] = c;
    }
    mech[len] = '\0';
    return true;
}

enum smtp_command_error
smtp_command_auth(const char *arg, size_t len, struct smtp_auth_arg *out)
{
    size_t m = 0;

    memset(out, 0, sizeof(*out));
    while (m < len && arg[m] != ' ')
        m++;
    if (m == 0)
        return SMTP_COMMAND_SYNTAX;
    if (!auth_mech_copy(arg, m, out->mech))
        return SMTP_COMMAND_BAD_MECHANISM;
    size_t i = m;
    while (i < len && arg[i] == ' ')
        i++;
    if (i == len)
        return SMTP_COMMAND_OK;
    if (memchr(arg + i, ' ', len - i) != NULL)
        return SMTP_COMMAND_SYNTAX; /* one initial response at most */
    out->initial = arg + i;
    /* RFC 4954 4: "=" is a present but empty initial response. */
    out->initial_len = len - i == 1 && arg[i] == '=' ? 0 : len - i;
    return SMTP_COMMAND_OK;
}
