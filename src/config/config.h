/*
 * config.h -- tlsmta's configuration: one INI-style file (DESIGN.md,
 * "Configuration"), parsed with libinih against one schema table.
 *
 * Trust boundary: reads a file written by the administrator. Every unknown
 * key, bad value or missing file is reported as "FILE:LINE: message"; all
 * errors are collected before config_load() returns.
 */
#ifndef TLSMTA_CONFIG_H
#define TLSMTA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_TLS_PAIRS_MAX 4   /* RSA + ECDSA, with room to spare */
#define CONFIG_EX_CONFIG 78      /* sysexits.h EX_CONFIG */

enum config_listen_tls {
    CONFIG_TLS_NONE,              /* plaintext only, STARTTLS not offered */
    CONFIG_TLS_STARTTLS,          /* RFC 3207, offered, optional (MX) */
    CONFIG_TLS_STARTTLS_REQUIRED, /* RFC 3207 + 530 before TLS (submission) */
    CONFIG_TLS_IMPLICIT,          /* RFC 8314 implicit TLS (submissions) */
};

/* What to do with a bare CR or bare LF inside DATA (SMTP smuggling). */
enum config_bare_newline {
    CONFIG_BARE_NEWLINE_NORMALIZE, /* store as CRLF; never ends DATA */
    CONFIG_BARE_NEWLINE_REJECT,    /* answer 550 5.5.2 at end of DATA */
};

struct config_listen {
    char *name;                  /* owned; "mx" from [listen mx] */
    char *address;               /* owned; "127.0.0.1:2525", "[::1]:25" */
    enum config_listen_tls tls;  /* security of this listener */
    int line;                    /* line of the [listen] section header */
    struct config_listen *next;  /* owned; next listener, in file order */
};

struct config_tls_pair {
    char *cert;                  /* owned; PEM path, leaf first then chain */
    char *key;                   /* owned; PEM private key path */
    int cert_line;               /* config line of cert, for errors */
    int key_line;                /* config line of key */
};

struct config {
    char *path;                  /* owned; the file that was loaded */
    char *hostname;              /* owned; default gethostname() */
    char *spool;                 /* owned; default /var/spool/tlsmta */
    char **local_domains;        /* owned; lower-cased, n_local_domains */
    size_t n_local_domains;
    char *maildir;               /* owned; template with %d and %u */
    char *local_recipients;      /* owned path or NULL: accept any local user */
    char **recipients;           /* owned; sorted, lower-cased addresses
                                    read from local_recipients */
    size_t n_recipients;
    uint64_t message_size_limit; /* bytes; 0 = no limit; default 10240000 */
    unsigned smtpd_timeout;      /* seconds waiting for a command or data;
                                    default 300, RFC 5321 4.5.3.2.7 */
    unsigned smtpd_tls_timeout;  /* seconds for a TLS handshake; default 60 */
    unsigned smtpd_recipient_limit;   /* per message; default 1000,
                                         RFC 5321 4.5.3.1.8 asks >= 100 */
    unsigned smtpd_hard_error_limit;  /* errors before 421; default 20 */
    unsigned smtpd_client_connection_limit; /* concurrent sessions; 4000 */
    enum config_bare_newline smtpd_bare_newline; /* default normalize */
    unsigned queue_retry_interval; /* seconds between delivery retries;
                                      default 300 */

    struct config_tls_pair tls_pairs[CONFIG_TLS_PAIRS_MAX]; /* [tls] */
    size_t n_tls_pairs;
    int tls_min_version;         /* 0x0303 (TLS 1.2, default) or 0x0304 */
    int tls_line;                /* line of the [tls] header, or 0 */
    char *tls_ciphers;           /* owned; OpenSSL list for TLS 1.2 */
    char *tls_ciphersuites;      /* owned; OpenSSL list for TLS 1.3 */

    struct config_listen *listens; /* owned; in file order */
};

/* Load and validate the file at path. On success returns 0 and fills *out
 * (free with config_free()). On error returns -1, and each problem has been
 * written to errors (one "FILE:LINE: message\n" per problem; pass NULL to
 * print them to stderr). Checks: unknown sections and keys, bad values,
 * missing required keys, duplicate listener names or addresses, unreadable
 * cert/key/local_recipients files, certificate and key that do not match is
 * left to the TLS module. */
struct buf;
int config_load(const char *path, struct config *out, struct buf *errors);

/* Release everything config_load() allocated. Safe on a zeroed struct. */
void config_free(struct config *cfg);

/* True if domain (any case, no trailing dot) is in local_domains. */
bool config_is_local_domain(const struct config *cfg, const char *domain);

/* True if local_recipients is unset, or lower-cased "local@domain" is listed
 * in it. local and domain are as received (case is folded here). */
bool config_is_local_recipient(const struct config *cfg, const char *local,
                               const char *domain);

#endif
