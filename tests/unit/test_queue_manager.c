/*
 * test_queue_manager.c -- the queue manager end to end in a temporary
 * directory: a committed message lands in the Maildirs of its local
 * recipients and leaves the spool; remote recipients stay deferred; a
 * message left by a killed process is delivered by the next run; .done
 * records are respected (no duplicate); damaged files go to corrupt/; the
 * poll loop delivers on a wake-up byte and exits on EOF and on SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "config/config.h"
#include "queue/queue_manager.h"
#include "queue/spool.h"
#include "queue_test_util.h"

struct fixture {
    char dir[TU_DIR_MAX];              /* scratch directory */
    char spool_dir[PATH_MAX];          /* dir/spool */
    char maildir[PATH_MAX];            /* dir/mail/%d/%u */
    char *domains[2];
    struct config cfg;                 /* filled by hand */
    struct spool *sp;
};

static const char content[] = "Received: from c by mx; Mon, 1 Jan 2024\r\n"
                              "Subject: hello\r\n\r\nbody line\r\n";
static const char content_lf[] = "Received: from c by mx; Mon, 1 Jan 2024\n"
                                 "Subject: hello\n\nbody line\n";

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];

    tu_mkdtemp(f->dir);
    tu_path(f->spool_dir, "%s/spool", f->dir);
    tu_path(f->maildir, "%s/mail/%%d/%%u", f->dir);
    f->domains[0] = "example.org";
    f->domains[1] = "example.net";
    f->cfg.hostname = "mx.example.org";
    f->cfg.spool = f->spool_dir;
    f->cfg.maildir = f->maildir;
    f->cfg.local_domains = f->domains;
    f->cfg.n_local_domains = 2;
    f->cfg.minimal_backoff_time = 300;
    f->cfg.maximal_backoff_time = 3600;
    f->cfg.maximal_queue_lifetime = 5 * 86400;
    /* Remote recipients go to a closed port on loopback (connection
     * refused: deferred at once); DNS only to a dead loopback port. */
    f->cfg.relayhost = (struct config_nexthop){
        .host = "127.0.0.1", .port = 1, .key = "[127.0.0.1]:1"};
    f->cfg.dns_resolver = "127.0.0.1@1";
    f->cfg.smtp_connect_timeout = 5;
    f->cfg.smtp_timeout = 5;
    f->cfg.outbound_concurrency_limit = 10;
    f->cfg.destination_concurrency_limit = 10;
    assert_int_equal(spool_open(f->spool_dir, &f->sp, err, sizeof(err)), 0);
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

/* Commit content for the recipients; the queue id goes to id. */
static void
commit(struct fixture *f, const char *const *rcpts, size_t n, char *id)
{
    struct spool_envelope env = {
        .sender = "alice@example.com",
        .rcpts = rcpts,
        .n_rcpts = n,
        .client_addr = "192.0.2.7",
        .helo_name = "client.example.com",
    };
    struct spool_msg *m;

    assert_int_equal(spool_msg_begin(f->sp, &env, time(NULL), &m), 0);
    if (id != NULL)
        snprintf(id, SPOOL_QUEUE_ID_MAX, "%s", spool_msg_id(m));
    assert_int_equal(spool_msg_write(m, content, sizeof(content) - 1), 0);
    assert_int_equal(spool_msg_commit(m), 0);
}

/* Files in the Maildir dir/mail/<mailbox>/new, or -1 if there is none. */
static int
count_new(struct fixture *f, const char *mailbox, char *first)
{
    char path[PATH_MAX];
    tu_path(path, "%s/mail/%s/new", f->dir, mailbox);
    return tu_count_dir(path, first);
}

/* The one file in mailbox's new/ is the message for rcpt. */
static void
check_mailbox(struct fixture *f, const char *mailbox, const char *rcpt)
{
    char name[PATH_MAX], path[PATH_MAX], want[1024];
    size_t len = 0;

    assert_int_equal(count_new(f, mailbox, name), 1);
    tu_path(path, "%s/mail/%s/new/%s", f->dir, mailbox, name);
    char *got = tu_read_file(path, &len);
    snprintf(want, sizeof(want),
             "Return-Path: <alice@example.com>\nDelivered-To: %s\n%s", rcpt,
             content_lf);
    assert_string_equal(got, want);
    free(got);
}

static int
count_spool(struct fixture *f, const char *sub)
{
    char path[PATH_MAX];
    tu_path(path, "%s/%s", f->spool_dir, sub);
    return tu_count_dir(path, NULL);
}

static void
test_local_and_remote(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org", "carol@Example.NET",
                       "dave@remote.test"};
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX];
    size_t len = 0;

    commit(f, r, 3, id);
    assert_int_equal(queue_manager_run_once(&f->cfg), 1);
    check_mailbox(f, "example.org/bob", "bob@example.org");
    check_mailbox(f, "example.net/carol", "carol@Example.NET");
    assert_int_equal(count_new(f, "remote.test/dave", NULL), -1);
    /* The remote recipient keeps the message queued, the others are done. */
    tu_path(path, "%s/queue/%s.done", f->spool_dir, id);
    char *done = tu_read_file(path, &len);
    assert_string_equal(done, "0\n1\n");
    free(done);
    /* A second run delivers nothing twice. */
    assert_int_equal(queue_manager_run_once(&f->cfg), 1);
    assert_int_equal(count_new(f, "example.org/bob", NULL), 1);
    assert_int_equal(count_new(f, "example.net/carol", NULL), 1);
    assert_int_equal(count_spool(f, "queue"), 2);
}

static void
test_all_local_removed(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org", "bob@example.org",
                       "\"../../x\"@example.org"};

    commit(f, r, 3, NULL);
    assert_int_equal(queue_manager_run_once(&f->cfg), 0);
    assert_int_equal(count_new(f, "example.org/bob", NULL), 2);
    check_mailbox(f, "example.org/%2E.%2F..%2Fx", "\"../../x\"@example.org");
    assert_int_equal(count_spool(f, "queue"), 0);
    assert_int_equal(count_spool(f, "tmp"), 0);
    /* Nothing escaped the mail directory. */
    char path[PATH_MAX];
    tu_path(path, "%s/mail", f->dir);
    assert_int_equal(tu_count_dir(path, NULL), 1);
    assert_int_equal(tu_count_dir(f->dir, NULL), 2); /* spool, mail */
}

/* kill -9 right after the commit: the next queue manager delivers it; a
 * message killed mid-write (tmp/ only) is never delivered. */
static void
test_recovery_after_kill(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org"};

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        commit(f, r, 1, NULL);
        struct spool_msg *m;
        struct spool_envelope env = {.sender = "x@y", .rcpts = r,
                                     .n_rcpts = 1};
        spool_msg_begin(f->sp, &env, time(NULL), &m);
        spool_msg_write(m, content, 10);
        raise(SIGKILL);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(count_spool(f, "queue"), 1);
    assert_int_equal(count_spool(f, "tmp"), 1);
    assert_int_equal(queue_manager_run_once(&f->cfg), 0);
    check_mailbox(f, "example.org/bob", "bob@example.org");
    assert_int_equal(count_spool(f, "queue"), 0);
    assert_int_equal(count_spool(f, "tmp"), 1); /* young: kept for a day */
}

static void
test_partial_done_respected(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"a@example.org", "b@example.org", "c@example.org"};
    char id[SPOOL_QUEUE_ID_MAX], path[PATH_MAX];

    commit(f, r, 3, id);
    tu_path(path, "%s/queue/%s.done", f->spool_dir, id);
    tu_write_file(path, "1\n", 2);
    assert_int_equal(queue_manager_run_once(&f->cfg), 0);
    check_mailbox(f, "example.org/a", "a@example.org");
    assert_int_equal(count_new(f, "example.org/b", NULL), -1);
    check_mailbox(f, "example.org/c", "c@example.org");
    assert_int_equal(count_spool(f, "queue"), 0);
}

static void
test_corrupt_moved_aside(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org"};
    char path[PATH_MAX];

    tu_path(path, "%s/queue/0000000000000B", f->spool_dir);
    tu_write_file(path, "garbage\n\nmore", 13);
    tu_path(path, "%s/queue/0000000000000C", f->spool_dir);
    tu_write_file(path, "TLSMTA-SPOOL 1\nrcpts 1\n", 23);
    commit(f, r, 1, NULL);
    assert_int_equal(queue_manager_run_once(&f->cfg), 0);
    check_mailbox(f, "example.org/bob", "bob@example.org");
    assert_int_equal(count_spool(f, "queue"), 0);
    assert_int_equal(count_spool(f, "corrupt"), 2);
    tu_path(path, "%s/corrupt/0000000000000B", f->spool_dir);
    assert_int_equal(access(path, F_OK), 0);
}

/* RFC 5321 4.5.1: <Postmaster> without a domain or at our host name is
 * the local postmaster; elsewhere it is remote; a recipient whose Maildir
 * cannot be named stays queued. */
static void
test_postmaster_and_unsafe(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"Postmaster", "postmaster@MX.example.org"};
    const char *bad[] = {"\"\"@example.org"};
    const char *remote[] = {"postmaster@mx.example.com"};

    commit(f, r, 2, NULL);
    commit(f, bad, 1, NULL);
    commit(f, remote, 1, NULL);
    assert_int_equal(queue_manager_run_once(&f->cfg), 2);
    assert_int_equal(count_new(f, "example.org/postmaster", NULL), 2);
}

/* More messages than one group commit holds. */
static void
test_many_messages(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org", "joe@example.net"};

    for (int i = 0; i < 150; i++)
        commit(f, r, 2, NULL);
    assert_int_equal(queue_manager_run_once(&f->cfg), 0);
    assert_int_equal(count_new(f, "example.org/bob", NULL), 150);
    assert_int_equal(count_new(f, "example.net/joe", NULL), 150);
    assert_int_equal(count_spool(f, "queue"), 0);
}

/* More messages with remote recipients than may be in delivery at once
 * (QM_ACTIVE_MAX, 512): the rest wait for room, and each message is still
 * tried exactly once (its local recipient delivered once, its remote one
 * deferred: the relayhost refuses connections). */
static void
test_backlog_beyond_active_limit(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org", "dave@remote.test"};

    for (int i = 0; i < 600; i++)
        commit(f, r, 2, NULL);
    assert_int_equal(queue_manager_run_once(&f->cfg), 600);
    assert_int_equal(count_new(f, "example.org/bob", NULL), 600);
    assert_int_equal(count_spool(f, "queue"), 1200); /* ID and ID.done */
}

static void
test_bad_config(void **state)
{
    struct fixture *f = *state;
    f->cfg.maildir = NULL;
    assert_int_equal(queue_manager_run_once(&f->cfg), -1);
}

/* Wait up to 10 s for mailbox to hold n files. */
static bool
wait_for(struct fixture *f, const char *mailbox, int n)
{
    for (int i = 0; i < 1000; i++) {
        if (count_new(f, mailbox, NULL) == n)
            return true;
        poll(NULL, 0, 10);
    }
    return false;
}

static pid_t
start_qmgr(struct fixture *f, int *wake_wr)
{
    int p[2];

    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        _exit(queue_manager_run(&f->cfg, p[0]));
    }
    close(p[0]);
    *wake_wr = p[1];
    return pid;
}

static int
wait_exit(pid_t pid)
{
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -2;
}

static void
test_run_loop(void **state)
{
    struct fixture *f = *state;
    const char *r[] = {"bob@example.org"};
    int wake;

    commit(f, r, 1, NULL); /* there before the start: found by the scan */
    pid_t pid = start_qmgr(f, &wake);
    assert_true(wait_for(f, "example.org/bob", 1));
    for (int i = 2; i <= 4; i++) {
        commit(f, r, 1, NULL);
        assert_int_equal(write(wake, "m", 1), 1);
        assert_true(wait_for(f, "example.org/bob", i));
    }
    close(wake); /* EOF: the server went away */
    assert_int_equal(wait_exit(pid), 0);
    assert_int_equal(count_spool(f, "queue"), 0);
}

static void
test_run_sigterm(void **state)
{
    struct fixture *f = *state;
    int wake;

    pid_t pid = start_qmgr(f, &wake);
    poll(NULL, 0, 100);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid), 0);
    close(wake);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_and_remote, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_all_local_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_kill, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_done_respected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_postmaster_and_unsafe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_beyond_active_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_sigterm, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
