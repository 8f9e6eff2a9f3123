/*
 * test_auth_saslauthd.c -- src/auth/auth_sasl.c checking passwords
 * through a real saslauthd (Debian sasl2-bin), as the classic Sendmail
 * TLS how-to sets it up: the SASL config file says
 * "pwcheck_method: saslauthd" and "saslauthd_path: DIR/mux".
 *
 * saslauthd runs with its own socket directory (-m DIR), one worker
 * (-n 1), in the foreground (-d), and the rimap mechanism: each login is
 * checked with an IMAP LOGIN against a small IMAP responder this test
 * forks on 127.0.0.1, which knows one user and writes every LOGIN it is
 * asked to a file. -r hands saslauthd's realm on as "user@realm". Nothing
 * on the system (PAM, /etc/shadow, /etc/sasldb2, /run/saslauthd) is used.
 * The whole test is skipped when saslauthd is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_sasl.h"
#include "config/config.h"
#include "util/util_buf.h"

#include "queue_test_util.h"

/* Write a NUL-terminated text to a file (aborts on error). */
#define write_text(path, text) tu_write_file((path), (text), strlen(text))

#define SASLAUTHD "/usr/sbin/saslauthd"
#define HOST "mail.example.test"

/* The one user the IMAP responder knows, as saslauthd -r sends it. */
#define IMAP_USER "alice@example.test"
#define IMAP_PASS "imap secret"

static char tmpdir[TU_DIR_MAX];
static pid_t imap_pid = -1, saslauthd_pid = -1;
static struct config cfg;

/* ---- the IMAP responder (child process) ---- */

/* Answer one IMAP client: LOGIN "user" "pass" (no escapes in our
 * credentials) and LOGOUT; append "user pass OK|NO" to logins.txt. */
static void
imap_serve(int fd)
{
    char line[1024], user[256], pass[256];
    FILE *in = fdopen(fd, "r+");
    if (in == NULL)
        return;
    fputs("* OK test IMAP ready\r\n", in);
    fflush(in);
    while (fgets(line, sizeof(line), in) != NULL) {
        char tag[32];
        if (sscanf(line, "%31s LOGIN \"%255[^\"]\" \"%255[^\"]\"", tag, user,
                   pass) == 3) {
            bool ok = strcmp(user, IMAP_USER) == 0 &&
                      strcmp(pass, IMAP_PASS) == 0;
            FILE *log = fopen("logins.txt", "a");
            if (log != NULL) {
                fprintf(log, "%s %s %s\n", user, pass, ok ? "OK" : "NO");
                fclose(log);
            }
            fprintf(in, "%s %s LOGIN\r\n", tag, ok ? "OK" : "NO");
        } else if (sscanf(line, "%31s", tag) == 1) {
            fprintf(in, "* BYE\r\n%s OK\r\n", tag);
            break;
        }
        fflush(in);
    }
    fclose(in);
}

/* Listen on 127.0.0.1, fork the responder, return the port. */
static int
imap_start(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(s, 8) < 0 || getsockname(s, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    imap_pid = fork();
    if (imap_pid == 0) {
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c >= 0)
                imap_serve(c);
        }
    }
    close(s);
    return imap_pid > 0 ? ntohs(sin.sin_port) : -1;
}

/* ---- saslauthd ---- */

static bool
mux_ready(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (strlen(path) >= sizeof(sun.sun_path))
        return false;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    bool ok = s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

/* Start saslauthd -a rimap against the responder; wait for its socket. */
static int
saslauthd_start(int port)
{
    char option[64], dir[64], mux[128];
    snprintf(option, sizeof(option), "127.0.0.1/%d", port);
    snprintf(dir, sizeof(dir), "%s/run", tmpdir);
    snprintf(mux, sizeof(mux), "%s/mux", dir);
    saslauthd_pid = fork();
    if (saslauthd_pid == 0) {
        int log = open("saslauthd.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        setsid(); /* its own group: it forks a worker */
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execl(SASLAUTHD, "saslauthd", "-a", "rimap", "-O", option, "-m", dir,
              "-n", "1", "-d", "-r", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && saslauthd_pid > 0; i++) {
        if (mux_ready(mux))
            return 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* SIGTERM, then SIGKILL after 5 s: saslauthd's SIGTERM handler can
 * deadlock on a lock its interrupted code holds. */
static void
stop_child(pid_t *pid, bool group)
{
    struct timespec tick = {0, 50 * 1000 * 1000};
    if (*pid <= 0)
        return;
    pid_t done = 0;
    kill(group ? -*pid : *pid, SIGTERM);
    for (int i = 0; i < 100 && (done = waitpid(*pid, NULL, WNOHANG)) == 0;
         i++)
        nanosleep(&tick, NULL);
    if (done == 0) {
        kill(group ? -*pid : *pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

/* ---- SASL through it ---- */

static int
start_sasl(void)
{
    char err[256], conf[PATH_MAX + 128];
    struct buf errors;
    snprintf(conf, sizeof(conf),
             "pwcheck_method: saslauthd\n"
             "saslauthd_path: %s/run/mux\n"
             "mech_list: PLAIN LOGIN\n",
             tmpdir);
    write_text("sasl/tlsmta-test.conf", conf);
    write_text("t.conf", "hostname = " HOST "\n"
                         "[auth]\n"
                         "sasl_service = tlsmta-test\n"
                         "sasl_config_dir = sasl\n"
                         "[listen mx]\naddress = 127.0.0.1:2525\n"
                         "tls = none\n");
    buf_init(&errors, 0);
    int rc = config_load("t.conf", &cfg, &errors);
    buf_free(&errors);
    if (rc == 0 && auth_sasl_init(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "auth_sasl_init: %s\n", err);
        rc = -1;
    }
    return rc;
}

static int
setup(void **state)
{
    (void)state;
    if (access(SASLAUTHD, X_OK) != 0)
        return 0; /* each test skips */
    if ((tu_mkdtemp(tmpdir), chdir(tmpdir) != 0) ||
        mkdir("sasl", 0755) != 0 || mkdir("run", 0755) != 0)
        return -1;
    int port = imap_start();
    if (port < 0 || saslauthd_start(port) < 0) {
        fprintf(stderr, "saslauthd did not start; see %s/saslauthd.log\n",
                tmpdir);
        return -1;
    }
    return start_sasl();
}

static int
teardown(void **state)
{
    (void)state;
    auth_sasl_done();
    config_free(&cfg);
    stop_child(&saslauthd_pid, true);
    stop_child(&imap_pid, false);
    if (access(SASLAUTHD, X_OK) != 0)
        return 0;
    if (chdir("/") != 0)
        return -1;
    tu_rm_rf(tmpdir);
    return 0;
}

/* The last line of logins.txt, or "" if none. */
static void
last_login(char *out, size_t size)
{
    char line[600] = "";
    FILE *fp = fopen("logins.txt", "r");
    out[0] = '\0';
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
        snprintf(out, size, "%s", line);
    if (fp != NULL)
        fclose(fp);
}

static enum auth_status
plain(struct auth_sasl *a, const char *user, const char *pass, char *login,
      size_t login_size)
{
    char msg[600];
    struct buf ch;
    int n = snprintf(msg, sizeof(msg), "%c%s%c%s", 0, user, 0, pass);
    buf_init(&ch, 0);
    enum auth_status st = auth_sasl_start(a, "PLAIN", msg, (size_t)n, true,
                                          &ch, login, login_size);
    buf_free(&ch);
    return st;
}

static void
test_plain_through_saslauthd(void **state)
{
    char user[256], seen[600];
    (void)state;
    if (saslauthd_pid <= 0)
        skip();
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_string_equal(auth_sasl_option("pwcheck_method"), "saslauthd");
    assert_string_equal(auth_sasl_mechanisms(a), "PLAIN LOGIN");
    assert_int_equal(plain(a, IMAP_USER, IMAP_PASS, user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, IMAP_USER);
    last_login(seen, sizeof(seen));
    assert_string_equal(seen, IMAP_USER " " IMAP_PASS " OK\n");
    assert_int_equal(plain(a, IMAP_USER, "wrong", user, sizeof(user)),
                     AUTH_FAIL);
    assert_string_equal(user, IMAP_USER);
    last_login(seen, sizeof(seen));
    assert_string_equal(seen, IMAP_USER " wrong NO\n");
    /* A login reaches the backend as typed: no realm is added to one
     * without a domain (the server has no default realm). */
    assert_int_equal(plain(a, "bob", "x", user, sizeof(user)), AUTH_FAIL);
    last_login(seen, sizeof(seen));
    assert_string_equal(seen, "bob x NO\n");
    auth_sasl_free(a);
}

static void
test_login_through_saslauthd(void **state)
{
    char user[256];
    struct buf ch;
    (void)state;
    if (saslauthd_pid <= 0)
        skip();
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_int_equal(auth_sasl_start(a, "LOGIN", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_CONTINUE);
    assert_int_equal(auth_sasl_step(a, IMAP_USER, strlen(IMAP_USER), &ch,
                                    user, sizeof(user)),
                     AUTH_CONTINUE);
    assert_int_equal(auth_sasl_step(a, IMAP_PASS, strlen(IMAP_PASS), &ch,
                                    user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, IMAP_USER);
    buf_free(&ch);
    auth_sasl_free(a);
}

/* saslauthd gone: the login fails (it never counts as a temporary
 * failure a client could provoke to dodge the failure limit). */
static void
test_saslauthd_down(void **state)
{
    char user[256];
    (void)state;
    if (saslauthd_pid <= 0)
        skip();
    stop_child(&saslauthd_pid, true);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_int_equal(plain(a, IMAP_USER, IMAP_PASS, user, sizeof(user)),
                     AUTH_FAIL);
    auth_sasl_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_through_saslauthd),
        cmocka_unit_test(test_login_through_saslauthd),
        cmocka_unit_test(test_saslauthd_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
