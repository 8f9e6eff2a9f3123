/*
 * test_check_output.c -- the printers of `tlsmta check` on hand-built
 * reports: the JSON string escaper byte by byte (quotes, backslashes,
 * controls, DEL, UTF-8 of every length, 0xff, overlong forms, surrogates,
 * cut sequences); JSON documents with hostile server strings in the
 * banner, EHLO lines, certificate names and error texts, parsed back by
 * Python's json module (a real RFC 8259 parser) and compared value by
 * value with what docs/check-json.md promises; the text report's nine
 * sections in order, its verdict lines, the cipher breakdown, the
 * certificate summary, --show-certs, and no raw control byte on a
 * terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check/check_internal.h"
#include "check_test_util.h"

#define PYTHON "/usr/bin/python3"
#define HOSTILE "q\"b\\c\x01\n\x1b[31m\x7f\xff\xc3\xa9 end"
/* HOSTILE as Python decodes our JSON: 0xff is not UTF-8, so U+FFFD. */
#define HOSTILE_DECODED "q\"b\\c\x01\n\x1b[31m\x7f\xef\xbf\xbd\xc3\xa9 end"

/* The printer's output, as one NUL-terminated string (caller frees). */
typedef void printer_fn(const struct check_report *r, FILE *fp);

static char *
capture(printer_fn *print, const struct check_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    print(r, fp);
    fclose(fp);
    return buf;
}

static char *
json_of(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    check_json_string(fp, s);
    fclose(fp);
    return buf;
}

static void
test_json_string(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } CASES[] = {
        {"plain", "\"plain\""},
        {"a\"b\\c/d", "\"a\\\"b\\\\c/d\""},
        {"\x01\t\n\r\x1f\x7f", "\"\\u0001\\u0009\\u000a\\u000d\\u001f"
                               "\\u007f\""},
        {"caf\xc3\xa9", "\"caf\\u00e9\""},          /* 2 bytes */
        {"\xe2\x82\xac", "\"\\u20ac\""},            /* 3 bytes */
        {"\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\""}, /* 4: a pair */
        {"\xf4\x8f\xbf\xbf", "\"\\udbff\\udfff\""}, /* U+10FFFF */
        {"\xff", "\"\\ufffd\""},
        {"a\xfe\xff"
         "b",
         "\"a\\ufffd\\ufffdb\""},
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},            /* overlong '/' */
        {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""}, /* overlong */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* >max */
        {"\xe2\x82", "\"\\ufffd\\ufffd\""}, /* cut at end */
        {"\xc3", "\"\\ufffd\""},
        {"\x80x", "\"\\ufffdx\""}, /* lone cont. */
        {"", "\"\""},
    };

    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        char *got = json_of(CASES[i].in);
        print_message("case %zu: %s\n", i, got);
        assert_string_equal(got, CASES[i].out);
        free(got);
    }
    char *null = json_of(NULL);
    assert_string_equal(null, "null");
    free(null);
}

/* ---- JSON parsed back by Python ---- */

static const char PY_EXTRACT[] =
    "import json, sys\n"
    "doc = json.load(open(sys.argv[1], encoding='ascii'))\n"
    "for path in sys.argv[2:]:\n"
    "    v = doc\n"
    "    for k in path.split('/'):\n"
    "        v = v[int(k)] if isinstance(v, list) else v[k]\n"
    "    out = v if isinstance(v, str) else json.dumps(v)\n"
    "    sys.stdout.buffer.write(out.encode('utf-8', 'surrogatepass')"
    " + b'\\0')\n";

#define PY_MAX_PATHS 32

/* Parse json with Python and fetch each path ("banner/text",
 * "certificates/0/san/1"): strings decoded (UTF-8), other values as JSON.
 * Fills out[] (n entries, caller frees out[0]); skips the test without
 * Python. */
static void
py_fetch(const char *json, const char *const paths[], size_t n, char *out[])
{
    char dir[] = "/tmp/tlsmta-check-json-XXXXXX", doc[64], py[64];
    char *argv[PY_MAX_PATHS + 4] = {PYTHON, py, doc};
    int fds[2], status;
    FILE *fp;

    if (access(PYTHON, X_OK) != 0)
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(doc, sizeof(doc), "%s/doc.json", dir);
    snprintf(py, sizeof(py), "%s/extract.py", dir);
    assert_non_null(fp = fopen(doc, "w"));
    fputs(json, fp);
    fclose(fp);
    assert_non_null(fp = fopen(py, "w"));
    fputs(PY_EXTRACT, fp);
    fclose(fp);
    for (size_t i = 0; i < n && i < PY_MAX_PATHS; i++)
        argv[3 + i] = (char *)paths[i];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        execv(PYTHON, argv);
        _exit(127);
    }
    close(fds[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    ssize_t got;
    do {
        if (len + 4096 > cap)
            assert_non_null(buf = realloc(buf, cap = len + 8192));
        got = read(fds[0], buf + len, cap - len - 1);
        len += got > 0 ? (size_t)got : 0;
    } while (got > 0);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(doc);
    unlink(py);
    rmdir(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("python could not parse or walk the document:\n%s", json);
    buf[len] = '\0';
    for (size_t i = 0, off = 0; i < n; i++) {
        assert_true(off < len || (off == len && i == n));
        out[i] = buf + off;
        off += strlen(buf + off) + 1;
    }
}

static void
put_hostile(struct check_report *r)
{
    snprintf(r->banner, CHECK_TEXT_MAX, "%s", HOSTILE);
    snprintf(r->ehlo_plain.lines[1], CHECK_TEXT_MAX, "%s", HOSTILE);
    snprintf(r->ehlo_tls.auth_mechs, CHECK_TEXT_MAX, "PLAIN %s", HOSTILE);
    snprintf(r->chain[0].info.subject, TLS_DN_MAX, "CN=%s", HOSTILE);
    snprintf(r->chain[0].info.san, TLS_SAN_MAX, "DNS:a.example, DNS:%s",
             HOSTILE);
    r->chain_verified = false;
    snprintf(r->verify_error, CHECK_TEXT_MAX, "%s", HOSTILE);
}

static void
test_json_hostile(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char *const paths[] = {
        "banner/text",
        "ehlo/extensions/1",
        "ehlo_tls/auth_mechanisms/0",
        "ehlo_tls/auth_mechanisms/1",
        "certificates/0/subject",
        "certificates/0/san/1",
        "chain/verify_error",
        "problems/0/text",
        "verdicts/certificate/text",
        "verdicts/certificate/level",
        "grade",
        "exit_status",
    };
    char *v[sizeof(paths) / sizeof(paths[0])];

    put_hostile(r);
    check_grade(r);
    char *json = capture(check_print_json, r);
    for (const unsigned char *p = (const unsigned char *)json; *p; p++)
        assert_true((*p >= 0x20 && *p < 0x7f) || *p == '\n');
    py_fetch(json, paths, sizeof(paths) / sizeof(paths[0]), v);
    assert_string_equal(v[0], HOSTILE_DECODED);
    assert_string_equal(v[1], HOSTILE_DECODED);
    assert_string_equal(v[2], "PLAIN");
    assert_string_equal(v[3], "q\"b\\c\x01\n\x1b[31m\x7f\xef\xbf\xbd\xc3\xa9");
    assert_string_equal(v[4], "CN=" HOSTILE_DECODED);
    assert_string_equal(v[5], "DNS:" HOSTILE_DECODED);
    assert_string_equal(v[6], HOSTILE_DECODED);
    assert_string_equal(v[7], "the chain does not verify: " HOSTILE_DECODED);
    assert_string_equal(v[8], "the chain does not verify: " HOSTILE_DECODED);
    assert_string_equal(v[9], "failure");
    assert_string_equal(v[10], "F");
    assert_string_equal(v[11], "2");
    free(v[0]);
    free(json);
    free(r);
}

/* The fields of docs/check-json.md, for an A+ server. */
static void
test_json_fields(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char *const paths[] = {
        "schema", /* 0 */
        "target",
        "versions",
        "version_details/SSLv3",
        "session/protocol",
        "session/suite/name", /* 5 */
        "session/suite/id",
        "session/key_exchange",
        "session/group",
        "session/authentication",
        "session/key_bits", /* 10 */
        "session/encryption",
        "session/encryption_bits",
        "session/mac",
        "session/forward_secrecy",
        "session/aead", /* 15 */
        "ciphers/TLSv1.2/0/name",
        "ciphers/TLSv1.2/0/key_exchange",
        "certificates/0/san",
        "certificates/0/key_type",
        "certificates/0/key_bits", /* 20 */
        "certificates/0/days_left",
        "certificates/0/pem",
        "chain",
        "ehlo/starttls",
        "ehlo_tls/auth_mechanisms", /* 25 */
        "weaknesses",
        "problems",
        "grade",
        "exit_status",
        "verdicts/summary", /* 30 */
        "banner/seconds",
    };
    char *v[sizeof(paths) / sizeof(paths[0])];

    check_grade(r);
    char *json = capture(check_print_json, r);
    py_fetch(json, paths, sizeof(paths) / sizeof(paths[0]), v);
    assert_string_equal(v[0], "tlsmta-check/1");
    assert_string_equal(v[1], "{\"host\": \"mx.example.org\", \"port\": 25, "
                              "\"mode\": \"starttls\", \"servername\": "
                              "\"mx.example.org\", \"helo\": null, "
                              "\"ca_file\": null, \"client_cert\": null, "
                              "\"timeout\": 10}");
    assert_string_equal(v[2], "{\"SSLv3\": \"not_tested\", \"TLSv1.0\": "
                              "\"refused\", \"TLSv1.1\": \"refused\", "
                              "\"TLSv1.2\": \"accepted\", \"TLSv1.3\": "
                              "\"accepted\"}");
    assert_string_equal(v[3], "unsupported by this build");
    assert_string_equal(v[4], "TLSv1.3");
    assert_string_equal(v[5], "TLS_AES_256_GCM_SHA384");
    assert_string_equal(v[6], "0x1302");
    assert_string_equal(v[7], "ECDHE"); /* TLS 1.3 "any" over X25519 */
    assert_string_equal(v[8], "X25519");
    assert_string_equal(v[9], "ECDSA"); /* TLS 1.3 "any", an EC leaf key */
    assert_string_equal(v[10], "256");
    assert_string_equal(v[11], "AES-256-GCM");
    assert_string_equal(v[12], "256");
    assert_string_equal(v[13], "AEAD");
    assert_string_equal(v[14], "true");
    assert_string_equal(v[15], "true");
    assert_string_equal(v[16], "ECDHE-ECDSA-AES256-GCM-SHA384");
    assert_string_equal(v[17], "ECDHE");
    assert_string_equal(v[18], "[\"DNS:mx.example.org\", "
                               "\"IP Address:192.0.2.25\"]");
    assert_string_equal(v[19], "EC");
    assert_string_equal(v[20], "256");
    assert_string_equal(v[21], "400");
    assert_string_equal(v[22], "null"); /* no --show-certs */
    assert_string_equal(v[23], "{\"verified\": true, \"verify_error\": null, "
                               "\"trust_anchors\": \"system\", "
                               "\"name_checked\": \"mx.example.org\", "
                               "\"name_matched\": true}");
    assert_string_equal(v[24], "true");
    assert_string_equal(v[25], "[\"PLAIN\", \"LOGIN\"]");
    assert_string_equal(v[26], "{\"starttls_injection\": \"not_vulnerable\", "
                               "\"starttls_injection_detail\": null, "
                               "\"renegotiation\": \"refused\", "
                               "\"renegotiation_detail\": null, "
                               "\"compression\": false, "
                               "\"compression_detail\": null}");
    assert_string_equal(v[27], "[]");
    assert_string_equal(v[28], "A+");
    assert_string_equal(v[29], "0");
    assert_string_equal(v[30], "{\"level\": \"ok\", \"text\": \"grade A+, "
                               "0 failures, 0 warnings\"}");
    assert_string_equal(v[31], "0.012");
    free(v[0]);
    free(json);
    free(r);
}

/* Unreachable: no grade (null), exit status 3, the sections null or
 * "not_tested". */
static void
test_json_unreachable(void **state)
{
    (void)state;
    struct check_report *r = calloc(1, sizeof(*r));
    static const char *const paths[] = {
        "grade",
        "exit_status",
        "session",
        "ehlo",
        "chain",
        "verdicts/session/level",
        "problems/0/level",
        "banner/error",
        "banner/code",
        "certificates",
    };
    char *v[sizeof(paths) / sizeof(paths[0])];

    snprintf(r->opt.host, sizeof(r->opt.host), "mx.example.org");
    r->opt.port = 25;
    snprintf(r->connect_error, CHECK_TEXT_MAX, "connection refused");
    check_grade(r);
    char *json = capture(check_print_json, r);
    py_fetch(json, paths, sizeof(paths) / sizeof(paths[0]), v);
    assert_string_equal(v[0], "null");
    assert_string_equal(v[1], "3");
    assert_string_equal(v[2], "null");
    assert_string_equal(v[3], "null");
    assert_string_equal(v[4], "null");
    assert_string_equal(v[5], "not_tested");
    assert_string_equal(v[6], "failure");
    assert_string_equal(v[7], "connection refused");
    assert_string_equal(v[8], "null");
    assert_string_equal(v[9], "[]");
    free(v[0]);
    free(json);
    free(r);
}

/* The --domain document: a report nested at indent 4 is still valid. */
static void
test_json_nested(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char *const paths[] = {"hosts/1/grade", "hosts/0/target/host"};
    char *v[2], *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    check_grade(r);
    fputs("{\"hosts\": [\n    ", fp);
    check_json_report(r, fp, 4);
    fputs(",\n    ", fp);
    check_json_report(r, fp, 4);
    fputs("\n  ]}\n", fp);
    fclose(fp);
    py_fetch(buf, paths, 2, v);
    assert_string_equal(v[0], "A+");
    assert_string_equal(v[1], "mx.example.org");
    free(v[0]);
    free(buf);
    free(r);
}

/* ---- text ---- */

static void
print_text(const struct check_report *r, FILE *fp)
{
    check_print_text(r, fp);
}

/* Each needle appears, in this order. */
static void
assert_in_order(const char *text, const char *const needles[], size_t n)
{
    const char *at = text;

    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, needles[i]);
        if (hit == NULL) {
            fprintf(stderr, "%s\n---\nmissing (in order): %s\n", text,
                    needles[i]);
            fail();
        }
        at = hit + strlen(needles[i]);
    }
}

static void
test_text_sections(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char *const needles[] = {
        "tlsmta check: mx.example.org port 25, starttls, server name "
        "\"mx.example.org\"\n",
        "\n1. Connection and banner -- OK: 220 greeting from 192.0.2.25:25 "
        "in 0.012 s\n",
        "   greeting            220 mx.example.org ESMTP tlsmta\n",
        "\n2. EHLO before TLS -- OK: 4 extensions, STARTTLS offered, no AUTH "
        "before TLS\n",
        "   STARTTLS offered    yes\n",
        "\n3. TLS versions -- OK: accepted: TLSv1.2, TLSv1.3\n",
        "   SSLv3               not tested: unsupported by this build\n",
        "   TLSv1.0             refused\n",
        "   TLSv1.3             accepted\n",
        "\n4. Negotiated session -- OK: TLSv1.3, TLS_AES_256_GCM_SHA384 "
        "(forward secret, AEAD)\n",
        "   cipher suite        TLS_AES_256_GCM_SHA384 (IANA "
        "TLS_TLS_AES_256_GCM_SHA384, 0x1302)\n",
        "   key exchange        ECDHE, group X25519\n",
        "   authentication      ECDSA, 256-bit key\n",
        "   encryption          AES-256-GCM, 256-bit key\n",
        "   MAC / hash          AEAD (handshake hash SHA384)\n",
        "   forward secrecy     yes\n",
        "   OCSP stapling       no\n",
        "   resumption          yes\n",
        "   in words            keys are agreed with ECDHE over X25519, "
        "ephemeral",
        "\n5. Accepted cipher suites -- OK: 2 suites accepted, none weak\n",
        "   TLSv1.2 (1 suite)\n",
        "     ECDHE-ECDSA-AES256-GCM-SHA384   ECDHE/ECDSA AES-256-GCM AEAD\n",
        "\n6. Certificate chain -- OK: verified, names mx.example.org, 400 "
        "days left\n",
        "   certificate 0 (server)\n",
        "     subject             CN=mx.example.org\n",
        "     alt names           DNS:mx.example.org, IP Address:192.0.2.25\n",
        "     issuer              CN=Example CA,O=Example\n",
        "     key                 EC 256 bits (prime256v1)\n",
        "     signature           ecdsa-with-SHA256\n",
        "     valid               2025-01-01T00:00:00Z to 2027-01-01T00:00:00Z "
        "(400 days left)\n",
        "   verification        verified against the system trust store\n",
        "   name                mx.example.org: matches\n",
        "\n7. EHLO after TLS -- OK: 4 extensions, AUTH PLAIN LOGIN\n",
        "   AUTH mechanisms     PLAIN LOGIN\n",
        "\n8. Known weaknesses -- OK: none found\n",
        "   STARTTLS injection  not vulnerable\n",
        "   renegotiation       client-initiated refused\n",
        "   compression         none\n",
        "\n9. Summary -- OK: grade A+, 0 failures, 0 warnings\n",
        "   grade               A+\n",
        "   exit status         0\n",
    };

    check_grade(r);
    char *text = capture(print_text, r);
    assert_in_order(text, needles, sizeof(needles) / sizeof(needles[0]));
    assert_null(strstr(text, "BEGIN CERTIFICATE"));
    free(text);
    free(r);
}

static void
test_text_problems(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char *const needles[] = {
        "\n3. TLS versions -- WARN: TLSv1.0 is accepted (deprecated by "
        "RFC 8996)\n",
        "     RC4-SHA                         RSA/RSA RC4 HMAC-SHA1  [no "
        "forward secrecy]  [not AEAD]  [weak: RC4 is weak]\n",
        "\n6. Certificate chain -- FAIL: the chain does not verify: "
        "self-signed certificate\n",
        "   verification        failed against --ca-file /etc/ca.pem\n",
        "   reason              self-signed certificate\n",
        "\n9. Summary -- FAIL: grade F, 1 failure, 2 warnings\n",
        "   grade               F\n",
        "   WARN versions: TLSv1.0 is accepted",
        "   WARN ciphers: weak suites accepted: RC4-SHA\n",
        "   FAIL certificate: the chain does not verify",
        "   exit status         2\n",
    };

    ctu_accept(r, CHECK_TLS1_0,
               ctu_suite("RC4-SHA", "RSA", "RSA", "RC4", 128, "HMAC-SHA1",
                         false, true));
    r->opt.ca_file = "/etc/ca.pem";
    r->chain_verified = false;
    snprintf(r->verify_error, CHECK_TEXT_MAX, "self-signed certificate");
    check_grade(r);
    char *text = capture(print_text, r);
    assert_in_order(text, needles, sizeof(needles) / sizeof(needles[0]));
    free(text);
    free(r);
}

/* No server byte reaches the terminal raw. */
static void
test_text_hostile(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();

    put_hostile(r);
    check_grade(r);
    char *text = capture(print_text, r);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        assert_true((*p >= 0x20 && *p < 0x7f) || *p == '\n');
    assert_non_null(strstr(text, "   greeting            220 q\"b\\c\\x01\\x0a"
                                 "\\x1b[31m\\x7f\\xff\\xc3\\xa9 end\n"));
    free(text);
    free(r);
}

static void
test_text_show_certs(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
                              "-----END CERTIFICATE-----\n";

    r->chain[0].pem = (char *)pem;
    r->opt.show_certs = true;
    check_grade(r);
    char *text = capture(print_text, r);
    assert_non_null(strstr(text, "     SHA-256             aaaa"));
    assert_non_null(strstr(text, "\n-----BEGIN CERTIFICATE-----\n"
                                 "MIIB\n"
                                 "-----END CERTIFICATE-----\n"));
    free(text);
    char *json = capture(check_print_json, r);
    assert_non_null(strstr(json, "\"pem\": \"-----BEGIN CERTIFICATE-----"
                                 "\\u000aMIIB\\u000a"));
    free(json);
    free(r);
}

/* A chain longer than CHECK_CHAIN_MAX says how many were not shown. */
static void
test_chain_truncated(void **state)
{
    (void)state;
    struct check_report *r = ctu_new_report();

    r->chain_length = r->n_chain + 41;
    check_grade(r);
    char *text = capture(print_text, r);
    assert_non_null(strstr(text, "   41 more certificates not shown (the "
                                 "server sent "));
    free(text);
    char *json = capture(check_print_json, r);
    char want[64];
    snprintf(want, sizeof(want), "\"chain_length\": %zu,", r->n_chain + 41);
    assert_non_null(strstr(json, want));
    free(json);
    free(r);
}

static void
test_text_unreachable_and_plain(void **state)
{
    (void)state;
    struct check_report *r = calloc(1, sizeof(*r));

    snprintf(r->opt.host, sizeof(r->opt.host), "192.0.2.1");
    r->opt.port = 2525;
    snprintf(r->connect_error, CHECK_TEXT_MAX, "connection timed out");
    check_grade(r);
    char *text = capture(print_text, r);
    static const char *const down[] = {
        "server name not sent (an address)\n",
        "1. Connection and banner -- FAIL: the server could not be reached: "
        "connection timed out\n",
        "2. EHLO before TLS -- NOT TESTED: the server could not be reached\n",
        "9. Summary -- FAIL: not graded, 1 failure, 0 warnings\n",
        "   grade               - (not graded)\n",
        "   exit status         3\n",
    };
    assert_in_order(text, down, sizeof(down) / sizeof(down[0]));
    free(text);

    ctu_good_report(r);
    r->opt.mode = CHECK_MODE_PLAIN;
    r->tls_ok = false;
    check_grade(r);
    text = capture(print_text, r);
    static const char *const plain[] = {
        "3. TLS versions -- NOT TESTED: --plain: TLS not tested\n",
        "8. Known weaknesses -- NOT TESTED: --plain: TLS not tested\n",
        "9. Summary -- OK: not graded, 0 failures, 0 warnings\n",
    };
    assert_in_order(text, plain, sizeof(plain) / sizeof(plain[0]));
    free(text);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_json_hostile),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_unreachable),
        cmocka_unit_test(test_json_nested),
        cmocka_unit_test(test_text_sections),
        cmocka_unit_test(test_text_problems),
        cmocka_unit_test(test_text_hostile),
        cmocka_unit_test(test_text_show_certs),
        cmocka_unit_test(test_text_unreachable_and_plain),
        cmocka_unit_test(test_chain_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
