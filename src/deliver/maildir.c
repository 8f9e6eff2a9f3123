/*
 * maildir.c -- final delivery into a Maildir (maildir.h has the contract;
 * format: https://cr.yp.to/proto/maildir.html), in groups: every file of a
 * group is written to tmp/, all are made durable at once (fs_sync_many()),
 * renamed into new/, and the new/ directories made durable at once. RFC
 * 5321 4.4: the Return-Path line is added here, at final delivery.
 *
 * Trust boundary: the recipient and sender come from the network through
 * the spool. Paths come from maildir_expand() (maildir_path.c); header
 * values with control characters are refused. Never forks, never runs a
 * shell.
 */
#include "deliver/maildir.h"

#include "util/util_buf.h"
#include "util/util_fs.h"
#include "util/util_fsync.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAILDIR_CHUNK 32768            /* bytes of content per pread() */
#define MAILDIR_NAME_MAX 1024          /* bytes of a file name incl. NUL */
#define MAILDIR_CREATE_TRIES 100       /* O_EXCL collisions tolerated */
#define MAILDIR_WHY_MAX 256            /* bytes of a failure reason */

/* One delivery of the group. */
struct maildir_pending {
    int fd;                            /* owned; tmp/NAME until synced */
    char *dir;                         /* owned; the Maildir */
    char *name;                        /* owned; NAME in tmp/ */
    uint64_t size;                     /* bytes of the file */
    int result;                        /* after sync: MAILDIR_OK or error */
    char path[MAILDIR_PATH_MAX];       /* after sync: the file in new/ */
    char why[MAILDIR_WHY_MAX];         /* after sync: reason of an error */
};

struct maildir_batch {
    struct maildir_pending **v;        /* owned; n deliveries */
    size_t n;
    size_t cap;
    bool synced;                       /* results valid until cleared */
};

static int
maildir_errno_to_error(int err)
{
    return err == ENOSPC || err == EDQUOT ? MAILDIR_ERR_NOSPACE
                                          : MAILDIR_ERR_IO;
}

/* "<sec>.M<usec>P<pid>Q<n>.<host>", the host with '/' and ':' escaped as
 * the Maildir specification asks. */
static void
maildir_unique(char *out, size_t outlen, const char *hostname)
{
    static unsigned long deliveries;
    char host[MAILDIR_NAME_MAX / 2];
    struct timespec ts;
    size_t h = 0;

    for (const char *p = hostname; *p != '\0' && h + 5 < sizeof(host); p++) {
        if (*p == '/' || *p == ':')
            h += (size_t)snprintf(host + h, sizeof(host) - h, "\\%03o",
                                  (unsigned char)*p);
        else
            host[h++] = *p;
    }
    host[h] = '\0';
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, outlen, "%lld.M%06ldP%ldQ%lu.%s", (long long)ts.tv_sec,
             ts.tv_nsec / 1000, (long)getpid(), ++deliveries, host);
}

/* The path of a file in one of the Maildir's subdirectories. */
static int
maildir_path(char *out, const char *dir, const char *sub, const char *name)
{
    int n = snprintf(out, MAILDIR_PATH_MAX, "%s/%s%s%s", dir, sub,
                     *name ? "/" : "", name);
    return n < 0 || n >= MAILDIR_PATH_MAX ? -1 : 0;
}

/* tmp/, new/ and cur/ under dir, with any missing parent. */
static int
maildir_create(const char *dir)
{
    static const char *const subdirs[] = {"tmp", "new", "cur"};
    char path[MAILDIR_PATH_MAX];

    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        if (maildir_path(path, dir, subdirs[i], "") < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (fs_mkdir_p(path, 0700) < 0)
            return -1;
    }
    return 0;
}

/* Create dir/tmp/NAME with O_EXCL (making the Maildir if it is missing);
 * NAME is written to name. */
static int
maildir_open_tmp(const char *dir, const char *hostname, char *name,
                 char *tmp_path)
{
    bool created = false;

    for (int tries = 0; tries < MAILDIR_CREATE_TRIES; tries++) {
        maildir_unique(name, MAILDIR_NAME_MAX, hostname);
        if (maildir_path(tmp_path, dir, "tmp", name) < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      0600);
        if (fd >= 0)
            return fd;
        if (errno == ENOENT && !created) {
            if (maildir_create(dir) < 0)
                return -1;
            created = true;
        } else if (errno != EEXIST) {
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Copy in[0..n) to out turning CRLF into LF; *cr carries a CR that ended
 * the previous chunk. out needs n + 1 bytes. Returns the bytes in out. */
static size_t
maildir_to_lf(const char *in, size_t n, char *out, bool *cr)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (*cr && in[i] != '\n')
            out[o++] = '\r';
        *cr = in[i] == '\r';
        if (!*cr)
            out[o++] = in[i];
    }
    return o;
}

/* Write the content of msg to fd, CRLF as LF; add the bytes to *size. */
static int
maildir_copy(int fd, const struct maildir_msg *msg, uint64_t *size)
{
    char in[MAILDIR_CHUNK], out[MAILDIR_CHUNK + 1];
    uint64_t done = 0;
    bool cr = false;

    while (done < msg->length) {
        size_t want = msg->length - done < sizeof(in)
                          ? (size_t)(msg->length - done)
                          : sizeof(in);
        ssize_t n = pread(msg->fd, in, want, msg->offset + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the content is shorter than announced */
            return -1;
        }
        done += (uint64_t)n;
        size_t o = maildir_to_lf(in, (size_t)n, out, &cr);
        if (done == msg->length && cr)
            out[o++] = '\r'; /* a final lone CR stays */
        if (fs_write_all(fd, out, o) < 0)
            return -1;
        *size += o;
    }
    return 0;
}

/* Return-Path (RFC 5321 4.4) and Delivered-To, then the content. */
static int
maildir_write(int fd, const struct maildir_msg *msg, uint64_t *size)
{
    struct buf hdr;

    buf_init(&hdr, 0);
    if (buf_printf(&hdr, "Return-Path: <%s>\nDelivered-To: %s\n",
                   msg->sender, msg->rcpt) < 0) {
        buf_free(&hdr);
        errno = ENOMEM;
        return -1;
    }
    int r = fs_write_all(fd, hdr.data, hdr.len);
    *size = hdr.len;
    buf_free(&hdr);
    if (r < 0)
        return -1;
    return maildir_copy(fd, msg, size);
}

/* Rename tmp/NAME to new/NAME,S=size (re-creating new/ if it is gone). */
static int
maildir_publish(const char *dir, const char *name, const char *tmp_path,
                uint64_t size, char *new_path)
{
    char final[MAILDIR_NAME_MAX + 32];

    snprintf(final, sizeof(final), "%s,S=%llu", name,
             (unsigned long long)size);
    if (maildir_path(new_path, dir, "new", final) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (rename(tmp_path, new_path) == 0)
        return 0;
    if (errno != ENOENT || maildir_create(dir) < 0)
        return -1;
    return rename(tmp_path, new_path);
}

static bool
maildir_header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Phase 1: write msg to tmp/NAME of dir, not yet fsynced; fd stays open. */
static int
maildir_write_tmp(const char *dir, const char *hostname,
                  const struct maildir_msg *msg, struct maildir_pending *p,
                  char *why, size_t whylen)
{
    char name[MAILDIR_NAME_MAX];
    char tmp_path[MAILDIR_PATH_MAX];

    p->fd = maildir_open_tmp(dir, hostname, name, tmp_path);
    if (p->fd < 0) {
        snprintf(why, whylen, "create in %s/tmp: %s", dir, strerror(errno));
        return maildir_errno_to_error(errno);
    }
    if (maildir_write(p->fd, msg, &p->size) < 0 ||
        (p->dir = strdup(dir)) == NULL || (p->name = strdup(name)) == NULL) {
        int err = errno;
        snprintf(why, whylen, "write %s: %s", tmp_path, strerror(err));
        close(p->fd);
        unlink(tmp_path);
        return maildir_errno_to_error(err);
    }
    return MAILDIR_OK;
}

static int
maildir_batch_push(struct maildir_batch *b, struct maildir_pending *p)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 32;
        void *v = reallocarray(b->v, ncap, sizeof(*b->v));
        if (v == NULL)
            return -1;
        b->v = v;
        b->cap = ncap;
    }
    b->v[b->n++] = p;
    return 0;
}

/* Close p's file and remove it from tmp/ (a delivery that failed or was
 * never synced). */
static void
maildir_pending_drop(struct maildir_pending *p)
{
    char tmp_path[MAILDIR_PATH_MAX];

    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->dir != NULL && p->name != NULL &&
        maildir_path(tmp_path, p->dir, "tmp", p->name) == 0)
        unlink(tmp_path);
}

static void
maildir_pending_free(struct maildir_pending *p)
{
    free(p->dir);
    free(p->name);
    free(p);
}

int
maildir_deliver(const char *tmpl, const char *hostname,
                const struct maildir_msg *msg, struct maildir_batch *batch,
                size_t *slot, char *why, size_t whylen)
{
    char dir[MAILDIR_PATH_MAX];

    assert(!batch->synced); /* maildir_batch_clear() first */
    if (!maildir_header_safe(msg->sender) || !maildir_header_safe(msg->rcpt)) {
        snprintf(why, whylen, "control character in sender or recipient");
        return MAILDIR_ERR_ADDRESS;
    }
    int r = maildir_expand(tmpl, msg->rcpt, dir, sizeof(dir));
    if (r != MAILDIR_OK) {
        snprintf(why, whylen, r == MAILDIR_ERR_TEMPLATE
                                  ? "bad maildir template"
                                  : "recipient names no safe mailbox");
        return r;
    }
    struct maildir_pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(why, whylen, "out of memory");
        return MAILDIR_ERR_IO;
    }
    r = maildir_write_tmp(dir, hostname ? hostname : "localhost", msg, p,
                          why, whylen);
    if (r == MAILDIR_OK && maildir_batch_push(batch, p) < 0) {
        snprintf(why, whylen, "out of memory");
        maildir_pending_drop(p);
        r = MAILDIR_ERR_IO;
    }
    if (r != MAILDIR_OK) {
        maildir_pending_free(p);
        return r;
    }
    *slot = batch->n - 1;
    return MAILDIR_OK;
}

static void
maildir_pending_fail(struct maildir_pending *p, const char *step, int err)
{
    p->result = maildir_errno_to_error(err);
    snprintf(p->why, sizeof(p->why), "%s in %s: %s", step, p->dir,
             strerror(err));
}

/* Phase 2: the files are durable; rename each into new/. */
static void
maildir_batch_publish(struct maildir_batch *b, const int *err)
{
    char tmp_path[MAILDIR_PATH_MAX];

    for (size_t i = 0; i < b->n; i++) {
        struct maildir_pending *p = b->v[i];
        int closed = close(p->fd);
        int cerr = errno;
        p->fd = -1;
        if (err[i] != 0 || closed < 0) {
            maildir_pending_fail(p, "fsync", err[i] ? err[i] : cerr);
            maildir_pending_drop(p);
            continue;
        }
        maildir_path(tmp_path, p->dir, "tmp", p->name);
        if (maildir_publish(p->dir, p->name, tmp_path, p->size, p->path) <
            0) {
            maildir_pending_fail(p, "rename", errno);
            unlink(tmp_path);
        }
    }
}

/* The new/ directories of the published files, each once: index into b
 * of the first delivery to each. */
static size_t
maildir_batch_dirs(const struct maildir_batch *b, size_t *first)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n; i++) {
        size_t k = 0;
        if (b->v[i]->result != MAILDIR_OK)
            continue;
        while (k < n && strcmp(b->v[first[k]]->dir, b->v[i]->dir) != 0)
            k++;
        if (k == n)
            first[n++] = i;
    }
    return n;
}

/* Fail every published delivery into the Maildir of b->v[from]. */
static void
maildir_fail_dir(struct maildir_batch *b, size_t from, const char *step,
                 int err)
{
    const char *dir = b->v[from]->dir;

    for (size_t i = from; i < b->n; i++)
        if (b->v[i]->result == MAILDIR_OK && strcmp(b->v[i]->dir, dir) == 0)
            maildir_pending_fail(b->v[i], step, err);
}

/* Phase 3: make each new/ directory durable, all at once. first, fds and
 * err have room for b->n entries. */
static void
maildir_batch_sync_dirs(struct maildir_batch *b, size_t *first, int *fds,
                        int *err)
{
    char path[MAILDIR_PATH_MAX];
    size_t n = maildir_batch_dirs(b, first);
    size_t opened = 0;

    for (size_t k = 0; k < n; k++) {
        maildir_path(path, b->v[first[k]]->dir, "new", "");
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            maildir_fail_dir(b, first[k], "open of new/", errno);
            continue;
        }
        first[opened] = first[k];
        fds[opened++] = fd;
    }
    fs_sync_many(fds, opened, err);
    for (size_t k = 0; k < opened; k++) {
        close(fds[k]);
        if (err[k] != 0)
            maildir_fail_dir(b, first[k], "fsync of new/", err[k]);
    }
}

size_t
maildir_batch_sync(struct maildir_batch *b)
{
    int *fds = calloc(b->n + 1, sizeof(*fds));
    int *err = calloc(b->n + 1, sizeof(*err));
    size_t *first = calloc(b->n + 1, sizeof(*first));
    size_t failed = 0;

    assert(!b->synced);
    b->synced = true;
    for (size_t i = 0; i < b->n && fds != NULL; i++)
        fds[i] = b->v[i]->fd;
    if (fds == NULL || err == NULL || first == NULL) {
        for (size_t i = 0; i < b->n; i++) {
            maildir_pending_fail(b->v[i], "sync", ENOMEM);
            maildir_pending_drop(b->v[i]);
        }
    } else {
        fs_sync_many(fds, b->n, err);
        maildir_batch_publish(b, err);
        maildir_batch_sync_dirs(b, first, fds, err);
    }
    for (size_t i = 0; i < b->n; i++)
        failed += b->v[i]->result != MAILDIR_OK;
    free(fds);
    free(err);
    free(first);
    return failed;
}

int
maildir_batch_result(const struct maildir_batch *b, size_t slot,
                     const char **path, const char **why)
{
    assert(b->synced && slot < b->n);
    *path = b->v[slot]->path;
    *why = b->v[slot]->why;
    return b->v[slot]->result;
}

size_t
maildir_batch_count(const struct maildir_batch *b)
{
    return b->n;
}

struct maildir_batch *
maildir_batch_new(void)
{
    return calloc(1, sizeof(struct maildir_batch));
}

void
maildir_batch_clear(struct maildir_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->synced)
            maildir_pending_drop(b->v[i]);
        maildir_pending_free(b->v[i]);
    }
    b->n = 0;
    b->synced = false;
}

void
maildir_batch_free(struct maildir_batch *b)
{
    if (b == NULL)
        return;
    maildir_batch_clear(b);
    free(b->v);
    free(b);
}
