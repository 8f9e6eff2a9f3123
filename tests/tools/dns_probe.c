/*
 * dns_probe.c -- drive src/dns in a libevent loop against a real DNS
 * server, for tests/integration/test_dns.py. Not installed.
 *
 * Usage: dns_probe [-t MS] [-n N] [-c] [-F] FORWARDERS KIND NAME [KIND NAME...]
 *   FORWARDERS  "127.0.0.1@5353" (dns_resolver_new(); never resolv.conf)
 *   KIND        mx | addr
 *   -t MS       dns_resolver_set_timeout()
 *   -n N        start every lookup N times at once
 *   -c          cancel every lookup right after starting it, run the loop
 *               for 500 ms, print {"cancelled": COUNT}
 *   -F          free the resolver inside the first callback
 * Prints one JSON object per result:
 *   {"kind":"mx","name":N,"status":"OK","implicit":false,
 *    "hosts":[["mx1.example.test",10]],"why":"","ms":3}
 *   {"kind":"addr","name":N,"status":"OK","addrs":["::1","127.0.0.5"],...}
 * status is OK, NOTFOUND, TEMPFAIL or NULLMX. Exit 0; 2 on usage or setup
 * error; abort() if a callback runs inside dns_lookup_*() or after the
 * resolver was freed.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"

#define PROBE_DEADLINE_S 60

static const char *const probe_status[] = {
    [DNS_OK] = "OK",
    [DNS_NOTFOUND] = "NOTFOUND",
    [DNS_TEMPFAIL] = "TEMPFAIL",
    [DNS_NULLMX] = "NULLMX",
};

struct probe_lookup {
    const char *kind;            /* "mx" or "addr" */
    const char *name;            /* as given */
    struct timespec start;
};

static struct event_base *probe_base;
static struct dns_resolver *probe_resolver;
static bool probe_in_lookup;     /* inside dns_lookup_*() */
static bool probe_free_in_cb;    /* -F */
static bool probe_freed;
static size_t probe_outstanding;

static void
probe_json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) /* UTF-8 passes as is */
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static long
probe_ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Common start of a result line; checks the callback rules. */
static void
probe_begin(const struct probe_lookup *l, enum dns_status status)
{
    if (probe_in_lookup || probe_freed) {
        fprintf(stderr, "dns_probe: callback %s\n",
                probe_in_lookup ? "inside dns_lookup" : "after free");
        abort();
    }
    printf("{\"kind\":\"%s\",\"name\":", l->kind);
    probe_json_string(l->name);
    printf(",\"status\":\"%s\"", probe_status[status]);
}

static void
probe_end(struct probe_lookup *l, const char *why)
{
    printf(",\"why\":");
    probe_json_string(why);
    printf(",\"ms\":%ld}\n", probe_ms_since(&l->start));
    fflush(stdout);
    if (probe_free_in_cb && !probe_freed) {
        static const struct timeval linger = {0, 300000};
        dns_resolver_free(probe_resolver);
        probe_freed = true;
        /* run on a little: a callback now would abort in probe_begin() */
        event_base_loopexit(probe_base, &linger);
    }
    if (--probe_outstanding == 0)
        event_base_loopexit(probe_base, NULL);
}

static void
probe_mx_cb(void *arg, const struct dns_mx_result *res)
{
    struct probe_lookup *l = arg;

    probe_begin(l, res->status);
    printf(",\"implicit\":%s,\"hosts\":[", res->implicit ? "true" : "false");
    for (size_t i = 0; i < res->n_hosts; i++) {
        printf("%s[", i ? "," : "");
        probe_json_string(res->hosts[i].name);
        printf(",%u]", res->hosts[i].pref);
    }
    putchar(']');
    probe_end(l, res->why);
}

static void
probe_addr_cb(void *arg, const struct dns_addr_result *res)
{
    struct probe_lookup *l = arg;
    char buf[INET6_ADDRSTRLEN];

    probe_begin(l, res->status);
    printf(",\"addrs\":[");
    for (size_t i = 0; i < res->n_addrs; i++) {
        const struct sockaddr_storage *ss = &res->addrs[i];
        const void *a = ss->ss_family == AF_INET6
            ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
            : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
        inet_ntop(ss->ss_family, a, buf, sizeof buf);
        printf("%s\"%s\"", i ? "," : "", buf);
    }
    putchar(']');
    probe_end(l, res->why);
}

/* Start one lookup; l belongs to main(), which frees all of them. */
static struct dns_query *
probe_start(struct probe_lookup *l, const char *kind, const char *name)
{
    struct dns_query *q;

    l->kind = kind;
    l->name = name;
    clock_gettime(CLOCK_MONOTONIC, &l->start);
    probe_in_lookup = true;
    if (strcmp(kind, "mx") == 0)
        q = dns_lookup_mx(probe_resolver, name, probe_mx_cb, l);
    else
        q = dns_lookup_addr(probe_resolver, name, probe_addr_cb, l);
    probe_in_lookup = false;
    if (q != NULL)
        probe_outstanding++;
    return q;
}

static void
probe_cancel_all(struct dns_query **qs, size_t n)
{
    static const struct timeval wait = {0, 500000};

    for (size_t i = 0; i < n; i++) {
        if (qs[i] != NULL) {
            probe_outstanding--; /* its callback never runs */
            dns_cancel(qs[i]);
        }
    }
    event_base_loopexit(probe_base, &wait);
    event_base_dispatch(probe_base);
    printf("{\"cancelled\":%zu}\n", n);
}

static int
probe_usage(void)
{
    fprintf(stderr, "usage: dns_probe [-t MS] [-n N] [-c] [-F] FORWARDERS "
                    "mx|addr NAME [mx|addr NAME ...]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    unsigned timeout_ms = 0, repeat = 1;
    bool cancel = false;
    char err[256];
    int opt;

    while ((opt = getopt(argc, argv, "t:n:cF")) != -1) {
        if (opt == 't')
            timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
        else if (opt == 'n')
            repeat = (unsigned)strtoul(optarg, NULL, 10);
        else if (opt == 'c')
            cancel = true;
        else if (opt == 'F')
            probe_free_in_cb = true;
        else
            return probe_usage();
    }
    if (argc - optind < 3 || (argc - optind) % 2 != 1 || repeat == 0)
        return probe_usage();
    for (int i = optind + 1; i < argc; i += 2)
        if (strcmp(argv[i], "mx") != 0 && strcmp(argv[i], "addr") != 0)
            return probe_usage();
    probe_base = event_base_new();
    if (probe_base == NULL ||
        dns_resolver_new(probe_base, argv[optind], &probe_resolver, err,
                         sizeof err) < 0) {
        fprintf(stderr, "dns_probe: %s\n", probe_base ? err : "libevent");
        return 2;
    }
    dns_resolver_set_timeout(probe_resolver, timeout_ms);

    size_t n = (size_t)(argc - optind - 1) / 2 * repeat, k = 0;
    struct dns_query **qs = calloc(n, sizeof *qs);
    struct probe_lookup *ls = calloc(n, sizeof *ls);
    if (qs == NULL || ls == NULL)
        return 2;
    for (unsigned r = 0; r < repeat; r++)
        for (int i = optind + 1; i < argc; i += 2, k++)
            qs[k] = probe_start(&ls[k], argv[i], argv[i + 1]);
    if (cancel) {
        probe_cancel_all(qs, n);
    } else if (probe_outstanding > 0) {
        struct timeval deadline = {PROBE_DEADLINE_S, 0};
        event_base_loopexit(probe_base, &deadline);
        event_base_dispatch(probe_base);
    }
    free(qs);
    free(ls);
    if (!probe_freed)
        dns_resolver_free(probe_resolver);
    event_base_free(probe_base);
    return probe_outstanding == 0 || probe_freed ? 0 : 3;
}
