/*
 * tls_describe.c -- description of an established TLS session.
 */
#include "tls/tls_describe.h"

#include <stdio.h>
#include <string.h>
#include <openssl/x509.h>

static void
tls_describe_group(const SSL *ssl, char *dst, size_t dst_size)
{
    /* SSL_get_negotiated_group() takes a non-const SSL in OpenSSL 3.0. */
    int nid = SSL_get_negotiated_group((SSL *)ssl);
    const char *name = NULL;

    dst[0] = '\0';
    if (nid == NID_undef)
        return;
    name = SSL_group_to_name((SSL *)ssl, nid);
    if (name == NULL)
        name = OBJ_nid2sn(nid & ~TLSEXT_nid_unknown);
    if (name != NULL)
        snprintf(dst, dst_size, "%s", name);
}

void
tls_describe(const SSL *ssl, struct tls_info *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->version, sizeof(out->version), "%s", SSL_get_version(ssl));
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    if (c != NULL) {
        snprintf(out->cipher, sizeof(out->cipher), "%s", SSL_CIPHER_get_name(c));
        out->bits = SSL_CIPHER_get_bits(c, &out->alg_bits);
    }
    tls_describe_group(ssl, out->group, sizeof(out->group));
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer != NULL) {
        out->peer_cert = true;
        X509_NAME_oneline(X509_get_subject_name(peer), out->peer_subject,
                          (int)sizeof(out->peer_subject));
    }
}

char *
tls_info_received(const struct tls_info *ti, char *dst, size_t dst_size)
{
    int n = snprintf(dst, dst_size, "%s with cipher %s (%d/%d bits)",
                     ti->version, ti->cipher, ti->bits, ti->alg_bits);
    if (n > 0 && (size_t)n < dst_size && ti->group[0] != '\0')
        snprintf(dst + n, dst_size - (size_t)n, " key-exchange %s", ti->group);
    return dst;
}
