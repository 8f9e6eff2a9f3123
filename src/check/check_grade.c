/*
 * check_grade.c -- judge a probed report: the problem list, the grade
 * (A+ / A / B / C / F) and the exit status of `tlsmta check`, by the rules
 * of docs/check.md ("Grading rules"). The rules are the table GRADE_RULES:
 * each has a section, a level, a cap (the best grade still possible once
 * it holds) and a small predicate that also writes the sentence.
 *
 * Trust boundary: the report holds server bytes (banner, names, OpenSSL
 * reasons); they are copied into problem texts as they are, bounded, and
 * escaped by the printers.
 */
#include <stdio.h>
#include <string.h>

#include "check/check_conn.h"
#include "check/check_internal.h"

/* Grades from worst to best; a rule's cap is an index here. */
enum grade { GRADE_F, GRADE_C, GRADE_B, GRADE_A, GRADE_APLUS };
static const char *const GRADES[] = {"F", "C", "B", "A", "A+"};

#define GRADE_EXPIRY_WARN_DAYS 21 /* docs/check.md: warn at 21 or fewer */
#define GRADE_MIN_RSA_BITS 2048   /* NIST SP 800-131A; also DSA */
#define GRADE_MIN_EC_BITS 224
#define GRADE_MIN_ENC_BITS 112 /* below: export and single DES */
#define GRADE_SMTP_READY 220   /* RFC 5321 4.2.3 */

/* Writes the problem's sentence into t (n bytes) and returns true when
 * the rule holds. */
typedef bool grade_rule_fn(const struct check_report *r, char *t, size_t n);

struct grade_rule {
    enum check_section section;
    enum check_level level;
    enum grade cap;
    grade_rule_fn *holds;
};

/* ---- helpers ---- */

static enum check_mode
mode(const struct check_report *r)
{
    return check_mode_resolve(&r->opt);
}

/* The server was asked for TLS and should have given it. */
static bool
tls_expected(const struct check_report *r)
{
    enum check_mode m = mode(r);
    return r->connected && m != CHECK_MODE_PLAIN &&
           (m == CHECK_MODE_IMPLICIT || r->ehlo_plain.starttls);
}

/* The EHLO before TLS happened in this mode (not implicit TLS). */
static bool
ehlo_plain_expected(const struct check_report *r)
{
    return r->connected && mode(r) != CHECK_MODE_IMPLICIT &&
           r->banner_code == GRADE_SMTP_READY;
}

typedef bool cipher_pred(const struct tls_cipher_info *c);

/* The suite name was already accepted at a version before v. */
static bool
seen_before(const struct check_report *r, int v, const char *name)
{
    for (int w = 0; w < v; w++) {
        const struct check_version_probe *p = &r->versions[w];
        if (p->result != CHECK_V_ACCEPTED)
            continue;
        for (size_t i = 0; i < p->n_ciphers && i < CHECK_CIPHERS_MAX; i++)
            if (strcmp(p->ciphers[i].name, name) == 0)
                return true;
    }
    return false;
}

/* Append the names of accepted suites for which pred holds to t (once
 * each, in version order), "a, b, c"; returns how many. */
static size_t
list_ciphers(const struct check_report *r, cipher_pred *pred, char *t, size_t n)
{
    size_t count = 0, len = strlen(t);

    for (int v = 0; v < CHECK_VERSIONS; v++) {
        const struct check_version_probe *p = &r->versions[v];
        if (p->result != CHECK_V_ACCEPTED)
            continue;
        for (size_t i = 0; i < p->n_ciphers && i < CHECK_CIPHERS_MAX; i++) {
            const char *name = p->ciphers[i].name;
            if (!pred(&p->ciphers[i]) || seen_before(r, v, name))
                continue;
            count++;
            if (len < n)
                len += (size_t)snprintf(t + len, n - len, "%s%s",
                                        count > 1 ? ", " : "", name);
        }
    }
    return count;
}

static bool
is_weak(const struct tls_cipher_info *c)
{
    return c->weak;
}

static bool
is_fs(const struct tls_cipher_info *c)
{
    return c->forward_secret;
}

static bool
is_second_best(const struct tls_cipher_info *c)
{
    return !c->weak && !(c->forward_secret && c->aead);
}

static size_t
count_ciphers(const struct check_report *r, cipher_pred *pred)
{
    char scratch[1] = "";
    return list_ciphers(r, pred, scratch, 0);
}

/* The common name of certificate i, or "#i" when it has none. */
static const char *
cert_name(const struct check_report *r, size_t i, char *dst, size_t n)
{
    if (!tls_dn_common_name(r->chain[i].info.subject, dst, n))
        snprintf(dst, n, "#%zu", i);
    return dst;
}

/* Nothing at all came where a STARTTLS greeting was expected, not on
 * port 465: perhaps the server waits for a TLS ClientHello. */
static bool
silent_non_465(const struct check_report *r)
{
    return mode(r) == CHECK_MODE_STARTTLS && r->opt.port != 465 &&
           strncmp(r->banner_error, CHECK_CONN_NO_REPLY,
                   strlen(CHECK_CONN_NO_REPLY)) == 0;
}

/* ---- the rules, in the order of docs/check.md ---- */

static bool
rule_unreachable(const struct check_report *r, char *t, size_t n)
{
    if (r->connected)
        return false;
    /* The probe's error names the address and port tried. */
    snprintf(t, n, "the server could not be reached: %s",
             r->connect_error[0] ? r->connect_error : "unknown reason");
    return true;
}

static bool
rule_no_greeting(const struct check_report *r, char *t, size_t n)
{
    if (!r->connected || r->banner_code == GRADE_SMTP_READY ||
        (mode(r) == CHECK_MODE_IMPLICIT && !r->tls_ok))
        return false;
    if (r->banner_code == 0)
        snprintf(t, n, "no valid greeting: %.300s%s",
                 r->banner_error[0] ? r->banner_error : "none came",
                 silent_non_465(r) ? " (if this port uses implicit TLS, "
                                     "try --implicit)"
                                   : "");
    else
        snprintf(t, n,
                 "the greeting is %d, not 220: the server does not "
                 "accept mail now (%.200s)",
                 r->banner_code, r->banner);
    return true;
}

static bool
rule_ehlo_refused(const struct check_report *r, char *t, size_t n)
{
    if (!ehlo_plain_expected(r) || r->ehlo_plain.done)
        return false;
    if (r->ehlo_plain.code == 0)
        snprintf(t, n, "EHLO got no valid reply: %.300s",
                 r->ehlo_plain.error[0] ? r->ehlo_plain.error : "none came");
    else
        snprintf(t, n, "EHLO was answered %d, not 250", r->ehlo_plain.code);
    return true;
}

static bool
rule_no_starttls(const struct check_report *r, char *t, size_t n)
{
    if (!ehlo_plain_expected(r) || !r->ehlo_plain.done ||
        r->ehlo_plain.starttls)
        return false;
    snprintf(t, n,
             "STARTTLS is not offered: mail to this server travels "
             "in plaintext");
    return true;
}

static bool
rule_auth_before_tls(const struct check_report *r, char *t, size_t n)
{
    if (!ehlo_plain_expected(r) || !r->ehlo_plain.done || !r->ehlo_plain.auth)
        return false;
    snprintf(t, n,
             "AUTH %.200s is offered before TLS: passwords could "
             "cross the network in plaintext",
             r->ehlo_plain.auth_mechs);
    return true;
}

static bool
rule_sslv3(const struct check_report *r, char *t, size_t n)
{
    if (r->versions[CHECK_SSL3].result != CHECK_V_ACCEPTED)
        return false;
    snprintf(t, n, "SSLv3 is accepted (POODLE; RFC 7568 forbids it)");
    return true;
}

static bool
rule_old_tls(const struct check_report *r, char *t, size_t n)
{
    bool v10 = r->versions[CHECK_TLS1_0].result == CHECK_V_ACCEPTED;
    bool v11 = r->versions[CHECK_TLS1_1].result == CHECK_V_ACCEPTED;

    if (!v10 && !v11)
        return false;
    snprintf(t, n, "%s%s%s %s accepted (deprecated by RFC 8996)",
             v10 ? "TLSv1.0" : "", v10 && v11 ? " and " : "",
             v11 ? "TLSv1.1" : "", v10 && v11 ? "are" : "is");
    return true;
}

/* A version whose handshake broke (time out, EOF, reset, not TLS) is
 * neither accepted nor refused: say so, without changing the grade. */
static bool
rule_version_error(const struct check_report *r, char *t, size_t n)
{
    size_t len = 0, count = 0;
    const char *why = "";

    for (int v = 0; v < CHECK_VERSIONS && len < n; v++) {
        if (r->versions[v].result != CHECK_V_ERROR)
            continue;
        if (count++ == 0)
            why = r->versions[v].detail;
        len += (size_t)snprintf(t + len, n - len, "%s%s",
                                count > 1 ? ", " : "could not test ",
                                check_version_name((enum check_version)v));
    }
    if (count > 0 && len < n)
        snprintf(t + len, n - len, " (%.200s): results may be incomplete",
                 why);
    return count > 0;
}

/* Probe connections that broke during suite enumeration or resumption. */
static bool
rule_incomplete(const struct check_report *r, char *t, size_t n)
{
    if (r->probe_errors == 0)
        return false;
    snprintf(t, n,
             "%zu probe connection%s failed: results may be incomplete "
             "(%.200s)",
             r->probe_errors, r->probe_errors == 1 ? "" : "s",
             r->probe_error);
    return true;
}

static bool
rule_no_tls13(const struct check_report *r, char *t, size_t n)
{
    /* An error is no evidence either way (rule_version_error). */
    if (!r->tls_ok || r->versions[CHECK_TLS1_3].result == CHECK_V_ACCEPTED ||
        r->versions[CHECK_TLS1_3].result == CHECK_V_ERROR)
        return false;
    snprintf(t, n, "TLSv1.3 is not accepted (A+ needs it)");
    return true;
}

static bool
rule_no_tls(const struct check_report *r, char *t, size_t n)
{
    if (!tls_expected(r) || r->tls_ok)
        return false;
    snprintf(t, n, "no TLS handshake succeeded: %s",
             r->tls_error[0] ? r->tls_error : "unknown reason");
    return true;
}

static bool
rule_session_broken(const struct check_report *r, char *t, size_t n)
{
    const struct tls_cipher_info *s = &r->session;

    if (!r->tls_ok ||
        (strcmp(s->enc, "NULL") != 0 && strcmp(s->auth, "NULL") != 0 &&
         s->enc_bits >= GRADE_MIN_ENC_BITS))
        return false;
    snprintf(t, n, "the negotiated suite %s gives no real protection (%s)",
             s->name,
             s->weak_reason[0] ? s->weak_reason
                               : "no encryption or no "
                                 "authentication");
    return true;
}

static bool
rule_session_not_fs(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->session.forward_secret || count_ciphers(r, is_fs) == 0)
        return false;
    snprintf(t, n,
             "the server chose %s, without forward secrecy, although "
             "it accepts forward-secret suites",
             r->session.name);
    return true;
}

static bool
rule_session_not_aead(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->session.aead)
        return false;
    snprintf(t, n, "the negotiated suite %s is not AEAD (%s with %s)",
             r->session.name, r->session.enc, r->session.mac);
    return true;
}

static bool
rule_weak_ciphers(const struct check_report *r, char *t, size_t n)
{
    int len = snprintf(t, n, "weak suites accepted: ");
    return list_ciphers(r, is_weak, t, n) > 0 && len > 0;
}

static bool
rule_no_fs(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->session.forward_secret || count_ciphers(r, is_fs))
        return false;
    snprintf(t, n,
             "no forward secrecy: whoever records the traffic and "
             "later obtains the server key can decrypt it");
    return true;
}

static bool
rule_second_best(const struct check_report *r, char *t, size_t n)
{
    snprintf(t, n,
             "suites without forward secrecy or AEAD accepted "
             "(A+ needs only forward-secret AEAD suites): ");
    return r->tls_ok && list_ciphers(r, is_second_best, t, n) > 0;
}

static bool
rule_unverified(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->chain_verified)
        return false;
    if (r->n_chain == 0)
        snprintf(t, n, "the server sent no certificate");
    else
        snprintf(t, n, "the chain does not verify: %s",
                 r->verify_error[0] ? r->verify_error : "unknown reason");
    return true;
}

static bool
rule_name_mismatch(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->n_chain == 0 || r->matched_name[0] == '\0' ||
        r->name_matched)
        return false;
    snprintf(t, n, "the certificate does not name %.255s", r->matched_name);
    return true;
}

static bool
rule_expired(const struct check_report *r, char *t, size_t n)
{
    char cn[128];

    for (size_t i = 0; i < r->n_chain && i < CHECK_CHAIN_MAX; i++) {
        if (r->chain[i].info.days_left >= 0)
            continue;
        snprintf(t, n, "certificate %zu (%s) expired on %s", i,
                 cert_name(r, i, cn, sizeof(cn)), r->chain[i].info.not_after);
        return true;
    }
    return false;
}

static bool
rule_expiring(const struct check_report *r, char *t, size_t n)
{
    char cn[128];

    for (size_t i = 0; i < r->n_chain && i < CHECK_CHAIN_MAX; i++) {
        long d = r->chain[i].info.days_left;
        if (d < 0 || d > GRADE_EXPIRY_WARN_DAYS)
            continue;
        snprintf(t, n, "certificate %zu (%s) expires in %ld day%s (%s)", i,
                 cert_name(r, i, cn, sizeof(cn)), d, d == 1 ? "" : "s",
                 r->chain[i].info.not_after);
        return true;
    }
    return false;
}

static bool
rule_small_key(const struct check_report *r, char *t, size_t n)
{
    const struct tls_cert_info *c = &r->chain[0].info;
    bool ec = strcmp(c->key_type, "EC") == 0;
    bool rsa =
        strcmp(c->key_type, "RSA") == 0 || strcmp(c->key_type, "DSA") == 0;

    if (r->n_chain == 0 || c->key_bits <= 0 ||
        !((ec && c->key_bits < GRADE_MIN_EC_BITS) ||
          (rsa && c->key_bits < GRADE_MIN_RSA_BITS)))
        return false;
    snprintf(t, n, "the server key is %s %d bits: too small (%s needs %d)",
             c->key_type, c->key_bits, c->key_type,
             ec ? GRADE_MIN_EC_BITS : GRADE_MIN_RSA_BITS);
    return true;
}

static bool
rule_weak_signature(const struct check_report *r, char *t, size_t n)
{
    char cn[128];

    for (size_t i = 0; i < r->n_chain && i < CHECK_CHAIN_MAX; i++) {
        const struct tls_cert_info *c = &r->chain[i].info;
        if (c->self_signed || (strcasestr(c->sig_alg, "sha1") == NULL &&
                               strcasestr(c->sig_alg, "md5") == NULL))
            continue;
        snprintf(t, n,
                 "certificate %zu (%s) is signed with %s: SHA-1 and "
                 "MD5 collisions are practical",
                 i, cert_name(r, i, cn, sizeof(cn)), c->sig_alg);
        return true;
    }
    return false;
}

static bool
rule_ehlo_tls_refused(const struct check_report *r, char *t, size_t n)
{
    if (!r->tls_ok || r->banner_code != GRADE_SMTP_READY || r->ehlo_tls.done)
        return false;
    if (r->ehlo_tls.code == 0)
        snprintf(t, n,
                 "EHLO after TLS got no valid reply (%.300s): no mail can "
                 "be sent over TLS",
                 r->ehlo_tls.error[0] ? r->ehlo_tls.error : "none came");
    else
        snprintf(t, n,
                 "EHLO after TLS was answered %d, not 250: no mail "
                 "can be sent over TLS",
                 r->ehlo_tls.code);
    return true;
}

static bool
rule_injection(const struct check_report *r, char *t, size_t n)
{
    if (r->starttls_injection != CHECK_FAIL)
        return false;
    snprintf(t, n, "STARTTLS command injection: %s",
             r->starttls_injection_detail[0]
                 ? r->starttls_injection_detail
                 : "commands sent with STARTTLS are answered inside TLS");
    return true;
}

static bool
rule_injection_unsure(const struct check_report *r, char *t, size_t n)
{
    if (r->starttls_injection != CHECK_WARN)
        return false;
    snprintf(t, n, "the STARTTLS injection test was inconclusive: %s",
             r->starttls_injection_detail[0] ? r->starttls_injection_detail
                                             : "no reason given");
    return true;
}

static bool
rule_renegotiation(const struct check_report *r, char *t, size_t n)
{
    if (r->renegotiation < CHECK_WARN)
        return false;
    snprintf(t, n,
             "client-initiated renegotiation is accepted (a cheap "
             "denial of service)");
    return true;
}

static bool
rule_compression(const struct check_report *r, char *t, size_t n)
{
    if (!r->compression)
        return false;
    snprintf(t, n, "TLS compression is negotiated (CRIME)");
    return true;
}

/* docs/check.md "Grading rules", row by row (the unreachable row is the
 * exit status 3 case: no grade is given). */
static const struct grade_rule GRADE_RULES[] = {
    {CHECK_SEC_BANNER, CHECK_FAIL, GRADE_F, rule_unreachable},
    {CHECK_SEC_BANNER, CHECK_FAIL, GRADE_F, rule_no_greeting},
    {CHECK_SEC_EHLO, CHECK_FAIL, GRADE_F, rule_ehlo_refused},
    {CHECK_SEC_EHLO, CHECK_FAIL, GRADE_F, rule_no_starttls},
    {CHECK_SEC_EHLO, CHECK_WARN, GRADE_B, rule_auth_before_tls},
    {CHECK_SEC_VERSIONS, CHECK_FAIL, GRADE_F, rule_sslv3},
    {CHECK_SEC_VERSIONS, CHECK_WARN, GRADE_C, rule_old_tls},
    {CHECK_SEC_VERSIONS, CHECK_INFO, GRADE_A, rule_no_tls13},
    {CHECK_SEC_VERSIONS, CHECK_WARN, GRADE_APLUS, rule_version_error},
    {CHECK_SEC_SESSION, CHECK_FAIL, GRADE_F, rule_no_tls},
    {CHECK_SEC_SESSION, CHECK_FAIL, GRADE_F, rule_session_broken},
    {CHECK_SEC_SESSION, CHECK_WARN, GRADE_B, rule_session_not_fs},
    {CHECK_SEC_SESSION, CHECK_WARN, GRADE_B, rule_session_not_aead},
    {CHECK_SEC_CIPHERS, CHECK_WARN, GRADE_C, rule_weak_ciphers},
    {CHECK_SEC_CIPHERS, CHECK_WARN, GRADE_C, rule_no_fs},
    {CHECK_SEC_CIPHERS, CHECK_INFO, GRADE_A, rule_second_best},
    {CHECK_SEC_CIPHERS, CHECK_WARN, GRADE_APLUS, rule_incomplete},
    {CHECK_SEC_CERTIFICATE, CHECK_FAIL, GRADE_F, rule_unverified},
    {CHECK_SEC_CERTIFICATE, CHECK_FAIL, GRADE_F, rule_name_mismatch},
    {CHECK_SEC_CERTIFICATE, CHECK_FAIL, GRADE_F, rule_expired},
    {CHECK_SEC_CERTIFICATE, CHECK_WARN, GRADE_B, rule_expiring},
    {CHECK_SEC_CERTIFICATE, CHECK_WARN, GRADE_C, rule_small_key},
    {CHECK_SEC_CERTIFICATE, CHECK_WARN, GRADE_C, rule_weak_signature},
    {CHECK_SEC_EHLO_TLS, CHECK_FAIL, GRADE_F, rule_ehlo_tls_refused},
    {CHECK_SEC_WEAKNESSES, CHECK_FAIL, GRADE_F, rule_injection},
    {CHECK_SEC_WEAKNESSES, CHECK_WARN, GRADE_B, rule_injection_unsure},
    {CHECK_SEC_WEAKNESSES, CHECK_WARN, GRADE_B, rule_renegotiation},
    {CHECK_SEC_WEAKNESSES, CHECK_FAIL, GRADE_F, rule_compression},
};

static void
grade_add(struct check_report *r, const struct grade_rule *rule,
          const char *text)
{
    struct check_problem *p;

    if (r->n_problems >= CHECK_PROBLEMS_MAX)
        return;
    p = &r->problems[r->n_problems++];
    p->level = rule->level;
    snprintf(p->section, sizeof(p->section), "%s",
             check_section_key(rule->section));
    snprintf(p->text, sizeof(p->text), "%s", text);
}

static int
grade_exit_status(const struct check_report *r)
{
    enum check_level worst = CHECK_OK;

    if (!r->connected)
        return 3;
    for (size_t i = 0; i < r->n_problems; i++)
        if (r->problems[i].level > worst)
            worst = r->problems[i].level;
    return worst == CHECK_FAIL ? 2 : worst == CHECK_WARN ? 1 : 0;
}

void
check_grade(struct check_report *r)
{
    enum grade grade = GRADE_APLUS;
    char text[CHECK_TEXT_MAX];

    r->n_problems = 0;
    for (size_t i = 0; i < sizeof(GRADE_RULES) / sizeof(GRADE_RULES[0]); i++) {
        text[0] = '\0';
        if (!GRADE_RULES[i].holds(r, text, sizeof(text)))
            continue;
        grade_add(r, &GRADE_RULES[i], text);
        if (GRADE_RULES[i].cap < grade)
            grade = GRADE_RULES[i].cap;
    }
    snprintf(r->grade, sizeof(r->grade), "%s",
             !r->connected || mode(r) == CHECK_MODE_PLAIN ? "-"
                                                          : GRADES[grade]);
    r->exit_status = grade_exit_status(r);
}

bool
check_graded(const struct check_report *r)
{
    return r->grade[0] != '\0' && strcmp(r->grade, "-") != 0;
}
