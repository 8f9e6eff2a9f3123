/*
 * auth_users.h -- the users of SASL's sasldb, as "tlsmta user add|del"
 * manages them: the way saslpasswd2 does it (sasl_setpass), so that every
 * SASL mechanism gets its secret (userPassword for PLAIN and LOGIN,
 * SCRAM-SHA-* secrets) and the server finds them where it looks.
 *
 * Names and realms: a user is stored as NAME in realm DOMAIN when the name
 * is "NAME@DOMAIN", else in the realm of [top level] hostname. The server
 * creates its SASL connections with the same hostname and no default
 * realm, so the login the client types is exactly the name given here:
 * "tlsmta user add alice@example.org" logs in as "alice@example.org",
 * "tlsmta user add bob" as "bob".
 *
 * Trust boundary: names come from the administrator's command line;
 * passwords from standard input (never argv, which other users can see
 * in ps).
 */
#ifndef TLSMTA_AUTH_USERS_H
#define TLSMTA_AUTH_USERS_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* Longest password read (bytes), as saslpasswd2's buffer. */
#define AUTH_USERS_PASSWORD_MAX 1024

/* Longest user name accepted (bytes). */
#define AUTH_USERS_NAME_MAX 255

enum auth_users_result {
    AUTH_USERS_ADDED,    /* a new user with this password */
    AUTH_USERS_REPLACED, /* the user existed; the password is replaced */
    AUTH_USERS_DELETED,  /* the user and all its secrets are gone */
    AUTH_USERS_UNKNOWN,  /* delete: there was no such user */
    AUTH_USERS_ERROR,    /* nothing changed, or not all: see err */
};

/* Why name cannot be a sasldb user, or NULL if it can: empty, longer than
 * AUTH_USERS_NAME_MAX, white space or control characters, more than one
 * '@', or an '@' first or last. */
const char *auth_users_name_problem(const char *name);

/* Set the password of name in the sasldb, creating the user if needed.
 * Needs auth_sasl_init(cfg) first (it decides which sasldb: [auth]
 * sasldb_path unless SERVICE.conf names another). A new sasldb file is
 * created mode 0640. password is len bytes (1 .. AUTH_USERS_PASSWORD_MAX,
 * no NUL). Returns AUTH_USERS_ADDED or AUTH_USERS_REPLACED, or
 * AUTH_USERS_ERROR with a one-line reason in err (errlen bytes): a bad
 * name or password, SASL not initialised, the sasldb's directory missing,
 * or SASL failing to write. */
enum auth_users_result auth_users_set(const struct config *cfg,
                                      const char *name, const char *password,
                                      size_t len, char *err, size_t errlen);

/* Delete name and all its secrets from the sasldb. Same preconditions.
 * Returns AUTH_USERS_DELETED, AUTH_USERS_UNKNOWN, or AUTH_USERS_ERROR with
 * err. */
enum auth_users_result auth_users_delete(const struct config *cfg,
                                         const char *name, char *err,
                                         size_t errlen);

/* Read a password from fd: one line, without its line end. When fd is a
 * terminal, prompt on stderr and read it twice without echo; the two must
 * match. Writes it NUL-terminated into buf (size bytes, at least
 * AUTH_USERS_PASSWORD_MAX + 1 for the longest) and returns its length, or
 * -1 with a one-line reason in err: nothing read, an empty line, a NUL
 * byte, a line longer than size - 1, or the two entries differing. */
long auth_users_read_password(int fd, char *buf, size_t size, char *err,
                              size_t errlen);

#endif
