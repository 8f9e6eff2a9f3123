/*
 * tls_ctx.h -- OpenSSL contexts for the server side (RFC 3207 STARTTLS and
 * RFC 8314 implicit TLS). One place decides protocol versions, suites and
 * options, so the listeners, the delivery client and `check` agree.
 *
 * Trust boundary: reads certificate and key files named by the config.
 */
#ifndef TLSMTA_TLS_CTX_H
#define TLSMTA_TLS_CTX_H

#include <stddef.h>
#include <openssl/ssl.h>

struct config;

/* Build the server SSL_CTX from cfg's [tls] section: every cert/key pair
 * (an RSA and an ECDSA certificate may be loaded together; OpenSSL picks per
 * client), minimum version (never below TLS 1.2 unless configured, never
 * SSLv2/SSLv3), forward-secret AEAD suites for TLS 1.2, no compression, no
 * renegotiation, server cipher preference, session resumption (cache and
 * tickets), SSL_MODE_RELEASE_BUFFERS for cheap idle sessions.
 * Returns the context (caller frees with SSL_CTX_free()), or NULL with a
 * reason naming the file in err (errlen bytes). */
SSL_CTX *tls_server_ctx_new(const struct config *cfg, char *err,
                            size_t errlen);

/* Append the reasons on OpenSSL's error queue (and clear it) to dst as
 * "reason; reason", NUL-terminated within dst_size. Returns dst. */
char *tls_error_string(char *dst, size_t dst_size);

#endif
