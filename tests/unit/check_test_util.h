/*
 * check_test_util.h -- hand-built `tlsmta check` reports shared by
 * test_check_grade.c and test_check_output.c: a server that earns A+
 * (STARTTLS, TLS 1.2 and 1.3 only, forward-secret AEAD suites, a verified
 * ECDSA certificate naming the server), and helpers to add suites and
 * certificates. Test code only.
 */
#ifndef TLSMTA_TESTS_CHECK_TEST_UTIL_H
#define TLSMTA_TESTS_CHECK_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"

/* Describe a suite by hand, as tls_describe_cipher() would. */
static inline struct tls_cipher_info
ctu_suite(const char *name, const char *kx, const char *auth, const char *enc,
          int bits, const char *mac, bool fs, bool weak)
{
    struct tls_cipher_info c;

    memset(&c, 0, sizeof(c));
    snprintf(c.name, sizeof(c.name), "%s", name);
    snprintf(c.iana, sizeof(c.iana), "TLS_%s", name);
    snprintf(c.kx, sizeof(c.kx), "%s", kx);
    snprintf(c.auth, sizeof(c.auth), "%s", auth);
    snprintf(c.enc, sizeof(c.enc), "%s", enc);
    c.enc_bits = bits;
    snprintf(c.mac, sizeof(c.mac), "%s", mac);
    snprintf(c.hash, sizeof(c.hash), "SHA384");
    c.forward_secret = fs;
    c.aead = strcmp(mac, "AEAD") == 0;
    c.weak = weak;
    if (weak)
        snprintf(c.weak_reason, sizeof(c.weak_reason), "%s is weak", enc);
    return c;
}

static inline void
ctu_accept(struct check_report *r, enum check_version v,
           struct tls_cipher_info c)
{
    struct check_version_probe *p = &r->versions[v];

    p->result = CHECK_V_ACCEPTED;
    if (p->n_ciphers < CHECK_CIPHERS_MAX)
        p->ciphers[p->n_ciphers++] = c;
}

static inline void
ctu_ehlo(struct check_ehlo *e, const char *const lines[], size_t n)
{
    e->done = true;
    e->code = 250;
    for (size_t i = 0; i < n; i++)
        snprintf(e->lines[e->n_lines++], CHECK_TEXT_MAX, "%s", lines[i]);
}

static inline void
ctu_cert(struct check_report *r, const char *subject, const char *issuer,
         const char *key_type, int bits, long days_left)
{
    struct check_cert *c = &r->chain[r->n_chain++];
    struct tls_cert_info *i = &c->info;

    snprintf(i->subject, sizeof(i->subject), "%s", subject);
    snprintf(i->issuer, sizeof(i->issuer), "%s", issuer);
    snprintf(i->key_type, sizeof(i->key_type), "%s", key_type);
    i->key_bits = bits;
    if (strcmp(key_type, "EC") == 0)
        snprintf(i->curve, sizeof(i->curve), "prime256v1");
    snprintf(i->sig_alg, sizeof(i->sig_alg), "ecdsa-with-SHA256");
    snprintf(i->not_before, sizeof(i->not_before), "2025-01-01T00:00:00Z");
    snprintf(i->not_after, sizeof(i->not_after), "2027-01-01T00:00:00Z");
    i->days_left = days_left;
    snprintf(i->serial, sizeof(i->serial), "01AB");
    memset(i->sha256, 'a', 64);
    i->self_signed = strcmp(subject, issuer) == 0;
}

/* An A+ server: mx.example.org:25 with STARTTLS. */
static inline void
ctu_good_report(struct check_report *r)
{
    static const char *const plain[] = {"PIPELINING", "SIZE 10485760",
                                        "STARTTLS", "8BITMIME"};
    static const char *const tls[] = {"PIPELINING", "SIZE 10485760",
                                      "AUTH PLAIN LOGIN", "8BITMIME"};

    memset(r, 0, sizeof(*r));
    snprintf(r->opt.host, sizeof(r->opt.host), "mx.example.org");
    snprintf(r->opt.servername, sizeof(r->opt.servername), "mx.example.org");
    r->opt.port = 25;
    r->opt.mode = CHECK_MODE_STARTTLS;
    r->opt.timeout = 10;
    r->connected = true;
    snprintf(r->address, sizeof(r->address), "192.0.2.25:25");
    r->banner_code = 220;
    snprintf(r->banner, sizeof(r->banner), "mx.example.org ESMTP tlsmta");
    r->banner_seconds = 0.012;
    ctu_ehlo(&r->ehlo_plain, plain, 4);
    r->ehlo_plain.starttls = true;
    snprintf(r->versions[CHECK_SSL3].detail, CHECK_TEXT_MAX,
             "unsupported by this build");
    r->versions[CHECK_TLS1_0].result = CHECK_V_REFUSED;
    r->versions[CHECK_TLS1_1].result = CHECK_V_REFUSED;
    ctu_accept(r, CHECK_TLS1_2,
               ctu_suite("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE", "ECDSA",
                         "AES-256-GCM", 256, "AEAD", true, false));
    ctu_accept(r, CHECK_TLS1_3,
               ctu_suite("TLS_AES_256_GCM_SHA384", "any", "any", "AES-256-GCM",
                         256, "AEAD", true, false));
    r->tls_ok = true;
    r->session = r->versions[CHECK_TLS1_3].ciphers[0];
    r->session.id = 0x1302;
    snprintf(r->version, sizeof(r->version), "TLSv1.3");
    snprintf(r->group, sizeof(r->group), "X25519");
    r->server_key_bits = 256;
    r->resumption = true;
    ctu_cert(r, "CN=mx.example.org", "CN=Example CA,O=Example", "EC", 256, 400);
    snprintf(r->chain[0].info.san, TLS_SAN_MAX,
             "DNS:mx.example.org, IP Address:192.0.2.25");
    r->chain_verified = true;
    r->name_matched = true;
    snprintf(r->matched_name, sizeof(r->matched_name), "mx.example.org");
    ctu_ehlo(&r->ehlo_tls, tls, 4);
    r->ehlo_tls.auth = true;
    snprintf(r->ehlo_tls.auth_mechs, CHECK_TEXT_MAX, "PLAIN LOGIN");
    r->starttls_injection = CHECK_OK;
    r->renegotiation = CHECK_OK;
}

static inline struct check_report *
ctu_new_report(void)
{
    struct check_report *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    ctu_good_report(r);
    return r;
}

#endif
