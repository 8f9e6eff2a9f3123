/*
 * config_schema.c -- the one table of configuration keys (name, section,
 * type, default, bounds, one-line reason) and the setters that parse each
 * type of value. docs/config.md and etc/tlsmta.conf.example follow this
 * table; change them together.
 *
 * Trust boundary: values come from the administrator's config file. Every
 * setter validates fully and reports "FILE:LINE: key: problem".
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers shared by the setters ---- */

char *
config_lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* Replace the string owned at field by a copy of value. */
static int
config_store_string(void *field, const char *value)
{
    char **slot = field;
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static int
config_store(struct config_load *ld, const struct config_key *key, void *field,
             const char *value)
{
    if (config_store_string(field, value) == 0)
        return 0;
    config_error(ld, "%s: out of memory", key->name);
    return -1;
}

static bool
config_has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return true;
    return false;
}

const char *
config_domain_problem(const char *domain)
{
    size_t len = strlen(domain), label = 0;
    if (len == 0)
        return "empty domain";
    if (len > 253) /* RFC 1035 2.3.4: 255 octets on the wire */
        return "longer than 253 characters";
    for (const char *p = domain; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (label == 0 || p[-1] == '-')
                return "empty label or label ending in '-'";
            label = 0;
        } else if (isalnum(c) || c == '-') {
            if (c == '-' && label == 0)
                return "label starting with '-'";
            if (++label > 63) /* RFC 1035 2.3.4 */
                return "label longer than 63 characters";
        } else {
            return "only letters, digits, '-' and '.' are allowed";
        }
    }
    if (label == 0 || domain[len - 1] == '-')
        return "empty label or label ending in '-'";
    return NULL;
}

/* ---- numbers with units ---- */

struct config_unit {
    char suffix; /* lower-case; '\0' ends the list */
    uint64_t factor;
};

static const struct config_unit config_units_seconds[] = {
    {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'\0', 0},
};

static const struct config_unit config_units_bytes[] = {
    {'k', 1024},
    {'m', 1024 * 1024},
    {'g', 1024 * 1024 * 1024},
    {'\0', 0},
};

/* Parse decimal digits and an optional one-letter unit (any case).
 * Returns 0 with the value in base units, or -1 if malformed or too big. */
static int
config_parse_number(const char *s, const struct config_unit *units,
                    uint64_t *out)
{
    uint64_t n = 0, factor = 1;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return -1;
    if (*p != '\0' && units != NULL) {
        const struct config_unit *u = units;
        while (u->suffix && u->suffix != tolower((unsigned char)*p))
            u++;
        if (u->suffix == '\0' || p[1] != '\0')
            return -1;
        factor = u->factor;
        p++;
    }
    if (*p != '\0' || n > UINT64_MAX / factor)
        return -1;
    *out = n * factor;
    return 0;
}

/* Parse with units, check key's bounds, report as "a <what>". */
static int
config_number(struct config_load *ld, const struct config_key *key,
              const char *value, const struct config_unit *units,
              const char *what, uint64_t *out)
{
    if (config_parse_number(value, units, out) < 0) {
        config_error(ld, "%s: \"%s\" is not %s", key->name, value, what);
        return -1;
    }
    if (*out < key->min || *out > key->max) {
        config_error(ld, "%s: %llu is out of range (%llu..%llu)", key->name,
                     (unsigned long long)*out, (unsigned long long)key->min,
                     (unsigned long long)key->max);
        return -1;
    }
    return 0;
}

static int
config_set_seconds(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    uint64_t n;
    if (config_number(ld, key, value, config_units_seconds,
                      "a number of seconds (like 300, 5m, 1h)", &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

static int
config_set_size(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    uint64_t n;
    if (config_number(ld, key, value, config_units_bytes,
                      "a size in bytes (like 10240000, 10M, 1G)", &n) < 0)
        return -1;
    *(uint64_t *)field = n;
    return 0;
}

static int
config_set_unsigned(struct config_load *ld, const struct config_key *key,
                    const char *value, void *field)
{
    uint64_t n;
    if (config_number(ld, key, value, NULL, "a whole number", &n) < 0)
        return -1;
    *(unsigned *)field = (unsigned)n;
    return 0;
}

/* ---- words ---- */

static int
config_set_enum(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    const struct config_choice *c = key->choices;
    while (c->word && strcasecmp(c->word, value) != 0)
        c++;
    if (c->word != NULL && c->refused == NULL) {
        *(int *)field = c->value;
        return 0;
    }
    if (c->word != NULL) {
        config_error(ld, "%s: %s cannot be configured: %s", key->name, c->word,
                     c->refused);
        return -1;
    }
    char list[256] = "";
    for (c = key->choices; c->word; c++) {
        if (c->refused != NULL)
            continue;
        if (list[0] != '\0')
            strncat(list, " | ", sizeof(list) - strlen(list) - 1);
        strncat(list, c->word, sizeof(list) - strlen(list) - 1);
    }
    config_error(ld, "%s: \"%s\" is not one of: %s", key->name, value, list);
    return -1;
}

/* One word, no spaces: cipher lists and the like, checked by their user. */
static int
config_set_word(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    if (*value == '\0' || config_has_space(value)) {
        config_error(ld, "%s: expected one word without spaces", key->name);
        return -1;
    }
    return config_store(ld, key, field, value);
}

static int
config_set_hostname(struct config_load *ld, const struct config_key *key,
                    const char *value, void *field)
{
    const char *why = config_domain_problem(value);
    if (why != NULL) {
        config_error(ld, "%s: \"%s\" is not a host name: %s", key->name, value,
                     why);
        return -1;
    }
    return config_store(ld, key, field, value);
}

static int
config_domains_add(struct config *cfg, const char *domain)
{
    if (config_is_local_domain(cfg, domain))
        return 0;
    char **v =
        realloc(cfg->local_domains, (cfg->n_local_domains + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    cfg->local_domains = v;
    if ((v[cfg->n_local_domains] = strdup(domain)) == NULL)
        return -1;
    cfg->n_local_domains++;
    return 0;
}

/* Domains separated by spaces or commas; lower-cased, trailing dot
 * dropped, duplicates dropped. An empty value means no local domain. */
static int
config_set_domains(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    char *copy = strdup(value), *save = NULL;
    int rc = copy ? 0 : -1;
    (void)field;
    if (copy == NULL)
        config_error(ld, "%s: out of memory", key->name);
    for (char *d = copy ? strtok_r(copy, " \t,", &save) : NULL; d;
         d = strtok_r(NULL, " \t,", &save)) {
        size_t len = strlen(d);
        if (len > 1 && d[len - 1] == '.')
            d[len - 1] = '\0';
        const char *why = config_domain_problem(config_lower(d));
        if (why != NULL) {
            config_error(ld, "%s: \"%s\": %s", key->name, d, why);
            rc = -1;
        } else if (config_domains_add(ld->cfg, d) < 0) {
            config_error(ld, "%s: out of memory", key->name);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

/* ---- paths ---- */

static int
config_set_abspath(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    if (value[0] != '/') {
        config_error(ld, "%s: \"%s\" is not an absolute path", key->name,
                     value);
        return -1;
    }
    return config_store(ld, key, field, value);
}

/* An absolute path where %d is the domain, %u the local part (required:
 * without it every user would share one Maildir) and %% a percent sign. */
static int
config_set_maildir(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    bool has_user = false;
    for (const char *p = strchr(value, '%'); p; p = strchr(p + 2, '%')) {
        if (p[1] != 'd' && p[1] != 'u' && p[1] != '%') {
            config_error(ld,
                         "%s: unknown escape \"%%%.1s\" (only %%d, %%u "
                         "and %%%%)",
                         key->name, p + 1);
            return -1;
        }
        has_user |= p[1] == 'u';
    }
    if (!has_user) {
        config_error(ld, "%s: \"%s\" must contain %%u (the local part)",
                     key->name, value);
        return -1;
    }
    return config_set_abspath(ld, key, value, field);
}

/* A relative file name is taken from the config file's directory (the
 * daemon runs from / and its queue manager child reloads the file, so the
 * current directory means nothing). Writes the absolute form to abs. */
static const char *
config_abs_path(const struct config_load *ld, const char *path, char *abs,
                size_t abs_size)
{
    const char *slash = strrchr(ld->path, '/');
    if (path[0] == '/' || slash == NULL)
        return path;
    int n = snprintf(abs, abs_size, "%.*s/%s", (int)(slash - ld->path),
                     ld->path, path);
    return n > 0 && (size_t)n < abs_size ? abs : path;
}

/* A regular file this process can read now. */
static int
config_check_file(struct config_load *ld, const struct config_key *key,
                  const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        config_error(ld, "%s: %s: cannot open: %s", key->name, path,
                     strerror(errno));
        return -1;
    }
    int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
    close(fd);
    if (rc < 0)
        config_error(ld, "%s: %s: not a regular file", key->name, path);
    return rc;
}

static int
config_set_recipients(struct config_load *ld, const struct config_key *key,
                      const char *value, void *field)
{
    char abs[PATH_MAX];
    value = config_abs_path(ld, value, abs, sizeof(abs));
    if (config_check_file(ld, key, value) < 0 ||
        config_store(ld, key, field, value) < 0)
        return -1;
    return config_recipients_load(ld, value);
}

/* ---- [tls] cert and key: each cert is followed by its key ---- */

static int
config_set_cert(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    struct config *cfg = ld->cfg;
    (void)field;
    if (ld->cert_line != 0) {
        config_error(ld,
                     "cert: the cert at line %d has no key (each cert "
                     "must be followed by its key)",
                     ld->cert_line);
        if (cfg->n_tls_pairs < CONFIG_TLS_PAIRS_MAX) {
            free(cfg->tls_pairs[cfg->n_tls_pairs].cert);
            cfg->tls_pairs[cfg->n_tls_pairs].cert = NULL;
        }
    }
    ld->cert_line = ld->line;
    if (cfg->n_tls_pairs < CONFIG_TLS_PAIRS_MAX)
        cfg->tls_pairs[cfg->n_tls_pairs].cert_line = ld->line;
    if (cfg->n_tls_pairs == CONFIG_TLS_PAIRS_MAX) {
        config_error(ld, "cert: more than %d cert/key pairs",
                     CONFIG_TLS_PAIRS_MAX);
        return -1;
    }
    char abs[PATH_MAX];
    value = config_abs_path(ld, value, abs, sizeof(abs));
    int rc = config_check_file(ld, key, value);
    if (config_store(ld, key, &cfg->tls_pairs[cfg->n_tls_pairs].cert, value) <
        0)
        return -1;
    return rc;
}

static int
config_set_key(struct config_load *ld, const struct config_key *key,
               const char *value, void *field)
{
    struct config *cfg = ld->cfg;
    (void)field;
    if (ld->cert_line == 0) {
        config_error(ld, "key: no cert before it (each cert must be "
                         "followed by its key)");
        return -1;
    }
    ld->cert_line = 0;
    if (cfg->n_tls_pairs == CONFIG_TLS_PAIRS_MAX)
        return -1; /* the cert was already reported */
    char abs[PATH_MAX];
    value = config_abs_path(ld, value, abs, sizeof(abs));
    cfg->tls_pairs[cfg->n_tls_pairs].key_line = ld->line;
    int rc = config_check_file(ld, key, value);
    if (config_store(ld, key, &cfg->tls_pairs[cfg->n_tls_pairs].key, value) < 0)
        return -1;
    cfg->n_tls_pairs++;
    return rc;
}

/* ---- [listen] address ---- */

/* Split "host:port" or "[v6]:port" and write the canonical form
 * ("127.0.0.1:25", "[::1]:25") to out. Returns NULL or why not. */
static const char *
config_address_parse(const char *value, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN + 2];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *colon = strrchr(value, ':');
    bool v6 = value[0] == '[';
    if (colon == NULL)
        return "expected host:port";
    size_t hlen = (size_t)(colon - value);
    if (v6 && (hlen < 2 || value[hlen - 1] != ']'))
        return "expected [IPv6]:port";
    if (hlen - 2 * v6 >= sizeof(host))
        return "host is not an IP address";
    memcpy(host, value + v6, hlen - 2 * v6);
    host[hlen - 2 * v6] = '\0';
    if (!v6 && strchr(host, ':') != NULL)
        return "an IPv6 address must be in brackets, as in [::1]:25";
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1)
        return v6 ? "host is not an IPv6 address"
                  : "host is not an IPv4 address (names are not resolved)";
    uint64_t port;
    if (config_parse_number(colon + 1, NULL, &port) < 0 || port < 1 ||
        port > 65535)
        return "port must be a number from 1 to 65535";
    inet_ntop(v6 ? AF_INET6 : AF_INET, bin, host, sizeof(host));
    snprintf(out, outlen, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    return NULL;
}

static int
config_set_address(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    char canon[INET6_ADDRSTRLEN + 16];
    const char *why = config_address_parse(value, canon, sizeof(canon));
    if (why != NULL) {
        config_error(ld, "%s: \"%s\": %s", key->name, value, why);
        return -1;
    }
    for (struct config_listen *l = ld->cfg->listens; l; l = l->next) {
        if (l != ld->listen && l->address && strcmp(l->address, canon) == 0) {
            config_error(ld,
                         "%s: %s is already used by [listen %s] at line "
                         "%d",
                         key->name, canon, l->name, l->line);
            return -1;
        }
    }
    return config_store(ld, key, field, canon);
}

/* ---- the schema ---- */

static const struct config_type
    config_type_hostname = {"host name", config_set_hostname},
    config_type_abspath = {"path", config_set_abspath},
    config_type_domains = {"domain list", config_set_domains},
    config_type_maildir = {"path template", config_set_maildir},
    config_type_recipients = {"file", config_set_recipients},
    config_type_size = {"size", config_set_size},
    config_type_seconds = {"seconds", config_set_seconds},
    config_type_unsigned = {"number", config_set_unsigned},
    config_type_enum = {"enum", config_set_enum},
    config_type_word = {"string", config_set_word},
    config_type_cert = {"file", config_set_cert},
    config_type_key = {"file", config_set_key},
    config_type_address = {"address", config_set_address};

static const struct config_choice config_bare_newline_choices[] = {
    {"normalize", CONFIG_BARE_NEWLINE_NORMALIZE, NULL},
    {"reject", CONFIG_BARE_NEWLINE_REJECT, NULL},
    {NULL, 0, NULL},
};

static const struct config_choice config_tls_version_choices[] = {
    {"TLSv1.2", 0x0303, NULL},
    {"TLSv1.3", 0x0304, NULL},
    {"SSLv2", 0, "SSL 2.0 is broken (RFC 6176); use TLSv1.2 or TLSv1.3"},
    {"SSLv3", 0, "SSL 3.0 is broken (RFC 7568); use TLSv1.2 or TLSv1.3"},
    {"TLSv1", 0, "TLS 1.0 is deprecated (RFC 8996); use TLSv1.2 or TLSv1.3"},
    {"TLSv1.0", 0, "TLS 1.0 is deprecated (RFC 8996); use TLSv1.2 or TLSv1.3"},
    {"TLSv1.1", 0, "TLS 1.1 is deprecated (RFC 8996); use TLSv1.2 or TLSv1.3"},
    {NULL, 0, NULL},
};

static const struct config_choice config_listen_tls_choices[] = {
    {"none", CONFIG_TLS_NONE, NULL},
    {"starttls", CONFIG_TLS_STARTTLS, NULL},
    {"starttls-required", CONFIG_TLS_STARTTLS_REQUIRED, NULL},
    {"implicit", CONFIG_TLS_IMPLICIT, NULL},
    {NULL, 0, NULL},
};

#define TOP(m) CONFIG_SECTION_TOP, #m, .offset = offsetof(struct config, m)
#define TLS(n, m) CONFIG_SECTION_TLS, n, .offset = offsetof(struct config, m)
#define LISTEN(m)                                                              \
    CONFIG_SECTION_LISTEN, #m, .offset = offsetof(struct config_listen, m)

const struct config_key config_keys[] = {
    {TOP(hostname), .type = &config_type_hostname,
     .reason = "name in the greeting, EHLO reply and Received: headers; "
               "default gethostname()"},
    {TOP(spool), .type = &config_type_abspath, .def = "/var/spool/tlsmta",
     .reason = "where accepted mail waits, fsynced, until delivered"},
    {TOP(local_domains), .type = &config_type_domains,
     .reason = "domains delivered here; default the hostname (like "
               "Postfix's mydestination); the rest is relay, refused"},
    {TOP(maildir), .type = &config_type_maildir, .def = "/var/mail/%d/%u",
     .reason = "Maildir of each local recipient: %d domain, %u local part"},
    {TOP(local_recipients), .type = &config_type_recipients,
     .reason = "file of valid local addresses, one per line; unset: any "
               "local part is accepted"},
    {TOP(message_size_limit), .type = &config_type_size, .def = "10240000",
     .max = (uint64_t)64 << 30,
     .reason = "largest message accepted, advertised in SIZE (RFC 1870); "
               "0 = no limit; Postfix's default"},
    {TOP(smtpd_timeout), .type = &config_type_seconds, .def = "300", .min = 1,
     .max = 86400,
     .reason = "idle time allowed for a command or a DATA block "
               "(RFC 5321 4.5.3.2.7 asks at least 5 minutes)"},
    {TOP(smtpd_tls_timeout), .type = &config_type_seconds, .def = "60",
     .min = 1, .max = 3600,
     .reason = "time allowed for a TLS handshake, so half-open handshakes "
               "cannot pile up"},
    {TOP(smtpd_recipient_limit), .type = &config_type_unsigned, .def = "1000",
     .min = 1, .max = 1000000,
     .reason = "recipients per message (RFC 5321 4.5.3.1.8 asks that at "
               "least 100 be accepted); more get 452 4.5.3"},
    {TOP(smtpd_hard_error_limit), .type = &config_type_unsigned, .def = "20",
     .min = 1, .max = 1000,
     .reason = "errors in one session before it is closed with 421"},
    {TOP(smtpd_client_connection_limit), .type = &config_type_unsigned,
     .def = "4000", .min = 1, .max = 1000000,
     .reason = "concurrent SMTP sessions; past it new clients get 421"},
    {TOP(smtpd_bare_newline), .type = &config_type_enum, .def = "normalize",
     .choices = config_bare_newline_choices,
     .reason = "bare CR or LF in DATA (SMTP smuggling): normalize stores "
               "CRLF and never ends DATA; reject answers 550 5.5.2"},
    {TOP(queue_retry_interval), .type = &config_type_seconds, .def = "300",
     .min = 1, .max = 86400,
     .reason = "wait between delivery attempts of a deferred message"},

    {TLS("cert", tls_pairs), .type = &config_type_cert,
     .flags = CONFIG_KEY_REPEAT,
     .reason = "PEM certificate chain, leaf first; repeat cert+key for "
               "RSA and ECDSA"},
    {TLS("key", tls_pairs), .type = &config_type_key,
     .flags = CONFIG_KEY_REPEAT,
     .reason = "PEM private key of the cert just above"},
    {TLS("min_version", tls_min_version), .type = &config_type_enum,
     .def = "TLSv1.2", .choices = config_tls_version_choices,
     .reason = "oldest TLS version accepted; SSL and TLS 1.0/1.1 cannot "
               "be enabled (RFC 8996)"},
    {TLS("ciphers", tls_ciphers), .type = &config_type_word,
     .def = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
     .reason = "TLS 1.2 cipher list (OpenSSL syntax): forward-secret AEAD "
               "only"},
    {TLS("ciphersuites", tls_ciphersuites), .type = &config_type_word,
     .def = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
            "TLS_AES_128_GCM_SHA256",
     .reason = "TLS 1.3 suites (OpenSSL syntax); OpenSSL's default, all "
               "forward-secret AEAD"},

    {LISTEN(address), .type = &config_type_address,
     .flags = CONFIG_KEY_REQUIRED,
     .reason = "IP literal and port to bind: 0.0.0.0:25, [::]:587; "
               "names are not resolved"},
    {LISTEN(tls), .type = &config_type_enum, .def = "starttls",
     .choices = config_listen_tls_choices,
     .reason = "none | starttls (MX, RFC 3207) | starttls-required "
               "(submission) | implicit (RFC 8314)"},
};

const size_t config_keys_n = sizeof(config_keys) / sizeof(config_keys[0]);
