/*
 * spool.h -- the durable queue on disk (DESIGN.md, "Spool is the single
 * source of truth").
 *
 * Layout under the spool directory:
 *   tmp/ID        being written; never read by the queue manager
 *   queue/ID      committed: envelope, blank line, content (CRLF lines)
 *   queue/ID.done recipients already delivered, one index per line
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
 * tmp/ID and writes the envelope. Returns 0 and *out, or an enum
 * spool_error. The envelope strings are copied. */
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

/* Remove tmp/ID and free m. */
void spool_msg_abort(struct spool_msg *m);

#endif
