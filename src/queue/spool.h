/*
 * spool.h -- the durable queue on disk (DESIGN.md, "Spool is the single
 * source of truth").
 *
 * Layout under the spool directory (docs/spool.md has the file format):
 *   tmp/NAME      being written; never read by the queue manager
 *   queue/ID      committed: envelope, blank line, content (CRLF lines)
 *   queue/ID.done recipients already delivered, one index per line
 *   corrupt/      files the queue manager could not parse, moved aside
 *
 * A message is committed by write, fsync(file), rename(tmp -> queue),
 * fsync(queue/): after spool_msg_commit() returns 0 it survives a crash.
 * Trust boundary: the envelope comes from the SMTP session, already parsed;
 * the spool files are trusted only as far as their own format checks.
 */
#ifndef TLSMTA_QUEUE_SPOOL_H
#define TLSMTA_QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_QUEUE_ID_MAX 32          /* bytes including the NUL */

/* Error returns (negative) of the spool functions. */
enum spool_error {
    SPOOL_OK = 0,
    SPOOL_ERR_IO = -1,                 /* I/O error: 451 4.3.0 */
    SPOOL_ERR_NOSPACE = -2,            /* ENOSPC/EDQUOT: 452 4.3.1 */
    SPOOL_ERR_FORMAT = -3,             /* a spool file is not ours/damaged */
    SPOOL_ERR_VERSION = -4,            /* written by a newer tlsmta */
};

/* The envelope written ahead of the content. Strings are borrowed. */
struct spool_envelope {
    const char *sender;                /* "local@domain" or "" for <> */
    const char *const *rcpts;          /* n_rcpts "local@domain" strings */
    size_t n_rcpts;
    const char *client_addr;           /* for logs and bounces */
    const char *helo_name;
    bool smtputf8;                     /* RFC 6531 */
    bool body_8bitmime;                /* RFC 6152 */
};

struct spool;                          /* an open spool directory */
struct spool_msg;                      /* a message being written */

/* Open (creating tmp/ and queue/ if missing) the spool at dir. Returns 0 and
 * *out, or SPOOL_ERR_IO with a reason in err (errlen bytes). */
int spool_open(const char *dir, struct spool **out, char *err, size_t errlen);
void spool_close(struct spool *sp);

/* Start a message: picks a new queue id unique across processes, creates
 * tmp/ID and writes the envelope. Returns 0 and *out; SPOOL_ERR_FORMAT if
 * env has no recipient or an empty one (a bug of the caller); else
 * SPOOL_ERR_IO or SPOOL_ERR_NOSPACE. Any string may be NULL for "" except
 * the recipients. The envelope strings are copied. */
int spool_msg_begin(struct spool *sp, const struct spool_envelope *env,
                    time_t arrival, struct spool_msg **out);

/* The queue id of m ("ID" above); valid until m is committed or aborted. */
const char *spool_msg_id(const struct spool_msg *m);

/* Append content bytes. Returns 0 or an enum spool_error; after an error
 * the message can only be aborted. */
int spool_msg_write(struct spool_msg *m, const void *data, size_t len);

/* Bytes of content written so far. */
uint64_t spool_msg_size(const struct spool_msg *m);

/* fsync, rename into queue/, fsync queue/. Returns 0 (durable, m freed) or
 * an enum spool_error (nothing visible in queue/, m freed). */
int spool_msg_commit(struct spool_msg *m);

/* Group commit: the same as spool_msg_commit() for each of msgs[0..n)
 * (all of one spool), but their files are made durable at once
 * (fs_sync_many(): one syncfs() rather than n fsync()s) and queue/ is
 * fsynced once for all.
 * results[i] gets what spool_msg_commit() would have returned for
 * msgs[i]; each message is freed. Returns the number that failed. Use it
 * when several sessions finish DATA at once: each may be answered 250 only
 * once this returns with its result 0. */
int spool_msg_commit_many(struct spool_msg **msgs, size_t n, int *results);

/* Remove tmp/ID and free m. */
void spool_msg_abort(struct spool_msg *m);

/*
 * Reading the queue back (the queue manager's side).
 */

/* A committed message read back from queue/ID. Strings point into text and
 * live as long as the entry. */
struct spool_entry {
    char id[SPOOL_QUEUE_ID_MAX];       /* queue id */
    time_t arrival;                    /* as given to spool_msg_begin() */
    uint64_t size;                     /* content bytes */
    const char *sender;                /* "" for <> */
    char **rcpts;                      /* owned array of n_rcpts strings */
    size_t n_rcpts;
    bool *done;                        /* owned; done[i]: rcpts[i] delivered */
    const char *client_addr;
    const char *helo_name;
    bool smtputf8;
    bool body_8bitmime;
    int fd;                            /* owned; queue/ID opened read-only */
    off_t content_offset;              /* content is size bytes from here */
    /* private to spool.c */
    char *text;                        /* owned; decoded envelope text */
    bool *done_new;                    /* owned; marked, not yet saved */
};

/* Open and parse queue/ID, and apply queue/ID.done. Returns 0 and *out
 * (free with spool_entry_close()); SPOOL_ERR_IO if it could not be read
 * (transient, or the file is gone); SPOOL_ERR_FORMAT if it is damaged (the
 * caller moves it aside with spool_quarantine()); SPOOL_ERR_VERSION if a
 * newer tlsmta wrote it (leave it alone). why gets a reason (whylen bytes).
 * Damaged lines in ID.done are ignored: delivering again beats losing. */
int spool_entry_open(struct spool *sp, const char *id,
                     struct spool_entry **out, char *why, size_t whylen);
void spool_entry_close(struct spool_entry *e);

/* Note in memory that recipient i (< n_rcpts) has been delivered durably.
 * Nothing is written until spool_entry_save_done(). */
void spool_entry_mark_done(struct spool_entry *e, size_t i);

/* True when every recipient is done. */
bool spool_entry_all_done(const struct spool_entry *e);

/* Append the recipients marked since the last save to queue/ID.done and
 * fsync it (the queue/ directory is fsynced by spool_sync()). Returns 0 or
 * an enum spool_error. */
int spool_entry_save_done(struct spool *sp, struct spool_entry *e);

/* Unlink queue/ID, then queue/ID.done (in that order: a crash between the
 * two leaves an orphan .done, removed by spool_list(), never a message
 * whose .done is gone). Durable after spool_sync(). Returns 0 or an enum
 * spool_error. */
int spool_entry_remove(struct spool *sp, const struct spool_entry *e);

/* fsync queue/ if an entry was removed or a .done file created since the
 * last call. Returns 0 or an enum spool_error. */
int spool_sync(struct spool *sp);

/* Move queue/NAME (and queue/NAME.done) to corrupt/. name must be a single
 * path component. Returns 0 or an enum spool_error. */
int spool_quarantine(struct spool *sp, const char *name);

/* The queue ids present in queue/, in ascending order (that is arrival
 * order to the microsecond: ids start with the time). */
struct spool_list {
    char (*ids)[SPOOL_QUEUE_ID_MAX];   /* owned; n ids */
    size_t n;
};

/* Fill *out with the ids in queue/. On the way, files whose name is neither
 * an id nor ID.done are logged and moved to corrupt/, and an ID.done whose
 * ID is gone (crash during spool_entry_remove()) is unlinked. Returns 0 or
 * SPOOL_ERR_IO. */
int spool_list(struct spool *sp, struct spool_list *out);
void spool_list_free(struct spool_list *l);

/* Unlink files in tmp/ last modified more than max_age seconds before now:
 * what a crash left mid-write (never acknowledged). Call only where no
 * session can be writing for that long (queue manager start). Returns the
 * number removed, or SPOOL_ERR_IO if tmp/ cannot be read. */
int spool_clean_tmp(struct spool *sp, time_t now, time_t max_age);

#endif
