/*
 * queue_test_util.h -- file-system helpers shared by test_spool.c,
 * test_maildir.c and test_queue_manager.c: temporary directories, reading
 * and writing whole files, listing directories. Test code only.
 */
#ifndef TLSMTA_TESTS_QUEUE_TEST_UTIL_H
#define TLSMTA_TESTS_QUEUE_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Test paths are short ("/tmp/tlsmta-test-XXXXXX/..."), well inside
 * PATH_MAX; GCC cannot know that and would warn at every snprintf. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define TU_DIR_MAX 64 /* bytes of a test directory's path */

/* Make a fresh directory under /tmp; path gets TU_DIR_MAX bytes. */
static inline void
tu_mkdtemp(char *path)
{
    snprintf(path, TU_DIR_MAX, "/tmp/tlsmta-test-XXXXXX");
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

static inline int
tu_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf path. */
static inline void
tu_rm_rf(const char *path)
{
    nftw(path, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The whole file, NUL-terminated (not counted in *len); NULL if absent. */
static inline char *
tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL)
        return NULL;
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap);
        }
        got = fread(data + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

static inline void
tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* Entries in dir other than "." and ".."; -1 if dir cannot be read. The
 * first one's name goes to first (PATH_MAX bytes) if not NULL. */
static inline int
tu_count_dir(const char *dir, char *first)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n++ == 0 && first != NULL)
            snprintf(first, PATH_MAX, "%s", de->d_name);
    }
    closedir(d);
    return n;
}

/* printf into a PATH_MAX buffer. */
#define tu_path(buf, ...) snprintf((buf), PATH_MAX, __VA_ARGS__)

#endif
