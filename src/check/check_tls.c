/*
 * check_tls.c -- which TLS versions and cipher suites the server accepts,
 * the way `openssl s_client -tls1_2 -cipher X` finds out: one fresh
 * connection and handshake per attempt, offering everything this OpenSSL
 * can speak (security level 0) but exactly one version.
 *
 * Suites of TLS 1.0-1.2 (RFC 5246 7.4.1.2) and of TLS 1.3 (RFC 8446 4.1.1)
 * are found by offering all that are left and removing the one the server
 * chose, until it refuses: a server that picks by its own preference
 * gives them in that order.
 *
 * Trust boundary: the server's choice is checked by OpenSSL (a suite we
 * did not offer ends the handshake); each list is bounded.
 */
#include "check/check_conn.h"
#include "check/check_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls/tls_client.h"

/* OpenSSL's number of each version of the report. */
static const int CHECK_TLS_NUMBERS[CHECK_VERSIONS] = {
    [CHECK_SSL3] = SSL3_VERSION,     [CHECK_TLS1_0] = TLS1_VERSION,
    [CHECK_TLS1_1] = TLS1_1_VERSION, [CHECK_TLS1_2] = TLS1_2_VERSION,
    [CHECK_TLS1_3] = TLS1_3_VERSION,
};

#define CHECK_TLS_UNSUPPORTED "unsupported by this build"

SSL_CTX *
check_tls_ctx(const struct check_target *t, bool legacy, int version,
              char *err, size_t errlen)
{
    struct tls_probe_params p = {
        .policy = legacy ? TLS_PROBE_LEGACY : TLS_PROBE_MODERN,
        .version = version,
        .ca_file = t->opt->ca_file,
        .cert = t->opt->client_cert,
        .key = t->opt->client_key,
    };
    return tls_client_probe_ctx_new(&p, err, errlen);
}

int
check_tls_number(enum check_version v)
{
    return (unsigned)v < CHECK_VERSIONS ? CHECK_TLS_NUMBERS[v] : 0;
}

int
check_tls_best(const struct check_report *r)
{
    for (int v = CHECK_VERSIONS - 1; v >= 0; v--)
        if (r->versions[v].result == CHECK_V_ACCEPTED)
            return CHECK_TLS_NUMBERS[v];
    return 0;
}

/* The suites ctx can offer (a copy to free with sk_SSL_CIPHER_free()),
 * or NULL for none: the version is not in this build or has no suite
 * left at security level 0. */
static STACK_OF(SSL_CIPHER) *
check_tls_offer(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    STACK_OF(SSL_CIPHER) *sk = ssl ? SSL_get1_supported_ciphers(ssl) : NULL;

    SSL_free(ssl);
    if (sk != NULL && sk_SSL_CIPHER_num(sk) > 0)
        return sk;
    sk_SSL_CIPHER_free(sk);
    return NULL;
}

/* One handshake at version v (its ctx): accepted or refused. */
static void
check_tls_version(const struct check_target *t, SSL_CTX *ctx,
                  struct check_version_probe *vp)
{
    struct check_conn c;
    struct check_tls_start ts = {.ctx = ctx, .name = t->name};
    char err[CHECK_ERR_MAX] = "";

    switch (check_conn_open_tls(t, &c, &ts, err, sizeof(err))) {
    case CHECK_OPEN_TLS:
        vp->result = CHECK_V_ACCEPTED;
        break;
    case CHECK_OPEN_REFUSED:
        vp->result = CHECK_V_REFUSED;
        break;
    case CHECK_OPEN_ERROR:
        vp->result = CHECK_V_ERROR;
        break;
    }
    snprintf(vp->detail, sizeof(vp->detail), "%s", err);
    check_conn_close(&c);
}

void
check_tls_versions(const struct check_target *t, struct check_report *r)
{
    char err[CHECK_ERR_MAX];

    for (int v = 0; v < CHECK_VERSIONS; v++) {
        struct check_version_probe *vp = &r->versions[v];
        SSL_CTX *ctx = check_tls_ctx(t, true, CHECK_TLS_NUMBERS[v], err,
                                     sizeof(err));
        STACK_OF(SSL_CIPHER) *sk = ctx ? check_tls_offer(ctx) : NULL;

        vp->result = CHECK_V_NOT_TESTED;
        vp->n_ciphers = 0;
        if (ctx == NULL)
            snprintf(vp->detail, sizeof(vp->detail), "%s", err);
        else if (sk == NULL)
            snprintf(vp->detail, sizeof(vp->detail), CHECK_TLS_UNSUPPORTED);
        else
            check_tls_version(t, ctx, vp);
        sk_SSL_CIPHER_free(sk);
        SSL_CTX_free(ctx);
    }
}

/* The candidates of one enumeration: what ctx offers, minus the suites
 * accepted so far. */
struct check_tls_enum {
    STACK_OF(SSL_CIPHER) *offer;  /* owned */
    bool accepted[CHECK_CIPHERS_MAX * 2];
    int n;                        /* candidates (bounded by accepted[]) */
    bool tls13;                   /* suites of TLS 1.3, not 1.0-1.2 */
    struct check_report *r;       /* where broken connections count */
};

/* "A:B:C" of the candidates left (malloc'ed), or NULL when none is. */
static char *
check_tls_left(const struct check_tls_enum *e)
{
    size_t size = 1, used = 0;
    char *list;

    for (int i = 0; i < e->n; i++)
        size += strlen(SSL_CIPHER_get_name(
                    sk_SSL_CIPHER_value(e->offer, i))) + 1;
    if ((list = malloc(size)) == NULL)
        return NULL;
    list[0] = '\0';
    for (int i = 0; i < e->n; i++) {
        if (e->accepted[i])
            continue;
        const char *name = SSL_CIPHER_get_name(
            sk_SSL_CIPHER_value(e->offer, i));
        used += (size_t)snprintf(list + used, size - used, "%s%s",
                                 used ? ":" : "", name);
    }
    if (used > 0)
        return list;
    free(list);
    return NULL;
}

/* The index of suite c among the candidates, or -1. */
static int
check_tls_find(const struct check_tls_enum *e, const SSL_CIPHER *c)
{
    for (int i = 0; c != NULL && i < e->n; i++)
        if (SSL_CIPHER_get_id(sk_SSL_CIPHER_value(e->offer, i)) ==
            SSL_CIPHER_get_id(c))
            return i;
    return -1;
}

/* Offer what is left; mark and describe the suite the server took.
 * Returns true to go on. */
static bool
check_tls_round(const struct check_target *t, SSL_CTX *ctx,
                struct check_tls_enum *e, struct check_version_probe *vp)
{
    struct check_conn c;
    struct check_tls_start ts = {.ctx = ctx, .name = t->name};
    char err[CHECK_ERR_MAX];
    char *left = check_tls_left(e);
    bool go_on = false;

    if (left == NULL ||
        (e->tls13 ? SSL_CTX_set_ciphersuites(ctx, left)
                  : SSL_CTX_set_cipher_list(ctx, left)) != 1) {
        free(left);
        return false;
    }
    free(left);
    enum check_open_result res = check_conn_open_tls(t, &c, &ts, err,
                                                     sizeof(err));
    if (res == CHECK_OPEN_TLS) {
        const SSL_CIPHER *got = SSL_get_current_cipher(c.ssl);
        int i = check_tls_find(e, got);
        /* A suite taken twice would loop forever: stop there. */
        if (i >= 0 && !e->accepted[i]) {
            e->accepted[i] = true;
            tls_describe_cipher(got, &vp->ciphers[vp->n_ciphers++]);
            go_on = vp->n_ciphers < CHECK_CIPHERS_MAX;
        }
    } else if (res == CHECK_OPEN_ERROR) {
        /* Not a refusal: the suites left are unknown, not refused. */
        check_probe_failed(e->r, err);
    }
    check_conn_close(&c);
    return go_on;
}

/* Enumerate the suites of accepted version v. */
static void
check_tls_enumerate(const struct check_target *t, int v,
                    struct check_report *r)
{
    char err[CHECK_ERR_MAX];
    struct check_version_probe *vp = &r->versions[v];
    struct check_tls_enum e = {
        .tls13 = CHECK_TLS_NUMBERS[v] == TLS1_3_VERSION, .r = r};
    SSL_CTX *ctx = check_tls_ctx(t, true, CHECK_TLS_NUMBERS[v], err,
                                 sizeof(err));

    vp->n_ciphers = 0;
    if (ctx == NULL || (e.offer = check_tls_offer(ctx)) == NULL) {
        SSL_CTX_free(ctx);
        return;
    }
    e.n = sk_SSL_CIPHER_num(e.offer);
    if (e.n > (int)(sizeof(e.accepted) / sizeof(e.accepted[0])))
        e.n = (int)(sizeof(e.accepted) / sizeof(e.accepted[0]));
    while (check_tls_round(t, ctx, &e, vp))
        ;
    sk_SSL_CIPHER_free(e.offer);
    SSL_CTX_free(ctx);
}

void
check_tls_ciphers(const struct check_target *t, struct check_report *r)
{
    for (int v = 0; v < CHECK_VERSIONS; v++)
        if (r->versions[v].result == CHECK_V_ACCEPTED)
            check_tls_enumerate(t, v, r);
}

/* The version index of the main session, or -1. */
static int
check_tls_session_version(const struct check_report *r)
{
    for (int v = 0; r->tls_ok && v < CHECK_VERSIONS; v++)
        if (strcmp(r->version, check_version_name((enum check_version)v)) ==
            0)
            return v;
    return -1;
}

void
check_tls_session_evidence(struct check_report *r)
{
    int v = check_tls_session_version(r);
    struct check_version_probe *vp = v >= 0 ? &r->versions[v] : NULL;
    char why[CHECK_ERR_MAX];

    if (vp == NULL)
        return;
    if (vp->result != CHECK_V_ACCEPTED) {
        snprintf(why, sizeof(why), "%s", vp->detail);
        snprintf(vp->detail, sizeof(vp->detail), "the main session used it%s"
                 "%s%s", why[0] ? " (its own handshake: " : "", why,
                 why[0] ? ")" : "");
        vp->result = CHECK_V_ACCEPTED;
    }
    for (size_t i = 0; i < vp->n_ciphers; i++)
        if (vp->ciphers[i].id == r->session.id)
            return;
    if (vp->n_ciphers < CHECK_CIPHERS_MAX && r->session.name[0] != '\0')
        vp->ciphers[vp->n_ciphers++] = r->session;
}

/* The first certificate of cert and the key of key (PEM files) do not
 * match. False when either cannot be read: the context says why. */
static bool
check_tls_key_mismatch(const char *cert, const char *key)
{
    FILE *cf = fopen(cert, "r"), *kf = fopen(key, "r");
    X509 *x = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    bool mismatch = x != NULL && k != NULL && X509_check_private_key(x, k) != 1;

    X509_free(x);
    EVP_PKEY_free(k);
    if (cf != NULL)
        fclose(cf);
    if (kf != NULL)
        fclose(kf);
    ERR_clear_error();
    return mismatch;
}

int
check_tls_preflight(const struct check_options *opt, char *err,
                    size_t errlen)
{
    struct check_target t = {.opt = opt};
    const char *files[] = {opt->ca_file, opt->client_cert, opt->client_key};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f = files[i] ? fopen(files[i], "r") : NULL;
        if (files[i] != NULL && f == NULL) {
            snprintf(err, errlen, "cannot read %s: %s", files[i],
                     strerror(errno));
            return -1;
        }
        if (f != NULL)
            fclose(f);
    }
    if (opt->client_cert != NULL && opt->client_key != NULL &&
        check_tls_key_mismatch(opt->client_cert, opt->client_key)) {
        snprintf(err, errlen, "the private key %s does not match the "
                 "certificate %s", opt->client_key, opt->client_cert);
        return -1;
    }
    SSL_CTX *ctx = check_tls_ctx(&t, false, 0, err, errlen);
    SSL_CTX_free(ctx);
    return ctx != NULL ? 0 : -1;
}
