/*
 * io_commit.h -- group commit of accepted messages on a helper thread.
 *
 * RFC 5321 4.1.1.4 lets the server answer 250 only once a message is safe.
 * Making it safe costs a disk flush (~0.75 ms here). Doing that inside the
 * event loop would stall every other session; doing it per message would
 * cap throughput at the disk's flush rate. So sessions that reach the end
 * of DATA hand their message to one committer thread, which makes all the
 * messages waiting at that moment durable together
 * (spool_msg_commit_many()) while the loop goes on serving; the loop is
 * told through an eventfd and answers each session.
 *
 * Only the committer's queues are shared between the threads, under its
 * mutex. The thread calls no libevent function.
 */
#ifndef TLSMTA_IO_COMMIT_H
#define TLSMTA_IO_COMMIT_H

#include <event2/event.h>

struct spool_msg;

/* One commit request; embedded in its owner (the session). */
struct io_commit {
    struct spool_msg *msg;       /* owned by the committer while submitted;
                                    freed by the commit */
    int result;                  /* 0 or an enum spool_error, once done */
    struct io_commit *next;      /* queue link, committer's */
};

struct io_committer;

/* Called in the loop thread for each finished request. */
typedef void (*io_commit_done_fn)(struct io_commit *c, void *arg);

/* Start the committer thread. done is called from base's loop. Returns
 * NULL (after logging why) if the thread or eventfd cannot be created. */
struct io_committer *io_committer_new(struct event_base *base,
                                      io_commit_done_fn done, void *arg);

/* Queue c (c->msg set) for the next group; returns at once. c must stay
 * valid until done has been called for it. */
void io_committer_submit(struct io_committer *cm, struct io_commit *c);

/* Commit whatever is queued, stop the thread, call done for every request
 * still unanswered, and free the committer. Safe on NULL. */
void io_committer_free(struct io_committer *cm);

#endif
