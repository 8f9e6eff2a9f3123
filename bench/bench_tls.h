/*
 * bench_tls.h -- the OpenSSL client side of the benchmark tools.
 *
 * A client SSL_CTX that by default does not verify the server (the target is
 * a development server with a self-signed certificate), or verifies the
 * chain against a CA file and the certificate against the target's IP
 * address (RFC 6125 6.2.1, iPAddress subjectAltName). Optional client-side
 * session resumption. Trust boundary: the server's handshake messages are
 * parsed by OpenSSL; nothing here reads them.
 */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct bench_tls_opts {
    const char *cafile; /* verify against this CA file; NULL: no verify */
    const char *ip;     /* the target's address, checked when verifying */
    int max_version;    /* TLS1_2_VERSION, TLS1_3_VERSION, or 0 for any */
    bool resume;        /* offer the last session ticket seen */
};

/* Create the client context. Returns NULL (and prints the OpenSSL error to
 * stderr) if the CA file cannot be loaded or memory runs out. The caller
 * owns the context and frees it with SSL_CTX_free(). */
SSL_CTX *bench_tls_ctx_new(const struct bench_tls_opts *opts);

/* A new SSL for one connection, in client mode, carrying the last session
 * seen when resumption is on. Returns NULL on allocation failure; the caller
 * owns the SSL. */
SSL *bench_tls_ssl_new(SSL_CTX *ctx);

/* Drop the remembered session (resumption); call before exit. */
void bench_tls_forget(void);

/* Describe the negotiated session as "VERSION CIPHER group=G key=K" into
 * buf (always NUL-terminated, truncated to len). */
void bench_tls_describe(SSL *ssl, char *buf, size_t len);

#endif
