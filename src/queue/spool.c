/*
 * spool.c -- committing new messages to the spool: queue ids, the envelope
 * written ahead of the content, and the write/fsync/rename/fsync sequence
 * after which a message may be acknowledged with 250 (RFC 5321 6.1: once
 * accepted, the server is responsible for the message). docs/spool.md has
 * the file format and the durability argument.
 *
 * Trust boundary: the envelope comes from the SMTP session, already parsed;
 * it is written percent-encoded, so no byte of it can forge an envelope
 * line or end the envelope early.
 */
#include "queue/spool.h"
#include "queue/spool_internal.h"

#include "util/util_buf.h"
#include "util/util_fs.h"
#include "util/util_fsync.h"
#include "util/util_log.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_WBUF 16384               /* bytes buffered before a write() */
#define SPOOL_TMPNAME_MAX 64           /* bytes of a tmp/ name incl. NUL */
#define SPOOL_BEGIN_TRIES 100          /* O_EXCL collisions tolerated */
#define SPOOL_COMMIT_STACK 64          /* commits grouped without malloc */
#define SPOOL_ID_TIME_DIGITS 6         /* 51^6 seconds: beyond year 2500 */
#define SPOOL_ID_USEC_DIGITS 4         /* 51^4 > 10^6 */
#define SPOOL_ID_MIN_LEN (SPOOL_ID_TIME_DIGITS + SPOOL_ID_USEC_DIGITS + 1)

/* Queue id digits, in ASCII order so that ids sort by time. Like Postfix's
 * long queue ids: no vowels (no words by accident), no 'z'. */
static const char spool_id_digits[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";
#define SPOOL_ID_BASE (sizeof(spool_id_digits) - 1)

struct spool_msg {
    struct spool *sp;                  /* borrowed; the spool it goes to */
    int fd;                            /* owned; tmp/tmpname, write-only */
    char tmpname[SPOOL_TMPNAME_MAX];   /* name in tmp/ */
    char id[SPOOL_QUEUE_ID_MAX];       /* queue id: name in queue/ */
    uint64_t size_at;                  /* file offset of the size digits */
    uint64_t flushed;                  /* file bytes written so far */
    uint64_t size;                     /* content bytes accepted */
    int error;                         /* first error; sticky */
    struct buf pending;                /* file bytes not yet written */
};

int
spool_errno_to_error(int err)
{
    if (err == ENOSPC || err == EDQUOT)
        return SPOOL_ERR_NOSPACE;
    return SPOOL_ERR_IO;
}

bool
spool_id_valid(const char *name)
{
    size_t len = strlen(name);

    if (len < SPOOL_ID_MIN_LEN || len >= SPOOL_QUEUE_ID_MAX)
        return false;
    return strspn(name, spool_id_digits) == len;
}

/* Write v in the queue id alphabet: width digits, or as many as needed
 * when width is 0. Returns the digits written. */
static size_t
spool_id_encode(char *out, uint64_t v, size_t width)
{
    char rev[24];
    size_t n = 0;

    do {
        rev[n++] = spool_id_digits[v % SPOOL_ID_BASE];
        v /= SPOOL_ID_BASE;
    } while (v > 0 && n < sizeof(rev));
    while (n < width)
        rev[n++] = spool_id_digits[0];
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

/* Postfix long-queue-id style: seconds, microseconds, inode number. The
 * inode is unique among the files that exist on the file system, and the
 * file holding it exists from spool_msg_begin() until the message is gone,
 * so two messages can share an id only if the clock repeats a microsecond
 * and an inode number is freed and reused within it. The rename into
 * queue/ refuses to replace, which catches even that. */
static void
spool_id_make(char *out, const struct timespec *now, ino_t ino)
{
    size_t n = spool_id_encode(out, (uint64_t)now->tv_sec,
                               SPOOL_ID_TIME_DIGITS);
    n += spool_id_encode(out + n, (uint64_t)now->tv_nsec / 1000,
                         SPOOL_ID_USEC_DIGITS);
    n += spool_id_encode(out + n, (uint64_t)ino, 0);
    out[n] = '\0';
}

/* Open (creating) the subdirectory name of the spool; sets *created. */
static int
spool_open_subdir(int root_fd, const char *name, bool *created)
{
    if (mkdirat(root_fd, name, 0700) == 0)
        *created = true;
    else if (errno != EEXIST)
        return -1;
    return openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
spool_open_fail(struct spool *sp, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s/%s: %s", sp->dir, what, strerror(errno));
    spool_close(sp);
    return SPOOL_ERR_IO;
}

int
spool_open(const char *dir, struct spool **out, char *err, size_t errlen)
{
    struct spool *sp = calloc(1, sizeof(*sp));
    bool created = false;

    if (sp == NULL || (sp->dir = strdup(dir)) == NULL) {
        free(sp);
        snprintf(err, errlen, "%s: out of memory", dir);
        return SPOOL_ERR_IO;
    }
    sp->tmp_fd = sp->queue_fd = sp->corrupt_fd = -1;
    if (fs_mkdir_p(dir, 0700) < 0)
        return spool_open_fail(sp, ".", err, errlen);
    int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return spool_open_fail(sp, ".", err, errlen);
    sp->tmp_fd = spool_open_subdir(root_fd, "tmp", &created);
    sp->queue_fd = spool_open_subdir(root_fd, "queue", &created);
    sp->corrupt_fd = spool_open_subdir(root_fd, "corrupt", &created);
    /* The subdirectories must be durable before a commit relies on them. */
    int r = (sp->tmp_fd < 0 || sp->queue_fd < 0 || sp->corrupt_fd < 0 ||
             (created && fsync(root_fd) < 0))
                ? -1
                : 0;
    int saved = errno;
    close(root_fd);
    errno = saved;
    if (r < 0)
        return spool_open_fail(sp, "{tmp,queue,corrupt}", err, errlen);
    *out = sp;
    return SPOOL_OK;
}

void
spool_close(struct spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->tmp_fd >= 0)
        close(sp->tmp_fd);
    if (sp->queue_fd >= 0)
        close(sp->queue_fd);
    if (sp->corrupt_fd >= 0)
        close(sp->corrupt_fd);
    free(sp->dir);
    free(sp);
}

/* Append s percent-encoded: every byte that could break the line format
 * (controls, space, DEL) and '%' itself become %XX. */
static int
spool_put_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    while (*s != '\0') {
        size_t run = 0;
        while (s[run] != '\0' && (unsigned char)s[run] > ' ' &&
               s[run] != 0x7f && s[run] != '%')
            run++;
        if (run > 0 && buf_append(b, s, run) < 0)
            return -1;
        s += run;
        if (*s == '\0')
            break;
        unsigned char c = (unsigned char)*s++;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (buf_append(b, esc, sizeof(esc)) < 0)
            return -1;
    }
    return 0;
}

/* "key value\n", or "key\n" for an empty value. */
static int
spool_put_field(struct buf *b, const char *key, const char *value)
{
    if (value == NULL)
        value = "";
    if (buf_puts(b, key) < 0)
        return -1;
    if (*value != '\0' && (buf_puts(b, " ") < 0 ||
                           spool_put_encoded(b, value) < 0))
        return -1;
    return buf_puts(b, "\n");
}

/* The envelope, as docs/spool.md describes it, into m->pending (the first
 * bytes of the file). The size is a placeholder patched at commit. */
static int
spool_put_envelope(struct spool_msg *m, const struct spool_envelope *env,
                   time_t arrival)
{
    struct buf *b = &m->pending;

    if (buf_printf(b, "%s %d\narrival %lld\nsize ", SPOOL_MAGIC,
                   SPOOL_VERSION, (long long)arrival) < 0)
        return -1;
    m->size_at = b->len;
    if (buf_printf(b, "%0*d\n", SPOOL_SIZE_DIGITS, 0) < 0 ||
        spool_put_field(b, "sender", env->sender) < 0 ||
        spool_put_field(b, "client", env->client_addr) < 0 ||
        spool_put_field(b, "helo", env->helo_name) < 0 ||
        spool_put_field(b, "smtputf8", env->smtputf8 ? "yes" : "no") < 0 ||
        spool_put_field(b, "body", env->body_8bitmime ? "8bitmime" : "7bit") <
            0 ||
        buf_printf(b, "rcpts %zu\n", env->n_rcpts) < 0)
        return -1;
    for (size_t i = 0; i < env->n_rcpts; i++)
        if (spool_put_field(b, "rcpt", env->rcpts[i]) < 0)
            return -1;
    return buf_puts(b, "\n");
}

/* Create tmp/NAME with O_EXCL under a name unique to this process. */
static int
spool_create_tmp(struct spool *sp, char *name, const struct timespec *now)
{
    static unsigned long counter;

    for (int tries = 0; tries < SPOOL_BEGIN_TRIES; tries++) {
        snprintf(name, SPOOL_TMPNAME_MAX, "%ld.%lu.%lld", (long)getpid(),
                 counter++, (long long)now->tv_sec);
        int fd = openat(sp->tmp_fd, name,
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* An envelope the parser will read back: at least one recipient, none
 * empty (the queue manager would otherwise have to move it aside). */
static bool
spool_envelope_valid(const struct spool_envelope *env)
{
    if (env->n_rcpts == 0 || env->rcpts == NULL)
        return false;
    for (size_t i = 0; i < env->n_rcpts; i++)
        if (env->rcpts[i] == NULL || env->rcpts[i][0] == '\0')
            return false;
    return true;
}

int
spool_msg_begin(struct spool *sp, const struct spool_envelope *env,
                time_t arrival, struct spool_msg **out)
{
    struct spool_msg *m;
    struct timespec now;
    struct stat st;

    if (!spool_envelope_valid(env)) {
        log_err("spool: refused an envelope without recipients");
        return SPOOL_ERR_FORMAT;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return SPOOL_ERR_IO;
    m->sp = sp;
    buf_init(&m->pending, 0);
    clock_gettime(CLOCK_REALTIME, &now);
    m->fd = spool_create_tmp(sp, m->tmpname, &now);
    if (m->fd < 0) {
        int r = spool_errno_to_error(errno);
        log_err("spool: cannot create %s/tmp/%s: %s", sp->dir, m->tmpname,
                strerror(errno));
        buf_free(&m->pending);
        free(m);
        return r;
    }
    if (fstat(m->fd, &st) < 0 || spool_put_envelope(m, env, arrival) < 0) {
        m->error = SPOOL_ERR_IO;
        spool_msg_abort(m);
        return SPOOL_ERR_IO;
    }
    spool_id_make(m->id, &now, st.st_ino);
    *out = m;
    return SPOOL_OK;
}

const char *
spool_msg_id(const struct spool_msg *m)
{
    return m->id;
}

uint64_t
spool_msg_size(const struct spool_msg *m)
{
    return m->size;
}

/* Record the first error; log it once. */
static int
spool_msg_fail(struct spool_msg *m, const char *what, int err)
{
    if (m->error == 0) {
        m->error = spool_errno_to_error(err);
        log_err("%s spool %s failed file=%s/tmp/%s: %s", m->id, what,
                m->sp->dir, m->tmpname, strerror(err));
    }
    return m->error;
}

static int
spool_msg_flush(struct spool_msg *m)
{
    if (m->pending.len == 0)
        return SPOOL_OK;
    if (fs_write_all(m->fd, m->pending.data, m->pending.len) < 0)
        return spool_msg_fail(m, "write", errno);
    m->flushed += m->pending.len;
    buf_reset(&m->pending);
    return SPOOL_OK;
}

int
spool_msg_write(struct spool_msg *m, const void *data, size_t len)
{
    if (m->error != 0)
        return m->error;
    m->size += len;
    if (m->pending.len + len <= SPOOL_WBUF)
        return buf_append(&m->pending, data, len) < 0
                   ? spool_msg_fail(m, "buffer", ENOMEM)
                   : SPOOL_OK;
    if (spool_msg_flush(m) != SPOOL_OK)
        return m->error;
    if (len < SPOOL_WBUF)
        return buf_append(&m->pending, data, len) < 0
                   ? spool_msg_fail(m, "buffer", ENOMEM)
                   : SPOOL_OK;
    if (fs_write_all(m->fd, data, len) < 0)
        return spool_msg_fail(m, "write", errno);
    m->flushed += len;
    return SPOOL_OK;
}

/* Put the final content size into the envelope, in the buffer if the
 * envelope was not written yet, else in the file. */
static int
spool_msg_patch_size(struct spool_msg *m)
{
    char digits[SPOOL_SIZE_DIGITS + 1];

    snprintf(digits, sizeof(digits), "%0*" PRIu64, SPOOL_SIZE_DIGITS,
             m->size);
    if (m->size_at >= m->flushed) {
        memcpy(m->pending.data + (m->size_at - m->flushed), digits,
               SPOOL_SIZE_DIGITS);
        return SPOOL_OK;
    }
    if (pwrite(m->fd, digits, SPOOL_SIZE_DIGITS, (off_t)m->size_at) !=
        SPOOL_SIZE_DIGITS)
        return spool_msg_fail(m, "write", errno ? errno : EIO);
    return SPOOL_OK;
}

/* Move tmp/NAME to queue/ID, never replacing an existing file. */
static int
spool_msg_rename(struct spool_msg *m)
{
    int r = renameat2(m->sp->tmp_fd, m->tmpname, m->sp->queue_fd, m->id,
                      RENAME_NOREPLACE);
    if (r < 0 && errno == EINVAL) /* file system without NOREPLACE */
        r = renameat(m->sp->tmp_fd, m->tmpname, m->sp->queue_fd, m->id);
    return r < 0 ? spool_msg_fail(m, "rename", errno) : SPOOL_OK;
}

/* Free m after its commit: on success it is in queue/, else its tmp/
 * file is removed. Returns its result. */
static int
spool_msg_finish(struct spool_msg *m)
{
    int r = m->error;

    if (r != SPOOL_OK) {
        spool_msg_abort(m);
        return r;
    }
    buf_free(&m->pending);
    free(m);
    return SPOOL_OK;
}

/* Rename each message whose file is durable, and close every file. */
static size_t
spool_msgs_rename(struct spool_msg **msgs, size_t n, const int *err)
{
    size_t renamed = 0;

    for (size_t i = 0; i < n; i++) {
        struct spool_msg *m = msgs[i];
        if (m->error == 0 && err[i] != 0)
            spool_msg_fail(m, "fsync", err[i]);
        if (close(m->fd) < 0)
            spool_msg_fail(m, "close", errno);
        m->fd = -1;
        if (m->error == 0 && spool_msg_rename(m) == SPOOL_OK)
            renamed++;
    }
    return renamed;
}

/* The renames are not known durable: take them back. The clients will
 * retry; if the queue manager already took a copy, that is a duplicate,
 * never a loss. */
static void
spool_msgs_unrename(struct spool_msg **msgs, size_t n, int err)
{
    for (size_t i = 0; i < n; i++) {
        if (msgs[i]->error != 0)
            continue;
        spool_msg_fail(msgs[i], "fsync of queue/", err);
        unlinkat(msgs[i]->sp->queue_fd, msgs[i]->id, 0);
    }
}

/* The commit of msgs, with room for n descriptors and results in fds and
 * err. */
static void
spool_msgs_commit(struct spool_msg **msgs, size_t n, int *fds, int *err)
{
    for (size_t i = 0; i < n; i++) {
        struct spool_msg *m = msgs[i];
        assert(m->sp == msgs[0]->sp);
        if (m->error == 0 && spool_msg_patch_size(m) == SPOOL_OK)
            spool_msg_flush(m);
        fds[i] = m->error == 0 ? m->fd : -1; /* -1 fails alone */
    }
    fs_sync_many(fds, n, err);
    if (spool_msgs_rename(msgs, n, err) > 0 &&
        fsync(msgs[0]->sp->queue_fd) < 0)
        spool_msgs_unrename(msgs, n, errno);
}

int
spool_msg_commit_many(struct spool_msg **msgs, size_t n, int *results)
{
    int fds_stack[SPOOL_COMMIT_STACK] = {0}, err_stack[SPOOL_COMMIT_STACK];
    bool small = n <= SPOOL_COMMIT_STACK;
    int *fds = small ? fds_stack : calloc(n, sizeof(*fds));
    int *err = small ? err_stack : calloc(n, sizeof(*err));
    int failed = 0;

    if (fds != NULL && err != NULL)
        spool_msgs_commit(msgs, n, fds, err);
    for (size_t i = 0; i < n; i++) {
        if (fds == NULL || err == NULL)
            spool_msg_fail(msgs[i], "commit", ENOMEM);
        results[i] = spool_msg_finish(msgs[i]);
        failed += results[i] != SPOOL_OK;
    }
    if (!small) {
        free(fds);
        free(err);
    }
    return failed;
}

int
spool_msg_commit(struct spool_msg *m)
{
    int r;

    spool_msg_commit_many(&m, 1, &r);
    return r;
}

void
spool_msg_abort(struct spool_msg *m)
{
    if (m == NULL)
        return;
    if (m->fd >= 0)
        close(m->fd);
    if (unlinkat(m->sp->tmp_fd, m->tmpname, 0) < 0 && errno != ENOENT)
        log_err("spool: cannot unlink %s/tmp/%s: %s", m->sp->dir, m->tmpname,
                strerror(errno));
    buf_free(&m->pending);
    free(m);
}

int
spool_clean_tmp(struct spool *sp, time_t now, time_t max_age)
{
    int fd = dup(sp->tmp_fd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    struct stat st;
    int removed = 0;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return SPOOL_ERR_IO;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            fstatat(sp->tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || st.st_mtime >= now - max_age)
            continue;
        if (unlinkat(sp->tmp_fd, de->d_name, 0) == 0) {
            log_info("spool: removed stale %s/tmp/%s", sp->dir, de->d_name);
            removed++;
        }
    }
    closedir(d);
    return removed;
}
