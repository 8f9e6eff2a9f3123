/*
 * io_auth.c -- the AUTH side of a session (RFC 4954): the hooks the SMTP
 * session calls for SASL exchanges, the count of failures per client
 * address, and the tarpit that holds the reply to a failed attempt.
 *
 * Trust boundary: user names and SASL responses come from the network;
 * they reach only Cyrus SASL and the log (which escapes control bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/auth_certs.h"
#include "auth/auth_sasl.h"
#include "auth/auth_sender.h"
#include "io/io_authfail.h"
#include "io/io_session_internal.h"
#include "tls/tls_describe.h"
#include "util/util_log.h"

#define IO_TARPIT_MAX 30         /* seconds; never hold a reply longer */

static bool
io_auth_failed_cb(void *ctx, const char *user)
{
    struct io_session *s = ctx;
    const struct config *cfg = s->sh->cfg;
    unsigned n = s->sh->authfail
                     ? io_authfail_record(s->sh->authfail, s->addr, time(NULL))
                     : 1;

    /* One line per failure, with address and user (etc/fail2ban). */
    log_warn("%s auth failed client=%s failures=%u user=%s", s->id, s->addr,
             n, user && user[0] ? user : "-");
    if (cfg->auth_failure_limit > 0 && n >= cfg->auth_failure_limit) {
        log_warn("%s auth failure limit reached client=%s failures=%u; "
                 "disconnecting", s->id, s->addr, n);
        return false;
    }
    unsigned delay = cfg->auth_failure_delay * n;
    s->tarpit = delay > IO_TARPIT_MAX ? IO_TARPIT_MAX : delay;
    return true;
}

static void
io_auth_tarpit_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct io_session *s = arg;
    (void)fd;
    (void)what;
    event_free(s->tarpit_timer);
    s->tarpit_timer = NULL;
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    io_session_resume(s);
}

bool
io_auth_tarpit(struct io_session *s)
{
    if (s->tarpit == 0)
        return false;
    struct timeval tv = {.tv_sec = s->tarpit};
    s->tarpit = 0;
    s->tarpit_timer = evtimer_new(s->sh->base, io_auth_tarpit_done_cb, s);
    if (s->tarpit_timer == NULL || evtimer_add(s->tarpit_timer, &tv) < 0) {
        if (s->tarpit_timer)
            event_free(s->tarpit_timer);
        s->tarpit_timer = NULL;
        return false;
    }
    /* The reply waits in the output buffer while writing is off; reading
     * is off too, so pipelined guesses wait behind it. */
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    io_session_send(s);
    return true;
}

/* ---- SASL exchanges -------------------------------------------------- */

/* An address past the limit gets no more guesses within the window, on
 * this connection or another: refused before SASL sees a credential. Asked
 * at the start and at every step, since exchanges opened in parallel would
 * otherwise all reach their password step before the count is reached. */
static bool
io_auth_blocked(struct io_session *s)
{
    const struct config *cfg = s->sh->cfg;
    if (cfg->auth_failure_limit == 0 || s->sh->authfail == NULL ||
        io_authfail_count(s->sh->authfail, s->addr, time(NULL)) <
            cfg->auth_failure_limit)
        return false;
    log_warn("%s auth refused client=%s reason=too many recent failures",
             s->id, s->addr);
    return true;
}

static const char *
io_auth_mechanisms_cb(void *ctx)
{
    struct io_session *s = ctx;
    return s->sasl ? auth_sasl_mechanisms(s->sasl) : NULL;
}

/* Map auth/'s result to the session's, and log a success. */
static enum smtp_auth_status
io_auth_result(struct io_session *s, enum auth_status r, const char *user)
{
    static const enum smtp_auth_status map[] = {
        [AUTH_CONTINUE] = SMTP_AUTH_CONTINUE,
        [AUTH_OK] = SMTP_AUTH_OK,
        [AUTH_FAIL] = SMTP_AUTH_FAIL,
        [AUTH_NO_MECH] = SMTP_AUTH_NO_MECH,
        [AUTH_TEMPFAIL] = SMTP_AUTH_TEMPFAIL,
    };
    if (r == AUTH_OK)
        log_info("%s auth ok client=%s mechanism=%s user=%s", s->id, s->addr,
                 s->auth_mech, user);
    else if (r == AUTH_TEMPFAIL)
        log_warn("%s auth tempfail client=%s mechanism=%s detail=%s", s->id,
                 s->addr, s->auth_mech, auth_sasl_detail(s->sasl));
    else if (r == AUTH_FAIL)
        log_info("%s auth rejected client=%s mechanism=%s detail=%s", s->id,
                 s->addr, s->auth_mech, auth_sasl_detail(s->sasl));
    return (unsigned)r < sizeof(map) / sizeof(map[0]) ? map[r]
                                                       : SMTP_AUTH_FAIL;
}

static enum smtp_auth_status
io_auth_start_cb(void *ctx, const char *mech, const char *initial,
                 size_t initial_len, bool has_initial, struct buf *challenge,
                 char *user, size_t user_size)
{
    struct io_session *s = ctx;
    if (s->sasl == NULL)
        return SMTP_AUTH_NO_MECH;
    snprintf(s->auth_mech, sizeof(s->auth_mech), "%s", mech);
    if (io_auth_blocked(s))
        return SMTP_AUTH_FAIL;
    return io_auth_result(s,
                          auth_sasl_start(s->sasl, mech, initial, initial_len,
                                          has_initial, challenge, user,
                                          user_size),
                          user);
}

static enum smtp_auth_status
io_auth_step_cb(void *ctx, const char *response, size_t len,
                struct buf *challenge, char *user, size_t user_size)
{
    struct io_session *s = ctx;
    if (s->sasl == NULL)
        return SMTP_AUTH_FAIL;
    if (io_auth_blocked(s)) {
        auth_sasl_abort(s->sasl);
        return SMTP_AUTH_FAIL;
    }
    return io_auth_result(s,
                          auth_sasl_step(s->sasl, response, len, challenge,
                                         user, user_size),
                          user);
}

static void
io_auth_abort_cb(void *ctx)
{
    struct io_session *s = ctx;
    if (s->sasl != NULL)
        auth_sasl_abort(s->sasl);
}

/* Postfix reject_sender_login_mismatch, with sender_login_maps. */
static bool
io_auth_sender_allowed_cb(void *ctx, const struct smtp_session_view *sv,
                          const struct smtp_address *sender)
{
    struct io_session *s = ctx;
    struct auth_sender_result r = auth_sender_check(
        s->sh->cfg, sv->auth_user ? sv->auth_user : "", sender->local,
        sender->domain);
    if (auth_sender_allowed(r.verdict))
        return true;
    log_info("%s sender refused client=%s user=%s sender=<%s@%s> reason=%s "
             "map_line=%d", s->id, s->addr, sv->auth_user, sender->local,
             sender->domain, auth_sender_verdict_name(r.verdict), r.line);
    return false;
}

void
io_auth_tls_started(struct io_session *s, const struct tls_info *ti)
{
    const struct config *cfg = s->sh->cfg;
    char identity[AUTH_CERTS_IDENTITY_MAX] = "";

    struct auth_certs_result g =
        auth_certs_match(cfg->relay_certs, cfg->n_relay_certs, ti);
    s->cert_relay = auth_certs_granted(g.grant);
    if (ti->peer_cert)
        log_info("%s client certificate relay=%s reason=%s line=%d", s->id,
                 s->cert_relay ? "granted" : "refused",
                 auth_certs_grant_name(g.grant), g.line);
    if (s->cert_relay)
        auth_certs_identity(ti, identity, sizeof(identity));
    if (s->lst->auth == CONFIG_AUTH_OFF)
        return;
    /* AUTH only ever after TLS: the SASL state is born here. */
    s->sasl = auth_sasl_new(s->id, (unsigned)ti->bits,
                            identity[0] ? identity : NULL);
    if (s->sasl == NULL)
        log_err("%s cannot start SASL client=%s; AUTH not offered", s->id,
                s->addr);
}

void
io_auth_init_hooks(struct io_session *s)
{
    static const enum smtp_auth_mode modes[] = {
        [CONFIG_AUTH_OFF] = SMTP_AUTH_MODE_OFF,
        [CONFIG_AUTH_OPTIONAL] = SMTP_AUTH_MODE_OPTIONAL,
        [CONFIG_AUTH_REQUIRED] = SMTP_AUTH_MODE_REQUIRED,
    };
    s->params.auth_mode = modes[s->lst->auth];
    s->hooks.auth_mechanisms = io_auth_mechanisms_cb;
    s->hooks.auth_start = io_auth_start_cb;
    s->hooks.auth_step = io_auth_step_cb;
    s->hooks.auth_abort = io_auth_abort_cb;
    s->hooks.auth_failed = io_auth_failed_cb;
    s->hooks.sender_allowed = io_auth_sender_allowed_cb;
}

void
io_auth_release(struct io_session *s)
{
    if (s->tarpit_timer != NULL)
        event_free(s->tarpit_timer);
    s->tarpit_timer = NULL;
    if (s->sasl != NULL)
        auth_sasl_free(s->sasl);
    s->sasl = NULL;
}
