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

#include "io/io_authfail.h"
#include "io/io_session_internal.h"
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

void
io_auth_init_hooks(struct io_session *s)
{
    s->hooks.auth_failed = io_auth_failed_cb;
}

void
io_auth_release(struct io_session *s)
{
    if (s->tarpit_timer != NULL)
        event_free(s->tarpit_timer);
    s->tarpit_timer = NULL;
}
