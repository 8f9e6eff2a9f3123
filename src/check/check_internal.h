/*
 * check_internal.h -- what the parts of `tlsmta check` share beyond
 * check.h: the names of versions, modes and sections (check_names.c), the
 * per-section verdicts both printers show (check_grade.c), and the JSON
 * pieces the --domain printer reuses (check_output.c / check_json.c).
 *
 * Trust boundary: the report holds server bytes; every printer here
 * escapes them (text: printable ASCII; JSON: RFC 8259 escapes).
 */
#ifndef TLSMTA_CHECK_INTERNAL_H
#define TLSMTA_CHECK_INTERNAL_H

#include <stdio.h>

#include "check/check.h"

/* The sections of the report, in the order of the issue. */
enum check_section {
    CHECK_SEC_BANNER,
    CHECK_SEC_EHLO,
    CHECK_SEC_VERSIONS,
    CHECK_SEC_SESSION,
    CHECK_SEC_CIPHERS,
    CHECK_SEC_CERTIFICATE,
    CHECK_SEC_EHLO_TLS,
    CHECK_SEC_WEAKNESSES,
    CHECK_SEC_SUMMARY,
    CHECK_SECTIONS
};

/* "banner", "ehlo", ... as in check_problem.section and the JSON keys. */
const char *check_section_key(enum check_section s);

/* "Connection and banner", ... as the text report titles them. */
const char *check_section_title(enum check_section s);

/* "SSLv3", "TLSv1.0", ..., "TLSv1.3" (the JSON map keys). */
const char *check_version_name(enum check_version v);

/* "not_tested", "accepted", "refused", "error" (JSON values). */
const char *check_version_result_name(enum check_version_result res);

/* "starttls", "implicit", "plain" (after check_mode_resolve). */
const char *check_mode_name(enum check_mode m);

/* opt->mode with CHECK_MODE_AUTO resolved by the port: implicit TLS on
 * 465 (RFC 8314 3.3), STARTTLS elsewhere. */
enum check_mode check_mode_resolve(const struct check_options *opt);

/* The key exchange actually used: the suite's ("ECDHE", "DHE", "RSA"),
 * or for TLS 1.3 suites (kx "any") the family of the negotiated group
 * ("ECDHE" for X25519 or P-256, "DHE" for ffdhe2048). */
const char *check_session_kx(const struct check_report *r);

/* The authentication actually used: the suite's ("RSA", "ECDSA"), or for
 * TLS 1.3 suites (auth "any") the leaf key's ("ECDSA" for an EC key). */
const char *check_session_auth(const struct check_report *r);

/* The server key size in bits: server_key_bits, else the leaf's; 0 when
 * unknown. */
int check_session_key_bits(const struct check_report *r);

/* "ok", "note", "warning", "failure" (JSON); "OK", "NOTE", "WARN", "FAIL"
 * (text). */
const char *check_level_key(enum check_level l);
const char *check_level_word(enum check_level l);

/* One section's verdict: the worst problem in it (its text, plus how many
 * more), else "not tested" with the reason, else OK with a short summary
 * of what was found. Computed from a graded report (check_grade()). */
struct check_verdict {
    enum check_level level;    /* CHECK_OK when tested and clean */
    bool tested;               /* false: text says why not */
    char text[CHECK_TEXT_MAX]; /* one line, from server bytes: escape
                                  before printing */
};
void check_section_verdict(const struct check_report *r, enum check_section s,
                           struct check_verdict *v);

/* True when the report has a grade ("A+".."F"); false for "-" (not
 * reached, or --plain). */
bool check_graded(const struct check_report *r);

/* Write s as a JSON string (quotes included), RFC 8259 7: '"', '\\' and
 * control characters escaped, valid UTF-8 written as \uXXXX (surrogate
 * pairs above U+FFFF) so the output is ASCII, and every byte that is not
 * part of valid UTF-8 (0xff, overlong forms, surrogates) as \ufffd.
 * NULL is written as null. */
void check_json_string(FILE *fp, const char *s);

/* Write the report r as one JSON object (no trailing newline), each line
 * after the first indented by indent spaces; check_print_json() and the
 * --domain document use it. */
void check_json_report(const struct check_report *r, FILE *fp, int indent);

/* Check the local files of opt before any connection: --ca-file holds
 * certificates, --client-cert and --client-key load and the key matches
 * the certificate. Returns 0, or -1 with the problem (naming the file and
 * OpenSSL's reason) in err: a usage error, not the server's fault. */
int check_tls_preflight(const struct check_options *opt, char *err,
                        size_t errlen);

/* Write s to fp for people: printable ASCII as is, every other byte as
 * \xNN, so no server byte can reach the terminal as a control sequence. */
void check_text_safe(FILE *fp, const char *s);

#endif
