/*
 * bench_opt.h -- command-line helpers shared by smtp_source and
 * idle_sessions: numbers with bounds, and the TLS options (-S, -T, -v, -V,
 * -R) with the target argument. Trust boundary: command-line arguments.
 */
#ifndef BENCH_OPT_H
#define BENCH_OPT_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_session.h"
#include "bench_tls.h"

/* Parse a decimal number in [min, max] into *out. Returns 0, or -1 after
 * printing "PROG: -OPT: ..." to stderr. */
int bench_opt_num(const char *prog, int opt, const char *arg,
                  unsigned long min, unsigned long max, unsigned long *out);

/* A numeric option stored as unsigned long at offset `off` of a struct. */
struct bench_opt_numdef {
    int opt;                /* option letter */
    size_t off;             /* offsetof() the unsigned long field */
    unsigned long min, max; /* accepted range */
};

/* If opt is in defs[0..n), parse arg into the field of `obj` it names.
 * Returns 1 if handled, 0 if opt is not in defs, -1 after printing an
 * error. */
int bench_opt_nums(const char *prog, const struct bench_opt_numdef *defs,
                   size_t n, void *obj, int opt, const char *arg);

/* Handle one of the shared TLS options: 'S' (STARTTLS), 'T' (implicit),
 * 'v' CAFILE (verify), 'V' 1.2|1.3 (highest version), 'R' (resume).
 * Returns 1 if opt was one of them and valid, 0 if it is not one of them,
 * -1 after printing an error. */
int bench_opt_tls(const char *prog, int opt, const char *arg,
                  enum bench_tls_mode *mode, struct bench_tls_opts *tls);

/* Finish the run's target and TLS set-up from the positional argument:
 * parse the address into run->addr, create run->ssl_ctx when a TLS mode is
 * chosen. Returns 0, or -1 after printing an error. The caller frees
 * run->ssl_ctx with SSL_CTX_free() (NULL is fine). */
int bench_opt_target(const char *prog, const char *target,
                     enum bench_tls_mode mode, struct bench_tls_opts *tls,
                     struct bench_run *run);

/* The TLS mode's name: "plain", "starttls" or "implicit". */
const char *bench_opt_mode_name(enum bench_tls_mode mode);

#endif
