/*
 * check_session.c -- the negotiated session of the main connection, read
 * the way an expert reads `openssl s_client` and `openssl x509 -text`:
 * the suite in its parts (tls_describe_cipher()), the key exchange group,
 * the server key size, the OCSP response stapled (RFC 6066 8, RFC 6960),
 * the chain (tls_describe_cert()) with its verification against
 * --ca-file or the system store and the RFC 6125 name match, and whether
 * the session can be resumed (RFC 5077 / RFC 8446 2.2).
 *
 * Trust boundary: the chain and the OCSP response come from the server;
 * they are decoded by OpenSSL and only described, never trusted beyond
 * OpenSSL's verification result.
 */
#include "check/check_conn.h"
#include "check/check_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/tls_client.h"
#include "tls/tls_describe.h"
#include "tls/tls_describe_x509.h"

/* The status of the single response about leaf (or the first one when
 * leaf cannot be matched): V_OCSP_CERTSTATUS_*, or -1 for none. */
static int
check_ocsp_single(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer)
{
    int status = -1, reason;
    OCSP_CERTID *id = issuer ? OCSP_cert_to_id(NULL, leaf, issuer) : NULL;

    if (id != NULL &&
        OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL) ==
            1) {
        OCSP_CERTID_free(id);
        return status;
    }
    OCSP_CERTID_free(id);
    OCSP_SINGLERESP *single = OCSP_resp_get0(bs, 0);
    return single ? OCSP_single_get0_status(single, &reason, NULL, NULL, NULL)
                  : -1;
}

/* Decode the stapled response (der, len bytes) into r->ocsp_status. */
static void
check_ocsp_decode(const unsigned char *der, long len, X509 *leaf,
                  X509 *issuer, struct check_report *r)
{
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &der, len);
    OCSP_BASICRESP *bs = NULL;

    if (resp == NULL) {
        snprintf(r->ocsp_status, sizeof(r->ocsp_status), "unreadable");
        return;
    }
    int st = OCSP_response_status(resp);
    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(r->ocsp_status, sizeof(r->ocsp_status), "error: %s",
                 OCSP_response_status_str(st));
    } else if ((bs = OCSP_response_get1_basic(resp)) == NULL || leaf == NULL) {
        snprintf(r->ocsp_status, sizeof(r->ocsp_status), "unreadable");
    } else {
        int cs = check_ocsp_single(bs, leaf, issuer);
        snprintf(r->ocsp_status, sizeof(r->ocsp_status), "%s",
                 cs < 0 ? "empty" : OCSP_cert_status_str(cs));
    }
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
}

static void
check_session_ocsp(SSL *ssl, X509 *leaf, X509 *issuer,
                   struct check_report *r)
{
    const unsigned char *der = NULL;
    long len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);

    r->ocsp_stapled = len > 0 && der != NULL;
    r->ocsp_status[0] = '\0';
    if (r->ocsp_stapled)
        check_ocsp_decode(der, len, leaf, issuer, r);
}

/* The PEM of x (malloc'ed), or NULL when out of memory. */
static char *
check_session_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *pem = NULL;

    if (bio != NULL && PEM_write_bio_X509(bio, x) == 1) {
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0 && (pem = malloc((size_t)len + 1)) != NULL) {
            memcpy(pem, data, (size_t)len);
            pem[len] = '\0';
        }
    }
    BIO_free(bio);
    return pem;
}

/* Mark a name of x cut at dst's size with "..." at its end (dst holds
 * tls_describe_cert()'s copy), so that no one takes it for whole. */
static void
check_session_mark_cut(const X509_NAME *name, char *dst, size_t size)
{
    char whole[TLS_DN_MAX];

    if (!tls_describe_name(name, whole, sizeof(whole)) && size > 4 &&
        strlen(dst) + 1 >= size - 3)
        memcpy(dst + size - 4, "...", 4);
}

/* Section 6: every certificate sent, leaf first (RFC 8446 4.4.2, RFC 5246
 * 7.4.2). */
static void
check_session_chain(SSL *ssl, struct check_report *r)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain ? sk_X509_num(chain) : 0;
    time_t now = time(NULL);

    check_report_free(r);
    r->chain_length = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < n && r->n_chain < CHECK_CHAIN_MAX; i++) {
        X509 *x = sk_X509_value(chain, i);
        struct check_cert *cc = &r->chain[r->n_chain++];
        memset(&cc->info, 0, sizeof(cc->info));
        tls_describe_cert(x, now, &cc->info);
        check_session_mark_cut(X509_get_subject_name(x), cc->info.subject,
                               sizeof(cc->info.subject));
        check_session_mark_cut(X509_get_issuer_name(x), cc->info.issuer,
                               sizeof(cc->info.issuer));
        cc->pem = check_session_pem(x);
    }
}

/* Verification by OpenSSL during the handshake, against the anchors of
 * the probe's context (--ca-file or the system store), and the name. */
static void
check_session_trust(const struct check_target *t, SSL *ssl, X509 *leaf,
                    struct check_report *r)
{
    long res = SSL_get_verify_result(ssl);

    snprintf(r->matched_name, sizeof(r->matched_name), "%s", t->name);
    r->chain_verified = leaf != NULL && res == X509_V_OK;
    r->name_matched = leaf != NULL && tls_client_name_matches(leaf, t->name);
    if (leaf == NULL)
        snprintf(r->verify_error, sizeof(r->verify_error),
                 "the server sent no certificate");
    else if (res != X509_V_OK)
        snprintf(r->verify_error, sizeof(r->verify_error), "%s",
                 X509_verify_cert_error_string(res));
    else
        r->verify_error[0] = '\0';
}

/* TLS 1.2 DHE has no named group (RFC 7919 aside): give the size of the
 * server's prime, the Logjam question (RFC 7919 1). */
static void
check_session_dh(SSL *ssl, struct check_report *r)
{
    EVP_PKEY *tmp = NULL;

    if (SSL_get_peer_tmp_key(ssl, &tmp) == 1 && tmp != NULL &&
        EVP_PKEY_is_a(tmp, "DH"))
        snprintf(r->group, sizeof(r->group), "DH-%d", EVP_PKEY_get_bits(tmp));
    EVP_PKEY_free(tmp);
}

void
check_session_describe(const struct check_target *t, SSL *ssl,
                       struct check_report *r)
{
    struct tls_info ti;
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509 *issuer = chain && sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1)
                                                    : NULL;

    tls_describe(ssl, &ti);
    /* The report's names ("TLSv1.0", not OpenSSL's "TLSv1"). */
    snprintf(r->version, sizeof(r->version), "%s", ti.version);
    for (int v = 0; v < CHECK_VERSIONS; v++)
        if (check_tls_number((enum check_version)v) == SSL_version(ssl))
            snprintf(r->version, sizeof(r->version), "%s",
                     check_version_name((enum check_version)v));
    snprintf(r->group, sizeof(r->group), "%s", ti.group);
    if (r->group[0] == '\0')
        check_session_dh(ssl, r);
    memset(&r->session, 0, sizeof(r->session));
    if (SSL_get_current_cipher(ssl) != NULL)
        tls_describe_cipher(SSL_get_current_cipher(ssl), &r->session);
    EVP_PKEY *key = leaf ? X509_get0_pubkey(leaf) : NULL;
    r->server_key_bits = key ? EVP_PKEY_get_bits(key) : 0;
    check_session_ocsp(ssl, leaf, issuer, r);
    check_session_chain(ssl, r);
    check_session_trust(t, ssl, leaf, r);
}

void
check_session_resume(const struct check_target *t, SSL_CTX *ctx,
                     SSL_SESSION *session, struct check_report *r)
{
    struct check_conn c;
    char err[CHECK_ERR_MAX];
    struct check_tls_start ts = {
        .ctx = ctx, .name = t->name, .session = session};

    r->resumption = false;
    r->resumption_error[0] = '\0';
    if (session == NULL || !SSL_SESSION_is_resumable(session))
        return;
    if (check_conn_open_tls(t, &c, &ts, err, sizeof(err)) == CHECK_OPEN_TLS) {
        r->resumption = SSL_session_reused(c.ssl) == 1;
    } else {
        /* A broken connection says nothing about resumption. */
        snprintf(r->resumption_error, sizeof(r->resumption_error), "%s",
                 err);
        check_probe_failed(r, err);
    }
    check_conn_close(&c);
}
