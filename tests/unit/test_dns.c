/*
 * test_dns.c -- the pure part of src/dns (dns_answer.c): host name checks,
 * wire-form names and MX rdata (RFC 1035 3.1, 3.3.9) with every refusal,
 * the MX result (RFC 5321 5.1 order and equal-preference shuffle, implicit
 * MX, RFC 7505 null MX, malformed records) and the address result (AAAA
 * before A, which failures are temporary). The libunbound side runs
 * against a real DNS server in tests/integration/test_dns.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "dns/dns_answer.h"

#define MAX_RR 8

/* An answer with up to MAX_RR records, built by the tests. */
struct rrset {
    unsigned char rd[MAX_RR][300];
    char *data[MAX_RR + 1];
    int len[MAX_RR];
    size_t n;
    struct dns_answer a;
};

static void
rrset_init(struct rrset *s)
{
    memset(s, 0, sizeof *s);
    s->a.havedata = true;
    s->a.data = s->data;
    s->a.len = s->len;
}

static void
rrset_add(struct rrset *s, const void *rd, size_t len)
{
    assert_true(s->n < MAX_RR && len <= sizeof s->rd[0]);
    memcpy(s->rd[s->n], rd, len);
    s->data[s->n] = (char *)s->rd[s->n];
    s->len[s->n++] = (int)len;
}

/* Wire form of a dotted name ("" is the root) at out; returns bytes. */
static size_t
wire_name(const char *name, unsigned char *out)
{
    size_t o = 0;

    while (*name != '\0') {
        size_t l = strcspn(name, ".");
        out[o++] = (unsigned char)l;
        memcpy(out + o, name, l);
        o += l;
        name += l + (name[l] == '.');
    }
    out[o++] = 0;
    return o;
}

static void
rrset_mx(struct rrset *s, unsigned pref, const char *name)
{
    unsigned char rd[300];

    rd[0] = (unsigned char)(pref >> 8);
    rd[1] = (unsigned char)pref;
    rrset_add(s, rd, 2 + wire_name(name, rd + 2));
}

static void
test_name_normalize(void **state)
{
    char out[DNS_NAME_MAX + 1], big[300];

    (void)state;
    assert_int_equal(dns_name_normalize("Mail.Example.NET.", out), DNS_NAME_OK);
    assert_string_equal(out, "mail.example.net");
    assert_int_equal(dns_name_normalize("a-b_c.d9", out), DNS_NAME_OK);
    assert_string_equal(out, "a-b_c.d9");

    static const struct {
        const char *in;
        enum dns_name_error e;
    } bad[] = {
        {"", DNS_NAME_EMPTY},          {".", DNS_NAME_EMPTY},
        {"a..b", DNS_NAME_EMPTY_LABEL}, {".a", DNS_NAME_EMPTY_LABEL},
        {"a.b..", DNS_NAME_EMPTY_LABEL}, {"a b.net", DNS_NAME_BAD_CHAR},
        {"a\r\nb", DNS_NAME_BAD_CHAR}, {"a\tb", DNS_NAME_BAD_CHAR},
        {"a/b", DNS_NAME_BAD_CHAR},    {"[1.2.3.4]", DNS_NAME_BAD_CHAR},
        {"b\xc3\xa4r.de", DNS_NAME_NON_ASCII},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(out, "unchanged");
        assert_int_equal(dns_name_normalize(bad[i].in, out), bad[i].e);
        assert_string_equal(out, "unchanged");
        assert_non_null(dns_name_error_text(bad[i].e));
    }

    /* RFC 1035 2.3.4: labels up to 63, names up to 253 characters */
    memset(big, 'a', 64);
    big[64] = '\0';
    assert_int_equal(dns_name_normalize(big, out), DNS_NAME_LONG_LABEL);
    big[63] = '\0';
    assert_int_equal(dns_name_normalize(big, out), DNS_NAME_OK);
    for (size_t i = 0; i < 253; i++)
        big[i] = i % 2 ? '.' : 'x';
    big[253] = '\0';
    assert_int_equal(dns_name_normalize(big, out), DNS_NAME_OK);
    assert_int_equal(strlen(out), 253);
    strcpy(big + 253, ".");
    assert_int_equal(dns_name_normalize(big, out), DNS_NAME_OK);
    strcpy(big + 253, "x");
    assert_int_equal(dns_name_normalize(big, out), DNS_NAME_TOO_LONG);
}

static void
test_name_from_wire(void **state)
{
    char out[DNS_NAME_MAX + 1];
    unsigned char w[300];
    size_t used = 0, n;

    (void)state;
    n = wire_name("MX1.Example.Test", w);
    assert_int_equal(dns_name_from_wire(w, n, &used, out), DNS_NAME_OK);
    assert_string_equal(out, "mx1.example.test");
    assert_int_equal(used, n);
    assert_int_equal(dns_name_from_wire(w, n + 5, &used, out), DNS_NAME_OK);
    assert_int_equal(used, n);
    assert_int_equal(dns_name_from_wire((const unsigned char *)"", 1, &used,
                                        out), DNS_NAME_OK);
    assert_string_equal(out, "");
    assert_int_equal(used, 1);

    /* every prefix of a name misses its root label */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(dns_name_from_wire(w, k, &used, out),
                         DNS_NAME_TRUNCATED);
    static const unsigned char ptr[] = {3, 'm', 'x', '1', 0xC0, 12};
    assert_int_equal(dns_name_from_wire(ptr, sizeof ptr, &used, out),
                     DNS_NAME_COMPRESSED);
    static const unsigned char ext[] = {0x41, 'a', 0};
    assert_int_equal(dns_name_from_wire(ext, sizeof ext, &used, out),
                     DNS_NAME_LONG_LABEL);
    /* a dot or a space inside a label would forge another name */
    static const unsigned char dot[] = {3, 'a', '.', 'b', 0};
    assert_int_equal(dns_name_from_wire(dot, sizeof dot, &used, out),
                     DNS_NAME_BAD_CHAR);
    static const unsigned char nul[] = {3, 'a', 0, 'b', 0};
    assert_int_equal(dns_name_from_wire(nul, sizeof nul, &used, out),
                     DNS_NAME_BAD_CHAR);
    static const unsigned char hi[] = {2, 'a', 0xE4, 0};
    assert_int_equal(dns_name_from_wire(hi, sizeof hi, &used, out),
                     DNS_NAME_NON_ASCII);

    /* 4 labels of 63: 4 * 64 + 1 = 257 octets, over 255 */
    n = 0;
    for (int i = 0; i < 4; i++) {
        w[n++] = 63;
        memset(w + n, 'z', 63);
        n += 63;
    }
    w[n++] = 0;
    assert_int_equal(dns_name_from_wire(w, n, &used, out), DNS_NAME_TOO_LONG);
    w[3 * 64] = 61; /* 3 * 64 + 62 + 1 = 255: the longest name */
    w[3 * 64 + 62] = 0;
    assert_int_equal(dns_name_from_wire(w, 255, &used, out), DNS_NAME_OK);
    assert_int_equal(strlen(out), 253);
}

static void
test_mx_parse(void **state)
{
    char name[DNS_NAME_MAX + 1];
    unsigned char rd[300];
    unsigned pref = 0;
    size_t n;

    (void)state;
    rd[0] = 0xFF;
    rd[1] = 0xFE;
    n = 2 + wire_name("mx.example.net", rd + 2);
    assert_int_equal(dns_mx_parse(rd, n, &pref, name), DNS_NAME_OK);
    assert_int_equal(pref, 65534);
    assert_string_equal(name, "mx.example.net");
    assert_int_equal(dns_mx_parse(rd, n + 1, &pref, name), DNS_NAME_TRAILING);
    assert_int_equal(dns_mx_parse(rd, n - 1, &pref, name),
                     DNS_NAME_TRUNCATED);
    assert_int_equal(dns_mx_parse(rd, 2, &pref, name), DNS_NAME_TRUNCATED);
    assert_int_equal(dns_mx_parse(rd, 0, &pref, name), DNS_NAME_TRUNCATED);
    static const unsigned char null_mx[] = {0, 0, 0};
    assert_int_equal(dns_mx_parse(null_mx, 3, &pref, name), DNS_NAME_OK);
    assert_int_equal(pref, 0);
    assert_string_equal(name, "");
}

static void
test_classify(void **state)
{
    struct rrset s;
    char why[DNS_WHY_MAX];

    (void)state;
    rrset_init(&s);
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_NODATA); /* havedata but no record */
    rrset_mx(&s, 10, "mx");
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_DATA);
    s.a.havedata = false;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_NODATA);
    s.a.rcode = DNS_RCODE_NXDOMAIN;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_NXDOMAIN);
    s.a.rcode = 2;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_FAIL);
    assert_string_equal(why, "DNS server failure (SERVFAIL)");
    s.a.rcode = 5;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_FAIL);
    assert_string_equal(why, "DNS server failure (REFUSED)");
    s.a.rcode = 23;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_FAIL);
    assert_string_equal(why, "DNS server failure (rcode 23)");
    s.a.rcode = 0;
    s.a.bogus = true;
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_FAIL);
    s.a.bogus = false;
    s.a.error = 1;
    s.a.error_text = "DNS lookup timed out";
    assert_int_equal(dns_answer_classify(&s.a, why, sizeof why),
                     DNS_ANSWER_FAIL);
    assert_string_equal(why, "DNS lookup timed out");
}

static void
test_mx_sorted(void **state)
{
    struct rrset s;
    struct dns_mx_result res;

    (void)state;
    rrset_init(&s);
    rrset_mx(&s, 30, "c.example.test");
    rrset_mx(&s, 10, "A.example.test");
    rrset_mx(&s, 20, "b.example.test");
    rrset_mx(&s, 5, "a.example.test"); /* a host listed twice: lowest */
    dns_mx_result_build(&res, "example.test", &s.a);
    assert_int_equal(res.status, DNS_OK);
    assert_false(res.implicit);
    assert_int_equal(res.n_hosts, 3);
    assert_string_equal(res.hosts[0].name, "a.example.test");
    assert_int_equal(res.hosts[0].pref, 5);
    assert_string_equal(res.hosts[1].name, "b.example.test");
    assert_string_equal(res.hosts[2].name, "c.example.test");
    assert_int_equal(res.hosts[2].pref, 30);
    assert_string_equal(res.why, "");
    dns_mx_result_clear(&res);
    assert_null(res.hosts);
    assert_int_equal(res.n_hosts, 0);
}

/* RFC 5321 5.1: equal preferences in random order. Three hosts of pref 10
 * behind one of pref 0: over 600 lookups each of the 6 orders shows up
 * (the chance that one does not is under 1e-40), pref 0 always first. */
static void
test_mx_shuffle(void **state)
{
    struct rrset s;
    struct dns_mx_result res;
    int seen[6] = {0};

    (void)state;
    rrset_init(&s);
    rrset_mx(&s, 10, "x");
    rrset_mx(&s, 10, "y");
    rrset_mx(&s, 0, "first");
    rrset_mx(&s, 10, "z");
    for (int run = 0; run < 600; run++) {
        dns_mx_result_build(&res, "d.test", &s.a);
        assert_int_equal(res.n_hosts, 4);
        assert_string_equal(res.hosts[0].name, "first");
        int perm = 0;
        for (size_t i = 1; i < 4; i++) {
            assert_int_equal(res.hosts[i].pref, 10);
            perm = perm * 3 + (res.hosts[i].name[0] - 'x');
        }
        /* the 6 orders of x,y,z, as base-3 numbers */
        static const int ids[] = {5, 7, 11, 15, 19, 21};
        size_t k = 0;
        while (k < 6 && ids[k] != perm)
            k++;
        assert_true(k < 6);
        seen[k]++;
        dns_mx_result_clear(&res);
    }
    for (int k = 0; k < 6; k++)
        assert_true(seen[k] > 0);
}

static void
test_mx_implicit_nx_fail(void **state)
{
    struct rrset s;
    struct dns_mx_result res;

    (void)state;
    rrset_init(&s);
    s.a.havedata = false; /* NODATA: RFC 5321 5.1 implicit MX */
    dns_mx_result_build(&res, "example.test", &s.a);
    assert_int_equal(res.status, DNS_OK);
    assert_true(res.implicit);
    assert_int_equal(res.n_hosts, 1);
    assert_string_equal(res.hosts[0].name, "example.test");
    assert_int_equal(res.hosts[0].pref, 0);
    dns_mx_result_clear(&res);

    s.a.nxdomain = true;
    s.a.rcode = DNS_RCODE_NXDOMAIN;
    dns_mx_result_build(&res, "nx.test", &s.a);
    assert_int_equal(res.status, DNS_NOTFOUND);
    assert_null(res.hosts);
    assert_string_equal(res.why, "domain nx.test not found (NXDOMAIN)");
    dns_mx_result_clear(&res);

    s.a.nxdomain = false;
    s.a.rcode = 2;
    dns_mx_result_build(&res, "sf.test", &s.a);
    assert_int_equal(res.status, DNS_TEMPFAIL);
    assert_false(res.implicit);
    assert_int_equal(res.n_hosts, 0);
    dns_mx_result_clear(&res);
}

static void
test_mx_null(void **state)
{
    struct rrset s;
    struct dns_mx_result res;

    (void)state;
    rrset_init(&s);
    rrset_mx(&s, 0, ""); /* RFC 7505 3: "MX 0 ." */
    dns_mx_result_build(&res, "nomail.test", &s.a);
    assert_int_equal(res.status, DNS_NULLMX);
    assert_int_equal(res.n_hosts, 0);
    assert_non_null(strstr(res.why, "RFC 7505"));
    dns_mx_result_clear(&res);

    /* a "." target beside a real host is no host: the real one counts */
    rrset_mx(&s, 10, "mx.nomail.test");
    dns_mx_result_build(&res, "nomail.test", &s.a);
    assert_int_equal(res.status, DNS_OK);
    assert_int_equal(res.n_hosts, 1);
    assert_string_equal(res.hosts[0].name, "mx.nomail.test");
    dns_mx_result_clear(&res);
}

static void
test_mx_malformed(void **state)
{
    struct rrset s;
    struct dns_mx_result res;
    static const unsigned char ptr[] = {0, 10, 2, 'm', 'x', 0xC0, 12};
    static const unsigned char space[] = {0, 10, 3, 'm', ' ', 'x', 0};

    (void)state;
    rrset_init(&s);
    rrset_add(&s, ptr, sizeof ptr);
    rrset_add(&s, space, sizeof space);
    rrset_add(&s, "\0", 1);
    dns_mx_result_build(&res, "bad.test", &s.a);
    assert_int_equal(res.status, DNS_TEMPFAIL);
    assert_string_equal(res.why,
                        "malformed MX record: compression pointer in rdata");
    dns_mx_result_clear(&res);

    /* a null MX with garbage beside it: defer rather than bounce */
    rrset_mx(&s, 0, "");
    dns_mx_result_build(&res, "bad.test", &s.a);
    assert_int_equal(res.status, DNS_TEMPFAIL);
    dns_mx_result_clear(&res);

    /* the valid records of a set are used */
    rrset_mx(&s, 20, "good.bad.test");
    dns_mx_result_build(&res, "bad.test", &s.a);
    assert_int_equal(res.status, DNS_OK);
    assert_int_equal(res.n_hosts, 1);
    assert_string_equal(res.hosts[0].name, "good.bad.test");
    dns_mx_result_clear(&res);

    s.len[0] = -1; /* never trusted either */
    dns_mx_result_build(&res, "bad.test", &s.a);
    assert_int_equal(res.status, DNS_OK);
    dns_mx_result_clear(&res);
}

static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t n)
{
    const void *a = ss->ss_family == AF_INET6
        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    assert_non_null(inet_ntop(ss->ss_family, a, buf, (socklen_t)n));
}

static void
test_addr_order(void **state)
{
    struct rrset s6, s4;
    struct dns_addr_result res;
    char buf[INET6_ADDRSTRLEN];
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const unsigned char v4a[4] = {192, 0, 2, 1}, v4b[4] = {127, 0, 0, 5};

    (void)state;
    rrset_init(&s6);
    rrset_init(&s4);
    rrset_add(&s4, v4a, 4);
    rrset_add(&s4, v4b, 4);
    rrset_add(&s4, v6, 16); /* wrong length for A: skipped */
    rrset_add(&s6, v6, 16);
    dns_addr_result_build(&res, "mx.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_OK);
    assert_int_equal(res.n_addrs, 3);
    addr_text(&res.addrs[0], buf, sizeof buf);
    assert_string_equal(buf, "2001:db8::1");
    addr_text(&res.addrs[1], buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.1");
    addr_text(&res.addrs[2], buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.5");
    assert_int_equal(((struct sockaddr_in *)&res.addrs[2])->sin_port, 0);
    dns_addr_result_clear(&res);

    /* an AAAA failure does not hide the A records */
    s6.a.rcode = 2;
    dns_addr_result_build(&res, "mx.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_OK);
    assert_int_equal(res.n_addrs, 2);
    dns_addr_result_clear(&res);
}

static void
test_addr_status(void **state)
{
    struct rrset s6, s4;
    struct dns_addr_result res;

    (void)state;
    rrset_init(&s6);
    rrset_init(&s4);
    s6.a.havedata = s4.a.havedata = false;
    dns_addr_result_build(&res, "h.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_NOTFOUND);
    assert_string_equal(res.why, "host h.test has no address");
    dns_addr_result_clear(&res);

    s4.a.nxdomain = true;
    dns_addr_result_build(&res, "h.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_NOTFOUND);
    assert_string_equal(res.why, "host h.test not found (NXDOMAIN)");
    dns_addr_result_clear(&res);

    /* nothing found and one side failed: maybe there is an address */
    s6.a.error = 1;
    s6.a.error_text = "DNS lookup timed out";
    dns_addr_result_build(&res, "h.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_TEMPFAIL);
    assert_string_equal(res.why, "h.test: DNS lookup timed out");
    assert_null(res.addrs);
    dns_addr_result_clear(&res);

    /* records only of the wrong size */
    s6.a.error = 0;
    s4.a.nxdomain = false;
    s4.a.havedata = true;
    rrset_add(&s4, "\1\2\3", 3);
    dns_addr_result_build(&res, "h.test", &s6.a, &s4.a);
    assert_int_equal(res.status, DNS_TEMPFAIL);
    assert_int_equal(res.n_addrs, 0);
    dns_addr_result_clear(&res);
}

static void
test_addr_literal(void **state)
{
    struct dns_addr_result res;
    char buf[INET6_ADDRSTRLEN];

    (void)state;
    assert_true(dns_addr_literal("127.0.0.5", &res));
    assert_int_equal(res.status, DNS_OK);
    assert_int_equal(res.n_addrs, 1);
    addr_text(&res.addrs[0], buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.5");
    dns_addr_result_clear(&res);
    assert_true(dns_addr_literal("::1", &res));
    assert_int_equal(res.addrs[0].ss_family, AF_INET6);
    dns_addr_result_clear(&res);
    assert_false(dns_addr_literal("mx.example.test", &res));
    assert_false(dns_addr_literal("[127.0.0.1]", &res));
    assert_false(dns_addr_literal("127.1", &res));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_normalize),
        cmocka_unit_test(test_name_from_wire),
        cmocka_unit_test(test_mx_parse),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_mx_sorted),
        cmocka_unit_test(test_mx_shuffle),
        cmocka_unit_test(test_mx_implicit_nx_fail),
        cmocka_unit_test(test_mx_null),
        cmocka_unit_test(test_mx_malformed),
        cmocka_unit_test(test_addr_order),
        cmocka_unit_test(test_addr_status),
        cmocka_unit_test(test_addr_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
