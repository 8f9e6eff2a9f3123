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
#include <time.h>

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

/*
 * Cipher suites and certificates in detail (issue 5: `tlsmta check`; also
 * usable by logs). Implemented in tls_describe_cipher.c / _cert.c.
 */

/* A cipher suite broken into its parts, the way an expert reads
 * "ECDHE-RSA-AES256-GCM-SHA384". */
struct tls_cipher_info {
    char name[64];           /* OpenSSL's name, "ECDHE-RSA-AES256-GCM-SHA384"
                                or "TLS_AES_256_GCM_SHA384" */
    char iana[96];           /* the IANA/RFC name,
                                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" */
    unsigned id;             /* IANA code point, 0xC030 */
    char version[16];        /* oldest version it exists in, "TLSv1.2" */
    char kx[32];             /* key exchange: "ECDHE", "DHE", "RSA", "PSK",
                                "any" (TLS 1.3: negotiated separately) */
    char auth[32];           /* authentication: "RSA", "ECDSA", "any"
                                (TLS 1.3), "NULL" (anonymous) */
    char enc[48];            /* bulk encryption: "AES-256-GCM",
                                "CHACHA20-POLY1305", "AES-128-CBC",
                                "3DES-EDE-CBC", "RC4", "NULL" */
    int enc_bits;            /* its key size in bits (0 for NULL) */
    char mac[32];            /* "AEAD", or the HMAC: "HMAC-SHA1",
                                "HMAC-SHA256", "HMAC-SHA384" */
    char hash[32];           /* handshake / PRF hash: "SHA256", "SHA384" */
    bool forward_secret;     /* ephemeral key exchange (ECDHE, DHE, 1.3) */
    bool aead;               /* authenticated encryption */
    bool weak;               /* export, NULL, anonymous, RC4, DES, 3DES,
                                or CBC with HMAC-SHA1 */
    char weak_reason[64];    /* why, "RC4 is broken (RFC 7465)", or "" */
};

/* Describe c (never NULL). Never fails: unknown parts are "unknown". */
void tls_describe_cipher(const SSL_CIPHER *c, struct tls_cipher_info *out);

#define TLS_SAN_MAX 1024     /* bytes of the subjectAltName list kept */

/* One certificate as `openssl x509 -text` would show the parts that
 * matter. Names are RFC 2253 as in struct tls_info. */
struct tls_cert_info {
    char subject[TLS_DN_MAX];
    char issuer[TLS_DN_MAX];
    char san[TLS_SAN_MAX];   /* "DNS:mx.example.org, IP:192.0.2.1", or "" */
    char key_type[16];       /* "RSA", "EC", "Ed25519", "Ed448", "DSA" */
    int key_bits;            /* 2048, 256 */
    char curve[32];          /* EC: "prime256v1" (P-256), else "" */
    char sig_alg[64];        /* "sha256WithRSAEncryption",
                                "ecdsa-with-SHA256" */
    char not_before[32];     /* "2026-01-01T00:00:00Z" (UTC) */
    char not_after[32];
    long days_left;          /* whole days from now to not_after;
                                negative once expired */
    char serial[80];         /* hex, upper case */
    char sha256[TLS_SHA256_HEX_MAX]; /* fingerprint of the DER, lower hex */
    bool self_signed;        /* subject == issuer and self-verifying */
};

/* Describe x at time now (seconds since the epoch, for days_left).
 * Returns 0, or -1 if x is unreadable (out then holds what could be
 * read). */
int tls_describe_cert(X509 *x, time_t now, struct tls_cert_info *out);

#endif
