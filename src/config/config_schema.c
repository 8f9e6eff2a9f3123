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
config_set_bool(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    static const struct {
        const char *word;
        bool value;
    } words[] = {
        {"yes", true}, {"no", false},  {"true", true},
        {"false", false}, {"on", true}, {"off", false},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(words[i].word, value) == 0) {
            *(bool *)field = words[i].value;
            return 0;
        }
    }
    config_error(ld, "%s: \"%s\" is not yes or no", key->name, value);
    return -1;
}

/* The SASL application name: SASL reads NAME.conf from its config
 * directory, so it must be a plain file name. */
static int
config_set_service(struct config_load *ld, const struct config_key *key,
                   const char *value, void *field)
{
    size_t len = strlen(value);
    bool ok = len > 0 && len <= 64 && value[0] != '.';
    for (const char *p = value; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr("-_.", *p) != NULL;
    if (!ok) {
        config_error(ld,
                     "%s: \"%s\": 1 to 64 letters, digits, '-', '_' or "
                     "'.', not starting with '.' (SASL reads NAME.conf)",
                     key->name, value);
        return -1;
    }
    return config_store(ld, key, field, value);
}

/* RFC 4422 3.1: a mechanism name is 1 to 20 of A-Z 0-9 - _. */
static const char *
config_mech_problem(const char *mech)
{
    size_t len = strlen(mech);
    if (len > 20)
        return "longer than 20 characters (RFC 4422 3.1)";
    for (const char *p = mech; *p; p++)
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) &&
            *p != '-' && *p != '_')
            return "only letters, digits, '-' and '_' (RFC 4422 3.1)";
    if (strcmp(mech, "ANONYMOUS") == 0)
        return "ANONYMOUS would let anyone relay";
    return NULL;
}

static int
config_mechs_add(struct config *cfg, const char *mech)
{
    for (size_t i = 0; i < cfg->n_auth_mechanisms; i++)
        if (strcmp(cfg->auth_mechanisms[i], mech) == 0)
            return 0;
    char **v = realloc(cfg->auth_mechanisms,
                       (cfg->n_auth_mechanisms + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    cfg->auth_mechanisms = v;
    if ((v[cfg->n_auth_mechanisms] = strdup(mech)) == NULL)
        return -1;
    cfg->n_auth_mechanisms++;
    return 0;
}

/* Mechanism names separated by spaces or commas, upper-cased, duplicates
 * dropped, in the order given. Replaces the default list. */
static int
config_set_mechanisms(struct config_load *ld, const struct config_key *key,
                      const char *value, void *field)
{
    struct config *cfg = ld->cfg;
    char *copy = strdup(value), *save = NULL;
    int rc = copy ? 0 : -1;
    (void)field;
    for (size_t i = 0; i < cfg->n_auth_mechanisms; i++)
        free(cfg->auth_mechanisms[i]);
    cfg->n_auth_mechanisms = 0;
    for (char *m = copy ? strtok_r(copy, " \t,", &save) : NULL; m;
         m = strtok_r(NULL, " \t,", &save)) {
        for (char *p = m; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        const char *why = config_mech_problem(m);
        if (why == NULL && config_mechs_add(cfg, m) < 0)
            why = "out of memory";
        if (why != NULL) {
            config_error(ld, "%s: \"%s\": %s", key->name, m, why);
            rc = -1;
        }
    }
    if (copy == NULL)
        config_error(ld, "%s: out of memory", key->name);
    else if (rc == 0 && cfg->n_auth_mechanisms == 0)
        config_error(ld,
                     "%s: empty (to offer no AUTH, set auth = off on the "
                     "listeners)",
                     key->name);
    free(copy);
    return cfg->n_auth_mechanisms == 0 ? -1 : rc;
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

/* A file that must be readable now, stored by absolute path (relative
 * names are taken from the config file's directory). */
static int
config_set_file(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    char abs[PATH_MAX];
    value = config_abs_path(ld, value, abs, sizeof(abs));
    if (config_check_file(ld, key, value) < 0)
        return -1;
    return config_store(ld, key, field, value);
}

/* config_set_file(), then read the list it names with load(). */
static int
config_set_list(struct config_load *ld, const struct config_key *key,
                const char *value, void *field,
                int (*load)(struct config_load *ld, const char *path))
{
    if (config_set_file(ld, key, value, field) < 0)
        return -1;
    return load(ld, *(char **)field);
}

static int
config_set_recipients(struct config_load *ld, const struct config_key *key,
                      const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_recipients_load);
}

static int
config_set_sender_maps(struct config_load *ld, const struct config_key *key,
                       const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_sender_logins_load);
}

static int
config_set_relay_certs(struct config_load *ld, const struct config_key *key,
                       const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_relay_certs_load);
}

static int
config_set_transport(struct config_load *ld, const struct config_key *key,
                     const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_transport_load);
}

static int
config_set_tls_policy(struct config_load *ld, const struct config_key *key,
                      const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_tls_policy_load);
}

static int
config_set_sasl_passwords(struct config_load *ld, const struct config_key *key,
                          const char *value, void *field)
{
    return config_set_list(ld, key, value, field, config_sasl_passwords_load);
}

/* A path that need not exist yet (the sasldb, created by "tlsmta user
 * add"); relative to the config file's directory. */
static int
config_set_path(struct config_load *ld, const struct config_key *key,
                const char *value, void *field)
{
    char abs[PATH_MAX];
    if (*value == '\0') {
        config_error(ld, "%s: empty path", key->name);
        return -1;
    }
    return config_store(ld, key, field,
                        config_abs_path(ld, value, abs, sizeof(abs)));
}

/* A directory that exists now; relative to the config file's directory. */
static int
config_set_dir(struct config_load *ld, const struct config_key *key,
               const char *value, void *field)
{
    char abs[PATH_MAX];
    struct stat st;
    value = config_abs_path(ld, value, abs, sizeof(abs));
    if (stat(value, &st) < 0) {
        config_error(ld, "%s: %s: %s", key->name, value, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        config_error(ld, "%s: %s: not a directory", key->name, value);
        return -1;
    }
    return config_store(ld, key, field, value);
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
    config_type_address = {"address", config_set_address},
    config_type_file = {"file", config_set_file},
    config_type_path = {"path", config_set_path},
    config_type_dir = {"directory", config_set_dir},
    config_type_bool = {"yes | no", config_set_bool},
    config_type_service = {"name", config_set_service},
    config_type_mechanisms = {"mechanism list", config_set_mechanisms},
    config_type_sender_maps = {"file", config_set_sender_maps},
    config_type_relay_certs = {"file", config_set_relay_certs},
    config_type_mynetworks = {"network list", config_set_mynetworks},
    config_type_resolver = {"resolver list", config_set_resolver},
    config_type_relayhost = {"next hop", config_set_relayhost},
    config_type_tls_level = {"security level", config_set_tls_level},
    config_type_transport = {"file", config_set_transport},
    config_type_tls_policy = {"file", config_set_tls_policy},
    config_type_sasl_passwords = {"file", config_set_sasl_passwords};

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

static const struct config_choice config_listen_auth_choices[] = {
    {"off", CONFIG_AUTH_OFF, NULL},
    {"optional", CONFIG_AUTH_OPTIONAL, NULL},
    {"required", CONFIG_AUTH_REQUIRED, NULL},
    {NULL, 0, NULL},
};

static const struct config_choice config_client_certs_choices[] = {
    {"none", CONFIG_CLIENT_CERTS_NONE, NULL},
    {"request", CONFIG_CLIENT_CERTS_REQUEST, NULL},
    {"require", CONFIG_CLIENT_CERTS_REQUIRE, NULL},
    {NULL, 0, NULL},
};

#define TOP(m) CONFIG_SECTION_TOP, #m, .offset = offsetof(struct config, m)
#define TLS(n, m) CONFIG_SECTION_TLS, n, .offset = offsetof(struct config, m)
#define AUTH(n, m) CONFIG_SECTION_AUTH, n, .offset = offsetof(struct config, m)
#define QUEUE(m) CONFIG_SECTION_QUEUE, #m, .offset = offsetof(struct config, m)
#define OUT(n, m)                                                              \
    CONFIG_SECTION_OUTBOUND, n, .offset = offsetof(struct config, m)
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
    {TOP(hopcount_limit), .type = &config_type_unsigned, .def = "100",
     .min = 10, .max = 1000,
     .reason = "Received: fields that mark a message as looping, refused "
               "with 554 5.4.6 (RFC 5321 6.3 asks at least 100)"},
    {CONFIG_SECTION_TOP, "queue_retry_interval",
     .offset = offsetof(struct config, minimal_backoff_time),
     .type = &config_type_seconds, .min = 1, .max = 86400,
     .reason = "old name of [queue] minimal_backoff_time"},
    {TOP(mynetworks), .type = &config_type_mynetworks,
     .reason = "client networks allowed to relay without AUTH, as "
               "127.0.0.0/8 [::1]/128; default none"},
    {TOP(relay_client_certs), .type = &config_type_relay_certs,
     .reason = "client certificates granted relay: \"sha256:HEX\" or "
               "\"issuer=DN subject=DN\" lines (RFC 2253 DNs)"},

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
    {TLS("ca_file", tls_ca_file), .type = &config_type_file,
     .reason = "PEM CAs that client certificates must chain to; needed by "
               "client_certificates = request | require"},

    {AUTH("sasl_service", sasl_service), .type = &config_type_service,
     .def = "tlsmta",
     .reason = "SASL application name: SASL reads NAME.conf from its "
               "config directory"},
    {AUTH("sasl_config_dir", sasl_config_dir), .type = &config_type_dir,
     .reason = "where SASL looks for NAME.conf; unset: SASL's own "
               "(/etc/sasl2 on Debian)"},
    {AUTH("mechanisms", auth_mechanisms), .type = &config_type_mechanisms,
     .def = "PLAIN LOGIN",
     .reason = "mechanisms offered after TLS, those SASL has; EXTERNAL is "
               "added when a client certificate grants it"},
    {AUTH("sasldb_path", sasldb_path), .type = &config_type_path,
     .def = "/etc/tlsmta/sasldb2",
     .reason = "the sasldb that \"tlsmta user add\" writes and SASL's "
               "sasldb backend reads, unless NAME.conf says otherwise"},
    {AUTH("sender_login_maps", sender_login_maps),
     .type = &config_type_sender_maps,
     .reason = "\"sender login[,login...]\" lines: envelope senders each "
               "login may use (553 5.7.1 otherwise); unset: any"},
    {AUTH("received_auth_user", received_auth_user), .type = &config_type_bool,
     .def = "no",
     .reason = "name the login in the Received: header (off: it would "
               "tell every recipient the user's login)"},
    {AUTH("auth_failure_limit", auth_failure_limit),
     .type = &config_type_unsigned, .def = "5", .min = 1, .max = 1000,
     .reason = "failed AUTHs from one client address within "
               "auth_failure_window before 421 4.7.0 and disconnect"},
    {AUTH("auth_failure_delay", auth_failure_delay),
     .type = &config_type_seconds, .def = "1", .min = 0, .max = 60,
     .reason = "seconds added per recent failure before the 535 goes out "
               "(slows password guessing)"},
    {AUTH("auth_failure_window", auth_failure_window),
     .type = &config_type_seconds, .def = "600", .min = 1, .max = 86400,
     .reason = "how long a failed AUTH counts against its client address"},

    {QUEUE(minimal_backoff_time), .type = &config_type_seconds, .def = "300",
     .min = 1, .max = 86400,
     .reason = "wait before the first retry of a deferred message; each "
               "wait is the message's age, between this and the cap"},
    {QUEUE(maximal_backoff_time), .type = &config_type_seconds, .def = "1h",
     .min = 1, .max = 86400,
     .reason = "longest wait between two delivery attempts"},
    {QUEUE(maximal_queue_lifetime), .type = &config_type_seconds,
     .def = "5d", .min = 1, .max = 100 * 86400,
     .reason = "a message still deferred after this long is returned to "
               "its sender (RFC 3464 bounce)"},

    {OUT("tls_security_level", outbound_tls_security_level),
     .type = &config_type_tls_level, .def = "may",
     .reason = "TLS to next hops: none | may (opportunistic) | encrypt | "
               "verify | secure; per destination in tls_policy"},
    {OUT("tls_policy", outbound_tls_policy), .type = &config_type_tls_policy,
     .reason = "table of \"destination level [match=name:name]\" lines; "
               "destination is a domain, .domain or [host]:port"},
    {OUT("transport", outbound_transport), .type = &config_type_transport,
     .reason = "table of \"domain smtp:nexthop\" lines overriding MX "
               "routing (.domain for subdomains, * for all)"},
    {OUT("relayhost", relayhost_text), .type = &config_type_relayhost,
     .reason = "smarthost for all non-local mail: [host]:587 (STARTTLS) "
               "or [host]:465 (implicit TLS); host without [] = MX lookup"},
    {OUT("sasl_password_maps", sasl_password_maps),
     .type = &config_type_sasl_passwords,
     .reason = "\"[host]:port user:password\" lines for AUTH at next "
               "hops; must be mode 600; sent only over TLS"},
    {OUT("tls_ca_file", outbound_tls_ca_file), .type = &config_type_file,
     .reason = "PEM CAs for verify and secure; unset: the system store"},
    {OUT("dns_resolver", dns_resolver), .type = &config_type_resolver,
     .reason = "DNS servers to ask, as 127.0.0.1@5353; unset: the "
               "nameservers of /etc/resolv.conf"},
    {OUT("helo_name", outbound_helo_name), .type = &config_type_hostname,
     .reason = "name sent in EHLO; default hostname"},
    {OUT("connect_timeout", smtp_connect_timeout),
     .type = &config_type_seconds, .def = "30", .min = 1, .max = 600,
     .reason = "time allowed to connect to one address of a next hop"},
    {OUT("timeout", smtp_timeout), .type = &config_type_seconds,
     .def = "300", .min = 1, .max = 3600,
     .reason = "time allowed for each reply (RFC 5321 4.5.3.2 asks 2 to "
               "10 minutes)"},
    {OUT("destination_concurrency_limit", destination_concurrency_limit),
     .type = &config_type_unsigned, .def = "20", .min = 1, .max = 1000,
     .reason = "parallel connections to one next hop"},
    {OUT("concurrency_limit", outbound_concurrency_limit),
     .type = &config_type_unsigned, .def = "100", .min = 1, .max = 10000,
     .reason = "parallel outbound connections in all"},

    {LISTEN(address), .type = &config_type_address,
     .flags = CONFIG_KEY_REQUIRED,
     .reason = "IP literal and port to bind: 0.0.0.0:25, [::]:587; "
               "names are not resolved"},
    {LISTEN(tls), .type = &config_type_enum, .def = "starttls",
     .choices = config_listen_tls_choices,
     .reason = "none | starttls (MX, RFC 3207) | starttls-required "
               "(submission) | implicit (RFC 8314)"},
    {LISTEN(auth), .type = &config_type_enum, .def = "off",
     .choices = config_listen_auth_choices,
     .reason = "RFC 4954 AUTH: off | optional | required (MAIL before "
               "AUTH gets 530 5.7.0); never without TLS"},
    {LISTEN(client_certificates), .type = &config_type_enum, .def = "none",
     .choices = config_client_certs_choices,
     .reason = "TLS client certificates: none | request | require (the "
               "handshake fails without one that verifies)"},
};

const size_t config_keys_n = sizeof(config_keys) / sizeof(config_keys[0]);
