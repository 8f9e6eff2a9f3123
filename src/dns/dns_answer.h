/*
 * dns_answer.h -- the pure part of dns/: host name checks, domain names and
 * MX rdata from wire form (RFC 1035 3.1, 3.3.9), and the MX and address
 * results built from what libunbound answered (RFC 5321 5.1, RFC 7505).
 * No I/O, no libunbound types: unit-tested on its own (tests/unit/
 * test_dns.c).
 *
 * Trust boundary: rdata bytes come from the network. Every read is checked
 * against the rdata length; names are accepted only if each label holds
 * letters, digits, '-' or '_' (so a name can go into logs, SMTP and
 * certificate name checks as is).
 */
#ifndef TLSMTA_DNS_DNS_ANSWER_H
#define TLSMTA_DNS_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"

#define DNS_NAME_MAX 253      /* presentation, no trailing dot (RFC 1035
                                 2.3.4: 255 octets in wire form) */
#define DNS_WIRE_NAME_MAX 255 /* RFC 1035 2.3.4 */
#define DNS_LABEL_MAX 63      /* RFC 1035 2.3.4 */
#define DNS_RCODE_NXDOMAIN 3  /* RFC 1035 4.1.1 "Name Error" */

/* Why a name was refused: a validator result with its reason. */
enum dns_name_error {
    DNS_NAME_OK,
    DNS_NAME_EMPTY,          /* "" or "." */
    DNS_NAME_TOO_LONG,       /* over DNS_NAME_MAX / DNS_WIRE_NAME_MAX */
    DNS_NAME_EMPTY_LABEL,    /* "a..b", ".a" */
    DNS_NAME_LONG_LABEL,     /* a label over DNS_LABEL_MAX */
    DNS_NAME_BAD_CHAR,       /* space, control, punctuation ... */
    DNS_NAME_NON_ASCII,      /* a byte >= 0x80: IDNA A-labels needed */
    DNS_NAME_COMPRESSED,     /* wire: a compression pointer in rdata */
    DNS_NAME_TRUNCATED,      /* wire: ends before its root label */
    DNS_NAME_TRAILING,       /* wire: bytes after the name in rdata */
};

/* Words for a dns_name_error ("invalid character", ...), never NULL. */
const char *dns_name_error_text(enum dns_name_error e);

/* Check a name given by a caller (a domain or host) and write it to out
 * lower-case without its one optional trailing dot. out is written only
 * when DNS_NAME_OK is returned. */
enum dns_name_error dns_name_normalize(const char *in,
                                       char out[DNS_NAME_MAX + 1]);

/* Read an uncompressed wire-form name from p (len bytes available) into
 * out, lower-case, no trailing dot; the root name gives "". *used gets
 * the bytes it took. Compression pointers are refused: libunbound hands
 * rdata out decompressed. */
enum dns_name_error dns_name_from_wire(const unsigned char *p, size_t len,
                                       size_t *used,
                                       char out[DNS_NAME_MAX + 1]);

/* Parse MX rdata (RFC 1035 3.3.9: 16-bit PREFERENCE, EXCHANGE name) of
 * exactly len bytes. DNS_NAME_TRUNCATED when shorter than 3 bytes,
 * DNS_NAME_TRAILING when the name ends before len. */
enum dns_name_error dns_mx_parse(const unsigned char *rd, size_t len,
                                 unsigned *pref,
                                 char name[DNS_NAME_MAX + 1]);

/* One answer as libunbound gave it (fields of struct ub_result), so that
 * tests can build answers without libunbound. */
struct dns_answer {
    int error;                /* 0, or non-zero: no answer came */
    const char *error_text;   /* then why ("resolver error: ...") */
    int rcode;                /* RFC 1035 4.1.1 RCODE */
    bool nxdomain;
    bool havedata;
    bool bogus;               /* DNSSEC validation failed */
    char *const *data;        /* NULL-terminated rdata list, or NULL */
    const int *len;           /* len[i] bytes in data[i] */
};

enum dns_answer_kind {
    DNS_ANSWER_DATA,          /* records of the asked type */
    DNS_ANSWER_NODATA,        /* the name exists, no record of the type */
    DNS_ANSWER_NXDOMAIN,      /* the name does not exist */
    DNS_ANSWER_FAIL,          /* no usable answer: why says why */
};

/* Classify a; when DNS_ANSWER_FAIL, a reason goes to why (n bytes). */
enum dns_answer_kind dns_answer_classify(const struct dns_answer *a,
                                         char *why, size_t n);

/* Fill *res from the MX answer for domain (already normalized) as
 * dns_lookup_mx() documents. res->hosts is allocated (ENOMEM gives
 * DNS_TEMPFAIL); release with dns_mx_result_clear(). */
void dns_mx_result_build(struct dns_mx_result *res, const char *domain,
                         const struct dns_answer *a);
void dns_mx_result_clear(struct dns_mx_result *res);

/* Sort hosts by preference, lowest first, and shuffle each run of equal
 * preference (RFC 5321 5.1), with arc4random. */
void dns_mx_sort(struct dns_mx *hosts, size_t n);

/* Fill *res from the AAAA and A answers for host as dns_lookup_addr()
 * documents. res->addrs is allocated; release with
 * dns_addr_result_clear(). */
void dns_addr_result_build(struct dns_addr_result *res, const char *host,
                           const struct dns_answer *aaaa,
                           const struct dns_answer *a);
void dns_addr_result_clear(struct dns_addr_result *res);

/* If host is an IPv4 or IPv6 address literal, fill *res with it (DNS_OK)
 * and return true; else return false and leave *res alone. */
bool dns_addr_literal(const char *host, struct dns_addr_result *res);

#endif
