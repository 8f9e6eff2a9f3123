/*
 * config_outbound.c -- the settings of outbound delivery (issue 4): next
 * hops in Postfix syntax ("host", "[host]:port"), the transport,
 * tls_policy and sasl_password_maps tables, mynetworks (CIDR) and the
 * dns_resolver list, with their lookups.
 *
 * Tables are text files of "key value" lines, read at load time so that
 * "tlsmta config check" reports every bad line as "FILE:LINE: message".
 *
 * Trust boundary: files named by the administrator. sasl_password_maps
 * holds passwords: it must not be readable by group or others.
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define CONFIG_SMTP_PORT 25
#define CONFIG_SMTPS_PORT 465 /* RFC 8314 3.3: implicit TLS submission */
#define CONFIG_NEXTHOP_KEY_MAX 300

/* ---- next hops ---- */

static const char *
config_host_problem(const char *host, bool bracketed)
{
    unsigned char bin[sizeof(struct in6_addr)];
    if (bracketed && (inet_pton(AF_INET, host, bin) == 1 ||
                      inet_pton(AF_INET6, host, bin) == 1))
        return NULL;
    if (!bracketed && inet_pton(AF_INET, host, bin) == 1)
        return "an IP address must be in brackets, as in [192.0.2.1]";
    return config_domain_problem(host);
}

/* Split "port" after a ':' into out. */
static const char *
config_port_parse(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (!isdigit((unsigned char)*s) || *end != '\0' || errno || n == 0 ||
        n > 65535)
        return "port must be 1..65535";
    *out = (unsigned)n;
    return NULL;
}

/* Parse "host", "host:port", "[host]" or "[host]:port" (an IPv6 literal
 * only in brackets, as in "[::1]:25"). implicit: "smtps:" was written.
 * Returns NULL and fills *out (free with config_nexthop_free()), or why
 * not. */
const char *
config_nexthop_parse(const char *text, bool implicit,
                     struct config_nexthop *out)
{
    char host[CONFIG_NEXTHOP_KEY_MAX];
    const char *rest, *why;
    bool bracketed = text[0] == '[';
    memset(out, 0, sizeof(*out));
    out->port = CONFIG_SMTP_PORT;
    if (bracketed) {
        const char *close = strchr(text, ']');
        if (close == NULL || (size_t)(close - text) >= sizeof(host))
            return "expected [host] or [host]:port";
        snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1),
                 text + 1);
        rest = close + 1;
    } else {
        size_t n = strcspn(text, ":");
        if (n >= sizeof(host))
            return "host name too long";
        snprintf(host, sizeof(host), "%.*s", (int)n, text);
        rest = text + n;
    }
    if (*rest == ':' && (why = config_port_parse(rest + 1, &out->port)))
        return why;
    if (*rest != '\0' && *rest != ':')
        return "unexpected text after the host";
    config_lower(host);
    if ((why = config_host_problem(host, bracketed)) != NULL)
        return why;
    out->mx = !bracketed;
    out->implicit_tls = implicit || out->port == CONFIG_SMTPS_PORT;
    char key[CONFIG_NEXTHOP_KEY_MAX + 16];
    if (bracketed)
        snprintf(key, sizeof(key), "[%s]:%u", host, out->port);
    else if (out->port != CONFIG_SMTP_PORT)
        snprintf(key, sizeof(key), "%s:%u", host, out->port);
    else
        snprintf(key, sizeof(key), "%s", host);
    out->host = strdup(host);
    out->key = strdup(key);
    if (out->host == NULL || out->key == NULL) {
        config_nexthop_free(out);
        return "out of memory";
    }
    return NULL;
}

void
config_nexthop_free(struct config_nexthop *nh)
{
    free(nh->host);
    free(nh->key);
    memset(nh, 0, sizeof(*nh));
}

/* Parse a transport value: "smtp:NEXTHOP" or "smtps:NEXTHOP". */
static const char *
config_transport_parse(const char *value, struct config_nexthop *out)
{
    static const struct {
        const char *prefix;
        bool implicit;
    } kinds[] = {{"smtp:", false}, {"smtps:", true}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncasecmp(value, kinds[i].prefix, n) == 0)
            return config_nexthop_parse(value + n, kinds[i].implicit, out);
    }
    return "expected smtp:NEXTHOP or smtps:NEXTHOP";
}

/* ---- a growable array of fixed-size records ---- */

static void *
config_grow(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = reallocarray(v, ncap, size);
    if (p != NULL)
        *cap = ncap;
    return p;
}

/* Split line into its first word (NUL-terminated in place) and the rest
 * (leading white space skipped). */
static char *
config_split(char *line)
{
    size_t n = strcspn(line, " \t");
    char *rest = line + n;
    if (*rest != '\0')
        *rest++ = '\0';
    return rest + strspn(rest, " \t");
}

/* The key column of transport and tls_policy: "*", a domain, ".domain"
 * or (tls_policy) a bracketed next hop, canonicalised into out. */
static const char *
config_dest_parse(char *dest, bool allow_nexthop, char *out, size_t outlen)
{
    struct config_nexthop nh;
    const char *why;
    config_lower(dest);
    if (allow_nexthop && strcmp(dest, "*") == 0)
        return "use tls_security_level in [outbound] for the default";
    if (strcmp(dest, "*") == 0 ||
        (dest[0] == '.' && config_domain_problem(dest + 1) == NULL) ||
        config_domain_problem(dest) == NULL) {
        snprintf(out, outlen, "%s", dest);
        return NULL;
    }
    if (!allow_nexthop)
        return "expected a domain, .domain or *";
    if (dest[0] != '[' && strchr(dest, ':') == NULL)
        return "expected a domain, .domain, [host]:port or host:port";
    if ((why = config_nexthop_parse(dest, false, &nh)) != NULL)
        return why;
    snprintf(out, outlen, "%s", nh.key);
    config_nexthop_free(&nh);
    return NULL;
}

/* ---- transport ---- */

static int
config_transport_line(struct config_load *ld, const char *path, int lineno,
                      char *line, void *ctx)
{
    struct config *cfg = ld->cfg;
    size_t *cap = ctx;
    char dest[CONFIG_NEXTHOP_KEY_MAX];
    char *value = config_split(line);
    struct config_transport t = {.line = lineno};
    const char *why = config_dest_parse(line, false, dest, sizeof(dest));
    if (why == NULL && (*value == '\0' || strpbrk(value, " \t")))
        why = "expected \"domain smtp:nexthop\"";
    if (why == NULL)
        why = config_transport_parse(value, &t.nexthop);
    for (size_t i = 0; why == NULL && i < cfg->n_transports; i++)
        if (strcmp(cfg->transports[i].domain, dest) == 0) {
            config_error_in(ld, path, lineno,
                            "duplicate \"%s\" (first at line %d)", dest,
                            cfg->transports[i].line);
            config_nexthop_free(&t.nexthop);
            return -1;
        }
    if (why == NULL && (t.domain = strdup(dest)) == NULL)
        why = "out of memory";
    struct config_transport *v = NULL;
    if (why == NULL &&
        (v = config_grow(cfg->transports, cap, cfg->n_transports,
                         sizeof(*v))) == NULL)
        why = "out of memory";
    if (why != NULL) {
        config_error_in(ld, path, lineno, "%s", why);
        free(t.domain);
        config_nexthop_free(&t.nexthop);
        return -1;
    }
    cfg->transports = v;
    v[cfg->n_transports++] = t;
    return 0;
}

int
config_transport_load(struct config_load *ld, const char *path)
{
    size_t cap = ld->cfg->n_transports;
    return config_list_read(ld, "transport", path, config_transport_line,
                            &cap);
}

/* ---- tls_policy ---- */

static const struct {
    const char *word;
    enum config_tls_level level;
} config_tls_levels[] = {
    {"none", CONFIG_TLS_LEVEL_NONE},       {"may", CONFIG_TLS_LEVEL_MAY},
    {"encrypt", CONFIG_TLS_LEVEL_ENCRYPT}, {"verify", CONFIG_TLS_LEVEL_VERIFY},
    {"secure", CONFIG_TLS_LEVEL_SECURE},
};

const char *
config_tls_level_name(enum config_tls_level level)
{
    for (size_t i = 0; i < sizeof(config_tls_levels) /
                               sizeof(config_tls_levels[0]);
         i++)
        if (config_tls_levels[i].level == level)
            return config_tls_levels[i].word;
    return "?";
}

static const char *
config_tls_level_parse(const char *word, enum config_tls_level *out)
{
    for (size_t i = 0; i < sizeof(config_tls_levels) /
                               sizeof(config_tls_levels[0]);
         i++) {
        if (strcasecmp(config_tls_levels[i].word, word) == 0) {
            *out = config_tls_levels[i].level;
            return NULL;
        }
    }
    if (strcasecmp(word, "dane") == 0 || strcasecmp(word, "dane-only") == 0)
        return "dane is not supported yet (use verify or secure)";
    return "expected none, may, encrypt, verify or secure";
}

/* "match=a:b:c": names the certificate may carry (secure level). */
static const char *
config_match_parse(char *list, struct config_tls_policy *p)
{
    char *save = NULL;
    for (char *m = strtok_r(list, ":", &save); m;
         m = strtok_r(NULL, ":", &save)) {
        config_lower(m);
        const char *name = m[0] == '.' ? m + 1 : m;
        if (strcmp(m, "nexthop") != 0 && strcmp(m, "dot-nexthop") != 0 &&
            config_domain_problem(name) != NULL)
            return "match= takes nexthop, dot-nexthop or host names "
                   "separated by ':'";
        char **v = reallocarray(p->match, p->n_match + 1, sizeof(*v));
        if (v == NULL)
            return "out of memory";
        p->match = v;
        if ((v[p->n_match] = strdup(m)) == NULL)
            return "out of memory";
        p->n_match++;
    }
    return p->n_match == 0 ? "match= is empty" : NULL;
}

static const char *
config_policy_attrs(char *rest, struct config_tls_policy *p)
{
    char *save = NULL;
    const char *why = NULL;
    for (char *a = strtok_r(rest, " \t", &save); a && why == NULL;
         a = strtok_r(NULL, " \t", &save)) {
        if (strncasecmp(a, "match=", 6) == 0 && p->n_match == 0)
            why = config_match_parse(a + 6, p);
        else
            why = "unknown attribute (only one match=name:name)";
    }
    if (why == NULL && p->n_match > 0 && p->level < CONFIG_TLS_LEVEL_VERIFY)
        why = "match= needs level verify or secure";
    return why;
}

static void
config_tls_policy_free(struct config_tls_policy *p)
{
    for (size_t i = 0; i < p->n_match; i++)
        free(p->match[i]);
    free(p->match);
    free(p->dest);
}

static int
config_tls_policy_line(struct config_load *ld, const char *path, int lineno,
                       char *line, void *ctx)
{
    struct config *cfg = ld->cfg;
    size_t *cap = ctx;
    char dest[CONFIG_NEXTHOP_KEY_MAX];
    char *value = config_split(line);
    char *attrs = config_split(value);
    struct config_tls_policy p = {.line = lineno};
    const char *why = config_dest_parse(line, true, dest, sizeof(dest));
    if (why == NULL)
        why = config_tls_level_parse(value, &p.level);
    if (why == NULL)
        why = config_policy_attrs(attrs, &p);
    for (size_t i = 0; why == NULL && i < cfg->n_tls_policies; i++)
        if (strcmp(cfg->tls_policies[i].dest, dest) == 0) {
            config_error_in(ld, path, lineno,
                            "duplicate \"%s\" (first at line %d)", dest,
                            cfg->tls_policies[i].line);
            config_tls_policy_free(&p);
            return -1;
        }
    if (why == NULL && (p.dest = strdup(dest)) == NULL)
        why = "out of memory";
    struct config_tls_policy *v = NULL;
    if (why == NULL &&
        (v = config_grow(cfg->tls_policies, cap, cfg->n_tls_policies,
                         sizeof(*v))) == NULL)
        why = "out of memory";
    if (why != NULL) {
        config_error_in(ld, path, lineno, "%s", why);
        config_tls_policy_free(&p);
        return -1;
    }
    cfg->tls_policies = v;
    v[cfg->n_tls_policies++] = p;
    return 0;
}

int
config_tls_policy_load(struct config_load *ld, const char *path)
{
    size_t cap = ld->cfg->n_tls_policies;
    return config_list_read(ld, "tls_policy", path, config_tls_policy_line,
                            &cap);
}

/* ---- sasl_password_maps ---- */

static void
config_sasl_password_free(struct config_sasl_password *p)
{
    if (p->password != NULL)
        explicit_bzero(p->password, strlen(p->password));
    free(p->password);
    free(p->user);
    free(p->dest);
}

static int
config_sasl_password_line(struct config_load *ld, const char *path,
                          int lineno, char *line, void *ctx)
{
    struct config *cfg = ld->cfg;
    size_t *cap = ctx;
    struct config_nexthop nh;
    char *value = config_split(line);
    char *colon = strchr(value, ':');
    struct config_sasl_password p = {0};
    const char *why = config_nexthop_parse(line, false, &nh);
    if (why == NULL && (colon == NULL || colon == value))
        why = "expected \"[host]:port user:password\"";
    if (why == NULL) {
        *colon = '\0';
        p.dest = nh.key;
        nh.key = NULL;
        p.user = strdup(value);
        p.password = strdup(colon + 1);
        if (p.user == NULL || p.password == NULL)
            why = "out of memory";
    }
    config_nexthop_free(&nh); /* zeroed by a failed parse: safe */
    struct config_sasl_password *v = NULL;
    if (why == NULL &&
        (v = config_grow(cfg->sasl_passwords, cap, cfg->n_sasl_passwords,
                         sizeof(*v))) == NULL)
        why = "out of memory";
    explicit_bzero(value, strlen(value));
    if (why != NULL) {
        config_error_in(ld, path, lineno, "%s", why);
        config_sasl_password_free(&p);
        return -1;
    }
    cfg->sasl_passwords = v;
    v[cfg->n_sasl_passwords++] = p;
    return 0;
}

int
config_sasl_passwords_load(struct config_load *ld, const char *path)
{
    struct stat st;
    size_t cap = ld->cfg->n_sasl_passwords;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        config_error(ld,
                     "sasl_password_maps: %s holds passwords but is "
                     "readable by others (mode %03o); chmod 600 it",
                     path, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return config_list_read(ld, "sasl_password_maps", path,
                            config_sasl_password_line, &cap);
}

/* ---- mynetworks ---- */

/* "192.0.2.0/24", "10.1.2.3", "[2001:db8::]/32" or "[::1]". */
static const char *
config_cidr_parse(char *s, struct config_cidr *out)
{
    char *slash = strchr(s, '/');
    unsigned max;
    if (slash != NULL)
        *slash = '\0';
    size_t n = strlen(s);
    bool v6 = s[0] == '[';
    if (v6 && (n < 2 || s[n - 1] != ']'))
        return "an IPv6 network is written [2001:db8::]/32";
    if (v6) {
        s[n - 1] = '\0';
        s++;
    }
    out->family = v6 ? AF_INET6 : AF_INET;
    max = v6 ? 128 : 32;
    if (inet_pton(out->family, s, out->addr) != 1)
        return v6 ? "not an IPv6 address" : "not an IPv4 address (IPv6 goes "
                                            "in brackets)";
    out->prefix = max;
    if (slash != NULL) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (!isdigit((unsigned char)slash[1]) || *end != '\0' || p > max)
            return "bad prefix length";
        out->prefix = (unsigned)p;
    }
    for (unsigned bit = out->prefix; bit < max; bit++)
        if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
            return "host bits set after the prefix (write the network "
                   "address)";
    return NULL;
}

int
config_set_mynetworks(struct config_load *ld, const struct config_key *key,
                      const char *value, void *field)
{
    struct config *cfg = ld->cfg;
    char *copy = strdup(value), *save = NULL;
    size_t cap = 0;
    int rc = 0;
    (void)field;
    free(cfg->mynetworks);
    cfg->mynetworks = NULL;
    cfg->n_mynetworks = 0;
    for (char *w = copy ? strtok_r(copy, " \t,", &save) : NULL; w;
         w = strtok_r(NULL, " \t,", &save)) {
        struct config_cidr c;
        char word[128];
        snprintf(word, sizeof(word), "%s", w);
        const char *why = config_cidr_parse(w, &c);
        struct config_cidr *v = NULL;
        if (why == NULL && (v = config_grow(cfg->mynetworks, &cap,
                                            cfg->n_mynetworks,
                                            sizeof(*v))) == NULL)
            why = "out of memory";
        if (why != NULL) {
            config_error(ld, "%s: \"%s\": %s", key->name, word, why);
            rc = -1;
            continue;
        }
        cfg->mynetworks = v;
        v[cfg->n_mynetworks++] = c;
    }
    if (copy == NULL) {
        config_error(ld, "%s: out of memory", key->name);
        rc = -1;
    }
    free(copy);
    return rc;
}

bool
config_in_mynetworks(const struct config *cfg, const struct sockaddr *sa)
{
    const unsigned char *a;
    int family = sa->sa_family;
    if (family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        a = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            a += 12;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < cfg->n_mynetworks; i++) {
        const struct config_cidr *c = &cfg->mynetworks[i];
        unsigned full = c->prefix / 8, rest = c->prefix % 8;
        if (c->family != family || memcmp(a, c->addr, full) != 0)
            continue;
        if (rest == 0 ||
            ((a[full] ^ c->addr[full]) & (unsigned char)(0xff00 >> rest)) == 0)
            return true;
    }
    return false;
}

/* ---- dns_resolver: "IP[@port]" words ---- */

int
config_set_resolver(struct config_load *ld, const struct config_key *key,
                    const char *value, void *field)
{
    char *copy = strdup(value), *save = NULL;
    int rc = copy ? 0 : -1, n = 0;
    for (char *w = copy ? strtok_r(copy, " \t,", &save) : NULL; w;
         w = strtok_r(NULL, " \t,", &save), n++) {
        unsigned char bin[sizeof(struct in6_addr)];
        unsigned port;
        char *at = strchr(w, '@');
        if (at != NULL)
            *at = '\0';
        if ((inet_pton(AF_INET, w, bin) != 1 &&
             inet_pton(AF_INET6, w, bin) != 1) ||
            (at != NULL && config_port_parse(at + 1, &port) != NULL)) {
            config_error(ld, "%s: \"%s\" is not IP or IP@port", key->name, w);
            rc = -1;
        }
    }
    if (rc == 0 && n == 0) {
        config_error(ld, "%s: empty", key->name);
        rc = -1;
    }
    free(copy);
    if (rc < 0)
        return -1;
    char **slot = field;
    free(*slot);
    if ((*slot = strdup(value)) == NULL) {
        config_error(ld, "%s: out of memory", key->name);
        return -1;
    }
    return 0;
}

/* relayhost = NEXTHOP (port 465: implicit TLS). */
int
config_set_relayhost(struct config_load *ld, const struct config_key *key,
                     const char *value, void *field)
{
    struct config *cfg = ld->cfg;
    char **slot = field;
    config_nexthop_free(&cfg->relayhost);
    /* "smtps:[host]:port" asks for implicit TLS on any port. */
    bool prefixed = strncasecmp(value, "smtp:", 5) == 0 ||
                    strncasecmp(value, "smtps:", 6) == 0;
    const char *why =
        prefixed ? config_transport_parse(value, &cfg->relayhost)
                 : config_nexthop_parse(value, false, &cfg->relayhost);
    if (why != NULL) {
        config_error(ld, "%s: \"%s\": %s", key->name, value, why);
        return -1;
    }
    free(*slot);
    if ((*slot = strdup(value)) == NULL) {
        config_error(ld, "%s: out of memory", key->name);
        return -1;
    }
    return 0;
}

int
config_set_tls_level(struct config_load *ld, const struct config_key *key,
                     const char *value, void *field)
{
    const char *why = config_tls_level_parse(value, field);
    if (why != NULL) {
        config_error(ld, "%s: \"%s\": %s", key->name, value, why);
        return -1;
    }
    return 0;
}

/* ---- lookups ---- */

/* Index of the entry named name, or -1. */
static long
config_name_find(const char *name, size_t n,
                 const char *(*name_at)(const void *v, size_t i),
                 const void *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name_at(v, i), name) == 0)
            return (long)i;
    return -1;
}

/* Index of the entry matching domain: the domain itself, else ".parent"
 * entries from the nearest parent up (Postfix's ".example.net" form),
 * else "*" (when star). -1: none. */
static long
config_domain_find(const char *domain, bool star, size_t n,
                   const char *(*name_at)(const void *v, size_t i),
                   const void *v)
{
    long i = config_name_find(domain, n, name_at, v);
    for (const char *d = strchr(domain, '.'); i < 0 && d != NULL;
         d = strchr(d + 1, '.'))
        i = config_name_find(d, n, name_at, v);
    if (i < 0 && star)
        i = config_name_find("*", n, name_at, v);
    return i;
}

static const char *
config_transport_name(const void *v, size_t i)
{
    return ((const struct config_transport *)v)[i].domain;
}

static const char *
config_policy_name(const void *v, size_t i)
{
    return ((const struct config_tls_policy *)v)[i].dest;
}

const struct config_nexthop *
config_transport_lookup(const struct config *cfg, const char *domain)
{
    long i = config_domain_find(domain, true, cfg->n_transports,
                                config_transport_name, cfg->transports);
    return i < 0 ? NULL : &cfg->transports[i].nexthop;
}

const struct config_tls_policy *
config_tls_policy_lookup(const struct config *cfg, const char *key)
{
    long i = key[0] == '['
                 ? config_name_find(key, cfg->n_tls_policies,
                                    config_policy_name, cfg->tls_policies)
                 : config_domain_find(key, false, cfg->n_tls_policies,
                                      config_policy_name, cfg->tls_policies);
    return i < 0 ? NULL : &cfg->tls_policies[i];
}

const struct config_sasl_password *
config_sasl_password_lookup(const struct config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_sasl_passwords; i++)
        if (strcmp(cfg->sasl_passwords[i].dest, key) == 0)
            return &cfg->sasl_passwords[i];
    return NULL;
}

void
config_outbound_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_transports; i++) {
        free(cfg->transports[i].domain);
        config_nexthop_free(&cfg->transports[i].nexthop);
    }
    free(cfg->transports);
    for (size_t i = 0; i < cfg->n_tls_policies; i++)
        config_tls_policy_free(&cfg->tls_policies[i]);
    free(cfg->tls_policies);
    for (size_t i = 0; i < cfg->n_sasl_passwords; i++)
        config_sasl_password_free(&cfg->sasl_passwords[i]);
    free(cfg->sasl_passwords);
    free(cfg->mynetworks);
    config_nexthop_free(&cfg->relayhost);
    free(cfg->relayhost_text);
    free(cfg->outbound_tls_policy);
    free(cfg->outbound_transport);
    free(cfg->sasl_password_maps);
    free(cfg->outbound_tls_ca_file);
    free(cfg->dns_resolver);
    free(cfg->outbound_helo_name);
}
