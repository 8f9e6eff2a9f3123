/*
 * dns.h -- asynchronous DNS lookups for delivery: the MX list of a domain
 * (RFC 5321 5.1, null MX per RFC 7505) and the addresses of a host, through
 * libunbound inside the caller's libevent loop.
 *
 * libunbound runs its resolver in a thread of its own (ub_ctx_async(ctx, 1));
 * answers come back over a pipe that an EV_READ event of the caller's
 * event_base drains with ub_process(), so every callback runs from the loop,
 * in the loop's thread, and never from inside dns_lookup_*().
 *
 * Trust boundary: everything in an answer comes from the network. Names in
 * rdata are parsed bounds-checked (dns_answer.c) and handed out only in
 * presentation form, lower-case, letters, digits, '-' and '_' only.
 * Answers are not DNSSEC-validated (no trust anchor is configured).
 *
 * Create the resolver after any fork(): libunbound's thread does not
 * survive one.
 */
#ifndef TLSMTA_DNS_DNS_H
#define TLSMTA_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dns_resolver;
struct dns_query;                 /* a pending lookup, the handle to cancel */

#define DNS_WHY_MAX 256           /* bytes of the why[] texts, with the NUL */
#define DNS_TIMEOUT_DEFAULT_MS 30000 /* whole lookup, all retries included */

/* Create a resolver whose answers are delivered in base's loop.
 * forwarders: one or more "ADDRESS" or "ADDRESS@PORT" separated by spaces
 * ("127.0.0.1@5353", "::1@53 192.0.2.1"); libunbound forwards every query
 * to them (recursion desired) and caches answers. Loopback forwarders are
 * allowed. NULL or "" uses the nameservers of /etc/resolv.conf. Names
 * under "test." (RFC 6761) go to the forwarders too, which decide.
 * Returns 0 and *out (free with dns_resolver_free()), or -1 with a reason in
 * err (errlen bytes, always NUL-terminated): a forwarder that is not an IP
 * address, /etc/resolv.conf unreadable, libunbound or libevent failure. */
int dns_resolver_new(struct event_base *base, const char *forwarders,
                     struct dns_resolver **out, char *err, size_t errlen);

/* Bound every later lookup of r to ms milliseconds (0 restores
 * DNS_TIMEOUT_DEFAULT_MS); a lookup that takes longer ends with
 * DNS_TEMPFAIL "DNS lookup timed out". */
void dns_resolver_set_timeout(struct dns_resolver *r, unsigned ms);

/* Cancel every pending lookup of r (their callbacks are never called) and
 * free r. Safe at any time, also from inside a dns callback; NULL is a
 * no-op. */
void dns_resolver_free(struct dns_resolver *r);

enum dns_status {
    DNS_OK,       /* hosts/addrs hold at least one entry */
    DNS_NOTFOUND, /* NXDOMAIN, no address, invalid name: permanent (5.x.x) */
    DNS_TEMPFAIL, /* SERVFAIL, timeout, malformed answer, ENOMEM: defer */
    DNS_NULLMX,   /* RFC 7505: the domain accepts no mail (bounce 5.1.10) */
};

/* Words for logs: "ok", "not found", "temporary failure", "null MX". */
const char *dns_status_words(enum dns_status s);

struct dns_mx {
    char *name;                   /* host, lower-case, no trailing dot;
                                     owned by the result */
    unsigned pref;                /* preference, 0..65535 */
};

struct dns_mx_result {
    enum dns_status status;
    struct dns_mx *hosts;         /* n_hosts entries when DNS_OK, else NULL;
                                     owned by the result */
    size_t n_hosts;
    bool implicit;                /* no MX records: hosts[0] is the domain
                                     itself, pref 0 (RFC 5321 5.1) */
    char why[DNS_WHY_MAX];        /* reason when not DNS_OK, else "" */
    size_t n_malformed;           /* with DNS_OK: MX records dropped because
                                     their target is not a valid host name
                                     (for reports such as `tlsmta check`) */
};

/* res (and all it points to) is valid only during the call. */
typedef void (*dns_mx_cb)(void *arg, const struct dns_mx_result *res);

/* Look up the mail exchangers of domain (RFC 5321 5.1):
 *  - MX records: hosts sorted by preference, lowest first, hosts of equal
 *    preference in random order; a host listed twice keeps its lowest
 *    preference;
 *  - no MX records (NODATA): one implicit host, the domain itself;
 *  - only a null MX (target ".", RFC 7505 3): DNS_NULLMX; a "." target
 *    beside real hosts is ignored;
 *  - NXDOMAIN, or a domain that is not a valid host name (empty, over 253
 *    characters, empty or over-long label, a character other than letters,
 *    digits, '-', '_'; non-ASCII needs IDNA first): DNS_NOTFOUND;
 *  - SERVFAIL, REFUSED, timeout, no valid host in the records, bogus
 *    answer, out of memory: DNS_TEMPFAIL.
 * domain may end in one '.'; it is copied. cb(arg, res) is called exactly
 * once, later, from the event loop, unless the lookup is cancelled first.
 * Returns the handle, valid until cb starts or dns_cancel(); NULL only when
 * out of memory (then cb is never called). */
struct dns_query *dns_lookup_mx(struct dns_resolver *r, const char *domain,
                                dns_mx_cb cb, void *arg);

struct dns_addr_result {
    enum dns_status status;
    struct sockaddr_storage *addrs; /* n_addrs entries when DNS_OK: IPv6
                                       (AAAA) first, then IPv4 (A), port 0;
                                       owned by the result */
    size_t n_addrs;
    char why[DNS_WHY_MAX];        /* reason when not DNS_OK, else "" */
};

typedef void (*dns_addr_cb)(void *arg, const struct dns_addr_result *res);

/* Look up the addresses of host: AAAA and A queried in parallel.
 * DNS_OK when either gave an address (even if the other failed);
 * DNS_NOTFOUND when both answered NXDOMAIN or no data, or host is not a
 * valid name (as for dns_lookup_mx); DNS_TEMPFAIL when none was found and
 * either failed. An IPv4 or IPv6 address literal ("192.0.2.1", "::1", no
 * brackets) is returned as is, without a query. Callback and handle rules
 * as for dns_lookup_mx(). */
struct dns_query *dns_lookup_addr(struct dns_resolver *r, const char *host,
                                  dns_addr_cb cb, void *arg);

/* Cancel a pending lookup: its callback is never called, q is freed.
 * Must not be called after the callback started (q is gone then). NULL is
 * a no-op. */
void dns_cancel(struct dns_query *q);

#endif
