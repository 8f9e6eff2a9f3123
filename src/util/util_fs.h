/*
 * util_fs.h -- durable file-system steps: directory fsync, mkdir -p,
 * write-all. Nothing mail-specific.
 */
#ifndef TLSMTA_UTIL_FS_H
#define TLSMTA_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* fsync() the directory at path, so that a rename or create inside it is
 * durable. Returns 0, or -1 with errno set. */
int fs_fsync_dir(const char *path);

/* Create path and any missing parents with the given mode (like mkdir -p).
 * Returns 0 (also when it already exists as a directory), or -1 with errno
 * set. Each directory it creates has its parent fsynced. */
int fs_mkdir_p(const char *path, mode_t mode);

/* write() all len bytes to fd, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set (ENOSPC, EDQUOT, EIO, ...). */
int fs_write_all(int fd, const void *data, size_t len);

#endif
