/*
 * spool_internal.h -- what spool.c (writing) and spool_read.c (reading
 * back) share. Not for use outside src/queue/spool*.c.
 */
#ifndef TLSMTA_QUEUE_SPOOL_INTERNAL_H
#define TLSMTA_QUEUE_SPOOL_INTERNAL_H

#include <stdbool.h>

#define SPOOL_MAGIC "TLSMTA-SPOOL"     /* first word of every spool file */
#define SPOOL_VERSION 1                /* format written by this code */
#define SPOOL_SIZE_DIGITS 20           /* fixed width of the size field */
#define SPOOL_DONE_SUFFIX ".done"

struct spool {
    char *dir;                         /* owned; the spool directory */
    int tmp_fd;                        /* owned; tmp/ */
    int queue_fd;                      /* owned; queue/ */
    int corrupt_fd;                    /* owned; corrupt/ */
    bool queue_dirty;                  /* queue/ changed since its fsync */
};

/* SPOOL_ERR_NOSPACE for ENOSPC and EDQUOT, else SPOOL_ERR_IO (EFBIG
 * included: a file-size limit is not a full disk). */
int spool_errno_to_error(int err);

/* True if name is a well-formed queue id (alphabet and length). */
bool spool_id_valid(const char *name);

#endif
