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

/* RFC 4954 AUTH on a listener (issue 3). AUTH is never offered or
 * accepted before TLS, whatever this says. */
enum config_listen_auth {
    CONFIG_AUTH_OFF,              /* AUTH not offered (default for MX) */
    CONFIG_AUTH_OPTIONAL,         /* offered after TLS */
    CONFIG_AUTH_REQUIRED,         /* MAIL before AUTH: 530 5.7.0 */
};

/* TLS client certificates on a listener (mutual TLS, issue 3). */
enum config_client_certs {
    CONFIG_CLIENT_CERTS_NONE,     /* not requested (default) */
    CONFIG_CLIENT_CERTS_REQUEST,  /* requested; the session goes on without
                                     one or with one that does not verify */
    CONFIG_CLIENT_CERTS_REQUIRE,  /* the handshake fails without a
                                     certificate that verifies */
};

/* Outbound TLS security levels (Postfix smtp_tls_security_level). */
enum config_tls_level {
    CONFIG_TLS_LEVEL_NONE,       /* no TLS */
    CONFIG_TLS_LEVEL_MAY,        /* STARTTLS if offered, not verified;
                                    plaintext if the handshake fails */
    CONFIG_TLS_LEVEL_ENCRYPT,    /* TLS required, any certificate */
    CONFIG_TLS_LEVEL_VERIFY,     /* TLS required, chain and MX host name
                                    verified */
    CONFIG_TLS_LEVEL_SECURE,     /* TLS required, chain and next-hop domain
                                    (or match= names) verified */
};

/* Where mail goes next: "host", "[host]", "host:port" or "[host]:port"
 * (Postfix nexthop syntax). */
struct config_nexthop {
    char *host;                  /* owned; lower-cased name or IP literal,
                                    without brackets */
    unsigned port;               /* TCP port; default 25 */
    bool mx;                     /* no brackets: look up MX records of
                                    host (RFC 5321 5.1); brackets: connect
                                    to host's addresses directly */
    bool implicit_tls;           /* RFC 8314: TLS from the first byte
                                    ("smtps:" or port 465) */
    char *key;                   /* owned; canonical text, "[host]:port" or
                                    "host", the tls_policy and
                                    sasl_password_maps lookup key */
};

/* One line of the transport table: "domain smtp:nexthop". */
struct config_transport {
    char *domain;                /* owned; lower-cased; ".example.net"
                                    matches subdomains, "*" anything */
    struct config_nexthop nexthop;
    int line;                    /* line in the file */
};

/* One line of the tls_policy table: "destination level [match=a:b]". */
struct config_tls_policy {
    char *dest;                  /* owned; a domain or "[host]:port", as
                                    struct config_nexthop key */
    enum config_tls_level level;
    char **match;                /* owned; n_match names for secure
                                    ("nexthop", "dot-nexthop" or a name;
                                    ".name" matches subdomains) */
    size_t n_match;
    int line;
};

/* One line of sasl_password_maps: "[host]:port user:password". */
struct config_sasl_password {
    char *dest;                  /* owned; nexthop key */
    char *user;                  /* owned */
    char *password;              /* owned; wiped on free */
};

/* One mynetworks entry (CIDR). */
struct config_cidr {
    int family;                  /* AF_INET or AF_INET6 */
    unsigned char addr[16];      /* network address, host bits zero */
    unsigned prefix;             /* prefix length in bits */
};

struct config_listen {
    char *name;                  /* owned; "mx" from [listen mx] */
    char *address;               /* owned; "127.0.0.1:2525", "[::1]:25" */
    enum config_listen_tls tls;  /* security of this listener */
    enum config_listen_auth auth; /* key "auth", default off */
    enum config_client_certs client_certificates; /* default none; request
                                     or require need [tls] ca_file */
    int line;                    /* line of the [listen] section header */
    struct config_listen *next;  /* owned; next listener, in file order */
};

/* One line of the sender_login_maps file (issue 3): who may use a sender
 * address after AUTH (Postfix smtpd_sender_login_maps). */
struct config_sender_login {
    char *sender;                /* owned; lower-cased "local@domain", or
                                    "@domain" for a whole domain */
    char **logins;               /* owned; n_logins SASL login names as
                                    written */
    size_t n_logins;
    int line;                    /* line in the file, for logs */
};

/* One line of the relay_client_certs file (issue 3): a client certificate
 * that is granted relay, by fingerprint or by issuer and subject. */
struct config_client_cert {
    char *sha256;                /* owned; 64 lower-case hex digits without
                                    ':', or NULL for an issuer/subject
                                    line */
    char *issuer;                /* owned; RFC 2253 DN as printed by
                                    "openssl x509 -nameopt RFC2253", or
                                    NULL for a sha256 line */
    char *subject;               /* owned; same form, or NULL: any
                                    certificate from issuer */
    int line;                    /* line in the file, for logs */
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
    unsigned hopcount_limit;     /* Received: fields that make a message a
                                    loop (554 5.4.6); default 100, RFC 5321
                                    6.3 */

    struct config_tls_pair tls_pairs[CONFIG_TLS_PAIRS_MAX]; /* [tls] */
    size_t n_tls_pairs;
    int tls_min_version;         /* 0x0303 (TLS 1.2, default) or 0x0304 */
    int tls_line;                /* line of the [tls] header, or 0 */
    char *tls_ciphers;           /* owned; OpenSSL list for TLS 1.2 */
    char *tls_ciphersuites;      /* owned; OpenSSL list for TLS 1.3 */
    char *tls_ca_file;           /* owned path or NULL: [tls] ca_file, the
                                    CAs that client certificates must chain
                                    to */

    /* [auth] (issue 3): Cyrus SASL for RFC 4954 AUTH. */
    char *sasl_service;          /* owned; SASL application name, which
                                    names its config file NAME.conf;
                                    default "tlsmta" */
    char *sasl_config_dir;       /* owned path or NULL (SASL's default,
                                    /etc/sasl2 on Debian) */
    char **auth_mechanisms;      /* owned; upper-cased, n_auth_mechanisms;
                                    default PLAIN LOGIN; the ones SASL does
                                    not offer are left out at run time */
    size_t n_auth_mechanisms;
    char *sasldb_path;           /* owned path or NULL: the sasldb that
                                    "tlsmta user add" writes and the
                                    sasldb backend reads (sasldb_path) */
    char *sender_login_maps;     /* owned path or NULL: file of
                                    "sender-address login[,login...]"
                                    lines (Postfix smtpd_sender_login_maps
                                    style; "@domain" matches a domain) */
    bool received_auth_user;     /* name the login in Received; default no */
    unsigned auth_failure_limit; /* failed AUTHs from one client address
                                    before 421 4.7.0; default 5 */
    unsigned auth_failure_delay; /* seconds added per failure before the
                                    535 goes out; default 1 */
    unsigned auth_failure_window; /* seconds a failure is remembered;
                                     default 600 */
    char *relay_client_certs;    /* owned path or NULL: file of client
                                    certificates granted relay: lines
                                    "sha256:HEX" or
                                    "issuer=<DN> subject=<DN>" (RFC 2253
                                    one-line forms) */
    struct config_sender_login *sender_logins; /* owned; read from
                                    sender_login_maps, sorted by sender
                                    (strcmp), one entry per sender */
    size_t n_sender_logins;
    struct config_client_cert *relay_certs; /* owned; read from
                                    relay_client_certs, in file order */
    size_t n_relay_certs;

    /* Relay rights without AUTH (issue 4). */
    struct config_cidr *mynetworks; /* owned; n_mynetworks entries */
    size_t n_mynetworks;

    /* [queue] (issue 4): retries and bounces. */
    unsigned minimal_backoff_time;   /* seconds before the first retry;
                                        default 300 */
    unsigned maximal_backoff_time;   /* seconds, cap of the retry interval;
                                        default 3600 */
    unsigned maximal_queue_lifetime; /* seconds a message may stay
                                        deferred before it bounces;
                                        default 5 days */

    /* [outbound] (issue 4): delivery to other hosts over SMTP. */
    enum config_tls_level outbound_tls_security_level; /* default may */
    char *outbound_tls_policy;   /* owned path or NULL */
    struct config_tls_policy *tls_policies; /* owned; from that file */
    size_t n_tls_policies;
    char *outbound_transport;    /* owned path or NULL */
    struct config_transport *transports; /* owned; from that file */
    size_t n_transports;
    char *relayhost_text;        /* owned; as written, or NULL */
    struct config_nexthop relayhost; /* parsed; host NULL if unset */
    char *sasl_password_maps;    /* owned path or NULL; mode 0600 */
    struct config_sasl_password *sasl_passwords; /* owned */
    size_t n_sasl_passwords;
    char *outbound_tls_ca_file;  /* owned path or NULL: system store */
    char *dns_resolver;          /* owned; "127.0.0.1@5353 ..." or NULL:
                                    /etc/resolv.conf */
    char *outbound_helo_name;    /* owned or NULL: hostname */
    unsigned smtp_connect_timeout; /* seconds; default 30 */
    unsigned smtp_timeout;       /* seconds per reply; default 300 */
    unsigned destination_concurrency_limit; /* connections per next hop;
                                               default 20 */
    unsigned outbound_concurrency_limit; /* connections in all; 100 */

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

/* The transport entry for domain (lower-case, no trailing dot): the exact
 * domain, else the nearest ".parent" entry, else "*". NULL: none. */
const struct config_nexthop *
config_transport_lookup(const struct config *cfg, const char *domain);

/* The tls_policy entry for a next hop: its key ("[host]:port" or a
 * domain), else for a domain its nearest ".parent" entry. NULL: none
 * (use outbound_tls_security_level). */
const struct config_tls_policy *
config_tls_policy_lookup(const struct config *cfg, const char *key);

/* The sasl_password_maps entry for a nexthop key, or NULL. */
const struct config_sasl_password *
config_sasl_password_lookup(const struct config *cfg, const char *key);

/* True if the client address sa (AF_INET or AF_INET6; IPv4-mapped IPv6
 * counts as IPv4) is in mynetworks. */
struct sockaddr;
bool config_in_mynetworks(const struct config *cfg, const struct sockaddr *sa);

/* Name of a TLS level ("may"), for logs. */
const char *config_tls_level_name(enum config_tls_level level);

#endif
