/*
 * tls_test_util.h -- a throw-away PKI and in-memory TLS handshakes for the
 * unit tests of src/tls: P-256 keys, a CA, certificates it signs,
 * self-signed ones, PEM files, and a handshake between a server SSL and a
 * client SSL over an OpenSSL BIO pair (no sockets). Test code only.
 */
#ifndef TLSMTA_TESTS_TLS_TEST_UTIL_H
#define TLSMTA_TESTS_TLS_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TT_DAYS 2                /* validity of test certificates */
#define TT_HANDSHAKE_ROUNDS 32   /* flights before a handshake is stuck */

static inline void
tt_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "tls_test_util: %s failed\n", what);
        ERR_print_errors_fp(stderr);
        abort();
    }
}

static inline EVP_PKEY *
tt_key_new(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    tt_check(key != NULL, "EVP_EC_gen");
    return key;
}

/* Add one X.509v3 extension written in openssl.cnf syntax. */
static inline void
tt_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    tt_check(ext != NULL && X509_add_ext(cert, ext, -1), "X509_add_ext");
    X509_EXTENSION_free(ext);
}

/* A certificate for key with the subject given in "/O=x/CN=y" form
 * (UTF-8 values), signed by issuer/issuer_key, or self-signed when issuer
 * is NULL. A CA gets basicConstraints CA:TRUE and keyCertSign; any other
 * certificate the clientAuth extended key usage. Caller frees. */
static inline X509 *
tt_cert_new(const char *subject, EVP_PKEY *key, X509 *issuer,
            EVP_PKEY *issuer_key, bool ca)
{
    static long serial = 1;
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    tt_check(cert != NULL && name != NULL, "X509_new");
    tt_check(X509_set_version(cert, 2), "X509_set_version");
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * TT_DAYS);
    tt_check(X509_set_pubkey(cert, key), "X509_set_pubkey");
    /* "/O=x/CN=y": split by hand, values are UTF-8. */
    char *copy = strdup(subject), *save = NULL;
    for (char *rdn = strtok_r(copy, "/", &save); rdn != NULL;
         rdn = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(rdn, '=');
        tt_check(eq != NULL, "subject syntax");
        *eq = '\0';
        tt_check(X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8,
                                            (unsigned char *)eq + 1, -1, -1,
                                            0), "X509_NAME_add_entry");
    }
    free(copy);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509 *signer = issuer ? issuer : cert;
    tt_add_ext(cert, signer, NID_subject_key_identifier, "hash");
    if (ca) {
        tt_add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        tt_add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        tt_add_ext(cert, signer, NID_ext_key_usage, "clientAuth,serverAuth");
    }
    tt_check(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0,
             "X509_sign");
    return cert;
}

static inline void
tt_write_cert(const char *path, X509 *cert)
{
    FILE *f = fopen(path, "w");
    tt_check(f != NULL && PEM_write_X509(f, cert) && fclose(f) == 0, path);
}

static inline void
tt_write_key(const char *path, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    tt_check(f != NULL &&
                 PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) &&
                 fclose(f) == 0,
             path);
}

/* A client context presenting cert/key (both may be NULL: no
 * certificate), not verifying the server, at most max_version (0: any). */
static inline SSL_CTX *
tt_client_ctx(X509 *cert, EVP_PKEY *key, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    tt_check(ctx != NULL, "SSL_CTX_new");
    if (cert != NULL)
        tt_check(SSL_CTX_use_certificate(ctx, cert) &&
                     SSL_CTX_use_PrivateKey(ctx, key),
                 "client certificate");
    if (max_version != 0)
        SSL_CTX_set_max_proto_version(ctx, max_version);
    return ctx;
}

/* One step of a handshake: 1 done, 0 wants more, -1 failed. */
static inline int
tt_step(SSL *ssl)
{
    int r = SSL_do_handshake(ssl);
    if (r == 1)
        return 1;
    int e = SSL_get_error(ssl, r);
    return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
}

/* Run the handshake of srv (accepting) against cli (connecting) over a
 * BIO pair; both SSLs take the BIOs. Then let the client read what the
 * server sent after its Finished (TLS 1.3 tickets, or an alert). Returns
 * the server's outcome: 1 established, -1 failed. */
static inline int
tt_handshake(SSL *srv, SSL *cli)
{
    BIO *sb = NULL, *cb = NULL;
    int s = 0, c = 0;
    char byte;

    tt_check(BIO_new_bio_pair(&sb, 0, &cb, 0), "BIO_new_bio_pair");
    SSL_set_bio(srv, sb, sb);
    SSL_set_bio(cli, cb, cb);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    for (int i = 0; i < TT_HANDSHAKE_ROUNDS && (s == 0 || c == 0); i++) {
        if (c == 0)
            c = tt_step(cli);
        if (s == 0)
            s = tt_step(srv);
    }
    if (c == 1)
        (void)SSL_read(cli, &byte, 1);
    ERR_clear_error();
    return s == 1 ? 1 : -1;
}

#endif
