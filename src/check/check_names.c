/*
 * check_names.c -- the words of `tlsmta check`: sections, versions,
 * modes and levels, as the text report shows them and as the JSON schema
 * (docs/check-json.md) names them. One table per vocabulary.
 *
 * Trust boundary: none (constant tables).
 */
#include <string.h>

#include "check/check_internal.h"

static const struct {
    const char *key;   /* JSON key, check_problem.section */
    const char *title; /* text report heading */
} SECTIONS[CHECK_SECTIONS] = {
    [CHECK_SEC_BANNER] = {"banner", "Connection and banner"},
    [CHECK_SEC_EHLO] = {"ehlo", "EHLO before TLS"},
    [CHECK_SEC_VERSIONS] = {"versions", "TLS versions"},
    [CHECK_SEC_SESSION] = {"session", "Negotiated session"},
    [CHECK_SEC_CIPHERS] = {"ciphers", "Accepted cipher suites"},
    [CHECK_SEC_CERTIFICATE] = {"certificate", "Certificate chain"},
    [CHECK_SEC_EHLO_TLS] = {"ehlo_tls", "EHLO after TLS"},
    [CHECK_SEC_WEAKNESSES] = {"weaknesses", "Known weaknesses"},
    [CHECK_SEC_SUMMARY] = {"summary", "Summary"},
};

static const char *const VERSION_NAMES[CHECK_VERSIONS] = {
    [CHECK_SSL3] = "SSLv3",     [CHECK_TLS1_0] = "TLSv1.0",
    [CHECK_TLS1_1] = "TLSv1.1", [CHECK_TLS1_2] = "TLSv1.2",
    [CHECK_TLS1_3] = "TLSv1.3",
};

static const char *const VERSION_RESULTS[] = {
    [CHECK_V_NOT_TESTED] = "not_tested",
    [CHECK_V_ACCEPTED] = "accepted",
    [CHECK_V_REFUSED] = "refused",
    [CHECK_V_ERROR] = "error",
};

static const char *const MODES[] = {
    [CHECK_MODE_AUTO] = "auto",
    [CHECK_MODE_STARTTLS] = "starttls",
    [CHECK_MODE_IMPLICIT] = "implicit",
    [CHECK_MODE_PLAIN] = "plain",
};

static const struct {
    const char *key;  /* JSON */
    const char *word; /* text */
} LEVELS[] = {
    [CHECK_OK] = {"ok", "OK"},
    [CHECK_INFO] = {"note", "NOTE"},
    [CHECK_WARN] = {"warning", "WARN"},
    [CHECK_FAIL] = {"failure", "FAIL"},
};

#define CHECK_NAMES_SMTPS_PORT 465 /* RFC 8314 7.3 */

const char *
check_section_key(enum check_section s)
{
    return s < CHECK_SECTIONS ? SECTIONS[s].key : "unknown";
}

const char *
check_section_title(enum check_section s)
{
    return s < CHECK_SECTIONS ? SECTIONS[s].title : "unknown";
}

const char *
check_version_name(enum check_version v)
{
    return v < CHECK_VERSIONS ? VERSION_NAMES[v] : "unknown";
}

const char *
check_version_result_name(enum check_version_result res)
{
    return res <= CHECK_V_ERROR ? VERSION_RESULTS[res] : "error";
}

const char *
check_mode_name(enum check_mode m)
{
    return m <= CHECK_MODE_PLAIN ? MODES[m] : "unknown";
}

enum check_mode
check_mode_resolve(const struct check_options *opt)
{
    if (opt->mode != CHECK_MODE_AUTO)
        return opt->mode;
    return opt->port == CHECK_NAMES_SMTPS_PORT ? CHECK_MODE_IMPLICIT
                                               : CHECK_MODE_STARTTLS;
}

const char *
check_level_key(enum check_level l)
{
    return l <= CHECK_FAIL ? LEVELS[l].key : "failure";
}

const char *
check_level_word(enum check_level l)
{
    return l <= CHECK_FAIL ? LEVELS[l].word : "FAIL";
}

/* The suite leaves this part to the handshake (TLS 1.3, RFC 8446 4.2.7
 * and 4.2.3): "any", or unknown. */
static bool
suite_leaves_open(const char *part)
{
    return part[0] == '\0' || strcmp(part, "any") == 0 ||
           strcmp(part, "unknown") == 0;
}

const char *
check_session_kx(const struct check_report *r)
{
    if (!suite_leaves_open(r->session.kx) || r->group[0] == '\0')
        return r->session.kx;
    /* RFC 7919: the ffdhe groups are finite-field Diffie-Hellman. */
    return strncmp(r->group, "ffdhe", 5) == 0 ? "DHE" : "ECDHE";
}

static const struct {
    const char *key_type; /* struct tls_cert_info.key_type */
    const char *auth;     /* what signs the handshake */
} KEY_AUTH[] = {
    {"EC", "ECDSA"}, {"RSA", "RSA"},         {"RSA-PSS", "RSA-PSS"},
    {"DSA", "DSA"},  {"Ed25519", "Ed25519"}, {"Ed448", "Ed448"},
};

const char *
check_session_auth(const struct check_report *r)
{
    if (!suite_leaves_open(r->session.auth) || r->n_chain == 0)
        return r->session.auth;
    for (size_t i = 0; i < sizeof(KEY_AUTH) / sizeof(KEY_AUTH[0]); i++)
        if (strcmp(r->chain[0].info.key_type, KEY_AUTH[i].key_type) == 0)
            return KEY_AUTH[i].auth;
    return r->chain[0].info.key_type;
}

int
check_session_key_bits(const struct check_report *r)
{
    if (r->server_key_bits > 0)
        return r->server_key_bits;
    return r->n_chain > 0 ? r->chain[0].info.key_bits : 0;
}
