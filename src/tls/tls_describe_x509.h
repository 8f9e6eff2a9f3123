/*
 * tls_describe_x509.h -- helpers shared inside src/tls by tls_describe.c
 * (the session) and tls_describe_cert.c (one certificate in detail), so a
 * name and a fingerprint are written the same way everywhere. Not for use
 * outside src/tls.
 *
 * Trust boundary: the certificate may come from the network; what these
 * write is printable ASCII.
 */
#ifndef TLSMTA_TLS_DESCRIBE_X509_H
#define TLSMTA_TLS_DESCRIBE_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>

/* Write name in the RFC 2253 form described in tls_describe.h into dst
 * (dst_size bytes, always NUL-terminated). Returns true, or false if it
 * did not fit (dst then holds the truncated text) or could not be
 * rendered (dst is then ""). */
bool tls_describe_name(const X509_NAME *name, char *dst, size_t dst_size);

/* Write the SHA-256 of cert's DER encoding as 64 lower-case hex digits into
 * dst (at least TLS_SHA256_HEX_MAX bytes). dst is "" when the digest
 * failed or dst_size is too small. */
void tls_describe_sha256(const X509 *cert, char *dst, size_t dst_size);

#endif
