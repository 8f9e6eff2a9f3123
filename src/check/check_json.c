/*
 * check_json.c -- the `tlsmta check --json` document (RFC 8259), schema
 * "tlsmta-check/1" as written in docs/check-json.md: the same content as
 * the text report, machine-readable. Keep the two in step: a field is
 * added, never renamed or removed, within a schema version.
 *
 * Trust boundary: every string may hold server bytes (banner, EHLO lines,
 * certificate names, error texts): check_json_string() escapes quotes,
 * backslashes and control characters, writes valid UTF-8 as \u escapes
 * and replaces invalid bytes with U+FFFD, so the document is always
 * valid, ASCII-only JSON.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check/check_internal.h"

#define JSON_DEPTH_MAX 16
#define JSON_SCHEMA "tlsmta-check/1"

/* ---- strings ---- */

/* Decode one UTF-8 sequence at p (RFC 3629 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns its length and sets *cp,
 * or 0 when the bytes are not valid UTF-8. */
static size_t
json_utf8_decode(const unsigned char *p, uint32_t *cp)
{
    static const struct {
        unsigned char lead_mask, lead_bits; /* first byte pattern */
        uint32_t min;                       /* smallest code point */
    } FORMS[] = {
        {0xe0, 0xc0, 0x80},
        {0xf0, 0xe0, 0x800},
        {0xf8, 0xf0, 0x10000},
    };

    for (size_t f = 0; f < sizeof(FORMS) / sizeof(FORMS[0]); f++) {
        if ((p[0] & FORMS[f].lead_mask) != FORMS[f].lead_bits)
            continue;
        uint32_t c = p[0] & (uint32_t)(~FORMS[f].lead_mask & 0xff);
        for (size_t i = 1; i <= f + 1; i++) {
            if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
                return 0;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < FORMS[f].min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        *cp = c;
        return f + 2;
    }
    return 0;
}

static void
json_codepoint(FILE *fp, uint32_t c)
{
    if (c >= 0x10000) { /* RFC 8259 7: a UTF-16 surrogate pair */
        c -= 0x10000;
        fprintf(fp, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else {
        fprintf(fp, "\\u%04x", c);
    }
}

void
check_json_string(FILE *fp, const char *s)
{
    if (s == NULL) {
        fputs("null", fp);
        return;
    }
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c;
        size_t len;
        if (*p == '"' || *p == '\\') {
            fprintf(fp, "\\%c", *p++);
        } else if (*p >= 0x20 && *p < 0x7f) {
            fputc(*p++, fp);
        } else if (*p < 0x80) {
            json_codepoint(fp, *p++); /* control characters and DEL */
        } else if ((len = json_utf8_decode(p, &c)) > 0) {
            json_codepoint(fp, c);
            p += len;
        } else {
            json_codepoint(fp, 0xfffd); /* one invalid byte */
            p++;
        }
    }
    fputc('"', fp);
}

/* ---- a small writer that tracks commas and indentation ---- */

struct json {
    FILE *fp;
    int indent; /* of the outermost level */
    int depth;
    bool first[JSON_DEPTH_MAX]; /* nothing written yet at this depth */
};

/* Start a member ("key": ) or an array element (key NULL). */
static void
json_key(struct json *j, const char *key)
{
    if (j->depth > 0) {
        fputs(j->first[j->depth] ? "\n" : ",\n", j->fp);
        j->first[j->depth] = false;
        fprintf(j->fp, "%*s", j->indent + 2 * j->depth, "");
    }
    if (key != NULL)
        fprintf(j->fp, "\"%s\": ", key);
}

static void
json_open(struct json *j, const char *key, char bracket)
{
    json_key(j, key);
    fputc(bracket, j->fp);
    if (j->depth + 1 < JSON_DEPTH_MAX)
        j->depth++;
    j->first[j->depth] = true;
}

static void
json_close(struct json *j, char bracket)
{
    bool empty = j->first[j->depth];

    j->depth--;
    if (!empty)
        fprintf(j->fp, "\n%*s", j->indent + 2 * j->depth, "");
    fputc(bracket, j->fp);
}

static void
json_str(struct json *j, const char *key, const char *value)
{
    json_key(j, key);
    check_json_string(j->fp, value);
}

/* A string member that is null when empty. */
static void
json_str_or_null(struct json *j, const char *key, const char *value)
{
    json_str(j, key, value != NULL && value[0] ? value : NULL);
}

static void
json_int(struct json *j, const char *key, long value)
{
    json_key(j, key);
    fprintf(j->fp, "%ld", value);
}

/* An integer member that is null when zero (unknown). */
static void
json_int_or_null(struct json *j, const char *key, long value)
{
    json_key(j, key);
    if (value != 0)
        fprintf(j->fp, "%ld", value);
    else
        fputs("null", j->fp);
}

static void
json_bool(struct json *j, const char *key, bool value)
{
    json_key(j, key);
    fputs(value ? "true" : "false", j->fp);
}

static void
json_null(struct json *j, const char *key)
{
    json_key(j, key);
    fputs("null", j->fp);
}

/* ---- parts of the report ---- */

static void
json_target(struct json *j, const struct check_options *o)
{
    json_open(j, "target", '{');
    json_str(j, "host", o->host);
    json_int(j, "port", o->port);
    json_str(j, "mode", check_mode_name(check_mode_resolve(o)));
    json_str_or_null(j, "servername", o->servername);
    json_str_or_null(j, "helo", o->helo_name);
    json_str_or_null(j, "ca_file", o->ca_file);
    json_str_or_null(j, "client_cert", o->client_cert);
    json_int(j, "timeout", o->timeout);
    json_close(j, '}');
}

static void
json_banner(struct json *j, const struct check_report *r)
{
    json_open(j, "banner", '{');
    json_bool(j, "connected", r->connected);
    json_str_or_null(j, "address", r->address);
    json_str_or_null(j, "error", r->connected ? r->banner_error
                                              : r->connect_error);
    json_int_or_null(j, "code", r->banner_code);
    json_str(j, "text", r->banner);
    json_key(j, "seconds");
    if (r->connected && isfinite(r->banner_seconds))
        fprintf(j->fp, "%.3f", r->banner_seconds);
    else
        fputs("null", j->fp);
    json_close(j, '}');
}

/* text split at each sep as an array of its non-empty parts: "PLAIN
 * LOGIN" with " ", "DNS:a, IP Address:192.0.2.1" with ", ". */
static void
json_words(struct json *j, const char *key, const char *text, const char *sep)
{
    char word[TLS_SAN_MAX];

    json_open(j, key, '[');
    while (text != NULL && *text) {
        const char *end = strstr(text, sep);
        size_t len = end ? (size_t)(end - text) : strlen(text);
        if (len > 0) {
            snprintf(word, sizeof(word), "%.*s", (int)len, text);
            json_str(j, NULL, word);
        }
        text += len + (end ? strlen(sep) : 0);
    }
    json_close(j, ']');
}

static void
json_ehlo(struct json *j, const char *key, const struct check_ehlo *e,
          bool present)
{
    if (!present) {
        json_null(j, key);
        return;
    }
    json_open(j, key, '{');
    json_bool(j, "done", e->done);
    json_int_or_null(j, "code", e->code);
    json_open(j, "extensions", '[');
    for (size_t i = 0; i < e->n_lines && i < CHECK_EHLO_MAX; i++)
        json_str(j, NULL, e->lines[i]);
    json_close(j, ']');
    json_bool(j, "starttls", e->starttls);
    json_bool(j, "auth", e->auth);
    json_words(j, "auth_mechanisms", e->auth_mechs, " ");
    json_str_or_null(j, "error", e->error);
    json_close(j, '}');
}

static void
json_versions(struct json *j, const struct check_report *r)
{
    json_open(j, "versions", '{');
    for (int v = 0; v < CHECK_VERSIONS; v++)
        json_str(j, check_version_name((enum check_version)v),
                 check_version_result_name(r->versions[v].result));
    json_close(j, '}');
    json_open(j, "version_details", '{');
    for (int v = 0; v < CHECK_VERSIONS; v++)
        json_str_or_null(j, check_version_name((enum check_version)v),
                         r->versions[v].detail);
    json_close(j, '}');
}

static void
json_suite(struct json *j, const char *key, const struct tls_cipher_info *c)
{
    char id[8];

    snprintf(id, sizeof(id), "0x%04X", c->id & 0xffff);
    json_open(j, key, '{');
    json_str(j, "name", c->name);
    json_str(j, "iana", c->iana);
    json_str(j, "id", id);
    json_str(j, "version", c->version);
    json_str(j, "key_exchange", c->kx);
    json_str(j, "authentication", c->auth);
    json_str(j, "encryption", c->enc);
    json_int(j, "encryption_bits", c->enc_bits);
    json_str(j, "mac", c->mac);
    json_str(j, "hash", c->hash);
    json_bool(j, "forward_secrecy", c->forward_secret);
    json_bool(j, "aead", c->aead);
    json_bool(j, "weak", c->weak);
    json_str_or_null(j, "weak_reason", c->weak_reason);
    json_close(j, '}');
}

static void
json_session(struct json *j, const struct check_report *r)
{
    if (!r->tls_ok) {
        json_null(j, "session");
        return;
    }
    json_open(j, "session", '{');
    json_str(j, "protocol", r->version);
    json_suite(j, "suite", &r->session);
    json_str(j, "key_exchange", check_session_kx(r));
    json_str_or_null(j, "group", r->group);
    json_str(j, "authentication", check_session_auth(r));
    json_int_or_null(j, "key_bits", check_session_key_bits(r));
    json_str(j, "encryption", r->session.enc);
    json_int(j, "encryption_bits", r->session.enc_bits);
    json_str(j, "mac", r->session.mac);
    json_str(j, "hash", r->session.hash);
    json_bool(j, "forward_secrecy", r->session.forward_secret);
    json_bool(j, "aead", r->session.aead);
    json_bool(j, "ocsp_stapled", r->ocsp_stapled);
    json_str_or_null(j, "ocsp_status", r->ocsp_status);
    if (r->resumption_error[0])
        json_null(j, "resumption");
    else
        json_bool(j, "resumption", r->resumption);
    json_str_or_null(j, "resumption_error", r->resumption_error);
    json_close(j, '}');
}

static void
json_ciphers(struct json *j, const struct check_report *r)
{
    json_open(j, "ciphers", '{');
    for (int v = 0; v < CHECK_VERSIONS; v++) {
        const struct check_version_probe *p = &r->versions[v];
        if (p->result != CHECK_V_ACCEPTED)
            continue;
        json_open(j, check_version_name((enum check_version)v), '[');
        for (size_t i = 0; i < p->n_ciphers && i < CHECK_CIPHERS_MAX; i++)
            json_suite(j, NULL, &p->ciphers[i]);
        json_close(j, ']');
    }
    json_close(j, '}');
}

static void
json_cert(struct json *j, const struct check_cert *cc, bool pem)
{
    const struct tls_cert_info *c = &cc->info;

    json_open(j, NULL, '{');
    json_str(j, "subject", c->subject);
    json_words(j, "san", c->san, ", ");
    json_str(j, "issuer", c->issuer);
    json_str(j, "key_type", c->key_type);
    json_int(j, "key_bits", c->key_bits);
    json_str_or_null(j, "curve", c->curve);
    json_str(j, "signature_algorithm", c->sig_alg);
    json_str(j, "not_before", c->not_before);
    json_str(j, "not_after", c->not_after);
    json_int(j, "days_left", c->days_left);
    json_str(j, "serial", c->serial);
    json_str(j, "sha256", c->sha256);
    json_bool(j, "self_signed", c->self_signed);
    json_str(j, "pem", pem ? cc->pem : NULL);
    json_close(j, '}');
}

static void
json_chain(struct json *j, const struct check_report *r)
{
    json_open(j, "certificates", '[');
    for (size_t i = 0; i < r->n_chain && i < CHECK_CHAIN_MAX; i++)
        json_cert(j, &r->chain[i], r->opt.show_certs);
    json_close(j, ']');
    json_int(j, "chain_length", (long)(r->chain_length > r->n_chain
                                           ? r->chain_length
                                           : r->n_chain));
    if (!r->tls_ok) {
        json_null(j, "chain");
        return;
    }
    json_open(j, "chain", '{');
    json_bool(j, "verified", r->chain_verified);
    json_str_or_null(j, "verify_error", r->verify_error);
    json_str(j, "trust_anchors", r->opt.ca_file ? r->opt.ca_file : "system");
    json_str_or_null(j, "name_checked", r->matched_name);
    json_key(j, "name_matched");
    fputs(r->matched_name[0] ? (r->name_matched ? "true" : "false") : "null",
          j->fp);
    json_close(j, '}');
}

static void
json_weaknesses(struct json *j, const struct check_report *r)
{
    static const char *const INJECTION[] = {
        [CHECK_OK] = "not_vulnerable",
        [CHECK_INFO] = "not_tested",
        [CHECK_WARN] = "inconclusive",
        [CHECK_FAIL] = "vulnerable",
    };
    static const char *const RENEGOTIATION[] = {
        [CHECK_OK] = "refused",
        [CHECK_INFO] = "not_tested",
        [CHECK_WARN] = "accepted",
        [CHECK_FAIL] = "accepted",
    };
    enum check_level inj = r->starttls_injection, ren = r->renegotiation;

    json_open(j, "weaknesses", '{');
    json_str(j, "starttls_injection",
             INJECTION[inj <= CHECK_FAIL ? inj : CHECK_FAIL]);
    json_str_or_null(j, "starttls_injection_detail",
                     r->starttls_injection_detail);
    json_str(j, "renegotiation",
             RENEGOTIATION[ren <= CHECK_FAIL ? ren : CHECK_FAIL]);
    json_str_or_null(j, "renegotiation_detail", r->renegotiation_detail);
    if (r->tls_ok && (r->compression || r->compression_detail[0] == '\0'))
        json_bool(j, "compression", r->compression);
    else
        json_null(j, "compression");
    json_str_or_null(j, "compression_detail", r->compression_detail);
    json_close(j, '}');
}

static void
json_verdicts(struct json *j, const struct check_report *r)
{
    struct check_verdict v;

    json_open(j, "verdicts", '{');
    for (int s = 0; s < CHECK_SECTIONS; s++) {
        check_section_verdict(r, (enum check_section)s, &v);
        json_open(j, check_section_key((enum check_section)s), '{');
        json_str(j, "level",
                 v.tested ? check_level_key(v.level) : "not_tested");
        json_str(j, "text", v.text);
        json_close(j, '}');
    }
    json_close(j, '}');
}

static void
json_problems(struct json *j, const struct check_report *r)
{
    json_open(j, "problems", '[');
    for (size_t i = 0; i < r->n_problems && i < CHECK_PROBLEMS_MAX; i++) {
        json_open(j, NULL, '{');
        json_str(j, "level", check_level_key(r->problems[i].level));
        json_str(j, "section", r->problems[i].section);
        json_str(j, "text", r->problems[i].text);
        json_close(j, '}');
    }
    json_close(j, ']');
}

void
check_json_report(const struct check_report *r, FILE *fp, int indent)
{
    struct json j = {.fp = fp, .indent = indent};
    enum check_mode m = check_mode_resolve(&r->opt);

    json_open(&j, NULL, '{');
    json_str(&j, "schema", JSON_SCHEMA);
    json_target(&j, &r->opt);
    json_banner(&j, r);
    json_ehlo(&j, "ehlo", &r->ehlo_plain,
              r->connected && m != CHECK_MODE_IMPLICIT);
    json_versions(&j, r);
    json_session(&j, r);
    json_str_or_null(&j, "tls_error", r->tls_error);
    json_ciphers(&j, r);
    json_int(&j, "probe_errors", (long)r->probe_errors);
    json_str_or_null(&j, "probe_error", r->probe_error);
    json_chain(&j, r);
    json_ehlo(&j, "ehlo_tls", &r->ehlo_tls, r->tls_ok);
    json_weaknesses(&j, r);
    json_verdicts(&j, r);
    json_problems(&j, r);
    json_str(&j, "grade", check_graded(r) ? r->grade : NULL);
    json_int(&j, "exit_status", r->exit_status);
    json_close(&j, '}');
}

void
check_print_json(const struct check_report *r, FILE *fp)
{
    check_json_report(r, fp, 0);
    fputc('\n', fp);
}
