/*
 * util_fsync.h -- make many files durable at once (group commit). Nothing
 * mail-specific.
 *
 * One fsync() costs a flush of the disk's write cache (~0.75 ms here); n
 * files fsynced one after the other cost n flushes, and each delays every
 * other process waiting on the same disk. syncfs() writes back everything
 * dirty on one file system and flushes once, so n files cost about one.
 * Since Linux 5.8 syncfs() reports write-back errors of the file system,
 * which makes it as strong a guarantee as an fsync() of each file.
 */
#ifndef TLSMTA_UTIL_FSYNC_H
#define TLSMTA_UTIL_FSYNC_H

#include <stddef.h>

/* Make the files (or directories) open as fds[0..n) durable: fsync() when
 * n is 1, else syncfs() once per file system among them. err[i] gets 0 or
 * the errno that applies to fds[i] (EBADF for a descriptor of -1, which
 * is skipped). Returns the number of failures. */
size_t fs_sync_many(const int *fds, size_t n, int *err);

#endif
