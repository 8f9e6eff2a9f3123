/*
 * smtp_command.h -- the argument grammar of MAIL and RCPT (RFC 5321 4.1.1.2,
 * 4.1.1.3, 4.1.2): "FROM:" / "TO:", the path, and the ESMTP parameters
 * SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531) and AUTH (RFC 4954
 * 5); and the argument of AUTH (RFC 4954 4: mechanism, initial response).
 *
 * Only splits and checks the syntax; the path itself is parsed by
 * smtp_address_parse() (it needs to know whether SMTPUTF8 was given).
 * Trust boundary: every byte comes from the network; nothing here depends
 * on a NUL terminator.
 */
#ifndef TLSMTA_SMTP_COMMAND_H
#define TLSMTA_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MAIL parameters (RFC 5321 4.1.2 Mail-parameters). */
struct smtp_mail_params {
    uint64_t size;      /* SIZE=, 0 if absent; 2^64-1 if larger */
    bool body_8bitmime; /* BODY=8BITMIME (BODY=7BIT: false) */
    bool smtputf8;      /* SMTPUTF8 */
    bool auth;          /* AUTH=xtext given (RFC 4954 5); its value is
                           checked, then ignored: we trust no client to
                           name the original submitter, as if AUTH=<> */
};

/* A MAIL or RCPT argument taken apart. */
struct smtp_path_arg {
    const char *path;               /* "<...>" inside the argument */
    size_t path_len;                /* octets, brackets included */
    struct smtp_mail_params params; /* MAIL only; zero for RCPT */
};

/* Why an argument was refused; each maps to one reply. */
enum smtp_command_error {
    SMTP_COMMAND_OK = 0,
    SMTP_COMMAND_SYNTAX,            /* no "FROM:"/"TO:": 501 5.5.4 */
    SMTP_COMMAND_BAD_PATH,          /* no "<...>", or text glued to it:
                                       501 5.1.7 / 5.1.3 */
    SMTP_COMMAND_BAD_PARAMETER,     /* malformed parameter: 501 5.5.4 */
    SMTP_COMMAND_UNKNOWN_PARAMETER, /* not offered: 555 5.5.4 (RFC 5321
                                       4.1.1.11) */
    SMTP_COMMAND_BAD_MECHANISM,     /* AUTH: not a SASL mechanism name:
                                       504 5.5.4 (RFC 4954 4) */
};

/* RFC 4422 3.1: sasl-mech = 1*20mech-char */
#define SMTP_SASL_MECH_MAX 20

/* An AUTH argument taken apart (RFC 4954 4). */
struct smtp_auth_arg {
    char mech[SMTP_SASL_MECH_MAX + 1]; /* upper-cased, NUL-terminated */
    const char *initial; /* base64 initial response inside the argument,
                            NULL if none was given */
    size_t initial_len;  /* its octets; 0 for "=", the empty response */
};

/* Split the argument of MAIL (after the verb and its space): "FROM:",
 * optional spaces (RFC 5321 wants none, every MTA tolerates them), the
 * path, then SP-separated parameters. Fills *out on SMTP_COMMAND_OK;
 * out->path points into arg. */
enum smtp_command_error smtp_command_mail(const char *arg, size_t len,
                                          struct smtp_path_arg *out);

/* The same for RCPT ("TO:"). We offer no RCPT parameters yet (no DSN), so
 * any parameter is SMTP_COMMAND_UNKNOWN_PARAMETER. */
enum smtp_command_error smtp_command_rcpt(const char *arg, size_t len,
                                          struct smtp_path_arg *out);

/* Split the argument of AUTH (after the verb and its space): "mechanism
 * [SP initial-response]" (RFC 4954 4, 8). The mechanism must be a sasl-mech
 * (RFC 4422 3.1: 1*20 of A-Z 0-9 - _, taken case-insensitively, RFC 4954
 * 8); the initial response is returned undecoded. Returns SMTP_COMMAND_OK,
 * SMTP_COMMAND_SYNTAX (no mechanism, or words after the response), or
 * SMTP_COMMAND_BAD_MECHANISM. out->initial points into arg. */
enum smtp_command_error smtp_command_auth(const char *arg, size_t len,
                                          struct smtp_auth_arg *out);

#endif
