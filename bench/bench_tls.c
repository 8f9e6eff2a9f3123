/*
 * bench_tls.c -- client SSL_CTX, resumption cache and session description
 * for the benchmark tools (see bench_tls.h).
 */
#include "bench_tls.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* The last session the server gave us (TLS 1.3: a ticket after the
 * handshake). One per process is enough: every connection goes to the same
 * server, and offering the same ticket from several connections is what a
 * real client pool does. */
static SSL_SESSION *bench_tls_last;

static int
bench_tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    SSL_SESSION_free(bench_tls_last);
    bench_tls_last = sess;
    return 1; /* we keep the reference */
}

/* Turn on chain and IP address verification. Returns 0 or -1. */
static int
bench_tls_verify(SSL_CTX *ctx, const struct bench_tls_opts *opts)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

    if (SSL_CTX_load_verify_locations(ctx, opts->cafile, NULL) != 1)
        return -1;
    if (opts->ip && X509_VERIFY_PARAM_set1_ip_asc(param, opts->ip) != 1)
        return -1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return 0;
}

SSL_CTX *
bench_tls_ctx_new(const struct bench_tls_opts *opts)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        goto fail;
    /* Idle sessions should cost the client little too (idle_sessions opens
     * thousands); the server's cost is what is measured. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (opts->max_version
        && SSL_CTX_set_max_proto_version(ctx, opts->max_version) != 1)
        goto fail;
    if (opts->cafile && bench_tls_verify(ctx, opts) < 0)
        goto fail;
    if (opts->resume) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                            | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, bench_tls_new_session_cb);
    }
    return ctx;
fail:
    ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *
bench_tls_ssl_new(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl && bench_tls_last)
        SSL_set_session(ssl, bench_tls_last);
    return ssl;
}

void
bench_tls_forget(void)
{
    SSL_SESSION_free(bench_tls_last);
    bench_tls_last = NULL;
}

void
bench_tls_describe(SSL *ssl, char *buf, size_t len)
{
    int nid = SSL_get_negotiated_group(ssl);
    const char *group = nid > 0 ? OBJ_nid2sn(nid) : "-";
    X509 *cert = SSL_get0_peer_certificate(ssl);
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
    const char *kname = key ? EVP_PKEY_get0_type_name(key) : NULL;

    snprintf(buf, len, "%s %s group=%s key=%s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), group ? group : "-",
             kname ? kname : (SSL_session_reused(ssl) ? "(resumed)" : "-"));
}
