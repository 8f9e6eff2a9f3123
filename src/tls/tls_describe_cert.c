/*
 * tls_describe_cert.c -- one X.509 certificate summarised the way
 * `openssl x509 -text` shows the parts that matter: subject, issuer,
 * subjectAltName (RFC 5280 4.2.1.6), key type and size, signature
 * algorithm, validity (RFC 5280 4.1.2.5) and days left, serial, SHA-256
 * fingerprint, self-signed or not.
 *
 * Trust boundary: the certificate comes from the network (a server being
 * checked, a client). Every text taken from it is bounded and written as
 * printable ASCII: names by RFC 2253 escaping, subjectAltName values with
 * other bytes (and the list's own separators) as "\XX".
 */
#include "tls/tls_describe.h"
#include "tls/tls_describe_x509.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#define TLS_CERT_DAY 86400L       /* seconds in a day (UTC has no DST) */
#define TLS_SAN_ENTRY_MAX 300     /* one entry: a DNS name (RFC 1035 2.3.4:
                                     255) with its prefix and escapes */
#define TLS_SAN_MORE ", ..."      /* marks a list cut short */

/* A GENERAL_NAME type or EVP_PKEY id and its word. */
struct tls_cert_word {
    int id;
    const char *word;
};

/* Prefixes as `openssl x509 -text` writes them, "IP Address" shortened. */
static const struct tls_cert_word tls_san_prefixes[] = {
    { GEN_DNS, "DNS" },
    { GEN_IPADD, "IP" },
    { GEN_EMAIL, "email" },
    { GEN_URI, "URI" },
    { GEN_DIRNAME, "DirName" },
    { GEN_RID, "Registered ID" },
    { GEN_OTHERNAME, "othername" },
    { GEN_X400, "X400Name" },
    { GEN_EDIPARTY, "EdiPartyName" },
};

static const struct tls_cert_word tls_key_types[] = {
    { EVP_PKEY_RSA, "RSA" },
    { EVP_PKEY_RSA_PSS, "RSA-PSS" },
    { EVP_PKEY_EC, "EC" },
    { EVP_PKEY_ED25519, "Ed25519" },
    { EVP_PKEY_ED448, "Ed448" },
    { EVP_PKEY_DSA, "DSA" },
    { EVP_PKEY_DH, "DH" },
};

#define TLS_CERT_WORDS(t) (t), sizeof(t) / sizeof((t)[0])

static const char *
tls_cert_word(const struct tls_cert_word *t, size_t n, int id)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id)
            return t[i].word;
    return NULL;
}

/* Copy len bytes of untrusted data to dst (dst_size bytes, always
 * NUL-terminated), printable ASCII kept, every other byte and the list
 * syntax (',' and '\') as "\XX". Stops before an escape that would not
 * fit whole. */
static void
tls_cert_escape(const unsigned char *data, int len, char *dst,
                size_t dst_size)
{
    size_t o = 0;

    for (int i = 0; i < len && o + 1 < dst_size; i++) {
        unsigned char b = data[i];
        if (b >= 0x20 && b < 0x7f && b != ',' && b != '\\') {
            dst[o++] = (char)b;
            continue;
        }
        if (o + 3 >= dst_size)
            break;
        o += (size_t)snprintf(dst + o, dst_size - o, "\\%02X", b);
    }
    dst[o] = '\0';
}

/* An iPAddress (RFC 5280 4.2.1.6: 4 or 16 octets) in text form. */
static void
tls_cert_san_ip(const ASN1_OCTET_STRING *ip, char *dst, size_t dst_size)
{
    int len = ASN1_STRING_length(ip);
    int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;

    if (af == AF_UNSPEC ||
        inet_ntop(af, ASN1_STRING_get0_data(ip), dst, (socklen_t)dst_size)
            == NULL)
        snprintf(dst, dst_size, "<invalid>");
}

/* A directoryName: RFC 2253, then escaped again so that its ',' cannot
 * pass for the list's separator. */
static void
tls_cert_san_dirname(const X509_NAME *name, char *dst, size_t dst_size)
{
    char dn[TLS_DN_MAX];

    (void)tls_describe_name(name, dn, sizeof(dn));
    tls_cert_escape((const unsigned char *)dn, (int)strlen(dn), dst,
                    dst_size);
}

/* The value of one subjectAltName entry, printable, into dst. Returns
 * its prefix. */
static const char *
tls_cert_san_value(const GENERAL_NAME *g, char *dst, size_t dst_size)
{
    int type = 0;
    void *v = GENERAL_NAME_get0_value(g, &type);
    const char *prefix =
        tls_cert_word(TLS_CERT_WORDS(tls_san_prefixes), type);

    if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI)
        tls_cert_escape(ASN1_STRING_get0_data(v), ASN1_STRING_length(v), dst,
                        dst_size);
    else if (type == GEN_IPADD)
        tls_cert_san_ip(v, dst, dst_size);
    else if (type == GEN_DIRNAME)
        tls_cert_san_dirname(v, dst, dst_size);
    else if (type == GEN_RID)
        (void)OBJ_obj2txt(dst, (int)dst_size, v, 0);
    else
        snprintf(dst, dst_size, "<unsupported>");
    return prefix != NULL ? prefix : "unknown";
}

/* Append "PREFIX:value" for g to out->san, or the truncation mark when the
 * entry and the mark would not both fit. Returns false once full. */
static bool
tls_cert_san_add(const GENERAL_NAME *g, struct tls_cert_info *out)
{
    char value[TLS_SAN_ENTRY_MAX], entry[TLS_SAN_ENTRY_MAX + 32];
    const char *prefix = tls_cert_san_value(g, value, sizeof(value));
    size_t used = strlen(out->san);

    snprintf(entry, sizeof(entry), "%s%s:%s", used > 0 ? ", " : "", prefix,
             value);
    if (used + strlen(entry) + sizeof(TLS_SAN_MORE) > sizeof(out->san)) {
        snprintf(out->san + used, sizeof(out->san) - used, "%s",
                 used > 0 ? TLS_SAN_MORE : "...");
        return false;
    }
    memcpy(out->san + used, entry, strlen(entry) + 1);
    return true;
}

static void
tls_cert_san(X509 *x, struct tls_cert_info *out)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
                                            NULL);

    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++)
        if (!tls_cert_san_add(sk_GENERAL_NAME_value(names, i), out))
            break;
    GENERAL_NAMES_free(names);
}

/* Key type, size and, for EC, the named curve. Returns false without a
 * readable public key. */
static bool
tls_cert_key(X509 *x, struct tls_cert_info *out)
{
    EVP_PKEY *key = X509_get0_pubkey(x);
    const char *type = NULL;

    if (key == NULL)
        return false;
    int id = EVP_PKEY_get_base_id(key);
    type = tls_cert_word(TLS_CERT_WORDS(tls_key_types), id);
    if (type == NULL)
        type = EVP_PKEY_get0_type_name(key);
    snprintf(out->key_type, sizeof(out->key_type), "%s",
             type != NULL ? type : "unknown");
    out->key_bits = EVP_PKEY_get_bits(key);
    if (id == EVP_PKEY_EC &&
        !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                        out->curve, sizeof(out->curve),
                                        NULL))
        out->curve[0] = '\0';    /* explicit parameters: no name */
    return true;
}

/* The signature algorithm as `openssl x509 -text` names it: OpenSSL's long
 * name, or the dotted OID when it has none. */
static void
tls_cert_sig_alg(X509 *x, struct tls_cert_info *out)
{
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;

    X509_get0_signature(NULL, &alg, x);
    if (alg != NULL)
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (obj == NULL ||
        OBJ_obj2txt(out->sig_alg, sizeof(out->sig_alg), obj, 0) <= 0)
        snprintf(out->sig_alg, sizeof(out->sig_alg), "unknown");
}

/* t as ISO 8601 UTC into dst, and as seconds since the epoch into *when.
 * Returns false if t is not a valid time. */
static bool
tls_cert_time(const ASN1_TIME *t, char *dst, size_t dst_size, time_t *when)
{
    struct tm tm;

    dst[0] = '\0';
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    strftime(dst, dst_size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *when = timegm(&tm);
    return true;
}

/* Whole days from now to when, rounded down: -1 as soon as it passed. */
static long
tls_cert_days(time_t when, time_t now)
{
    long long secs = (long long)when - (long long)now;

    if (secs >= 0)
        return (long)(secs / TLS_CERT_DAY);
    return (long)-((-secs + TLS_CERT_DAY - 1) / TLS_CERT_DAY);
}

static bool
tls_cert_validity(X509 *x, time_t now, struct tls_cert_info *out)
{
    time_t before = 0, after = 0;
    bool ok = tls_cert_time(X509_get0_notBefore(x), out->not_before,
                            sizeof(out->not_before), &before);

    if (!tls_cert_time(X509_get0_notAfter(x), out->not_after,
                       sizeof(out->not_after), &after))
        return false;
    out->days_left = tls_cert_days(after, now);
    return ok;
}

/* The serial number in upper-case hex ("-" first if negative). */
static bool
tls_cert_serial(X509 *x, struct tls_cert_info *out)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    if (hex != NULL)
        snprintf(out->serial, sizeof(out->serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return hex != NULL;
}

/* A name that could not be rendered at all (too long is still read). */
static bool
tls_cert_name(const X509_NAME *name, char *dst, size_t dst_size)
{
    return tls_describe_name(name, dst, dst_size) || dst[0] != '\0';
}

int
tls_describe_cert(X509 *x, time_t now, struct tls_cert_info *out)
{
    bool ok = true;

    memset(out, 0, sizeof(*out));
    ok &= tls_cert_name(X509_get_subject_name(x), out->subject,
                        sizeof(out->subject));
    ok &= tls_cert_name(X509_get_issuer_name(x), out->issuer,
                        sizeof(out->issuer));
    tls_cert_san(x, out);
    ok &= tls_cert_key(x, out);
    tls_cert_sig_alg(x, out);
    ok &= tls_cert_validity(x, now, out);
    ok &= tls_cert_serial(x, out);
    tls_describe_sha256(x, out->sha256, sizeof(out->sha256));
    ok &= out->sha256[0] != '\0';
    /* Same name as issuer, matching key identifiers, and its own key
     * verifies its signature; a failed check is an answer, not an error
     * to leave on the caller's queue. */
    ERR_set_mark();
    out->self_signed = X509_self_signed(x, 1) == 1;
    ERR_pop_to_mark();
    return ok ? 0 : -1;
}
