/*
 * test_maildir.c -- Maildir delivery: the path made from a recipient can
 * never leave the template's directory (traversal, quoting, control
 * characters, random bytes), the file written is exact (Return-Path,
 * Delivered-To, CRLF to LF across read chunks), its name follows the
 * Maildir specification, and a failure leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <regex.h>

#include "deliver/maildir.h"
#include "util/util_fs.h"
#include "queue_test_util.h"

struct fixture {
    char dir[TU_DIR_MAX];              /* scratch directory */
    char tmpl[PATH_MAX];               /* dir/%d/%u */
    struct maildir_batch *batch;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    tu_mkdtemp(f->dir);
    tu_path(f->tmpl, "%s/%%d/%%u", f->dir);
    f->batch = maildir_batch_new();
    assert_non_null(f->batch);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    maildir_batch_free(f->batch);
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Deliver msg in a group of its own: phase 1, then the group commit.
 * Returns the outcome; path (MAILDIR_PATH_MAX bytes) gets the new/ file. */
static int
deliver_one(struct fixture *f, const char *tmpl, const char *host,
            const struct maildir_msg *msg, char *path)
{
    char why[256];
    const char *p, *w;
    size_t slot;

    int r = maildir_deliver(tmpl, host, msg, f->batch, &slot, why,
                            sizeof(why));
    if (r != MAILDIR_OK) {
        assert_true(strlen(why) > 0);
        assert_int_equal(maildir_batch_count(f->batch), 0);
        return r;
    }
    assert_int_equal(slot, maildir_batch_count(f->batch) - 1);
    size_t failed = maildir_batch_sync(f->batch);
    r = maildir_batch_result(f->batch, slot, &p, &w);
    assert_int_equal(failed, r == MAILDIR_OK ? 0 : 1);
    snprintf(path, MAILDIR_PATH_MAX, "%s", p);
    maildir_batch_clear(f->batch);
    return r;
}

static void
expect_path(const char *rcpt, const char *want)
{
    char out[MAILDIR_PATH_MAX];
    assert_int_equal(maildir_expand("/m/%d/%u", rcpt, out, sizeof(out)),
                     MAILDIR_OK);
    assert_string_equal(out, want);
}

static void
test_expand(void **state)
{
    (void)state;
    char out[MAILDIR_PATH_MAX];

    expect_path("Bob.Smith@Example.ORG", "/m/example.org/bob.smith");
    expect_path("\"a@b\"@example.org", "/m/example.org/a@b");
    expect_path("\"john doe\"@example.org", "/m/example.org/john doe");
    expect_path("x@[192.0.2.1]", "/m/[192.0.2.1]/x");
    assert_int_equal(maildir_expand("/m/%%/%u/", "x@d", out, sizeof(out)),
                     MAILDIR_OK);
    assert_string_equal(out, "/m/%/x");
    assert_int_equal(maildir_expand("/var/mail/%d", "x@D.org", out,
                                    sizeof(out)),
                     MAILDIR_OK);
    assert_string_equal(out, "/var/mail/d.org");
}

/* Attempts to leave the directory become harmless single components. */
static void
test_expand_traversal(void **state)
{
    (void)state;

    expect_path("../../etc/passwd@example.org",
                "/m/example.org/%2E.%2F..%2Fetc%2Fpasswd");
    expect_path("\"../x\"@example.org", "/m/example.org/%2E.%2Fx");
    expect_path("\"..\"@example.org", "/m/example.org/%2E.");
    expect_path("\".\"@example.org", "/m/example.org/%2E");
    expect_path(".hidden@example.org", "/m/example.org/%2Ehidden");
    expect_path("\"a/b\"@example.org", "/m/example.org/a%2Fb");
    expect_path("\"a\\\"b\\\\c\"@example.org", "/m/example.org/a\"b\\c");
    expect_path("a%2Fb@example.org", "/m/example.org/a%252fb");
    expect_path("\"tab\\\tx\"@example.org", "/m/example.org/tab%09x");
    expect_path("\"nl\\\nx\"@example.org", "/m/example.org/nl%0Ax");
    expect_path("x@../../etc", "/m/%2E.%2F..%2Fetc/x");
    expect_path("x@..", "/m/%2E./x");
    expect_path("x@a/b", "/m/a%2Fb/x");
}

static void
test_expand_refused(void **state)
{
    (void)state;
    char out[MAILDIR_PATH_MAX];
    static const char *const bad_rcpts[] = {
        "noat", "@example.org", "\"\"@example.org", "x@", "\"x@example.org",
        "\"x\"example.org", "",
    };

    for (size_t i = 0; i < sizeof(bad_rcpts) / sizeof(bad_rcpts[0]); i++)
        assert_int_equal(maildir_expand("/m/%d/%u", bad_rcpts[i], out,
                                        sizeof(out)),
                         MAILDIR_ERR_ADDRESS);
    assert_int_equal(maildir_expand("/m/%x", "a@b", out, sizeof(out)),
                     MAILDIR_ERR_TEMPLATE);
    assert_int_equal(maildir_expand("/m/%", "a@b", out, sizeof(out)),
                     MAILDIR_ERR_TEMPLATE);
    assert_int_equal(maildir_expand("", "a@b", out, sizeof(out)),
                     MAILDIR_ERR_TEMPLATE);
    assert_int_equal(maildir_expand("/m/%d/%u", "abcdef@example.org", out,
                                    10),
                     MAILDIR_ERR_ADDRESS);
    assert_null(maildir_rcpt_domain("noat"));
    assert_null(maildir_rcpt_domain("x@"));
    assert_string_equal(maildir_rcpt_domain("\"a@b\"@c.org"), "c.org");
}

/* Whatever bytes a local part or domain holds, each stays one component
 * that is not "." or "..", has no control character, and is lower-case. */
static void
test_expand_random(void **state)
{
    (void)state;
    char rcpt[160], out[MAILDIR_PATH_MAX];

    srandom(42);
    for (int round = 0; round < 20000; round++) {
        size_t ll = 1 + (size_t)random() % 40, dl = 1 + (size_t)random() % 40;
        size_t n = 0;
        for (size_t i = 0; i < ll + dl + 1; i++) {
            char c = (char)(1 + random() % 255);
            if (i == ll)
                c = '@';
            else if (c == '@' || (i == 0 && c == '"'))
                c = (random() & 1) ? '.' : '/';
            rcpt[n++] = c;
        }
        rcpt[n] = '\0';
        assert_int_equal(maildir_expand("/m/%d/%u", rcpt, out, sizeof(out)),
                         MAILDIR_OK);
        assert_memory_equal(out, "/m/", 3);
        char *slash = strchr(out + 3, '/');
        assert_non_null(slash);
        assert_null(strchr(slash + 1, '/'));
        assert_true(out[3] != '.' && slash[1] != '.');
        for (const char *p = out; *p; p++) {
            assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
            assert_false(*p >= 'A' && *p <= 'Z' && p[-1] != '%' &&
                         p[-2] != '%');
        }
    }
}

/* A file holding junk, then content; msg points at the content. */
static int
content_fd(struct fixture *f, const char *content, size_t len,
           struct maildir_msg *msg)
{
    char path[PATH_MAX];
    static const char junk[] = "JUNK BEFORE CONTENT\n";

    tu_path(path, "%s/content", f->dir);
    FILE *fp = fopen(path, "wb");
    fwrite(junk, 1, sizeof(junk) - 1, fp);
    fwrite(content, 1, len, fp);
    fclose(fp);
    msg->fd = open(path, O_RDONLY);
    assert_true(msg->fd >= 0);
    msg->offset = sizeof(junk) - 1;
    msg->length = len;
    return msg->fd;
}

/* Reference CRLF -> LF. */
static char *
to_lf(const char *in, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (!(in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
            out[o++] = in[i];
    *outlen = o;
    return out;
}

/* Deliver content to rcpt and compare the file with the expected text. */
static void
deliver_and_check(struct fixture *f, const char *sender, const char *rcpt,
                  const char *content, size_t len, const char *mailbox)
{
    struct maildir_msg msg = {.sender = sender, .rcpt = rcpt};
    char path[MAILDIR_PATH_MAX], dir[PATH_MAX], want_head[600];
    size_t flen = 0, lflen;

    content_fd(f, content, len, &msg);
    assert_int_equal(deliver_one(f, f->tmpl, "mx.example.org", &msg, path),
                     MAILDIR_OK);
    close(msg.fd);
    tu_path(dir, "%s/%s/new/", f->dir, mailbox);
    assert_memory_equal(path, dir, strlen(dir));
    char *got = tu_read_file(path, &flen);
    assert_non_null(got);
    int hl = snprintf(want_head, sizeof(want_head),
                      "Return-Path: <%s>\nDelivered-To: %s\n", sender, rcpt);
    char *lf = to_lf(content, len, &lflen);
    assert_int_equal(flen, (size_t)hl + lflen);
    assert_memory_equal(got, want_head, (size_t)hl);
    assert_memory_equal(got + hl, lf, lflen);
    /* new/<sec>.M<usec>P<pid>Q<n>.<host>,S=<size> */
    char pattern[200];
    regex_t re;
    regmatch_t m[2];
    snprintf(pattern, sizeof(pattern),
             "/new/[0-9]+\\.M[0-9]{6}P%ldQ[0-9]+\\.mx\\.example\\.org,"
             "S=([0-9]+)$",
             (long)getpid());
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
    assert_int_equal(regexec(&re, path, 2, m, 0), 0);
    assert_int_equal(strtoull(path + m[1].rm_so, NULL, 10), flen);
    regfree(&re);
    free(lf);
    free(got);
}

static void
test_deliver_exact(void **state)
{
    struct fixture *f = *state;
    static const char content[] = "Received: from x\r\n\tby y\r\n"
                                  "Subject: t\r\n\r\nline1\r\n\r\n"
                                  "bare\rcr\r\n..dot\r\n.\r\nend\r\n";
    char path[PATH_MAX];
    struct stat st;

    deliver_and_check(f, "alice@example.net", "Bob@Example.org", content,
                      sizeof(content) - 1, "example.org/bob");
    static const char *const subs[] = {"tmp", "new", "cur"};
    for (size_t i = 0; i < 3; i++) {
        tu_path(path, "%s/example.org/bob/%s", f->dir, subs[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
        assert_int_equal(tu_count_dir(path, NULL), i == 1 ? 1 : 0);
    }
    /* Second delivery: same Maildir, another file. */
    deliver_and_check(f, "", "bob@example.org", "x\r\n", 3,
                      "example.org/bob");
    tu_path(path, "%s/example.org/bob/new", f->dir);
    assert_int_equal(tu_count_dir(path, NULL), 2);
}

/* CRLF split across the 32 KiB read chunks, and a final lone CR. */
static void
test_deliver_chunk_boundaries(void **state)
{
    struct fixture *f = *state;
    size_t len = 3 * 32768 + 10;
    char *c = malloc(len);

    for (size_t shift = 0; shift < 3; shift++) {
        for (size_t i = 0; i < len; i++)
            c[i] = 'a' + (char)(i % 26);
        for (size_t k = 1; k <= 3; k++) {
            c[k * 32768 - 1 + shift - 1] = '\r';
            c[k * 32768 - 1 + shift] = '\n';
        }
        c[len - 1] = '\r';
        deliver_and_check(f, "s@x", "u@example.org", c, len,
                          "example.org/u");
    }
    free(c);
}

static void
test_deliver_empty_and_quoted(void **state)
{
    struct fixture *f = *state;

    deliver_and_check(f, "", "\"../../evil\"@example.org", "", 0,
                      "example.org/%2E.%2F..%2Fevil");
    assert_int_equal(tu_count_dir(f->dir, NULL), 2); /* content, example.org */
}

/* Nothing is created for a header-forging address or a bad template. */
static void
test_deliver_refused(void **state)
{
    struct fixture *f = *state;
    struct maildir_msg msg = {.sender = "a@b\r\nX-Evil: 1",
                              .rcpt = "u@example.org"};
    char path[MAILDIR_PATH_MAX], bad[PATH_MAX];

    content_fd(f, "x\r\n", 3, &msg);
    assert_int_equal(deliver_one(f, f->tmpl, "h", &msg, path),
                     MAILDIR_ERR_ADDRESS);
    msg.sender = "a@b";
    msg.rcpt = "u\n@example.org";
    assert_int_equal(deliver_one(f, f->tmpl, "h", &msg, path),
                     MAILDIR_ERR_ADDRESS);
    msg.rcpt = "u@example.org";
    tu_path(bad, "%s/%%q", f->dir);
    assert_int_equal(deliver_one(f, bad, "h", &msg, path),
                     MAILDIR_ERR_TEMPLATE);
    close(msg.fd);
    assert_int_equal(tu_count_dir(f->dir, NULL), 1); /* just "content" */
}

/* Content shorter than announced: an error, and no file left. */
static void
test_deliver_short_content(void **state)
{
    struct fixture *f = *state;
    struct maildir_msg msg = {.sender = "a@b", .rcpt = "u@example.org"};
    char path[MAILDIR_PATH_MAX], sub[PATH_MAX];

    content_fd(f, "x\r\n", 3, &msg);
    msg.length = 100;
    assert_int_equal(deliver_one(f, f->tmpl, "h", &msg, path),
                     MAILDIR_ERR_IO);
    close(msg.fd);
    tu_path(sub, "%s/example.org/u/tmp", f->dir);
    assert_int_equal(tu_count_dir(sub, NULL), 0);
    tu_path(sub, "%s/example.org/u/new", f->dir);
    assert_int_equal(tu_count_dir(sub, NULL), 0);
}

/* A Maildir whose new/ went missing is repaired; the host name is escaped
 * as the specification asks. */
static void
test_deliver_repairs_and_escapes(void **state)
{
    struct fixture *f = *state;
    struct maildir_msg msg = {.sender = "a@b", .rcpt = "u@example.org"};
    char path[MAILDIR_PATH_MAX], sub[PATH_MAX];

    tu_path(sub, "%s/example.org/u/tmp", f->dir);
    assert_int_equal(fs_mkdir_p(sub, 0700), 0);
    content_fd(f, "x\r\n", 3, &msg);
    assert_int_equal(deliver_one(f, f->tmpl, "a/b:c", &msg, path),
                     MAILDIR_OK);
    close(msg.fd);
    assert_non_null(strstr(path, ".a\\057b\\072c,S="));
    tu_path(sub, "%s/example.org/u/new", f->dir);
    assert_int_equal(tu_count_dir(sub, NULL), 1);
}

/* Phase 1 for n recipients over k mailboxes; returns the slots. */
static void
deliver_group(struct fixture *f, int n, int k, int fd, size_t *slots)
{
    char rcpt[64], why[256];

    for (int i = 0; i < n; i++) {
        snprintf(rcpt, sizeof(rcpt), "user%d@example.org", i % k);
        struct maildir_msg msg = {.sender = "a@b", .rcpt = rcpt, .fd = fd,
                                  .offset = 20, .length = 3};
        assert_int_equal(maildir_deliver(f->tmpl, "h", &msg, f->batch,
                                         &slots[i], why, sizeof(why)),
                         MAILDIR_OK);
        assert_int_equal(slots[i], (size_t)i);
    }
}

static int
count_box(struct fixture *f, const char *box, const char *sub)
{
    char path[PATH_MAX];
    tu_path(path, "%s/example.org/%s/%s", f->dir, box, sub);
    return tu_count_dir(path, NULL);
}

/* A group: nothing in new/ before the sync, everything after. */
static void
test_group_commit(void **state)
{
    struct fixture *f = *state;
    struct maildir_msg m0;
    size_t slots[40];
    const char *path, *why;

    content_fd(f, "x\r\n", 3, &m0);
    deliver_group(f, 40, 5, m0.fd, slots);
    assert_int_equal(maildir_batch_count(f->batch), 40);
    assert_int_equal(count_box(f, "user0", "tmp"), 8);
    assert_int_equal(count_box(f, "user0", "new"), 0);
    assert_int_equal(maildir_batch_sync(f->batch), 0);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(maildir_batch_result(f->batch, slots[i], &path,
                                              &why),
                         MAILDIR_OK);
        assert_int_equal(access(path, F_OK), 0);
    }
    maildir_batch_clear(f->batch);
    assert_int_equal(maildir_batch_count(f->batch), 0);
    for (int u = 0; u < 5; u++) {
        char box[16];
        snprintf(box, sizeof(box), "user%d", u);
        assert_int_equal(count_box(f, box, "tmp"), 0);
        assert_int_equal(count_box(f, box, "new"), 8);
    }
    close(m0.fd);
}

/* One Maildir broken between write and sync: only its deliveries fail,
 * and leave nothing in tmp/; a group never synced leaves nothing. */
static void
test_group_partial_failure(void **state)
{
    struct fixture *f = *state;
    struct maildir_msg m0;
    size_t slots[6];
    const char *path, *why;
    char sub[PATH_MAX];

    content_fd(f, "x\r\n", 3, &m0);
    deliver_group(f, 6, 2, m0.fd, slots); /* user0: 0 2 4, user1: 1 3 5 */
    tu_path(sub, "%s/example.org/user1/new", f->dir);
    assert_int_equal(rmdir(sub), 0);
    tu_write_file(sub, "not a directory", 15);
    assert_int_equal(maildir_batch_sync(f->batch), 3);
    for (int i = 0; i < 6; i++) {
        int r = maildir_batch_result(f->batch, slots[i], &path, &why);
        assert_int_equal(r, i % 2 ? MAILDIR_ERR_IO : MAILDIR_OK);
        if (r != MAILDIR_OK)
            assert_non_null(strstr(why, "rename"));
    }
    maildir_batch_clear(f->batch);
    assert_int_equal(count_box(f, "user0", "new"), 3);
    assert_int_equal(count_box(f, "user1", "tmp"), 0);

    deliver_group(f, 4, 1, m0.fd, slots);
    maildir_batch_clear(f->batch); /* never synced: files removed */
    assert_int_equal(count_box(f, "user0", "tmp"), 0);
    assert_int_equal(count_box(f, "user0", "new"), 3);
    close(m0.fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_traversal),
        cmocka_unit_test(test_expand_refused),
        cmocka_unit_test(test_expand_random),
        cmocka_unit_test_setup_teardown(test_deliver_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_chunk_boundaries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_empty_and_quoted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_short_content, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_repairs_and_escapes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_partial_failure, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
