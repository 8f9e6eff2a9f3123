/*
 * util_fsync.h -- fsync many files at once (group commit). Nothing
 * mail-specific.
 *
 * One fsync() of a small file costs a journal commit (~0.75 ms here); n
 * files fsynced one after the other cost n commits. Issued together from
 * several threads, they wait on the same commit, so n files cost little
 * more than one. Each file is still fsynced by its own call: the guarantee
 * per file is exactly that of fsync().
 */
#ifndef TLSMTA_UTIL_FSYNC_H
#define TLSMTA_UTIL_FSYNC_H

#include <stddef.h>

#define FS_FSYNC_THREADS_MAX 32        /* threads used at most per call */

/* fsync() fds[0..n) concurrently (on up to FS_FSYNC_THREADS_MAX threads,
 * all joined before returning; one file is synced in the calling thread).
 * err[i] gets 0 or the errno of fsync(fds[i]) (retried on EINTR). Returns
 * the number of failures. If threads cannot be started the work is done
 * in the calling thread, slower but the same. */
size_t fs_fsync_many(const int *fds, size_t n, int *err);

#endif
