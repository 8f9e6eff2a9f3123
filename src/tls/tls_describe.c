/*
 * tls_describe.c -- description of an established TLS session, and its
 * rendering for the log and the Received header (RFC 5321 4.4).
 *
 * Trust boundary: the peer certificate's names come from the network. They
 * are rendered escaped (RFC 2253, printable ASCII only) before they reach a
 * log line or a header.
 */
#include "tls/tls_describe.h"
#include "tls/tls_describe_x509.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define TLS_SHA256_LEN 32 /* bytes of a SHA-256 digest */

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

bool
tls_describe_name(const X509_NAME *name, char *dst, size_t dst_size)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *text = NULL;
    bool fits = false;

    dst[0] = '\0';
    if (mem == NULL)
        return false;
    if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) >= 0) {
        long len = BIO_get_mem_data(mem, &text);
        if (len >= 0) {
            fits = (size_t)len < dst_size;
            snprintf(dst, dst_size, "%.*s", (int)len, text);
        }
    }
    BIO_free(mem);
    return fits;
}

void
tls_describe_sha256(const X509 *cert, char *dst, size_t dst_size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    dst[0] = '\0';
    if (X509_digest(cert, EVP_sha256(), md, &len) != 1 ||
        len != TLS_SHA256_LEN || dst_size < 2 * TLS_SHA256_LEN + 1)
        return;
    for (unsigned int i = 0; i < len; i++)
        snprintf(dst + 2 * i, 3, "%02x", md[i]);
}

static void
tls_describe_peer(const SSL *ssl, struct tls_info *out)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);

    out->peer_cert_requested =
        !SSL_is_server(ssl) || (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER);
    if (peer == NULL)
        return;
    out->peer_cert = true;
    out->peer_verify_error = SSL_get_verify_result(ssl);
    out->peer_verified = out->peer_verify_error == X509_V_OK;
    bool subject_fits = tls_describe_name(X509_get_subject_name(peer),
                                          out->peer_subject,
                                          sizeof(out->peer_subject));
    bool issuer_fits = tls_describe_name(X509_get_issuer_name(peer),
                                         out->peer_issuer,
                                         sizeof(out->peer_issuer));
    out->peer_names_truncated = !subject_fits || !issuer_fits;
    tls_describe_sha256(peer, out->peer_sha256, sizeof(out->peer_sha256));
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
    tls_describe_peer(ssl, out);
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

/* Length of the RFC 2253 attribute value starting at v: up to the first
 * unescaped ',' or '+' (the end of the RDN component). */
static size_t
tls_dn_value_len(const char *v)
{
    size_t i = 0;
    while (v[i] != '\0' && v[i] != ',' && v[i] != '+')
        i += (v[i] == '\\' && v[i + 1] != '\0') ? 2 : 1;
    return i;
}

bool
tls_dn_common_name(const char *dn, char *dst, size_t dst_size)
{
    const char *p = dn;

    if (dst_size > 0)
        dst[0] = '\0';
    /* RFC 2253 2.1: the most specific RDN comes first. */
    while (*p != '\0') {
        size_t len = tls_dn_value_len(p);
        if (strncmp(p, "CN=", 3) == 0) {
            if (len == 3 || len - 3 >= dst_size)
                return false;
            memcpy(dst, p + 3, len - 3);
            dst[len - 3] = '\0';
            return true;
        }
        p += len;
        if (*p != '\0')
            p++;
    }
    return false;
}

/* Copy src to dst with '(' and ')' as RFC 5322 quoted-pairs, so the text
 * cannot close or open a comment. Returns dst. */
static char *
tls_comment_escape(const char *src, char *dst, size_t dst_size)
{
    size_t o = 0;
    for (; *src != '\0' && o + 1 < dst_size; src++) {
        if (*src == '(' || *src == ')') {
            if (o + 2 >= dst_size)
                break;
            dst[o++] = '\\';
        }
        dst[o++] = *src;
    }
    dst[o] = '\0';
    return dst;
}

/* Display name of an RFC 2253 name: its CN, else the whole name; escaped
 * for a comment. */
static char *
tls_received_name(const char *dn, char *dst, size_t dst_size)
{
    char cn[TLS_DN_MAX];
    const char *shown = tls_dn_common_name(dn, cn, sizeof(cn)) ? cn : dn;
    return tls_comment_escape(shown, dst, dst_size);
}

/* A text cut short must not end in half a quoted-pair: a lone '\' would
 * quote the ')' the caller closes the comment with. */
static void
tls_drop_dangling_escape(char *dst)
{
    size_t len = strlen(dst), n = 0;
    while (n < len && dst[len - 1 - n] == '\\')
        n++;
    if (n % 2 == 1)
        dst[len - 1] = '\0';
}

char *
tls_info_received_client(const struct tls_info *ti, char *dst,
                         size_t dst_size)
{
    char subject[2 * TLS_DN_MAX], issuer[2 * TLS_DN_MAX];

    if (!ti->peer_cert) {
        snprintf(dst, dst_size, "%s", ti->peer_cert_requested
                 ? "Client did not present a certificate"
                 : "No client certificate requested");
        return dst;
    }
    snprintf(dst, dst_size, "Client CN \"%s\", Issuer \"%s\" (%s)",
             tls_received_name(ti->peer_subject, subject, sizeof(subject)),
             tls_received_name(ti->peer_issuer, issuer, sizeof(issuer)),
             ti->peer_verified ? "verified OK" : "not verified");
    tls_drop_dangling_escape(dst);
    return dst;
}

char *
tls_info_log_client(const struct tls_info *ti, char *dst, size_t dst_size)
{
    if (!ti->peer_cert) {
        snprintf(dst, dst_size, "client_cert=%s",
                 ti->peer_cert_requested ? "absent" : "not-requested");
        return dst;
    }
    int n = snprintf(dst, dst_size,
                     "client_cert=%s subject=\"%s\" issuer=\"%s\" sha256=%s",
                     ti->peer_verified ? "verified" : "unverified",
                     ti->peer_subject, ti->peer_issuer, ti->peer_sha256);
    if (!ti->peer_verified && n > 0 && (size_t)n < dst_size)
        snprintf(dst + n, dst_size - (size_t)n, " verify_error=\"%s\"",
                 X509_verify_cert_error_string(ti->peer_verify_error));
    return dst;
}
