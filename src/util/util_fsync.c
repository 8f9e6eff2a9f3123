/*
 * util_fsync.c -- group commit of many files (util_fsync.h).
 */
#include "util/util_fsync.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS_PENDING (-1)                /* err[i]: not synced yet */

static int
fs_retry(int (*fn)(int), int fd)
{
    int r;

    do
        r = fn(fd);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

/* syncfs() the file system of fds[i] and give its result to every pending
 * descriptor on that file system. */
static void
fs_sync_device(const int *fds, size_t n, int *err, size_t i)
{
    struct stat st;

    if (fstat(fds[i], &st) < 0) {
        err[i] = errno;
        return;
    }
    dev_t dev = st.st_dev;
    int r = fs_retry(syncfs, fds[i]);
    for (size_t j = i; j < n; j++)
        if (err[j] == FS_PENDING && fstat(fds[j], &st) == 0 &&
            st.st_dev == dev)
            err[j] = r;
}

size_t
fs_sync_many(const int *fds, size_t n, int *err)
{
    size_t failed = 0;

    for (size_t i = 0; i < n; i++)
        err[i] = fds[i] < 0 ? EBADF : FS_PENDING;
    if (n == 1 && fds[0] >= 0)
        err[0] = fs_retry(fsync, fds[0]);
    for (size_t i = 0; i < n; i++)
        if (err[i] == FS_PENDING)
            fs_sync_device(fds, n, err, i);
    for (size_t i = 0; i < n; i++)
        failed += err[i] != 0;
    return failed;
}
