/*
 * test_config.c -- unit tests of src/config: a full file, defaults, each
 * kind of error with its exact "FILE:LINE: message", errors collected,
 * comments, [tls] pairs, the local_recipients file and the lookups, and
 * the issue 3 keys ([auth], listener auth and client_certificates, the
 * sender_login_maps and relay_client_certs files).
 *
 * Each test runs in a fresh temporary directory holding stand-in PEM files
 * (config only checks that they are readable; the TLS module parses them),
 * so file names in messages are short and fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "config/config.h"
#include "util/util_buf.h"

#define CONF "t.conf"

/* The smallest valid file: one plaintext listener. */
#define MINIMAL "[listen mx]\naddress = 127.0.0.1:2525\ntls = none\n"

/* A [tls] section with one readable pair. */
#define TLS_PAIR "[tls]\ncert = rsa.crt\nkey = rsa.key\n"

static void
write_file(const char *name, const char *text)
{
    FILE *fp = fopen(name, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
    char tmpl[] = "/tmp/test_config.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (dir == NULL || chdir(dir) != 0)
        return -1;
    *state = strdup(dir);
    const char *pem[] = {"rsa.crt", "rsa.key", "ec.crt", "ec.key"};
    for (size_t i = 0; i < sizeof(pem) / sizeof(pem[0]); i++)
        write_file(pem[i], "-----BEGIN STAND-IN-----\n");
    return 0;
}

static int
teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
    free(*state);
    return chdir("/") == 0 && system(cmd) == 0 ? 0 : -1;
}

/* Write text to t.conf, load it, return config_load()'s result; the
 * errors it reported are in *errors (caller frees). */
static int
load(const char *text, struct config *cfg, struct buf *errors)
{
    write_file(CONF, text);
    buf_init(errors, 0);
    return config_load(CONF, cfg, errors);
}

/* Load text, expect failure with exactly the expected error lines. */
static void
expect_errors(const char *text, const char *expected)
{
    struct config cfg;
    struct buf errors;
    assert_int_equal(load(text, &cfg, &errors), -1);
    assert_non_null(errors.data);
    assert_string_equal(errors.data, expected);
    buf_free(&errors);
}

/* Load text, expect success and no error output. */
static void
expect_ok(const char *text, struct config *cfg)
{
    struct buf errors;
    int rc = load(text, cfg, &errors);
    if (rc != 0)
        fail_msg("unexpected errors:\n%s", errors.data);
    assert_int_equal(errors.len, 0);
    buf_free(&errors);
}

/* ---- valid files ---- */

static void
test_full_file(void **state)
{
    struct config cfg;
    (void)state;
    write_file("rcpt.txt", "alice@example.org\n");
    expect_ok("hostname = mail.example.org\n"
              "spool = /srv/spool\n"
              "local_domains = Example.ORG, example.net. example.org\n"
              "maildir = /srv/mail/%d/%u/Maildir\n"
              "local_recipients = rcpt.txt\n"
              "message_size_limit = 20M\n"
              "smtpd_timeout = 5m\n"
              "smtpd_tls_timeout = 30s\n"
              "smtpd_recipient_limit = 100\n"
              "smtpd_hard_error_limit = 10\n"
              "smtpd_client_connection_limit = 500\n"
              "smtpd_bare_newline = reject\n"
              "queue_retry_interval = 1h\n"
              "\n" TLS_PAIR "min_version = TLSv1.3\n"
              "ciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
              "ciphersuites = TLS_AES_128_GCM_SHA256\n"
              "[listen mx]\n"
              "address = 0.0.0.0:25\n"
              "[listen submissions]\n"
              "address = [::1]:465\n"
              "tls = implicit\n",
              &cfg);
    assert_string_equal(cfg.path, CONF);
    assert_string_equal(cfg.hostname, "mail.example.org");
    assert_string_equal(cfg.spool, "/srv/spool");
    assert_int_equal(cfg.n_local_domains, 2);
    assert_string_equal(cfg.local_domains[0], "example.org");
    assert_string_equal(cfg.local_domains[1], "example.net");
    assert_string_equal(cfg.maildir, "/srv/mail/%d/%u/Maildir");
    assert_string_equal(cfg.local_recipients, "rcpt.txt");
    assert_int_equal(cfg.n_recipients, 1);
    assert_int_equal(cfg.message_size_limit, 20 * 1024 * 1024);
    assert_int_equal(cfg.smtpd_timeout, 300);
    assert_int_equal(cfg.smtpd_tls_timeout, 30);
    assert_int_equal(cfg.smtpd_recipient_limit, 100);
    assert_int_equal(cfg.smtpd_hard_error_limit, 10);
    assert_int_equal(cfg.smtpd_client_connection_limit, 500);
    assert_int_equal(cfg.smtpd_bare_newline, CONFIG_BARE_NEWLINE_REJECT);
    assert_int_equal(cfg.minimal_backoff_time, 3600);
    assert_int_equal(cfg.n_tls_pairs, 1);
    assert_string_equal(cfg.tls_pairs[0].cert, "rsa.crt");
    assert_string_equal(cfg.tls_pairs[0].key, "rsa.key");
    assert_int_equal(cfg.tls_min_version, 0x0304);
    assert_string_equal(cfg.tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
    assert_string_equal(cfg.tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
    struct config_listen *mx = cfg.listens, *subs = mx->next;
    assert_string_equal(mx->name, "mx");
    assert_string_equal(mx->address, "0.0.0.0:25");
    assert_int_equal(mx->tls, CONFIG_TLS_STARTTLS);
    assert_int_equal(mx->line, 21);
    assert_string_equal(subs->name, "submissions");
    assert_string_equal(subs->address, "[::1]:465");
    assert_int_equal(subs->tls, CONFIG_TLS_IMPLICIT);
    assert_null(subs->next);
    config_free(&cfg);
}

static void
test_defaults(void **state)
{
    struct config cfg;
    char host[HOST_NAME_MAX + 1] = "";
    (void)state;
    gethostname(host, sizeof(host) - 1);
    expect_ok(MINIMAL, &cfg);
    assert_string_equal(cfg.hostname, host);
    assert_string_equal(cfg.spool, "/var/spool/tlsmta");
    assert_int_equal(cfg.n_local_domains, 1); /* the hostname, lower-cased */
    assert_true(config_is_local_domain(&cfg, host));
    assert_string_equal(cfg.maildir, "/var/mail/%d/%u");
    assert_null(cfg.local_recipients);
    assert_int_equal(cfg.n_recipients, 0);
    assert_int_equal(cfg.message_size_limit, 10240000);
    assert_int_equal(cfg.smtpd_timeout, 300);
    assert_int_equal(cfg.smtpd_tls_timeout, 60);
    assert_int_equal(cfg.smtpd_recipient_limit, 1000);
    assert_int_equal(cfg.smtpd_hard_error_limit, 20);
    assert_int_equal(cfg.smtpd_client_connection_limit, 4000);
    assert_int_equal(cfg.smtpd_bare_newline, CONFIG_BARE_NEWLINE_NORMALIZE);
    assert_int_equal(cfg.minimal_backoff_time, 300);
    assert_int_equal(cfg.n_tls_pairs, 0);
    assert_int_equal(cfg.tls_min_version, 0x0303);
    assert_string_equal(cfg.tls_ciphers, "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                         "ECDHE-RSA-AES256-GCM-SHA384:"
                                         "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                         "ECDHE-RSA-CHACHA20-POLY1305:"
                                         "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                         "ECDHE-RSA-AES128-GCM-SHA256");
    assert_string_equal(cfg.tls_ciphersuites, "TLS_AES_256_GCM_SHA384:"
                                              "TLS_CHACHA20_POLY1305_SHA256:"
                                              "TLS_AES_128_GCM_SHA256");
    assert_int_equal(cfg.listens->tls, CONFIG_TLS_NONE);
    config_free(&cfg);
}

static void
test_comments(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok("# a comment line\n"
              "; another\n"
              "   # indented comment\n"
              "hostname = mx.example.org ; semicolon comment\n"
              "maildir = /var/mail/%d/%u        # %d domain, %u local part\n"
              "spool = /srv/a#b\t# '#' inside a value stays\n"
              "[listen mx]   # section comment\n"
              "  address = 127.0.0.1:25\t\n"
              "tls=none\r\n",
              &cfg);
    assert_string_equal(cfg.hostname, "mx.example.org");
    assert_string_equal(cfg.maildir, "/var/mail/%d/%u");
    assert_string_equal(cfg.spool, "/srv/a#b");
    assert_string_equal(cfg.listens->address, "127.0.0.1:25");
    assert_int_equal(cfg.listens->tls, CONFIG_TLS_NONE);
    config_free(&cfg);
}

static void
test_size_and_time_units(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok("message_size_limit = 0\nsmtpd_timeout = 2H\n"
              "smtpd_tls_timeout = 1m\nqueue_retry_interval = 1d\n" MINIMAL,
              &cfg);
    assert_int_equal(cfg.message_size_limit, 0);
    assert_int_equal(cfg.smtpd_timeout, 7200);
    assert_int_equal(cfg.smtpd_tls_timeout, 60);
    assert_int_equal(cfg.minimal_backoff_time, 86400);
    config_free(&cfg);
    expect_ok("message_size_limit = 512k\n" MINIMAL, &cfg);
    assert_int_equal(cfg.message_size_limit, 512 * 1024);
    config_free(&cfg);
    expect_ok("message_size_limit = 2g\n" MINIMAL, &cfg);
    assert_int_equal(cfg.message_size_limit, 2ULL << 30);
    config_free(&cfg);
}

static void
test_tls_pairs(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok("[tls]\n"
              "cert = rsa.crt\nkey = rsa.key\n"
              "min_version = TLSv1.2\n"
              "cert = ec.crt\nkey = ec.key\n"
              "[listen a]\naddress = 127.0.0.1:1\ntls = starttls\n"
              "[listen b]\naddress = 127.0.0.1:2\ntls = starttls-required\n"
              "[listen c]\naddress = 127.0.0.1:3\ntls = implicit\n",
              &cfg);
    assert_int_equal(cfg.n_tls_pairs, 2);
    assert_string_equal(cfg.tls_pairs[0].cert, "rsa.crt");
    assert_string_equal(cfg.tls_pairs[0].key, "rsa.key");
    assert_string_equal(cfg.tls_pairs[1].cert, "ec.crt");
    assert_string_equal(cfg.tls_pairs[1].key, "ec.key");
    assert_int_equal(cfg.listens->next->tls, CONFIG_TLS_STARTTLS_REQUIRED);
    config_free(&cfg);
}

static void
test_addresses_canonical(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok("[listen a]\naddress = [0:0::0:1]:0025\ntls = none\n"
              "[listen b]\naddress = [::]:25\ntls = none\n",
              &cfg);
    assert_string_equal(cfg.listens->address, "[::1]:25");
    assert_string_equal(cfg.listens->next->address, "[::]:25");
    config_free(&cfg);
}

/* ---- errors, one kind at a time, with their exact text ---- */

static void
test_error_missing_file(void **state)
{
    struct config cfg;
    struct buf errors;
    (void)state;
    buf_init(&errors, 0);
    assert_int_equal(config_load("nonexistent.conf", &cfg, &errors), -1);
    assert_string_equal(errors.data, "nonexistent.conf: cannot open: "
                                     "No such file or directory\n");
    buf_free(&errors);
}

static void
test_error_unknown(void **state)
{
    (void)state;
    expect_errors("foo = 1\n" MINIMAL,
                  "t.conf:1: unknown key \"foo\" at top level\n");
    expect_errors("cert = rsa.crt\n" MINIMAL,
                  "t.conf:1: unknown key \"cert\" at top level (it belongs "
                  "in [tls])\n");
    expect_errors(MINIMAL "hostname = x\n",
                  "t.conf:4: unknown key \"hostname\" in [listen mx] (it "
                  "belongs at top level, before any [section])\n");
    expect_errors("[dane]\ntls_security_level = may\n" MINIMAL,
                  "t.conf:1: unknown section [dane]\n");
    expect_errors("[listen]\n" MINIMAL,
                  "t.conf:1: section [listen] needs a name, as in "
                  "[listen mx]\n");
    expect_errors("[tls x]\n" MINIMAL,
                  "t.conf:1: section [tls] takes no name\n");
    expect_errors("[listen a b]\n" MINIMAL,
                  "t.conf:1: section [listen] takes one name without "
                  "spaces\n");
    expect_errors("[tls\n" MINIMAL,
                  "t.conf:1: section header must end with ']'\n");
    expect_errors("[listen m/x]\n" MINIMAL,
                  "t.conf:1: listener name \"m/x\": only letters, digits, "
                  "'-', '_' and '.'\n");
}

static void
test_error_syntax(void **state)
{
    char text[2048];
    (void)state;
    expect_errors("hostname\n" MINIMAL, "t.conf:1: expected \"key = value\"\n");
    expect_errors("address: 1.2.3.4:25\n" MINIMAL,
                  "t.conf:1: expected \"key = value\"\n");
    expect_errors("hostname = a.example\n   continued\n" MINIMAL,
                  "t.conf:2: expected \"key = value\"\n");
    snprintf(text, sizeof(text), "spool = /%01100d\n" MINIMAL, 0);
    expect_errors(text, "t.conf:1: line longer than 1021 characters\n");
}

static void
test_error_duplicates(void **state)
{
    (void)state;
    expect_errors("spool = /a\n\nspool = /b\n" MINIMAL,
                  "t.conf:3: duplicate key \"spool\" (first set at line 1)\n");
    expect_errors(MINIMAL "address = 127.0.0.1:26\n",
                  "t.conf:4: duplicate key \"address\" (first set at line "
                  "2)\n");
    expect_errors(MINIMAL "[listen mx]\naddress = 127.0.0.1:26\ntls = none\n",
                  "t.conf:4: duplicate section [listen mx] (first at line "
                  "1)\n");
    expect_errors(MINIMAL "[listen other]\naddress = 127.0.0.1:2525\n"
                          "tls = none\n",
                  "t.conf:5: address: 127.0.0.1:2525 is already used by "
                  "[listen mx] at line 1\n");
    expect_errors("[tls]\nmin_version = TLSv1.2\n[tls]\n"
                  "min_version = TLSv1.3\n" MINIMAL,
                  "t.conf:4: duplicate key \"min_version\" (first set at "
                  "line 2)\n");
}

static void
test_error_numbers(void **state)
{
    (void)state;
    expect_errors("message_size_limit = 10x\n" MINIMAL,
                  "t.conf:1: message_size_limit: \"10x\" is not a size in "
                  "bytes (like 10240000, 10M, 1G)\n");
    expect_errors("message_size_limit = -1\n" MINIMAL,
                  "t.conf:1: message_size_limit: \"-1\" is not a size in "
                  "bytes (like 10240000, 10M, 1G)\n");
    expect_errors("message_size_limit = 99999999999999999999\n" MINIMAL,
                  "t.conf:1: message_size_limit: \"99999999999999999999\" "
                  "is not a size in bytes (like 10240000, 10M, 1G)\n");
    expect_errors("message_size_limit = 65G\n" MINIMAL,
                  "t.conf:1: message_size_limit: 69793218560 is out of "
                  "range (0..68719476736)\n");
    expect_errors("smtpd_timeout = 5 m\n" MINIMAL,
                  "t.conf:1: smtpd_timeout: \"5 m\" is not a number of "
                  "seconds (like 300, 5m, 1h)\n");
    expect_errors("smtpd_timeout = 0\n" MINIMAL,
                  "t.conf:1: smtpd_timeout: 0 is out of range (1..86400)\n");
    expect_errors("smtpd_tls_timeout = 2h\n" MINIMAL,
                  "t.conf:1: smtpd_tls_timeout: 7200 is out of range "
                  "(1..3600)\n");
    expect_errors("smtpd_recipient_limit = 1k\n" MINIMAL,
                  "t.conf:1: smtpd_recipient_limit: \"1k\" is not a whole "
                  "number\n");
    expect_errors("smtpd_recipient_limit = 0\n" MINIMAL,
                  "t.conf:1: smtpd_recipient_limit: 0 is out of range "
                  "(1..1000000)\n");
    expect_errors("queue_retry_interval =\n" MINIMAL,
                  "t.conf:1: queue_retry_interval: \"\" is not a number of "
                  "seconds (like 300, 5m, 1h)\n");
}

static void
test_error_words(void **state)
{
    (void)state;
    expect_errors("smtpd_bare_newline = strip\n" MINIMAL,
                  "t.conf:1: smtpd_bare_newline: \"strip\" is not one of: "
                  "normalize | reject\n");
    expect_errors("[tls]\nmin_version = SSLv3\n" MINIMAL,
                  "t.conf:2: min_version: SSLv3 cannot be configured: SSL "
                  "3.0 is broken (RFC 7568); use TLSv1.2 or TLSv1.3\n");
    expect_errors("[tls]\nmin_version = tlsv1.1\n" MINIMAL,
                  "t.conf:2: min_version: TLSv1.1 cannot be configured: TLS "
                  "1.1 is deprecated (RFC 8996); use TLSv1.2 or TLSv1.3\n");
    expect_errors("[tls]\nmin_version = TLSv1.4\n" MINIMAL,
                  "t.conf:2: min_version: \"TLSv1.4\" is not one of: "
                  "TLSv1.2 | TLSv1.3\n");
    expect_errors("[tls]\nciphers = A B\n" MINIMAL,
                  "t.conf:2: ciphers: expected one word without spaces\n");
    expect_errors("[listen mx]\naddress = 127.0.0.1:25\ntls = yes\n" TLS_PAIR,
                  "t.conf:3: tls: \"yes\" is not one of: none | starttls | "
                  "starttls-required | implicit\n");
    expect_errors("hostname = mail_1.example\n" MINIMAL,
                  "t.conf:1: hostname: \"mail_1.example\" is not a host "
                  "name: only letters, digits, '-' and '.' are allowed\n");
}

static void
test_error_paths(void **state)
{
    (void)state;
    expect_errors("spool = var/spool\n" MINIMAL,
                  "t.conf:1: spool: \"var/spool\" is not an absolute path\n");
    expect_errors("maildir = /var/mail/%d\n" MINIMAL,
                  "t.conf:1: maildir: \"/var/mail/%d\" must contain %u (the "
                  "local part)\n");
    expect_errors("maildir = /var/mail/%h/%u\n" MINIMAL,
                  "t.conf:1: maildir: unknown escape \"%h\" (only %d, %u and "
                  "%%)\n");
    expect_errors("local_domains = example.org, -bad.example, a..b\n" MINIMAL,
                  "t.conf:1: local_domains: \"-bad.example\": label starting "
                  "with '-'\n"
                  "t.conf:1: local_domains: \"a..b\": empty label or label "
                  "ending in '-'\n");
    expect_errors("local_recipients = missing.txt\n" MINIMAL,
                  "t.conf:1: local_recipients: missing.txt: cannot open: No "
                  "such file or directory\n");
    expect_errors("local_recipients = /tmp\n" MINIMAL,
                  "t.conf:1: local_recipients: /tmp: not a regular file\n");
}

static void
test_error_addresses(void **state)
{
    static const struct {
        const char *address, *why;
    } cases[] = {
        {"127.0.0.1", "expected host:port"},
        {"localhost:25", "host is not an IPv4 address (names are not "
                         "resolved)"},
        {"::1:25", "an IPv6 address must be in brackets, as in [::1]:25"},
        {"[::1:25", "expected [IPv6]:port"},
        {"[1.2.3.4]:25", "host is not an IPv6 address"},
        {"127.0.0.1:0", "port must be a number from 1 to 65535"},
        {"127.0.0.1:65536", "port must be a number from 1 to 65535"},
        {"127.0.0.1:smtp", "port must be a number from 1 to 65535"},
    };
    char text[256], expected[512];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "[listen mx]\naddress = %s\ntls = none\n",
                 cases[i].address);
        snprintf(expected, sizeof(expected), "t.conf:2: address: \"%s\": %s\n",
                 cases[i].address, cases[i].why);
        expect_errors(text, expected);
    }
}

static void
test_error_tls(void **state)
{
    (void)state;
    expect_errors("[listen mx]\naddress = 127.0.0.1:25\n",
                  "t.conf:1: [listen mx] uses TLS but [tls] has no cert and "
                  "key\n");
    expect_errors("[tls]\ncert = rsa.crt\n" MINIMAL,
                  "t.conf:2: cert: no key after it (each cert must be "
                  "followed by its key)\n");
    expect_errors("[tls]\nkey = rsa.key\n" MINIMAL,
                  "t.conf:2: key: no cert before it (each cert must be "
                  "followed by its key)\n");
    expect_errors(
        "[tls]\ncert = rsa.crt\ncert = ec.crt\nkey = ec.key\n" MINIMAL,
        "t.conf:3: cert: the cert at line 2 has no key (each cert "
        "must be followed by its key)\n");
    expect_errors("[tls]\ncert = nope.crt\nkey = rsa.key\n" MINIMAL,
                  "t.conf:2: cert: nope.crt: cannot open: No such file or "
                  "directory\n");
    expect_errors("[tls]\n"
                  "cert = rsa.crt\nkey = rsa.key\ncert = ec.crt\nkey = ec.key\n"
                  "cert = rsa.crt\nkey = rsa.key\ncert = ec.crt\nkey = ec.key\n"
                  "cert = rsa.crt\nkey = rsa.key\n" MINIMAL,
                  "t.conf:10: cert: more than 4 cert/key pairs\n");
}

static void
test_error_listeners(void **state)
{
    (void)state;
    expect_errors("hostname = a.example\n",
                  "t.conf: no [listen NAME] section: nothing to serve\n");
    expect_errors("[listen mx]\ntls = none\n[tls]\n",
                  "t.conf:1: missing required key \"address\" in "
                  "[listen mx]\n");
    expect_errors("[listen mx]\n",
                  "t.conf:1: missing required key \"address\" in "
                  "[listen mx]\n"
                  "t.conf:1: [listen mx] uses TLS but [tls] has no cert and "
                  "key\n");
}

static void
test_errors_collected(void **state)
{
    (void)state;
    write_file("rcpt.txt", "ok@example.org\nbad\n# fine\n\nx@@y\n");
    expect_errors("hostname = -x\n"
                  "smtpd_timeout = soon\n"
                  "local_recipients = rcpt.txt\n"
                  "[tls]\n"
                  "min_version = SSLv2\n"
                  "bogus = 1\n"
                  "[listen mx]\n"
                  "address = 127.0.0.1:99999\n"
                  "[nope]\n"
                  "key = value\n",
                  "t.conf:1: hostname: \"-x\" is not a host name: label "
                  "starting with '-'\n"
                  "t.conf:2: smtpd_timeout: \"soon\" is not a number of "
                  "seconds (like 300, 5m, 1h)\n"
                  "rcpt.txt:2: bad address \"bad\": no '@'\n"
                  "rcpt.txt:5: bad address \"x@@y\": character not allowed "
                  "in a local part\n"
                  "t.conf:5: min_version: SSLv2 cannot be configured: SSL 2.0 "
                  "is broken (RFC 6176); use TLSv1.2 or TLSv1.3\n"
                  "t.conf:6: unknown key \"bogus\" in [tls]\n"
                  "t.conf:8: address: \"127.0.0.1:99999\": port must be a "
                  "number from 1 to 65535\n"
                  "t.conf:9: unknown section [nope]\n"
                  "t.conf:7: [listen mx] uses TLS but [tls] has no cert and "
                  "key\n");
}

static void
test_errors_to_stderr(void **state)
{
    struct config cfg;
    (void)state;
    write_file(CONF, "foo = 1\n" MINIMAL);
    assert_int_equal(config_load(CONF, &cfg, NULL), -1);
}

/* ---- local_recipients and the lookups ---- */

static void
test_local_recipients(void **state)
{
    struct config cfg;
    (void)state;
    write_file("rcpt.txt", "# users\n"
                           "Zoe@Example.ORG\n"
                           "  bob@example.org   # trailing comment\n"
                           "\n"
                           "alice@example.org.\n"
                           "bob@example.org\n"
                           "first.last+tag@example.net\n");
    expect_ok("local_domains = example.org example.net\n"
              "local_recipients = rcpt.txt\n" MINIMAL,
              &cfg);
    assert_int_equal(cfg.n_recipients, 4);
    assert_string_equal(cfg.recipients[0], "alice@example.org");
    assert_string_equal(cfg.recipients[1], "bob@example.org");
    assert_string_equal(cfg.recipients[2], "first.last+tag@example.net");
    assert_string_equal(cfg.recipients[3], "zoe@example.org");
    assert_true(config_is_local_recipient(&cfg, "zoe", "example.org"));
    assert_true(config_is_local_recipient(&cfg, "ALICE", "Example.Org."));
    assert_true(
        config_is_local_recipient(&cfg, "first.last+tag", "example.net"));
    assert_false(config_is_local_recipient(&cfg, "carol", "example.org"));
    assert_false(config_is_local_recipient(&cfg, "bob", "example.net"));
    assert_false(config_is_local_recipient(&cfg, "", "example.org"));
    char longlocal[300];
    memset(longlocal, 'a', sizeof(longlocal) - 1);
    longlocal[sizeof(longlocal) - 1] = '\0';
    assert_false(config_is_local_recipient(&cfg, longlocal, "example.org"));
    config_free(&cfg);

    write_file("rcpt.txt", "# nobody yet\n");
    expect_ok("local_recipients = rcpt.txt\n" MINIMAL, &cfg);
    assert_int_equal(cfg.n_recipients, 0);
    assert_false(config_is_local_recipient(&cfg, "zoe", "example.org"));
    config_free(&cfg);

    expect_ok(MINIMAL, &cfg); /* unset: any local part is accepted */
    assert_true(config_is_local_recipient(&cfg, "anyone", "example.org"));
    config_free(&cfg);
}

static void
test_local_recipients_errors(void **state)
{
    (void)state;
    write_file("rcpt.txt", "good@example.org\n"
                           ".dot@example.org\n"
                           "a..b@example.org\n"
                           "@example.org\n"
                           "a b@example.org\n"
                           "user@bad_domain\n"
                           "\"quoted\"@example.org\n");
    expect_errors("local_recipients = rcpt.txt\n" MINIMAL,
                  "rcpt.txt:2: bad address \".dot@example.org\": local part "
                  "starts or ends with '.'\n"
                  "rcpt.txt:3: bad address \"a..b@example.org\": two dots in "
                  "a row in the local part\n"
                  "rcpt.txt:4: bad address \"@example.org\": empty local "
                  "part\n"
                  "rcpt.txt:5: bad address \"a b@example.org\": character "
                  "not allowed in a local part\n"
                  "rcpt.txt:6: bad address \"user@bad_domain\": only "
                  "letters, digits, '-' and '.' are allowed\n"
                  "rcpt.txt:7: bad address \"\"quoted\"@example.org\": "
                  "character not allowed in a local part\n");
}

static void
test_local_domains(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok("local_domains = Example.org,example.NET.\n" MINIMAL, &cfg);
    assert_true(config_is_local_domain(&cfg, "example.org"));
    assert_true(config_is_local_domain(&cfg, "EXAMPLE.ORG."));
    assert_true(config_is_local_domain(&cfg, "example.net"));
    assert_false(config_is_local_domain(&cfg, "example.com"));
    assert_false(config_is_local_domain(&cfg, "sub.example.org"));
    assert_false(config_is_local_domain(&cfg, "example.or"));
    assert_false(config_is_local_domain(&cfg, ""));
    config_free(&cfg);

    expect_ok("local_domains =\n" MINIMAL, &cfg); /* explicitly none */
    assert_int_equal(cfg.n_local_domains, 0);
    config_free(&cfg);
}

/* ---- issue 3: AUTH, client certificates, [auth] ---- */

/* A TLS listener with AUTH, for the [auth] tests. */
#define AUTH_LISTENER                                                          \
    TLS_PAIR "[listen sub]\naddress = 127.0.0.1:2587\nauth = required\n"

static void
test_auth_keys(void **state)
{
    struct config cfg;
    (void)state;
    write_file("ca.pem", "-----BEGIN STAND-IN-----\n");
    write_file("senders", "alice@example.org alice\n");
    write_file("certs", "sha256:" "00112233445566778899aabbccddeeff"
                        "00112233445566778899AABBCCDDEEFF\n");
    assert_int_equal(system("mkdir -p sasl"), 0);
    expect_ok("relay_client_certs = certs\n"
              "[tls]\ncert = rsa.crt\nkey = rsa.key\nca_file = ca.pem\n"
              "[auth]\n"
              "sasl_service = smtpd-test\n"
              "sasl_config_dir = sasl\n"
              "mechanisms = plain, scram-sha-256 LOGIN plain\n"
              "sasldb_path = users.db\n"
              "sender_login_maps = senders\n"
              "received_auth_user = Yes\n"
              "auth_failure_limit = 3\n"
              "auth_failure_delay = 2s\n"
              "auth_failure_window = 1h\n"
              "[listen mx]\naddress = 127.0.0.1:2525\n"
              "client_certificates = request\n"
              "[listen sub]\naddress = 127.0.0.1:2587\n"
              "tls = starttls-required\nauth = optional\n"
              "client_certificates = require\n"
              "[listen subs]\naddress = 127.0.0.1:2465\n"
              "tls = implicit\nauth = required\n",
              &cfg);
    assert_string_equal(cfg.tls_ca_file, "ca.pem");
    assert_string_equal(cfg.sasl_service, "smtpd-test");
    assert_string_equal(cfg.sasl_config_dir, "sasl");
    assert_int_equal(cfg.n_auth_mechanisms, 3);
    assert_string_equal(cfg.auth_mechanisms[0], "PLAIN");
    assert_string_equal(cfg.auth_mechanisms[1], "SCRAM-SHA-256");
    assert_string_equal(cfg.auth_mechanisms[2], "LOGIN");
    assert_string_equal(cfg.sasldb_path, "users.db");
    assert_string_equal(cfg.sender_login_maps, "senders");
    assert_int_equal(cfg.n_sender_logins, 1);
    assert_true(cfg.received_auth_user);
    assert_int_equal(cfg.auth_failure_limit, 3);
    assert_int_equal(cfg.auth_failure_delay, 2);
    assert_int_equal(cfg.auth_failure_window, 3600);
    assert_string_equal(cfg.relay_client_certs, "certs");
    assert_int_equal(cfg.n_relay_certs, 1);
    struct config_listen *mx = cfg.listens, *sub = mx->next, *subs = sub->next;
    assert_int_equal(mx->auth, CONFIG_AUTH_OFF);
    assert_int_equal(mx->client_certificates, CONFIG_CLIENT_CERTS_REQUEST);
    assert_int_equal(sub->auth, CONFIG_AUTH_OPTIONAL);
    assert_int_equal(sub->client_certificates, CONFIG_CLIENT_CERTS_REQUIRE);
    assert_int_equal(subs->auth, CONFIG_AUTH_REQUIRED);
    assert_int_equal(subs->client_certificates, CONFIG_CLIENT_CERTS_NONE);
    config_free(&cfg);
}

static void
test_auth_defaults(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok(MINIMAL, &cfg);
    assert_null(cfg.tls_ca_file);
    assert_string_equal(cfg.sasl_service, "tlsmta");
    assert_null(cfg.sasl_config_dir);
    assert_int_equal(cfg.n_auth_mechanisms, 2);
    assert_string_equal(cfg.auth_mechanisms[0], "PLAIN");
    assert_string_equal(cfg.auth_mechanisms[1], "LOGIN");
    assert_string_equal(cfg.sasldb_path, "/etc/tlsmta/sasldb2");
    assert_null(cfg.sender_login_maps);
    assert_int_equal(cfg.n_sender_logins, 0);
    assert_false(cfg.received_auth_user);
    assert_int_equal(cfg.auth_failure_limit, 5);
    assert_int_equal(cfg.auth_failure_delay, 1);
    assert_int_equal(cfg.auth_failure_window, 600);
    assert_null(cfg.relay_client_certs);
    assert_int_equal(cfg.n_relay_certs, 0);
    assert_int_equal(cfg.listens->auth, CONFIG_AUTH_OFF);
    assert_int_equal(cfg.listens->client_certificates,
                     CONFIG_CLIENT_CERTS_NONE);
    config_free(&cfg);
}

/* Files named by a config in another directory are taken from there. */
static void
test_auth_relative_paths(void **state)
{
    struct config cfg;
    struct buf errors;
    (void)state;
    assert_int_equal(system("mkdir -p etc/sasl"), 0);
    write_file("etc/ca.pem", "-----BEGIN STAND-IN-----\n");
    write_file("etc/senders", "@example.org alice\n");
    write_file("etc/certs", "# none yet\n");
    write_file("etc/t.conf", "relay_client_certs = certs\n"
                             "[tls]\nca_file = ca.pem\n"
                             "[auth]\nsasl_config_dir = sasl\n"
                             "sasldb_path = sasldb2\n"
                             "sender_login_maps = senders\n" MINIMAL);
    buf_init(&errors, 0);
    assert_int_equal(config_load("etc/t.conf", &cfg, &errors), 0);
    assert_string_equal(cfg.tls_ca_file, "etc/ca.pem");
    assert_string_equal(cfg.sasl_config_dir, "etc/sasl");
    assert_string_equal(cfg.sasldb_path, "etc/sasldb2");
    assert_string_equal(cfg.sender_login_maps, "etc/senders");
    assert_string_equal(cfg.relay_client_certs, "etc/certs");
    config_free(&cfg);
    buf_free(&errors);
}

static void
test_error_auth_listeners(void **state)
{
    (void)state;
    expect_errors("[listen mx]\naddress = 127.0.0.1:25\nauth = optional\n"
                  "tls = none\n",
                  "t.conf:1: [listen mx]: auth = optional needs TLS on the "
                  "listener (tls = starttls, starttls-required or "
                  "implicit): AUTH is never offered or accepted without "
                  "TLS\n");
    expect_errors(TLS_PAIR "[listen mx]\naddress = 127.0.0.1:25\n"
                           "client_certificates = require\n",
                  "t.conf:4: [listen mx]: client_certificates = require "
                  "needs [tls] ca_file (the CAs that client certificates "
                  "must chain to)\n");
    expect_errors(MINIMAL "client_certificates = request\n",
                  "t.conf:1: [listen mx]: client_certificates = request "
                  "needs TLS on the listener\n");
    expect_errors(MINIMAL "auth = yes\n",
                  "t.conf:4: auth: \"yes\" is not one of: off | optional | "
                  "required\n");
    expect_errors(MINIMAL "client_certificates = optional\n",
                  "t.conf:4: client_certificates: \"optional\" is not one "
                  "of: none | request | require\n");
    expect_errors("[tls]\nca_file = nope.pem\n" MINIMAL,
                  "t.conf:2: ca_file: nope.pem: cannot open: No such file "
                  "or directory\n");
}

static void
test_error_auth_section(void **state)
{
    (void)state;
    write_file("plain", "x\n");
    expect_errors("[auth]\nsasl_service = ../etc/x\n" AUTH_LISTENER,
                  "t.conf:2: sasl_service: \"../etc/x\": 1 to 64 letters, "
                  "digits, '-', '_' or '.', not starting with '.' (SASL "
                  "reads NAME.conf)\n");
    expect_errors("[auth]\nsasl_config_dir = nowhere\n" AUTH_LISTENER,
                  "t.conf:2: sasl_config_dir: nowhere: No such file or "
                  "directory\n");
    expect_errors("[auth]\nsasl_config_dir = plain\n" AUTH_LISTENER,
                  "t.conf:2: sasl_config_dir: plain: not a directory\n");
    expect_errors("[auth]\nmechanisms = PLAIN CRAM/MD5 ANONYMOUS "
                  "A23456789012345678901\n" AUTH_LISTENER,
                  "t.conf:2: mechanisms: \"CRAM/MD5\": only letters, "
                  "digits, '-' and '_' (RFC 4422 3.1)\n"
                  "t.conf:2: mechanisms: \"ANONYMOUS\": ANONYMOUS would let "
                  "anyone relay\n"
                  "t.conf:2: mechanisms: \"A23456789012345678901\": longer "
                  "than 20 characters (RFC 4422 3.1)\n");
    expect_errors("[auth]\nmechanisms = ,\n" AUTH_LISTENER,
                  "t.conf:2: mechanisms: empty (to offer no AUTH, set auth "
                  "= off on the listeners)\n");
    expect_errors("[auth]\nsasldb_path =\n" AUTH_LISTENER,
                  "t.conf:2: sasldb_path: empty path\n");
    expect_errors("[auth]\nreceived_auth_user = maybe\n" AUTH_LISTENER,
                  "t.conf:2: received_auth_user: \"maybe\" is not yes or "
                  "no\n");
    expect_errors("[auth]\nauth_failure_limit = 0\nauth_failure_delay = 2m\n"
                  "auth_failure_window = 0\n" AUTH_LISTENER,
                  "t.conf:2: auth_failure_limit: 0 is out of range "
                  "(1..1000)\n"
                  "t.conf:3: auth_failure_delay: 120 is out of range "
                  "(0..60)\n"
                  "t.conf:4: auth_failure_window: 0 is out of range "
                  "(1..86400)\n");
    expect_errors("mechanisms = PLAIN\n[auth]\nauth = on\n" MINIMAL,
                  "t.conf:1: unknown key \"mechanisms\" at top level (it "
                  "belongs in [auth])\n"
                  "t.conf:3: unknown key \"auth\" in [auth] (it belongs in "
                  "[listen NAME])\n");
    expect_errors("[auth x]\n" MINIMAL,
                  "t.conf:1: section [auth] takes no name\n");
}

static void
test_sender_login_maps(void **state)
{
    struct config cfg;
    (void)state;
    write_file("senders", "# sender          logins\n"
                          "Bob@Example.ORG   bob\n"
                          "@example.net.     alice, carol  dave\n"
                          "alice@example.org alice,admin@example.org\n");
    expect_ok("[auth]\nsender_login_maps = senders\n" MINIMAL, &cfg);
    assert_int_equal(cfg.n_sender_logins, 3);
    const struct config_sender_login *e = cfg.sender_logins;
    assert_string_equal(e[0].sender, "@example.net");
    assert_int_equal(e[0].n_logins, 3);
    assert_string_equal(e[0].logins[0], "alice");
    assert_string_equal(e[0].logins[1], "carol");
    assert_string_equal(e[0].logins[2], "dave");
    assert_int_equal(e[0].line, 3);
    assert_string_equal(e[1].sender, "alice@example.org");
    assert_int_equal(e[1].n_logins, 2);
    assert_string_equal(e[1].logins[1], "admin@example.org");
    assert_string_equal(e[2].sender, "bob@example.org");
    assert_string_equal(e[2].logins[0], "bob");
    config_free(&cfg);
}

static void
test_sender_login_maps_errors(void **state)
{
    (void)state;
    write_file("senders", "alice@example.org alice\n"
                          "nobody\n"
                          "@bad_domain x\n"
                          "carol@example.org\n"
                          "carol@example.org ,\n"
                          "ALICE@example.org other\n");
    expect_errors("[auth]\nsender_login_maps = senders\n" MINIMAL,
                  "senders:2: bad sender \"nobody\": no '@'\n"
                  "senders:3: bad sender \"@bad_domain\": only letters, "
                  "digits, '-' and '.' are allowed\n"
                  "senders:4: no login after the sender address\n"
                  "senders:5: no login after the sender address\n"
                  "senders:6: duplicate sender \"alice@example.org\" (first "
                  "at line 1)\n");
    expect_errors("[auth]\nsender_login_maps = none.txt\n" MINIMAL,
                  "t.conf:2: sender_login_maps: none.txt: cannot open: No "
                  "such file or directory\n");
}

static void
test_relay_client_certs(void **state)
{
    struct config cfg;
    (void)state;
    write_file("certs",
               "# fingerprints\n"
               "sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
               "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\n"
               "sha256 Fingerprint=" /* as openssl x509 -fingerprint */
               "0123456789abcdef0123456789abcdef"
               "0123456789abcdef0123456789abcdef\n"
               "issuer=CN=Test CA,O=Example\\, Inc. "
               "subject=CN=printer.example.org,O=Example\n"
               "issuer=CN=Device CA\n");
    expect_ok("relay_client_certs = certs\n" MINIMAL, &cfg);
    assert_int_equal(cfg.n_relay_certs, 4);
    const struct config_client_cert *c = cfg.relay_certs;
    assert_string_equal(c[0].sha256, "abcdef0123456789abcdef0123456789"
                                     "abcdef0123456789abcdef0123456789");
    assert_null(c[0].issuer);
    assert_int_equal(c[0].line, 2);
    assert_string_equal(c[1].sha256, "0123456789abcdef0123456789abcdef"
                                     "0123456789abcdef0123456789abcdef");
    assert_null(c[2].sha256);
    assert_string_equal(c[2].issuer, "CN=Test CA,O=Example\\, Inc.");
    assert_string_equal(c[2].subject, "CN=printer.example.org,O=Example");
    assert_int_equal(c[2].line, 4);
    assert_string_equal(c[3].issuer, "CN=Device CA");
    assert_null(c[3].subject);
    config_free(&cfg);
}

static void
test_relay_client_certs_errors(void **state)
{
    (void)state;
    write_file("certs", "sha256:abcd\n"
                        "sha256:" "0123456789abcdef0123456789abcdef"
                        "0123456789abcdef0123456789abcdef00\n"
                        "sha256:zz\n"
                        "sha256::ab\n"
                        "issuer=\n"
                        "issuer= subject=CN=y\n"
                        "subject=CN=y issuer=CN=x\n");
    expect_errors("relay_client_certs = certs\n" MINIMAL,
                  "certs:1: fewer than 64 hex digits (SHA-256 has 32 "
                  "bytes)\n"
                  "certs:2: more than 64 hex digits (SHA-256 has 32 bytes)\n"
                  "certs:3: the fingerprint may hold only hex digits and "
                  "':'\n"
                  "certs:4: the fingerprint may hold only hex digits and "
                  "':'\n"
                  "certs:5: empty issuer or subject\n"
                  "certs:6: empty issuer or subject\n"
                  "certs:7: expected \"sha256:HEX\" or \"issuer=DN "
                  "subject=DN\"\n");
}

static void
test_free_zeroed(void **state)
{
    struct config cfg;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    config_free(&cfg);
    config_free(&cfg);
}

/* ---- issue 4: [queue], [outbound], mynetworks ---- */

static void
test_outbound_defaults(void **state)
{
    struct config cfg;
    (void)state;
    expect_ok(MINIMAL, &cfg);
    assert_int_equal(cfg.minimal_backoff_time, 300);
    assert_int_equal(cfg.maximal_backoff_time, 3600);
    assert_int_equal(cfg.maximal_queue_lifetime, 5 * 86400);
    assert_int_equal(cfg.outbound_tls_security_level, CONFIG_TLS_LEVEL_MAY);
    assert_null(cfg.relayhost.host);
    assert_null(cfg.dns_resolver);
    assert_int_equal(cfg.n_mynetworks, 0);
    assert_int_equal(cfg.smtp_connect_timeout, 30);
    assert_int_equal(cfg.smtp_timeout, 300);
    assert_null(config_transport_lookup(&cfg, "example.net"));
    config_free(&cfg);
}

static void
test_outbound_tables(void **state)
{
    struct config cfg;
    (void)state;
    write_file("transport", "example.net   smtp:[127.0.0.5]:2526\n"
                            ".example.net  smtp:mx.example.org\n"
                            "*             smtps:[Relay.Example.ORG]\n");
    write_file("policy", "example.net secure match=nexthop:.example.net\n"
                         "[127.0.0.5]:2526 encrypt\n"
                         ".example.com verify\n");
    write_file("passwd", "[smtp.example.net]:587 alice:s3cret:x\n");
    chmod("passwd", 0600);
    expect_ok("mynetworks = 127.0.0.0/8, [::1]/128 10.1.2.3\n"
              "[queue]\nminimal_backoff_time = 1s\nmaximal_queue_lifetime = "
              "2d\n"
              "[outbound]\ntls_security_level = encrypt\n"
              "transport = transport\ntls_policy = policy\n"
              "relayhost = [smtp.example.net]:587\n"
              "sasl_password_maps = passwd\n"
              "dns_resolver = 127.0.0.1@5353 ::1\n" MINIMAL,
              &cfg);
    assert_int_equal(cfg.minimal_backoff_time, 1);
    assert_int_equal(cfg.maximal_queue_lifetime, 2 * 86400);
    assert_int_equal(cfg.outbound_tls_security_level,
                     CONFIG_TLS_LEVEL_ENCRYPT);
    const struct config_nexthop *nh =
        config_transport_lookup(&cfg, "example.net");
    assert_non_null(nh);
    assert_string_equal(nh->host, "127.0.0.5");
    assert_int_equal(nh->port, 2526);
    assert_false(nh->mx);
    assert_string_equal(nh->key, "[127.0.0.5]:2526");
    nh = config_transport_lookup(&cfg, "a.b.example.net");
    assert_string_equal(nh->key, "mx.example.org");
    assert_true(nh->mx);
    nh = config_transport_lookup(&cfg, "other.org");
    assert_string_equal(nh->key, "[relay.example.org]:25");
    assert_true(nh->implicit_tls);
    const struct config_tls_policy *p =
        config_tls_policy_lookup(&cfg, "example.net");
    assert_int_equal(p->level, CONFIG_TLS_LEVEL_SECURE);
    assert_int_equal(p->n_match, 2);
    assert_string_equal(p->match[1], ".example.net");
    assert_null(config_tls_policy_lookup(&cfg, "sub.example.net"));
    p = config_tls_policy_lookup(&cfg, "mx.example.com");
    assert_int_equal(p->level, CONFIG_TLS_LEVEL_VERIFY);
    p = config_tls_policy_lookup(&cfg, "[127.0.0.5]:2526");
    assert_int_equal(p->level, CONFIG_TLS_LEVEL_ENCRYPT);
    assert_string_equal(cfg.relayhost.key, "[smtp.example.net]:587");
    assert_false(cfg.relayhost.implicit_tls);
    const struct config_sasl_password *pw =
        config_sasl_password_lookup(&cfg, cfg.relayhost.key);
    assert_string_equal(pw->user, "alice");
    assert_string_equal(pw->password, "s3cret:x");
    assert_string_equal(cfg.dns_resolver, "127.0.0.1@5353 ::1");
    assert_int_equal(cfg.n_mynetworks, 3);
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "127.9.8.7", &in.sin_addr);
    assert_true(config_in_mynetworks(&cfg, (struct sockaddr *)&in));
    inet_pton(AF_INET, "10.1.2.4", &in.sin_addr);
    assert_false(config_in_mynetworks(&cfg, (struct sockaddr *)&in));
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    assert_true(config_in_mynetworks(&cfg, (struct sockaddr *)&in6));
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    assert_true(config_in_mynetworks(&cfg, (struct sockaddr *)&in6));
    inet_pton(AF_INET6, "::2", &in6.sin6_addr);
    assert_false(config_in_mynetworks(&cfg, (struct sockaddr *)&in6));
    config_free(&cfg);

    expect_ok("[outbound]\nrelayhost = smtp.example.net:465\n" MINIMAL, &cfg);
    assert_true(cfg.relayhost.mx);
    assert_true(cfg.relayhost.implicit_tls);
    assert_string_equal(cfg.relayhost.key, "smtp.example.net:465");
    config_free(&cfg);
    expect_ok("[outbound]\nrelayhost = smtps:[smtp.example.net]:2465\n" MINIMAL,
              &cfg);
    assert_false(cfg.relayhost.mx);
    assert_true(cfg.relayhost.implicit_tls);
    assert_string_equal(cfg.relayhost.key, "[smtp.example.net]:2465");
    config_free(&cfg);
    write_file("policy", "mx.example.net:2525 encrypt\n");
    expect_ok("[outbound]\ntls_policy = policy\n" MINIMAL, &cfg);
    assert_non_null(config_tls_policy_lookup(&cfg, "mx.example.net:2525"));
    config_free(&cfg);
}

static void
test_outbound_errors(void **state)
{
    (void)state;
    expect_errors("mynetworks = 10.0.0.1/8 ::1 [::1]/129 1.2.3.4/x\n" MINIMAL,
                  "t.conf:1: mynetworks: \"10.0.0.1/8\": host bits set "
                  "after the prefix (write the network address)\n"
                  "t.conf:1: mynetworks: \"::1\": not an IPv4 address (IPv6 "
                  "goes in brackets)\n"
                  "t.conf:1: mynetworks: \"[::1]/129\": bad prefix length\n"
                  "t.conf:1: mynetworks: \"1.2.3.4/x\": bad prefix length\n");
    expect_errors("[outbound]\ntls_security_level = dane\n"
                  "relayhost = [smtp.example.net]:0\n"
                  "dns_resolver = localhost\n" MINIMAL,
                  "t.conf:2: tls_security_level: \"dane\": dane is not "
                  "supported yet (use verify or secure)\n"
                  "t.conf:3: relayhost: \"[smtp.example.net]:0\": port must "
                  "be 1..65535\n"
                  "t.conf:4: dns_resolver: \"localhost\" is not IP or "
                  "IP@port\n");
    write_file("transport", "example.net relay:[x]\n"
                            "bad_domain smtp:x\n"
                            "example.org smtp:192.0.2.1\n"
                            "example.com\n"
                            "a.example smtp:x\n"
                            "A.example smtp:y\n");
    write_file("policy", "example.net sure\n"
                         "example.org may match=nexthop\n"
                         "* encrypt\n"
                         "example.net encrypt\n"
                         "example.com encrypt\n"
                         "Example.COM verify\n");
    write_file("passwd", "[smtp.example.net]:587 alice\n");
    chmod("passwd", 0644);
    expect_errors("[outbound]\ntransport = transport\ntls_policy = policy\n"
                  "sasl_password_maps = passwd\n" MINIMAL,
                  "transport:1: expected smtp:NEXTHOP or smtps:NEXTHOP\n"
                  "transport:2: expected a domain, .domain or *\n"
                  "transport:3: an IP address must be in brackets, as in "
                  "[192.0.2.1]\n"
                  "transport:4: expected \"domain smtp:nexthop\"\n"
                  "transport:6: duplicate \"a.example\" (first at line 5)\n"
                  "policy:1: expected none, may, encrypt, verify or secure\n"
                  "policy:2: match= needs level verify or secure\n"
                  "policy:3: use tls_security_level in [outbound] for the "
                  "default\n"
                  "policy:6: duplicate \"example.com\" (first at line 5)\n"
                  "t.conf:4: sasl_password_maps: passwd holds passwords but "
                  "is readable by others (mode 644); chmod 600 it\n");
    chmod("passwd", 0600);
    expect_errors("[outbound]\nsasl_password_maps = passwd\n" MINIMAL,
                  "passwd:1: expected \"[host]:port user:password\"\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_and_time_units, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_addresses_canonical, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_missing_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_listeners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_to_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_recipients_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_relative_paths, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_auth_listeners, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_auth_section, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sender_login_maps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sender_login_maps_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_relay_client_certs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_relay_client_certs_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_zeroed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbound_defaults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbound_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbound_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
