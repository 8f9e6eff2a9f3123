/*
 * tls_describe_cipher.c -- a cipher suite broken into its parts (key
 * exchange, authentication, bulk encryption, MAC, handshake hash), the way
 * an expert reads "ECDHE-RSA-AES256-GCM-SHA384", and whether it is weak.
 *
 * Suites: RFC 5246 (TLS 1.2) appendix A.5, RFC 8446 (TLS 1.3) B.4 and the
 * IANA TLS Cipher Suites registry. Weaknesses: RFC 7465 (RC4), RFC 7525
 * 4.2 (AEAD recommended, no NULL, export, anonymous or RC4), Sweet32
 * (CVE-2016-2183: 64-bit blocks), Lucky Thirteen (CBC with HMAC).
 *
 * Trust boundary: the suite is one OpenSSL knows (negotiated or offered);
 * every name written here comes from the tables below or from OpenSSL.
 */
#include "tls/tls_describe.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#define TLS_CIPHER_UNKNOWN "unknown"
#define TLS_CIPHER_FS 0x1 /* key exchange with ephemeral keys */

/* One OpenSSL NID and what people call it. */
struct tls_nid_word {
    int nid;
    const char *word;
    unsigned flags;     /* TLS_CIPHER_FS */
    const char *weak;   /* why a suite with it is weak, or NULL */
};

/* SSL_CIPHER_get_kx_nid(). */
static const struct tls_nid_word tls_kx_words[] = {
    { NID_kx_ecdhe, "ECDHE", TLS_CIPHER_FS, NULL },
    { NID_kx_dhe, "DHE", TLS_CIPHER_FS, NULL },
    { NID_kx_rsa, "RSA", 0, NULL },
    { NID_kx_psk, "PSK", 0, NULL },
    { NID_kx_ecdhe_psk, "ECDHE-PSK", TLS_CIPHER_FS, NULL },
    { NID_kx_dhe_psk, "DHE-PSK", TLS_CIPHER_FS, NULL },
    { NID_kx_rsa_psk, "RSA-PSK", 0, NULL },
    { NID_kx_srp, "SRP", 0, NULL },
    { NID_kx_gost, "GOST", 0, NULL },
    { NID_kx_gost18, "GOST18", 0, NULL },
    /* RFC 8446 4.2.7: TLS 1.3 always negotiates an ephemeral group. */
    { NID_kx_any, "any", TLS_CIPHER_FS, NULL },
};

/* SSL_CIPHER_get_auth_nid(). */
static const struct tls_nid_word tls_auth_words[] = {
    { NID_auth_rsa, "RSA", 0, NULL },
    { NID_auth_ecdsa, "ECDSA", 0, NULL },
    { NID_auth_dss, "DSS", 0, NULL },
    { NID_auth_psk, "PSK", 0, NULL },
    { NID_auth_srp, "SRP", 0, NULL },
    { NID_auth_gost01, "GOST01", 0, NULL },
    { NID_auth_gost12, "GOST12", 0, NULL },
    { NID_auth_null, "NULL", 0,
      "anonymous: no authentication (RFC 7525 4.2)" },
    { NID_auth_any, "any", 0, NULL },
};

/* SSL_CIPHER_get_cipher_nid(); NID_undef is the NULL cipher. */
static const struct tls_nid_word tls_enc_words[] = {
    { NID_aes_128_gcm, "AES-128-GCM", 0, NULL },
    { NID_aes_256_gcm, "AES-256-GCM", 0, NULL },
    { NID_chacha20_poly1305, "CHACHA20-POLY1305", 0, NULL },
    { NID_aes_128_ccm, "AES-128-CCM", 0, NULL },
    { NID_aes_256_ccm, "AES-256-CCM", 0, NULL },
    { NID_aria_128_gcm, "ARIA-128-GCM", 0, NULL },
    { NID_aria_256_gcm, "ARIA-256-GCM", 0, NULL },
    { NID_aes_128_cbc, "AES-128-CBC", 0, NULL },
    { NID_aes_256_cbc, "AES-256-CBC", 0, NULL },
    { NID_camellia_128_cbc, "CAMELLIA-128-CBC", 0, NULL },
    { NID_camellia_256_cbc, "CAMELLIA-256-CBC", 0, NULL },
    { NID_seed_cbc, "SEED-CBC", 0, NULL },
    { NID_des_ede3_cbc, "3DES-EDE-CBC", 0,
      "3DES: 64-bit block (Sweet32, CVE-2016-2183)" },
    { NID_des_cbc, "DES-CBC", 0, "DES: 56-bit key, 64-bit block" },
    { NID_idea_cbc, "IDEA-CBC", 0, "IDEA: 64-bit block (Sweet32)" },
    { NID_rc2_cbc, "RC2-CBC", 0, "RC2: 64-bit block, broken" },
    { NID_rc4, "RC4", 0, "RC4 is broken (RFC 7465)" },
    { NID_rc4_40, "RC4-40", 0, "RC4 is broken (RFC 7465)" },
    { NID_undef, "NULL", 0, "no encryption (NULL cipher)" },
};

/* SSL_CIPHER_get_digest_nid() of a suite that is not AEAD. */
static const struct tls_nid_word tls_mac_words[] = {
    { NID_sha1, "HMAC-SHA1", 0, NULL },
    { NID_sha256, "HMAC-SHA256", 0, NULL },
    { NID_sha384, "HMAC-SHA384", 0, NULL },
    { NID_md5, "HMAC-MD5", 0, "HMAC-MD5 (RFC 6151)" },
};

/* EVP_MD_get_type() of SSL_CIPHER_get_handshake_digest(). */
static const struct tls_nid_word tls_hash_words[] = {
    { NID_sha256, "SHA256", 0, NULL },
    { NID_sha384, "SHA384", 0, NULL },
    /* Suites without a PRF of their own: OpenSSL answers MD5-SHA1, the
     * TLS 1.0/1.1 PRF (RFC 2246 5), but in TLS 1.2 they use SHA-256
     * (RFC 5246 5), the version anything worth describing runs. */
    { NID_md5_sha1, "SHA256", 0, NULL },
};

#define TLS_WORDS(t) (t), sizeof(t) / sizeof((t)[0])

/* The entry of table t (n entries) for nid, or NULL. */
static const struct tls_nid_word *
tls_nid_find(const struct tls_nid_word *t, size_t n, int nid)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].nid == nid)
            return &t[i];
    return NULL;
}

/* Write the word for nid into dst: from table t, else OpenSSL's short name
 * (a newer algorithm than the table), else "unknown". Returns the table
 * entry, or NULL. */
static const struct tls_nid_word *
tls_nid_word(const struct tls_nid_word *t, size_t n, int nid, char *dst,
             size_t dst_size)
{
    const struct tls_nid_word *w = tls_nid_find(t, n, nid);
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;

    snprintf(dst, dst_size, "%s",
             w != NULL ? w->word : sn != NULL ? sn : TLS_CIPHER_UNKNOWN);
    return w;
}

/* Remember the first reason found: they are checked most serious first. */
static void
tls_cipher_weak(struct tls_cipher_info *out, const char *reason)
{
    if (reason == NULL || out->weak)
        return;
    out->weak = true;
    snprintf(out->weak_reason, sizeof(out->weak_reason), "%s", reason);
}

static void
tls_cipher_names(const SSL_CIPHER *c, struct tls_cipher_info *out)
{
    const char *name = SSL_CIPHER_get_name(c);
    const char *iana = SSL_CIPHER_standard_name(c);
    const char *version = SSL_CIPHER_get_version(c);

    snprintf(out->name, sizeof(out->name), "%s",
             name != NULL ? name : TLS_CIPHER_UNKNOWN);
    snprintf(out->iana, sizeof(out->iana), "%s",
             iana != NULL ? iana : TLS_CIPHER_UNKNOWN);
    snprintf(out->version, sizeof(out->version), "%s",
             version != NULL ? version : TLS_CIPHER_UNKNOWN);
    out->id = SSL_CIPHER_get_protocol_id(c);
}

/* Bulk encryption. AES-CCM and AES-CCM-8 (8-byte tag) share one NID. */
static const struct tls_nid_word *
tls_cipher_enc(const SSL_CIPHER *c, struct tls_cipher_info *out)
{
    const struct tls_nid_word *w = tls_nid_word(
        TLS_WORDS(tls_enc_words), SSL_CIPHER_get_cipher_nid(c), out->enc,
        sizeof(out->enc));
    size_t len = strlen(out->enc);

    if (strstr(out->iana, "_CCM_8") != NULL && len > 4 &&
        strcmp(out->enc + len - 4, "-CCM") == 0)
        snprintf(out->enc + len, sizeof(out->enc) - len, "-8");
    out->enc_bits = SSL_CIPHER_get_bits(c, NULL);
    return w;
}

/* MAC: the AEAD itself, or the record HMAC (RFC 5246 6.2.3.1). */
static const struct tls_nid_word *
tls_cipher_mac(const SSL_CIPHER *c, struct tls_cipher_info *out)
{
    out->aead = SSL_CIPHER_is_aead(c) != 0;
    if (out->aead) {
        snprintf(out->mac, sizeof(out->mac), "AEAD");
        return NULL;
    }
    return tls_nid_word(TLS_WORDS(tls_mac_words),
                        SSL_CIPHER_get_digest_nid(c), out->mac,
                        sizeof(out->mac));
}

static void
tls_cipher_hash(const SSL_CIPHER *c, struct tls_cipher_info *out)
{
    const EVP_MD *md = SSL_CIPHER_get_handshake_digest(c);

    tls_nid_word(TLS_WORDS(tls_hash_words),
                 md != NULL ? EVP_MD_get_type(md) : NID_undef, out->hash,
                 sizeof(out->hash));
}

/* Export suites (RFC 4346 A.5 forbids them; FREAK, Logjam). */
static bool
tls_cipher_export(const struct tls_cipher_info *out)
{
    return strncmp(out->name, "EXP", 3) == 0 ||
           strstr(out->iana, "EXPORT") != NULL;
}

/* RFC 7525 4.2 recommends AEAD; CBC with HMAC-SHA1 is the MAC-then-encrypt
 * construction of Lucky Thirteen and POODLE-TLS, and SHA-1. */
static bool
tls_cipher_cbc_sha1(const struct tls_cipher_info *out)
{
    size_t len = strlen(out->enc);
    return !out->aead && strcmp(out->mac, "HMAC-SHA1") == 0 && len > 4 &&
           strcmp(out->enc + len - 4, "-CBC") == 0;
}

void
tls_describe_cipher(const SSL_CIPHER *c, struct tls_cipher_info *out)
{
    memset(out, 0, sizeof(*out));
    tls_cipher_names(c, out);
    const struct tls_nid_word *kx = tls_nid_word(
        TLS_WORDS(tls_kx_words), SSL_CIPHER_get_kx_nid(c), out->kx,
        sizeof(out->kx));
    const struct tls_nid_word *auth = tls_nid_word(
        TLS_WORDS(tls_auth_words), SSL_CIPHER_get_auth_nid(c), out->auth,
        sizeof(out->auth));
    const struct tls_nid_word *enc = tls_cipher_enc(c, out);
    const struct tls_nid_word *mac = tls_cipher_mac(c, out);
    tls_cipher_hash(c, out);
    out->forward_secret = kx != NULL && (kx->flags & TLS_CIPHER_FS);

    /* Most serious first: no confidentiality, then no authentication. */
    if (enc != NULL && enc->nid == NID_undef)
        tls_cipher_weak(out, enc->weak);
    if (tls_cipher_export(out))
        tls_cipher_weak(out, "export grade (FREAK, Logjam)");
    tls_cipher_weak(out, auth != NULL ? auth->weak : NULL);
    tls_cipher_weak(out, enc != NULL ? enc->weak : NULL);
    tls_cipher_weak(out, mac != NULL ? mac->weak : NULL);
    if (tls_cipher_cbc_sha1(out))
        tls_cipher_weak(out, "CBC with HMAC-SHA1 (Lucky13; RFC 7525: AEAD)");
}
