/*
 * test_auth_sasl.c -- unit tests of src/auth/auth_sasl.c and auth_users.c
 * against the real libsasl2 and its Debian plugins: users added to a
 * temporary sasldb log in with PLAIN, LOGIN and SCRAM-SHA-256 (the client
 * side run by libsasl2's own client), failures, aborts, mechanism lists,
 * EXTERNAL, and a SASL config file whose settings win over tlsmta's
 * defaults.
 *
 * Each test group runs in a fresh temporary directory holding the config,
 * the SASL config directory and the sasldb.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "auth/auth_sasl.h"
#include "auth/auth_users.h"
#include "config/config.h"
#include "util/util_buf.h"

#include "queue_test_util.h"

/* Write a NUL-terminated text to a file (aborts on error). */
#define write_text(path, text) tu_write_file((path), (text), strlen(text))

#define HOST "mail.example.test"
#define SERVICE_CONF "sasl/tlsmta-test.conf"

static char tmpdir[TU_DIR_MAX];
static struct config cfg;

/* Load a config for the temporary directory and start SASL with it. */
static void
start_sasl(void)
{
    char err[256];
    struct buf errors;
    buf_init(&errors, 0);
    write_text("t.conf", "hostname = " HOST "\n"
                         "[auth]\n"
                         "sasl_service = tlsmta-test\n"
                         "sasl_config_dir = sasl\n"
                         "sasldb_path = db/sasldb2\n"
                         "mechanisms = PLAIN LOGIN SCRAM-SHA-256\n"
                         "[listen mx]\naddress = 127.0.0.1:2525\n"
                         "tls = none\n");
    if (config_load("t.conf", &cfg, &errors) != 0)
        fail_msg("config: %s", errors.data);
    buf_free(&errors);
    if (auth_sasl_init(&cfg, err, sizeof(err)) != 0)
        fail_msg("auth_sasl_init: %s", err);
}

static void
stop_sasl(void)
{
    auth_sasl_done();
    config_free(&cfg);
}

static void
add_user(const char *name, const char *password, enum auth_users_result want)
{
    char err[256] = "";
    enum auth_users_result r =
        auth_users_set(&cfg, name, password, strlen(password), err,
                       sizeof(err));
    if (r != want)
        fail_msg("add %s: %d (%s)", name, r, err);
}

static int
setup(void **state)
{
    (void)state;
    if ((tu_mkdtemp(tmpdir), chdir(tmpdir) != 0) ||
        mkdir("sasl", 0755) != 0 || mkdir("db", 0755) != 0)
        return -1;
    if (sasl_client_init(NULL) != SASL_OK)
        return -1;
    start_sasl();
    add_user("alice@example.test", "alice-secret", AUTH_USERS_ADDED);
    add_user("bob", "bob secret", AUTH_USERS_ADDED);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    stop_sasl();
    sasl_client_done();
    if (chdir("/") != 0)
        return -1;
    tu_rm_rf(tmpdir);
    return 0;
}

/* ---- a SASL client (libsasl2's own) for whole exchanges ---- */

struct client {
    const char *user, *password;
    union {
        sasl_secret_t secret;
        char room[sizeof(sasl_secret_t) + 256];
    } pass;
};

static int
client_simple_cb(void *context, int id, const char **result, unsigned *len)
{
    struct client *c = context;
    *result = id == SASL_CB_AUTHNAME ? c->user : "";
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int
client_pass_cb(sasl_conn_t *conn, void *context, int id,
               sasl_secret_t **psecret)
{
    struct client *c = context;
    (void)conn;
    (void)id;
    c->pass.secret.len = strlen(c->password);
    memcpy(c->pass.secret.data, c->password, c->pass.secret.len + 1);
    *psecret = &c->pass.secret;
    return SASL_OK;
}

#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

/* Log in with mech as user/password through a SASL client; returns the
 * server's final status and the login it reported in login. */
static enum auth_status
client_login(struct auth_sasl *a, const char *mech, const char *user,
             const char *password, char *login, size_t login_size)
{
    struct client c = {.user = user, .password = password};
    sasl_callback_t cbs[] = {
        {SASL_CB_AUTHNAME, CB(client_simple_cb), &c},
        {SASL_CB_USER, CB(client_simple_cb), &c},
        {SASL_CB_PASS, CB(client_pass_cb), &c},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    sasl_conn_t *conn = NULL;
    const char *out = NULL, *chosen = NULL;
    unsigned outlen = 0;
    struct buf challenge;
    assert_int_equal(sasl_client_new("smtp", HOST, NULL, NULL, cbs, 0, &conn),
                     SASL_OK);
    int r = sasl_client_start(conn, mech, NULL, &out, &outlen, &chosen);
    assert_true(r == SASL_OK || r == SASL_CONTINUE);
    buf_init(&challenge, 0);
    enum auth_status st = auth_sasl_start(a, mech, out ? out : "", outlen,
                                          out != NULL, &challenge, login,
                                          login_size);
    while (st == AUTH_CONTINUE) {
        r = sasl_client_step(conn, challenge.data ? challenge.data : "",
                             (unsigned)challenge.len, NULL, &out, &outlen);
        assert_true(r == SASL_OK || r == SASL_CONTINUE);
        buf_reset(&challenge);
        st = auth_sasl_step(a, out ? out : "", outlen, &challenge, login,
                            login_size);
    }
    buf_free(&challenge);
    sasl_dispose(&conn);
    return st;
}

/* One call of start or step, with the expected result and challenge. */
static void
expect_step(enum auth_status got, enum auth_status want,
            const struct buf *challenge, const char *want_challenge)
{
    assert_int_equal(got, want);
    if (want_challenge != NULL) {
        assert_int_equal(challenge->len, strlen(want_challenge));
        assert_memory_equal(challenge->data ? challenge->data : "",
                            want_challenge, challenge->len);
    }
}

/* ---- tests ---- */

static void
test_mechanisms(void **state)
{
    (void)state;
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_non_null(a);
    assert_string_equal(auth_sasl_mechanisms(a), "PLAIN LOGIN SCRAM-SHA-256");
    auth_sasl_free(a);
    /* A certificate identity adds EXTERNAL. */
    a = auth_sasl_new("s2", 256, "printer.example.test");
    assert_string_equal(auth_sasl_mechanisms(a),
                        "PLAIN LOGIN SCRAM-SHA-256 EXTERNAL");
    auth_sasl_free(a);
    /* Without TLS, no plaintext mechanism (defence in depth). */
    a = auth_sasl_new("s3", 0, NULL);
    assert_string_equal(auth_sasl_mechanisms(a), "SCRAM-SHA-256");
    auth_sasl_free(a);
    auth_sasl_free(NULL);
}

static void
test_plain(void **state)
{
    static const char good[] = "\0alice@example.test\0alice-secret";
    static const char bad[] = "\0alice@example.test\0guess";
    static const char bob[] = "\0bob\0bob secret";
    static const char nobody[] = "\0carol\0x";
    char user[256];
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    expect_step(auth_sasl_start(a, "PLAIN", good, sizeof(good) - 1, true, &ch,
                                user, sizeof(user)),
                AUTH_OK, &ch, "");
    assert_string_equal(user, "alice@example.test");
    expect_step(auth_sasl_start(a, "plain", bad, sizeof(bad) - 1, true, &ch,
                                user, sizeof(user)),
                AUTH_FAIL, &ch, "");
    assert_string_equal(user, "alice@example.test"); /* for the log line */
    assert_string_not_equal(auth_sasl_detail(a), "");
    expect_step(auth_sasl_start(a, "PLAIN", bob, sizeof(bob) - 1, true, &ch,
                                user, sizeof(user)),
                AUTH_OK, &ch, "");
    assert_string_equal(user, "bob");
    expect_step(auth_sasl_start(a, "PLAIN", nobody, sizeof(nobody) - 1, true,
                                &ch, user, sizeof(user)),
                AUTH_FAIL, &ch, "");
    /* RFC 4954 4: "=" is an empty initial response; PLAIN cannot use it. */
    expect_step(auth_sasl_start(a, "PLAIN", "", 0, true, &ch, user,
                                sizeof(user)),
                AUTH_FAIL, &ch, "");
    /* No initial response: an empty 334, then the credentials. */
    expect_step(auth_sasl_start(a, "PLAIN", NULL, 0, false, &ch, user,
                                sizeof(user)),
                AUTH_CONTINUE, &ch, "");
    expect_step(auth_sasl_step(a, good, sizeof(good) - 1, &ch, user,
                               sizeof(user)),
                AUTH_OK, &ch, "");
    assert_string_equal(user, "alice@example.test");
    /* A login that does not fit the caller's buffer is refused. */
    char tiny[4];
    assert_int_equal(auth_sasl_start(a, "PLAIN", good, sizeof(good) - 1,
                                     true, &ch, tiny, sizeof(tiny)),
                     AUTH_FAIL);
    buf_free(&ch);
    auth_sasl_free(a);
}

static void
test_login_mechanism(void **state)
{
    char user[256];
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    expect_step(auth_sasl_start(a, "LOGIN", NULL, 0, false, &ch, user,
                                sizeof(user)),
                AUTH_CONTINUE, &ch, "Username:");
    buf_reset(&ch);
    expect_step(auth_sasl_step(a, "bob", 3, &ch, user, sizeof(user)),
                AUTH_CONTINUE, &ch, "Password:");
    buf_reset(&ch);
    expect_step(auth_sasl_step(a, "bob secret", 10, &ch, user, sizeof(user)),
                AUTH_OK, &ch, "");
    assert_string_equal(user, "bob");
    assert_int_equal(client_login(a, "LOGIN", "alice@example.test",
                                  "alice-secret", user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, "alice@example.test");
    assert_int_equal(client_login(a, "LOGIN", "alice@example.test", "no",
                                  user, sizeof(user)),
                     AUTH_FAIL);
    buf_free(&ch);
    auth_sasl_free(a);
}

static void
test_scram(void **state)
{
    char user[256];
    (void)state;
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_int_equal(client_login(a, "SCRAM-SHA-256", "alice@example.test",
                                  "alice-secret", user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, "alice@example.test");
    assert_int_equal(client_login(a, "PLAIN", "bob", "bob secret", user,
                                  sizeof(user)),
                     AUTH_OK);
    auth_sasl_free(a);
}

static void
test_abort_and_retry(void **state)
{
    static const char good[] = "\0bob\0bob secret";
    char user[256];
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_int_equal(auth_sasl_start(a, "LOGIN", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_CONTINUE);
    auth_sasl_abort(a); /* "*" from the client */
    auth_sasl_abort(a); /* twice is harmless */
    assert_int_equal(auth_sasl_step(a, "bob", 3, &ch, user, sizeof(user)),
                     AUTH_FAIL); /* nothing under way */
    /* A new exchange with another mechanism, after a failed one too. */
    assert_int_equal(auth_sasl_start(a, "PLAIN", "\0bob\0x", 6, true, &ch,
                                     user, sizeof(user)),
                     AUTH_FAIL);
    assert_int_equal(auth_sasl_start(a, "PLAIN", good, sizeof(good) - 1, true,
                                     &ch, user, sizeof(user)),
                     AUTH_OK);
    /* A start in the middle of an exchange forgets the old one. */
    assert_int_equal(auth_sasl_start(a, "LOGIN", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_CONTINUE);
    assert_int_equal(auth_sasl_start(a, "PLAIN", good, sizeof(good) - 1, true,
                                     &ch, user, sizeof(user)),
                     AUTH_OK);
    buf_free(&ch);
    auth_sasl_free(a);
}

static void
test_no_mech(void **state)
{
    char user[256] = "x";
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    /* CRAM-MD5: SASL has it, the config does not list it. */
    assert_int_equal(auth_sasl_start(a, "CRAM-MD5", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_NO_MECH);
    assert_string_equal(user, "");
    assert_int_equal(auth_sasl_start(a, "NOSUCH", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_NO_MECH);
    assert_int_equal(auth_sasl_start(a, "EXTERNAL", "", 0, true, &ch, user,
                                     sizeof(user)),
                     AUTH_NO_MECH); /* no certificate identity */
    assert_int_equal(auth_sasl_start(a, "PLAIN LOGIN", NULL, 0, false, &ch,
                                     user, sizeof(user)),
                     AUTH_NO_MECH);
    assert_int_equal(ch.len, 0);
    buf_free(&ch);
    auth_sasl_free(a);
    /* Plaintext mechanisms without TLS: refused even if asked for. */
    a = auth_sasl_new("s2", 0, NULL);
    assert_int_equal(auth_sasl_start(a, "PLAIN", "\0bob\0bob secret", 15,
                                     true, &ch, user, sizeof(user)),
                     AUTH_NO_MECH);
    auth_sasl_free(a);
}

static void
test_external(void **state)
{
    char user[256];
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    struct auth_sasl *a = auth_sasl_new("s1", 256, "printer.example.test");
    /* RFC 4422 Appendix A: an empty authorization identity means "the
     * identity of the certificate". */
    assert_int_equal(auth_sasl_start(a, "EXTERNAL", "", 0, true, &ch, user,
                                     sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, "printer.example.test");
    /* Without an initial response: an empty challenge, then "". */
    assert_int_equal(auth_sasl_start(a, "EXTERNAL", NULL, 0, false, &ch, user,
                                     sizeof(user)),
                     AUTH_CONTINUE);
    assert_int_equal(auth_sasl_step(a, "", 0, &ch, user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, "printer.example.test");
    /* Asking to act as someone else is refused. */
    assert_int_equal(auth_sasl_start(a, "EXTERNAL", "bob", 3, true, &ch, user,
                                     sizeof(user)),
                     AUTH_FAIL);
    buf_free(&ch);
    auth_sasl_free(a);
}

static void
test_users(void **state)
{
    char err[256], user[256];
    struct stat st;
    (void)state;
    add_user("alice@example.test", "new-secret", AUTH_USERS_REPLACED);
    assert_int_equal(stat("db/sasldb2", &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_int_equal(client_login(a, "PLAIN", "alice@example.test",
                                  "alice-secret", user, sizeof(user)),
                     AUTH_FAIL);
    assert_int_equal(client_login(a, "SCRAM-SHA-256", "alice@example.test",
                                  "new-secret", user, sizeof(user)),
                     AUTH_OK);
    add_user("dave@example.test", "d", AUTH_USERS_ADDED);
    assert_int_equal(auth_users_delete(&cfg, "dave@example.test", err,
                                       sizeof(err)),
                     AUTH_USERS_DELETED);
    assert_int_equal(client_login(a, "PLAIN", "dave@example.test", "d", user,
                                  sizeof(user)),
                     AUTH_FAIL);
    assert_int_equal(client_login(a, "SCRAM-SHA-256", "dave@example.test", "d",
                                  user, sizeof(user)),
                     AUTH_FAIL); /* every secret went with the user */
    assert_int_equal(auth_users_delete(&cfg, "dave@example.test", err,
                                       sizeof(err)),
                     AUTH_USERS_UNKNOWN);
    /* The realm is part of the name: "bob" is not "bob@example.test". */
    assert_int_equal(client_login(a, "PLAIN", "bob@example.test",
                                  "bob secret", user, sizeof(user)),
                     AUTH_FAIL);
    auth_sasl_free(a);
}

static void
test_users_errors(void **state)
{
    char err[256];
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"", "empty user name"},
        {"a b", "white space or control character in the user name"},
        {"a\tb", "white space or control character in the user name"},
        {"a@b@c", "more than one '@' in the user name"},
        {"@example.test", "'@' must stand between a name and a domain"},
        {"alice@", "'@' must stand between a name and a domain"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(auth_users_set(&cfg, bad[i].name, "pw", 2, err,
                                        sizeof(err)),
                         AUTH_USERS_ERROR);
        assert_string_equal(err, bad[i].why);
    }
    char longname[AUTH_USERS_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_string_equal(auth_users_name_problem(longname),
                        "user name longer than 255 bytes");
    assert_null(auth_users_name_problem("alice@example.test"));
    assert_int_equal(auth_users_set(&cfg, "x", "", 0, err, sizeof(err)),
                     AUTH_USERS_ERROR);
    assert_int_equal(auth_users_set(&cfg, "x", "a\0b", 3, err, sizeof(err)),
                     AUTH_USERS_ERROR);
    assert_string_equal(err, "the password must be 1 to 1024 bytes, no NUL");
}

/* A SASL config file overrides tlsmta's defaults: its mech_list, and
 * pwcheck_method saslauthd (whose socket here does not exist). */
static void
test_service_conf_wins(void **state)
{
    char user[256], err[256];
    struct buf ch;
    (void)state;
    buf_init(&ch, 0);
    assert_string_equal(auth_sasl_option("pwcheck_method"), "auxprop");
    assert_string_equal(auth_sasl_option("sasldb_path"), "db/sasldb2");
    assert_string_equal(auth_sasl_option("mech_list"),
                        "PLAIN LOGIN SCRAM-SHA-256 EXTERNAL");
    assert_null(auth_sasl_option("log_level"));
    assert_int_equal(auth_sasl_init(&cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "SASL is already initialised");
    stop_sasl();
    assert_null(auth_sasl_option("pwcheck_method"));
    assert_null(auth_sasl_new("s0", 256, NULL));
    write_text(SERVICE_CONF, "# test\n"
                             "  MECH_LIST:  PLAIN  \n"
                             "pwcheck_method: saslauthd\n"
                             "saslauthd_path: /nonexistent/mux\n");
    start_sasl();
    assert_string_equal(auth_sasl_option("pwcheck_method"), "saslauthd");
    assert_string_equal(auth_sasl_option("mech_list"), "PLAIN");
    struct auth_sasl *a = auth_sasl_new("s1", 256, NULL);
    assert_string_equal(auth_sasl_mechanisms(a), "PLAIN");
    /* saslauthd is asked, and is not there: the login fails. */
    assert_int_equal(auth_sasl_start(a, "PLAIN", "\0bob\0bob secret", 15,
                                     true, &ch, user, sizeof(user)),
                     AUTH_FAIL);
    auth_sasl_free(a);
    /* "tlsmta user" still finds the sasldb's users. */
    auth_sasl_admin_mode();
    assert_string_equal(auth_sasl_option("pwcheck_method"), "auxprop");
    add_user("bob", "bob secret", AUTH_USERS_REPLACED);
    stop_sasl();
    assert_int_equal(unlink(SERVICE_CONF), 0);
    start_sasl();
    buf_free(&ch);
}

static void
test_bad_service_conf(void **state)
{
    char err[256];
    (void)state;
    stop_sasl();
    write_text(SERVICE_CONF, "mech_list PLAIN\n");
    struct buf errors;
    buf_init(&errors, 0);
    assert_int_equal(config_load("t.conf", &cfg, &errors), 0);
    buf_free(&errors);
    assert_int_equal(auth_sasl_init(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sasl/tlsmta-test.conf"));
    config_free(&cfg);
    assert_int_equal(unlink(SERVICE_CONF), 0);
    start_sasl();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mechanisms),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_login_mechanism),
        cmocka_unit_test(test_scram),
        cmocka_unit_test(test_abort_and_retry),
        cmocka_unit_test(test_no_mech),
        cmocka_unit_test(test_external),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_users_errors),
        cmocka_unit_test(test_service_conf_wins),
        cmocka_unit_test(test_bad_service_conf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
