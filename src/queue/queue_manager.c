/*
 * queue_manager.c -- the queue manager process: a libevent loop that
 * scans queue/ (at start, on each wake-up byte from the SMTP side, when a
 * deferred message is due, after a bounce was queued), hands each message
 * to queue_deliver.c, and keeps the retry schedule. Outbound deliveries
 * (deliver/relay: DNS, SMTP, TLS) run concurrently inside the same loop;
 * Maildir deliveries are grouped so one flush covers many files.
 *
 * Durability: see queue_deliver.c and docs/spool.md. A scan skips
 * messages whose deliveries are still running; SIGTERM stops the loop
 * between two messages of a scan, and whatever was not recorded is
 * delivered again at the next start.
 *
 * Trust boundary: reads spool files (checked by spool_read.c); damaged ones
 * are moved to corrupt/ and never stop the loop.
 */
#include "queue/queue_manager.h"
#include "queue/queue_internal.h"

#include "config/config.h"
#include "deliver/maildir.h"
#include "util/util_log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QM_TMP_MAX_AGE 86400           /* seconds before tmp/ is stale */

static volatile sig_atomic_t qm_stop;  /* SIGTERM seen */
static int qm_stop_pipe[2] = {-1, -1}; /* wakes the loop on SIGTERM */

/* ---- the retry schedule ----------------------------------------------- */

static int
qm_deferred_cmp(const void *a, const void *b)
{
    const struct qm_deferred *x = a, *y = b;
    return strcmp(x->id, y->id);
}

static struct qm_deferred *
qm_deferred_find(const struct qm_deferred_list *l, const char *id)
{
    struct qm_deferred key;

    if (l->n == 0)
        return NULL; /* bsearch() wants a non-null array */
    snprintf(key.id, sizeof(key.id), "%s", id);
    return bsearch(&key, l->v, l->n, sizeof(*l->v), qm_deferred_cmp);
}

static int
qm_deferred_push(struct qm_deferred_list *l, const char *id, time_t next_try)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        void *p = reallocarray(l->v, ncap, sizeof(*l->v));
        if (p == NULL)
            return -1;
        l->v = p;
        l->cap = ncap;
    }
    snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", id);
    l->v[l->n++].next_try = next_try;
    return 0;
}

static void qm_arm_retry(struct qm *qm);

void
qm_defer(struct qm *qm, const char *id, time_t next_try)
{
    if (qm->scanning) {
        qm_deferred_push(&qm->next, id, next_try); /* sorted at the end */
        return;
    }
    struct qm_deferred *d = qm_deferred_find(&qm->deferred, id);
    if (d != NULL) {
        d->next_try = next_try;
    } else if (qm_deferred_push(&qm->deferred, id, next_try) == 0) {
        qsort(qm->deferred.v, qm->deferred.n, sizeof(*qm->deferred.v),
              qm_deferred_cmp);
    }
    qm_arm_retry(qm);
}

/* The list built by a scan replaces the schedule: messages gone from
 * queue/ drop out of it. */
static void
qm_deferred_swap(struct qm *qm)
{
    struct qm_deferred_list old = qm->deferred;

    if (qm->next.n > 0)
        qsort(qm->next.v, qm->next.n, sizeof(*qm->next.v), qm_deferred_cmp);
    qm->deferred = qm->next;
    qm->next = old;
    qm->next.n = 0;
}

/* Arm the retry timer for the earliest deferred message (at most one
 * maximal_backoff_time away). */
static void
qm_arm_retry(struct qm *qm)
{
    time_t now = time(NULL);
    time_t next = now + qm->cfg->maximal_backoff_time;

    if (qm->retry_ev == NULL)
        return;
    for (size_t i = 0; i < qm->deferred.n; i++)
        if (qm->deferred.v[i].next_try != QM_WHEN_ROOM &&
            qm->deferred.v[i].next_try < next)
            next = qm->deferred.v[i].next_try;
    struct timeval tv = {.tv_sec = next > now ? next - now : 0};
    evtimer_add(qm->retry_ev, &tv);
}

/* ---- scans ------------------------------------------------------------ */

/* Try every message in queue/ that is new or due (all with force), except
 * those being delivered now. */
static int
qm_scan(struct qm *qm, bool force)
{
    struct spool_list list;
    time_t now = time(NULL);

    if (spool_list(qm->sp, &list) != SPOOL_OK) {
        log_err("spool: cannot list %s/queue: %s", qm->cfg->spool,
                strerror(errno));
        return -1;
    }
    qm->scanning = true;
    for (size_t i = 0; i < list.n; i++) {
        const char *id = list.ids[i];
        const struct qm_deferred *d = qm_deferred_find(&qm->deferred, id);
        if (qm_is_active(qm, id))
            continue;
        /* Each message in delivery holds its spool file open: past the
         * limit the rest waits for the next scan, asked for as soon as
         * deliveries end (qm_backlog_check()). */
        bool due = d == NULL || force || d->next_try <= now;
        if (due && !qm_stop && qm->n_active >= QM_ACTIVE_MAX) {
            qm->backlog = true;
            qm_defer(qm, id, QM_WHEN_ROOM);
        } else if (qm_stop || !due) {
            qm_defer(qm, id, d != NULL ? d->next_try : now);
        } else {
            qm_process(qm, id, now);
        }
    }
    qm_finish_group(qm);
    qm->scanning = false;
    qm_deferred_swap(qm);
    spool_list_free(&list);
    qm_arm_retry(qm);
    return 0;
}

static void
qm_scan_cb(evutil_socket_t fd, short what, void *arg)
{
    struct qm *qm = arg;
    (void)fd;
    (void)what;
    bool force = qm->force;
    qm->force = false;
    qm->scan_requested = false;
    qm_scan(qm, force);
}

void
qm_backlog_check(struct qm *qm)
{
    if (qm->backlog && qm->n_active < QM_ACTIVE_MAX / 2) {
        qm->backlog = false;
        qm_request_scan(qm); /* QM_WHEN_ROOM entries are due */
    }
}

void
qm_request_scan(struct qm *qm)
{
    if (qm->scan_ev != NULL && !qm->scan_requested) {
        qm->scan_requested = true;
        event_active(qm->scan_ev, 0, 0);
    }
}

/* ---- events ----------------------------------------------------------- */

/* Wake-up bytes from the SMTP side: read them all, then scan once. EOF:
 * the server is gone, so are we. */
static void
qm_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct qm *qm = arg;
    char buf[256];
    (void)what;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0) {
            log_info("queue manager stopping reason=server gone");
            qm->stopping = true;
            event_base_loopbreak(qm->base);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN: all read */
    }
    qm_request_scan(qm);
}

static void
qm_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    qm_request_scan(arg);
}

static void
qm_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct qm *qm = arg;
    char c;
    (void)what;
    while (read(fd, &c, 1) > 0)
        ;
    log_info("queue manager stopping reason=SIGTERM");
    qm->stopping = true;
    event_base_loopbreak(qm->base);
}

static void
qm_term_handler(int sig)
{
    int saved = errno;
    (void)sig;
    qm_stop = 1;
    if (qm_stop_pipe[1] >= 0 && write(qm_stop_pipe[1], "", 1) < 0) {
        /* the pipe is full: a byte is already waiting */
    }
    errno = saved;
}

/* Catch SIGTERM from the start (before the slow parts of set-up), so it
 * always means an orderly stop. */
static int
qm_signals_install(void)
{
    struct sigaction sa = {.sa_handler = qm_term_handler};

    if (qm_stop_pipe[0] < 0 && pipe2(qm_stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int
qm_signals_watch(struct qm *qm)
{
    qm->stop_ev = event_new(qm->base, qm_stop_pipe[0], EV_READ | EV_PERSIST,
                            qm_stop_cb, qm);
    return qm->stop_ev != NULL && event_add(qm->stop_ev, NULL) == 0 ? 0 : -1;
}

/* ---- set-up ----------------------------------------------------------- */

static int
qm_init(struct qm *qm, const struct config *cfg)
{
    char err[512];

    memset(qm, 0, sizeof(*qm));
    qm->cfg = cfg;
    if (cfg->hostname != NULL)
        snprintf(qm->hostname, sizeof(qm->hostname), "%s", cfg->hostname);
    else if (gethostname(qm->hostname, sizeof(qm->hostname) - 1) < 0)
        snprintf(qm->hostname, sizeof(qm->hostname), "localhost");
    if (cfg->spool == NULL || cfg->maildir == NULL) {
        log_err("queue manager: spool or maildir not configured");
        return -1;
    }
    if ((qm->mb = maildir_batch_new()) == NULL ||
        (qm->base = event_base_new()) == NULL) {
        log_err("queue manager: out of memory");
        return -1;
    }
    if (spool_open(cfg->spool, &qm->sp, err, sizeof(err)) != SPOOL_OK ||
        (qm->relay = relay_new(qm->base, cfg, err, sizeof(err))) == NULL) {
        log_err("queue manager: %s", err);
        return -1;
    }
    qm->scan_ev = event_new(qm->base, -1, 0, qm_scan_cb, qm);
    qm->retry_ev = evtimer_new(qm->base, qm_retry_cb, qm);
    if (qm->scan_ev == NULL || qm->retry_ev == NULL) {
        log_err("queue manager: out of memory");
        return -1;
    }
    int n = spool_clean_tmp(qm->sp, time(NULL), QM_TMP_MAX_AGE);
    if (n > 0)
        log_info("spool: removed %d stale files from tmp/", n);
    return 0;
}

static void
qm_free(struct qm *qm)
{
    qm_drop_active(qm);
    relay_free(qm->relay); /* after the messages: no callback into them */
    if (qm->scan_ev != NULL)
        event_free(qm->scan_ev);
    if (qm->retry_ev != NULL)
        event_free(qm->retry_ev);
    if (qm->wake_ev != NULL)
        event_free(qm->wake_ev);
    if (qm->stop_ev != NULL)
        event_free(qm->stop_ev);
    if (qm->base != NULL)
        event_base_free(qm->base);
    spool_close(qm->sp);
    maildir_batch_free(qm->mb);
    free(qm->deferred.v);
    free(qm->next.v);
}

/* ---- entry points ----------------------------------------------------- */

int
queue_manager_run_once(const struct config *cfg)
{
    struct qm qm;
    int queued = -1;

    if (qm_init(&qm, cfg) == 0 && qm_scan(&qm, true) == 0) {
        /* Run until every delivery of this pass, and of the bounces it
         * queued, is over. */
        while (qm.n_active > 0 || qm.scan_requested ||
               relay_active(qm.relay) > 0)
            if (event_base_loop(qm.base, EVLOOP_ONCE) < 0)
                break;
        event_del(qm.retry_ev);
        queued = (int)qm.deferred.n;
    }
    qm_free(&qm);
    return queued;
}

int
queue_manager_run(const struct config *cfg, int wake_fd)
{
    struct qm qm = {0};

    if (qm_signals_install() < 0 || qm_init(&qm, cfg) < 0 ||
        qm_signals_watch(&qm) < 0) {
        qm_free(&qm);
        return 1;
    }
    fcntl(wake_fd, F_SETFL, fcntl(wake_fd, F_GETFL) | O_NONBLOCK);
    qm.wake_ev = event_new(qm.base, wake_fd, EV_READ | EV_PERSIST, qm_wake_cb,
                           &qm);
    if (qm.wake_ev == NULL || event_add(qm.wake_ev, NULL) < 0) {
        log_err("queue manager: cannot watch the wake-up pipe");
        qm_free(&qm);
        return 1;
    }
    log_info("queue manager started spool=%s backoff=%us..%us lifetime=%us",
             cfg->spool, cfg->minimal_backoff_time, cfg->maximal_backoff_time,
             cfg->maximal_queue_lifetime);
    qm.force = true;
    qm_request_scan(&qm);
    if (!qm_stop)
        event_base_dispatch(qm.base);
    if (qm_stop && !qm.stopping)
        log_info("queue manager stopping reason=SIGTERM");
    qm_free(&qm);
    return 0;
}
