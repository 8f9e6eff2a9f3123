/*
 * tls_client.c -- outbound TLS: the client SSL_CTX, SNI (RFC 6066 3),
 * server certificate trust with RFC 6125 name matching, security level
 * checks (Postfix smtp_tls_security_level) and the log phrase.
 *
 * Trust boundary: judges a certificate that came from the network.
 */
#include "tls/tls_client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls_ctx.h"
#include "tls/tls_describe.h"

/* Bytes kept of the names tried by tls_client_trust(), for messages. */
#define TLS_CLIENT_NAMES_MAX 320
/* Longest host name sent as SNI (RFC 1035 2.3.4, without the root dot). */
#define TLS_CLIENT_HOST_LEN_MAX 253

/* What a client SSL remembers for its messages (SSL ex_data, freed with
 * the SSL). */
struct tls_client_peer {
    char host[TLS_CLIENT_NAME_MAX];    /* from session_setup, or "" */
    char names[TLS_CLIENT_NAMES_MAX];  /* "a, b" from tls_client_trust */
};

static CRYPTO_ONCE tls_client_once = CRYPTO_ONCE_STATIC_INIT;
static int tls_client_ex_index = -1;

static void
tls_client_peer_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void
tls_client_index_init(void)
{
    tls_client_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
                                               tls_client_peer_free_cb);
}

/* ssl's remembered names, created on first use when create is set; NULL
 * if there are none (or no memory). */
static struct tls_client_peer *
tls_client_peer(const SSL *ssl, bool create)
{
    if (!CRYPTO_THREAD_run_once(&tls_client_once, tls_client_index_init) ||
        tls_client_ex_index < 0 || ssl == NULL)
        return NULL;
    struct tls_client_peer *p = SSL_get_ex_data(ssl, tls_client_ex_index);
    if (p != NULL || !create)
        return p;
    p = calloc(1, sizeof(*p));
    if (p != NULL && !SSL_set_ex_data((SSL *)ssl, tls_client_ex_index, p)) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Copy name without one trailing dot (DNS root) into dst. Returns false
 * if it is NULL, empty or does not fit. */
static bool
tls_client_name_copy(const char *name, char *dst, size_t dst_size)
{
    if (name == NULL)
        return false;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len >= dst_size)
        return false;
    memcpy(dst, name, len);
    dst[len] = '\0';
    return true;
}

static bool
tls_client_ip_literal(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 ||
           inet_pton(AF_INET6, name, addr) == 1;
}

/* Trust anchors from file (PEM), or the system store when it is NULL. */
static bool
tls_client_anchors(SSL_CTX *ctx, const char *file)
{
    return file != NULL ? SSL_CTX_load_verify_locations(ctx, file, NULL) == 1
                        : SSL_CTX_set_default_verify_paths(ctx) == 1;
}

static int
tls_client_load_anchors(SSL_CTX *ctx, const struct config *cfg, char *err,
                        size_t errlen)
{
    char why[512];
    const char *file = cfg->outbound_tls_ca_file;

    if (tls_client_anchors(ctx, file))
        return 0;
    snprintf(err, errlen, "%s: [outbound] tls_ca_file: %s: cannot load CA "
             "certificates: %s", cfg->path ? cfg->path : "config",
             file ? file : "(system store)",
             tls_error_string(why, sizeof(why)));
    return -1;
}

/* Judged after the handshake (tls_client_trust(), `check`): "may" and
 * "encrypt" accept any certificate. OpenSSL still verifies the chain and
 * keeps the result for SSL_get_verify_result(). */
static void
tls_client_verify_later(SSL_CTX *ctx)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_verify_depth(ctx, TLS_CLIENT_SERVER_DEPTH);
}

/* A bare client context, or NULL with the reason in err. */
static SSL_CTX *
tls_client_ctx_alloc(char *err, size_t errlen)
{
    char why[512];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        snprintf(err, errlen, "cannot create TLS context: %s",
                 tls_error_string(why, sizeof(why)));
    return ctx;
}

SSL_CTX *
tls_client_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
    char why[512];
    SSL_CTX *ctx = tls_client_ctx_alloc(err, errlen);

    if (ctx == NULL)
        return NULL;
    /* DESIGN.md: TLS 1.2 at least; [tls] min_version is the listeners'. */
    if (tls_ctx_set_common(ctx, cfg, TLS1_2_VERSION) < 0) {
        snprintf(err, errlen, "%s:%d: [tls]: %s",
                 cfg->path ? cfg->path : "config", cfg->tls_line,
                 tls_error_string(why, sizeof(why)));
        goto fail;
    }
    if (tls_client_load_anchors(ctx, cfg, err, errlen) < 0)
        goto fail;
    tls_client_verify_later(ctx);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int
tls_client_session_setup(SSL *ssl, const char *host)
{
    char name[TLS_CLIENT_HOST_LEN_MAX + 1];

    if (host == NULL)
        return 0;
    if (!tls_client_name_copy(host, name, sizeof(name)))
        return -1;
    struct tls_client_peer *p = tls_client_peer(ssl, true);
    if (p == NULL)
        return -1;
    snprintf(p->host, sizeof(p->host), "%s", name);
    /* RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted". */
    if (tls_client_ip_literal(name))
        return 0;
    return SSL_set_tlsext_host_name(ssl, name) == 1 ? 0 : -1;
}

/* Remember names as "a, b, c" (cut short with "..." if long). */
static void
tls_client_remember_names(SSL *ssl, const char *const *names, size_t n)
{
    struct tls_client_peer *p = tls_client_peer(ssl, true);
    size_t used = 0;

    if (p == NULL)
        return;
    p->names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t room = sizeof(p->names) - used;
        int w = snprintf(p->names + used, room, "%s%s", i ? ", " : "",
                         names[i] ? names[i] : "");
        if (w < 0 || (size_t)w >= room) {
            memcpy(p->names + sizeof(p->names) - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

/* RFC 6125 6.4 through X509_check_host(): whole-label wildcards only
 * (6.4.3); a leading '.' asks OpenSSL to match any subdomain. */
bool
tls_client_name_matches(X509 *cert, const char *name)
{
    char n[TLS_CLIENT_NAME_MAX];

    if (!tls_client_name_copy(name, n, sizeof(n)))
        return false;
    if (tls_client_ip_literal(n))
        return X509_check_ip_asc(cert, n, 0) == 1;
    return X509_check_host(cert, n, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                           NULL) == 1;
}

enum tls_trust
tls_client_trust(SSL *ssl, const char *const *names, size_t n_names)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);

    tls_client_remember_names(ssl, names, n_names);
    if (peer == NULL)
        return TLS_TRUST_ANONYMOUS;
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return TLS_TRUST_UNTRUSTED;
    for (size_t i = 0; i < n_names; i++)
        if (tls_client_name_matches(peer, names[i]))
            return TLS_TRUST_VERIFIED;
    return TLS_TRUST_TRUSTED;
}

static const char *const TLS_TRUST_WORDS[] = {
    [TLS_TRUST_ANONYMOUS] = "Anonymous",
    [TLS_TRUST_UNTRUSTED] = "Untrusted",
    [TLS_TRUST_TRUSTED] = "Trusted",
    [TLS_TRUST_VERIFIED] = "Verified",
};
#define TLS_N_TRUST (sizeof(TLS_TRUST_WORDS) / sizeof(TLS_TRUST_WORDS[0]))

const char *
tls_trust_words(enum tls_trust t)
{
    return (size_t)t < TLS_N_TRUST ? TLS_TRUST_WORDS[t] : "Unknown";
}

/* The least trust each security level accepts (Postfix TLS_README,
 * "Client-side TLS security levels"). */
static const enum tls_trust TLS_LEVEL_NEEDS[] = {
    [CONFIG_TLS_LEVEL_NONE] = TLS_TRUST_ANONYMOUS,
    [CONFIG_TLS_LEVEL_MAY] = TLS_TRUST_ANONYMOUS,
    [CONFIG_TLS_LEVEL_ENCRYPT] = TLS_TRUST_ANONYMOUS,
    [CONFIG_TLS_LEVEL_VERIFY] = TLS_TRUST_VERIFIED,
    [CONFIG_TLS_LEVEL_SECURE] = TLS_TRUST_VERIFIED,
};
#define TLS_N_LEVELS (sizeof(TLS_LEVEL_NEEDS) / sizeof(TLS_LEVEL_NEEDS[0]))

/* Why trust t falls short, into why. */
static void
tls_client_shortfall(enum tls_trust t, SSL *ssl, char *why, size_t n)
{
    const struct tls_client_peer *p = tls_client_peer(ssl, false);
    const char *host = p && p->host[0] ? p->host : NULL;
    const char *pre = host ? " for " : "";

    host = host ? host : "";
    if (t == TLS_TRUST_ANONYMOUS) {
        snprintf(why, n, "no server certificate%s%s", pre, host);
    } else if (t == TLS_TRUST_UNTRUSTED) {
        long e = ssl ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
        snprintf(why, n, "server certificate verification failed%s%s: %s",
                 pre, host, X509_verify_cert_error_string(e));
    } else {
        snprintf(why, n, "server certificate name mismatch: none of %s "
                 "matched", p && p->names[0] ? p->names : "the names");
    }
}

bool
tls_client_policy_ok(enum config_tls_level lvl, enum tls_trust t, SSL *ssl,
                     char *why, size_t n)
{
    if ((size_t)lvl >= TLS_N_LEVELS) {
        snprintf(why, n, "unknown TLS security level");
        return false;
    }
    if (t >= TLS_LEVEL_NEEDS[lvl])
        return true;
    tls_client_shortfall(t, ssl, why, n);
    return false;
}

char *
tls_client_log_established(SSL *ssl, enum tls_trust t, const char *host,
                           const char *addr, unsigned port, char *dst,
                           size_t dst_size)
{
    struct tls_info ti;
    char how[256];

    tls_describe(ssl, &ti);
    snprintf(dst, dst_size, "%s TLS connection established to %s[%s]:%u: %s",
             tls_trust_words(t), host ? host : "unknown", addr ? addr : "",
             port, tls_info_received(&ti, how, sizeof(how)));
    return dst;
}

/* The five TLS 1.3 suites of RFC 8446 B.4, all of which OpenSSL 3 can
 * offer (the CCM ones are off by default). */
#define TLS_PROBE_SUITES_13                                                 \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                        \
    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:"                  \
    "TLS_AES_128_CCM_8_SHA256"

/* Everything this OpenSSL can offer, so that old versions and weak suites
 * can be tested: a probe must be able to ask for what servers refuse. */
static int
tls_probe_legacy(SSL_CTX *ctx, int version)
{
    SSL_CTX_set_security_level(ctx, 0);
    /* RFC 5746 is checked by the probe, not required to connect. */
    SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT);
    /* Offer compression (if built in) and allow renegotiation, to learn
     * whether the server takes them. */
    SSL_CTX_clear_options(ctx, SSL_OP_NO_COMPRESSION |
                                   SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL") != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS_PROBE_SUITES_13) != 1)
        return -1;
    int lo = version ? version : SSL3_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, version) != 1)
        return -1;
    return 0;
}

/* Our delivery client's policy, optionally pinned to one version. */
static int
tls_probe_modern(SSL_CTX *ctx, int version)
{
    struct config defaults;

    memset(&defaults, 0, sizeof(defaults)); /* OpenSSL's default suites */
    if (version != 0 && version != TLS1_2_VERSION &&
        version != TLS1_3_VERSION) {
        ERR_raise_data(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL,
                       "the modern policy offers TLS 1.2 and 1.3 only");
        return -1;
    }
    if (tls_ctx_set_common(ctx, &defaults, version ? version : 0) < 0)
        return -1;
    return SSL_CTX_set_max_proto_version(ctx, version) == 1 ? 0 : -1;
}

static int
tls_probe_client_cert(SSL_CTX *ctx, const struct tls_probe_params *p,
                      char *err, size_t errlen)
{
    char why[512];
    const char *key = p->key ? p->key : p->cert;

    if (p->cert == NULL)
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, p->cert) == 1 &&
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
        SSL_CTX_check_private_key(ctx) == 1)
        return 0;
    snprintf(err, errlen, "cannot load client certificate %s with key %s: "
             "%s", p->cert, key, tls_error_string(why, sizeof(why)));
    return -1;
}

static int
tls_probe_anchors(SSL_CTX *ctx, const char *file, char *err, size_t errlen)
{
    char why[512];

    if (tls_client_anchors(ctx, file))
        return 0;
    snprintf(err, errlen, "cannot load CA certificates from %s: %s",
             file ? file : "the system store",
             tls_error_string(why, sizeof(why)));
    return -1;
}

SSL_CTX *
tls_client_probe_ctx_new(const struct tls_probe_params *p, char *err,
                         size_t errlen)
{
    char why[512];
    SSL_CTX *ctx = tls_client_ctx_alloc(err, errlen);

    if (ctx == NULL)
        return NULL;
    int rc = p->policy == TLS_PROBE_LEGACY ? tls_probe_legacy(ctx, p->version)
                                           : tls_probe_modern(ctx, p->version);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the TLS probe: %s",
                 tls_error_string(why, sizeof(why)));
        goto fail;
    }
    if (tls_probe_anchors(ctx, p->ca_file, err, errlen) < 0 ||
        tls_probe_client_cert(ctx, p, err, errlen) < 0)
        goto fail;
    tls_client_verify_later(ctx);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
