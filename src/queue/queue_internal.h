/*
 * queue_internal.h -- what the two halves of the queue manager share:
 * queue_manager.c (the event loop, scans and the retry schedule) and
 * queue_deliver.c (one message: local Maildir deliveries in groups,
 * outbound deliveries through deliver/relay, then bounces, .done records
 * and the next retry). Nobody else includes it.
 */
#ifndef TLSMTA_QUEUE_INTERNAL_H
#define TLSMTA_QUEUE_INTERNAL_H

#include "deliver/relay.h"
#include "queue/spool.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define QM_BATCH_MSGS 64               /* messages per group commit */
#define QM_BATCH_DELIVERIES 128        /* Maildir files per group commit
                                          (each an open file until then) */
#define QM_WHY_MAX 512                 /* bytes of a logged reason */
#define QM_ACTIVE_MAX 512              /* messages in delivery at once
                                          (each holds an open file) */
#define QM_WHEN_ROOM ((time_t)0)       /* next_try of a message a scan left
                                          for lack of room: due at the
                                          next scan, no timer */

struct config;
struct event;
struct event_base;
struct maildir_batch;
struct qm_job;

struct qm_deferred {
    char id[SPOOL_QUEUE_ID_MAX];       /* queue id */
    time_t next_try;                   /* not tried again before this */
};

/* Deferred messages, sorted by id. */
struct qm_deferred_list {
    struct qm_deferred *v;             /* owned; n entries */
    size_t n;
    size_t cap;
};

/* A message being delivered: from its scan until every delivery of this
 * attempt is over. */
struct qm_msg {
    struct qm *qm;                     /* borrowed */
    struct spool_entry *e;             /* owned */
    struct relay_result *res;          /* owned; e->n_rcpts: the outcome of
                                          this attempt for recipients not
                                          done (dsn[0] == 0: none yet) */
    unsigned jobs;                     /* outbound deliveries running */
    struct qm_job *job_list;           /* owned; their callback arguments */
    bool grouped;                      /* in the current local group */
    struct qm_msg *prev, *next;        /* qm.active */
};

/* A Maildir file written, not yet known durable. */
struct qm_delivery {
    struct qm_msg *msg;                /* borrowed from qm.group */
    size_t rcpt;                       /* index in e->rcpts */
    size_t slot;                       /* index in qm.mb */
};

struct qm {
    const struct config *cfg;          /* borrowed */
    struct spool *sp;                  /* owned */
    char hostname[HOST_NAME_MAX + 1];  /* for Maildir file names */
    struct event_base *base;           /* owned */
    struct relay *relay;               /* owned; outbound SMTP */
    struct event *scan_ev;             /* owned; a scan asked for */
    struct event *retry_ev;            /* owned; earliest retry due */
    struct event *wake_ev;             /* owned; the SMTP side's pipe */
    struct event *stop_ev;             /* owned; SIGTERM self-pipe */
    bool force;                        /* next scan retries everything */
    bool scan_requested;               /* scan_ev is active */
    bool scanning;                     /* inside qm_scan() */
    bool backlog;                      /* a scan left messages for lack of
                                          room (QM_ACTIVE_MAX) */
    bool stopping;                     /* leave the loop */
    struct qm_deferred_list deferred;  /* the retry schedule */
    struct qm_deferred_list next;      /* being built by a scan */
    struct qm_msg *active;             /* owned; messages in delivery */
    size_t n_active;
    struct qm_msg *group[QM_BATCH_MSGS]; /* borrowed; this local group */
    size_t n_group;
    struct qm_delivery dels[QM_BATCH_DELIVERIES]; /* this group's files */
    size_t n_dels;
    struct maildir_batch *mb;          /* owned; the group's Maildir files */
};

/* Schedule id for next_try (into the list a scan is building, or into
 * the schedule between scans). Out of memory only means it is retried at
 * the next scan. */
void qm_defer(struct qm *qm, const char *id, time_t next_try);

/* True if id is being delivered now (skipped by scans). */
bool qm_is_active(const struct qm *qm, const char *id);

/* After a message leaves delivery: if a scan left messages waiting for
 * room, ask for another once half the room is free. */
void qm_backlog_check(struct qm *qm);

/* Ask for a scan from the loop (after a bounce was queued). */
void qm_request_scan(struct qm *qm);

/* Deliver the message id: open it, route each recipient not done, start
 * its Maildir and outbound deliveries (queue_deliver.c). */
void qm_process(struct qm *qm, const char *id, time_t now);

/* Close the local group: fsync its Maildir files, then record each
 * message whose deliveries are all over. */
void qm_finish_group(struct qm *qm);

/* Release every active message without recording anything (shutdown:
 * what was not recorded is delivered again at the next start). */
void qm_drop_active(struct qm *qm);

#endif
