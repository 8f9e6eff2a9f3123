/*
 * maildir.c -- final delivery into a Maildir (maildir.h has the contract;
 * format: https://cr.yp.to/proto/maildir.html). RFC 5321 4.4: the
 * Return-Path line is added here, at final delivery.
 *
 * Trust boundary: the recipient and sender come from the network through
 * the spool. The recipient becomes path components only after encoding
 * that makes traversal impossible; header values with control characters
 * are refused. Never forks, never runs a shell.
 */
#include "deliver/maildir.h"

#include "util/util_buf.h"
#include "util/util_fs.h"

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
#define MAILDIR_LOCAL_MAX 1024         /* bytes of an unquoted local part */
#define MAILDIR_CREATE_TRIES 100       /* O_EXCL collisions tolerated */

struct maildir_batch {
    char **dirs;                       /* owned; new/ dirs to fsync */
    size_t n;
    size_t cap;
};

static int
maildir_errno_to_error(int err)
{
    return err == ENOSPC || err == EDQUOT ? MAILDIR_ERR_NOSPACE
                                          : MAILDIR_ERR_IO;
}

/* Index of the '@' that ends the local part, or -1. A quoted local part
 * (RFC 5321 4.1.2 Quoted-string) may itself contain '@'. */
static long
maildir_split(const char *rcpt)
{
    size_t i = 1;

    if (rcpt[0] != '"') {
        const char *at = strchr(rcpt, '@');
        return at == NULL ? -1 : at - rcpt;
    }
    for (; rcpt[i] != '\0' && rcpt[i] != '"'; i++)
        if (rcpt[i] == '\\' && rcpt[i + 1] != '\0')
            i++; /* quoted-pairSMTP */
    if (rcpt[i] != '"' || rcpt[i + 1] != '@')
        return -1;
    return (long)i + 1;
}

const char *
maildir_rcpt_domain(const char *rcpt)
{
    long at = maildir_split(rcpt);
    return at < 0 || rcpt[at + 1] == '\0' ? NULL : rcpt + at + 1;
}

/* The local part rcpt[0..len) without quotes and backslash escapes. */
static int
maildir_unquote(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;

    if (len >= 2 && s[0] == '"') {
        s++;
        len -= 2;
    } else if (len >= outlen) {
        return -1;
    } else {
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        if (o + 1 >= outlen)
            return -1;
        out[o++] = s[i];
    }
    out[o] = '\0';
    return 0;
}

/* Append s[0..len) as one safe path component: lower-cased, and '/', '%',
 * controls, DEL and a leading '.' as %XX (so "." and ".." cannot occur,
 * and distinct addresses never share a mailbox). */
static int
maildir_put_component(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        bool unsafe = c == '/' || c == '%' || c < 0x20 || c == 0x7f ||
                      (i == 0 && c == '.');
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (unsafe ? buf_append(b, esc, 3) : buf_append(b, &c, 1))
            return -1;
    }
    return 0;
}

/* Expand tmpl into b with the already split local part and domain. */
static int
maildir_put_template(struct buf *b, const char *tmpl, const char *local,
                     const char *domain)
{
    for (const char *p = tmpl; *p != '\0'; p++) {
        int r = 0;
        if (*p != '%')
            r = buf_append(b, p, 1);
        else if (p[1] == 'u')
            r = maildir_put_component(b, local, strlen(local));
        else if (p[1] == 'd')
            r = maildir_put_component(b, domain, strlen(domain));
        else if (p[1] == '%')
            r = buf_append(b, "%", 1);
        else
            return MAILDIR_ERR_TEMPLATE;
        if (r < 0)
            return MAILDIR_ERR_ADDRESS;
        if (*p == '%')
            p++;
    }
    return MAILDIR_OK;
}

int
maildir_expand(const char *tmpl, const char *rcpt, char *out, size_t outlen)
{
    char local[MAILDIR_LOCAL_MAX];
    long at = maildir_split(rcpt);
    struct buf b;

    if (tmpl == NULL || *tmpl == '\0')
        return MAILDIR_ERR_TEMPLATE;
    if (outlen < 2)
        return MAILDIR_ERR_ADDRESS;
    if (at <= 0 || rcpt[at + 1] == '\0' ||
        maildir_unquote(rcpt, (size_t)at, local, sizeof(local)) < 0 ||
        local[0] == '\0')
        return MAILDIR_ERR_ADDRESS;
    buf_init(&b, outlen - 1);
    int r = maildir_put_template(&b, tmpl, local, rcpt + at + 1);
    if (r == MAILDIR_OK) {
        while (b.len > 1 && b.data[b.len - 1] == '/')
            b.len--;
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    buf_free(&b);
    return r;
}

struct maildir_batch *
maildir_batch_new(void)
{
    return calloc(1, sizeof(struct maildir_batch));
}

void
maildir_batch_free(struct maildir_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->dirs[i]);
    free(b->dirs);
    free(b);
}

static int
maildir_batch_add(struct maildir_batch *b, const char *dir)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->dirs[i], dir) == 0)
            return 0;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        char **p = reallocarray(b->dirs, ncap, sizeof(*p));
        if (p == NULL)
            return -1;
        b->dirs = p;
        b->cap = ncap;
    }
    if ((b->dirs[b->n] = strdup(dir)) == NULL)
        return -1;
    b->n++;
    return 0;
}

int
maildir_batch_sync(struct maildir_batch *b, char *why, size_t whylen)
{
    int r = MAILDIR_OK;

    for (size_t i = 0; i < b->n; i++) {
        if (r == MAILDIR_OK && fs_fsync_dir(b->dirs[i]) < 0) {
            r = maildir_errno_to_error(errno);
            snprintf(why, whylen, "fsync %s: %s", b->dirs[i],
                     strerror(errno));
        }
        free(b->dirs[i]);
    }
    b->n = 0;
    return r;
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

/* Write and fsync msg to fd; *step names what failed. */
static int
maildir_fill(int fd, const struct maildir_msg *msg, uint64_t *size,
             const char **step)
{
    *step = "write";
    if (maildir_write(fd, msg, size) < 0)
        return -1;
    *step = "fsync";
    return fsync(fd);
}

/* Write, fsync and publish msg into the Maildir dir; path gets the file's
 * name in new/, *step names what failed. */
static int
maildir_store(const char *dir, const char *hostname,
              const struct maildir_msg *msg, char *path, const char **step)
{
    char name[MAILDIR_NAME_MAX];
    char tmp_path[MAILDIR_PATH_MAX];
    uint64_t size = 0;

    *step = "create";
    int fd = maildir_open_tmp(dir, hostname, name, tmp_path);
    if (fd < 0)
        return -1;
    int r = maildir_fill(fd, msg, &size, step);
    int saved = errno;
    if (close(fd) < 0 && r == 0) {
        *step = "close";
        r = -1;
        saved = errno;
    }
    if (r == 0) {
        *step = "rename";
        r = maildir_publish(dir, name, tmp_path, size, path);
        saved = errno;
    }
    if (r < 0)
        unlink(tmp_path);
    errno = saved;
    return r;
}

int
maildir_deliver(const char *tmpl, const char *hostname,
                const struct maildir_msg *msg, struct maildir_batch *batch,
                char *path, size_t pathlen, char *why, size_t whylen)
{
    char dir[MAILDIR_PATH_MAX];
    char new_path[MAILDIR_PATH_MAX];
    const char *step = "";

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
    if (maildir_store(dir, hostname ? hostname : "localhost", msg, new_path,
                      &step) < 0) {
        snprintf(why, whylen, "%s in %s: %s", step, dir, strerror(errno));
        return maildir_errno_to_error(errno);
    }
    snprintf(path, pathlen, "%s", new_path);
    new_path[strlen(dir) + 4] = '\0'; /* dir + "/new" */
    if (maildir_batch_add(batch, new_path) < 0) {
        /* Cannot promise to fsync new/: do it now. */
        if (fs_fsync_dir(new_path) < 0) {
            snprintf(why, whylen, "fsync %s: %s", new_path, strerror(errno));
            return maildir_errno_to_error(errno);
        }
    }
    return MAILDIR_OK;
}
