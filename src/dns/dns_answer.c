/*
 * dns_answer.c -- host name checks, wire-form names and MX rdata (RFC 1035
 * 3.1, 3.3.9), and the MX / address results of dns/ (RFC 5321 5.1,
 * RFC 7505). Pure functions; the contracts are in dns_answer.h.
 *
 * Trust boundary: rdata from the network; every byte read is within len.
 */
#include "dns/dns_answer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dns_name_error_words[] = {
    [DNS_NAME_OK] = "valid",
    [DNS_NAME_EMPTY] = "empty name",
    [DNS_NAME_TOO_LONG] = "name longer than 253 characters",
    [DNS_NAME_EMPTY_LABEL] = "empty label",
    [DNS_NAME_LONG_LABEL] = "label longer than 63 characters",
    [DNS_NAME_BAD_CHAR] = "invalid character",
    [DNS_NAME_NON_ASCII] = "non-ASCII name (needs IDNA A-labels)",
    [DNS_NAME_COMPRESSED] = "compression pointer in rdata",
    [DNS_NAME_TRUNCATED] = "truncated name",
    [DNS_NAME_TRAILING] = "trailing bytes after name",
};

/* RFC 1035 4.1.1 and RFC 6895 2.3: the codes a resolver passes on. */
static const char *const dns_rcode_words[] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
};

const char *
dns_name_error_text(enum dns_name_error e)
{
    if ((size_t)e >= sizeof dns_name_error_words / sizeof *dns_name_error_words)
        return "invalid name";
    return dns_name_error_words[e];
}

/* Host name characters: RFC 1123 2.1 letters, digits, hyphen, plus '_'
 * (found in real names); anything else would be unsafe in logs/SMTP. */
static enum dns_name_error
dns_label_char(unsigned char c)
{
    if (c >= 0x80)
        return DNS_NAME_NON_ASCII;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_')
        return DNS_NAME_OK;
    return DNS_NAME_BAD_CHAR;
}

static char
dns_lower(unsigned char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

enum dns_name_error
dns_name_normalize(const char *in, char out[DNS_NAME_MAX + 1])
{
    size_t n = strlen(in), label = 0;

    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0)
        return DNS_NAME_EMPTY;
    if (n > DNS_NAME_MAX)
        return DNS_NAME_TOO_LONG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '.') {
            if (label == 0)
                return DNS_NAME_EMPTY_LABEL;
            label = 0;
            continue;
        }
        enum dns_name_error e = dns_label_char(c);
        if (e != DNS_NAME_OK)
            return e;
        if (++label > DNS_LABEL_MAX)
            return DNS_NAME_LONG_LABEL;
    }
    if (label == 0)
        return DNS_NAME_EMPTY_LABEL;
    for (size_t i = 0; i < n; i++)
        out[i] = dns_lower((unsigned char)in[i]);
    out[n] = '\0';
    return DNS_NAME_OK;
}

enum dns_name_error
dns_name_from_wire(const unsigned char *p, size_t len, size_t *used,
                   char out[DNS_NAME_MAX + 1])
{
    size_t pos = 0, o = 0;

    for (;;) {
        if (pos >= len)
            return DNS_NAME_TRUNCATED;
        size_t l = p[pos++];
        if (l == 0)
            break;
        if (l > DNS_LABEL_MAX) /* 0xC0 pointer, 0x40/0x80 obsolete types */
            return l >= 0xC0 ? DNS_NAME_COMPRESSED : DNS_NAME_LONG_LABEL;
        if (l > len - pos)
            return DNS_NAME_TRUNCATED;
        /* RFC 1035 2.3.4: the whole name, length octets included */
        if (pos + l + 1 > DNS_WIRE_NAME_MAX)
            return DNS_NAME_TOO_LONG;
        if (o > 0)
            out[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            enum dns_name_error e = dns_label_char(p[pos + i]);
            if (e != DNS_NAME_OK)
                return e;
            out[o++] = dns_lower(p[pos + i]);
        }
        pos += l;
    }
    out[o] = '\0';
    *used = pos;
    return DNS_NAME_OK;
}

enum dns_name_error
dns_mx_parse(const unsigned char *rd, size_t len, unsigned *pref,
             char name[DNS_NAME_MAX + 1])
{
    size_t used;

    if (len < 3)
        return DNS_NAME_TRUNCATED;
    enum dns_name_error e = dns_name_from_wire(rd + 2, len - 2, &used, name);
    if (e != DNS_NAME_OK)
        return e;
    if (used != len - 2)
        return DNS_NAME_TRAILING;
    *pref = (unsigned)rd[0] << 8 | rd[1];
    return DNS_NAME_OK;
}

static void
dns_rcode_text(int rcode, char *buf, size_t n)
{
    if (rcode >= 0 && (size_t)rcode < sizeof dns_rcode_words /
                                          sizeof *dns_rcode_words)
        snprintf(buf, n, "%s", dns_rcode_words[rcode]);
    else
        snprintf(buf, n, "rcode %d", rcode);
}

enum dns_answer_kind
dns_answer_classify(const struct dns_answer *a, char *why, size_t n)
{
    char rc[32];

    if (a->error != 0) {
        snprintf(why, n, "%s",
                 a->error_text ? a->error_text : "resolver error");
        return DNS_ANSWER_FAIL;
    }
    if (a->bogus) {
        snprintf(why, n, "DNSSEC validation failed");
        return DNS_ANSWER_FAIL;
    }
    if (a->nxdomain || a->rcode == DNS_RCODE_NXDOMAIN)
        return DNS_ANSWER_NXDOMAIN;
    if (a->rcode != 0) {
        dns_rcode_text(a->rcode, rc, sizeof rc);
        snprintf(why, n, "DNS server failure (%s)", rc);
        return DNS_ANSWER_FAIL;
    }
    if (a->havedata && a->data != NULL && a->data[0] != NULL)
        return DNS_ANSWER_DATA;
    return DNS_ANSWER_NODATA;
}

static void
dns_mx_result_set(struct dns_mx_result *res, enum dns_status s,
                  const char *why)
{
    dns_mx_result_clear(res);
    res->status = s;
    snprintf(res->why, sizeof res->why, "%s", why);
}

void
dns_mx_result_clear(struct dns_mx_result *res)
{
    for (size_t i = 0; i < res->n_hosts; i++)
        free(res->hosts[i].name);
    free(res->hosts);
    memset(res, 0, sizeof *res);
}

static int
dns_mx_pref_cmp(const void *a, const void *b)
{
    unsigned pa = ((const struct dns_mx *)a)->pref;
    unsigned pb = ((const struct dns_mx *)b)->pref;
    return (pa > pb) - (pa < pb);
}

void
dns_mx_sort(struct dns_mx *hosts, size_t n)
{
    if (n < 2)
        return;
    qsort(hosts, n, sizeof *hosts, dns_mx_pref_cmp);
    /* RFC 5321 5.1: equal preferences in random order, to spread load */
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && hosts[end].pref == hosts[start].pref;
             end++)
            ;
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + arc4random_uniform((uint32_t)(i - start + 1));
            struct dns_mx t = hosts[i];
            hosts[i] = hosts[j];
            hosts[j] = t;
        }
    }
}

/* Add name/pref unless name is there already; then keep the lower
 * preference. Returns -1 when out of memory. */
static int
dns_mx_add(struct dns_mx_result *res, const char *name, unsigned pref)
{
    for (size_t i = 0; i < res->n_hosts; i++) {
        if (strcmp(res->hosts[i].name, name) == 0) {
            if (pref < res->hosts[i].pref)
                res->hosts[i].pref = pref;
            return 0;
        }
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    res->hosts[res->n_hosts].name = copy;
    res->hosts[res->n_hosts++].pref = pref;
    return 0;
}

/* Collect the hosts of an MX RRset into res (hosts has room for all).
 * Counts null MX targets in *n_null and malformed records in *n_bad,
 * the first problem in bad. Returns -1 when out of memory. */
static int
dns_mx_collect(struct dns_mx_result *res, const struct dns_answer *a,
               size_t *n_null, size_t *n_bad, enum dns_name_error *bad)
{
    char name[DNS_NAME_MAX + 1];
    unsigned pref;

    for (size_t i = 0; a->data[i] != NULL; i++) {
        enum dns_name_error e =
            a->len[i] < 0 ? DNS_NAME_TRUNCATED
                          : dns_mx_parse((const unsigned char *)a->data[i],
                                         (size_t)a->len[i], &pref, name);
        if (e != DNS_NAME_OK) {
            if ((*n_bad)++ == 0)
                *bad = e;
        } else if (name[0] == '\0') {
            (*n_null)++; /* RFC 7505 3: target "." is no host at all */
        } else if (dns_mx_add(res, name, pref) < 0) {
            return -1;
        }
    }
    return 0;
}

static void
dns_mx_result_records(struct dns_mx_result *res, const struct dns_answer *a)
{
    size_t n = 0, n_null = 0, n_bad = 0;
    enum dns_name_error bad = DNS_NAME_OK;
    char why[DNS_WHY_MAX];

    while (a->data[n] != NULL)
        n++;
    res->hosts = calloc(n, sizeof *res->hosts);
    if (res->hosts == NULL ||
        dns_mx_collect(res, a, &n_null, &n_bad, &bad) < 0) {
        dns_mx_result_set(res, DNS_TEMPFAIL, "out of memory");
        return;
    }
    if (res->n_hosts > 0) {
        dns_mx_sort(res->hosts, res->n_hosts);
        res->status = DNS_OK;
        res->n_malformed = n_bad;
    } else if (n_null > 0 && n_bad == 0) {
        dns_mx_result_set(res, DNS_NULLMX,
                          "domain accepts no mail (null MX, RFC 7505)");
    } else {
        /* Postfix too defers on malformed MX data: maybe a zone typo */
        snprintf(why, sizeof why, "malformed MX record: %s",
                 dns_name_error_text(bad));
        dns_mx_result_set(res, DNS_TEMPFAIL, why);
    }
}

void
dns_mx_result_build(struct dns_mx_result *res, const char *domain,
                    const struct dns_answer *a)
{
    char why[DNS_WHY_MAX];

    memset(res, 0, sizeof *res);
    switch (dns_answer_classify(a, why, sizeof why)) {
    case DNS_ANSWER_FAIL:
        dns_mx_result_set(res, DNS_TEMPFAIL, why);
        return;
    case DNS_ANSWER_NXDOMAIN:
        snprintf(why, sizeof why, "domain %s not found (NXDOMAIN)", domain);
        dns_mx_result_set(res, DNS_NOTFOUND, why);
        return;
    case DNS_ANSWER_NODATA:
        /* RFC 5321 5.1: no MX -> an implicit MX of preference 0 */
        res->hosts = calloc(1, sizeof *res->hosts);
        if (res->hosts == NULL || dns_mx_add(res, domain, 0) < 0) {
            dns_mx_result_set(res, DNS_TEMPFAIL, "out of memory");
            return;
        }
        res->implicit = true;
        res->status = DNS_OK;
        return;
    case DNS_ANSWER_DATA:
        dns_mx_result_records(res, a);
        return;
    }
}

void
dns_addr_result_clear(struct dns_addr_result *res)
{
    free(res->addrs);
    memset(res, 0, sizeof *res);
}

static void
dns_addr_result_set(struct dns_addr_result *res, enum dns_status s,
                    const char *why)
{
    dns_addr_result_clear(res);
    res->status = s;
    snprintf(res->why, sizeof res->why, "%s", why);
}

static size_t
dns_answer_count(const struct dns_answer *a, enum dns_answer_kind kind)
{
    size_t n = 0;

    if (kind == DNS_ANSWER_DATA)
        while (a->data[n] != NULL)
            n++;
    return n;
}

/* Append the records of a that are exactly alen bytes (4 for A, 16 for
 * AAAA: RFC 1035 3.4.1, RFC 3596 2.2) as addresses of family af. Returns
 * how many were malformed. */
static size_t
dns_addr_append(struct dns_addr_result *res, const struct dns_answer *a,
                size_t count, int af)
{
    size_t bad = 0;

    for (size_t i = 0; i < count; i++) {
        struct sockaddr_storage *ss = &res->addrs[res->n_addrs];
        if (af == AF_INET6 && a->len[i] == 16) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
            s6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, a->data[i], 16);
        } else if (af == AF_INET && a->len[i] == 4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
            s4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, a->data[i], 4);
        } else {
            bad++;
            continue;
        }
        res->n_addrs++;
    }
    return bad;
}

/* Nothing usable came back: say why, temporary unless both answers said
 * the name has no address. */
static void
dns_addr_result_none(struct dns_addr_result *res, const char *host,
                     enum dns_answer_kind k6, const char *why6,
                     enum dns_answer_kind k4, const char *why4)
{
    char why[DNS_WHY_MAX];

    if (k6 == DNS_ANSWER_FAIL || k4 == DNS_ANSWER_FAIL) {
        snprintf(why, sizeof why, "%s: %s", host,
                 k6 == DNS_ANSWER_FAIL ? why6 : why4);
        dns_addr_result_set(res, DNS_TEMPFAIL, why);
    } else if (k6 == DNS_ANSWER_DATA || k4 == DNS_ANSWER_DATA) {
        snprintf(why, sizeof why, "%s: malformed address record", host);
        dns_addr_result_set(res, DNS_TEMPFAIL, why);
    } else if (k6 == DNS_ANSWER_NXDOMAIN || k4 == DNS_ANSWER_NXDOMAIN) {
        snprintf(why, sizeof why, "host %s not found (NXDOMAIN)", host);
        dns_addr_result_set(res, DNS_NOTFOUND, why);
    } else {
        snprintf(why, sizeof why, "host %s has no address", host);
        dns_addr_result_set(res, DNS_NOTFOUND, why);
    }
}

void
dns_addr_result_build(struct dns_addr_result *res, const char *host,
                      const struct dns_answer *aaaa,
                      const struct dns_answer *a)
{
    char why6[DNS_WHY_MAX] = "", why4[DNS_WHY_MAX] = "";
    enum dns_answer_kind k6 = dns_answer_classify(aaaa, why6, sizeof why6);
    enum dns_answer_kind k4 = dns_answer_classify(a, why4, sizeof why4);
    size_t n6 = dns_answer_count(aaaa, k6), n4 = dns_answer_count(a, k4);

    memset(res, 0, sizeof *res);
    if (n6 + n4 > 0) {
        res->addrs = calloc(n6 + n4, sizeof *res->addrs);
        if (res->addrs == NULL) {
            dns_addr_result_set(res, DNS_TEMPFAIL, "out of memory");
            return;
        }
        dns_addr_append(res, aaaa, n6, AF_INET6);
        dns_addr_append(res, a, n4, AF_INET);
    }
    if (res->n_addrs > 0) {
        res->status = DNS_OK;
        return;
    }
    dns_addr_result_none(res, host, k6, why6, k4, why4);
}

bool
dns_addr_literal(const char *host, struct dns_addr_result *res)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        return false;
    memset(res, 0, sizeof *res);
    res->addrs = malloc(sizeof *res->addrs);
    if (res->addrs == NULL) {
        dns_addr_result_set(res, DNS_TEMPFAIL, "out of memory");
        return true;
    }
    res->addrs[0] = ss;
    res->n_addrs = 1;
    res->status = DNS_OK;
    return true;
}
