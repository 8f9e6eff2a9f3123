/*
 * tls_client.h -- the delivery client's side of TLS: the SSL_CTX for
 * outbound connections (RFC 3207 STARTTLS and RFC 8314 implicit TLS), SNI
 * (RFC 6066 3), how far the server's certificate can be trusted (RFC 6125
 * name matching, Postfix's Anonymous/Untrusted/Trusted/Verified), whether
 * that satisfies a security level (Postfix smtp_tls_security_level), and
 * the Postfix-style log phrase of an established session.
 *
 * Trust boundary: the server certificate comes from the network. Its chain
 * is verified by OpenSSL against [outbound] tls_ca_file or the system
 * store; nothing in it counts until tls_client_trust() says VERIFIED.
 */
#ifndef TLSMTA_TLS_CLIENT_H
#define TLSMTA_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "config/config.h"

/* Longest server chain we verify (intermediates between the leaf and the
 * trust anchor); Postfix's smtp_tls_scert_verifydepth default. */
#define TLS_CLIENT_SERVER_DEPTH 9
/* Bytes of a name kept for messages (RFC 1035 2.3.4: 253 + dot + NUL). */
#define TLS_CLIENT_NAME_MAX 256
/* Room that always fits the reason of tls_client_policy_ok(). */
#define TLS_CLIENT_WHY_MAX 640
/* Room that always fits tls_client_log_established()'s phrase. */
#define TLS_CLIENT_LOG_MAX 640

/* Build the SSL_CTX of the delivery client: TLS 1.2 minimum whatever
 * [tls] min_version says (never lower), the cipher policy shared with the
 * server (tls_ctx_set_common(): [tls] ciphers and ciphersuites, groups, no
 * compression, no renegotiation, SSL_MODE_RELEASE_BUFFERS), trust anchors
 * from cfg->outbound_tls_ca_file, else the system store
 * (SSL_CTX_set_default_verify_paths()).
 * The handshake never fails on the certificate (SSL_VERIFY_NONE), but
 * OpenSSL still verifies the chain and records the result, so the caller
 * judges it afterwards with tls_client_trust(): "may" and "encrypt" go on
 * with any certificate and the log can still say Untrusted or Verified.
 * Returns the context (caller frees with SSL_CTX_free()), or NULL with a
 * reason in err (errlen bytes): no memory, or "CONFIG: [outbound]
 * tls_ca_file: FILE: cannot load CA certificates: REASON". */
SSL_CTX *tls_client_ctx_new(const struct config *cfg, char *err,
                            size_t errlen);

/* Prepare a new client SSL (from tls_client_ctx_new()'s context, before
 * its handshake) to talk to the server called host (the MX host or the
 * next hop; a trailing dot is ignored; NULL if unknown): sends host as SNI
 * (RFC 6066 3) unless it is NULL or an IP literal (RFC 6066 3 forbids
 * literal addresses), and remembers it for tls_client_policy_ok()'s
 * messages. Returns 0, or -1 if host is longer than 253 bytes or OpenSSL
 * refused it (no memory, or a name OpenSSL will not send). */
int tls_client_session_setup(SSL *ssl, const char *host);

/* How far the server of an established session is trusted (Postfix's
 * words). Ordered: each one includes what the ones before it lack. */
enum tls_trust {
    TLS_TRUST_ANONYMOUS,  /* no server certificate */
    TLS_TRUST_UNTRUSTED,  /* a certificate whose chain did not verify */
    TLS_TRUST_TRUSTED,    /* the chain verified; no name matched */
    TLS_TRUST_VERIFIED,   /* the chain verified and a name matched */
};

/* After the handshake: the trust of ssl's server. The chain is OpenSSL's
 * result (SSL_get_verify_result()); the names are matched against the
 * certificate with X509_check_host() (subjectAltName dNSNames, the
 * subject CN only when there are none; RFC 6125 6.4: case-insensitive,
 * a wildcard stands for exactly one whole left-most label, so
 * "*.example.net" matches "a.example.net" but neither "a.b.example.net"
 * nor "example.net"). A name beginning with '.' matches any subdomain of
 * the rest (Postfix "dot-nexthop": ".example.net" matches
 * "mx.example.net" and "a.mx.example.net", not "example.net"). An IP
 * literal name matches a subjectAltName iPAddress. Trailing dots are
 * ignored. names (n_names of them; may be 0) are borrowed; the ones tried
 * are remembered for tls_client_policy_ok()'s messages. */
enum tls_trust tls_client_trust(SSL *ssl, const char *const *names,
                                size_t n_names);

/* "Anonymous", "Untrusted", "Trusted", "Verified" (static strings), or
 * "Unknown" for a value out of range. */
const char *tls_trust_words(enum tls_trust t);

/* Does trust t (from tls_client_trust() on ssl) satisfy security level
 * lvl? none, may and encrypt accept any trust (that encrypt got TLS at
 * all is for the caller to ensure); verify and secure need VERIFIED.
 * Returns true, or false with the reason in why (n bytes, always
 * NUL-terminated; TLS_CLIENT_WHY_MAX is always enough), e.g.
 *   "server certificate verification failed for mx.example.net:
 *    unable to get local issuer certificate"
 *   "server certificate name mismatch: none of mx.example.net matched"
 *   "server presented no certificate to mx.example.net"
 * (the host is the one given to tls_client_session_setup(); without one
 * the " for HOST" part is left out). ssl may be NULL (a reason then has
 * neither the host nor OpenSSL's verification error). A level out of
 * range is refused ("unknown TLS security level"). */
bool tls_client_policy_ok(enum config_tls_level lvl, enum tls_trust t,
                          SSL *ssl, char *why, size_t n);

/* Write the log phrase of an established session, Postfix style:
 *   "Verified TLS connection established to mx.example.net[192.0.2.1]:25:
 *    TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
 *    key-exchange X25519"
 * (one line; the words from tls_trust_words(t), the rest from
 * tls_describe()/tls_info_received()). host is the server's name, addr
 * its address as text without brackets ("192.0.2.1", "2001:db8::1"),
 * port its TCP port. Written into dst (dst_size bytes, always
 * NUL-terminated, truncated if short; TLS_CLIENT_LOG_MAX is always enough
 * for names up to TLS_CLIENT_NAME_MAX). Returns dst. */
char *tls_client_log_established(SSL *ssl, enum tls_trust t,
                                 const char *host, const char *addr,
                                 unsigned port, char *dst, size_t dst_size);

/* Does cert name the server called name? RFC 6125 6.4 through
 * X509_check_host() with X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, exactly as
 * tls_client_trust() matches (whole-label wildcards, a leading '.' for any
 * subdomain, an IP literal against iPAddress, a trailing dot ignored).
 * Looks at the names only, not at the chain. Returns false for a NULL or
 * empty name. */
bool tls_client_name_matches(X509 *cert, const char *name);

/*
 * Probe contexts for `tlsmta check` (issue 5): unlike the delivery client,
 * the probe must be able to offer what a server should refuse.
 */
enum tls_probe_policy {
    TLS_PROBE_MODERN,  /* what our delivery client offers:
                          tls_ctx_set_common() with OpenSSL's default
                          suites, TLS 1.2 and 1.3 */
    TLS_PROBE_LEGACY,  /* all this OpenSSL can speak: security level 0,
                          "ALL:COMPLEMENTOFALL", the five TLS 1.3 suites,
                          OpenSSL's default groups, compression and
                          client-initiated renegotiation allowed, servers
                          without RFC 5746 secure renegotiation accepted */
};

struct tls_probe_params {
    enum tls_probe_policy policy;
    int version;             /* 0: the policy's range; else exactly this
                                one (SSL3_VERSION .. TLS1_3_VERSION;
                                MODERN: TLS1_2_VERSION or TLS1_3_VERSION) */
    const char *ca_file;     /* trust anchors for SSL_get_verify_result()
                                (PEM), NULL: the system store */
    const char *cert;        /* client certificate chain (PEM), or NULL */
    const char *key;         /* its private key (PEM); NULL: in cert */
};

/* Build a client SSL_CTX for probing a server. The handshake never fails
 * on the certificate (SSL_VERIFY_NONE) but OpenSSL records the chain's
 * verification against the anchors (SSL_get_verify_result()). Returns
 * the context (caller frees with SSL_CTX_free()), or NULL with a reason
 * in err (errlen bytes): "cannot load CA certificates from FILE: ...",
 * "cannot load client certificate FILE: ...", a version the policy cannot
 * offer, or an OpenSSL failure. */
SSL_CTX *tls_client_probe_ctx_new(const struct tls_probe_params *p,
                                  char *err, size_t errlen);

#endif
