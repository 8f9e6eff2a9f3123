/*
 * check_output.c -- the text report of `tlsmta check`: the nine sections
 * in the order of issue 5, each headed by its one-line verdict
 * (check_verdict.c), the cipher suite in plain words, the certificates as
 * `openssl x509 -text` would summarise them, and with --show-certs the PEM
 * chain. The JSON document is check_json.c.
 *
 * Trust boundary: banner, EHLO lines, certificate names and every error
 * text come from the probed server or from OpenSSL's view of it; all of
 * it goes through check_text_safe(), so no byte of it reaches a terminal
 * as a control sequence.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check/check_internal.h"

#define OUT_LABEL_WIDTH 20 /* "STARTTLS injection  " */
#define OUT_LINE_MAX 2048

void
check_text_safe(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            fputc(*p, fp);
        else
            fprintf(fp, "\\x%02x", *p);
    }
}

/* One "   label            value" line; the value is escaped. An empty
 * label continues the field above; NULL writes a line without a label
 * column. */
static void __attribute__((format(printf, 4, 5)))
out_field(FILE *fp, int indent, const char *label, const char *fmt, ...)
{
    char value[OUT_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    fprintf(fp, "%*s%-*s", indent, "", label ? OUT_LABEL_WIDTH : 0,
            label ? label : "");
    check_text_safe(fp, value);
    fputc('\n', fp);
}

/* Multi-line text (PEM), each line escaped. */
static void
out_lines(FILE *fp, int indent, const char *text)
{
    char line[OUT_LINE_MAX];

    while (text != NULL && *text) {
        size_t len = strcspn(text, "\n");
        snprintf(line, sizeof(line), "%.*s", (int)len, text);
        fprintf(fp, "%*s", indent, "");
        check_text_safe(fp, line);
        fputc('\n', fp);
        text += len + (text[len] == '\n');
    }
}

static const char *
yes_no(bool b)
{
    return b ? "yes" : "no";
}

/* ---- sections ---- */

static void
out_banner(const struct check_report *r, FILE *fp)
{
    if (!r->connected) {
        out_field(fp, 3, "error", "%s", r->connect_error);
        return;
    }
    out_field(fp, 3, "connected to", "%s", r->address);
    if (r->banner_code != 0)
        out_field(fp, 3, "greeting", "%d %s", r->banner_code, r->banner);
    else if (r->banner_error[0])
        out_field(fp, 3, "greeting", "none valid: %s", r->banner_error);
    else
        out_field(fp, 3, "greeting", "none");
    out_field(fp, 3, "time to greeting", "%.3f s", r->banner_seconds);
}

static void
out_ehlo(const struct check_ehlo *e, FILE *fp, bool after_tls)
{
    if (!e->done && e->code != 0)
        out_field(fp, 3, "EHLO answered", "%d", e->code);
    else if (!e->done && e->error[0])
        out_field(fp, 3, "EHLO answered", "no valid reply: %s", e->error);
    for (size_t i = 0; i < e->n_lines && i < CHECK_EHLO_MAX; i++)
        out_field(fp, 3, i == 0 ? "extensions" : "", "%s", e->lines[i]);
    if (!e->done)
        return;
    if (e->n_lines == 0)
        out_field(fp, 3, "extensions", "none");
    if (!after_tls)
        out_field(fp, 3, "STARTTLS offered", "%s", yes_no(e->starttls));
    out_field(fp, 3, after_tls ? "AUTH mechanisms" : "AUTH before TLS", "%s",
              e->auth     ? e->auth_mechs
              : after_tls ? "none"
                          : "no");
}

static void
out_versions(const struct check_report *r, FILE *fp)
{
    static const char *const WORDS[] = {
        [CHECK_V_NOT_TESTED] = "not tested",
        [CHECK_V_ACCEPTED] = "accepted",
        [CHECK_V_REFUSED] = "refused",
        [CHECK_V_ERROR] = "error",
    };

    for (int v = 0; v < CHECK_VERSIONS; v++) {
        const struct check_version_probe *p = &r->versions[v];
        enum check_version_result res =
            p->result <= CHECK_V_ERROR ? p->result : CHECK_V_ERROR;
        out_field(fp, 3, check_version_name((enum check_version)v), "%s%s%s",
                  WORDS[res], p->detail[0] ? ": " : "", p->detail);
    }
}

/* The suite in one sentence, the way an expert would read it aloud. */
static void
out_session_words(const struct check_report *r, FILE *fp)
{
    const struct tls_cipher_info *s = &r->session;
    int bits = check_session_key_bits(r);
    char auth[64] = "";

    if (bits > 0)
        snprintf(auth, sizeof(auth), "a %d-bit ", bits);
    out_field(fp, 3, "in words",
              "keys are agreed with %s%s%s%s; the server proves who it is "
              "with %s%s key; data is encrypted with %s (%d-bit key)%s",
              check_session_kx(r), r->group[0] ? " over " : "", r->group,
              s->forward_secret
                  ? ", ephemeral, so recorded traffic stays secret even if "
                    "the server key leaks later"
                  : ", not ephemeral: whoever gets the server key later can "
                    "decrypt recorded traffic",
              auth[0] ? auth : "an ", check_session_auth(r), s->enc,
              s->enc_bits,
              s->aead ? ", which also detects tampering (AEAD)"
                      : "; tampering is detected by a separate MAC");
}

static void
out_session(const struct check_report *r, FILE *fp)
{
    const struct tls_cipher_info *s = &r->session;
    int bits = check_session_key_bits(r);

    if (!r->tls_ok) {
        if (r->tls_error[0])
            out_field(fp, 3, "error", "%s", r->tls_error);
        return;
    }
    out_field(fp, 3, "protocol", "%s", r->version);
    out_field(fp, 3, "cipher suite", "%s (IANA %s, 0x%04X)", s->name, s->iana,
              s->id);
    out_field(fp, 3, "key exchange", "%s%s%s", check_session_kx(r),
              r->group[0] ? ", group " : "", r->group);
    if (bits > 0)
        out_field(fp, 3, "authentication", "%s, %d-bit key",
                  check_session_auth(r), bits);
    else
        out_field(fp, 3, "authentication", "%s", check_session_auth(r));
    out_field(fp, 3, "encryption", "%s, %d-bit key", s->enc, s->enc_bits);
    out_field(fp, 3, "MAC / hash", "%s%s%s%s", s->mac,
              s->hash[0] ? " (handshake hash " : "", s->hash,
              s->hash[0] ? ")" : "");
    out_field(fp, 3, "forward secrecy", "%s", yes_no(s->forward_secret));
    out_field(fp, 3, "OCSP stapling", "%s%s%s", yes_no(r->ocsp_stapled),
              r->ocsp_status[0] ? ", status " : "", r->ocsp_status);
    if (r->resumption_error[0])
        out_field(fp, 3, "resumption", "unknown: %s", r->resumption_error);
    else
        out_field(fp, 3, "resumption", "%s", yes_no(r->resumption));
    out_session_words(r, fp);
}

/* "  [no forward secrecy]  [not AEAD]  [weak: RC4 is broken]" */
static void
out_cipher_flags(const struct tls_cipher_info *c, char *t, size_t n)
{
    snprintf(t, n, "%s%s%s%s%s",
             c->forward_secret ? ""
                               : "  [no forward "
                                 "secrecy]",
             c->aead ? "" : "  [not AEAD]", c->weak ? "  [weak: " : "",
             c->weak ? (c->weak_reason[0] ? c->weak_reason : "weak") : "",
             c->weak ? "]" : "");
}

static void
out_ciphers(const struct check_report *r, FILE *fp)
{
    char flags[CHECK_TEXT_MAX];

    for (int v = 0; v < CHECK_VERSIONS; v++) {
        const struct check_version_probe *p = &r->versions[v];
        if (p->result != CHECK_V_ACCEPTED)
            continue;
        out_field(fp, 3, NULL, "%s (%zu suite%s)",
                  check_version_name((enum check_version)v), p->n_ciphers,
                  p->n_ciphers == 1 ? "" : "s");
        for (size_t i = 0; i < p->n_ciphers && i < CHECK_CIPHERS_MAX; i++) {
            const struct tls_cipher_info *c = &p->ciphers[i];
            out_cipher_flags(c, flags, sizeof(flags));
            out_field(fp, 5, NULL, "%-31s %s/%s %s %s%s", c->name, c->kx,
                      c->auth, c->enc, c->mac, flags);
        }
    }
}

static void
out_cert(const struct check_cert *cc, size_t i, FILE *fp, bool pem)
{
    const struct tls_cert_info *c = &cc->info;

    out_field(fp, 3, NULL, "certificate %zu%s", i, i == 0 ? " (server)" : "");
    out_field(fp, 5, "subject", "%s", c->subject);
    if (c->san[0])
        out_field(fp, 5, "alt names", "%s", c->san);
    out_field(fp, 5, "issuer", "%s%s", c->issuer,
              c->self_signed ? " (self-signed)" : "");
    out_field(fp, 5, "key", "%s %d bits%s%s%s", c->key_type, c->key_bits,
              c->curve[0] ? " (" : "", c->curve, c->curve[0] ? ")" : "");
    out_field(fp, 5, "signature", "%s", c->sig_alg);
    out_field(fp, 5, "valid", "%s to %s (%ld days %s)", c->not_before,
              c->not_after, c->days_left < 0 ? -c->days_left : c->days_left,
              c->days_left < 0 ? "ago: EXPIRED" : "left");
    out_field(fp, 5, "serial", "%s", c->serial);
    out_field(fp, 5, "SHA-256", "%s", c->sha256);
    /* Unindented: `openssl x509` reads it from a pipe as it is. */
    if (pem && cc->pem != NULL)
        out_lines(fp, 0, cc->pem);
}

static void
out_chain(const struct check_report *r, FILE *fp)
{
    for (size_t i = 0; i < r->n_chain && i < CHECK_CHAIN_MAX; i++)
        out_cert(&r->chain[i], i, fp, r->opt.show_certs);
    if (r->chain_length > r->n_chain)
        out_field(fp, 3, NULL, "%zu more certificate%s not shown (the "
                  "server sent %zu)", r->chain_length - r->n_chain,
                  r->chain_length - r->n_chain == 1 ? "" : "s",
                  r->chain_length);
    out_field(fp, 3, "verification", "%s against %s%s",
              r->chain_verified ? "verified" : "failed",
              r->opt.ca_file ? "--ca-file " : "the system trust store",
              r->opt.ca_file ? r->opt.ca_file : "");
    if (!r->chain_verified && r->verify_error[0])
        out_field(fp, 3, "reason", "%s", r->verify_error);
    if (r->matched_name[0])
        out_field(fp, 3, "name", "%s: %s", r->matched_name,
                  r->name_matched ? "matches" : "does NOT match");
    else
        out_field(fp, 3, "name", "not checked (no server name)");
}

/* What a weakness test found: its word by level, then the probe's
 * detail; a test not run shows the detail alone (it says why). */
static void
out_weakness(FILE *fp, const char *label, enum check_level level,
             const char *const words[], const char *detail)
{
    if (level == CHECK_INFO && detail[0])
        out_field(fp, 3, label, "%s", detail);
    else
        out_field(fp, 3, label, "%s%s%s",
                  words[level <= CHECK_FAIL ? level : CHECK_FAIL],
                  detail[0] ? ": " : "", detail);
}

static void
out_weaknesses(const struct check_report *r, FILE *fp)
{
    static const char *const INJECTION[] = {
        [CHECK_OK] = "not vulnerable",
        [CHECK_INFO] = "not tested",
        [CHECK_WARN] = "inconclusive",
        [CHECK_FAIL] = "VULNERABLE",
    };
    static const char *const RENEGOTIATION[] = {
        [CHECK_OK] = "client-initiated refused",
        [CHECK_INFO] = "not tested",
        [CHECK_WARN] = "client-initiated ACCEPTED",
        [CHECK_FAIL] = "client-initiated ACCEPTED",
    };

    out_weakness(fp, "STARTTLS injection", r->starttls_injection, INJECTION,
                 r->starttls_injection_detail);
    out_weakness(fp, "renegotiation", r->renegotiation, RENEGOTIATION,
                 r->renegotiation_detail);
    if (r->compression)
        out_field(fp, 3, "compression", "NEGOTIATED%s%s",
                  r->compression_detail[0] ? ": " : "",
                  r->compression_detail);
    else /* a detail without compression says why it was not tested */
        out_field(fp, 3, "compression", "%s",
                  r->compression_detail[0] ? r->compression_detail : "none");
}

static void
out_summary(const struct check_report *r, FILE *fp)
{
    out_field(fp, 3, "grade", "%s",
              check_graded(r) ? r->grade : "- (not graded)");
    for (size_t i = 0; i < r->n_problems; i++)
        out_field(fp, 3, NULL, "%-4s %s: %s",
                  check_level_word(r->problems[i].level),
                  r->problems[i].section, r->problems[i].text);
    out_field(fp, 3, "exit status", "%d", r->exit_status);
}

/* ---- the report ---- */

static void
out_plain_ehlo(const struct check_report *r, FILE *fp)
{
    out_ehlo(&r->ehlo_plain, fp, false);
}

static void
out_tls_ehlo(const struct check_report *r, FILE *fp)
{
    out_ehlo(&r->ehlo_tls, fp, true);
}

typedef void out_section_fn(const struct check_report *r, FILE *fp);

static out_section_fn *const OUT_SECTIONS[CHECK_SECTIONS] = {
    [CHECK_SEC_BANNER] = out_banner,
    [CHECK_SEC_EHLO] = out_plain_ehlo,
    [CHECK_SEC_VERSIONS] = out_versions,
    [CHECK_SEC_SESSION] = out_session,
    [CHECK_SEC_CIPHERS] = out_ciphers,
    [CHECK_SEC_CERTIFICATE] = out_chain,
    [CHECK_SEC_EHLO_TLS] = out_tls_ehlo,
    [CHECK_SEC_WEAKNESSES] = out_weaknesses,
    [CHECK_SEC_SUMMARY] = out_summary,
};

static void
out_heading(const struct check_report *r, FILE *fp)
{
    const struct check_options *o = &r->opt;

    out_field(fp, 0, NULL, "tlsmta check: %s port %u, %s, server name %s%s%s",
              o->host, o->port, check_mode_name(check_mode_resolve(o)),
              o->servername[0] ? "\"" : "",
              o->servername[0] ? o->servername : "not sent (an address)",
              o->servername[0] ? "\"" : "");
}

void
check_print_text(const struct check_report *r, FILE *fp)
{
    struct check_verdict v;

    out_heading(r, fp);
    for (int s = 0; s < CHECK_SECTIONS; s++) {
        check_section_verdict(r, (enum check_section)s, &v);
        fputc('\n', fp);
        out_field(fp, 0, NULL, "%d. %s -- %s: %s", s + 1,
                  check_section_title((enum check_section)s),
                  v.tested ? check_level_word(v.level) : "NOT TESTED", v.text);
        if (v.tested || s == CHECK_SEC_BANNER)
            OUT_SECTIONS[s](r, fp);
    }
}
