/*
 * auth_sender.h -- may an authenticated client use this envelope sender?
 * The sender_login_maps policy (Postfix's smtpd_sender_login_maps with
 * reject_sender_login_mismatch), over the entries the config read from
 * the file (struct config_sender_login).
 *
 * The rule, once a client has authenticated as LOGIN:
 *   - no sender_login_maps configured: any sender;
 *   - the null reverse-path <> (bounces, RFC 5321 4.5.5): allowed;
 *   - the address's own entry ("alice@example.org ...") decides if there
 *     is one: allowed if it lists LOGIN;
 *   - else its domain's entry ("@example.org ...") decides;
 *   - else refused: an address nobody owns is not LOGIN's either.
 * Refusals are answered 553 5.7.1 by the SMTP session. Addresses are
 * matched without regard to case; a login in the map matches LOGIN
 * exactly in its local part and without regard to case in its domain.
 *
 * Trust boundary: the sender comes from the client's MAIL command (already
 * parsed by the SMTP layer); the login from SASL. Nothing here does I/O.
 */
#ifndef TLSMTA_AUTH_SENDER_H
#define TLSMTA_AUTH_SENDER_H

#include <stdbool.h>

struct config;

enum auth_sender_verdict {
    AUTH_SENDER_NO_MAP,    /* allowed: no sender_login_maps configured */
    AUTH_SENDER_NULL,      /* allowed: the null reverse-path */
    AUTH_SENDER_OWNED,     /* allowed: the deciding entry lists the login */
    AUTH_SENDER_NOT_OWNER, /* refused: the deciding entry lists others */
    AUTH_SENDER_UNLISTED,  /* refused: neither the address nor its domain
                              is in the map */
};

struct auth_sender_result {
    enum auth_sender_verdict verdict;
    int line; /* sender_login_maps line of the deciding entry, or 0 */
};

/* Decide whether login may use the reverse-path local@domain (both as
 * received; "" and "" for <>; a trailing dot of domain is ignored) under
 * cfg's sender_login_maps. Never fails. */
struct auth_sender_result auth_sender_check(const struct config *cfg,
                                            const char *login,
                                            const char *local,
                                            const char *domain);

/* True if verdict lets the MAIL command through. */
bool auth_sender_allowed(enum auth_sender_verdict verdict);

/* The word for verdict in log lines: "no-map", "null-sender", "owned",
 * "not-owner", "unlisted"; "unknown" out of range. Static string. */
const char *auth_sender_verdict_name(enum auth_sender_verdict verdict);

#endif
