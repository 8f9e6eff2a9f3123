/*
 * auth_sender.c -- the sender_login_maps check (see auth_sender.h): a
 * binary search of the config's sorted entries for the address, then for
 * its "@domain".
 *
 * Trust boundary: sender and login come from the network (through the
 * SMTP parser and SASL); lengths are bounded before anything is copied.
 */
#include "auth/auth_sender.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2: 64 + "@" + 255. */
#define AUTH_SENDER_KEY_MAX (64 + 1 + 255 + 1)

static const struct {
    const char *name;
    bool allowed;
} auth_sender_verdicts[] = {
    [AUTH_SENDER_NO_MAP] = {"no-map", true},
    [AUTH_SENDER_NULL] = {"null-sender", true},
    [AUTH_SENDER_OWNED] = {"owned", true},
    [AUTH_SENDER_NOT_OWNER] = {"not-owner", false},
    [AUTH_SENDER_UNLISTED] = {"unlisted", false},
};

#define AUTH_SENDER_N_VERDICTS                                                 \
    (sizeof(auth_sender_verdicts) / sizeof(auth_sender_verdicts[0]))

bool
auth_sender_allowed(enum auth_sender_verdict verdict)
{
    return (size_t)verdict < AUTH_SENDER_N_VERDICTS &&
           auth_sender_verdicts[verdict].allowed;
}

const char *
auth_sender_verdict_name(enum auth_sender_verdict verdict)
{
    return (size_t)verdict < AUTH_SENDER_N_VERDICTS
               ? auth_sender_verdicts[verdict].name
               : "unknown";
}

static int
auth_sender_cmp_cb(const void *key, const void *entry)
{
    return strcmp(key, ((const struct config_sender_login *)entry)->sender);
}

static const struct config_sender_login *
auth_sender_find(const struct config *cfg, const char *key)
{
    return bsearch(key, cfg->sender_logins, cfg->n_sender_logins,
                   sizeof(*cfg->sender_logins), auth_sender_cmp_cb);
}

/* Same login? The local part exactly, the domain in any case. */
static bool
auth_sender_same_login(const char *listed, const char *login)
{
    const char *la = strrchr(listed, '@'), *lb = strrchr(login, '@');
    if (la == NULL || lb == NULL)
        return strcmp(listed, login) == 0;
    return la - listed == lb - login &&
           strncmp(listed, login, (size_t)(la - listed)) == 0 &&
           strcasecmp(la, lb) == 0;
}

static struct auth_sender_result
auth_sender_decide(const struct config_sender_login *e, const char *login)
{
    struct auth_sender_result r = {AUTH_SENDER_NOT_OWNER, e->line};
    for (size_t i = 0; i < e->n_logins; i++)
        if (auth_sender_same_login(e->logins[i], login))
            r.verdict = AUTH_SENDER_OWNED;
    return r;
}

struct auth_sender_result
auth_sender_check(const struct config *cfg, const char *login,
                  const char *local, const char *domain)
{
    char key[AUTH_SENDER_KEY_MAX];
    struct auth_sender_result r = {AUTH_SENDER_NO_MAP, 0};
    size_t llen = strlen(local), dlen = strlen(domain);
    if (cfg->sender_login_maps == NULL)
        return r;
    r.verdict = AUTH_SENDER_NULL;
    if (llen == 0 && dlen == 0)
        return r;
    r.verdict = AUTH_SENDER_UNLISTED;
    if (dlen > 1 && domain[dlen - 1] == '.')
        dlen--;
    if (llen > 64 || dlen > 255)
        return r; /* longer than any address the map can hold */
    snprintf(key, sizeof(key), "%s@%.*s", local, (int)dlen, domain);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const struct config_sender_login *e = auth_sender_find(cfg, key);
    if (e == NULL)
        e = auth_sender_find(cfg, key + llen); /* "@domain" */
    return e ? auth_sender_decide(e, login) : r;
}
