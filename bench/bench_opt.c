/*
 * bench_opt.c -- shared command-line handling (see bench_opt.h).
 */
#include "bench_opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
bench_opt_num(const char *prog, int opt, const char *arg, unsigned long min,
              unsigned long max, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(arg, &end, 10);
    if (errno || end == arg || *end != '\0' || arg[0] == '-' || *out < min
        || *out > max) {
        fprintf(stderr, "%s: -%c: want a number from %lu to %lu, not '%s'\n",
                prog, opt, min, max, arg);
        return -1;
    }
    return 0;
}

int
bench_opt_nums(const char *prog, const struct bench_opt_numdef *defs,
               size_t n, void *obj, int opt, const char *arg)
{
    for (size_t i = 0; i < n; i++)
        if (defs[i].opt == opt)
            return bench_opt_num(prog, opt, arg, defs[i].min, defs[i].max,
                                 (unsigned long *)((char *)obj + defs[i].off))
                       < 0 ? -1 : 1;
    return 0;
}

static int
bench_opt_version(const char *prog, const char *arg, int *version)
{
    if (strcmp(arg, "1.2") == 0)
        *version = TLS1_2_VERSION;
    else if (strcmp(arg, "1.3") == 0)
        *version = TLS1_3_VERSION;
    else {
        fprintf(stderr, "%s: -V: want 1.2 or 1.3, not '%s'\n", prog, arg);
        return -1;
    }
    return 1;
}

int
bench_opt_tls(const char *prog, int opt, const char *arg,
              enum bench_tls_mode *mode, struct bench_tls_opts *tls)
{
    switch (opt) {
    case 'S':
        *mode = BENCH_TLS_STARTTLS;
        return 1;
    case 'T':
        *mode = BENCH_TLS_IMPLICIT;
        return 1;
    case 'v':
        tls->cafile = arg;
        return 1;
    case 'V':
        return bench_opt_version(prog, arg, &tls->max_version);
    case 'R':
        tls->resume = true;
        return 1;
    default:
        return 0;
    }
}

int
bench_opt_target(const char *prog, const char *target,
                 enum bench_tls_mode mode, struct bench_tls_opts *tls,
                 struct bench_run *run)
{
    if (bench_addr_parse(target, &run->addr) < 0) {
        fprintf(stderr, "%s: target must be IPv4:port or [IPv6]:port "
                        "(no names), not '%s'\n", prog, target);
        return -1;
    }
    run->tls = mode;
    run->ssl_ctx = NULL;
    if (mode == BENCH_TLS_NONE)
        return 0;
    tls->ip = run->addr.host;
    run->ssl_ctx = bench_tls_ctx_new(tls);
    if (run->ssl_ctx == NULL) {
        fprintf(stderr, "%s: cannot set up TLS\n", prog);
        return -1;
    }
    return 0;
}

const char *
bench_opt_mode_name(enum bench_tls_mode mode)
{
    static const char *const names[] = {
        [BENCH_TLS_NONE] = "plain",
        [BENCH_TLS_STARTTLS] = "starttls",
        [BENCH_TLS_IMPLICIT] = "implicit",
    };

    return names[mode];
}
