/*
 * test_check_grade.c -- every grading rule of docs/check.md on hand-built
 * reports: for each, the grade, the exit status, and the problem (its
 * section, level and words); then the combinations (the lowest cap wins,
 * a failure beats warnings), the ungraded cases (unreachable, --plain),
 * boundaries (21 and 22 days, 2048-bit RSA), the per-section verdicts,
 * and the command line of `tlsmta check`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/check_internal.h"
#include "check_test_util.h"

/* ---- one case per rule ---- */

typedef void mutate_fn(struct check_report *r);

struct grade_case {
    const char *name;
    mutate_fn *mutate;
    const char *grade; /* expected */
    int exit_status;
    const char *section; /* of the one problem expected, or NULL */
    enum check_level level;
    const char *words; /* in its text */
    size_t others;     /* problems expected besides it */
};

static void
m_none(struct check_report *r)
{
    (void)r;
}

static void
m_unreachable(struct check_report *r)
{
    struct check_options o = r->opt;
    memset(r, 0, sizeof(*r));
    r->opt = o;
    snprintf(r->connect_error, CHECK_TEXT_MAX, "connection refused");
}

static void
m_greeting_554(struct check_report *r)
{
    r->banner_code = 554;
    snprintf(r->banner, CHECK_TEXT_MAX, "go away");
    r->ehlo_plain.done = false;
    r->tls_ok = false;
    r->ehlo_plain.starttls = false;
}

static void
m_ehlo_refused(struct check_report *r)
{
    memset(&r->ehlo_plain, 0, sizeof(r->ehlo_plain));
    r->ehlo_plain.code = 502;
    r->tls_ok = false;
}

static void
m_no_starttls(struct check_report *r)
{
    r->ehlo_plain.starttls = false;
    r->tls_ok = false;
}

static void
m_auth_plain(struct check_report *r)
{
    r->ehlo_plain.auth = true;
    snprintf(r->ehlo_plain.auth_mechs, CHECK_TEXT_MAX, "PLAIN LOGIN");
}

static void
m_sslv3(struct check_report *r)
{
    r->versions[CHECK_SSL3].result = CHECK_V_ACCEPTED;
}

static void
m_tls10(struct check_report *r)
{
    ctu_accept(r, CHECK_TLS1_0,
               ctu_suite("ECDHE-ECDSA-AES256-SHA", "ECDHE", "ECDSA",
                         "AES-256-CBC", 256, "HMAC-SHA1", true, true));
}

static void
m_tls11_only(struct check_report *r)
{
    r->versions[CHECK_TLS1_1].result = CHECK_V_ACCEPTED;
}

static void
m_no_tls13(struct check_report *r)
{
    r->versions[CHECK_TLS1_3].result = CHECK_V_REFUSED;
    r->versions[CHECK_TLS1_3].n_ciphers = 0;
    r->session = r->versions[CHECK_TLS1_2].ciphers[0];
}

static void
m_no_tls(struct check_report *r)
{
    r->tls_ok = false;
    snprintf(r->tls_error, CHECK_TEXT_MAX, "handshake failure");
}

static void
m_session_null(struct check_report *r)
{
    r->session = ctu_suite("ECDHE-ECDSA-NULL-SHA", "ECDHE", "ECDSA", "NULL", 0,
                           "HMAC-SHA1", true, true);
}

static void
m_session_not_fs(struct check_report *r)
{
    r->session = ctu_suite("AES256-GCM-SHA384", "RSA", "RSA", "AES-256-GCM",
                           256, "AEAD", false, false);
    ctu_accept(r, CHECK_TLS1_2, r->session);
}

static void
m_session_cbc(struct check_report *r)
{
    r->session = ctu_suite("ECDHE-ECDSA-AES256-SHA384", "ECDHE", "ECDSA",
                           "AES-256-CBC", 256, "HMAC-SHA384", true, false);
    ctu_accept(r, CHECK_TLS1_2, r->session);
}

static void
m_weak_accepted(struct check_report *r)
{
    ctu_accept(r, CHECK_TLS1_2,
               ctu_suite("DES-CBC3-SHA", "RSA", "RSA", "3DES-EDE-CBC", 112,
                         "HMAC-SHA1", false, true));
}

static void
m_no_fs(struct check_report *r)
{
    struct tls_cipher_info c =
        ctu_suite("AES256-GCM-SHA384", "RSA", "RSA", "AES-256-GCM", 256, "AEAD",
                  false, false);
    for (int v = 0; v < CHECK_VERSIONS; v++)
        r->versions[v].n_ciphers = 0;
    r->versions[CHECK_TLS1_3].result = CHECK_V_REFUSED;
    ctu_accept(r, CHECK_TLS1_2, c);
    r->session = c;
}

static void
m_second_best(struct check_report *r)
{
    ctu_accept(r, CHECK_TLS1_2,
               ctu_suite("ECDHE-ECDSA-AES256-SHA384", "ECDHE", "ECDSA",
                         "AES-256-CBC", 256, "HMAC-SHA384", true, false));
}

static void
m_unverified(struct check_report *r)
{
    r->chain_verified = false;
    snprintf(r->verify_error, CHECK_TEXT_MAX, "self-signed certificate");
}

static void
m_no_cert(struct check_report *r)
{
    r->chain_verified = false;
    r->n_chain = 0;
}

static void
m_name_mismatch(struct check_report *r)
{
    r->name_matched = false;
}

static void
m_name_unchecked(struct check_report *r)
{
    r->name_matched = false;
    r->matched_name[0] = '\0';
}

static void
m_expired(struct check_report *r)
{
    r->chain[0].info.days_left = -3;
}

static void
m_days_21(struct check_report *r)
{
    r->chain[0].info.days_left = 21;
}

static void
m_days_22(struct check_report *r)
{
    r->chain[0].info.days_left = 22;
}

static void
m_days_0(struct check_report *r)
{
    r->chain[0].info.days_left = 0;
}

static void
m_rsa_1024(struct check_report *r)
{
    snprintf(r->chain[0].info.key_type, 16, "RSA");
    r->chain[0].info.key_bits = 1024;
}

static void
m_rsa_2048(struct check_report *r)
{
    snprintf(r->chain[0].info.key_type, 16, "RSA");
    r->chain[0].info.key_bits = 2048;
}

static void
m_sha1_leaf(struct check_report *r)
{
    snprintf(r->chain[0].info.sig_alg, 64, "sha1WithRSAEncryption");
}

static void
m_sha1_root(struct check_report *r)
{
    ctu_cert(r, "CN=Example CA,O=Example", "CN=Example CA,O=Example", "RSA",
             4096, 3000);
    snprintf(r->chain[1].info.sig_alg, 64, "sha1WithRSAEncryption");
}

static void
m_ehlo_tls_refused(struct check_report *r)
{
    memset(&r->ehlo_tls, 0, sizeof(r->ehlo_tls));
    r->ehlo_tls.code = 554;
}

static void
m_injection(struct check_report *r)
{
    r->starttls_injection = CHECK_FAIL;
    snprintf(r->starttls_injection_detail, CHECK_TEXT_MAX,
             "NOOP was answered inside TLS");
}

static void
m_injection_unsure(struct check_report *r)
{
    r->starttls_injection = CHECK_WARN;
    snprintf(r->starttls_injection_detail, CHECK_TEXT_MAX, "timeout");
}

static void
m_injection_untested(struct check_report *r)
{
    r->starttls_injection = CHECK_INFO;
}

static void
m_renegotiation(struct check_report *r)
{
    r->renegotiation = CHECK_WARN;
}

static void
m_renegotiation_untested(struct check_report *r)
{
    r->renegotiation = CHECK_INFO;
}

static void
m_compression(struct check_report *r)
{
    r->compression = true;
}

static void
m_implicit(struct check_report *r)
{
    r->opt.mode = CHECK_MODE_AUTO;
    r->opt.port = 465;
    memset(&r->ehlo_plain, 0, sizeof(r->ehlo_plain));
    r->starttls_injection = CHECK_INFO;
}

static void
m_implicit_handshake_fails(struct check_report *r)
{
    m_implicit(r);
    r->tls_ok = false;
    r->banner_code = 0;
    r->banner[0] = '\0';
    memset(&r->ehlo_tls, 0, sizeof(r->ehlo_tls));
    snprintf(r->tls_error, CHECK_TEXT_MAX, "wrong version number");
}

static void
m_plain_starttls(struct check_report *r)
{
    r->opt.mode = CHECK_MODE_PLAIN;
    r->tls_ok = false;
}

static void
m_plain_no_starttls(struct check_report *r)
{
    m_plain_starttls(r);
    r->ehlo_plain.starttls = false;
}

static const struct grade_case CASES[] = {
    {"A+ server", m_none, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"unreachable", m_unreachable, "-", 3, "banner", CHECK_FAIL,
     "connection refused", 0},
    {"greeting 554", m_greeting_554, "F", 2, "banner", CHECK_FAIL,
     "the greeting is 554", 0},
    {"EHLO refused", m_ehlo_refused, "F", 2, "ehlo", CHECK_FAIL,
     "EHLO was answered 502", 0},
    {"no STARTTLS", m_no_starttls, "F", 2, "ehlo", CHECK_FAIL,
     "STARTTLS is not offered", 0},
    {"AUTH before TLS", m_auth_plain, "B", 1, "ehlo", CHECK_WARN,
     "AUTH PLAIN LOGIN is offered before TLS", 0},
    {"SSLv3", m_sslv3, "F", 2, "versions", CHECK_FAIL, "SSLv3 is accepted", 0},
    {"TLS 1.1", m_tls11_only, "C", 1, "versions", CHECK_WARN,
     "TLSv1.1 is accepted (deprecated by RFC 8996)", 0},
    {"no TLS 1.3", m_no_tls13, "A", 0, "versions", CHECK_INFO,
     "TLSv1.3 is not accepted", 0},
    {"no handshake", m_no_tls, "F", 2, "session", CHECK_FAIL,
     "no TLS handshake succeeded: handshake failure", 0},
    {"NULL cipher negotiated", m_session_null, "F", 2, "session", CHECK_FAIL,
     "ECDHE-ECDSA-NULL-SHA gives no real protection", 1 /* not AEAD */},
    {"negotiated without FS", m_session_not_fs, "B", 1, "session", CHECK_WARN,
     "without forward secrecy", 1 /* the A note on the RSA suite */},
    {"negotiated CBC", m_session_cbc, "B", 1, "session", CHECK_WARN,
     "is not AEAD (AES-256-CBC with HMAC-SHA384)", 1 /* the A note */},
    {"3DES accepted", m_weak_accepted, "C", 1, "ciphers", CHECK_WARN,
     "weak suites accepted: DES-CBC3-SHA", 0},
    {"no forward secrecy", m_no_fs, "C", 1, "ciphers", CHECK_WARN,
     "no forward secrecy", 2 /* the notes: no TLS 1.3, an RSA suite */},
    {"CBC-SHA384 accepted", m_second_best, "A", 0, "ciphers", CHECK_INFO,
     "ECDHE-ECDSA-AES256-SHA384", 0},
    {"self-signed", m_unverified, "F", 2, "certificate", CHECK_FAIL,
     "the chain does not verify: self-signed certificate", 0},
    {"no certificate", m_no_cert, "F", 2, "certificate", CHECK_FAIL,
     "the server sent no certificate", 0},
    {"wrong name", m_name_mismatch, "F", 2, "certificate", CHECK_FAIL,
     "does not name mx.example.org", 0},
    {"name not checked", m_name_unchecked, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"expired", m_expired, "F", 2, "certificate", CHECK_FAIL,
     "certificate 0 (mx.example.org) expired on 2027-01-01T00:00:00Z", 0},
    {"21 days left", m_days_21, "B", 1, "certificate", CHECK_WARN,
     "expires in 21 days", 0},
    {"22 days left", m_days_22, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"0 days left", m_days_0, "B", 1, "certificate", CHECK_WARN,
     "expires in 0 days", 0},
    {"RSA 1024", m_rsa_1024, "C", 1, "certificate", CHECK_WARN,
     "RSA 1024 bits: too small", 0},
    {"RSA 2048", m_rsa_2048, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"SHA-1 leaf", m_sha1_leaf, "C", 1, "certificate", CHECK_WARN,
     "signed with sha1WithRSAEncryption", 0},
    {"SHA-1 root only", m_sha1_root, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"EHLO after TLS refused", m_ehlo_tls_refused, "F", 2, "ehlo_tls",
     CHECK_FAIL, "EHLO after TLS was answered 554", 0},
    {"STARTTLS injection", m_injection, "F", 2, "weaknesses", CHECK_FAIL,
     "STARTTLS command injection: NOOP was answered inside TLS", 0},
    {"injection inconclusive", m_injection_unsure, "B", 1, "weaknesses",
     CHECK_WARN, "inconclusive: timeout", 0},
    {"injection not tested", m_injection_untested, "A+", 0, NULL, CHECK_OK,
     NULL, 0},
    {"renegotiation", m_renegotiation, "B", 1, "weaknesses", CHECK_WARN,
     "renegotiation is accepted", 0},
    {"renegotiation not tested", m_renegotiation_untested, "A+", 0, NULL,
     CHECK_OK, NULL, 0},
    {"compression", m_compression, "F", 2, "weaknesses", CHECK_FAIL,
     "compression", 0},
    {"implicit TLS on 465", m_implicit, "A+", 0, NULL, CHECK_OK, NULL, 0},
    {"implicit TLS fails", m_implicit_handshake_fails, "F", 2, "session",
     CHECK_FAIL, "wrong version number", 0},
    {"--plain, STARTTLS offered", m_plain_starttls, "-", 0, NULL, CHECK_OK,
     NULL, 0},
    {"--plain, no STARTTLS", m_plain_no_starttls, "-", 2, "ehlo", CHECK_FAIL,
     "STARTTLS is not offered", 0},
};

static bool
has_problem(const struct check_report *r, const char *section,
            enum check_level level, const char *words)
{
    for (size_t i = 0; i < r->n_problems; i++)
        if (strcmp(r->problems[i].section, section) == 0 &&
            r->problems[i].level == level &&
            strstr(r->problems[i].text, words) != NULL)
            return true;
    return false;
}

static void
test_each_rule(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();

    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct grade_case *c = &CASES[i];
        ctu_good_report(r);
        c->mutate(r);
        check_grade(r);
        print_message("case: %s\n", c->name);
        for (size_t p = 0; p < r->n_problems; p++)
            print_message("  %s %s: %s\n",
                          check_level_key(r->problems[p].level),
                          r->problems[p].section, r->problems[p].text);
        assert_string_equal(r->grade, c->grade);
        assert_int_equal(r->exit_status, c->exit_status);
        if (c->section == NULL) {
            assert_int_equal(r->n_problems, 0);
            continue;
        }
        assert_int_equal(r->n_problems, 1 + c->others);
        assert_true(has_problem(r, c->section, c->level, c->words));
    }
    free(r);
}

/* TLS 1.0 with a CBC-SHA1 suite: two C warnings; expiring adds a B
 * warning; the lowest cap wins and the exit status stays 1. */
static void
test_lowest_cap_wins(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();

    m_tls10(r);
    m_days_21(r);
    check_grade(r);
    assert_string_equal(r->grade, "C");
    assert_int_equal(r->exit_status, 1);
    assert_int_equal(r->n_problems, 3);
    assert_string_equal(r->problems[0].section, "versions");
    assert_non_null(strstr(r->problems[0].text, "TLSv1.0 is accepted"));
    assert_string_equal(r->problems[1].section, "ciphers");
    assert_non_null(strstr(r->problems[1].text, "ECDHE-ECDSA-AES256-SHA"));
    assert_string_equal(r->problems[2].section, "certificate");
    m_compression(r);
    check_grade(r);
    assert_string_equal(r->grade, "F");
    assert_int_equal(r->exit_status, 2);
    assert_int_equal(r->n_problems, 4);
    free(r);
}

/* Weak suites are listed once each, even when one name contains another
 * and when several versions accept them. */
static void
test_weak_list(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    struct tls_cipher_info a =
        ctu_suite("AES128-SHA", "RSA", "RSA", "AES-128-CBC", 128, "HMAC-SHA1",
                  false, true);
    struct tls_cipher_info b =
        ctu_suite("ECDHE-RSA-AES128-SHA", "ECDHE", "RSA", "AES-128-CBC", 128,
                  "HMAC-SHA1", true, true);

    ctu_accept(r, CHECK_TLS1_0, b);
    ctu_accept(r, CHECK_TLS1_0, a);
    ctu_accept(r, CHECK_TLS1_2, a);
    ctu_accept(r, CHECK_TLS1_2, b);
    check_grade(r);
    assert_string_equal(r->grade, "C");
    assert_string_equal(r->problems[1].text, "weak suites accepted: "
                                             "ECDHE-RSA-AES128-SHA, "
                                             "AES128-SHA");
    free(r);
}

/* Grading twice gives the same list (check_grade starts afresh). */
static void
test_idempotent(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();

    m_renegotiation(r);
    check_grade(r);
    check_grade(r);
    assert_int_equal(r->n_problems, 1);
    assert_string_equal(r->grade, "B");
    free(r);
}

static void
test_verdicts(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    struct check_verdict v;

    check_grade(r);
    check_section_verdict(r, CHECK_SEC_VERSIONS, &v);
    assert_true(v.tested);
    assert_int_equal(v.level, CHECK_OK);
    assert_string_equal(v.text, "accepted: TLSv1.2, TLSv1.3");
    check_section_verdict(r, CHECK_SEC_CERTIFICATE, &v);
    assert_string_equal(v.text, "verified, names mx.example.org, 400 days "
                                "left");
    check_section_verdict(r, CHECK_SEC_SUMMARY, &v);
    assert_string_equal(v.text, "grade A+, 0 failures, 0 warnings");

    m_unverified(r);
    m_expired(r);
    m_days_0(r); /* not expired after all: only the B warning */
    m_name_mismatch(r);
    check_grade(r);
    check_section_verdict(r, CHECK_SEC_CERTIFICATE, &v);
    assert_int_equal(v.level, CHECK_FAIL);
    assert_string_equal(v.text, "the chain does not verify: self-signed "
                                "certificate (and 2 more)");
    check_section_verdict(r, CHECK_SEC_SUMMARY, &v);
    assert_int_equal(v.level, CHECK_FAIL);
    assert_string_equal(v.text, "grade F, 2 failures, 1 warning");

    ctu_good_report(r);
    m_no_starttls(r);
    check_grade(r);
    check_section_verdict(r, CHECK_SEC_SESSION, &v);
    assert_false(v.tested);
    assert_string_equal(v.text, "STARTTLS not offered");
    check_section_verdict(r, CHECK_SEC_CERTIFICATE, &v);
    assert_false(v.tested);
    assert_string_equal(v.text, "no TLS session");

    ctu_good_report(r);
    m_implicit(r);
    check_grade(r);
    check_section_verdict(r, CHECK_SEC_EHLO, &v);
    assert_false(v.tested);
    assert_non_null(strstr(v.text, "implicit TLS"));
    free(r);
}

/* ---- the command line ---- */

struct cli_case {
    const char *argv[8];
    int ret; /* of check_cli_parse */
    const char *host;
    unsigned port;
    enum check_mode mode;
    const char *servername;
};

static const struct cli_case CLI_CASES[] = {
    {{"check", "mx.example.org"},
     0,
     "mx.example.org",
     25,
     CHECK_MODE_STARTTLS,
     "mx.example.org"},
    {{"check", "127.0.0.1:2525"},
     0,
     "127.0.0.1",
     2525,
     CHECK_MODE_STARTTLS,
     ""},
    {{"check", "mail.example.org:465"},
     0,
     "mail.example.org",
     465,
     CHECK_MODE_IMPLICIT,
     "mail.example.org"},
    {{"check", "--starttls", "mail.example.org:465"},
     0,
     "mail.example.org",
     465,
     CHECK_MODE_STARTTLS,
     "mail.example.org"},
    {{"check", "[2001:db8::25]:587"},
     0,
     "2001:db8::25",
     587,
     CHECK_MODE_STARTTLS,
     ""},
    {{"check", "[::1]"}, 0, "::1", 25, CHECK_MODE_STARTTLS, ""},
    {{"check", "2001:db8::1"}, 0, "2001:db8::1", 25, CHECK_MODE_STARTTLS, ""},
    {{"check", "--implicit", "--servername", "mx.example.org",
      "192.0.2.1:4465"},
     0,
     "192.0.2.1",
     4465,
     CHECK_MODE_IMPLICIT,
     "mx.example.org"},
    {{"check", "--plain", "--timeout", "3", "--helo", "[192.0.2.9]",
      "a.example"},
     0,
     "a.example",
     25,
     CHECK_MODE_PLAIN,
     "a.example"},
    /* Options after the host are fine (GNU getopt permutes). */
    {{"check", "a.example:25", "--json", "--show-certs"},
     0,
     "a.example",
     25,
     CHECK_MODE_STARTTLS,
     "a.example"},
    {{"check", "--domain", "example.org", "--dns-resolver", "127.0.0.1@5353"},
     0,
     "",
     25,
     CHECK_MODE_STARTTLS,
     ""},
    {{"check", "--help"}, 1, NULL, 0, 0, NULL},
    {{"check", "-h"}, 1, NULL, 0, 0, NULL},
    /* Usage errors. */
    {{"check"}, -1, NULL, 0, 0, NULL},
    {{"check", "a.example", "b.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--bogus", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "a.example", "--timeout"}, -1, NULL, 0, 0, NULL},
    {{"check", "--timeout", "0", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--timeout", "10s", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--starttls", "--implicit", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "a.example:0"}, -1, NULL, 0, 0, NULL},
    {{"check", "a.example:65536"}, -1, NULL, 0, 0, NULL},
    {{"check", "a.example:"}, -1, NULL, 0, 0, NULL},
    {{"check", "[2001:db8::1"}, -1, NULL, 0, 0, NULL},
    {{"check", "[a.example]:25"}, -1, NULL, 0, 0, NULL},
    {{"check", "[::1]25"}, -1, NULL, 0, 0, NULL},
    {{"check", "a example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--helo", "a b", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--servername", "x\x1b", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--client-cert", "/etc/passwd", "a.example"},
     -1,
     NULL,
     0,
     0,
     NULL},
    {{"check", "--ca-file", "/nonexistent/ca.pem", "a.example"},
     -1,
     NULL,
     0,
     0,
     NULL},
    {{"check", "--domain", "example.org", "a.example"}, -1, NULL, 0, 0, NULL},
    {{"check", "--domain", "example.org", "--servername", "x"},
     -1,
     NULL,
     0,
     0,
     NULL},
    {{"check", "--dns-resolver", "127.0.0.1", "a.example"},
     -1,
     NULL,
     0,
     0,
     NULL},
    {{"check", "--domain", "example.org", "--dns-resolver", "nameserver"},
     -1,
     NULL,
     0,
     0,
     NULL},
    {{"check", "--domain", "example.org", "--dns-resolver", "::1@99999"},
     -1,
     NULL,
     0,
     0,
     NULL},
};

static void
test_cli(void **state)
{
    (void)state;
    struct check_options o;

    for (size_t i = 0; i < sizeof(CLI_CASES) / sizeof(CLI_CASES[0]); i++) {
        const struct cli_case *c = &CLI_CASES[i];
        char *argv[9] = {0};
        int argc = 0;
        while (c->argv[argc] != NULL) {
            argv[argc] = (char *)c->argv[argc];
            argc++;
        }
        print_message("cli case %zu: %s %s\n", i, argv[1] ? argv[1] : "",
                      argv[2] ? argv[2] : "");
        assert_int_equal(check_cli_parse(argc, argv, &o), c->ret);
        if (c->ret != 0)
            continue;
        assert_string_equal(o.host, c->host);
        assert_int_equal(o.port, c->port);
        assert_int_equal(o.mode, c->mode);
        assert_string_equal(o.servername, c->servername);
    }
}

static void
test_cli_values(void **state)
{
    (void)state;
    struct check_options o;
    char *argv[] = {"check",         "--ca-file",   "/etc/passwd",
                    "--timeout",     "30",          "--json",
                    "--show-certs",  "--helo",      "probe.example",
                    "--client-cert", "/etc/passwd", "--client-key",
                    "/etc/passwd",   "a.example",   NULL};

    assert_int_equal(check_cli_parse(14, argv, &o), 0);
    assert_string_equal(o.ca_file, "/etc/passwd");
    assert_int_equal(o.timeout, 30);
    assert_true(o.json);
    assert_true(o.show_certs);
    assert_string_equal(o.helo_name, "probe.example");
    assert_string_equal(o.client_key, "/etc/passwd");
    assert_null(o.domain);

    char *dom[] = {"check", "--domain", "example.org", NULL};
    assert_int_equal(check_cli_parse(3, dom, &o), 0);
    assert_string_equal(o.domain, "example.org");
    assert_int_equal(o.timeout, 10);
    assert_false(o.json);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rule),
        cmocka_unit_test(test_lowest_cap_wins),
        cmocka_unit_test(test_weak_list),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_cli_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
