/*
 * check_domain.c -- `tlsmta check --domain`: the mail exchangers of a
 * domain (RFC 5321 5.1; null MX, RFC 7505) and then the addresses of each
 * (AAAA and A, RFC 5321 5.1) through the resolver delivery uses
 * (dns/dns.h: libunbound in a libevent loop), in a small loop of our own
 * that runs until the answer or the timeout.
 *
 * Trust boundary: the answer comes from the network; dns.c hands out
 * host names already checked (letters, digits, '-', '_', '.') and
 * addresses as sockaddrs.
 */
#include "check/check.h"
#include "check/check_conn.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

#define CHECK_DOMAIN_TIMEOUT_DEFAULT 10 /* seconds, as the probe's steps */

/* The lookup's outcome, filled by the callback. */
struct check_domain_lookup {
    struct event_base *base;      /* borrowed */
    bool done;
    int rc;                       /* 0 or -1 */
    char **hosts;                 /* MX: owned until handed out */
    size_t n_hosts;
    struct sockaddr_storage *addrs; /* addresses: owned until handed out */
    size_t n_addrs;
    char *err;                    /* borrowed from the caller */
    size_t errlen;
    char *note;                   /* MX: hosts skipped (borrowed), or NULL */
    size_t notelen;
};

/* An IPv4 or IPv6 address in text form. */
static bool
check_domain_is_address(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, buf) == 1 ||
           inet_pton(AF_INET6, name, buf) == 1;
}

/* Append one sentence to l->note. */
static void
check_domain_note(struct check_domain_lookup *l, const char *what,
                  const char *name)
{
    size_t used = strlen(l->note);

    if (used < l->notelen)
        snprintf(l->note + used, l->notelen - used, "%s%s%s",
                 used ? "; " : "", what, name);
}

/* Copy the hosts of res, but an address (RFC 5321 5.1: the target of an
 * MX is a host name; an address there is an error). Returns 0, or -1
 * when out of memory. */
static int
check_domain_copy(struct check_domain_lookup *l,
                  const struct dns_mx_result *res)
{
    char count[64];

    l->hosts = calloc(res->n_hosts, sizeof(*l->hosts));
    if (l->hosts == NULL)
        return -1;
    if (res->n_malformed > 0) {
        snprintf(count, sizeof(count), "%zu", res->n_malformed);
        check_domain_note(l, count, " MX record(s) dropped: the target is "
                          "not a valid host name");
    }
    for (size_t i = 0; i < res->n_hosts; i++) {
        if (check_domain_is_address(res->hosts[i].name)) {
            check_domain_note(l, "MX target is an IP address, not a host "
                              "name (RFC 5321 5.1): skipped ",
                              res->hosts[i].name);
            continue;
        }
        l->hosts[l->n_hosts] = strdup(res->hosts[i].name);
        if (l->hosts[l->n_hosts] == NULL)
            return -1;
        l->n_hosts++;
    }
    return 0;
}

static void
check_domain_mx_cb(void *arg, const struct dns_mx_result *res)
{
    struct check_domain_lookup *l = arg;

    l->done = true;
    event_base_loopbreak(l->base);
    if (res->status == DNS_NULLMX) {
        snprintf(l->err, l->errlen, "the domain accepts no mail (null MX, "
                 "RFC 7505)");
    } else if (res->status != DNS_OK || res->n_hosts == 0) {
        snprintf(l->err, l->errlen, "MX lookup failed: %s%s%s",
                 dns_status_words(res->status), res->why[0] ? ": " : "",
                 res->why);
    } else if (check_domain_copy(l, res) < 0) {
        snprintf(l->err, l->errlen, "out of memory");
    } else if (l->n_hosts == 0) {
        snprintf(l->err, l->errlen, "no MX host to check: %s", l->note);
    } else {
        l->rc = 0;
        return;
    }
    check_domain_free(l->hosts, l->n_hosts);
    l->hosts = NULL;
    l->n_hosts = 0;
}

static void
check_domain_addr_cb(void *arg, const struct dns_addr_result *res)
{
    struct check_domain_lookup *l = arg;

    l->done = true;
    event_base_loopbreak(l->base);
    if (res->status != DNS_OK || res->n_addrs == 0) {
        snprintf(l->err, l->errlen, "no address: %s%s%s",
                 dns_status_words(res->status), res->why[0] ? ": " : "",
                 res->why);
        return;
    }
    l->addrs = calloc(res->n_addrs, sizeof(*l->addrs));
    if (l->addrs == NULL) {
        snprintf(l->err, l->errlen, "out of memory");
        return;
    }
    memcpy(l->addrs, res->addrs, res->n_addrs * sizeof(*l->addrs));
    l->n_addrs = res->n_addrs;
    l->rc = 0;
}

/* Start the lookup of name on res: MX records when mx is set, else the
 * addresses. */
static struct dns_query *
check_domain_start(struct dns_resolver *res, const char *name, bool mx,
                   struct check_domain_lookup *l)
{
    return mx ? dns_lookup_mx(res, name, check_domain_mx_cb, l)
              : dns_lookup_addr(res, name, check_domain_addr_cb, l);
}

/* Run one lookup of name on a new base (l->base). */
static void
check_domain_run(const struct check_options *opt, const char *name, bool mx,
                 struct check_domain_lookup *l)
{
    struct event_base *base = l->base;
    struct dns_resolver *res = NULL;
    unsigned secs = opt->timeout ? opt->timeout
                                 : CHECK_DOMAIN_TIMEOUT_DEFAULT;
    /* The resolver ends its lookup in time; this only guards the loop. */
    struct timeval guard = {.tv_sec = (time_t)secs + 2};

    if (dns_resolver_new(base, opt->dns_resolver, &res, l->err, l->errlen) <
        0)
        return;
    dns_resolver_set_timeout(res, secs * 1000u);
    struct dns_query *q = check_domain_start(res, name, mx, l);
    if (q == NULL) {
        snprintf(l->err, l->errlen, "out of memory");
    } else {
        event_base_loopexit(base, &guard);
        event_base_dispatch(base);
        if (!l->done)
            snprintf(l->err, l->errlen, "DNS lookup timed out");
    }
    dns_resolver_free(res);
}

/* One lookup in a loop of its own. Returns 0 or -1 (l->err). */
static int
check_domain_lookup(const struct check_options *opt, const char *name,
                    bool mx, struct check_domain_lookup *l)
{
    if ((l->base = event_base_new()) == NULL) {
        snprintf(l->err, l->errlen, "cannot create an event loop");
        return -1;
    }
    check_domain_run(opt, name, mx, l);
    event_base_free(l->base);
    return l->rc;
}

int
check_domain_addrs(const struct check_options *opt, const char *host,
                   struct sockaddr_storage **addrs, size_t *n_addrs,
                   char *err, size_t errlen)
{
    struct check_domain_lookup l = {.rc = -1, .err = err, .errlen = errlen};

    *addrs = NULL;
    *n_addrs = 0;
    if (check_domain_lookup(opt, host, false, &l) < 0)
        return -1;
    *addrs = l.addrs;
    *n_addrs = l.n_addrs;
    return 0;
}

int
check_domain_mx(const struct check_options *opt, char ***hosts,
                size_t *n_hosts, char *note, size_t notelen, char *err,
                size_t errlen)
{
    struct check_domain_lookup l = {.rc = -1, .err = err, .errlen = errlen,
                                    .note = note, .notelen = notelen};

    note[0] = '\0';
    *hosts = NULL;
    *n_hosts = 0;
    snprintf(err, errlen, "no domain given");
    if (opt->domain == NULL || opt->domain[0] == '\0')
        return -1;
    if (check_domain_lookup(opt, opt->domain, true, &l) == 0) {
        *hosts = l.hosts;
        *n_hosts = l.n_hosts;
        err[0] = '\0';
    }
    return l.rc;
}

void
check_domain_free(char **hosts, size_t n_hosts)
{
    for (size_t i = 0; i < n_hosts; i++)
        free(hosts[i]);
    free(hosts);
}
