/*
 * spool_read.c -- reading committed messages back for the queue manager:
 * the envelope parser, the per-recipient .done records, listing queue/,
 * and removing or quarantining what is finished or damaged.
 *
 * Trust boundary: files in queue/ were written by spool.c, but a disk, an
 * editor or a bug may have damaged them. Every field is checked; anything
 * unexpected is SPOOL_ERR_FORMAT with a reason, never a crash, and the
 * content length must match the envelope exactly.
 */
#include "queue/spool.h"
#include "queue/spool_internal.h"

#include "util/util_buf.h"
#include "util/util_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_ENVELOPE_MAX (8u << 20) /* bytes; 1000 rcpts need < 1 MiB */
#define SPOOL_RCPTS_MAX 100000        /* recipients one file may name */
#define SPOOL_READ_CHUNK 16384        /* bytes per read() of the envelope */
#define SPOOL_DONE_NAME_MAX (SPOOL_QUEUE_ID_MAX + sizeof(SPOOL_DONE_SUFFIX))

/* Field flags: which envelope lines were seen. */
enum {
    SF_ARRIVAL = 1 << 0,
    SF_SIZE = 1 << 1,
    SF_SENDER = 1 << 2,
    SF_CLIENT = 1 << 3,
    SF_HELO = 1 << 4,
    SF_SMTPUTF8 = 1 << 5,
    SF_BODY = 1 << 6,
    SF_RCPTS = 1 << 7,
    SF_REQUIRED = (1 << 8) - 1,
};

struct spool_parse {
    struct spool_entry *e;             /* being filled */
    unsigned seen;                     /* SF_* flags */
    size_t declared;                   /* "rcpts N" */
};

typedef const char *(*spool_field_fn)(struct spool_parse *p, char *value);

struct spool_field {
    const char *key;                   /* first word of the line */
    unsigned flag;                     /* SF_*, or 0: may repeat */
    spool_field_fn parse;              /* returns NULL or a reason */
};

/* Decimal digits only, no sign, no overflow past max. */
static const char *
spool_parse_number(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return "empty number";
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return "not a number";
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return "number out of range";
        v = v * 10 + d;
    }
    *out = v;
    return NULL;
}

static int
spool_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undo spool_put_encoded() in place. */
static const char *
spool_decode(char *s)
{
    char *w = s;

    for (const char *r = s; *r != '\0'; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = spool_hex(r[1]);
        int lo = hi < 0 ? -1 : spool_hex(r[2]);
        if (lo < 0 || (hi == 0 && lo == 0))
            return "bad %-escape";
        *w++ = (char)(hi << 4 | lo);
        r += 2;
    }
    *w = '\0';
    return NULL;
}

static const char *
spool_field_arrival(struct spool_parse *p, char *value)
{
    uint64_t v = 0;
    const char *why = spool_parse_number(value, INT64_MAX, &v);
    p->e->arrival = (time_t)v;
    return why;
}

static const char *
spool_field_size(struct spool_parse *p, char *value)
{
    if (strlen(value) != SPOOL_SIZE_DIGITS)
        return "size is not 20 digits";
    return spool_parse_number(value, INT64_MAX, &p->e->size);
}

static const char *
spool_field_sender(struct spool_parse *p, char *value)
{
    p->e->sender = value;
    return spool_decode(value);
}

static const char *
spool_field_client(struct spool_parse *p, char *value)
{
    p->e->client_addr = value;
    return spool_decode(value);
}

static const char *
spool_field_helo(struct spool_parse *p, char *value)
{
    p->e->helo_name = value;
    return spool_decode(value);
}

/* One of two words: "no"/"7bit" is false, "yes"/"8bitmime" is true. */
static const char *
spool_field_bool(char *value, const char *f, const char *t, bool *out)
{
    if (strcmp(value, f) != 0 && strcmp(value, t) != 0)
        return "unknown value";
    *out = strcmp(value, t) == 0;
    return NULL;
}

static const char *
spool_field_smtputf8(struct spool_parse *p, char *value)
{
    return spool_field_bool(value, "no", "yes", &p->e->smtputf8);
}

static const char *
spool_field_body(struct spool_parse *p, char *value)
{
    return spool_field_bool(value, "7bit", "8bitmime", &p->e->body_8bitmime);
}

static const char *
spool_field_rcpts(struct spool_parse *p, char *value)
{
    uint64_t n;
    const char *why = spool_parse_number(value, SPOOL_RCPTS_MAX, &n);
    if (why != NULL)
        return why;
    if (n == 0)
        return "no recipients";
    p->declared = (size_t)n;
    p->e->rcpts = calloc(n, sizeof(*p->e->rcpts));
    p->e->done = calloc(n, sizeof(*p->e->done));
    p->e->done_new = calloc(n, sizeof(*p->e->done_new));
    if (p->e->rcpts == NULL || p->e->done == NULL || p->e->done_new == NULL)
        return "out of memory";
    return NULL;
}

static const char *
spool_field_rcpt(struct spool_parse *p, char *value)
{
    if (!(p->seen & SF_RCPTS))
        return "rcpt before rcpts";
    if (p->e->n_rcpts >= p->declared)
        return "more rcpt lines than rcpts says";
    if (*value == '\0')
        return "empty recipient";
    p->e->rcpts[p->e->n_rcpts++] = value;
    return spool_decode(value);
}

/* The envelope lines (docs/spool.md), in the order spool.c writes them;
 * the parser accepts any order but each at most once, except rcpt. */
static const struct spool_field spool_fields[] = {
    {"arrival", SF_ARRIVAL, spool_field_arrival},
    {"size", SF_SIZE, spool_field_size},
    {"sender", SF_SENDER, spool_field_sender},
    {"client", SF_CLIENT, spool_field_client},
    {"helo", SF_HELO, spool_field_helo},
    {"smtputf8", SF_SMTPUTF8, spool_field_smtputf8},
    {"body", SF_BODY, spool_field_body},
    {"rcpts", SF_RCPTS, spool_field_rcpts},
    {"rcpt", 0, spool_field_rcpt},
};

static const char *
spool_parse_line(struct spool_parse *p, char *line)
{
    char *value = strchr(line, ' ');

    if (value != NULL)
        *value++ = '\0';
    else
        value = line + strlen(line);
    for (size_t i = 0; i < sizeof(spool_fields) / sizeof(spool_fields[0]);
         i++) {
        const struct spool_field *f = &spool_fields[i];
        if (strcmp(f->key, line) != 0)
            continue;
        if (p->seen & f->flag)
            return "field repeated";
        p->seen |= f->flag;
        return f->parse(p, value);
    }
    return "unknown field";
}

/* The first line: magic and version. */
static int
spool_parse_magic(const char *line, char *why, size_t whylen)
{
    uint64_t version;
    size_t n = strlen(SPOOL_MAGIC);

    if (strncmp(line, SPOOL_MAGIC " ", n + 1) != 0 ||
        spool_parse_number(line + n + 1, UINT32_MAX, &version) != NULL) {
        snprintf(why, whylen, "not a tlsmta spool file");
        return SPOOL_ERR_FORMAT;
    }
    if (version != SPOOL_VERSION) {
        snprintf(why, whylen, "spool format version %llu, this is %d",
                 (unsigned long long)version, SPOOL_VERSION);
        return version > SPOOL_VERSION ? SPOOL_ERR_VERSION : SPOOL_ERR_FORMAT;
    }
    return SPOOL_OK;
}

/* Parse the NUL-terminated envelope text e->text (no final blank line). */
static int
spool_parse_envelope(struct spool_entry *e, char *why, size_t whylen)
{
    struct spool_parse p = {.e = e};
    char *line = e->text;
    char *nl = strchr(line, '\n');
    unsigned lineno = 1;
    const char *bad = NULL;

    if (nl != NULL)
        *nl = '\0';
    int r = spool_parse_magic(line, why, whylen);
    while (r == SPOOL_OK && bad == NULL && nl != NULL) {
        line = nl + 1;
        lineno++;
        if ((nl = strchr(line, '\n')) != NULL)
            *nl = '\0';
        bad = spool_parse_line(&p, line);
    }
    if (r != SPOOL_OK)
        return r;
    if (bad == NULL && (p.seen & SF_REQUIRED) != SF_REQUIRED)
        bad = "a field is missing";
    if (bad == NULL && e->n_rcpts != p.declared)
        bad = "fewer rcpt lines than rcpts says";
    if (bad == NULL)
        return SPOOL_OK;
    snprintf(why, whylen, "envelope line %u: %s", lineno, bad);
    return SPOOL_ERR_FORMAT;
}

/* Read from fd until the blank line that ends the envelope; *end is the
 * offset of the "\n\n". */
static int
spool_read_envelope(int fd, struct buf *b, size_t *end, char *why,
                    size_t whylen)
{
    char chunk[SPOOL_READ_CHUNK];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, whylen, "read: %s", strerror(errno));
            return SPOOL_ERR_IO;
        }
        size_t from = b->len > 0 ? b->len - 1 : 0;
        if (n == 0 || buf_append(b, chunk, (size_t)n) < 0) {
            snprintf(why, whylen, n == 0 ? "no end of envelope"
                                         : "envelope too large");
            return SPOOL_ERR_FORMAT;
        }
        char *hit = memmem(b->data + from, b->len - from, "\n\n", 2);
        if (hit != NULL) {
            *end = (size_t)(hit - b->data);
            return SPOOL_OK;
        }
    }
}

/* Apply ID.done: one recipient index per complete line. Bad lines are
 * skipped (delivering twice beats never). */
static void
spool_load_done(struct spool *sp, struct spool_entry *e)
{
    char name[SPOOL_DONE_NAME_MAX];
    struct buf b;
    char chunk[4096];
    ssize_t n;

    snprintf(name, sizeof(name), "%s%s", e->id, SPOOL_DONE_SUFFIX);
    int fd = openat(sp->queue_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    buf_init(&b, e->n_rcpts * 24 + sizeof(chunk));
    while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
           buf_append(&b, chunk, (size_t)n) == 0)
        ;
    close(fd);
    char *line = b.data;
    char *nl;
    for (; line != NULL && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        uint64_t i;
        *nl = '\0';
        if (spool_parse_number(line, UINT64_MAX, &i) == NULL &&
            i < e->n_rcpts)
            e->done[i] = true;
        else
            log_warn("%s done record ignored line=\"%.40s\"", e->id, line);
    }
    buf_free(&b);
}

/* Check the file is regular and its content as long as the envelope says. */
static int
spool_check_length(struct spool_entry *e, char *why, size_t whylen)
{
    struct stat st;

    if (fstat(e->fd, &st) < 0) {
        snprintf(why, whylen, "fstat: %s", strerror(errno));
        return SPOOL_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < (uint64_t)e->content_offset ||
        (uint64_t)st.st_size - (uint64_t)e->content_offset != e->size) {
        snprintf(why, whylen, "content is not the %llu bytes announced",
                 (unsigned long long)e->size);
        return SPOOL_ERR_FORMAT;
    }
    return SPOOL_OK;
}

int
spool_entry_open(struct spool *sp, const char *id, struct spool_entry **out,
                 char *why, size_t whylen)
{
    struct spool_entry *e = calloc(1, sizeof(*e));
    struct buf b;
    size_t end = 0;
    int r;

    snprintf(why, whylen, "ok");
    if (e == NULL) {
        snprintf(why, whylen, "out of memory");
        return SPOOL_ERR_IO;
    }
    if (!spool_id_valid(id)) {
        free(e);
        snprintf(why, whylen, "bad queue id");
        return SPOOL_ERR_FORMAT;
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->fd = openat(sp->queue_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    buf_init(&b, SPOOL_ENVELOPE_MAX);
    if (e->fd < 0) {
        snprintf(why, whylen, "open: %s", strerror(errno));
        r = errno == ELOOP ? SPOOL_ERR_FORMAT : SPOOL_ERR_IO;
    } else {
        r = spool_read_envelope(e->fd, &b, &end, why, whylen);
    }
    e->text = b.data; /* owned by e from here */
    if (r == SPOOL_OK) {
        e->text[end] = '\0';
        e->content_offset = (off_t)end + 2;
        r = spool_parse_envelope(e, why, whylen);
    }
    if (r == SPOOL_OK)
        r = spool_check_length(e, why, whylen);
    if (r != SPOOL_OK) {
        spool_entry_close(e);
        return r;
    }
    spool_load_done(sp, e);
    *out = e;
    return SPOOL_OK;
}

void
spool_entry_close(struct spool_entry *e)
{
    if (e == NULL)
        return;
    if (e->fd >= 0)
        close(e->fd);
    free(e->rcpts);
    free(e->done);
    free(e->done_new);
    free(e->text);
    free(e);
}

void
spool_entry_mark_done(struct spool_entry *e, size_t i)
{
    if (i >= e->n_rcpts)
        log_fatal("%s: recipient %zu of %zu", e->id, i, e->n_rcpts);
    if (!e->done[i])
        e->done_new[i] = true;
    e->done[i] = true;
}

bool
spool_entry_all_done(const struct spool_entry *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (!e->done[i])
            return false;
    return true;
}

int
spool_entry_save_done(struct spool *sp, struct spool_entry *e)
{
    char name[SPOOL_DONE_NAME_MAX];
    struct buf b;
    int r = SPOOL_OK;

    buf_init(&b, 0);
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (e->done_new[i] && buf_printf(&b, "%zu\n", i) < 0)
            r = SPOOL_ERR_IO;
    if (r != SPOOL_OK || b.len == 0) {
        buf_free(&b);
        return r;
    }
    snprintf(name, sizeof(name), "%s%s", e->id, SPOOL_DONE_SUFFIX);
    int fd = openat(sp->queue_fd, name,
                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    /* One write: a crash tears at most the last line, which is ignored. */
    if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0)
        r = spool_errno_to_error(errno);
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    if (r != SPOOL_OK)
        return r;
    memset(e->done_new, 0, e->n_rcpts * sizeof(*e->done_new));
    sp->queue_dirty = true; /* the .done may be new: its name needs fsync */
    return SPOOL_OK;
}

int
spool_entry_remove(struct spool *sp, const struct spool_entry *e)
{
    char name[SPOOL_DONE_NAME_MAX];

    if (unlinkat(sp->queue_fd, e->id, 0) < 0)
        return spool_errno_to_error(errno);
    sp->queue_dirty = true;
    snprintf(name, sizeof(name), "%s%s", e->id, SPOOL_DONE_SUFFIX);
    if (unlinkat(sp->queue_fd, name, 0) < 0 && errno != ENOENT)
        log_warn("%s cannot unlink %s: %s", e->id, name, strerror(errno));
    return SPOOL_OK;
}

int
spool_sync(struct spool *sp)
{
    if (!sp->queue_dirty)
        return SPOOL_OK;
    if (fsync(sp->queue_fd) < 0)
        return spool_errno_to_error(errno);
    sp->queue_dirty = false;
    return SPOOL_OK;
}

int
spool_quarantine(struct spool *sp, const char *name)
{
    char done[NAME_MAX + 1];

    if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return SPOOL_ERR_FORMAT;
    if (renameat(sp->queue_fd, name, sp->corrupt_fd, name) < 0)
        return spool_errno_to_error(errno);
    if (snprintf(done, sizeof(done), "%s%s", name, SPOOL_DONE_SUFFIX) <
            (int)sizeof(done) &&
        renameat(sp->queue_fd, done, sp->corrupt_fd, done) < 0 &&
        errno != ENOENT)
        log_warn("spool: cannot move %s to corrupt/: %s", done,
                 strerror(errno));
    return SPOOL_OK;
}

static int
spool_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Remember id in out (sorted later). */
static int
spool_list_add(struct spool_list *out, size_t *cap, const char *id)
{
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        void *p = reallocarray(out->ids, ncap, sizeof(*out->ids));
        if (p == NULL)
            return -1;
        out->ids = p;
        *cap = ncap;
    }
    snprintf(out->ids[out->n++], SPOOL_QUEUE_ID_MAX, "%s", id);
    return 0;
}

/* An ID.done: keep if queue/ID exists, else it is an orphan. */
static void
spool_list_done(struct spool *sp, const char *name, size_t idlen)
{
    char id[SPOOL_QUEUE_ID_MAX];

    snprintf(id, sizeof(id), "%.*s", (int)idlen, name);
    if (faccessat(sp->queue_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
        errno == ENOENT && unlinkat(sp->queue_fd, name, 0) == 0)
        log_info("%s removed orphan %s", id, name);
}

/* Classify one name found in queue/. */
static int
spool_list_name(struct spool *sp, const char *name, struct spool_list *out,
                size_t *cap)
{
    size_t len = strlen(name);
    size_t sl = strlen(SPOOL_DONE_SUFFIX);

    if (spool_id_valid(name))
        return spool_list_add(out, cap, name);
    if (len > sl && len - sl < SPOOL_QUEUE_ID_MAX &&
        strcmp(name + len - sl, SPOOL_DONE_SUFFIX) == 0) {
        char id[SPOOL_QUEUE_ID_MAX];
        snprintf(id, sizeof(id), "%.*s", (int)(len - sl), name);
        if (spool_id_valid(id)) {
            spool_list_done(sp, name, len - sl);
            return 0;
        }
    }
    int r = spool_quarantine(sp, name);
    log_warn("spool: foreign file queue/%s %s", name,
             r == SPOOL_OK ? "moved to corrupt/" : "left in place");
    return 0;
}

int
spool_list(struct spool *sp, struct spool_list *out)
{
    int fd = dup(sp->queue_fd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    size_t cap = 0;
    int r = SPOOL_OK;

    out->ids = NULL;
    out->n = 0;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return SPOOL_ERR_IO;
    }
    rewinddir(d);
    while (r == SPOOL_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (spool_list_name(sp, de->d_name, out, &cap) < 0)
            r = SPOOL_ERR_IO;
    }
    closedir(d);
    if (r != SPOOL_OK) {
        spool_list_free(out);
        return r;
    }
    if (out->n > 0)
        qsort(out->ids, out->n, sizeof(*out->ids), spool_id_cmp);
    return SPOOL_OK;
}

void
spool_list_free(struct spool_list *l)
{
    free(l->ids);
    l->ids = NULL;
    l->n = 0;
}
