/*
 * tls_ctx.c -- server SSL_CTX setup from the [tls] config section, and the
 * per-session client certificate policy of a listener.
 */
#include "tls/tls_ctx.h"

#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "config/config.h"

/* RFC 8422/7919: offer modern groups first. */
#define TLS_GROUPS "X25519:P-256:P-384:X448:P-521"
/* Identifies our sessions in the server-side cache (resumption). */
static const unsigned char TLS_SID_CTX[] = "tlsmta";

/* "request": let the handshake go on whatever the chain looks like; the
 * verification result stays recorded for SSL_get_verify_result(). The
 * client still proves it holds the key (CertificateVerify). */
static int
tls_verify_record_cb(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

/* Per listener mode: verify flags, callback (NULL: OpenSSL enforces the
 * result) and session id context. Distinct contexts keep sessions from
 * being resumed under another mode (OpenSSL compares them on resumption). */
static const struct tls_client_cert_mode {
    int verify;          /* SSL_VERIFY_* flags */
    SSL_verify_cb cb;    /* NULL: a failed verification ends the handshake */
    const char *sid_ctx; /* session id context of this mode */
} TLS_CLIENT_CERT_MODES[] = {
    [CONFIG_CLIENT_CERTS_NONE] = {SSL_VERIFY_NONE, NULL,
                                  (const char *)TLS_SID_CTX},
    [CONFIG_CLIENT_CERTS_REQUEST] = {SSL_VERIFY_PEER, tls_verify_record_cb,
                                     "tlsmta/ccert-request"},
    [CONFIG_CLIENT_CERTS_REQUIRE] = {SSL_VERIFY_PEER |
                                         SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                                     NULL, "tlsmta/ccert-require"},
};

char *
tls_error_string(char *dst, size_t dst_size)
{
    unsigned long e;
    size_t used = 0;

    dst[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof(one));
        const char *reason = ERR_reason_error_string(e);
        int n = snprintf(dst + used, dst_size - used, "%s%s",
                         used ? "; " : "", reason ? reason : one);
        if (n < 0 || (size_t)n >= dst_size - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(dst, dst_size, "unknown TLS error");
    return dst;
}

/* Errors name the config line (STYLE.md: config errors are FILE:LINE). */
static int
tls_load_pair(SSL_CTX *ctx, const struct config *cfg,
              const struct config_tls_pair *p, char *err, size_t errlen)
{
    char why[512];

    if (SSL_CTX_use_certificate_chain_file(ctx, p->cert) != 1) {
        snprintf(err, errlen, "%s:%d: cert: %s: cannot load certificate "
                 "chain: %s", cfg->path, p->cert_line, p->cert,
                 tls_error_string(why, sizeof(why)));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, p->key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "%s:%d: key: %s: cannot load private key: %s",
                 cfg->path, p->key_line, p->key,
                 tls_error_string(why, sizeof(why)));
        return -1;
    }
    /* Checks the key against the certificate loaded last, i.e. its pair. */
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s:%d: key: %s does not match the cert %s: %s",
                 cfg->path, p->key_line, p->key, p->cert,
                 tls_error_string(why, sizeof(why)));
        return -1;
    }
    return 0;
}

int
tls_ctx_set_common(SSL_CTX *ctx, const struct config *cfg, int min_version)
{
    /* DESIGN.md: TLS 1.2 and 1.3 only; nobody can ask for less. */
    if (min_version < TLS1_2_VERSION)
        min_version = TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1)
        return -1;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3);
    if (cfg->tls_ciphers && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1)
        return -1;
    if (cfg->tls_ciphersuites &&
        SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1)
        return -1;
    if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1)
        return -1;
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return 0;
}

static int
tls_set_policy(SSL_CTX *ctx, const struct config *cfg, char *err,
               size_t errlen)
{
    char why[512];

    if (tls_ctx_set_common(ctx, cfg, cfg->tls_min_version) < 0)
        goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Resumption: server-side cache plus one TLS 1.3 ticket (not the
     * default two) to keep the first flight small. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1);
    SSL_CTX_set_num_tickets(ctx, 1);
    return 0;
fail:
    snprintf(err, errlen, "%s:%d: [tls]: %s", cfg->path ? cfg->path : "config",
             cfg->tls_line, tls_error_string(why, sizeof(why)));
    return -1;
}

/* Trust anchors for client certificates, and their subjects as the
 * certificate_authorities of the CertificateRequest (RFC 8446 4.2.4). */
static int
tls_load_client_cas(SSL_CTX *ctx, const struct config *cfg, char *err,
                    size_t errlen)
{
    char why[512];
    STACK_OF(X509_NAME) *names = NULL;

    if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_file, NULL) != 1)
        goto fail;
    names = SSL_load_client_CA_file(cfg->tls_ca_file);
    if (names == NULL)
        goto fail;
    SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
    return 0;
fail:
    snprintf(err, errlen, "%s:%d: ca_file: %s: cannot load CA certificates: "
             "%s", cfg->path ? cfg->path : "config", cfg->tls_line,
             cfg->tls_ca_file, tls_error_string(why, sizeof(why)));
    return -1;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        char why[512];
        snprintf(err, errlen, "cannot create TLS context: %s",
                 tls_error_string(why, sizeof(why)));
        return NULL;
    }
    if (tls_set_policy(ctx, cfg, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_tls_pairs; i++)
        if (tls_load_pair(ctx, cfg, &cfg->tls_pairs[i], err, errlen) < 0)
            goto fail;
    if (cfg->tls_ca_file != NULL &&
        tls_load_client_cas(ctx, cfg, err, errlen) < 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int
tls_server_session_setup(SSL *ssl, enum config_client_certs mode)
{
    size_t n = sizeof(TLS_CLIENT_CERT_MODES) / sizeof(TLS_CLIENT_CERT_MODES[0]);
    if ((size_t)mode >= n)
        return -1;
    const struct tls_client_cert_mode *m = &TLS_CLIENT_CERT_MODES[mode];
    const char *sid = m->sid_ctx;
    if (SSL_set_session_id_context(ssl, (const unsigned char *)sid,
                                   (unsigned)strlen(sid)) != 1)
        return -1;
    SSL_set_verify(ssl, m->verify, m->cb);
    SSL_set_verify_depth(ssl, TLS_CLIENT_VERIFY_DEPTH);
    return 0;
}
