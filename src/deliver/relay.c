/*
 * relay.c -- routing and the MX walk of outbound delivery (relay.h):
 * relayhost, then the transport table, then MX records (RFC 5321 5.1:
 * preference order, equal preferences shuffled by dns/, no MX means the
 * domain itself, null MX (RFC 7505) bounces), every address of every host
 * tried in order before deferring; the TLS security level of the next hop;
 * concurrency limits; one log line per recipient and attempt.
 *
 * Trust boundary: DNS answers and remote replies are untrusted (parsed by
 * dns/ and smtp/); routing tables come from the administrator.
 */
#include "deliver/relay_internal.h"

#include "dns/dns.h"
#include "util/util_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RELAY_DSN_NOT_FOUND "5.4.4"   /* RFC 3463: unable to route */
#define RELAY_DSN_NULL_MX "5.1.10"    /* RFC 7505 4.2 */
#define RELAY_DSN_DNS_TEMP "4.4.3"    /* RFC 3463: directory server failure */
#define RELAY_DSN_LOOP "5.4.6"        /* RFC 3463: routing loop */
#define RELAY_MAX_TRIES 10            /* connections per delivery */

/* ---- results ---------------------------------------------------------- */

void
relay_fmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

void
relay_job_error(struct relay_job *job, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->last_error, sizeof(job->last_error), fmt, ap);
    va_end(ap);
    snprintf(job->last_dsn, sizeof(job->last_dsn), "%s", dsn);
}

/* Every recipient still without a result gets status and the last
 * error. */
static void
relay_job_fail_rest(struct relay_job *job, enum relay_status status)
{
    for (size_t i = 0; i < job->n_rcpts; i++) {
        struct relay_result *res = &job->results[i];
        if (res->dsn[0] != '\0')
            continue;
        res->status = status;
        snprintf(res->dsn, sizeof(res->dsn), "%s",
                 job->last_dsn[0] ? job->last_dsn : "4.4.1");
        snprintf(res->text, sizeof(res->text), "%s",
                 job->last_error[0] ? job->last_error : "delivery failed");
    }
}

static const char *const relay_status_words[] = {
    [RELAY_SENT] = "sent",
    [RELAY_DEFERRED] = "deferred",
    [RELAY_BOUNCED] = "bounced",
};

/* One line per recipient (STYLE.md "Logs": every delivery attempt states
 * its TLS outcome in words). */
static void
relay_job_log(const struct relay_job *job)
{
    double delay = difftime(time(NULL), job->m.arrival);
    for (size_t i = 0; i < job->n_rcpts; i++) {
        const struct relay_result *res = &job->results[i];
        log_msg(res->status == RELAY_SENT ? LOG_INFO : LOG_WARNING,
                "%s to=<%s> relay=%s delay=%.0f dsn=%s tls=%s status=%s (%s)",
             job->m.id, job->rcpts[i],
             job->relay_text[0] ? job->relay_text : "none", delay, res->dsn,
             job->tls_summary[0] ? job->tls_summary : "none",
             relay_status_words[res->status], res->text);
    }
}

static void relay_pump(struct relay *r);

static struct relay_dest *
relay_dest_find(struct relay *r, const char *key)
{
    for (struct relay_dest *d = r->dests; d; d = d->next)
        if (strcmp(d->key, key) == 0)
            return d;
    return NULL;
}

/* Give back the job's concurrency slot. */
static void
relay_job_release(struct relay_job *job)
{
    struct relay *r = job->r;
    if (!job->running)
        return;
    job->running = false;
    r->n_running--;
    struct relay_dest **pp = &r->dests;
    for (struct relay_dest *d = r->dests; d; pp = &d->next, d = d->next) {
        if (strcmp(d->key, job->key) != 0)
            continue;
        if (--d->active == 0) {
            *pp = d->next;
            free(d);
        }
        break;
    }
}

static void
relay_job_free(struct relay_job *job)
{
    struct relay *r = job->r;
    if (job->q != NULL)
        dns_cancel(job->q);
    relay_conn_free(job);
    relay_job_release(job);
    for (size_t i = 0; i < job->n_mx; i++)
        free(job->mx_hosts[i]);
    free(job->mx_hosts);
    free(job->addrs);
    free(job->results);
    if (job->done_ev != NULL)
        event_free(job->done_ev);
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        r->jobs = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    r->n_jobs--;
    free(job);
}

static void
relay_done_cb_ev(evutil_socket_t fd, short what, void *arg)
{
    struct relay_job *job = arg;
    struct relay *r = job->r;
    (void)fd;
    (void)what;
    relay_job_log(job);
    job->cb(job->arg, job->results, job->n_rcpts);
    relay_job_free(job);
    relay_pump(r);
}

/* The results are final: release the slot now, report from the loop. */
static void
relay_job_finish(struct relay_job *job, enum relay_status rest)
{
    if (job->finished)
        return;
    relay_job_fail_rest(job, rest);
    job->finished = true;
    if (job->q != NULL)
        dns_cancel(job->q);
    job->q = NULL;
    relay_conn_free(job);
    relay_job_release(job);
    event_active(job->done_ev, 0, 0);
}

/* ---- the walk over hosts and addresses -------------------------------- */

static void relay_next_host(struct relay_job *job);

/* Try the next address of the current host, or the next host. */
static void
relay_next_addr(struct relay_job *job)
{
    /* Like Postfix's smtp_mx_address_limit: a destination with many
     * unresponsive addresses must not hold a delivery slot for hours. */
    if (job->n_tries >= RELAY_MAX_TRIES) {
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    if (job->i_addr >= job->n_addrs) {
        job->i_mx++;
        relay_next_host(job);
        return;
    }
    relay_conn_start(job);
}

void
relay_conn_over(struct relay_job *job)
{
    /* relay_conn.c filled results of recipients that got an answer, or
     * set job->last_error and asked for the next address. */
    bool all_done = true;
    for (size_t i = 0; i < job->n_rcpts; i++)
        all_done &= job->results[i].dsn[0] != '\0';
    relay_conn_free(job);
    if (all_done) {
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    job->plaintext = false;
    job->i_addr++;
    relay_next_addr(job);
}

static void
relay_addr_cb(void *arg, const struct dns_addr_result *res)
{
    struct relay_job *job = arg;
    const char *host = job->mx_hosts[job->i_mx];
    job->q = NULL;
    if (res->status != DNS_OK) {
        bool perm = res->status == DNS_NOTFOUND;
        relay_job_error(job, perm ? "4.4.4" : RELAY_DSN_DNS_TEMP,
                        "Host or domain name not found. Name service error "
                        "for name=%s type=A/AAAA: %s",
                        host, res->why);
        /* RFC 5321 5.1: a domain without MX is its own mail host; if it
         * has no address either, nothing will ever deliver to it. */
        if (perm && job->n_mx == 1 && job->mx && job->i_mx == 0 &&
            strcmp(host, job->host) == 0) {
            snprintf(job->last_dsn, sizeof(job->last_dsn), "%s",
                     RELAY_DSN_NOT_FOUND);
            relay_job_finish(job, RELAY_BOUNCED);
            return;
        }
        job->i_mx++;
        relay_next_host(job);
        return;
    }
    free(job->addrs);
    job->addrs = calloc(res->n_addrs, sizeof(*job->addrs));
    if (job->addrs == NULL) {
        relay_job_error(job, "4.3.0", "out of memory");
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    memcpy(job->addrs, res->addrs, res->n_addrs * sizeof(*job->addrs));
    job->n_addrs = res->n_addrs;
    job->i_addr = 0;
    relay_next_addr(job);
}

/* An IP literal ("[192.0.2.1]") needs no lookup. */
static bool
relay_literal(const char *host, struct sockaddr_storage *out)
{
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static void
relay_next_host(struct relay_job *job)
{
    struct sockaddr_storage lit;
    if (job->i_mx >= job->n_mx) {
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    job->plaintext = false;
    const char *host = job->mx_hosts[job->i_mx];
    if (relay_literal(host, &lit)) {
        struct dns_addr_result res = {.status = DNS_OK, .addrs = &lit,
                                      .n_addrs = 1};
        relay_addr_cb(job, &res);
        return;
    }
    job->q = dns_lookup_addr(job->r->dns, host, relay_addr_cb, job);
    if (job->q == NULL) {
        relay_job_error(job, "4.3.0", "cannot start a DNS lookup");
        relay_job_finish(job, RELAY_DEFERRED);
    }
}

static int
relay_hosts_add(struct relay_job *job, const char *name)
{
    char **v = reallocarray(job->mx_hosts, job->n_mx + 1, sizeof(*v));
    if (v == NULL)
        return -1;
    job->mx_hosts = v;
    if ((v[job->n_mx] = strdup(name)) == NULL)
        return -1;
    job->n_mx++;
    return 0;
}

/* RFC 5321 5.1: if we are one of the MX hosts, only the more preferred
 * ones may be tried; if we are the most preferred, mail loops. Returns the
 * number of hosts to keep. */
static size_t
relay_mx_cut_self(const struct relay_job *job, const struct dns_mx_result *res)
{
    const char *me = job->r->cfg->hostname;
    if (me == NULL)
        return res->n_hosts;
    for (size_t i = 0; i < res->n_hosts; i++) {
        if (strcasecmp(res->hosts[i].name, me) != 0)
            continue;
        size_t keep = 0;
        while (keep < res->n_hosts &&
               res->hosts[keep].pref < res->hosts[i].pref)
            keep++;
        return keep;
    }
    return res->n_hosts;
}

static void
relay_mx_cb(void *arg, const struct dns_mx_result *res)
{
    struct relay_job *job = arg;
    job->q = NULL;
    if (res->status == DNS_NULLMX) {
        relay_job_error(job, RELAY_DSN_NULL_MX,
                        "Domain %s does not accept mail (null MX, RFC 7505)",
                        job->host);
        relay_job_finish(job, RELAY_BOUNCED);
        return;
    }
    if (res->status != DNS_OK) {
        bool perm = res->status == DNS_NOTFOUND;
        relay_job_error(job, perm ? RELAY_DSN_NOT_FOUND : RELAY_DSN_DNS_TEMP,
                        "Host or domain name not found. Name service error "
                        "for name=%s type=MX: %s",
                        job->host, res->why);
        relay_job_finish(job, perm ? RELAY_BOUNCED : RELAY_DEFERRED);
        return;
    }
    size_t keep = relay_mx_cut_self(job, res);
    if (keep == 0) {
        relay_job_error(job, RELAY_DSN_LOOP,
                        "mail for %s loops back to myself", job->host);
        relay_job_finish(job, RELAY_BOUNCED);
        return;
    }
    for (size_t i = 0; i < keep; i++) {
        struct sockaddr_storage lit;
        /* RFC 5321 5.1: an MX names a host; an address there is a
         * misconfiguration (or a trick), skipped as Postfix does. */
        if (relay_literal(res->hosts[i].name, &lit)) {
            log_warn("%s MX of %s is an address, skipped: %s", job->m.id,
                     job->host, res->hosts[i].name);
            continue;
        }
        if (relay_hosts_add(job, res->hosts[i].name) < 0) {
            relay_job_error(job, "4.3.0", "out of memory");
            relay_job_finish(job, RELAY_DEFERRED);
            return;
        }
    }
    if (job->n_mx == 0) {
        relay_job_error(job, RELAY_DSN_DNS_TEMP,
                        "no usable MX host for %s", job->host);
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    relay_next_host(job);
}

/* ---- routing ---------------------------------------------------------- */

/* An address literal domain (RFC 5321 4.1.3): "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]". Writes the bare address to out. */
static bool
relay_domain_literal(const char *domain, char *out, size_t n)
{
    struct sockaddr_storage ss;
    size_t len = strlen(domain);
    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
        return false;
    const char *a = domain + 1;
    size_t alen = len - 2;
    if (alen > 5 && strncasecmp(a, "IPv6:", 5) == 0) {
        a += 5;
        alen -= 5;
    }
    if (alen >= n)
        return false;
    snprintf(out, n, "%.*s", (int)alen, a);
    return relay_literal(out, &ss);
}

/* The transport entry of the domain, else relayhost, else the domain's
 * MX hosts (Postfix's order: transport_maps override relayhost). */
static void
relay_route(struct relay_job *job)
{
    const struct config *cfg = job->r->cfg;
    const struct config_nexthop *nh = config_transport_lookup(cfg, job->domain);
    if (nh == NULL && cfg->relayhost.host != NULL)
        nh = &cfg->relayhost;
    if (nh != NULL) {
        snprintf(job->host, sizeof(job->host), "%s", nh->host);
        snprintf(job->key, sizeof(job->key), "%s", nh->key);
        job->port = nh->port;
        job->mx = nh->mx;
        job->implicit_tls = nh->implicit_tls;
    } else if (relay_domain_literal(job->domain, job->host,
                                    sizeof(job->host))) {
        /* RFC 5321 4.1.3: user@[192.0.2.1] goes to that address. */
        relay_fmt(job->key, sizeof(job->key), "[%s]:25", job->host);
        job->port = 25;
        job->mx = false;
    } else {
        snprintf(job->host, sizeof(job->host), "%s", job->domain);
        snprintf(job->key, sizeof(job->key), "%s", job->domain);
        job->port = 25;
        job->mx = true;
    }
    job->policy = config_tls_policy_lookup(cfg, job->key);
    job->level = job->policy != NULL ? job->policy->level
                                     : cfg->outbound_tls_security_level;
    job->auth = config_sasl_password_lookup(cfg, job->key);
    /* A password never crosses the network in clear (RFC 4954 4: the
     * client should only use mechanisms like PLAIN under TLS). */
    if (job->auth != NULL && job->level < CONFIG_TLS_LEVEL_ENCRYPT)
        job->level = CONFIG_TLS_LEVEL_ENCRYPT;
}

static void
relay_job_start(struct relay_job *job)
{
    if (job->mx) {
        job->q = dns_lookup_mx(job->r->dns, job->host, relay_mx_cb, job);
        if (job->q == NULL) {
            relay_job_error(job, "4.3.0", "cannot start a DNS lookup");
            relay_job_finish(job, RELAY_DEFERRED);
        }
        return;
    }
    if (relay_hosts_add(job, job->host) < 0) {
        relay_job_error(job, "4.3.0", "out of memory");
        relay_job_finish(job, RELAY_DEFERRED);
        return;
    }
    relay_next_host(job);
}

/* Start waiting jobs, oldest first, within the concurrency limits. */
static void
relay_pump(struct relay *r)
{
    const struct config *cfg = r->cfg;
    for (struct relay_job *job = r->jobs; job != NULL; job = job->next) {
        if (r->n_running >= cfg->outbound_concurrency_limit)
            return;
        if (job->running || job->finished)
            continue;
        struct relay_dest *d = relay_dest_find(r, job->key);
        if (d != NULL && d->active >= cfg->destination_concurrency_limit)
            continue;
        if (d == NULL) {
            if ((d = calloc(1, sizeof(*d))) == NULL)
                return;
            snprintf(d->key, sizeof(d->key), "%s", job->key);
            d->next = r->dests;
            r->dests = d;
        }
        d->active++;
        r->n_running++;
        job->running = true;
        relay_job_start(job);
    }
}

/* ---- the engine ------------------------------------------------------- */

struct relay *
relay_new(struct event_base *base, const struct config *cfg, char *err,
          size_t errlen)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->base = base;
    r->cfg = cfg;
    if (dns_resolver_new(base, cfg->dns_resolver, &r->dns, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    if ((r->ssl_ctx = tls_client_ctx_new(cfg, err, errlen)) == NULL) {
        dns_resolver_free(r->dns);
        free(r);
        return NULL;
    }
    return r;
}

void
relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    while (r->jobs != NULL)
        relay_job_free(r->jobs);
    while (r->dests != NULL) {
        struct relay_dest *next = r->dests->next;
        free(r->dests);
        r->dests = next;
    }
    dns_resolver_free(r->dns);
    SSL_CTX_free(r->ssl_ctx);
    free(r);
}

size_t
relay_active(const struct relay *r)
{
    return r->n_jobs;
}

int
relay_deliver(struct relay *r, const struct relay_msg *m, const char *domain,
              const char *const *rcpts, size_t n, relay_done_cb cb, void *arg)
{
    struct relay_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -1;
    job->results = calloc(n, sizeof(*job->results));
    job->done_ev = event_new(r->base, -1, 0, relay_done_cb_ev, job);
    if (job->results == NULL || job->done_ev == NULL) {
        free(job->results);
        if (job->done_ev != NULL)
            event_free(job->done_ev);
        free(job);
        return -1;
    }
    job->r = r;
    job->m = *m;
    snprintf(job->domain, sizeof(job->domain), "%s", domain);
    job->rcpts = rcpts;
    job->n_rcpts = n;
    job->cb = cb;
    job->arg = arg;
    relay_route(job);
    /* Append: relay_pump() starts jobs in arrival order. */
    struct relay_job **pp = &r->jobs, *prev = NULL;
    while (*pp != NULL) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    job->prev = prev;
    *pp = job;
    r->n_jobs++;
    relay_pump(r);
    return 0;
}
