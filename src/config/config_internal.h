/*
 * config_internal.h -- what the parts of src/config/ share and nobody else
 * sees: the load state, the schema table and its value setters.
 *
 * Trust boundary: everything here handles text from the administrator's
 * config file (and the local_recipients file it names).
 */
#ifndef TLSMTA_CONFIG_INTERNAL_H
#define TLSMTA_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct buf;

/* Sections the file may hold; CONFIG_SECTION_NONE is "inside a section we
 * already reported as bad", whose keys are skipped without more noise. */
enum config_section {
    CONFIG_SECTION_TOP,    /* keys before the first [section] */
    CONFIG_SECTION_TLS,    /* [tls] */
    CONFIG_SECTION_LISTEN, /* [listen NAME], one struct config_listen each */
    CONFIG_SECTION_AUTH,   /* [auth]: SASL and AUTH policy (issue 3) */
    CONFIG_SECTION_QUEUE,  /* [queue]: retries and bounces (issue 4) */
    CONFIG_SECTION_OUTBOUND, /* [outbound]: delivery by SMTP (issue 4) */
    CONFIG_SECTION_NONE,
};

/* State of one config_load() call. */
struct config_load {
    const char *path;   /* borrowed; the file being read */
    struct config *cfg; /* borrowed; the result being filled */
    struct buf *errors; /* borrowed; NULL: write to stderr */
    int n_errors;       /* problems reported so far */
    int line;           /* line being parsed; 0 outside the file */
    enum config_section section;
    int section_line;             /* line of the current [section] header */
    struct config_listen *listen; /* borrowed; current [listen] */
    struct config_listen **listen_tail; /* where the next listener goes */
    int *seen;     /* owned; per schema key: line it was set
                      on in the current section, or 0 */
    int cert_line; /* line of a cert still waiting for its key */
};

/* Report one problem as "file:LINE: message" (or "file: message" when line
 * is 0) to ld->errors or stderr, and count it in ld->n_errors. */
void config_verror(struct config_load *ld, const char *file, int line,
                   const char *fmt, va_list ap);

/* config_verror() for the config file itself. */
void config_error_at(struct config_load *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_verror() for another file (a list the config file names). */
void config_error_in(struct config_load *ld, const char *file, int line,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Same, at the line being parsed. */
#define config_error(ld, ...) config_error_at((ld), (ld)->line, __VA_ARGS__)

struct config_key;

/* Parse value for key and store it in field (a member of struct config or
 * struct config_listen, found through key->offset). Returns 0, or -1 after
 * reporting the problem with config_error(). */
typedef int config_set_fn(struct config_load *ld, const struct config_key *key,
                          const char *value, void *field);

/* A value type: its name in docs and errors, and the setter. */
struct config_type {
    const char *name; /* "seconds", "size", ... */
    config_set_fn *set;
};

/* One accepted word of an enum key. refused != NULL marks a word that is
 * recognised only to explain why it cannot be configured. */
struct config_choice {
    const char *word;    /* as written in the file, any case */
    int value;           /* stored in the int/enum member */
    const char *refused; /* NULL, or why this word is an error */
};

#define CONFIG_KEY_REQUIRED 0x1 /* must appear in each section instance */
#define CONFIG_KEY_REPEAT 0x2   /* may appear several times */

/* One row of the schema: everything there is to know about a key. */
struct config_key {
    enum config_section section;
    const char *name; /* Postfix's name where there is one */
    const struct config_type *type;
    size_t offset;     /* in struct config, or struct config_listen
                          for CONFIG_SECTION_LISTEN */
    const char *def;   /* default, parsed by the setter; NULL: none
                          (or computed, see config_finish) */
    uint64_t min, max; /* bounds of numbers, in their unit */
    const struct config_choice *choices; /* enum words, ending in {NULL} */
    unsigned flags;                      /* CONFIG_KEY_* */
    const char *reason; /* one line: why it exists, why the default */
};

extern const struct config_key config_keys[];
extern const size_t config_keys_n;

/* Load the local_recipients file at path into cfg->recipients (sorted,
 * lower-cased, without duplicates). Problems in the file are reported as
 * "path:LINE: message"; a file that cannot be opened at the line of the
 * local_recipients key. Returns 0 or -1. */
int config_recipients_load(struct config_load *ld, const char *path);

/* Handle one line of a list file: comments and surrounding white space
 * are already stripped, and blank lines skipped. lineno counts from 1.
 * Returns 0, or -1 after reporting with config_error_in(ld, path, ...). */
typedef int config_line_fn(struct config_load *ld, const char *path,
                           int lineno, char *line, void *ctx);

/* Read the list file at path and give each non-blank line to fn. A file
 * that cannot be opened is reported at the line of the config key that
 * names it (key_name), a read error at "path: message". Returns 0 if every
 * line was good, else -1. */
int config_list_read(struct config_load *ld, const char *key_name,
                     const char *path, config_line_fn *fn, void *ctx);

/* Load the sender_login_maps file at path into cfg->sender_logins
 * ("sender login[,login...]" lines; see docs/config.md). Problems are
 * reported as "path:LINE: message". Returns 0 or -1. */
int config_sender_logins_load(struct config_load *ld, const char *path);

/* Load the relay_client_certs file at path into cfg->relay_certs
 * ("sha256:HEX", "issuer=DN subject=DN" or "issuer=DN" lines). Same
 * reporting and returns. */
int config_relay_certs_load(struct config_load *ld, const char *path);

/* Load the outbound tables (config_outbound.c): transport
 * ("domain smtp:nexthop"), tls_policy ("dest level [match=a:b]") and
 * sasl_password_maps ("nexthop user:password"; refused if group or others
 * may read it). Same reporting and returns. */
int config_transport_load(struct config_load *ld, const char *path);
int config_tls_policy_load(struct config_load *ld, const char *path);
int config_sasl_passwords_load(struct config_load *ld, const char *path);

/* Setters of config_outbound.c (see config_set_fn): mynetworks (CIDR
 * list), dns_resolver ("IP[@port]" list), relayhost (a next hop) and a
 * TLS security level. */
config_set_fn config_set_mynetworks, config_set_resolver,
    config_set_relayhost, config_set_tls_level;

/* Parse a next hop: "host", "host:port", "[host]" or "[host]:port";
 * implicit: written as "smtps:". Returns NULL and fills *out (free with
 * config_nexthop_free()), or a reason. */
const char *config_nexthop_parse(const char *text, bool implicit,
                                 struct config_nexthop *out);
void config_nexthop_free(struct config_nexthop *nh);

/* Free everything config_outbound.c put in cfg. */
void config_outbound_free(struct config *cfg);

/* Free what the two loaders above put in cfg. */
void config_maps_free(struct config *cfg);

/* Syntax of an address "local@domain" as listed in a file (dot-string
 * local part, RFC 5321 4.1.2; domain as config_domain_problem()). Drops
 * one trailing dot of the domain in place. Returns NULL or why not. */
const char *config_address_problem(char *addr);

/* Syntax of a domain name as configured (letters, digits, hyphens, dots;
 * labels of 1..63 octets; at most 253 octets; no trailing dot). Returns
 * NULL if valid, else why not. RFC 1035 2.3.1, RFC 5321 4.5.3.1.2. */
const char *config_domain_problem(const char *domain);

/* Prepare one line of a config or list file, in place: drop a UTF-8 byte
 * order mark (first line only), surrounding white space, and a comment: a
 * '#' or ';' at the start or after white space runs to the end of the line.
 * Returns the start of what is left ("" for a blank or comment line). */
char *config_line_strip(char *s, bool first_line);

/* qsort()/bsearch() comparison of two char * by strcmp(). */
int config_strcmp_cb(const void *a, const void *b);

/* Lower-case s in place (ASCII only) and return it. */
char *config_lower(char *s);

#endif
