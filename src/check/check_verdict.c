/*
 * check_verdict.c -- the one-line verdict of each section of a graded
 * `tlsmta check` report, shared by the text and JSON printers so both say
 * the same: the worst problem of the section (plus how many more), or why
 * the section was not tested, or OK with what was found.
 *
 * Trust boundary: texts are built from server bytes; the printers escape.
 */
#include <stdio.h>
#include <string.h>

#include "check/check_internal.h"

typedef const char *verdict_untested_fn(const struct check_report *r);
typedef void verdict_summary_fn(const struct check_report *r, char *t,
                                size_t n);

/* ---- why a section was not tested (NULL: it was) ---- */

static const char *
untested_common(const struct check_report *r)
{
    if (!r->connected)
        return "the server could not be reached";
    if (check_mode_resolve(&r->opt) == CHECK_MODE_PLAIN)
        return "--plain: TLS not tested";
    return NULL;
}

static const char *
untested_never(const struct check_report *r)
{
    (void)r;
    return NULL;
}

static const char *
untested_ehlo(const struct check_report *r)
{
    if (!r->connected)
        return "the server could not be reached";
    if (check_mode_resolve(&r->opt) == CHECK_MODE_IMPLICIT)
        return "implicit TLS: EHLO comes after the handshake";
    if (r->banner_code != 220)
        return "no 220 greeting";
    return NULL;
}

static const char *
untested_versions(const struct check_report *r)
{
    const char *why = untested_common(r);

    if (why != NULL)
        return why;
    for (int v = 0; v < CHECK_VERSIONS; v++)
        if (r->versions[v].result != CHECK_V_NOT_TESTED)
            return NULL;
    return "no handshake was attempted";
}

static const char *
untested_tls(const struct check_report *r)
{
    const char *why = untested_common(r);

    return why != NULL ? why : !r->tls_ok ? "no TLS session" : NULL;
}

static const char *
untested_session(const struct check_report *r)
{
    const char *why = untested_common(r);

    if (why != NULL)
        return why;
    if (r->tls_ok || check_mode_resolve(&r->opt) == CHECK_MODE_IMPLICIT)
        return NULL;
    if (r->banner_code != 220)
        return "no 220 greeting";
    if (!r->ehlo_plain.done)
        return "EHLO before TLS failed";
    if (!r->ehlo_plain.starttls)
        return "STARTTLS not offered";
    return NULL;
}

/* ---- what an OK section found ---- */

static void
summary_banner(const struct check_report *r, char *t, size_t n)
{
    snprintf(t, n, "%d greeting from %s in %.3f s", r->banner_code, r->address,
             r->banner_seconds);
}

static void
summary_ehlo(const struct check_report *r, char *t, size_t n)
{
    snprintf(t, n, "%zu extension%s, STARTTLS offered, no AUTH before TLS",
             r->ehlo_plain.n_lines, r->ehlo_plain.n_lines == 1 ? "" : "s");
}

static void
summary_versions(const struct check_report *r, char *t, size_t n)
{
    size_t len = (size_t)snprintf(t, n, "accepted:");
    bool any = false;

    for (int v = 0; v < CHECK_VERSIONS && len < n; v++) {
        if (r->versions[v].result != CHECK_V_ACCEPTED)
            continue;
        len += (size_t)snprintf(t + len, n - len, "%s %s", any ? "," : "",
                                check_version_name((enum check_version)v));
        any = true;
    }
    if (!any)
        snprintf(t, n, "no version accepted");
    for (int v = 0; v < CHECK_VERSIONS && !any; v++)
        if (r->versions[v].result == CHECK_V_ERROR)
            snprintf(t, n, "no version accepted by a handshake that "
                     "completed");
}

static void
summary_session(const struct check_report *r, char *t, size_t n)
{
    snprintf(t, n, "%s, %s (%s, %s)", r->version, r->session.name,
             r->session.forward_secret ? "forward secret"
                                       : "no forward secrecy",
             r->session.aead ? "AEAD" : "not AEAD");
}

static void
summary_ciphers(const struct check_report *r, char *t, size_t n)
{
    size_t total = 0;

    for (int v = 0; v < CHECK_VERSIONS; v++)
        if (r->versions[v].result == CHECK_V_ACCEPTED)
            total += r->versions[v].n_ciphers;
    snprintf(t, n, "%zu suite%s accepted, none weak", total,
             total == 1 ? "" : "s");
}

static void
summary_certificate(const struct check_report *r, char *t, size_t n)
{
    long days = r->n_chain ? r->chain[0].info.days_left : 0;

    if (r->matched_name[0] != '\0')
        snprintf(t, n, "verified, names %.255s, %ld days left", r->matched_name,
                 days);
    else
        snprintf(t, n, "verified (no name to match), %ld days left", days);
}

static void
summary_ehlo_tls(const struct check_report *r, char *t, size_t n)
{
    size_t k = r->ehlo_tls.n_lines;

    if (r->ehlo_tls.auth)
        snprintf(t, n, "%zu extension%s, AUTH %.200s", k, k == 1 ? "" : "s",
                 r->ehlo_tls.auth_mechs);
    else
        snprintf(t, n, "%zu extension%s, no AUTH", k, k == 1 ? "" : "s");
}

static void
summary_weaknesses(const struct check_report *r, char *t, size_t n)
{
    (void)r;
    snprintf(t, n, "none found");
}

static void
summary_summary(const struct check_report *r, char *t, size_t n)
{
    size_t warn = 0, fail = 0;

    for (size_t i = 0; i < r->n_problems; i++) {
        warn += r->problems[i].level == CHECK_WARN;
        fail += r->problems[i].level == CHECK_FAIL;
    }
    if (check_graded(r))
        snprintf(t, n, "grade %s, %zu failure%s, %zu warning%s", r->grade, fail,
                 fail == 1 ? "" : "s", warn, warn == 1 ? "" : "s");
    else
        snprintf(t, n, "not graded, %zu failure%s, %zu warning%s", fail,
                 fail == 1 ? "" : "s", warn, warn == 1 ? "" : "s");
}

static const struct {
    verdict_untested_fn *untested;
    verdict_summary_fn *summary;
} VERDICTS[CHECK_SECTIONS] = {
    [CHECK_SEC_BANNER] = {untested_never, summary_banner},
    [CHECK_SEC_EHLO] = {untested_ehlo, summary_ehlo},
    [CHECK_SEC_VERSIONS] = {untested_versions, summary_versions},
    [CHECK_SEC_SESSION] = {untested_session, summary_session},
    [CHECK_SEC_CIPHERS] = {untested_tls, summary_ciphers},
    [CHECK_SEC_CERTIFICATE] = {untested_tls, summary_certificate},
    [CHECK_SEC_EHLO_TLS] = {untested_tls, summary_ehlo_tls},
    [CHECK_SEC_WEAKNESSES] = {untested_tls, summary_weaknesses},
    [CHECK_SEC_SUMMARY] = {untested_never, summary_summary},
};

/* The worst problem of section s into v; returns how many problems at
 * warning level or above the section has. */
static size_t
verdict_worst(const struct check_report *r, enum check_section s,
              struct check_verdict *v, const struct check_problem **worst)
{
    const char *key = check_section_key(s);
    size_t count = 0;

    *worst = NULL;
    for (size_t i = 0; i < r->n_problems; i++) {
        const struct check_problem *p = &r->problems[i];
        if (s != CHECK_SEC_SUMMARY && strcmp(p->section, key) != 0)
            continue;
        count += p->level >= CHECK_WARN;
        if (*worst == NULL || p->level > (*worst)->level)
            *worst = p;
    }
    v->level = *worst ? (*worst)->level : CHECK_OK;
    return count;
}

void
check_section_verdict(const struct check_report *r, enum check_section s,
                      struct check_verdict *v)
{
    const struct check_problem *worst;
    size_t count = verdict_worst(r, s, v, &worst);
    const char *why = s < CHECK_SECTIONS ? VERDICTS[s].untested(r) : NULL;

    v->tested = why == NULL || count > 0;
    if (s == CHECK_SEC_SUMMARY) {
        VERDICTS[s].summary(r, v->text, sizeof(v->text));
        if (v->level < CHECK_WARN)
            v->level = CHECK_OK;
        return;
    }
    if (count > 0) {
        snprintf(v->text, sizeof(v->text), "%.400s", worst->text);
        if (count > 1)
            snprintf(v->text + strlen(v->text),
                     sizeof(v->text) - strlen(v->text), " (and %zu more)",
                     count - 1);
    } else if (why != NULL) {
        v->level = CHECK_OK;
        snprintf(v->text, sizeof(v->text), "%s", why);
    } else {
        v->level = CHECK_OK;
        VERDICTS[s].summary(r, v->text, sizeof(v->text));
    }
}
