/*
 * dns.c -- libunbound inside a libevent loop: the resolver, MX and address
 * lookups, cancellation and timeouts (contracts in dns.h).
 *
 * libunbound resolves in a thread of its own and writes each answer to a
 * pipe; an EV_READ|EV_PERSIST event on that pipe (ub_fd) runs ub_process(),
 * which calls dns_ub_cb() for each answer. A lookup's own result, built in
 * dns_answer.c, is then handed to the caller's callback. Results that are
 * known at once (invalid name, address literal, submit failure) wait for a
 * zero-second timer, so no callback ever runs inside dns_lookup_*().
 *
 * libunbound must not be deleted from inside ub_process() (it keeps reading
 * its pipe after a callback returns), so a dns_resolver_free() from a
 * callback only cancels the lookups and marks the resolver; the fd event
 * finishes the job when ub_process() returns.
 *
 * Trust boundary: answers come from the network; dns_answer.c parses them.
 */
#include "dns/dns.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns_answer.h"

#define DNS_TYPE_A 1     /* RFC 1035 3.2.2 */
#define DNS_TYPE_MX 15   /* RFC 1035 3.2.2 */
#define DNS_TYPE_AAAA 28 /* RFC 3596 2.1 */
#define DNS_CLASS_IN 1   /* RFC 1035 3.2.4 */
#define DNS_FORWARDER_MAX 128 /* bytes of one "address@port" */

struct dns_resolver {
    struct event_base *base;     /* the caller's loop, borrowed */
    struct ub_ctx *ctx;          /* libunbound context, owned */
    struct event *ev;            /* reads answers from ub_fd(), owned */
    struct dns_query *queries;   /* pending lookups, owned, linked list */
    unsigned timeout_ms;         /* bound of each new lookup */
    bool processing;             /* inside ub_process() */
    bool dying;                  /* freed during ub_process(): finish after */
};

enum dns_kind { DNS_KIND_MX, DNS_KIND_ADDR };

/* One libunbound query of a lookup (MX; or AAAA and A). */
struct dns_sub {
    struct dns_query *q;         /* the lookup it belongs to */
    int id;                      /* libunbound async id while pending */
    bool pending;                /* submitted, no answer yet */
    struct ub_result *res;       /* the answer, owned, or NULL */
    char fail[DNS_WHY_MAX];      /* why there is no answer, or "" */
};

struct dns_query {
    struct dns_resolver *r;      /* owner, NULL once unlinked */
    struct dns_query *prev, *next; /* in r->queries */
    enum dns_kind kind;
    char name[DNS_NAME_MAX + 1]; /* normalized domain or host */
    struct dns_sub sub[2];       /* MX: sub[0]; ADDR: AAAA, A */
    size_t n_sub;
    dns_mx_cb mx_cb;             /* for DNS_KIND_MX */
    dns_addr_cb addr_cb;         /* for DNS_KIND_ADDR */
    void *arg;                   /* the callback's argument, borrowed */
    struct event *timer;         /* timeout; 0 s once the result is ready */
    bool ready;                  /* mx/addr below are built */
    struct dns_mx_result mx;     /* result, owned */
    struct dns_addr_result addr; /* result, owned */
};

static const char *const dns_status_text[] = {
    [DNS_OK] = "ok",
    [DNS_NOTFOUND] = "not found",
    [DNS_TEMPFAIL] = "temporary failure",
    [DNS_NULLMX] = "null MX",
};

const char *
dns_status_words(enum dns_status s)
{
    if ((size_t)s >= sizeof dns_status_text / sizeof *dns_status_text)
        return "unknown";
    return dns_status_text[s];
}

/* ---- resolver ---- */

static void dns_ub_fd_cb(evutil_socket_t fd, short what, void *arg);

/* Pass each space-separated forwarder to libunbound. */
static int
dns_set_forwarders(struct ub_ctx *ctx, const char *list, char *err,
                   size_t errlen)
{
    char one[DNS_FORWARDER_MAX];
    const char *p = list;

    for (;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0)
            return 0;
        if (n >= sizeof one) {
            snprintf(err, errlen, "DNS forwarder too long: %.40s...", p);
            return -1;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        int rc = ub_ctx_set_fwd(ctx, one);
        if (rc != 0) {
            snprintf(err, errlen, "invalid DNS forwarder \"%s\": %s "
                     "(want ADDRESS or ADDRESS@PORT)", one, ub_strerror(rc));
            return -1;
        }
        p += n;
    }
}

/* Settings every context gets; then the forwarders. */
static int
dns_ctx_setup(struct ub_ctx *ctx, const char *forwarders, char *err,
              size_t errlen)
{
    int rc = ub_ctx_async(ctx, 1);
    /* a forwarder on loopback (a local cache, a test server) is normal */
    if (rc == 0)
        rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
    /* libunbound answers .test (RFC 6761 6.2) NXDOMAIN itself; we only
     * forward, so let the forwarder, which knows its network, decide */
    if (rc == 0)
        rc = ub_ctx_set_option(ctx, "local-zone:", "test. transparent");
    if (rc != 0) {
        snprintf(err, errlen, "libunbound setup: %s", ub_strerror(rc));
        return -1;
    }
    if (forwarders != NULL && forwarders[strspn(forwarders, " \t")] != '\0')
        return dns_set_forwarders(ctx, forwarders, err, errlen);
    rc = ub_ctx_resolvconf(ctx, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot use /etc/resolv.conf: %s",
                 ub_strerror(rc));
        return -1;
    }
    return 0;
}

int
dns_resolver_new(struct event_base *base, const char *forwarders,
                 struct dns_resolver **out, char *err, size_t errlen)
{
    struct dns_resolver *r = calloc(1, sizeof *r);

    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->base = base;
    r->timeout_ms = DNS_TIMEOUT_DEFAULT_MS;
    r->ctx = ub_ctx_create();
    if (r->ctx == NULL) {
        snprintf(err, errlen, "cannot create libunbound context");
        goto fail;
    }
    if (dns_ctx_setup(r->ctx, forwarders, err, errlen) < 0)
        goto fail;
    r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST,
                      dns_ub_fd_cb, r);
    if (r->ev == NULL || event_add(r->ev, NULL) < 0) {
        snprintf(err, errlen, "cannot watch the libunbound pipe");
        goto fail;
    }
    *out = r;
    return 0;
fail:
    if (r->ev != NULL)
        event_free(r->ev);
    if (r->ctx != NULL)
        ub_ctx_delete(r->ctx);
    free(r);
    return -1;
}

void
dns_resolver_set_timeout(struct dns_resolver *r, unsigned ms)
{
    r->timeout_ms = ms > 0 ? ms : DNS_TIMEOUT_DEFAULT_MS;
}

static void
dns_resolver_destroy(struct dns_resolver *r)
{
    event_free(r->ev);
    ub_ctx_delete(r->ctx);
    free(r);
}

void
dns_resolver_free(struct dns_resolver *r)
{
    if (r == NULL || r->dying)
        return;
    while (r->queries != NULL)
        dns_cancel(r->queries);
    if (r->processing)
        r->dying = true; /* dns_ub_fd_cb() destroys it after ub_process() */
    else
        dns_resolver_destroy(r);
}

/* ---- one lookup ---- */

static void
dns_query_unlink(struct dns_query *q)
{
    struct dns_resolver *r = q->r;

    if (r == NULL)
        return;
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        r->queries = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
    q->r = NULL;
}

/* Free q and all it holds; it is unlinked and nothing of it is pending. */
static void
dns_query_destroy(struct dns_query *q)
{
    event_free(q->timer);
    for (size_t i = 0; i < q->n_sub; i++)
        ub_resolve_free(q->sub[i].res);
    dns_mx_result_clear(&q->mx);
    dns_addr_result_clear(&q->addr);
    free(q);
}

/* Tell libunbound to forget the pending queries of q: it then drops their
 * answers without a callback. why: the failure recorded for each. */
static void
dns_query_stop(struct dns_query *q, const char *why)
{
    for (size_t i = 0; i < q->n_sub; i++) {
        struct dns_sub *s = &q->sub[i];
        if (!s->pending)
            continue;
        if (q->r != NULL)
            (void)ub_cancel(q->r->ctx, s->id);
        s->pending = false;
        snprintf(s->fail, sizeof s->fail, "%s", why);
    }
}

void
dns_cancel(struct dns_query *q)
{
    if (q == NULL)
        return;
    dns_query_stop(q, "cancelled");
    dns_query_unlink(q);
    dns_query_destroy(q);
}

/* The answer of s in dns_answer form (pointing into s->res). */
static void
dns_sub_answer(const struct dns_sub *s, struct dns_answer *a)
{
    memset(a, 0, sizeof *a);
    if (s->fail[0] != '\0' || s->res == NULL) {
        a->error = 1;
        a->error_text = s->fail[0] != '\0' ? s->fail : "no answer";
        return;
    }
    a->rcode = s->res->rcode;
    a->nxdomain = s->res->nxdomain != 0;
    a->havedata = s->res->havedata != 0;
    a->bogus = s->res->bogus != 0;
    a->data = s->res->data;
    a->len = s->res->len;
}

static void
dns_query_build(struct dns_query *q)
{
    struct dns_answer a0, a1;

    dns_sub_answer(&q->sub[0], &a0);
    if (q->kind == DNS_KIND_MX) {
        dns_mx_result_build(&q->mx, q->name, &a0);
    } else {
        dns_sub_answer(&q->sub[1], &a1);
        dns_addr_result_build(&q->addr, q->name, &a0, &a1);
    }
    q->ready = true;
}

/* Hand the result to the caller, then free q. The callback may cancel
 * other lookups, start new ones or free the resolver: q is already out of
 * the resolver's list, and nothing here touches the resolver afterwards. */
static void
dns_query_deliver(struct dns_query *q)
{
    dns_query_unlink(q);
    if (q->kind == DNS_KIND_MX)
        q->mx_cb(q->arg, &q->mx);
    else
        q->addr_cb(q->arg, &q->addr);
    dns_query_destroy(q);
}

/* The result is known but we are inside dns_lookup_*(): deliver from the
 * loop, at its next turn. */
static void
dns_query_defer(struct dns_query *q)
{
    static const struct timeval now = {0, 0};

    q->ready = true;
    evtimer_add(q->timer, &now);
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_query *q = arg;

    (void)fd;
    (void)what;
    if (!q->ready) {
        dns_query_stop(q, "DNS lookup timed out");
        dns_query_build(q);
    }
    dns_query_deliver(q);
}

/* All answers in? Then build the result and deliver it. */
static void
dns_query_settle(struct dns_query *q, bool in_loop)
{
    for (size_t i = 0; i < q->n_sub; i++)
        if (q->sub[i].pending)
            return;
    dns_query_build(q);
    if (in_loop)
        dns_query_deliver(q);
    else
        dns_query_defer(q);
}

/* libunbound's callback, from ub_process(): res is ours to free. */
static void
dns_ub_cb(void *arg, int err, struct ub_result *res)
{
    struct dns_sub *s = arg;

    s->pending = false;
    s->res = res;
    if (err != 0)
        snprintf(s->fail, sizeof s->fail, "resolver error: %s",
                 ub_strerror(err));
    dns_query_settle(s->q, true);
}

static void
dns_ub_fd_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_resolver *r = arg;

    (void)fd;
    (void)what;
    r->processing = true;
    (void)ub_process(r->ctx); /* errors show as failed lookups/timeouts */
    r->processing = false;
    if (r->dying)
        dns_resolver_destroy(r);
}

static struct dns_query *
dns_query_new(struct dns_resolver *r, enum dns_kind kind, void *arg)
{
    struct dns_query *q = calloc(1, sizeof *q);

    if (q == NULL)
        return NULL;
    q->timer = evtimer_new(r->base, dns_timer_cb, q);
    if (q->timer == NULL) {
        free(q);
        return NULL;
    }
    struct timeval tv = {r->timeout_ms / 1000, r->timeout_ms % 1000 * 1000};
    evtimer_add(q->timer, &tv);
    q->kind = kind;
    q->arg = arg;
    q->r = r;
    q->next = r->queries;
    if (r->queries != NULL)
        r->queries->prev = q;
    r->queries = q;
    return q;
}

/* Start the libunbound queries of q, one per type in types[]. */
static void
dns_query_submit(struct dns_query *q, const int *types, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct dns_sub *s = &q->sub[q->n_sub++];
        s->q = q;
        int rc = ub_resolve_async(q->r->ctx, q->name, types[i], DNS_CLASS_IN,
                                  s, dns_ub_cb, &s->id);
        if (rc == 0)
            s->pending = true;
        else
            snprintf(s->fail, sizeof s->fail, "resolver error: %s",
                     ub_strerror(rc));
    }
    dns_query_settle(q, false);
}

/* Check and copy name into q; if invalid, the result is DNS_NOTFOUND,
 * delivered from the loop, and false is returned. */
static bool
dns_query_name(struct dns_query *q, const char *name, const char *what)
{
    enum dns_name_error e = dns_name_normalize(name, q->name);
    char why[DNS_WHY_MAX];

    if (e == DNS_NAME_OK)
        return true;
    snprintf(why, sizeof why, "invalid %s name: %s", what,
             dns_name_error_text(e));
    if (q->kind == DNS_KIND_MX) {
        q->mx.status = DNS_NOTFOUND;
        snprintf(q->mx.why, sizeof q->mx.why, "%s", why);
    } else {
        q->addr.status = DNS_NOTFOUND;
        snprintf(q->addr.why, sizeof q->addr.why, "%s", why);
    }
    dns_query_defer(q);
    return false;
}

struct dns_query *
dns_lookup_mx(struct dns_resolver *r, const char *domain, dns_mx_cb cb,
              void *arg)
{
    static const int types[] = {DNS_TYPE_MX};
    struct dns_query *q = dns_query_new(r, DNS_KIND_MX, arg);

    if (q == NULL)
        return NULL;
    q->mx_cb = cb;
    if (dns_query_name(q, domain, "domain"))
        dns_query_submit(q, types, 1);
    return q;
}

struct dns_query *
dns_lookup_addr(struct dns_resolver *r, const char *host, dns_addr_cb cb,
                void *arg)
{
    /* AAAA first: the result lists IPv6 before IPv4 */
    static const int types[] = {DNS_TYPE_AAAA, DNS_TYPE_A};
    struct dns_query *q = dns_query_new(r, DNS_KIND_ADDR, arg);

    if (q == NULL)
        return NULL;
    q->addr_cb = cb;
    if (dns_addr_literal(host, &q->addr))
        dns_query_defer(q);
    else if (dns_query_name(q, host, "host"))
        dns_query_submit(q, types, 2);
    return q;
}
