/*
 * auth_certs.h -- relay rights from a TLS client certificate (mutual TLS),
 * and the identity such a certificate stands for in AUTH EXTERNAL
 * (RFC 4422 Appendix A, RFC 4954).
 *
 * The entries are the lines of the relay_client_certs file, parsed by the
 * config (struct config_client_cert); the certificate is described by
 * tls_describe(). Every grant needs a certificate that verified to
 * [tls] ca_file (issue 3: relay is "refused for an unlisted or unverified
 * certificate"):
 *
 *   sha256:HEX           the verified certificate's SHA-256 fingerprint is
 *                        HEX: one exact certificate among those the CA
 *                        signed. (Postfix's relay_clientcerts also accepts
 *                        an unverified certificate; tlsmta does not. To pin
 *                        a self-signed certificate, add it to ca_file as
 *                        its own trust anchor and list its fingerprint.)
 *   issuer=DN subject=DN both names are equal, byte for byte, to the
 *                        verified certificate's RFC 2253 issuer and subject
 *                        (Sendmail's CERTISSUER/CERTSUBJECT, which need
 *                        verify=OK): names mean nothing unless a CA vouches
 *                        for them, as a self-signed certificate can copy
 *                        any name.
 *   issuer=DN            (no subject) every verified certificate from that
 *                        issuer (Sendmail's "CERTISSUER:DN RELAY"), if the
 *                        config accepts such lines.
 *
 * The names to write are those printed by
 *     openssl x509 -noout -issuer -subject -nameopt RFC2253 -in client.pem
 * and the fingerprint the one printed by
 *     openssl x509 -noout -fingerprint -sha256 -in client.pem
 *
 * Trust boundary: the certificate came from the network; the entries from
 * the administrator. Nothing here does I/O.
 */
#ifndef TLSMTA_AUTH_CERTS_H
#define TLSMTA_AUTH_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "tls/tls_describe.h"

/* The outcome of matching one session's client certificate. */
enum auth_certs_grant {
    AUTH_CERTS_NO_CERT,        /* no client certificate was presented */
    AUTH_CERTS_NOT_LISTED,     /* presented; no entry names it */
    AUTH_CERTS_NOT_VERIFIED,   /* an entry names it, but it did not verify
                                  (or, for a names entry, its names were
                                  too long to keep whole) */
    AUTH_CERTS_FINGERPRINT,    /* granted: a sha256 entry */
    AUTH_CERTS_ISSUER_SUBJECT, /* granted: an issuer and subject entry */
    AUTH_CERTS_ISSUER,         /* granted: an issuer-only entry */
};

struct auth_certs_result {
    enum auth_certs_grant grant; /* what matched, or why nothing did */
    int line;                    /* relay_client_certs line of the entry
                                    that decided, or 0 */
};

/* Match the client certificate described by ti against the n entries of
 * certs (cfg->relay_certs, may be NULL when n is 0). A granting entry wins
 * over a refusing one; fingerprints are tried first, in file order.
 * Returns the grant and the deciding line. Never fails. */
struct auth_certs_result
auth_certs_match(const struct config_client_cert *certs, size_t n,
                 const struct tls_info *ti);

/* True if grant gives the client the right to relay. */
bool auth_certs_granted(enum auth_certs_grant grant);

/* The word for grant in log lines: "no-cert", "not-listed",
 * "not-verified", "fingerprint", "issuer-subject", "issuer". Static
 * string; "unknown" for a value out of range. */
const char *auth_certs_grant_name(enum auth_certs_grant grant);

/* Write the identity the certificate of ti stands for (the SASL
 * SASL_AUTH_EXTERNAL authentication id for AUTH EXTERNAL) into dst:
 *   - the value of the subject's most specific CN, as it appears in the
 *     RFC 2253 subject (printable ASCII; specials and non-ASCII bytes
 *     escaped, e.g. "relay.example.org", "Jos\C3\A9");
 *   - when the subject has no CN, was too long to keep whole
 *     (peer_names_truncated), or the certificate did not verify (nobody
 *     vouched for its name): "sha256:" and the 64 lower-case hex digits of
 *     its fingerprint.
 * Call it only for a granted certificate (auth_certs_granted()). Returns
 * 0, or -1 if ti has no certificate or dst_size bytes are too few
 * (AUTH_CERTS_IDENTITY_MAX always suffice); dst is then "". */
#define AUTH_CERTS_IDENTITY_MAX TLS_DN_MAX
int auth_certs_identity(const struct tls_info *ti, char *dst, size_t dst_size);

#endif
