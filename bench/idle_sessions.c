/*
 * idle_sessions.c -- open many TLS (or plain) SMTP sessions, complete the
 * handshake and EHLO, hold them idle for a while, then QUIT them all.
 *
 * Used by bench/run.sh to measure the server's resident memory per idle TLS
 * session (DESIGN.md "Performance notes": an idle session must cost
 * kilobytes). Sessions are opened with at most -c handshakes in flight so
 * that the server sees a ramp rather than a SYN flood. Once every session
 * is either established or failed, one line "READY established=N failed=M"
 * is printed and flushed; after -H seconds the sessions are closed with
 * QUIT and a report follows, ending with a "RESULT key=value ..." line.
 * Bounded: by -n sessions and the -d duration cap.
 * Trust boundary: the server's replies (see bench_session.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_opt.h"

#define IDLE_OPTS "n:c:H:d:STF:w:Rv:V:h"

enum idle_phase { IDLE_OPENING, IDLE_HOLDING, IDLE_QUITTING };

struct idle {
    struct bench_run run;
    struct bench_stats stats;
    struct bench_session **held; /* slot per session: set once idle */
    unsigned long n;             /* -n sessions */
    unsigned long parallel;      /* -c handshakes in flight */
    unsigned long hold;          /* -H seconds */
    unsigned long cap;           /* -d seconds */
    unsigned long started, opening, established, failed, dropped, live;
    enum idle_phase phase;
    struct event *hold_ev;
};

static const char idle_usage[] =
    "usage: idle_sessions [options] HOST:PORT   (numeric address only)\n"
    "  -n N   sessions to open (1000)      -c N  handshakes in flight (50)\n"
    "  -H S   seconds to hold them (10)    -d S  duration cap (hold + 120)\n"
    "  -S     STARTTLS                     -T    implicit TLS\n"
    "  -F H   EHLO name (client.test)      -w S  reply timeout (60)\n"
    "  -v F   verify against CA file F     -V 1.2|1.3  highest TLS version\n"
    "  -R     resume TLS sessions\n";

static void idle_fill(struct idle *id);

static void
idle_quit_all(struct idle *id)
{
    id->phase = IDLE_QUITTING;
    for (unsigned long i = 0; i < id->n; i++)
        if (id->held[i])
            bench_session_quit(id->held[i]);
    if (id->live == 0)
        event_base_loopbreak(id->run.base);
}

static void
idle_hold_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    idle_quit_all(arg);
}

/* Every session has resolved: announce it and start the hold timer. */
static void
idle_opened(struct idle *id)
{
    struct timeval tv = { (time_t)id->hold, 0 };

    printf("READY established=%lu failed=%lu\n", id->established,
           id->failed);
    fflush(stdout);
    id->phase = IDLE_HOLDING;
    id->hold_ev = evtimer_new(id->run.base, idle_hold_cb, id);
    evtimer_add(id->hold_ev, &tv);
}

static void
idle_ready_cb(struct bench_session *s, void *arg)
{
    struct idle *id = arg;

    *(struct bench_session **)bench_session_data(s) = s;
    id->established++;
    id->opening--;
    idle_fill(id);
}

static void
idle_done_cb(struct bench_session *s, bool ok, void *arg)
{
    struct idle *id = arg;
    struct bench_session **slot = bench_session_data(s);

    (void)ok;
    id->live--;
    if (*slot == NULL) { /* never became idle */
        id->failed++;
        id->opening--;
        idle_fill(id);
    } else {
        *slot = NULL;
        if (id->phase != IDLE_QUITTING)
            id->dropped++; /* the server closed an idle session */
    }
    if (id->phase == IDLE_QUITTING && id->live == 0)
        event_base_loopbreak(id->run.base);
}

/* Open sessions while fewer than -c are mid-handshake. */
static void
idle_fill(struct idle *id)
{
    while (id->phase == IDLE_OPENING && id->opening < id->parallel
           && id->started < id->n) {
        unsigned long i = id->started++;
        struct bench_session *s = bench_session_start(&id->run, 0, true);

        if (s == NULL) {
            id->failed++;
            continue;
        }
        bench_session_set_data(s, &id->held[i]);
        id->opening++;
        id->live++;
    }
    if (id->phase == IDLE_OPENING && id->established + id->failed == id->n)
        idle_opened(id);
}

static void
idle_cap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct idle *id = arg;

    (void)fd;
    (void)what;
    fprintf(stderr, "idle_sessions: duration cap reached\n");
    event_base_loopbreak(id->run.base);
}

static const struct bench_opt_numdef idle_nums[] = {
    { 'n', offsetof(struct idle, n), 1, 100000 },
    { 'c', offsetof(struct idle, parallel), 1, 100000 },
    { 'H', offsetof(struct idle, hold), 0, 86400 },
    { 'd', offsetof(struct idle, cap), 1, 86400 },
};

static int
idle_opt(struct idle *id, int opt, const char *arg, enum bench_tls_mode *mode,
         struct bench_tls_opts *tls)
{
    unsigned long w;
    int r;

    r = bench_opt_nums("idle_sessions", idle_nums,
                       sizeof idle_nums / sizeof idle_nums[0], id, opt, arg);
    if (r == 0)
        r = bench_opt_tls("idle_sessions", opt, arg, mode, tls);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (opt == 'F') {
        id->run.helo = arg;
        return 0;
    }
    if (opt == 'w' && bench_opt_num("idle_sessions", opt, arg, 1, 3600, &w)
                          == 0) {
        id->run.timeout.tv_sec = (time_t)w;
        return 0;
    }
    if (opt != 'w')
        fputs(idle_usage, stderr);
    return -1;
}

static int
idle_args(struct idle *id, int argc, char **argv)
{
    enum bench_tls_mode mode = BENCH_TLS_NONE;
    struct bench_tls_opts tls = { 0 };
    int opt;

    memset(id, 0, sizeof *id);
    id->n = 1000;
    id->parallel = 50;
    id->hold = 10;
    id->run.helo = "client.test";
    id->run.timeout.tv_sec = 60;
    while ((opt = getopt(argc, argv, IDLE_OPTS)) != -1)
        if (idle_opt(id, opt, optarg, &mode, &tls) < 0)
            return -1;
    if (optind != argc - 1) {
        fputs(idle_usage, stderr);
        return -1;
    }
    if (id->cap == 0)
        id->cap = id->hold + 120;
    return bench_opt_target("idle_sessions", argv[optind], mode, &tls,
                            &id->run);
}

static int
idle_setup(struct idle *id)
{
    size_t have = bench_raise_nofile(id->n + 64);

    if (have < id->n + 16)
        fprintf(stderr, "idle_sessions: warning: descriptor limit %zu is "
                        "below -n %lu\n", have, id->n);
    id->held = calloc(id->n, sizeof *id->held);
    if (id->held == NULL || bench_stats_init(&id->stats, id->n) < 0)
        return -1;
    id->run.users = 1;
    id->run.stats = &id->stats;
    id->run.ready_cb = idle_ready_cb;
    id->run.done_cb = idle_done_cb;
    id->run.arg = id;
    id->run.base = event_base_new();
    return id->run.base ? 0 : -1;
}

static void
idle_report(const struct idle *id, double elapsed)
{
    const struct bench_stats *st = &id->stats;

    printf("idle_sessions %s %s: %lu established, %lu failed, %lu dropped "
           "by the server while idle; %.1f s\n", id->run.addr.host,
           bench_opt_mode_name(id->run.tls), id->established, id->failed,
           id->dropped, elapsed);
    printf("handshakes %lu (%lu resumed)\n", st->handshakes, st->resumed);
    bench_stats_print(st, stdout);
    printf("RESULT established=%lu failed=%lu dropped=%lu handshakes=%lu "
           "elapsed=%.3f\n", id->established, id->failed, id->dropped,
           st->handshakes, elapsed);
}

/* Release what main() set up; sessions still open at the -d cap are left
 * to exit(). */
static void
idle_free(struct idle *id, struct event *cap_ev)
{
    event_free(cap_ev);
    if (id->hold_ev)
        event_free(id->hold_ev);
    if (id->live == 0)
        event_base_free(id->run.base);
    SSL_CTX_free(id->run.ssl_ctx);
    bench_tls_forget();
    bench_stats_free(&id->stats);
    free(id->held);
}

int
main(int argc, char **argv)
{
    struct idle id;
    struct timeval cap = { 0 };
    struct event *cap_ev;
    double t0;

    if (idle_args(&id, argc, argv) < 0 || idle_setup(&id) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    cap.tv_sec = (time_t)id.cap;
    cap_ev = evtimer_new(id.run.base, idle_cap_cb, &id);
    evtimer_add(cap_ev, &cap);
    t0 = bench_now();
    idle_fill(&id);
    if (id.live > 0 || id.phase == IDLE_HOLDING)
        event_base_dispatch(id.run.base);
    idle_report(&id, bench_now() - t0);
    fflush(stdout);
    idle_free(&id, cap_ev);
    return id.established == id.n && id.dropped == 0 ? 0 : 1;
}
