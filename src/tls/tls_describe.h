/*
 * tls_describe.h -- what a TLS session is: version, cipher and its parts,
 * key exchange, peer certificate (presence, verification, subject, issuer,
 * SHA-256 fingerprint). Shared by the server's logs and Received header,
 * the delivery client and `check` (DESIGN.md "TLS in one module").
 *
 * Names are written in the RFC 2253 one-line form of OpenSSL's
 * XN_FLAG_RFC2253, byte for byte what
 *     openssl x509 -noout -subject -issuer -nameopt RFC2253 -in cert.pem
 * prints after "subject=" / "issuer=": most specific RDN first, ',' between
 * RDNs, '+' inside a multi-valued RDN, the RFC 2253 specials escaped with
 * '\', control characters and every non-ASCII byte as "\XX". The result is
 * printable ASCII, and a '"' in it is always escaped.
 *
 * Trust boundary: the peer certificate comes from the network; nothing in
 * it is trusted unless peer_verified says the chain verified.
 */
#ifndef TLSMTA_TLS_DESCRIBE_H
#define TLSMTA_TLS_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#define TLS_DN_MAX 512          /* bytes kept of a name, with its NUL */
#define TLS_SHA256_HEX_MAX 65   /* 64 lower-case hex digits and a NUL */

struct tls_info {
    char version[16];        /* "TLSv1.3" */
    char cipher[64];         /* OpenSSL/IANA-style name of the suite */
    int bits;                /* effective symmetric key bits */
    int alg_bits;            /* bits of the algorithm */
    char group[32];          /* key exchange group ("X25519"), or "" */
    bool peer_cert_requested; /* server side: we asked the client for a
                                 certificate (client side: always true) */
    bool peer_cert;          /* the peer presented a certificate */
    bool peer_verified;      /* ... and its chain verified to our trust
                                anchors (server: [tls] ca_file) */
    bool peer_names_truncated; /* subject or issuer longer than TLS_DN_MAX:
                                  both are unfit for matching */
    long peer_verify_error;  /* X509_V_OK, or the X509_V_ERR_* of the
                                failed verification */
    char peer_subject[TLS_DN_MAX]; /* its subject (RFC 2253), or "" */
    char peer_issuer[TLS_DN_MAX];  /* its issuer (RFC 2253), or "" */
    char peer_sha256[TLS_SHA256_HEX_MAX]; /* SHA-256 of its DER encoding,
                                             lower-case hex, or "" */
};

/* Fill *out from an established session. Never fails: unknown parts are
 * left as empty strings or zero. */
void tls_describe(const SSL *ssl, struct tls_info *out);

/* Write the RFC 5321 4.4 Received comment text, Postfix style:
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" plus
 * " key-exchange X25519" when known, into dst (dst_size bytes, always
 * NUL-terminated). Returns dst. */
char *tls_info_received(const struct tls_info *ti, char *dst, size_t dst_size);

/* Write the text of the Received comment about the client certificate,
 * the one Postfix writes after the "(using ...)" comment; the caller puts
 * it in parentheses:
 *   No client certificate requested
 *   Client did not present a certificate
 *   Client CN "relay.example.org", Issuer "Example CA" (verified OK)
 *   Client CN "relay.example.org", Issuer "Example CA" (not verified)
 * CN is the most specific common name of the subject (issuer), or the
 * whole RFC 2253 name when it has none; '(' and ')' are written as the
 * quoted-pairs "\(" and "\)" (RFC 5322 3.2.2) so no name can end the
 * comment. Written into dst (dst_size bytes, always NUL-terminated;
 * truncated if short; TLS_RECEIVED_CLIENT_MAX is always enough).
 * Returns dst. */
#define TLS_RECEIVED_CLIENT_MAX (2 * 2 * TLS_DN_MAX + 64)
char *tls_info_received_client(const struct tls_info *ti, char *dst,
                               size_t dst_size);

/* Write the log fields about the peer certificate, key=value with names
 * in double quotes (a '"' inside them is always escaped by RFC 2253):
 *   client_cert=not-requested
 *   client_cert=absent
 *   client_cert=verified subject="CN=a,O=B" issuer="CN=CA" sha256=<hex>
 *   client_cert=unverified subject=... issuer=... sha256=<hex>
 *       verify_error="self-signed certificate"
 * into dst (dst_size bytes, always NUL-terminated; TLS_LOG_CLIENT_MAX is
 * always enough). Returns dst. */
#define TLS_LOG_CLIENT_MAX (2 * TLS_DN_MAX + TLS_SHA256_HEX_MAX + 192)
char *tls_info_log_client(const struct tls_info *ti, char *dst,
                          size_t dst_size);

/* Copy the value of the most specific CN attribute of an RFC 2253 name
 * (as tls_describe() writes them) into dst, escapes kept as they are.
 * Returns true, or false when the name has no CN or the value is empty or
 * does not fit in dst_size bytes (dst is then ""). */
bool tls_dn_common_name(const char *dn, char *dst, size_t dst_size);

#endif
