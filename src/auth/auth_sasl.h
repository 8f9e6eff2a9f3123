/*
 * auth_sasl.h -- RFC 4954 SMTP AUTH through Cyrus SASL (libsasl2): one
 * process-wide setup, then one object per SMTP session that runs SASL
 * exchanges (RFC 4422) for the I/O layer's AUTH hooks.
 *
 * Where SASL's settings come from: SASL reads SERVICE.conf (SERVICE is
 * [auth] sasl_service, default "tlsmta") from [auth] sasl_config_dir
 * (default /etc/sasl2). tlsmta supplies defaults for the options that
 * file leaves out:
 *
 *   pwcheck_method: auxprop       auxprop_plugin: sasldb
 *   sasldb_path:    [auth] sasldb_path (default /etc/tlsmta/sasldb2)
 *   mech_list:      [auth] mechanisms, plus EXTERNAL
 *
 * Whatever the file sets wins: libsasl2 asks the application's getopt
 * callback before its config file, so the callback answers only for
 * options the file does not set (it reads the file's option names at
 * init). "pwcheck_method: saslauthd" plus "saslauthd_path: DIR/mux" in
 * the file thus sends plain-password checks to saslauthd.
 *
 * Trust boundary: the client's SASL messages (already base64-decoded by
 * the SMTP layer) go to libsasl2 and its plugins; nothing here parses
 * them. This module is only ever asked after TLS is up (the SMTP session
 * never offers or accepts AUTH before), and as a second line of defence a
 * session created with tls_ssf 0 refuses plaintext mechanisms.
 */
#ifndef TLSMTA_AUTH_SASL_H
#define TLSMTA_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct config;

/* Outcome of one step of an exchange. The I/O layer maps it to the SMTP
 * session's enum smtp_auth_status (same order and meaning). */
enum auth_status {
    AUTH_CONTINUE, /* send the challenge in a 334, await a response */
    AUTH_OK,       /* authenticated; user holds the login */
    AUTH_FAIL,     /* wrong credentials, unknown user, malformed or
                      refused exchange: 535 5.7.8; counts as a failure */
    AUTH_NO_MECH,  /* mechanism not offered here: 504 5.5.4 */
    AUTH_TEMPFAIL, /* out of memory or the backend asked to try again
                      later (SASL_TRYAGAIN, SASL_UNAVAIL): 454 4.7.0 */
};

/* The SASL service name given to sasl_server_new(): what saslauthd
 * passes to PAM and what GSSAPI would use as principal, as Postfix does. */
#define AUTH_SASL_SERVICE "smtp"

/* Longest mechanism list auth_sasl_mechanisms() returns, NUL included. */
#define AUTH_SASL_MECHS_MAX 512

/* Set up libsasl2 for this process (sasl_server_init with app name
 * cfg->sasl_service, config path cfg->sasl_config_dir or /etc/sasl2, the
 * defaults above, SASL's log lines to util_log). Call once, before any
 * session, from the thread that will use SASL. cfg is copied from; it
 * need not outlive the call. Returns 0, or -1 with a one-line reason in
 * err (errlen bytes, always NUL-terminated): a second call without
 * auth_sasl_done(), an unreadable or malformed SASL config file, or
 * sasl_server_init() failing. */
int auth_sasl_init(const struct config *cfg, char *err, size_t errlen);

/* Undo auth_sasl_init() (sasl_server_done), after every session object is
 * freed. Safe to call when not initialised. */
void auth_sasl_done(void);

/* The value SASL uses for option, one of "pwcheck_method",
 * "auxprop_plugin", "sasldb_path" and "mech_list": SERVICE.conf's if it
 * sets it, else tlsmta's default. NULL before auth_sasl_init() or for
 * another option. Owned here; valid until auth_sasl_done(). */
const char *auth_sasl_option(const char *option);

/* For "tlsmta user" only: answer pwcheck_method auxprop even where
 * SERVICE.conf names another (saslauthd), so that sasl_user_exists()
 * looks in the sasldb that sasl_setpass() writes. Call after
 * auth_sasl_init(); never in the server. */
void auth_sasl_admin_mode(void);

struct auth_sasl;

/* A session's SASL state. session_id prefixes its log lines (copied).
 * tls_ssf is the TLS cipher's strength in bits (SASL_SSF_EXTERNAL), 0 if
 * there is no TLS (then plaintext mechanisms are refused). external_id
 * (copied; NULL for none) is the identity a verified client certificate
 * grants: with it EXTERNAL is offered and authenticates as external_id
 * (RFC 4422 Appendix A). Returns NULL if auth_sasl_init() has not
 * succeeded or memory runs out. Free with auth_sasl_free(). */
struct auth_sasl *auth_sasl_new(const char *session_id, unsigned tls_ssf,
                                const char *external_id);

/* Free a session's state (NULL is fine), ending any exchange. */
void auth_sasl_free(struct auth_sasl *a);

/* Space-separated mechanisms to advertise in the EHLO AUTH keyword: those
 * of cfg->auth_mechanisms that SASL can run now (its mech_list, plugins,
 * security properties), in config order, then EXTERNAL if an external_id
 * was given and SASL has it. "" if none. The string is owned by a and
 * valid until the next call on a. */
const char *auth_sasl_mechanisms(struct auth_sasl *a);

/* Start an exchange with mech (as the client sent it; compared without
 * regard to case). has_initial false: the AUTH command had no initial
 * response; true with initial_len 0: it was "=" (RFC 4954 4). initial is
 * decoded bytes, not NUL-terminated. Any earlier exchange is forgotten
 * first.
 * Returns AUTH_CONTINUE with the raw challenge bytes appended to
 * challenge (the caller base64-encodes them); AUTH_OK with the login,
 * NUL-terminated, in user (user_size bytes; a login that does not fit is
 * AUTH_FAIL); AUTH_FAIL with the login tried in user if the mechanism
 * revealed it, else ""; AUTH_NO_MECH if mech is not in
 * auth_sasl_mechanisms(); AUTH_TEMPFAIL (nothing could be started, or
 * the backend is unavailable). user is "" on AUTH_NO_MECH and
 * AUTH_TEMPFAIL; challenge is appended to only on AUTH_CONTINUE. Every
 * result but AUTH_CONTINUE ends the exchange. */
enum auth_status auth_sasl_start(struct auth_sasl *a, const char *mech,
                                 const char *initial, size_t initial_len,
                                 bool has_initial, struct buf *challenge,
                                 char *user, size_t user_size);

/* The client's decoded response to a 334 (len may be 0). Same returns as
 * auth_sasl_start(); AUTH_FAIL if no exchange is under way. */
enum auth_status auth_sasl_step(struct auth_sasl *a, const char *response,
                                size_t len, struct buf *challenge, char *user,
                                size_t user_size);

/* Forget an unfinished exchange ("*" from the client, RFC 4954 4), so
 * that a new one may start with any mechanism. Does nothing if none. */
void auth_sasl_abort(struct auth_sasl *a);

/* SASL's detail on the last failure of a ("" if none), for the log line;
 * owned by a, valid until the next call on a. Never holds a password. */
const char *auth_sasl_detail(const struct auth_sasl *a);

#endif
