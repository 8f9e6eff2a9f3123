/*
 * queue_manager.c -- takes committed messages from the spool and delivers
 * them: recipients in local_domains to Maildir; others stay queued
 * (deferred) until outbound SMTP exists.
 *
 * Durability: messages found in one scan are delivered as a group. Each
 * Maildir file is fsynced on its own, then every new/ directory touched is
 * fsynced once for the group (maildir_batch_sync()), and only then are
 * recipients recorded done and spool files unlinked (one fsync of queue/
 * for the group). A crash anywhere repeats a delivery at worst, and never
 * loses one. docs/spool.md has the whole argument.
 *
 * Trust boundary: reads spool files (checked by spool_read.c); damaged ones
 * are moved to corrupt/ and never stop the loop.
 */
#include "queue/queue_manager.h"
#include "queue/spool.h"

#include "config/config.h"
#include "deliver/maildir.h"
#include "util/util_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define QM_BATCH_MSGS 64               /* messages per group commit */
#define QM_BATCH_DELIVERIES 128        /* Maildir files per group commit
                                          (each an open file until then) */
#define QM_RETRY_DEFAULT 300           /* seconds, if the config says 0 */
#define QM_TMP_MAX_AGE 86400           /* seconds before tmp/ is stale */
#define QM_WHY_MAX 512                 /* bytes of a logged reason */
#define QM_POSTMASTER_MAX 300          /* "postmaster@" + a domain */

struct qm_deferred {
    char id[SPOOL_QUEUE_ID_MAX];       /* queue id */
    time_t next_try;                   /* not tried again before this */
};

/* A list of deferred messages, sorted by id once complete. */
struct qm_deferred_list {
    struct qm_deferred *v;             /* owned; n entries */
    size_t n;
    size_t cap;
};

/* A Maildir file written, not yet known durable. */
struct qm_delivery {
    struct spool_entry *e;             /* borrowed from qm.entries */
    size_t rcpt;                       /* index in e->rcpts */
    size_t slot;                       /* index in qm.mb */
};

struct qm {
    const struct config *cfg;          /* borrowed */
    struct spool *sp;                  /* owned */
    char hostname[HOST_NAME_MAX + 1];  /* for Maildir file names */
    unsigned retry;                    /* seconds between retries */
    struct qm_deferred_list deferred;  /* from the last scan */
    struct qm_deferred_list next;      /* being built by this scan */
    struct spool_entry *entries[QM_BATCH_MSGS]; /* owned; this group */
    size_t n_entries;
    struct qm_delivery dels[QM_BATCH_DELIVERIES]; /* this group's files */
    size_t n_dels;
    struct maildir_batch *mb;          /* owned; the group's Maildir files */
};

static volatile sig_atomic_t qm_stop;

/* ---- deferred messages ------------------------------------------------ */

static int
qm_deferred_cmp(const void *a, const void *b)
{
    const struct qm_deferred *x = a, *y = b;
    return strcmp(x->id, y->id);
}

static const struct qm_deferred *
qm_deferred_find(const struct qm *qm, const char *id)
{
    struct qm_deferred key;

    if (qm->deferred.n == 0)
        return NULL; /* bsearch() wants a non-null array */
    snprintf(key.id, sizeof(key.id), "%s", id);
    return bsearch(&key, qm->deferred.v, qm->deferred.n,
                   sizeof(*qm->deferred.v), qm_deferred_cmp);
}

/* Keep id queued until next_try. Out of memory only means it is retried
 * at the next scan instead. */
static void
qm_defer(struct qm *qm, const char *id, time_t next_try)
{
    struct qm_deferred_list *l = &qm->next;

    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        void *p = reallocarray(l->v, ncap, sizeof(*l->v));
        if (p == NULL)
            return;
        l->v = p;
        l->cap = ncap;
    }
    snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", id);
    l->v[l->n++].next_try = next_try;
}

/* The list built by this scan replaces the last one. */
static void
qm_deferred_swap(struct qm *qm)
{
    struct qm_deferred_list old = qm->deferred;

    if (qm->next.n > 0)
        qsort(qm->next.v, qm->next.n, sizeof(*qm->next.v),
              qm_deferred_cmp);
    qm->deferred = qm->next;
    qm->next = old;
    qm->next.n = 0;
}

/* ---- one group of deliveries ------------------------------------------ */

/* Make this group's Maildir files durable, then count them delivered. */
static void
qm_commit_deliveries(struct qm *qm)
{
    const char *path, *why;

    if (qm->n_dels == 0)
        return;
    maildir_batch_sync(qm->mb);
    for (size_t i = 0; i < qm->n_dels; i++) {
        struct qm_delivery *d = &qm->dels[i];
        const char *rcpt = d->e->rcpts[d->rcpt];
        if (maildir_batch_result(qm->mb, d->slot, &path, &why) ==
            MAILDIR_OK) {
            log_info("%s delivered to=%s relay=local maildir=%s status=sent",
                     d->e->id, rcpt, path);
            spool_entry_mark_done(d->e, d->rcpt);
        } else {
            log_warn("%s deferred to=%s relay=local status=deferred "
                     "reason=%s", d->e->id, rcpt, why);
        }
    }
    maildir_batch_clear(qm->mb);
    qm->n_dels = 0;
}

/* Record what is done for e: unlink it if finished, else save its .done
 * records and keep it deferred. */
static void
qm_finish_entry(struct qm *qm, struct spool_entry *e, time_t now)
{
    int r;

    if (spool_entry_all_done(e)) {
        r = spool_entry_remove(qm->sp, e);
        if (r == SPOOL_OK) {
            log_info("%s removed", e->id);
            return;
        }
        log_err("%s cannot remove spool file: %s", e->id, strerror(errno));
    }
    /* Not removed: record who is done, so a retry does not repeat them. */
    if ((r = spool_entry_save_done(qm->sp, e)) != SPOOL_OK) {
        log_err("%s cannot record delivered recipients: %s", e->id,
                strerror(errno));
    }
    qm_defer(qm, e->id, now + qm->retry);
}

/* Close the group: Maildir fsyncs, then spool updates, then queue/ fsync. */
static void
qm_finish_group(struct qm *qm, time_t now)
{
    qm_commit_deliveries(qm);
    for (size_t i = 0; i < qm->n_entries; i++) {
        qm_finish_entry(qm, qm->entries[i], now);
        spool_entry_close(qm->entries[i]);
    }
    qm->n_entries = 0;
    if (spool_sync(qm->sp) != SPOOL_OK)
        log_err("spool: fsync of queue/ failed: %s", strerror(errno));
}

/* ---- routing one recipient -------------------------------------------- */

/* The address to deliver rcpt to locally (rcpt itself, or one written to
 * buf), or NULL if its domain is not local. RFC 5321 4.5.1: "Postmaster",
 * bare or at our host name (the SMTP side accepts both), is the postmaster
 * of the first local domain. */
static const char *
qm_local_address(const struct qm *qm, const char *rcpt, char *buf,
                 size_t buflen)
{
    const char *domain = maildir_rcpt_domain(rcpt);
    bool postmaster =
        domain == NULL ? strcasecmp(rcpt, "postmaster") == 0
                       : (strncasecmp(rcpt, "postmaster@", 11) == 0 &&
                          qm->cfg->hostname != NULL &&
                          strcasecmp(domain, qm->cfg->hostname) == 0);

    if (domain != NULL && config_is_local_domain(qm->cfg, domain))
        return rcpt;
    if (!postmaster || qm->cfg->n_local_domains == 0)
        return NULL;
    snprintf(buf, buflen, "postmaster@%s", qm->cfg->local_domains[0]);
    return buf;
}

static void
qm_deliver_local(struct qm *qm, struct spool_entry *e, size_t i,
                 const char *addr, time_t now)
{
    char why[QM_WHY_MAX];
    size_t slot;
    struct maildir_msg msg = {
        .sender = e->sender,
        .rcpt = addr,
        .fd = e->fd,
        .offset = e->content_offset,
        .length = e->size,
    };

    if (maildir_deliver(qm->cfg->maildir, qm->hostname, &msg, qm->mb, &slot,
                        why, sizeof(why)) != MAILDIR_OK) {
        log_warn("%s deferred to=%s relay=local delay=%lld "
                 "status=deferred reason=%s",
                 e->id, e->rcpts[i], (long long)(now - e->arrival), why);
        return;
    }
    qm->dels[qm->n_dels++] = (struct qm_delivery){e, i, slot};
    if (qm->n_dels == QM_BATCH_DELIVERIES)
        qm_commit_deliveries(qm);
}

static void
qm_route(struct qm *qm, struct spool_entry *e, size_t i, time_t now)
{
    char buf[QM_POSTMASTER_MAX];
    const char *addr = qm_local_address(qm, e->rcpts[i], buf, sizeof(buf));

    if (addr != NULL) {
        qm_deliver_local(qm, e, i, addr, now);
        return;
    }
    /* Outbound SMTP is issue 4: keep the message until it exists. */
    log_info("%s deferred to=%s relay=none delay=%lld status=deferred "
             "reason=outbound delivery not implemented",
             e->id, e->rcpts[i], (long long)(now - e->arrival));
}

/* ---- one message ------------------------------------------------------ */

/* A file that cannot be opened as a spool entry. */
static void
qm_open_failed(struct qm *qm, const char *id, int r, const char *why,
               time_t now)
{
    if (r == SPOOL_ERR_FORMAT) {
        int q = spool_quarantine(qm->sp, id);
        log_err("%s corrupt spool file reason=%s %s", id, why,
                q == SPOOL_OK ? "moved=corrupt/" : "could not be moved");
        if (q == SPOOL_OK)
            return;
    } else {
        log_warn("%s cannot read spool file reason=%s", id, why);
    }
    qm_defer(qm, id, now + qm->retry);
}

static void
qm_process(struct qm *qm, const char *id, time_t now)
{
    char why[QM_WHY_MAX];
    struct spool_entry *e;

    int r = spool_entry_open(qm->sp, id, &e, why, sizeof(why));
    if (r != SPOOL_OK) {
        qm_open_failed(qm, id, r, why, now);
        return;
    }
    qm->entries[qm->n_entries++] = e;
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (!e->done[i])
            qm_route(qm, e, i, now);
    if (qm->n_entries == QM_BATCH_MSGS)
        qm_finish_group(qm, now);
}

/* ---- scans ------------------------------------------------------------ */

static bool
qm_term_pending(void)
{
    sigset_t pending;

    if (qm_stop)
        return true;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1;
}

/* Try every message in queue/ that is new, or due (all with force). */
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
    for (size_t i = 0; i < list.n; i++) {
        const struct qm_deferred *d = qm_deferred_find(qm, list.ids[i]);
        if (qm_term_pending() || (d != NULL && !force && d->next_try > now))
            qm_defer(qm, list.ids[i], d != NULL ? d->next_try : now);
        else
            qm_process(qm, list.ids[i], now);
    }
    qm_finish_group(qm, now);
    qm_deferred_swap(qm);
    spool_list_free(&list);
    return 0;
}

/* ---- set-up and the loop ---------------------------------------------- */

static int
qm_init(struct qm *qm, const struct config *cfg)
{
    char err[512];

    memset(qm, 0, sizeof(*qm));
    qm->cfg = cfg;
    qm->retry = cfg->minimal_backoff_time ? cfg->minimal_backoff_time
                                          : QM_RETRY_DEFAULT;
    if (cfg->hostname != NULL)
        snprintf(qm->hostname, sizeof(qm->hostname), "%s", cfg->hostname);
    else if (gethostname(qm->hostname, sizeof(qm->hostname) - 1) < 0)
        snprintf(qm->hostname, sizeof(qm->hostname), "localhost");
    if (cfg->spool == NULL || cfg->maildir == NULL) {
        log_err("queue manager: spool or maildir not configured");
        return -1;
    }
    if ((qm->mb = maildir_batch_new()) == NULL ||
        spool_open(cfg->spool, &qm->sp, err, sizeof(err)) != SPOOL_OK) {
        log_err("queue manager: %s", qm->mb ? err : "out of memory");
        maildir_batch_free(qm->mb);
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
    spool_close(qm->sp);
    maildir_batch_free(qm->mb);
    free(qm->deferred.v);
    free(qm->next.v);
}

int
queue_manager_run_once(const struct config *cfg)
{
    struct qm qm;

    if (qm_init(&qm, cfg) < 0)
        return -1;
    int r = qm_scan(&qm, true);
    int queued = r < 0 ? -1 : (int)qm.deferred.n;
    qm_free(&qm);
    return queued;
}

static void
qm_term_cb(int sig)
{
    (void)sig;
    qm_stop = 1;
}

/* Milliseconds until the earliest deferred message is due (at most one
 * retry interval). */
static int
qm_timeout_ms(const struct qm *qm)
{
    time_t now = time(NULL);
    time_t next = now + qm->retry;

    for (size_t i = 0; i < qm->deferred.n; i++)
        if (qm->deferred.v[i].next_try < next)
            next = qm->deferred.v[i].next_try;
    return next <= now ? 0 : (int)(next - now) * 1000;
}

/* Read every pending wake-up byte. Returns 1 on EOF (the server is gone),
 * 0 otherwise. */
static int
qm_drain(int fd)
{
    char buf[256];

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 0; /* EAGAIN: all read */
    }
}

/* SIGTERM is blocked except inside ppoll(), so it can only arrive there or
 * be seen pending by qm_term_pending() between messages. */
static void
qm_signals(sigset_t *during_poll)
{
    struct sigaction sa = {.sa_handler = qm_term_cb};
    sigset_t term;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, during_poll);
    sigdelset(during_poll, SIGTERM);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
queue_manager_run(const struct config *cfg, int wake_fd)
{
    struct qm qm;
    sigset_t during_poll;
    bool eof = false;

    if (qm_init(&qm, cfg) < 0)
        return 1;
    qm_signals(&during_poll);
    fcntl(wake_fd, F_SETFL, fcntl(wake_fd, F_GETFL) | O_NONBLOCK);
    log_info("queue manager started spool=%s retry=%us", cfg->spool,
             qm.retry);
    qm_scan(&qm, true);
    while (!qm_stop && !eof) {
        struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
        int ms = qm_timeout_ms(&qm);
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (ms % 1000) * 1000000L};
        int n = ppoll(&pfd, 1, &ts, &during_poll);
        if (n < 0 && errno != EINTR) {
            log_err("queue manager: poll: %s", strerror(errno));
            qm_free(&qm);
            return 1;
        }
        if (n > 0)
            eof = qm_drain(wake_fd) == 1;
        if (!qm_stop && !eof)
            qm_scan(&qm, false);
    }
    log_info("queue manager stopping reason=%s", eof ? "server gone"
                                                      : "SIGTERM");
    qm_free(&qm);
    return 0;
}
