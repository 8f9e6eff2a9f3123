/*
 * tls_describe.h -- what a TLS session is: version, cipher and its parts,
 * key exchange, peer certificate. Shared by the server's logs and Received
 * header, the delivery client and `check` (DESIGN.md "TLS in one module").
 */
#ifndef TLSMTA_TLS_DESCRIBE_H
#define TLSMTA_TLS_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

struct tls_info {
    char version[16];        /* "TLSv1.3" */
    char cipher[64];         /* OpenSSL/IANA-style name of the suite */
    int bits;                /* effective symmetric key bits */
    int alg_bits;            /* bits of the algorithm */
    char group[32];          /* key exchange group ("X25519"), or "" */
    bool peer_cert;          /* the peer presented a certificate */
    char peer_subject[256];  /* its subject (one line), or "" */
};

/* Fill *out from an established session. Never fails: unknown parts are
 * left as empty strings or zero. */
void tls_describe(const SSL *ssl, struct tls_info *out);

/* Write the RFC 5321 4.4 Received comment text, Postfix style:
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" plus
 * " key-exchange X25519" when known, into dst (dst_size bytes, always
 * NUL-terminated). Returns dst. */
char *tls_info_received(const struct tls_info *ti, char *dst, size_t dst_size);

#endif
