/*
 * auth_certs.c -- relay rights and the AUTH EXTERNAL identity of a TLS
 * client certificate; the rules are in auth_certs.h.
 *
 * Trust boundary: the certificate's fingerprint and names come from the
 * network, already rendered by tls_describe(); they are only compared.
 */
#include "auth/auth_certs.h"

#include <stdio.h>
#include <string.h>

/* Indexed by enum auth_certs_grant. */
static const struct auth_certs_kind {
    const char *name; /* log word */
    bool granted;     /* gives the right to relay */
} AUTH_CERTS_KINDS[] = {
    [AUTH_CERTS_NO_CERT] = {"no-cert", false},
    [AUTH_CERTS_NOT_LISTED] = {"not-listed", false},
    [AUTH_CERTS_NOT_VERIFIED] = {"not-verified", false},
    [AUTH_CERTS_FINGERPRINT] = {"fingerprint", true},
    [AUTH_CERTS_ISSUER_SUBJECT] = {"issuer-subject", true},
    [AUTH_CERTS_ISSUER] = {"issuer", true},
};
#define AUTH_CERTS_N_KINDS \
    (sizeof(AUTH_CERTS_KINDS) / sizeof(AUTH_CERTS_KINDS[0]))

static const struct auth_certs_kind *
auth_certs_kind(enum auth_certs_grant grant)
{
    return (size_t)grant < AUTH_CERTS_N_KINDS ? &AUTH_CERTS_KINDS[grant] : NULL;
}

bool
auth_certs_granted(enum auth_certs_grant grant)
{
    const struct auth_certs_kind *k = auth_certs_kind(grant);
    return k != NULL && k->granted;
}

const char *
auth_certs_grant_name(enum auth_certs_grant grant)
{
    const struct auth_certs_kind *k = auth_certs_kind(grant);
    return k != NULL ? k->name : "unknown";
}

/* What entry c says about ti, ignoring verification: the grant it would
 * give, or AUTH_CERTS_NOT_LISTED. */
static enum auth_certs_grant
auth_certs_entry(const struct config_client_cert *c, const struct tls_info *ti)
{
    if (c->sha256 != NULL)
        return strcmp(c->sha256, ti->peer_sha256) == 0 ? AUTH_CERTS_FINGERPRINT
                                                       : AUTH_CERTS_NOT_LISTED;
    if (c->issuer == NULL || strcmp(c->issuer, ti->peer_issuer) != 0)
        return AUTH_CERTS_NOT_LISTED;
    if (c->subject == NULL)
        return AUTH_CERTS_ISSUER;
    return strcmp(c->subject, ti->peer_subject) == 0 ? AUTH_CERTS_ISSUER_SUBJECT
                                                     : AUTH_CERTS_NOT_LISTED;
}

/* Whether a would-be grant holds for ti: only a certificate that
 * verified grants anything; names count only when kept whole. */
static bool
auth_certs_holds(enum auth_certs_grant grant, const struct tls_info *ti)
{
    if (!ti->peer_verified)
        return false;
    return grant == AUTH_CERTS_FINGERPRINT || !ti->peer_names_truncated;
}

struct auth_certs_result
auth_certs_match(const struct config_client_cert *certs, size_t n,
                 const struct tls_info *ti)
{
    /* Most specific first: a pin, then issuer and subject, then issuer. */
    static const enum auth_certs_grant order[] = {
        AUTH_CERTS_FINGERPRINT, AUTH_CERTS_ISSUER_SUBJECT, AUTH_CERTS_ISSUER};
    struct auth_certs_result refused = {AUTH_CERTS_NOT_LISTED, 0};

    if (!ti->peer_cert || ti->peer_sha256[0] == '\0')
        return (struct auth_certs_result){AUTH_CERTS_NO_CERT, 0};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        for (size_t i = 0; i < n; i++) {
            if (auth_certs_entry(&certs[i], ti) != order[k])
                continue;
            if (auth_certs_holds(order[k], ti))
                return (struct auth_certs_result){order[k], certs[i].line};
            if (refused.line == 0)
                refused = (struct auth_certs_result){AUTH_CERTS_NOT_VERIFIED,
                                                     certs[i].line};
        }
    }
    return refused;
}

int
auth_certs_identity(const struct tls_info *ti, char *dst, size_t dst_size)
{
    char cn[TLS_DN_MAX];
    int n = -1;

    if (dst_size == 0)
        return -1;
    dst[0] = '\0';
    if (!ti->peer_cert || ti->peer_sha256[0] == '\0')
        return -1;
    /* Only a CA can vouch for a name; a pin vouches for nothing more. */
    if (ti->peer_verified && !ti->peer_names_truncated &&
        tls_dn_common_name(ti->peer_subject, cn, sizeof(cn)))
        n = snprintf(dst, dst_size, "%s", cn);
    else
        n = snprintf(dst, dst_size, "sha256:%s", ti->peer_sha256);
    if (n < 0 || (size_t)n >= dst_size) {
        dst[0] = '\0';
        return -1;
    }
    return 0;
}
