/*
 * util_fsync.c -- concurrent fsync of many files (util_fsync.h).
 */
#include "util/util_fsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct fs_fsync_job {
    const int *fds;                    /* borrowed; n descriptors */
    int *err;                          /* borrowed; n results */
    size_t n;
    atomic_size_t next;                /* next index to take */
};

static void *
fs_fsync_worker(void *arg)
{
    struct fs_fsync_job *job = arg;
    size_t i;

    while ((i = atomic_fetch_add(&job->next, 1)) < job->n) {
        int r;
        do
            r = fsync(job->fds[i]);
        while (r < 0 && errno == EINTR);
        job->err[i] = r < 0 ? errno : 0;
    }
    return NULL;
}

size_t
fs_fsync_many(const int *fds, size_t n, int *err)
{
    struct fs_fsync_job job = {.fds = fds, .err = err, .n = n};
    pthread_t threads[FS_FSYNC_THREADS_MAX];
    size_t started = 0, failed = 0;

    atomic_init(&job.next, 0);
    while (started + 1 < n && started < FS_FSYNC_THREADS_MAX &&
           pthread_create(&threads[started], NULL, fs_fsync_worker, &job) ==
               0)
        started++;
    fs_fsync_worker(&job);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < n; i++)
        failed += err[i] != 0;
    return failed;
}
