/*
 * bench_stats.h -- counters of one benchmark run and their report.
 *
 * Everything smtp_source and idle_sessions count: messages accepted (250
 * after DATA), failures by SMTP step and reply code, session errors by kind,
 * TLS handshakes and what they negotiated, latencies. Single-threaded; the
 * event loop is the only writer. Trust boundary: none.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdio.h>

#define BENCH_STATS_FAIL_MAX 32 /* distinct (step, code/kind) pairs kept */
#define BENCH_STATS_TLS_MAX 8   /* distinct TLS descriptions kept */
#define BENCH_STATS_TLS_LEN 96  /* bytes of one TLS description */

struct bench_fail {
    const char *step; /* static string: the SMTP step, e.g. "MAIL" */
    const char *kind; /* static string, or NULL when code is set */
    int code;         /* SMTP reply code, 0 when kind is set */
    unsigned long count;
};

struct bench_tls_seen {
    char desc[BENCH_STATS_TLS_LEN]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384 ..." */
    unsigned long count;
};

struct bench_lat {
    double *us;    /* owned; samples in microseconds */
    size_t n, cap; /* samples stored, capacity (extra samples are dropped) */
    double sum;    /* sum of all samples offered, dropped ones included */
    unsigned long offered;
};

struct bench_stats {
    unsigned long msgs_ok;          /* 250 after the end of DATA */
    unsigned long msgs_failed;      /* transaction refused at some step */
    unsigned long sessions;         /* sessions started */
    unsigned long sessions_failed;  /* ended by an error, not QUIT/221 */
    unsigned long handshakes;       /* completed TLS handshakes */
    unsigned long resumed;          /* of which resumed a session */
    struct bench_fail fail[BENCH_STATS_FAIL_MAX];
    size_t nfail;
    struct bench_tls_seen tls[BENCH_STATS_TLS_MAX];
    size_t ntls;
    struct bench_lat msg_lat;       /* MAIL sent .. 250 after DATA */
    struct bench_lat setup_lat;     /* connect .. ready for MAIL */
};

/* Zero the counters and reserve room for `samples` latency samples of each
 * kind. Returns 0, or -1 on allocation failure. */
int bench_stats_init(struct bench_stats *st, size_t samples);

/* Release the latency arrays. */
void bench_stats_free(struct bench_stats *st);

/* Count one failure at `step` (static string) with reply `code`, or with
 * `kind` (static string) when code is 0. Pairs past BENCH_STATS_FAIL_MAX
 * distinct ones are counted under the last slot. */
void bench_stats_fail(struct bench_stats *st, const char *step, int code,
                      const char *kind);

/* Count one handshake whose description is `desc` (truncated to fit). */
void bench_stats_tls(struct bench_stats *st, const char *desc, int resumed);

/* Add one latency sample in microseconds. */
void bench_lat_add(struct bench_lat *lat, double us);

/* Print the failure and TLS tables and the latency lines to `out`. */
void bench_stats_print(const struct bench_stats *st, FILE *out);

#endif
