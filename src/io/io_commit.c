/*
 * io_commit.c -- group commit on a helper thread (see io_commit.h).
 */
#include "io/io_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "queue/spool.h"
#include "util/util_log.h"

#define IO_COMMIT_BATCH_MAX 256      /* messages per spool_msg_commit_many */

struct io_committer {
    pthread_t thread;
    pthread_mutex_t mu;              /* guards the three fields below */
    pthread_cond_t cv;               /* todo became non-empty, or stop */
    struct io_commit *todo;          /* submitted, oldest first */
    struct io_commit *done;          /* committed, not yet answered */
    bool stop;
    int efd;                         /* eventfd: done became non-empty */
    struct event *ev;                /* owned; reads efd in the loop */
    io_commit_done_fn done_fn;
    void *done_arg;
};

static void
io_commit_append(struct io_commit **list, struct io_commit *items)
{
    while (*list != NULL)
        list = &(*list)->next;
    *list = items;
}

/* Commit one taken list in batches; results go into each request. */
static void
io_commit_run(struct io_commit *list)
{
    struct spool_msg *msgs[IO_COMMIT_BATCH_MAX];
    int results[IO_COMMIT_BATCH_MAX];
    struct io_commit *reqs[IO_COMMIT_BATCH_MAX];

    while (list != NULL) {
        size_t n = 0;
        for (; list != NULL && n < IO_COMMIT_BATCH_MAX; list = list->next) {
            reqs[n] = list;
            msgs[n++] = list->msg;
        }
        spool_msg_commit_many(msgs, n, results);
        for (size_t i = 0; i < n; i++) {
            reqs[i]->result = results[i];
            reqs[i]->msg = NULL;
        }
    }
}

static void *
io_commit_thread(void *arg)
{
    struct io_committer *cm = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&cm->mu);
    for (;;) {
        while (cm->todo == NULL && !cm->stop)
            pthread_cond_wait(&cm->cv, &cm->mu);
        if (cm->todo == NULL)
            break;
        struct io_commit *list = cm->todo;
        cm->todo = NULL;
        pthread_mutex_unlock(&cm->mu);
        io_commit_run(list);
        pthread_mutex_lock(&cm->mu);
        io_commit_append(&cm->done, list);
        if (write(cm->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("committer: eventfd write failed: %s", strerror(errno));
    }
    pthread_mutex_unlock(&cm->mu);
    return NULL;
}

/* Answer every finished request (loop thread). */
static void
io_commit_drain(struct io_committer *cm)
{
    pthread_mutex_lock(&cm->mu);
    struct io_commit *list = cm->done;
    cm->done = NULL;
    pthread_mutex_unlock(&cm->mu);
    while (list != NULL) {
        struct io_commit *next = list->next;
        list->next = NULL;
        cm->done_fn(list, cm->done_arg);
        list = next;
    }
}

static void
io_commit_ready_cb(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;
    (void)what;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_err("committer: eventfd read failed: %s", strerror(errno));
    io_commit_drain(arg);
}

struct io_committer *
io_committer_new(struct event_base *base, io_commit_done_fn done, void *arg)
{
    struct io_committer *cm = calloc(1, sizeof(*cm));
    if (cm == NULL)
        return NULL;
    cm->done_fn = done;
    cm->done_arg = arg;
    pthread_mutex_init(&cm->mu, NULL);
    pthread_cond_init(&cm->cv, NULL);
    cm->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cm->efd < 0)
        goto fail;
    cm->ev = event_new(base, cm->efd, EV_READ | EV_PERSIST,
                       io_commit_ready_cb, cm);
    if (cm->ev == NULL || event_add(cm->ev, NULL) < 0)
        goto fail;
    if ((errno = pthread_create(&cm->thread, NULL, io_commit_thread, cm)))
        goto fail;
    return cm;
fail:
    log_err("cannot start the committer: %s", strerror(errno));
    if (cm->ev)
        event_free(cm->ev);
    if (cm->efd >= 0)
        close(cm->efd);
    free(cm);
    return NULL;
}

void
io_committer_submit(struct io_committer *cm, struct io_commit *c)
{
    c->next = NULL;
    pthread_mutex_lock(&cm->mu);
    io_commit_append(&cm->todo, c);
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
}

void
io_committer_free(struct io_committer *cm)
{
    if (cm == NULL)
        return;
    pthread_mutex_lock(&cm->mu);
    cm->stop = true;
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
    /* The thread commits what is queued before it ends: nothing a client
     * handed over is dropped at shutdown. */
    pthread_join(cm->thread, NULL);
    io_commit_drain(cm);
    event_free(cm->ev);
    close(cm->efd);
    pthread_mutex_destroy(&cm->mu);
    pthread_cond_destroy(&cm->cv);
    free(cm);
}
