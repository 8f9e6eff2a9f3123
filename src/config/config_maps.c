/*
 * config_maps.c -- the two list files of issue 3 that the config names:
 *
 *   sender_login_maps   "sender login[,login...]": which SASL logins may
 *                       use an envelope sender (Postfix
 *                       smtpd_sender_login_maps); "@domain" covers a
 *                       whole domain.
 *   relay_client_certs  "sha256:HEX", "issuer=DN subject=DN" or
 *                       "issuer=DN": client certificates granted relay
 *                       (Sendmail's CERTISSUER/CERTSUBJECT access rules).
 *
 * Both are read at load time, so "tlsmta config check" reports every bad
 * line as "FILE:LINE: message" before the server starts.
 *
 * Trust boundary: files named by the administrator.
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A SHA-256 digest written in hex: 32 bytes. */
#define CONFIG_SHA256_HEX 64

/* ---- sender_login_maps ---- */

/* Where the lines go while the file is read. */
struct config_sender_list {
    struct config_sender_login *v; /* owned until handed to the config */
    size_t n, cap;
};

static void
config_sender_login_free(struct config_sender_login *e)
{
    for (size_t i = 0; i < e->n_logins; i++)
        free(e->logins[i]);
    free(e->logins);
    free(e->sender);
}

/* Check the sender column: "@domain" or "local@domain", lower-cased in
 * place. Returns NULL or why not. */
static const char *
config_sender_problem(char *sender)
{
    config_lower(sender);
    if (sender[0] != '@')
        return config_address_problem(sender);
    size_t len = strlen(sender);
    if (len > 2 && sender[len - 1] == '.')
        sender[len - 1] = '\0';
    return config_domain_problem(sender + 1);
}

/* A login: printable, no white space (it came out of the tokenizer). */
static bool
config_login_ok(const char *login)
{
    for (; *login; login++)
        if (iscntrl((unsigned char)*login))
            return false;
    return true;
}

static int
config_sender_add_login(struct config_sender_login *e, const char *login)
{
    char **v = realloc(e->logins, (e->n_logins + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    e->logins = v;
    if ((v[e->n_logins] = strdup(login)) == NULL)
        return -1;
    e->n_logins++;
    return 0;
}

/* Split the logins (commas and/or white space) into e. */
static const char *
config_sender_logins(struct config_sender_login *e, char *rest)
{
    char *save = NULL;
    for (char *l = strtok_r(rest, ", \t", &save); l;
         l = strtok_r(NULL, ", \t", &save)) {
        if (!config_login_ok(l))
            return "control character in a login";
        if (config_sender_add_login(e, l) < 0)
            return "out of memory";
    }
    return e->n_logins == 0 ? "no login after the sender address" : NULL;
}

static int
config_sender_line(struct config_load *ld, const char *path, int lineno,
                   char *line, void *ctx)
{
    struct config_sender_list *list = ctx;
    size_t len = strcspn(line, " \t");
    char *rest = line + len + (line[len] != '\0');
    struct config_sender_login e = {.line = lineno};
    line[len] = '\0';
    const char *why = config_sender_problem(line);
    if (why != NULL) {
        config_error_in(ld, path, lineno, "bad sender \"%s\": %s", line, why);
        return -1;
    }
    if ((e.sender = strdup(line)) == NULL ||
        (why = config_sender_logins(&e, rest)) != NULL)
        goto fail;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        struct config_sender_login *v = realloc(list->v, cap * sizeof(*v));
        if (v == NULL)
            goto fail;
        list->v = v;
        list->cap = cap;
    }
    list->v[list->n++] = e;
    return 0;
fail:
    config_error_in(ld, path, lineno, "%s", why ? why : "out of memory");
    config_sender_login_free(&e);
    return -1;
}

static int
config_sender_cmp_cb(const void *a, const void *b)
{
    const struct config_sender_login *x = a, *y = b;
    int c = strcmp(x->sender, y->sender);
    return c != 0 ? c : x->line - y->line;
}

/* Sort by sender for bsearch(); a sender listed twice is an error, since
 * one of the two lines would silently not apply. */
static int
config_sender_sort(struct config_load *ld, const char *path,
                   struct config_sender_list *list)
{
    int rc = 0;
    size_t kept = 0;
    if (list->n == 0)
        return 0;
    qsort(list->v, list->n, sizeof(*list->v), config_sender_cmp_cb);
    for (size_t i = 1; i < list->n; i++) {
        struct config_sender_login *e = &list->v[i];
        if (strcmp(e->sender, list->v[kept].sender) == 0) {
            config_error_in(ld, path, e->line,
                            "duplicate sender \"%s\" (first at line %d)",
                            e->sender, list->v[kept].line);
            config_sender_login_free(e);
            rc = -1;
        } else {
            list->v[++kept] = *e;
        }
    }
    list->n = kept + 1;
    return rc;
}

int
config_sender_logins_load(struct config_load *ld, const char *path)
{
    struct config *cfg = ld->cfg;
    struct config_sender_list list = {0};
    int rc = config_list_read(ld, "sender_login_maps", path,
                              config_sender_line, &list);
    if (config_sender_sort(ld, path, &list) < 0)
        rc = -1;
    cfg->sender_logins = list.v;
    cfg->n_sender_logins = list.n;
    return rc;
}

/* ---- relay_client_certs ---- */

struct config_cert_list {
    struct config_client_cert *v; /* owned until handed to the config */
    size_t n, cap;
};

/* "AB:CD:..." or "abcd..." to 64 lower-case hex digits in out (65
 * bytes). Returns NULL or why not. */
static const char *
config_sha256_parse(const char *hex, char *out)
{
    size_t n = 0;
    for (const char *p = hex; *p; p++) {
        if (*p == ':' && p != hex && p[1] != '\0' && p[1] != ':')
            continue;
        if (!isxdigit((unsigned char)*p))
            return "the fingerprint may hold only hex digits and ':'";
        if (n == CONFIG_SHA256_HEX)
            return "more than 64 hex digits (SHA-256 has 32 bytes)";
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n == CONFIG_SHA256_HEX ? NULL
                                  : "fewer than 64 hex digits (SHA-256 "
                                    "has 32 bytes)";
}

/* The hex part of "sha256:HEX", or of "sha256 Fingerprint=HEX" as
 * "openssl x509 -noout -fingerprint -sha256" prints it; NULL if the line
 * is neither. */
static const char *
config_sha256_value(const char *line)
{
    static const char *const prefixes[] = {"sha256:", "sha256 fingerprint="};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t len = strlen(prefixes[i]);
        if (strncasecmp(line, prefixes[i], len) == 0)
            return line + len;
    }
    return NULL;
}

/* Trim white space around s in place; returns the start. */
static char *
config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* "issuer=DN subject=DN", split at the first " subject=", or
 * "issuer=DN" alone (every verified certificate from that issuer). */
static const char *
config_dn_pair(char *line, struct config_client_cert *c)
{
    static const char sep[] = " subject=";
    char *split = strstr(line, sep), *subject = NULL;
    if (split != NULL) {
        *split = '\0';
        subject = config_trim(split + strlen(sep));
    }
    char *issuer = config_trim(line + strlen("issuer="));
    if (*issuer == '\0' || (subject != NULL && *subject == '\0'))
        return "empty issuer or subject";
    if ((c->issuer = strdup(issuer)) == NULL ||
        (subject != NULL && (c->subject = strdup(subject)) == NULL))
        return "out of memory";
    return NULL;
}

static const char *
config_cert_parse(char *line, struct config_client_cert *c)
{
    char hex[CONFIG_SHA256_HEX + 1];
    const char *value = config_sha256_value(line), *why;
    if (value != NULL) {
        if ((why = config_sha256_parse(value, hex)) != NULL)
            return why;
        return (c->sha256 = strdup(hex)) ? NULL : "out of memory";
    }
    if (strncasecmp(line, "issuer=", strlen("issuer=")) == 0)
        return config_dn_pair(line, c);
    return "expected \"sha256:HEX\" or \"issuer=DN subject=DN\"";
}

static void
config_client_cert_free(struct config_client_cert *c)
{
    free(c->sha256);
    free(c->issuer);
    free(c->subject);
}

static int
config_cert_line(struct config_load *ld, const char *path, int lineno,
                 char *line, void *ctx)
{
    struct config_cert_list *list = ctx;
    struct config_client_cert c = {.line = lineno};
    const char *why = config_cert_parse(line, &c);
    if (why == NULL && list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        struct config_client_cert *v = realloc(list->v, cap * sizeof(*v));
        if (v != NULL) {
            list->v = v;
            list->cap = cap;
        } else {
            why = "out of memory";
        }
    }
    if (why != NULL) {
        config_error_in(ld, path, lineno, "%s", why);
        config_client_cert_free(&c);
        return -1;
    }
    list->v[list->n++] = c;
    return 0;
}

int
config_relay_certs_load(struct config_load *ld, const char *path)
{
    struct config_cert_list list = {0};
    int rc = config_list_read(ld, "relay_client_certs", path,
                              config_cert_line, &list);
    ld->cfg->relay_certs = list.v;
    ld->cfg->n_relay_certs = list.n;
    return rc;
}

void
config_maps_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_sender_logins; i++)
        config_sender_login_free(&cfg->sender_logins[i]);
    free(cfg->sender_logins);
    for (size_t i = 0; i < cfg->n_relay_certs; i++)
        config_client_cert_free(&cfg->relay_certs[i]);
    free(cfg->relay_certs);
}
