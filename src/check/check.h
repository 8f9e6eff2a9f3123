/*
 * check.h -- `tlsmta check`: test an SMTP server's TLS the way an expert
 * would by hand (telnet + EHLO, openssl s_client -starttls smtp -tls1_x,
 * openssl x509 -text), in one command (issue 5).
 *
 * The probe (check_probe.c, check_tls.c) fills a struct check_report; the
 * report is then judged (check_grade.c: verdicts, problems, grade, exit
 * status) and printed for people or as JSON (check_output.c, schema in
 * docs/check-json.md). The TLS description itself (cipher breakdown,
 * certificate summary) comes from tls/tls_describe.h, shared with the
 * server's and the delivery client's logs.
 *
 * Trust boundary: everything in the report comes from the probed server
 * (untrusted network input): texts are kept bounded, bytes as sent (NUL
 * as '?'); the printers escape them (text \xNN, JSON \uXXXX).
 */
#ifndef TLSMTA_CHECK_H
#define TLSMTA_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tls/tls_describe.h"

#define CHECK_TEXT_MAX 512        /* bytes of one reply line kept */
#define CHECK_EHLO_MAX 64         /* EHLO keywords kept */
#define CHECK_CIPHERS_MAX 128     /* cipher suites kept per version */
#define CHECK_CHAIN_MAX 10        /* certificates kept */
#define CHECK_PROBLEMS_MAX 64

/* How to reach the server. */
enum check_mode {
    CHECK_MODE_AUTO,              /* 465: implicit, else STARTTLS */
    CHECK_MODE_STARTTLS,          /* RFC 3207 */
    CHECK_MODE_IMPLICIT,          /* RFC 8314 */
    CHECK_MODE_PLAIN,             /* no TLS at all: banner and EHLO only */
};

/* Command line options (check_cli.c parses them). */
struct check_options {
    char host[256];               /* name or IP literal (no brackets) */
    unsigned port;                /* default 25 */
    enum check_mode mode;
    char servername[256];         /* SNI and name to match; default host
                                     (none for an IP literal) */
    const char *ca_file;          /* trust anchors; NULL: system store */
    const char *client_cert;      /* PEM, or NULL */
    const char *client_key;
    unsigned timeout;             /* seconds per network step; default 10 */
    bool json;                    /* print JSON instead of text */
    bool show_certs;              /* print the PEM chain too */
    const char *domain;           /* --domain: check each MX host */
    const char *dns_resolver;     /* --dns-resolver IP@port, for --domain */
    const char *helo_name;        /* EHLO argument; default our hostname */
};

/* The severity of one finding. */
enum check_level {
    CHECK_OK,
    CHECK_INFO,
    CHECK_WARN,
    CHECK_FAIL,
};

struct check_problem {
    enum check_level level;       /* CHECK_INFO (a note explaining a grade
                                     below A+; never changes the exit
                                     status), CHECK_WARN or CHECK_FAIL */
    char section[24];             /* "banner", "ehlo", "versions",
                                     "session", "ciphers", "certificate",
                                     "ehlo_tls", "weaknesses" */
    char text[CHECK_TEXT_MAX];    /* one sentence for people */
};

/* An EHLO reply, keyword by keyword (RFC 5321 4.1.1.1). */
struct check_ehlo {
    bool done;                    /* an EHLO was answered 250 */
    int code;                     /* the reply code (0: none) */
    char lines[CHECK_EHLO_MAX][CHECK_TEXT_MAX]; /* keyword lines after the
                                                   first, as sent */
    size_t n_lines;
    bool starttls;                /* STARTTLS advertised */
    bool auth;                    /* AUTH advertised */
    char auth_mechs[CHECK_TEXT_MAX]; /* "PLAIN LOGIN", or "" */
    char error[CHECK_TEXT_MAX];   /* no reply (code 0): why -- malformed
                                     (line too long, bare LF, ...), closed
                                     or timed out; else "" */
};

/* TLS protocol versions probed, in this order. */
enum check_version {
    CHECK_SSL3,
    CHECK_TLS1_0,
    CHECK_TLS1_1,
    CHECK_TLS1_2,
    CHECK_TLS1_3,
    CHECK_VERSIONS
};

enum check_version_result {
    CHECK_V_NOT_TESTED,           /* this OpenSSL cannot offer it */
    CHECK_V_ACCEPTED,
    CHECK_V_REFUSED,
    CHECK_V_ERROR,                /* the connection itself failed */
};

struct check_version_probe {
    enum check_version_result result;
    char detail[CHECK_TEXT_MAX];  /* OpenSSL's reason when refused, or
                                     why not tested */
    struct tls_cipher_info ciphers[CHECK_CIPHERS_MAX]; /* accepted suites,
                                     server's preference order when it has
                                     one */
    size_t n_ciphers;
};

/* One certificate of the chain the server sent, leaf first. */
struct check_cert {
    struct tls_cert_info info;    /* from tls_describe_cert() */
    char *pem;                    /* owned; for --show-certs */
};

struct check_report {
    struct check_options opt;     /* what was asked */
    /* 1. Connection and banner. */
    bool connected;
    char address[64];             /* "192.0.2.1:25" connected to */
    char connect_error[CHECK_TEXT_MAX];
    int banner_code;              /* 220 expected */
    char banner_error[CHECK_TEXT_MAX]; /* no greeting (code 0): why --
                                     malformed, closed, timed out */
    char banner[CHECK_TEXT_MAX];  /* the greeting, lines joined by ' ' */
    double banner_seconds;        /* connect to end of greeting */
    /* 2. EHLO before TLS (STARTTLS and plain modes). */
    struct check_ehlo ehlo_plain;
    /* 3. TLS versions. */
    struct check_version_probe versions[CHECK_VERSIONS];
    /* 4. The session at the best version. */
    bool tls_ok;                  /* a handshake succeeded */
    char tls_error[CHECK_TEXT_MAX]; /* why not */
    struct tls_cipher_info session; /* negotiated suite and its parts */
    char version[16];             /* "TLSv1.3" */
    char group[32];               /* key exchange group, "X25519" */
    int server_key_bits;          /* authentication key size */
    bool ocsp_stapled;            /* the server sent an OCSP response */
    char ocsp_status[32];         /* "good", "revoked", "unknown", "" */
    bool resumption;              /* a second handshake resumed */
    char resumption_error[CHECK_TEXT_MAX]; /* the second connection
                                     broke: resumption unknown */
    /* 6. Certificate chain. */
    struct check_cert chain[CHECK_CHAIN_MAX];
    size_t n_chain;
    size_t chain_length;          /* certificates the server sent; more
                                     than n_chain: the rest not shown */
    bool chain_verified;          /* against ca_file or the system store */
    char verify_error[CHECK_TEXT_MAX]; /* OpenSSL's reason, or "" */
    bool name_matched;            /* leaf names servername */
    char matched_name[256];       /* the name checked */
    /* 7. EHLO after TLS. */
    struct check_ehlo ehlo_tls;
    /* 8. Known weaknesses. */
    enum check_level starttls_injection; /* CHECK_FAIL: vulnerable;
                                            CHECK_WARN: inconclusive;
                                            CHECK_OK: not vulnerable;
                                            CHECK_INFO: not tested */
    char starttls_injection_detail[CHECK_TEXT_MAX];
    enum check_level renegotiation;      /* CHECK_WARN: client-initiated
                                            renegotiation accepted;
                                            CHECK_OK: refused; CHECK_INFO:
                                            not tested (detail says why) */
    char renegotiation_detail[CHECK_TEXT_MAX];
    bool compression;             /* TLS compression negotiated */
    char compression_detail[CHECK_TEXT_MAX]; /* the method, or why it was
                                                not tested */
    /* Probe connections (suites, resumption) that broke before an
     * answer: their results may be incomplete. */
    size_t probe_errors;
    char probe_error[CHECK_TEXT_MAX]; /* the first one's reason */
    /* 9. Summary (check_grade()). */
    struct check_problem problems[CHECK_PROBLEMS_MAX];
    size_t n_problems;
    char grade[4];                /* "A+", "A", "B", "C", "F" */
    int exit_status;              /* 0 ok, 1 warnings, 2 failures,
                                     3 unreachable */
};

/* Run `tlsmta check` with argv (argv[0] is "check"). Returns the exit
 * status (0..3 as in check_report.exit_status, or 64 for a usage error
 * after printing it). */
int check_main(int argc, char **argv);

/* Parse the command line into *opt. Returns 0; 1 after printing --help
 * (the caller exits 0); or -1 after writing the problem to stderr. */
int check_cli_parse(int argc, char **argv, struct check_options *opt);

/* Probe the server of opt, filling *r (sections 1 to 8). Never fails:
 * what could not be done is recorded in the report. Caller frees with
 * check_report_free(). opt->host is resolved with getaddrinfo() (an IP
 * literal as is), but with opt->domain set through the resolver of
 * delivery and opt->dns_resolver, like the MX lookup. Every network step
 * waits at most opt->timeout seconds (0: 10). Ignores SIGPIPE (a server
 * may close while OpenSSL writes). */
void check_probe(const struct check_options *opt, struct check_report *r);

/* --domain: the MX hosts of opt->domain (RFC 5321 5.1), most preferred
 * first (the domain itself when it has no MX records), looked up with the
 * resolver delivery uses (dns/dns.h) through opt->dns_resolver (NULL: the
 * system's), within opt->timeout seconds. An MX target that is an IP
 * address is skipped (RFC 5321 5.1: it must be a host name) and MX
 * records whose target is not a valid host name are dropped; both are
 * said in note (notelen bytes, "" when none). Returns 0 with *hosts
 * (n_hosts names, at least one; free with check_domain_free()), or -1
 * with the reason in err (errlen bytes): no such domain, a null MX (RFC
 * 7505), no host left, a temporary failure or timeout, a bad resolver
 * address, no memory. */
int check_domain_mx(const struct check_options *opt, char ***hosts,
                    size_t *n_hosts, char *note, size_t notelen, char *err,
                    size_t errlen);
void check_domain_free(char **hosts, size_t n_hosts);

/* Judge r: verdicts, the problem list, the grade and exit status
 * (section 9), by the rules in docs/check.md. */
void check_grade(struct check_report *r);

/* Print r for people (text) or as one JSON document (opt.json), to fp. */
void check_print_text(const struct check_report *r, FILE *fp);
void check_print_json(const struct check_report *r, FILE *fp);

/* Release what the report owns (check_probe.c). */
void check_report_free(struct check_report *r);

#endif
