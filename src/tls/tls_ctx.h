/*
 * tls_ctx.h -- OpenSSL contexts for the server side (RFC 3207 STARTTLS and
 * RFC 8314 implicit TLS). One place decides protocol versions, suites and
 * options, so the listeners, the delivery client and `check` agree. Also
 * the per-listener request and verification of client certificates
 * (mutual TLS, RFC 8446 4.3.2 / RFC 5246 7.4.4 CertificateRequest).
 *
 * Trust boundary: reads certificate, key and CA files named by the config;
 * client certificates come from the network and are verified by OpenSSL
 * against [tls] ca_file only.
 */
#ifndef TLSMTA_TLS_CTX_H
#define TLSMTA_TLS_CTX_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "config/config.h"

/* Longest client certificate chain we verify: leaf, intermediates and the
 * CA (OpenSSL counts the intermediates between leaf and trust anchor). */
#define TLS_CLIENT_VERIFY_DEPTH 5

/* Build the server SSL_CTX from cfg's [tls] section: every cert/key pair
 * (an RSA and an ECDSA certificate may be loaded together; OpenSSL picks per
 * client), minimum version (never below TLS 1.2 unless configured, never
 * SSLv2/SSLv3), forward-secret AEAD suites for TLS 1.2, no compression, no
 * renegotiation, server cipher preference, session resumption (cache and
 * tickets), SSL_MODE_RELEASE_BUFFERS for cheap idle sessions.
 * With cfg->tls_ca_file set, its certificates become the trust anchors for
 * client certificates and their names the list sent in the
 * CertificateRequest, so clients know which certificate to present
 * (nothing is requested until tls_server_session_setup() asks).
 * Returns the context (caller frees with SSL_CTX_free()), or NULL with a
 * reason naming the file in err (errlen bytes). */
SSL_CTX *tls_server_ctx_new(const struct config *cfg, char *err,
                            size_t errlen);

/* The policy every context of ours shares, server and delivery client
 * alike: minimum version min_version (0 or anything lower is raised to
 * TLS 1.2; SSLv2/SSLv3/TLS 1.0/1.1 never), cfg's [tls] ciphers (TLS 1.2)
 * and ciphersuites (TLS 1.3) when set (NULL: OpenSSL's defaults), our key
 * exchange groups, no compression (CRIME), no renegotiation,
 * SSL_MODE_RELEASE_BUFFERS. Returns 0, or -1 with the reason on OpenSSL's
 * error queue (tls_error_string()). */
int tls_ctx_set_common(SSL_CTX *ctx, const struct config *cfg,
                       int min_version);

/* Prepare a new server SSL (from tls_server_ctx_new()'s context, before
 * its handshake) for the client certificate policy of its listener:
 *   CONFIG_CLIENT_CERTS_NONE    no certificate requested;
 *   CONFIG_CLIENT_CERTS_REQUEST requested; the handshake goes on without
 *       one or with one that does not verify, and the outcome is left for
 *       tls_describe() (peer_verified, peer_verify_error);
 *   CONFIG_CLIENT_CERTS_REQUIRE the handshake fails ("peer did not return a
 *       certificate", "certificate verify failed") unless the client
 *       presents a certificate that chains to [tls] ca_file.
 * Each mode gets its own session id context, so a session resumed on a
 * listener was established under that listener's mode (a session from a
 * "request" listener without a certificate cannot be resumed on a
 * "require" one). Returns 0, or -1 if OpenSSL refused a setting (the
 * reason is on OpenSSL's error queue) or mode is out of range. */
int tls_server_session_setup(SSL *ssl, enum config_client_certs mode);

/* Append the reasons on OpenSSL's error queue (and clear it) to dst as
 * "reason; reason", NUL-terminated within dst_size. Returns dst. */
char *tls_error_string(char *dst, size_t dst_size);

#endif
