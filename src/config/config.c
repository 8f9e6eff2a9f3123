/*
 * config.c -- load the config file (DESIGN.md, "Configuration"): feed it to
 * libinih one line at a time, track [sections], send each key through the
 * schema table (config_schema.c), then check what only the whole file can
 * tell. Also the lookups the SMTP and delivery sides ask of the result.
 *
 * Trust boundary: reads a file written by the administrator. Nothing in it
 * is trusted: every problem becomes "FILE:LINE: message", all collected.
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util_buf.h"

/* Longest line we accept, comments included (inih's default is 200, too
 * short for a cipher list with a comment). Only Debian's build of inih
 * lets us change it at run time; meson detects that. */
#define CONFIG_LINE_MAX 1024

/* What libinih's reader callback needs besides the load state. */
struct config_reader {
    struct config_load *ld; /* borrowed */
    FILE *fp;               /* borrowed; the open config file */
    char *buf;              /* owned; getline() buffer */
    size_t cap;             /* bytes allocated in buf */
};

/* A [section] kind: its word and whether it takes a NAME. */
struct config_section_kind {
    const char *word;
    enum config_section section;
    bool named;
};

static const struct config_section_kind config_section_kinds[] = {
    {"tls", CONFIG_SECTION_TLS, false},
    {"listen", CONFIG_SECTION_LISTEN, true},
    {"auth", CONFIG_SECTION_AUTH, false},
    {"queue", CONFIG_SECTION_QUEUE, false},
    {"outbound", CONFIG_SECTION_OUTBOUND, false},
};

/* ---- errors ---- */

void
config_verror(struct config_load *ld, const char *file, int line,
              const char *fmt, va_list ap)
{
    struct buf tmp;
    struct buf *out = ld->errors ? ld->errors : &tmp;
    buf_init(&tmp, 0);
    if (line > 0)
        buf_printf(out, "%s:%d: ", file, line);
    else
        buf_printf(out, "%s: ", file);
    buf_vprintf(out, fmt, ap);
    buf_puts(out, "\n");
    if (out == &tmp && tmp.data != NULL)
        fputs(tmp.data, stderr);
    buf_free(&tmp);
    ld->n_errors++;
}

void
config_error_at(struct config_load *ld, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_verror(ld, ld->path, line, fmt, ap);
    va_end(ap);
}

/* ---- lines ---- */

char *
config_line_strip(char *s, bool first_line)
{
    if (first_line && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* UTF-8 byte order mark */
    while (isspace((unsigned char)*s))
        s++;
    for (char *p = s; *p; p++) {
        bool comment = *p == '#' || *p == ';';
        if (comment && (p == s || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* ---- schema lookups ---- */

static const struct config_key *
config_key_find(enum config_section section, const char *name)
{
    for (size_t i = 0; i < config_keys_n; i++)
        if (config_keys[i].section == section &&
            strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

/* Where key's value lives: in the config, or in the current listener. */
static void *
config_field(struct config_load *ld, const struct config_key *key)
{
    char *base = key->section == CONFIG_SECTION_LISTEN ? (char *)ld->listen
                                                       : (char *)ld->cfg;
    return base + key->offset;
}

/* "in [tls]", "in [listen mx]" or "at top level", for messages. */
static const char *
config_section_label(struct config_load *ld, char *out, size_t outlen)
{
    if (ld->section == CONFIG_SECTION_LISTEN)
        snprintf(out, outlen, "in [listen %s]", ld->listen->name);
    else if (ld->section == CONFIG_SECTION_TLS)
        snprintf(out, outlen, "in [tls]");
    else if (ld->section == CONFIG_SECTION_AUTH)
        snprintf(out, outlen, "in [auth]");
    else if (ld->section == CONFIG_SECTION_QUEUE)
        snprintf(out, outlen, "in [queue]");
    else if (ld->section == CONFIG_SECTION_OUTBOUND)
        snprintf(out, outlen, "in [outbound]");
    else
        snprintf(out, outlen, "at top level");
    return out;
}

static void
config_defaults(struct config_load *ld, enum config_section section)
{
    for (size_t i = 0; i < config_keys_n; i++) {
        const struct config_key *key = &config_keys[i];
        if (key->section != section || key->def == NULL)
            continue;
        if (key->type->set(ld, key, key->def, config_field(ld, key)) < 0)
            config_error_at(ld, 0, "%s: bad built-in default", key->name);
    }
}

/* ---- sections ---- */

/* Leaving a section: report its required keys that never appeared. */
static void
config_section_close(struct config_load *ld)
{
    char label[128];
    if (ld->section == CONFIG_SECTION_NONE)
        return;
    for (size_t i = 0; i < config_keys_n; i++) {
        const struct config_key *key = &config_keys[i];
        if (key->section == ld->section && (key->flags & CONFIG_KEY_REQUIRED) &&
            ld->seen[i] == 0)
            config_error_at(ld, ld->section_line,
                            "missing required key \"%s\" %s", key->name,
                            config_section_label(ld, label, sizeof(label)));
    }
}

static bool
config_listen_name_ok(const char *name)
{
    for (; *name; name++)
        if (!isalnum((unsigned char)*name) && !strchr("-_.", *name))
            return false;
    return true;
}

/* Start a [listen NAME]: unique name, defaults, appended in file order. */
static int
config_listen_open(struct config_load *ld, const char *name)
{
    if (!config_listen_name_ok(name)) {
        config_error(ld,
                     "listener name \"%s\": only letters, digits, '-', "
                     "'_' and '.'",
                     name);
        return -1;
    }
    for (struct config_listen *l = ld->cfg->listens; l; l = l->next) {
        if (strcmp(l->name, name) == 0) {
            config_error(ld,
                         "duplicate section [listen %s] (first at line "
                         "%d)",
                         name, l->line);
            return -1;
        }
    }
    struct config_listen *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->name = strdup(name)) == NULL) {
        free(l);
        config_error(ld, "out of memory");
        return -1;
    }
    l->line = ld->line;
    *ld->listen_tail = l;
    ld->listen_tail = &l->next;
    ld->listen = l;
    for (size_t i = 0; i < config_keys_n; i++)
        if (config_keys[i].section == CONFIG_SECTION_LISTEN)
            ld->seen[i] = 0;
    config_defaults(ld, CONFIG_SECTION_LISTEN);
    return 0;
}

/* Check "[word]" or "[word NAME]" and return its kind, or NULL. */
static const struct config_section_kind *
config_section_parse(struct config_load *ld, char *s, char **name)
{
    size_t len = strlen(s);
    if (s[len - 1] != ']') {
        config_error(ld, "section header must end with ']'");
        return NULL;
    }
    s[len - 1] = '\0';
    char *save = NULL, *word = strtok_r(s + 1, " \t", &save);
    *name = strtok_r(NULL, " \t", &save);
    const struct config_section_kind *kind = NULL;
    for (size_t i = 0; word && i < sizeof(config_section_kinds) /
                                       sizeof(config_section_kinds[0]);
         i++)
        if (strcmp(config_section_kinds[i].word, word) == 0)
            kind = &config_section_kinds[i];
    if (kind == NULL)
        config_error(ld, "unknown section [%s]", word ? word : "");
    else if (kind->named && *name == NULL)
        config_error(ld, "section [%s] needs a name, as in [%s mx]", word,
                     word);
    else if (!kind->named && *name != NULL)
        config_error(ld, "section [%s] takes no name", word);
    else if (strtok_r(NULL, " \t", &save) != NULL)
        config_error(ld, "section [%s] takes one name without spaces", word);
    else
        return kind;
    return NULL;
}

static void
config_section_open(struct config_load *ld, char *s)
{
    char *name = NULL;
    config_section_close(ld);
    ld->section = CONFIG_SECTION_NONE; /* until this header proves good */
    ld->section_line = ld->line;
    const struct config_section_kind *kind = config_section_parse(ld, s, &name);
    if (kind == NULL)
        return;
    if (kind->section == CONFIG_SECTION_LISTEN &&
        config_listen_open(ld, name) < 0)
        return;
    ld->section = kind->section;
    if (kind->section == CONFIG_SECTION_TLS && ld->cfg->tls_line == 0)
        ld->cfg->tls_line = ld->line;
}

/* ---- libinih callbacks ---- */

/* inih's reader: one line per call, so that ld->line is the line inih is
 * parsing (Debian builds inih without INI_HANDLER_LINENO). We also take
 * section headers here, since inih has no callback for them, and strip
 * comments, including "value   # comment". */
static char *
config_read_cb(char *str, int num, void *stream)
{
    struct config_reader *rd = stream;
    struct config_load *ld = rd->ld;
    if (getline(&rd->buf, &rd->cap, rd->fp) < 0)
        return NULL;
    ld->line++;
    char *s = config_line_strip(rd->buf, ld->line == 1);
    if (strlen(s) + 3 > (size_t)num) {
        config_error(ld, "line longer than %d characters", num - 3);
        s = "";
    } else if (*s == '[') {
        config_section_open(ld, s);
        s = "";
    } else if (*s != '\0' && s[strcspn(s, "=:")] != '=') {
        config_error(ld, "expected \"key = value\"");
        s = "";
    }
    snprintf(str, (size_t)num, "%s\n", s);
    return str;
}

/* Name the key, and where it belongs if it is known in another section. */
static void
config_unknown_key(struct config_load *ld, const char *name)
{
    static const char *const homes[] = {
        [CONFIG_SECTION_TOP] = "at top level, before any [section]",
        [CONFIG_SECTION_TLS] = "in [tls]",
        [CONFIG_SECTION_LISTEN] = "in [listen NAME]",
        [CONFIG_SECTION_AUTH] = "in [auth]",
        [CONFIG_SECTION_QUEUE] = "in [queue]",
        [CONFIG_SECTION_OUTBOUND] = "in [outbound]",
    };
    char label[128];
    const struct config_key *key = NULL;
    for (size_t i = 0; i < config_keys_n && key == NULL; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            key = &config_keys[i];
    config_section_label(ld, label, sizeof(label));
    if (key != NULL)
        config_error(ld, "unknown key \"%s\" %s (it belongs %s)", name, label,
                     homes[key->section]);
    else
        config_error(ld, "unknown key \"%s\" %s", name, label);
}

static int
config_key_cb(void *user, const char *section, const char *name,
              const char *value)
{
    struct config_load *ld = user;
    (void)section; /* ld->section is ours, with the listener */
    if (ld->section == CONFIG_SECTION_NONE)
        return 1; /* its header was already reported */
    const struct config_key *key = config_key_find(ld->section, name);
    if (key == NULL) {
        config_unknown_key(ld, name);
        return 1;
    }
    size_t i = (size_t)(key - config_keys);
    if (ld->seen[i] != 0 && !(key->flags & CONFIG_KEY_REPEAT)) {
        config_error(ld, "duplicate key \"%s\" (first set at line %d)", name,
                     ld->seen[i]);
        return 1;
    }
    ld->seen[i] = ld->line;
    key->type->set(ld, key, value, config_field(ld, key));
    return 1;
}

/* ---- the whole file ---- */

static void
config_parse(struct config_load *ld, FILE *fp)
{
    struct config_reader rd = {.ld = ld, .fp = fp};
#ifdef CONFIG_INI_RUNTIME_OPTIONS
    ini_max_line = CONFIG_LINE_MAX;
#endif
    int rc = ini_parse_stream(config_read_cb, &rd, config_key_cb, ld);
    int read_errno = errno;
    if (ferror(fp))
        config_error_at(ld, 0, "cannot read: %s", strerror(read_errno));
    else if (rc == -2)
        config_error_at(ld, 0, "out of memory");
    else if (rc != 0 && ld->n_errors == 0)
        config_error_at(ld, rc, "syntax error");
    free(rd.buf);
    ld->line = 0;
}

static void
config_default_hostname(struct config_load *ld)
{
    char name[HOST_NAME_MAX + 1];
    const struct config_key *key =
        config_key_find(CONFIG_SECTION_TOP, "hostname");
    if (gethostname(name, sizeof(name)) < 0) {
        config_error_at(ld, 0,
                        "hostname: not set, and gethostname() "
                        "failed: %s",
                        strerror(errno));
        return;
    }
    name[sizeof(name) - 1] = '\0';
    if (config_domain_problem(name) != NULL) {
        config_error_at(ld, 0,
                        "hostname: not set, and this machine's name "
                        "\"%s\" is not usable: set hostname",
                        name);
        return;
    }
    key->type->set(ld, key, name, &ld->cfg->hostname);
}

/* Listener settings that depend on each other or on [tls]; reported at
 * the line of the [listen NAME] header. */
static void
config_listen_check(struct config_load *ld, const struct config_listen *l)
{
    static const char *const auth_words[] = {"off", "optional", "required"};
    static const char *const cert_words[] = {"none", "request", "require"};
    if (l->tls == CONFIG_TLS_NONE && l->auth != CONFIG_AUTH_OFF)
        config_error_at(ld, l->line,
                        "[listen %s]: auth = %s needs TLS on the listener "
                        "(tls = starttls, starttls-required or implicit): "
                        "AUTH is never offered or accepted without TLS",
                        l->name, auth_words[l->auth]);
    if (l->client_certificates == CONFIG_CLIENT_CERTS_NONE)
        return;
    if (l->tls == CONFIG_TLS_NONE)
        config_error_at(ld, l->line,
                        "[listen %s]: client_certificates = %s needs TLS "
                        "on the listener",
                        l->name, cert_words[l->client_certificates]);
    else if (ld->cfg->tls_ca_file == NULL)
        config_error_at(ld, l->line,
                        "[listen %s]: client_certificates = %s needs "
                        "[tls] ca_file (the CAs that client certificates "
                        "must chain to)",
                        l->name, cert_words[l->client_certificates]);
}

/* What only the whole file can tell. */
static void
config_finish(struct config_load *ld)
{
    struct config *cfg = ld->cfg;
    const struct config_key *domains =
        config_key_find(CONFIG_SECTION_TOP, "local_domains");
    config_section_close(ld);
    if (ld->cert_line != 0) {
        config_error_at(ld, ld->cert_line,
                        "cert: no key after it (each cert "
                        "must be followed by its key)");
    }
    if (ld->seen[config_key_find(CONFIG_SECTION_TOP, "hostname") -
                 config_keys] == 0)
        config_default_hostname(ld);
    if (ld->seen[domains - config_keys] == 0 && cfg->hostname != NULL)
        domains->type->set(ld, domains, cfg->hostname, NULL);
    for (struct config_listen *l = cfg->listens; l; l = l->next) {
        if (l->tls != CONFIG_TLS_NONE && cfg->n_tls_pairs == 0)
            config_error_at(ld, l->line,
                            "[listen %s] uses TLS but [tls] "
                            "has no cert and key",
                            l->name);
        config_listen_check(ld, l);
    }
    if (cfg->listens == NULL)
        config_error_at(ld, 0, "no [listen NAME] section: nothing to serve");
}

int
config_load(const char *path, struct config *out, struct buf *errors)
{
    struct config_load ld = {
        .path = path,
        .cfg = out,
        .errors = errors,
        .section = CONFIG_SECTION_TOP,
        .listen_tail = &out->listens,
    };
    memset(out, 0, sizeof(*out));
    ld.seen = calloc(config_keys_n, sizeof(*ld.seen));
    out->path = strdup(path);
    FILE *fp = NULL;
    if (ld.seen == NULL || out->path == NULL) {
        config_error_at(&ld, 0, "out of memory");
    } else if ((fp = fopen(path, "re")) == NULL) {
        config_error_at(&ld, 0, "cannot open: %s", strerror(errno));
    } else {
        config_defaults(&ld, CONFIG_SECTION_TOP);
        config_defaults(&ld, CONFIG_SECTION_TLS);
        config_defaults(&ld, CONFIG_SECTION_AUTH);
        config_defaults(&ld, CONFIG_SECTION_QUEUE);
        config_defaults(&ld, CONFIG_SECTION_OUTBOUND);
        config_parse(&ld, fp);
        fclose(fp);
        config_finish(&ld);
    }
    free(ld.seen);
    if (ld.n_errors == 0)
        return 0;
    config_free(out);
    return -1;
}

/* ---- release and lookups ---- */

static void
config_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void
config_free_auth(struct config *cfg)
{
    free(cfg->sasl_service);
    free(cfg->sasl_config_dir);
    config_free_strings(cfg->auth_mechanisms, cfg->n_auth_mechanisms);
    free(cfg->sasldb_path);
    free(cfg->sender_login_maps);
    free(cfg->relay_client_certs);
    config_maps_free(cfg);
}

void
config_free(struct config *cfg)
{
    free(cfg->path);
    free(cfg->hostname);
    free(cfg->spool);
    config_free_strings(cfg->local_domains, cfg->n_local_domains);
    free(cfg->maildir);
    free(cfg->local_recipients);
    config_free_strings(cfg->recipients, cfg->n_recipients);
    for (size_t i = 0; i < CONFIG_TLS_PAIRS_MAX; i++) {
        free(cfg->tls_pairs[i].cert);
        free(cfg->tls_pairs[i].key);
    }
    free(cfg->tls_ciphers);
    free(cfg->tls_ciphersuites);
    free(cfg->tls_ca_file);
    config_free_auth(cfg);
    config_outbound_free(cfg);
    while (cfg->listens != NULL) {
        struct config_listen *next = cfg->listens->next;
        free(cfg->listens->name);
        free(cfg->listens->address);
        free(cfg->listens);
        cfg->listens = next;
    }
    memset(cfg, 0, sizeof(*cfg));
}

bool
config_is_local_domain(const struct config *cfg, const char *domain)
{
    size_t len = strlen(domain);
    if (len > 1 && domain[len - 1] == '.')
        len--; /* "example.org." is the same domain, fully qualified */
    for (size_t i = 0; i < cfg->n_local_domains; i++)
        if (strlen(cfg->local_domains[i]) == len &&
            strncasecmp(cfg->local_domains[i], domain, len) == 0)
            return true;
    return false;
}

bool
config_is_local_recipient(const struct config *cfg, const char *local,
                          const char *domain)
{
    /* RFC 5321 4.5.3.1.1 and 4.5.3.1.2: 64 and 255 octets at most, so a
     * longer address cannot be in the list. */
    char addr[64 + 1 + 255 + 1];
    size_t llen = strlen(local), dlen = strlen(domain);
    if (cfg->local_recipients == NULL)
        return true;
    if (dlen > 1 && domain[dlen - 1] == '.')
        dlen--;
    if (llen > 64 || dlen > 255 || cfg->n_recipients == 0)
        return false;
    snprintf(addr, sizeof(addr), "%s@%.*s", local, (int)dlen, domain);
    char *key = config_lower(addr);
    return bsearch(&key, cfg->recipients, cfg->n_recipients,
                   sizeof(*cfg->recipients), config_strcmp_cb) != NULL;
}
