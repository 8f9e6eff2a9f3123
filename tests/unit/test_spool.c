/*
 * test_spool.c -- the durable spool: commit and read back byte-exact,
 * queue ids unique across processes, nothing visible after a failed write
 * (full disk through /dev/full, file-size limit), the envelope parser on
 * damaged files, .done records, listing and tmp/ clean-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "queue/spool.h"
#include "util/util_fsync.h"
#include "queue_test_util.h"

struct fixture {
    char dir[TU_DIR_MAX];              /* the spool directory */
    struct spool *sp;
};

static const char *const rcpts3[] = {
    "bob@example.org",
    "\"odd person\"@example.org",
    "carol@remote.test",
};

static const struct spool_envelope env3 = {
    .sender = "alice@example.org",
    .rcpts = rcpts3,
    .n_rcpts = 3,
    .client_addr = "192.0.2.1",
    .helo_name = "client.example",
    .smtputf8 = true,
    .body_8bitmime = true,
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];

    tu_mkdtemp(f->dir);
    assert_int_equal(spool_open(f->dir, &f->sp, err, sizeof(err)), SPOOL_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    spool_close(f->sp);
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

static int
count_sub(struct fixture *f, const char *sub, char *first)
{
    char path[PATH_MAX];
    tu_path(path, "%s/%s", f->dir, sub);
    return tu_count_dir(path, first);
}

/* CRLF lines of a recognisable pattern, len bytes. */
static char *
make_content(size_t len)
{
    char *c = malloc(len);
    for (size_t i = 0; i < len; i++)
        c[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n'
                                                      : (char)('a' + i % 26);
    return c;
}

/* Commit env with content; the id goes to id. */
static void
commit(struct fixture *f, const struct spool_envelope *env,
       const char *content, size_t len, char *id)
{
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(f->sp, env, 1700000000, &m), SPOOL_OK);
    snprintf(id, SPOOL_QUEUE_ID_MAX, "%s", spool_msg_id(m));
    /* Uneven chunks: buffered, flushed, and written straight through. */
    static const size_t chunks[] = {1, 7, 20000, 100, 16384, 3};
    size_t off = 0;
    for (size_t i = 0; off < len; i = (i + 1) % 6) {
        size_t n = chunks[i] < len - off ? chunks[i] : len - off;
        assert_int_equal(spool_msg_write(m, content + off, n), SPOOL_OK);
        off += n;
    }
    assert_int_equal(spool_msg_size(m), len);
    assert_int_equal(spool_msg_commit(m), SPOOL_OK);
}

static void
test_commit_read_back(void **state)
{
    struct fixture *f = *state;
    char id[SPOOL_QUEUE_ID_MAX], name[PATH_MAX], path[PATH_MAX], why[256];
    size_t len = 100000, flen = 0;
    char *content = make_content(len);
    struct spool_entry *e;

    commit(f, &env3, content, len, id);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(count_sub(f, "queue", name), 1);
    assert_string_equal(name, id);

    /* The file ends with the content, byte for byte, after a blank line. */
    tu_path(path, "%s/queue/%s", f->dir, id);
    char *raw = tu_read_file(path, &flen);
    assert_true(flen > len + 2);
    assert_memory_equal(raw + flen - len, content, len);
    assert_memory_equal(raw + flen - len - 2, "\n\n", 2);
    assert_memory_equal(raw, "TLSMTA-SPOOL 1\n", 15);
    free(raw);

    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)),
                     SPOOL_OK);
    assert_string_equal(e->id, id);
    assert_int_equal(e->arrival, 1700000000);
    assert_int_equal(e->size, len);
    assert_string_equal(e->sender, "alice@example.org");
    assert_int_equal(e->n_rcpts, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(e->rcpts[i], rcpts3[i]);
        assert_false(e->done[i]);
    }
    assert_string_equal(e->client_addr, "192.0.2.1");
    assert_string_equal(e->helo_name, "client.example");
    assert_true(e->smtputf8);
    assert_true(e->body_8bitmime);
    char *back = malloc(len);
    assert_int_equal(pread(e->fd, back, len, e->content_offset), (ssize_t)len);
    assert_memory_equal(back, content, len);
    free(back);
    spool_entry_close(e);
    free(content);
}

/* Envelope strings with spaces, newlines and '%' cannot forge lines. */
static void
test_envelope_encoding(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"\"a b%41\\\"\"@example.org"};
    struct spool_envelope env = {
        .sender = "",
        .rcpts = r,
        .n_rcpts = 1,
        .client_addr = NULL,
        .helo_name = "evil\r\nrcpt x@y\n\nX",
    };
    char id[SPOOL_QUEUE_ID_MAX], why[256];
    struct spool_entry *e;

    commit(f, &env, "x\r\n", 3, id);
    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)),
                     SPOOL_OK);
    assert_string_equal(e->sender, "");
    assert_string_equal(e->client_addr, "");
    assert_string_equal(e->helo_name, "evil\r\nrcpt x@y\n\nX");
    assert_int_equal(e->n_rcpts, 1);
    assert_string_equal(e->rcpts[0], r[0]);
    assert_false(e->smtputf8);
    assert_false(e->body_8bitmime);
    assert_int_equal(e->size, 3);
    spool_entry_close(e);
}

static void
test_envelope_refused(void **state)
{
    struct fixture *f = *state;
    const char *empty[] = {""};
    struct spool_envelope env = {.sender = "a@b", .rcpts = empty};
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(f->sp, &env, 1, &m), SPOOL_ERR_FORMAT);
    env.n_rcpts = 1;
    assert_int_equal(spool_msg_begin(f->sp, &env, 1, &m), SPOOL_ERR_FORMAT);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
}

static void
test_empty_content(void **state)
{
    struct fixture *f = *state;
    char id[SPOOL_QUEUE_ID_MAX], why[256];
    struct spool_entry *e;

    commit(f, &env3, "", 0, id);
    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)),
                     SPOOL_OK);
    assert_int_equal(e->size, 0);
    spool_entry_close(e);
}

static void
commit_many(struct fixture *f, int n)
{
    char id[SPOOL_QUEUE_ID_MAX];
    for (int i = 0; i < n; i++)
        commit(f, &env3, "m\r\n", 3, id);
}

/* Ids from several processes at once, many per microsecond. */
static void
test_ids_unique(void **state)
{
    struct fixture *f = *state;
    enum { CHILDREN = 3, PER_CHILD = 150, PARENT = 300 };
    struct spool_list l;

    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            commit_many(f, PER_CHILD);
            _exit(0);
        }
    }
    commit_many(f, PARENT);
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        assert_true(wait(&status) > 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(spool_list(f->sp, &l), SPOOL_OK);
    assert_int_equal(l.n, CHILDREN * PER_CHILD + PARENT);
    for (size_t i = 0; i < l.n; i++) {
        size_t len = strlen(l.ids[i]);
        assert_true(len >= 11 && len < SPOOL_QUEUE_ID_MAX);
        assert_int_equal(strspn(l.ids[i], "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "abcdefghijklmnopqrstuvwxyz"),
                         len);
        if (i > 0)
            assert_true(strcmp(l.ids[i - 1], l.ids[i]) < 0);
    }
    spool_list_free(&l);
}

static void
test_abort_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(f->sp, &env3, time(NULL), &m), SPOOL_OK);
    assert_int_equal(spool_msg_write(m, "abc", 3), SPOOL_OK);
    assert_int_equal(count_sub(f, "tmp", NULL), 1);
    spool_msg_abort(m);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
}

/* Point the message's open tmp/ file descriptor at /dev/full: every later
 * write fails with ENOSPC, as on a full disk. */
static void
make_disk_full(struct fixture *f)
{
    char link[64], target[PATH_MAX], want[PATH_MAX];
    int full = open("/dev/full", O_WRONLY);
    bool found = false;

    assert_true(full >= 0);
    tu_path(want, "%s/tmp/", f->dir);
    for (int fd = 0; fd < 1024 && !found; fd++) {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, want, strlen(want)) == 0) {
            assert_int_equal(dup2(full, fd), fd);
            found = true;
        }
    }
    close(full);
    assert_true(found);
}

static void
test_full_disk_at_commit(void **state)
{
    struct fixture *f = *state;
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(f->sp, &env3, time(NULL), &m), SPOOL_OK);
    make_disk_full(f);
    assert_int_equal(spool_msg_write(m, "small\r\n", 7), SPOOL_OK);
    assert_int_equal(spool_msg_commit(m), SPOOL_ERR_NOSPACE);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
}

static void
test_full_disk_at_write(void **state)
{
    struct fixture *f = *state;
    struct spool_msg *m;
    char *big = make_content(200000);

    assert_int_equal(spool_msg_begin(f->sp, &env3, time(NULL), &m), SPOOL_OK);
    make_disk_full(f);
    assert_int_equal(spool_msg_write(m, big, 200000), SPOOL_ERR_NOSPACE);
    /* Sticky: later writes and the commit fail the same way. */
    assert_int_equal(spool_msg_write(m, "x", 1), SPOOL_ERR_NOSPACE);
    assert_int_equal(spool_msg_commit(m), SPOOL_ERR_NOSPACE);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
    free(big);
}

/* Group commit: each message gets its own result; a failing one takes
 * nothing else down and leaves nothing visible. */
static void
test_commit_many(void **state)
{
    struct fixture *f = *state;
    enum { N = 100 };
    struct spool_msg *m[N];
    int results[N];
    char why[256];
    struct spool_list l;

    assert_int_equal(spool_msg_begin(f->sp, &env3, 1, &m[0]), SPOOL_OK);
    make_disk_full(f); /* only m[0] is open yet */
    for (int i = 1; i < N; i++)
        assert_int_equal(spool_msg_begin(f->sp, &env3, 1, &m[i]), SPOOL_OK);
    for (int i = 0; i < N; i++) {
        char body[32];
        int len = snprintf(body, sizeof(body), "message %d\r\n", i);
        assert_int_equal(spool_msg_write(m[i], body, (size_t)len), SPOOL_OK);
    }
    assert_int_equal(spool_msg_commit_many(m, N, results), 1);
    assert_int_equal(results[0], SPOOL_ERR_NOSPACE);
    for (int i = 1; i < N; i++)
        assert_int_equal(results[i], SPOOL_OK);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(spool_list(f->sp, &l), SPOOL_OK);
    assert_int_equal(l.n, N - 1);
    for (size_t i = 0; i < l.n; i++) {
        struct spool_entry *e;
        assert_int_equal(spool_entry_open(f->sp, l.ids[i], &e, why,
                                          sizeof(why)),
                         SPOOL_OK);
        assert_true(e->size >= 11 && e->size <= 12);
        spool_entry_close(e);
    }
    spool_list_free(&l);
    assert_int_equal(spool_msg_commit_many(m, 0, results), 0);
}

/* fs_sync_many(), the group commit under spool_msg_commit_many(): each
 * descriptor gets its own result; -1 fails alone. */
static void
test_sync_many(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    int fds[4], err[4];

    for (int i = 0; i < 3; i++) {
        tu_path(path, "%s/tmp/f%d", f->dir, i);
        fds[i] = open(path, O_WRONLY | O_CREAT, 0600);
        assert_true(fds[i] >= 0);
        assert_int_equal(write(fds[i], "x", 1), 1);
    }
    fds[3] = -1;
    assert_int_equal(fs_sync_many(fds, 4, err), 1);
    assert_int_equal(err[0], 0);
    assert_int_equal(err[2], 0);
    assert_int_equal(err[3], EBADF);
    assert_int_equal(fs_sync_many(fds, 1, err), 0);
    assert_int_equal(fs_sync_many(fds, 0, err), 0);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

/* A file-size limit (EFBIG) is an I/O error, not a full disk. */
static void
test_file_size_limit(void **state)
{
    struct fixture *f = *state;
    struct rlimit old, lim;
    struct spool_msg *m;
    char *big = make_content(300000);

    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 65536;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(spool_msg_begin(f->sp, &env3, time(NULL), &m), SPOOL_OK);
    int r = spool_msg_write(m, big, 300000);
    if (r == SPOOL_OK)
        r = spool_msg_commit(m);
    else
        spool_msg_abort(m);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(r, SPOOL_ERR_IO);
    assert_int_equal(count_sub(f, "tmp", NULL), 0);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
    free(big);
}

/* Write data as queue/ID and try to open it. */
static int
open_raw(struct fixture *f, const char *id, const char *data, size_t len)
{
    char path[PATH_MAX], why[256];
    struct spool_entry *e = NULL;

    tu_path(path, "%s/queue/%s", f->dir, id);
    tu_write_file(path, data, len);
    int r = spool_entry_open(f->sp, id, &e, why, sizeof(why));
    if (r == SPOOL_OK) {
        assert_non_null(e);
        spool_entry_close(e);
    } else {
        assert_true(strlen(why) > 0);
    }
    return r;
}

static char *
valid_file(struct fixture *f, size_t *len)
{
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX];

    commit(f, &env3, "Subject: x\r\n\r\nbody\r\n", 20, id);
    tu_path(path, "%s/queue/%s", f->dir, id);
    char *raw = tu_read_file(path, len);
    unlink(path);
    return raw;
}

/* Every truncation is refused; every one-byte change is refused or read
 * consistently; none crashes (run under ASan too). */
static void
test_damaged_files(void **state)
{
    struct fixture *f = *state;
    static const char repl[] = {'\n', '%', ' ', 'x', '9', '\0', '\r', 0x7f};
    size_t len;
    char *raw = valid_file(f, &len);
    const char *id = "0000000000000B";

    assert_int_equal(open_raw(f, id, raw, len), SPOOL_OK);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(open_raw(f, id, raw, cut), SPOOL_ERR_FORMAT);
    char *copy = malloc(len);
    for (size_t pos = 0; pos < len - 20; pos++) {
        for (size_t k = 0; k < sizeof(repl); k++) {
            memcpy(copy, raw, len);
            copy[pos] = repl[k];
            int r = open_raw(f, id, copy, len);
            assert_true(r == SPOOL_OK || r == SPOOL_ERR_FORMAT ||
                        r == SPOOL_ERR_VERSION);
        }
    }
    free(copy);
    free(raw);
}

static void
test_bad_envelopes(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        int expect;
    } cases[] = {
        {"TLSMTA-SPOOL 2\narrival 1\n\n", SPOOL_ERR_VERSION},
        {"TLSMTA-SPOOL 0\n\n", SPOOL_ERR_FORMAT},
        {"From: someone\n\n", SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a@b\n\n",
         SPOOL_OK},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 2\nrcpt a@b\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a@b\n"
         "rcpt c@d\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a%0@b\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a%00b\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a@b\n"
         "colour blue\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\narrival 2\n"
         "size 00000000000000000000\nsender\nclient\nhelo\nsmtputf8 no\n"
         "body 7bit\nrcpts 1\nrcpt a@b\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 99999999999999999999\n"
         "size 00000000000000000000\nsender\nclient\nhelo\nsmtputf8 no\n"
         "body 7bit\nrcpts 1\nrcpt a@b\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000005\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a@b\n\nabc",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 0\n\n",
         SPOOL_ERR_FORMAT},
        {"TLSMTA-SPOOL 1\narrival 1\nsize 00000000000000000000\nsender\n"
         "client\nhelo\nsmtputf8 no\nbody 7bit\nrcpts 1\nrcpt a@b\n",
         SPOOL_ERR_FORMAT},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(open_raw(f, "0000000000000C", cases[i].text,
                                  strlen(cases[i].text)),
                         cases[i].expect);
    /* Not a regular file, not a valid id. */
    char path[PATH_MAX], why[256];
    struct spool_entry *e;
    tu_path(path, "%s/queue/0000000000000D", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_not_equal(spool_entry_open(f->sp, "0000000000000D", &e, why,
                                          sizeof(why)),
                         SPOOL_OK);
    assert_int_equal(spool_entry_open(f->sp, "../x", &e, why, sizeof(why)),
                     SPOOL_ERR_FORMAT);
}

static void
test_done_records(void **state)
{
    struct fixture *f = *state;
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX], why[256];
    struct spool_entry *e;

    commit(f, &env3, "x\r\n", 3, id);
    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)), 0);
    spool_entry_mark_done(e, 0);
    spool_entry_mark_done(e, 2);
    assert_false(spool_entry_all_done(e));
    assert_int_equal(spool_entry_save_done(f->sp, e), SPOOL_OK);
    assert_int_equal(spool_sync(f->sp), SPOOL_OK);
    spool_entry_close(e);

    /* Garbage and a torn last line are ignored, never taken as done. */
    tu_path(path, "%s/queue/%s.done", f->dir, id);
    FILE *fp = fopen(path, "a");
    fputs("x\n99\n-1\n1", fp);
    fclose(fp);
    assert_int_equal(spool_entry_open(f->sp, id, &e, why, sizeof(why)), 0);
    assert_true(e->done[0]);
    assert_false(e->done[1]);
    assert_true(e->done[2]);
    spool_entry_mark_done(e, 1);
    assert_true(spool_entry_all_done(e));
    assert_int_equal(spool_entry_remove(f->sp, e), SPOOL_OK);
    assert_int_equal(spool_sync(f->sp), SPOOL_OK);
    spool_entry_close(e);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
}

static void
test_list_cleans_up(void **state)
{
    struct fixture *f = *state;
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX];
    struct spool_list l;

    commit(f, &env3, "x\r\n", 3, id);
    tu_path(path, "%s/queue/junk.txt", f->dir);
    tu_write_file(path, "j", 1);
    tu_path(path, "%s/queue/.hidden", f->dir);
    tu_write_file(path, "h", 1);
    tu_path(path, "%s/queue/0000000000000F.done", f->dir);
    tu_write_file(path, "0\n", 2);
    tu_path(path, "%s/queue/%s.done", f->dir, id);
    tu_write_file(path, "1\n", 2);

    assert_int_equal(spool_list(f->sp, &l), SPOOL_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], id);
    spool_list_free(&l);
    assert_int_equal(count_sub(f, "queue", NULL), 2); /* id and id.done */
    assert_int_equal(count_sub(f, "corrupt", NULL), 2);
    tu_path(path, "%s/corrupt/junk.txt", f->dir);
    assert_int_equal(access(path, F_OK), 0);
}

static void
test_quarantine(void **state)
{
    struct fixture *f = *state;
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX];

    commit(f, &env3, "x\r\n", 3, id);
    tu_path(path, "%s/queue/%s.done", f->dir, id);
    tu_write_file(path, "1\n", 2);
    assert_int_equal(spool_quarantine(f->sp, id), SPOOL_OK);
    assert_int_equal(count_sub(f, "queue", NULL), 0);
    assert_int_equal(count_sub(f, "corrupt", NULL), 2);
    assert_int_equal(spool_quarantine(f->sp, "../etc"), SPOOL_ERR_FORMAT);
}

static void
test_clean_tmp(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX], name[PATH_MAX];
    time_t now = time(NULL);
    struct timespec old[2] = {{now - 2 * 86400, 0}, {now - 2 * 86400, 0}};

    tu_path(path, "%s/tmp/old", f->dir);
    tu_write_file(path, "o", 1);
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    tu_path(path, "%s/tmp/young", f->dir);
    tu_write_file(path, "y", 1);
    assert_int_equal(spool_clean_tmp(f->sp, now, 86400), 1);
    assert_int_equal(count_sub(f, "tmp", name), 1);
    assert_string_equal(name, "young");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_read_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_encoding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_at_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_at_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_size_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_commit_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_envelopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_cleans_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
