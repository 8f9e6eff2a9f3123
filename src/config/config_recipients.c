/*
 * config_recipients.c -- the local_recipients file: one address per line,
 * '#' comments, blank lines ignored. Kept sorted and lower-cased, so that
 * RCPT TO for an unknown local user can be answered 550 5.1.1 after a
 * binary search (config_is_local_recipient()).
 *
 * Trust boundary: a file named by the administrator. Each bad line is an
 * error reported as "FILE:LINE: message" with that file's name.
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 5321 4.5.3.1.1 */
#define CONFIG_LOCAL_PART_MAX 64

/* A growing array of owned strings. */
struct config_strings {
    char **v; /* owned, each entry owned */
    size_t n, cap;
};

int
config_strcmp_cb(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
config_is_atext(unsigned char c)
{
    /* RFC 5322 3.2.3 atext; RFC 6531 3.3 adds UTF-8 (any byte >= 0x80) */
    return isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

/* RFC 5321 4.1.2 Dot-string: atext runs separated by single dots. Quoted
 * local parts cannot be listed in this file. */
static const char *
config_local_part_problem(const char *local, size_t len)
{
    if (len == 0)
        return "empty local part";
    if (len > CONFIG_LOCAL_PART_MAX)
        return "local part longer than 64 characters";
    if (local[0] == '.' || local[len - 1] == '.')
        return "local part starts or ends with '.'";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '.' && local[i + 1] == '.')
            return "two dots in a row in the local part";
        if (c != '.' && !config_is_atext(c))
            return "character not allowed in a local part";
    }
    return NULL;
}

const char *
config_address_problem(char *addr)
{
    char *at = strrchr(addr, '@');
    if (at == NULL)
        return "no '@'";
    const char *why = config_local_part_problem(addr, (size_t)(at - addr));
    if (why != NULL)
        return why;
    size_t dlen = strlen(at + 1);
    if (dlen > 1 && at[dlen] == '.')
        at[dlen] = '\0';
    return config_domain_problem(at + 1);
}

static int
config_strings_add(struct config_strings *s, const char *value)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if ((s->v[s->n] = strdup(value)) == NULL)
        return -1;
    s->n++;
    return 0;
}

/* Sort and drop duplicates, so bsearch() finds each address once. */
static void
config_strings_sort_unique(struct config_strings *s)
{
    size_t kept = 0;
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(*s->v), config_strcmp_cb);
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[kept], s->v[i]) == 0)
            free(s->v[i]);
        else
            s->v[++kept] = s->v[i];
    }
    s->n = kept + 1;
}

void
config_error_in(struct config_load *ld, const char *file, int line,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_verror(ld, file, line, fmt, ap);
    va_end(ap);
}

int
config_list_read(struct config_load *ld, const char *key_name,
                 const char *path, config_line_fn *fn, void *ctx)
{
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        config_error(ld, "%s: %s: cannot open: %s", key_name, path,
                     strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, fp) >= 0) {
        char *s = config_line_strip(line, ++lineno == 1);
        if (*s != '\0' && fn(ld, path, lineno, s, ctx) < 0)
            rc = -1;
    }
    if (ferror(fp)) {
        config_error_in(ld, path, 0, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(fp);
    return rc;
}

/* One line of local_recipients: an address, lower-cased into s. */
static int
config_recipient_line(struct config_load *ld, const char *path, int lineno,
                      char *addr, void *ctx)
{
    const char *why = config_address_problem(addr);
    if (why != NULL) {
        config_error_in(ld, path, lineno, "bad address \"%s\": %s", addr,
                        why);
        return -1;
    }
    if (config_strings_add(ctx, config_lower(addr)) < 0) {
        config_error_in(ld, path, lineno, "out of memory");
        return -1;
    }
    return 0;
}

int
config_recipients_load(struct config_load *ld, const char *path)
{
    struct config *cfg = ld->cfg;
    struct config_strings s = {cfg->recipients, cfg->n_recipients,
                               cfg->n_recipients};
    int rc = config_list_read(ld, "local_recipients", path,
                              config_recipient_line, &s);
    config_strings_sort_unique(&s);
    cfg->recipients = s.v;
    cfg->n_recipients = s.n;
    return rc;
}
