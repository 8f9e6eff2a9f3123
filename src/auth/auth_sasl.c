/*
 * auth_sasl.c -- Cyrus SASL server glue for RFC 4954 AUTH: process-wide
 * setup with tlsmta's defaults under the administrator's SASL config file,
 * and per-session exchanges mapped to enum auth_status. See auth_sasl.h
 * for where SASL's settings come from.
 *
 * Trust boundary: client SASL messages are handed to libsasl2 as they
 * came (decoded from base64 by the SMTP layer); results and the user name
 * SASL reports are copied out with their lengths checked. SASL's log
 * lines reach util_log, except those at SASL_LOG_PASS, which may hold
 * passwords and are dropped.
 */
#include "auth/auth_sasl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "config/config.h"
#include "util/util_buf.h"
#include "util/util_log.h"

/* SASL's config directory when [auth] sasl_config_dir is unset. */
#define AUTH_SASL_CONF_DIR "/etc/sasl2"

/* libsasl2 stores callbacks as int (*)(void); going through void (*)(void)
 * tells the compiler the cast of the real prototype is meant. */
#define AUTH_SASL_CB(fn) ((int (*)(void))(void (*)(void))(fn))

/* An option tlsmta supplies unless SERVICE.conf sets it. */
struct auth_sasl_default {
    const char *option; /* SASL option name, lower case */
    char *value;        /* owned; NULL until init fills it */
    char *file_value;   /* owned; SERVICE.conf's value, or NULL: then SASL
                           reads the file and our value is not given */
    bool forced;        /* answer value even if the file sets the option */
};

enum {
    AUTH_SASL_OPT_PWCHECK,
    AUTH_SASL_OPT_AUXPROP,
    AUTH_SASL_OPT_SASLDB,
    AUTH_SASL_OPT_MECHS,
    AUTH_SASL_OPT_N,
};

/* The process-wide setup: libsasl2 itself is process-wide. */
static struct {
    bool active;                /* between init and done */
    char *app;                  /* owned; [auth] sasl_service */
    char *conf_dir;             /* owned; where SASL looks for app.conf */
    char *hostname;             /* owned; serverFQDN, the default realm */
    char **mechs;               /* owned; cfg->auth_mechanisms, n_mechs */
    size_t n_mechs;
    struct auth_sasl_default defaults[AUTH_SASL_OPT_N];
    sasl_callback_t callbacks[4]; /* given to sasl_server_init */
} auth_sasl_g = {
    .defaults = {
        [AUTH_SASL_OPT_PWCHECK] = {"pwcheck_method", NULL, NULL, false},
        [AUTH_SASL_OPT_AUXPROP] = {"auxprop_plugin", NULL, NULL, false},
        [AUTH_SASL_OPT_SASLDB] = {"sasldb_path", NULL, NULL, false},
        [AUTH_SASL_OPT_MECHS] = {"mech_list", NULL, NULL, false},
    },
};

struct auth_sasl {
    sasl_conn_t *conn;          /* owned; NULL between exchanges, made
                                   again for each one */
    char *session_id;           /* owned; log prefix */
    char *external_id;          /* owned or NULL; certificate identity */
    unsigned tls_ssf;           /* bits, SASL_SSF_EXTERNAL */
    bool in_exchange;           /* a start answered CONTINUE */
    sasl_callback_t callbacks[2]; /* per connection: log with our id */
    char mechs[AUTH_SASL_MECHS_MAX];  /* last auth_sasl_mechanisms() */
    char detail[256];           /* SASL's words on the last failure */
};

/* ---- SASL's result codes ---- */

/* Anything not listed is AUTH_FAIL, so that no error a client can provoke
 * escapes the failure count as a temporary failure. */
static const struct {
    int code;
    enum auth_status status;
} auth_sasl_codes[] = {
    {SASL_OK, AUTH_OK},
    {SASL_CONTINUE, AUTH_CONTINUE},
    {SASL_NOMECH, AUTH_NO_MECH},
    {SASL_TOOWEAK, AUTH_NO_MECH},
    {SASL_ENCRYPT, AUTH_NO_MECH},
    {SASL_TRYAGAIN, AUTH_TEMPFAIL},
    {SASL_UNAVAIL, AUTH_TEMPFAIL},
    {SASL_NOMEM, AUTH_TEMPFAIL},
};

static enum auth_status
auth_sasl_status(int code)
{
    for (size_t i = 0; i < sizeof(auth_sasl_codes) / sizeof(*auth_sasl_codes);
         i++)
        if (auth_sasl_codes[i].code == code)
            return auth_sasl_codes[i].status;
    return AUTH_FAIL;
}

/* ---- callbacks ---- */

/* SASL's levels to syslog's; -1: never written (SASL_LOG_PASS carries
 * passwords). Failures are debug lines: the I/O layer writes the one line
 * per failed AUTH, with auth_sasl_detail() in it. */
static const int auth_sasl_log_levels[] = {
    [SASL_LOG_NONE] = -1,         [SASL_LOG_ERR] = LOG_ERR,
    [SASL_LOG_FAIL] = LOG_DEBUG,  [SASL_LOG_WARN] = LOG_WARNING,
    [SASL_LOG_NOTE] = LOG_DEBUG,  [SASL_LOG_DEBUG] = LOG_DEBUG,
    [SASL_LOG_TRACE] = LOG_DEBUG, [SASL_LOG_PASS] = -1,
};

/* context: the session's struct auth_sasl, or NULL for process-wide. */
static int
auth_sasl_log_cb(void *context, int level, const char *message)
{
    const struct auth_sasl *a = context;
    int n = (int)(sizeof(auth_sasl_log_levels) / sizeof(int));
    if (level < 0 || level >= n || auth_sasl_log_levels[level] < 0)
        return SASL_OK;
    log_msg(auth_sasl_log_levels[level], "%s sasl: %s",
            a ? a->session_id : "-", message ? message : "");
    return SASL_OK;
}

static int
auth_sasl_getopt_cb(void *context, const char *plugin_name,
                    const char *option, const char **result, unsigned *len)
{
    (void)context;
    (void)plugin_name;
    for (size_t i = 0; i < AUTH_SASL_OPT_N; i++) {
        const struct auth_sasl_default *d = &auth_sasl_g.defaults[i];
        if (strcmp(d->option, option) != 0 || !d->value ||
            (d->file_value && !d->forced))
            continue;
        *result = d->value;
        if (len != NULL)
            *len = (unsigned)strlen(d->value);
        return SASL_OK;
    }
    return SASL_FAIL; /* SASL then reads its config file */
}

static int
auth_sasl_confpath_cb(void *context, char **path)
{
    (void)context;
    *path = auth_sasl_g.conf_dir;
    return SASL_OK;
}

/* ---- init ---- */

/* If line is "option: value" for one of our defaults, keep the value
 * (libsasl2's reader: option names folded to lower case, white space
 * around the value dropped). */
static int
auth_sasl_conf_line(char *line)
{
    char *p = line;
    size_t n = 0;
    while (isspace((unsigned char)*p))
        p++;
    for (; isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_'; n++)
        p[n] = (char)tolower((unsigned char)p[n]);
    if (n == 0 || p[n] != ':')
        return 0; /* a comment, a blank line, or SASL's to complain of */
    char *value = p + n + 1;
    while (isspace((unsigned char)*value))
        value++;
    size_t len = strlen(value);
    while (len > 0 && isspace((unsigned char)value[len - 1]))
        value[--len] = '\0';
    for (size_t i = 0; i < AUTH_SASL_OPT_N; i++) {
        struct auth_sasl_default *d = &auth_sasl_g.defaults[i];
        if (strlen(d->option) != n || strncmp(d->option, p, n) != 0)
            continue;
        free(d->file_value);
        if ((d->file_value = strdup(value)) == NULL)
            return -1;
    }
    return 0;
}

/* Note which of our defaults app.conf sets, and to what. A missing file
 * sets nothing. */
static int
auth_sasl_read_conf(char *err, size_t errlen)
{
    char path[4096], *line = NULL;
    size_t cap = 0;
    int rc = 0;
    snprintf(path, sizeof(path), "%s/%s.conf", auth_sasl_g.conf_dir,
             auth_sasl_g.app);
    FILE *fp = fopen(path, "re");
    if (fp == NULL && errno == ENOENT)
        return 0;
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && getline(&line, &cap, fp) >= 0)
        rc = auth_sasl_conf_line(line);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    free(line);
    fclose(fp);
    return rc;
}

/* "PLAIN LOGIN EXTERNAL" from the configured list. */
static char *
auth_sasl_mech_list(const struct config *cfg)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < cfg->n_auth_mechanisms; i++)
        buf_printf(&b, "%s ", cfg->auth_mechanisms[i]);
    if (buf_puts(&b, "EXTERNAL") < 0) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Copy what SASL and the sessions need from cfg. Returns 0 or -1. */
static int
auth_sasl_copy_config(const struct config *cfg)
{
    struct auth_sasl_default *d = auth_sasl_g.defaults;
    const char *dir = cfg->sasl_config_dir ? cfg->sasl_config_dir
                                           : AUTH_SASL_CONF_DIR;
    auth_sasl_g.app = strdup(cfg->sasl_service ? cfg->sasl_service
                                               : "tlsmta");
    auth_sasl_g.conf_dir = strdup(dir);
    auth_sasl_g.hostname = strdup(cfg->hostname ? cfg->hostname : "");
    auth_sasl_g.mechs = calloc(cfg->n_auth_mechanisms + 1, sizeof(char *));
    d[AUTH_SASL_OPT_PWCHECK].value = strdup("auxprop");
    d[AUTH_SASL_OPT_AUXPROP].value = strdup("sasldb");
    d[AUTH_SASL_OPT_SASLDB].value =
        strdup(cfg->sasldb_path ? cfg->sasldb_path : "/etc/tlsmta/sasldb2");
    d[AUTH_SASL_OPT_MECHS].value = auth_sasl_mech_list(cfg);
    bool ok = auth_sasl_g.app && auth_sasl_g.conf_dir &&
              auth_sasl_g.hostname && auth_sasl_g.mechs;
    for (size_t i = 0; i < AUTH_SASL_OPT_N; i++)
        ok = ok && d[i].value != NULL;
    for (size_t i = 0; ok && i < cfg->n_auth_mechanisms; i++) {
        auth_sasl_g.mechs[i] = strdup(cfg->auth_mechanisms[i]);
        ok = auth_sasl_g.mechs[i] != NULL;
        auth_sasl_g.n_mechs += ok;
    }
    return ok ? 0 : -1;
}

static void
auth_sasl_forget_config(void)
{
    free(auth_sasl_g.app);
    free(auth_sasl_g.conf_dir);
    free(auth_sasl_g.hostname);
    for (size_t i = 0; i < auth_sasl_g.n_mechs; i++)
        free(auth_sasl_g.mechs[i]);
    free(auth_sasl_g.mechs);
    for (size_t i = 0; i < AUTH_SASL_OPT_N; i++) {
        struct auth_sasl_default *d = &auth_sasl_g.defaults[i];
        free(d->value);
        free(d->file_value);
        d->value = d->file_value = NULL;
        d->forced = false;
    }
    auth_sasl_g.app = auth_sasl_g.conf_dir = auth_sasl_g.hostname = NULL;
    auth_sasl_g.mechs = NULL;
    auth_sasl_g.n_mechs = 0;
}

int
auth_sasl_init(const struct config *cfg, char *err, size_t errlen)
{
    sasl_callback_t *cb = auth_sasl_g.callbacks;
    snprintf(err, errlen, "%s", "");
    if (auth_sasl_g.active) {
        snprintf(err, errlen, "SASL is already initialised");
        return -1;
    }
    if (auth_sasl_copy_config(cfg) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (auth_sasl_read_conf(err, errlen) < 0)
        goto fail;
    cb[0] = (sasl_callback_t){SASL_CB_GETOPT,
                              AUTH_SASL_CB(auth_sasl_getopt_cb), NULL};
    cb[1] = (sasl_callback_t){SASL_CB_LOG, AUTH_SASL_CB(auth_sasl_log_cb),
                              NULL};
    cb[2] = (sasl_callback_t){SASL_CB_GETCONFPATH,
                              AUTH_SASL_CB(auth_sasl_confpath_cb), NULL};
    cb[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    int r = sasl_server_init(cb, auth_sasl_g.app);
    if (r != SASL_OK) {
        snprintf(err, errlen, "SASL (%s/%s.conf): %s",
                 auth_sasl_g.conf_dir, auth_sasl_g.app,
                 sasl_errstring(r, NULL, NULL));
        goto fail;
    }
    auth_sasl_g.active = true;
    return 0;
fail:
    auth_sasl_forget_config();
    return -1;
}

void
auth_sasl_done(void)
{
    if (!auth_sasl_g.active)
        return;
    sasl_server_done();
    auth_sasl_forget_config();
    auth_sasl_g.active = false;
}

const char *
auth_sasl_option(const char *option)
{
    for (size_t i = 0; auth_sasl_g.active && i < AUTH_SASL_OPT_N; i++) {
        const struct auth_sasl_default *d = &auth_sasl_g.defaults[i];
        if (strcmp(d->option, option) == 0)
            return d->file_value && !d->forced ? d->file_value : d->value;
    }
    return NULL;
}

void
auth_sasl_admin_mode(void)
{
    auth_sasl_g.defaults[AUTH_SASL_OPT_PWCHECK].forced = true;
}

/* ---- sessions ---- */

/* A fresh sasl_conn_t with this session's properties. Returns 0 or -1. */
static int
auth_sasl_connect(struct auth_sasl *a)
{
    sasl_security_properties_t props = {
        .min_ssf = 0,
        .max_ssf = 0,    /* no SASL security layer: TLS protects us */
        .maxbufsize = 0,
        /* Plaintext mechanisms are fine inside TLS and only there. */
        .security_flags = SASL_SEC_NOANONYMOUS |
                          (a->tls_ssf == 0 ? SASL_SEC_NOPLAINTEXT : 0),
    };
    sasl_ssf_t ssf = a->tls_ssf;
    int r = sasl_server_new(AUTH_SASL_SERVICE, auth_sasl_g.hostname, NULL,
                            NULL, NULL, a->callbacks, 0, &a->conn);
    if (r == SASL_OK)
        r = sasl_setprop(a->conn, SASL_SEC_PROPS, &props);
    if (r == SASL_OK)
        r = sasl_setprop(a->conn, SASL_SSF_EXTERNAL, &ssf);
    /* RFC 4422 Appendix A: EXTERNAL takes the identity from TLS. */
    if (r == SASL_OK && a->external_id != NULL)
        r = sasl_setprop(a->conn, SASL_AUTH_EXTERNAL, a->external_id);
    if (r == SASL_OK)
        return 0;
    log_err("%s sasl: cannot start a SASL connection: %s", a->session_id,
            sasl_errstring(r, NULL, NULL));
    if (a->conn != NULL)
        sasl_dispose(&a->conn);
    return -1;
}

struct auth_sasl *
auth_sasl_new(const char *session_id, unsigned tls_ssf,
              const char *external_id)
{
    if (!auth_sasl_g.active)
        return NULL;
    struct auth_sasl *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->session_id = strdup(session_id ? session_id : "-");
    a->external_id = external_id ? strdup(external_id) : NULL;
    a->tls_ssf = tls_ssf;
    a->callbacks[0] = (sasl_callback_t){SASL_CB_LOG,
                                        AUTH_SASL_CB(auth_sasl_log_cb), a};
    a->callbacks[1] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    if (a->session_id == NULL || (external_id && a->external_id == NULL)) {
        auth_sasl_free(a);
        return NULL;
    }
    return a;
}

void
auth_sasl_free(struct auth_sasl *a)
{
    if (a == NULL)
        return;
    if (a->conn != NULL)
        sasl_dispose(&a->conn);
    free(a->session_id);
    free(a->external_id);
    free(a);
}

/* Is word one of the space-separated words of list (any case)? */
static bool
auth_sasl_listed(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && strncasecmp(p, word, len) == 0)
            return true;
        p += n + (p[n] == ' ');
    }
    return false;
}

/* Append word to a->mechs if SASL offers it. */
static void
auth_sasl_offer(struct auth_sasl *a, const char *sasl_list, const char *word)
{
    size_t used = strlen(a->mechs);
    if (!auth_sasl_listed(sasl_list, word) ||
        used + strlen(word) + 2 > sizeof(a->mechs))
        return;
    snprintf(a->mechs + used, sizeof(a->mechs) - used, "%s%s",
             used ? " " : "", word);
}

/* Fill a->mechs from SASL's list on a->conn (which must exist). */
static const char *
auth_sasl_list(struct auth_sasl *a)
{
    const char *list = NULL;
    unsigned plen = 0;
    int count = 0;
    a->mechs[0] = '\0';
    if (sasl_listmech(a->conn, NULL, "", " ", "", &list, &plen, &count) !=
        SASL_OK)
        return a->mechs;
    for (size_t i = 0; i < auth_sasl_g.n_mechs; i++)
        if (strcmp(auth_sasl_g.mechs[i], "EXTERNAL") != 0)
            auth_sasl_offer(a, list, auth_sasl_g.mechs[i]);
    if (a->external_id != NULL)
        auth_sasl_offer(a, list, "EXTERNAL");
    return a->mechs;
}

const char *
auth_sasl_mechanisms(struct auth_sasl *a)
{
    if (a->conn != NULL)
        return auth_sasl_list(a);
    /* Between exchanges keep no sasl_conn_t: an idle session should cost
     * as little memory as it can. */
    a->mechs[0] = '\0';
    if (auth_sasl_connect(a) < 0)
        return a->mechs;
    auth_sasl_list(a);
    sasl_dispose(&a->conn);
    return a->mechs;
}

/* Copy SASL's idea of the user name into user ("" if it has none or it
 * does not fit). Returns true if it was copied whole. */
static bool
auth_sasl_username(struct auth_sasl *a, char *user, size_t user_size)
{
    const void *name = NULL;
    if (user_size == 0)
        return false;
    user[0] = '\0';
    if (sasl_getprop(a->conn, SASL_USERNAME, &name) != SASL_OK ||
        name == NULL)
        return false;
    if (strlen(name) >= user_size)
        return false;
    memcpy(user, name, strlen(name) + 1);
    return true;
}

/* Turn the result of sasl_server_start/step into ours; end the exchange
 * (dispose the connection) on anything but CONTINUE. */
static enum auth_status
auth_sasl_result(struct auth_sasl *a, int r, const char *out,
                 unsigned outlen, struct buf *challenge, char *user,
                 size_t user_size)
{
    enum auth_status st = auth_sasl_status(r);
    a->detail[0] = '\0';
    if (st == AUTH_CONTINUE) {
        a->in_exchange = true;
        if (outlen > 0 && buf_append(challenge, out, outlen) < 0)
            st = AUTH_TEMPFAIL;
        else
            return st;
    }
    bool named = auth_sasl_username(a, user, user_size);
    if (st == AUTH_OK && !named) {
        snprintf(a->detail, sizeof(a->detail), "user name too long");
        st = AUTH_FAIL;
    } else if (st != AUTH_OK) {
        snprintf(a->detail, sizeof(a->detail), "%s",
                 sasl_errdetail(a->conn));
    }
    auth_sasl_abort(a);
    return st;
}

enum auth_status
auth_sasl_start(struct auth_sasl *a, const char *mech, const char *initial,
                size_t initial_len, bool has_initial, struct buf *challenge,
                char *user, size_t user_size)
{
    const char *out = NULL;
    unsigned outlen = 0;
    auth_sasl_abort(a);
    if (user_size > 0)
        user[0] = '\0';
    if (auth_sasl_connect(a) < 0)
        return AUTH_TEMPFAIL;
    if (!auth_sasl_listed(auth_sasl_list(a), mech)) {
        auth_sasl_abort(a);
        snprintf(a->detail, sizeof(a->detail), "mechanism not offered");
        return AUTH_NO_MECH;
    }
    /* RFC 4954 4: "=" is an empty initial response, not an absent one;
     * SASL tells them apart by NULL. */
    int r = sasl_server_start(a->conn, mech,
                              has_initial ? (initial ? initial : "") : NULL,
                              (unsigned)initial_len, &out, &outlen);
    return auth_sasl_result(a, r, out, outlen, challenge, user, user_size);
}

enum auth_status
auth_sasl_step(struct auth_sasl *a, const char *response, size_t len,
               struct buf *challenge, char *user, size_t user_size)
{
    const char *out = NULL;
    unsigned outlen = 0;
    if (!a->in_exchange || a->conn == NULL) {
        snprintf(a->detail, sizeof(a->detail), "no exchange under way");
        return AUTH_FAIL;
    }
    int r = sasl_server_step(a->conn, response ? response : "",
                             (unsigned)len, &out, &outlen);
    return auth_sasl_result(a, r, out, outlen, challenge, user, user_size);
}

void
auth_sasl_abort(struct auth_sasl *a)
{
    a->in_exchange = false;
    if (a->conn != NULL)
        sasl_dispose(&a->conn);
}

const char *
auth_sasl_detail(const struct auth_sasl *a)
{
    return a->detail;
}
