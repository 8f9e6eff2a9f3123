/*
 * queue_deliver.c -- one message through the queue manager: recipients in
 * local_domains go to Maildir (in groups made durable together), the
 * others to their next hop over SMTP (deliver/relay), grouped by domain.
 * When every delivery of the attempt is over: permanent failures, and
 * deferrals older than maximal_queue_lifetime, are returned to the sender
 * in an RFC 3464 report (never to the null sender); what was delivered or
 * returned is recorded in ID.done; the rest waits for its next retry, the
 * wait being the message's age clamped between minimal_backoff_time and
 * maximal_backoff_time (so it doubles, as in Postfix).
 *
 * Durability: a recipient is recorded done only after its Maildir file is
 * fsynced, the next hop answered 250 to the final dot, or the bounce that
 * reports it is committed to the spool. A crash anywhere repeats a
 * delivery at worst (docs/spool.md).
 *
 * Trust boundary: reads spool files (checked by spool_read.c).
 */
#include "queue/queue_internal.h"

#include "config/config.h"
#include "deliver/maildir.h"
#include "queue/bounce.h"
#include "util/util_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QM_POSTMASTER_MAX 300          /* "postmaster@" + a domain */
#define QM_DSN_EXPIRED "4.4.7"         /* RFC 3463: delivery time expired */

/* Arguments of one relay_deliver() call. */
struct qm_job {
    struct qm_msg *msg;                /* borrowed */
    size_t *idx;                       /* owned; recipient indexes */
    const char **rcpts;                /* owned array; strings borrowed
                                          from msg->e */
    size_t n;
    struct qm_job *next;               /* msg->jobs_list */
};

/* ---- active messages -------------------------------------------------- */

static struct qm_msg *
qm_msg_new(struct qm *qm, struct spool_entry *e)
{
    struct qm_msg *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->res = calloc(e->n_rcpts ? e->n_rcpts : 1,
                                      sizeof(*m->res))) == NULL) {
        free(m);
        return NULL;
    }
    m->qm = qm;
    m->e = e;
    m->next = qm->active;
    if (qm->active != NULL)
        qm->active->prev = m;
    qm->active = m;
    qm->n_active++;
    return m;
}

static void qm_job_free(struct qm_job *j);

static void
qm_msg_free(struct qm_msg *m)
{
    struct qm *qm = m->qm;
    /* Deliveries still running (shutdown): relay_free() will drop them
     * without calling back, so their arguments go here. */
    while (m->job_list != NULL) {
        struct qm_job *j = m->job_list;
        m->job_list = j->next;
        qm_job_free(j);
    }
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        qm->active = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    qm->n_active--;
    spool_entry_close(m->e);
    free(m->res);
    free(m);
}

bool
qm_is_active(const struct qm *qm, const char *id)
{
    for (const struct qm_msg *m = qm->active; m != NULL; m = m->next)
        if (strcmp(m->e->id, id) == 0)
            return true;
    return false;
}

void
qm_drop_active(struct qm *qm)
{
    while (qm->active != NULL)
        qm_msg_free(qm->active);
    qm->n_group = 0;
    qm->n_dels = 0;
}

static void
qm_result_set(struct relay_result *r, enum relay_status status,
              const char *dsn, const char *text)
{
    r->status = status;
    snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
    snprintf(r->text, sizeof(r->text), "%s", text);
}

/* ---- the end of an attempt ------------------------------------------- */

/* Next try: the message's age, between the two backoff times. */
static time_t
qm_backoff(const struct qm *qm, const struct spool_entry *e, time_t now)
{
    time_t age = now > e->arrival ? now - e->arrival : 0;
    time_t lo = qm->cfg->minimal_backoff_time, hi = qm->cfg->maximal_backoff_time;
    if (hi < lo)
        hi = lo;
    return now + (age < lo ? lo : age > hi ? hi : age);
}

/* Gather the recipients to return: failed ones, and deferred ones once
 * the message is too old. Returns how many were put in out (n_rcpts). */
static size_t
qm_bounce_list(struct qm_msg *m, time_t now, struct bounce_rcpt *out)
{
    const struct spool_entry *e = m->e;
    bool expired = now - e->arrival >= (time_t)m->qm->cfg->maximal_queue_lifetime;
    size_t n = 0;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        struct relay_result *r = &m->res[i];
        if (e->done[i] || r->dsn[0] == '\0' || r->status == RELAY_SENT)
            continue;
        if (r->status == RELAY_DEFERRED && !expired)
            continue;
        if (r->status == RELAY_DEFERRED) {
            char text[RELAY_TEXT_MAX];
            snprintf(text, sizeof(text), "delivery time expired; last "
                     "error: %.600s", r->text);
            qm_result_set(r, RELAY_BOUNCED, QM_DSN_EXPIRED, text);
            log_warn("%s to=<%s> status=expired (%s)", e->id, e->rcpts[i],
                     r->text);
        }
        out[n++] = (struct bounce_rcpt){
            .rcpt = e->rcpts[i],
            .dsn = r->dsn,
            .remote_mta = r->remote_mta[0] ? r->remote_mta : NULL,
            .diagnostic = r->diagnostic[0] ? r->diagnostic : NULL,
            .text = r->text,
        };
    }
    return n;
}

/* Return the failed recipients to the sender; mark them done once the
 * report is safely queued (or when there is nobody to return it to). */
static void
qm_bounce(struct qm_msg *m, time_t now)
{
    struct spool_entry *e = m->e;
    struct bounce_rcpt *list = calloc(e->n_rcpts, sizeof(*list));
    char bid[SPOOL_QUEUE_ID_MAX];
    if (list == NULL)
        return; /* retried at the next attempt */
    size_t n = qm_bounce_list(m, now, list);
    int r = n > 0 ? bounce_send(m->qm->sp, m->qm->cfg, e, list, n, now, bid,
                                sizeof(bid))
                  : -1;
    if (r == BOUNCE_NULL_SENDER)
        log_warn("%s bounce not sent: null sender (RFC 5321 4.5.5: never "
                 "report on a report) nrcpt=%zu", e->id, n);
    else if (r == 0)
        log_info("%s sender non-delivery notification: %s nrcpt=%zu", e->id,
                 bid, n);
    else if (n > 0)
        log_err("%s cannot queue the bounce: %s", e->id, strerror(errno));
    for (size_t i = 0; n > 0 && (r == 0 || r == BOUNCE_NULL_SENDER) &&
                       i < e->n_rcpts;
         i++)
        if (m->res[i].status == RELAY_BOUNCED && m->res[i].dsn[0] != '\0')
            spool_entry_mark_done(e, i);
    if (r == 0)
        qm_request_scan(m->qm); /* deliver the report */
    free(list);
}

/* Every delivery of m's attempt is over: bounce, record, reschedule.
 * sync: fsync queue/ now (else the caller does, once for a group). */
static void
qm_msg_finish(struct qm_msg *m, bool sync)
{
    struct qm *qm = m->qm;
    struct spool_entry *e = m->e;
    time_t now = time(NULL);
    int r = SPOOL_OK;

    qm_bounce(m, now);
    if (spool_entry_all_done(e)) {
        if ((r = spool_entry_remove(qm->sp, e)) == SPOOL_OK)
            log_info("%s removed", e->id);
        else
            log_err("%s cannot remove spool file: %s", e->id,
                    strerror(errno));
    }
    if (!spool_entry_all_done(e) || r != SPOOL_OK) {
        /* Record who is done, so a retry does not repeat them. */
        if (spool_entry_save_done(qm->sp, e) != SPOOL_OK)
            log_err("%s cannot record delivered recipients: %s", e->id,
                    strerror(errno));
        qm_defer(qm, e->id, qm_backoff(qm, e, now));
    }
    if (sync && spool_sync(qm->sp) != SPOOL_OK)
        log_err("spool: fsync of queue/ failed: %s", strerror(errno));
    qm_msg_free(m);
}

/* ---- outbound --------------------------------------------------------- */

static void
qm_job_free(struct qm_job *j)
{
    free(j->idx);
    free(j->rcpts);
    free(j);
}

static void
qm_relay_done_cb(void *arg, const struct relay_result *results, size_t n)
{
    struct qm_job *j = arg;
    struct qm_msg *m = j->msg;
    struct qm_job **pp = &m->job_list;
    while (*pp != j)
        pp = &(*pp)->next;
    *pp = j->next;
    for (size_t k = 0; k < n; k++) {
        m->res[j->idx[k]] = results[k];
        if (results[k].status == RELAY_SENT)
            spool_entry_mark_done(m->e, j->idx[k]);
    }
    qm_job_free(j);
    if (--m->jobs == 0 && !m->grouped) {
        struct qm *qm = m->qm;
        qm_msg_finish(m, true);
        qm_backlog_check(qm);
    }
}

/* The domain of rcpt, lower-cased into buf ("" if it has none). Returns
 * the domain as written in rcpt, or NULL. */
static const char *
qm_rcpt_domain(const char *rcpt, char *buf, size_t n)
{
    const char *d = maildir_rcpt_domain(rcpt);
    snprintf(buf, n, "%s", d != NULL ? d : "");
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* The next hop of a recipient, written to buf: the transport entry of its
 * domain, else relayhost, else the domain itself (lower-cased); "" if the
 * address has no domain. Recipients with the same next hop share one
 * delivery (one SMTP transaction). */
static const char *
qm_route_key(const struct qm *qm, const char *rcpt, char *buf, size_t n)
{
    const char *d = qm_rcpt_domain(rcpt, buf, n);
    const struct config_nexthop *nh = NULL;
    if (d != NULL && (nh = config_transport_lookup(qm->cfg, buf)) == NULL &&
        qm->cfg->relayhost.host != NULL)
        nh = &qm->cfg->relayhost;
    if (nh != NULL)
        snprintf(buf, n, "%s", nh->key);
    return buf;
}

/* Start one outbound delivery for the remote recipients of m (marked in
 * todo[]) that share the next hop of recipient first; routed by the
 * domain of that first recipient. */
static void
qm_relay_start(struct qm_msg *m, bool *todo, size_t first)
{
    struct qm *qm = m->qm;
    struct spool_entry *e = m->e;
    char key[512], other[512], dom[256];
    struct qm_job *j = calloc(1, sizeof(*j));
    qm_route_key(qm, e->rcpts[first], key, sizeof(key));
    qm_rcpt_domain(e->rcpts[first], dom, sizeof(dom));
    if (j != NULL) {
        j->msg = m;
        j->idx = calloc(e->n_rcpts, sizeof(*j->idx));
        j->rcpts = calloc(e->n_rcpts, sizeof(*j->rcpts));
    }
    for (size_t i = first; i < e->n_rcpts; i++) {
        if (!todo[i] ||
            strcmp(qm_route_key(qm, e->rcpts[i], other, sizeof(other)),
                   key) != 0)
            continue;
        todo[i] = false;
        if (j != NULL && j->idx != NULL && j->rcpts != NULL) {
            j->idx[j->n] = i;
            j->rcpts[j->n++] = e->rcpts[i];
        } else {
            qm_result_set(&m->res[i], RELAY_DEFERRED, "4.3.0",
                          "out of memory");
        }
    }
    if (j == NULL || j->idx == NULL || j->rcpts == NULL) {
        if (j != NULL)
            qm_job_free(j);
        return;
    }
    struct relay_msg rm = {
        .id = e->id,
        .sender = e->sender,
        .fd = e->fd,
        .offset = e->content_offset,
        .size = e->size,
        .smtputf8 = e->smtputf8,
        .body_8bitmime = e->body_8bitmime,
        .arrival = e->arrival,
    };
    if (dom[0] == '\0') {
        for (size_t k = 0; k < j->n; k++)
            qm_result_set(&m->res[j->idx[k]], RELAY_BOUNCED, "5.1.3",
                          "address has no domain");
        qm_job_free(j);
        return;
    }
    if (relay_deliver(qm->relay, &rm, dom, j->rcpts, j->n, qm_relay_done_cb,
                      j) < 0) {
        for (size_t k = 0; k < j->n; k++)
            qm_result_set(&m->res[j->idx[k]], RELAY_DEFERRED, "4.3.0",
                          "out of memory");
        qm_job_free(j);
        return;
    }
    j->next = m->job_list;
    m->job_list = j;
    m->jobs++;
}

/* ---- local ------------------------------------------------------------ */

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
        struct spool_entry *e = d->msg->e;
        const char *rcpt = e->rcpts[d->rcpt];
        if (maildir_batch_result(qm->mb, d->slot, &path, &why) ==
            MAILDIR_OK) {
            log_info("%s delivered to=%s relay=local maildir=%s status=sent",
                     e->id, rcpt, path);
            spool_entry_mark_done(e, d->rcpt);
        } else {
            log_warn("%s deferred to=%s relay=local status=deferred "
                     "reason=%s", e->id, rcpt, why);
            qm_result_set(&d->msg->res[d->rcpt], RELAY_DEFERRED, "4.3.0",
                          why);
        }
    }
    maildir_batch_clear(qm->mb);
    qm->n_dels = 0;
}

static void
qm_deliver_local(struct qm *qm, struct qm_msg *m, size_t i, const char *addr,
                 time_t now)
{
    struct spool_entry *e = m->e;
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
        qm_result_set(&m->res[i], RELAY_DEFERRED, "4.3.0", why);
        return;
    }
    qm->dels[qm->n_dels++] = (struct qm_delivery){m, i, slot};
    if (qm->n_dels == QM_BATCH_DELIVERIES)
        qm_commit_deliveries(qm);
}

void
qm_finish_group(struct qm *qm)
{
    qm_commit_deliveries(qm);
    size_t n = qm->n_group;
    qm->n_group = 0;
    for (size_t i = 0; i < n; i++) {
        struct qm_msg *m = qm->group[i];
        m->grouped = false;
        if (m->jobs == 0)
            qm_msg_finish(m, false);
    }
    /* One fsync of queue/ for the removals and .done files of the group. */
    if (n > 0 && spool_sync(qm->sp) != SPOOL_OK)
        log_err("spool: fsync of queue/ failed: %s", strerror(errno));
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
    qm_defer(qm, id, now + qm->cfg->minimal_backoff_time);
}

void
qm_process(struct qm *qm, const char *id, time_t now)
{
    char why[QM_WHY_MAX], buf[QM_POSTMASTER_MAX];
    struct spool_entry *e;
    struct qm_msg *m;

    int r = spool_entry_open(qm->sp, id, &e, why, sizeof(why));
    if (r != SPOOL_OK) {
        qm_open_failed(qm, id, r, why, now);
        return;
    }
    bool *todo = calloc(e->n_rcpts ? e->n_rcpts : 1, sizeof(*todo));
    if (todo == NULL || (m = qm_msg_new(qm, e)) == NULL) {
        free(todo);
        spool_entry_close(e);
        qm_defer(qm, id, now + qm->cfg->minimal_backoff_time);
        return;
    }
    m->grouped = true;
    qm->group[qm->n_group++] = m;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        if (e->done[i])
            continue;
        const char *addr = qm_local_address(qm, e->rcpts[i], buf, sizeof(buf));
        if (addr != NULL)
            qm_deliver_local(qm, m, i, addr, now);
        else
            todo[i] = true;
    }
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (todo[i])
            qm_relay_start(m, todo, i);
    free(todo);
    if (qm->n_group == QM_BATCH_MSGS)
        qm_finish_group(qm);
}
