/*
 * auth_users.c -- add and delete sasldb users with sasl_setpass(), as
 * saslpasswd2 does, and read the password from standard input.
 *
 * Trust boundary: the administrator's command line and standard input.
 * Passwords are wiped from our buffers once used.
 */
#include "auth/auth_users.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "auth/auth_sasl.h"
#include "config/config.h"

const char *
auth_users_name_problem(const char *name)
{
    size_t len = strlen(name);
    const char *at = strchr(name, '@');
    if (len == 0)
        return "empty user name";
    if (len > AUTH_USERS_NAME_MAX)
        return "user name longer than 255 bytes";
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "white space or control character in the user name";
    if (at != NULL && strchr(at + 1, '@') != NULL)
        return "more than one '@' in the user name";
    if (at == name || (at != NULL && at[1] == '\0'))
        return "'@' must stand between a name and a domain";
    return NULL;
}

/* A SASL connection for the administration calls, after checking name
 * and that the sasldb's directory exists. */
static sasl_conn_t *
auth_users_connect(const struct config *cfg, const char *name, char *err,
                   size_t errlen)
{
    sasl_conn_t *conn = NULL;
    const char *why = auth_users_name_problem(name);
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    int r = sasl_server_new(AUTH_SASL_SERVICE, cfg->hostname, NULL, NULL,
                            NULL, NULL, 0, &conn);
    if (r != SASL_OK) {
        snprintf(err, errlen, "SASL: %s (call auth_sasl_init first)",
                 sasl_errstring(r, NULL, NULL));
        return NULL;
    }
    /* SASL's own error would not name the missing directory. */
    const char *db = auth_sasl_option("sasldb_path");
    char dir[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", db ? db : "");
    if (db != NULL && stat(dirname(dir), &st) < 0) {
        snprintf(err, errlen, "sasldb %s: directory %s: %s", db, dir,
                 strerror(errno));
        sasl_dispose(&conn);
        return NULL;
    }
    return conn;
}

/* Does name have a password in the sasldb? SASL_OK, SASL_NOUSER, or
 * another error. */
static int
auth_users_exists(sasl_conn_t *conn, const char *name)
{
    return sasl_user_exists(conn, NULL, NULL, name);
}

enum auth_users_result
auth_users_set(const struct config *cfg, const char *name,
               const char *password, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > AUTH_USERS_PASSWORD_MAX ||
        memchr(password, '\0', len) != NULL) {
        snprintf(err, errlen, "the password must be 1 to %d bytes, no NUL",
                 AUTH_USERS_PASSWORD_MAX);
        return AUTH_USERS_ERROR;
    }
    sasl_conn_t *conn = auth_users_connect(cfg, name, err, errlen);
    if (conn == NULL)
        return AUTH_USERS_ERROR;
    bool existed = auth_users_exists(conn, name) == SASL_OK;
    mode_t old = umask(027); /* a new sasldb: 0640, readable by a group */
    int r = sasl_setpass(conn, name, password, (unsigned)len, NULL, 0,
                         SASL_SET_CREATE);
    umask(old);
    if (r != SASL_OK)
        snprintf(err, errlen, "cannot set the password of %s: %s", name,
                 sasl_errdetail(conn));
    sasl_dispose(&conn);
    if (r != SASL_OK)
        return AUTH_USERS_ERROR;
    return existed ? AUTH_USERS_REPLACED : AUTH_USERS_ADDED;
}

enum auth_users_result
auth_users_delete(const struct config *cfg, const char *name, char *err,
                  size_t errlen)
{
    sasl_conn_t *conn = auth_users_connect(cfg, name, err, errlen);
    if (conn == NULL)
        return AUTH_USERS_ERROR;
    int r = auth_users_exists(conn, name);
    enum auth_users_result res = AUTH_USERS_UNKNOWN;
    if (r == SASL_OK) {
        /* SASL_SET_DISABLE with no password removes userPassword and
         * every other property of the user, and each mechanism's
         * secret. */
        r = sasl_setpass(conn, name, NULL, 0, NULL, 0, SASL_SET_DISABLE);
        res = r == SASL_OK ? AUTH_USERS_DELETED : AUTH_USERS_ERROR;
    } else if (r != SASL_NOUSER) {
        res = AUTH_USERS_ERROR;
    }
    if (res == AUTH_USERS_ERROR)
        snprintf(err, errlen, "cannot delete %s: %s", name,
                 sasl_errdetail(conn));
    sasl_dispose(&conn);
    return res;
}

/* ---- reading the password ---- */

/* One line from fd into buf, without its end ("\n" or "\r\n"). Returns
 * its length, or -1 with err. */
static long
auth_users_read_line(int fd, char *buf, size_t size, char *err,
                     size_t errlen)
{
    size_t n = 0;
    char c;
    ssize_t got;
    while ((got = read(fd, &c, 1)) == 1 && c != '\n') {
        if (c == '\0' || n + 1 >= size) {
            snprintf(err, errlen, c ? "password longer than %zu bytes"
                                    : "NUL byte in the password",
                     size - 1);
            explicit_bzero(buf, size);
            return -1;
        }
        buf[n++] = c;
    }
    if (got < 0 || (got == 0 && n == 0)) {
        snprintf(err, errlen, "no password on standard input%s%s",
                 got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0)
        snprintf(err, errlen, "empty password");
    return n > 0 ? (long)n : -1;
}

/* Prompt on stderr and read a line from the terminal fd without echo. */
static long
auth_users_read_hidden(int fd, const char *prompt, char *buf, size_t size,
                       char *err, size_t errlen)
{
    struct termios saved, quiet;
    bool restore = tcgetattr(fd, &saved) == 0;
    fputs(prompt, stderr);
    fflush(stderr);
    if (restore) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    long n = auth_users_read_line(fd, buf, size, err, errlen);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &saved);
    fputs("\n", stderr);
    return n;
}

long
auth_users_read_password(int fd, char *buf, size_t size, char *err,
                         size_t errlen)
{
    char again[AUTH_USERS_PASSWORD_MAX + 1];
    if (size < 2) {
        snprintf(err, errlen, "no room for a password");
        return -1;
    }
    if (!isatty(fd))
        return auth_users_read_line(fd, buf, size, err, errlen);
    long n = auth_users_read_hidden(fd, "Password: ", buf, size, err, errlen);
    if (n < 0)
        return -1;
    long m = auth_users_read_hidden(fd, "Again: ", again, sizeof(again), err,
                                    errlen);
    if (m >= 0 && (m != n || memcmp(buf, again, (size_t)n) != 0)) {
        snprintf(err, errlen, "the two passwords differ");
        m = -1;
    }
    explicit_bzero(again, sizeof(again));
    if (m < 0)
        explicit_bzero(buf, size);
    return m < 0 ? -1 : n;
}
