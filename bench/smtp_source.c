/*
 * smtp_source.c -- SMTP load generator, after Postfix's smtp-source, that
 * speaks plain SMTP, STARTTLS (RFC 3207) and implicit TLS (RFC 8314).
 *
 * One process, one libevent loop, up to -c sessions in parallel, -m
 * messages in all, -r per connection, each of exactly -s bytes. Always
 * bounded: by the message count and by the -d duration cap. Reports
 * messages accepted (250 after DATA), failures by step and reply code,
 * elapsed time, rate, handshakes and the TLS parameters seen, and ends with
 * one "RESULT key=value ..." line for scripts (bench/run.sh).
 * Trust boundary: the server's replies (see bench_session.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_opt.h"

#define SOURCE_OPTS "c:m:r:s:STf:t:u:F:d:w:PRv:V:h"
#define SOURCE_MAX_MSGS 10000000UL

struct source {
    struct bench_run run;
    struct bench_stats stats;
    struct bench_msg msg;
    unsigned long total;       /* -m */
    unsigned long per_conn;    /* -r */
    unsigned long concurrency; /* -c */
    unsigned long size;        /* -s */
    unsigned long duration;    /* -d, seconds */
    unsigned long assigned;    /* messages handed to sessions so far */
    unsigned long active;      /* sessions alive */
    bool capped;               /* the duration cap ended the run */
};

static const char source_usage[] =
    "usage: smtp_source [options] HOST:PORT   (numeric address only)\n"
    "  -c N   sessions in parallel (1)       -m N  messages in all (1)\n"
    "  -r N   messages per connection (1)    -s N  message size, bytes (4096)\n"
    "  -S     STARTTLS                       -T    implicit TLS\n"
    "  -f A   sender (bench@client.test)     -F H  EHLO name (client.test)\n"
    "  -t A   recipient, %d -> seq % users (user%d@bench.test)\n"
    "  -u N   users for %d (1)               -P    PIPELINING if offered\n"
    "  -d S   duration cap, seconds (300)    -w S  reply timeout (60)\n"
    "  -v F   verify the server against CA file F (and the target IP)\n"
    "  -V 1.2|1.3  highest TLS version       -R    resume TLS sessions\n";

/* Start sessions until -c run at once or every message is handed out. */
static void
source_fill(struct source *src)
{
    while (!src->capped && src->active < src->concurrency
           && src->assigned < src->total) {
        unsigned long n = src->total - src->assigned;

        if (n > src->per_conn)
            n = src->per_conn;
        src->assigned += n;
        if (bench_session_start(&src->run, (unsigned)n, false))
            src->active++;
    }
    if (src->active == 0)
        event_base_loopbreak(src->run.base);
}

static void
source_done_cb(struct bench_session *s, bool ok, void *arg)
{
    struct source *src = arg;

    (void)s;
    (void)ok;
    src->active--;
    source_fill(src);
}

static void
source_cap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct source *src = arg;

    (void)fd;
    (void)what;
    src->capped = true;
    event_base_loopbreak(src->run.base);
}

/* An address given on the command line: no brackets, spaces or controls;
 * and in the recipient, '%' only as one "%d". */
static int
source_check_addr(const char *what, const char *a, bool pct_ok)
{
    const char *pct = strchr(a, '%');

    for (const char *p = a; *p; p++)
        if (*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f)
            goto bad;
    if (pct && (!pct_ok || pct[1] != 'd' || strchr(pct + 1, '%')))
        goto bad;
    if (strlen(a) > 200)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "smtp_source: bad %s '%s'\n", what, a);
    return -1;
}

static const struct bench_opt_numdef source_nums[] = {
    { 'c', offsetof(struct source, concurrency), 1, 100000 },
    { 'm', offsetof(struct source, total), 1, SOURCE_MAX_MSGS },
    { 'r', offsetof(struct source, per_conn), 1, 1000000 },
    { 's', offsetof(struct source, size), 1, 100UL << 20 },
    { 'd', offsetof(struct source, duration), 1, 86400 },
};

static int
source_opt(struct source *src, int opt, const char *arg,
           enum bench_tls_mode *mode, struct bench_tls_opts *tls)
{
    unsigned long n;
    int r = bench_opt_nums("smtp_source", source_nums,
                           sizeof source_nums / sizeof source_nums[0], src,
                           opt, arg);

    if (r == 0)
        r = bench_opt_tls("smtp_source", opt, arg, mode, tls);
    if (r != 0)
        return r < 0 ? -1 : 0;
    switch (opt) {
    case 'f': src->run.sender = arg; return 0;
    case 't': src->run.rcpt_fmt = arg; return 0;
    case 'F': src->run.helo = arg; return 0;
    case 'P': src->run.pipelining = true; return 0;
    case 'u':
    case 'w':
        if (bench_opt_num("smtp_source", opt, arg, 1, 1000000, &n) < 0)
            return -1;
        if (opt == 'u')
            src->run.users = (unsigned)n;
        else
            src->run.timeout.tv_sec = (time_t)n;
        return 0;
    default:
        fputs(source_usage, stderr);
        return -1;
    }
}

static void
source_defaults(struct source *src)
{
    memset(src, 0, sizeof *src);
    src->total = src->per_conn = src->concurrency = 1;
    src->size = 4096;
    src->duration = 300;
    src->run.sender = "bench@client.test";
    src->run.rcpt_fmt = "user%d@bench.test";
    src->run.helo = "client.test";
    src->run.users = 1;
    src->run.timeout.tv_sec = 60;
}

/* Parse argv into src. Returns 0 or -1 (message printed). */
static int
source_args(struct source *src, int argc, char **argv)
{
    enum bench_tls_mode mode = BENCH_TLS_NONE;
    struct bench_tls_opts tls = { 0 };
    int opt;

    source_defaults(src);
    while ((opt = getopt(argc, argv, SOURCE_OPTS)) != -1)
        if (source_opt(src, opt, optarg, &mode, &tls) < 0)
            return -1;
    if (optind != argc - 1) {
        fputs(source_usage, stderr);
        return -1;
    }
    if (source_check_addr("sender", src->run.sender, false) < 0
        || source_check_addr("recipient", src->run.rcpt_fmt, true) < 0
        || source_check_addr("EHLO name", src->run.helo, false) < 0)
        return -1;
    return bench_opt_target("smtp_source", argv[optind], mode, &tls,
                            &src->run);
}

static int
source_setup(struct source *src)
{
    size_t min;

    if (bench_msg_init(&src->msg, src->size, src->run.sender, src->run.helo,
                       &min) < 0) {
        fprintf(stderr, "smtp_source: -s %lu: %s (at least %zu bytes)\n",
                src->size, min ? "too small" : "out of memory", min);
        return -1;
    }
    if (bench_stats_init(&src->stats, src->total) < 0)
        return -1;
    if (bench_raise_nofile(src->concurrency + 64) < src->concurrency + 16)
        fprintf(stderr, "smtp_source: warning: descriptor limit below -c\n");
    src->run.msg = &src->msg;
    src->run.stats = &src->stats;
    src->run.done_cb = source_done_cb;
    src->run.arg = src;
    src->run.base = event_base_new();
    return src->run.base ? 0 : -1;
}

/* Release what main() set up. Sessions still open at the -d cap are left
 * to exit(): their messages are already counted as not sent. */
static void
source_free(struct source *src, struct event *cap_ev)
{
    event_free(cap_ev);
    if (src->active == 0)
        event_base_free(src->run.base);
    SSL_CTX_free(src->run.ssl_ctx);
    bench_tls_forget();
    bench_msg_free(&src->msg);
    bench_stats_free(&src->stats);
}

static double
source_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
source_report(const struct source *src, double elapsed)
{
    const struct bench_stats *st = &src->stats;
    unsigned long unsent = src->total - st->msgs_ok - st->msgs_failed;
    double rate = elapsed > 0 ? (double)st->msgs_ok / elapsed : 0;
    double cpu = source_cpu();

    printf("smtp_source %s:%u %s, -c %lu, %lu msg/conn, %lu-byte messages\n",
           src->run.addr.host, src->run.addr.ss.ss_family == AF_INET
               ? ntohs(((const struct sockaddr_in *)&src->run.addr.ss)->sin_port)
               : ntohs(((const struct sockaddr_in6 *)&src->run.addr.ss)->sin6_port),
           bench_opt_mode_name(src->run.tls), src->concurrency, src->per_conn,
           src->size);
    printf("messages   %lu accepted, %lu refused, %lu not sent (of %lu)%s\n",
           st->msgs_ok, st->msgs_failed, unsent, src->total,
           src->capped ? " -- stopped by the -d cap" : "");
    printf("sessions   %lu started, %lu ended by errors; %lu handshakes "
           "(%lu resumed)\n", st->sessions, st->sessions_failed,
           st->handshakes, st->resumed);
    printf("elapsed    %.3f s, %.1f msgs/s; client CPU %.3f s\n", elapsed,
           rate, cpu);
    bench_stats_print(st, stdout);
    printf("RESULT ok=%lu failed=%lu unsent=%lu elapsed=%.3f rate=%.1f "
           "sessions=%lu session_errors=%lu handshakes=%lu resumed=%lu "
           "client_cpu=%.3f\n", st->msgs_ok, st->msgs_failed, unsent, elapsed,
           rate, st->sessions, st->sessions_failed, st->handshakes,
           st->resumed, cpu);
}

int
main(int argc, char **argv)
{
    struct source src;
    struct timeval cap = { 0 };
    struct event *cap_ev;
    double t0;

    if (source_args(&src, argc, argv) < 0)
        return 2;
    if (source_setup(&src) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    cap.tv_sec = (time_t)src.duration;
    cap_ev = evtimer_new(src.run.base, source_cap_cb, &src);
    evtimer_add(cap_ev, &cap);
    t0 = bench_now();
    source_fill(&src);
    event_base_dispatch(src.run.base);
    source_report(&src, bench_now() - t0);
    fflush(stdout);
    source_free(&src, cap_ev);
    return src.stats.msgs_ok == src.total ? 0 : 1;
}
