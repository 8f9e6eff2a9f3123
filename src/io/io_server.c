/*
 * io_server.c -- listeners, signals and the queue manager child of
 * "tlsmta serve".
 *
 * One process runs the libevent loop for every listener (no process or
 * thread per connection, DESIGN.md). The queue manager runs in a child
 * process, started by exec of this same binary ("tlsmta qmgr"), so it
 * inherits no sockets or event state; it is woken through a pipe after each
 * commit and restarted if it dies.
 */
#include "io/io_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "config/config.h"
#include "auth/auth_sasl.h"
#include "io/io_authfail.h"
#include "io/io_commit.h"
#include "io/io_session.h"
#include "queue/spool.h"
#include "tls/tls_ctx.h"
#include "util/util_log.h"

#define IO_LISTEN_BACKLOG 4096   /* DESIGN.md: never stall under load */
#define IO_ACCEPT_PAUSE_SEC 1    /* after EMFILE/ENFILE */
#define IO_QMGR_RESTART_SEC 2    /* before restarting a dead queue manager */
#define IO_QMGR_FD 3             /* the wake pipe's number in the child */

struct io_listener {
    struct io_server *srv;             /* back pointer */
    const struct config_listen *cfg;   /* borrowed */
    struct evconnlistener *evl;        /* owned */
    struct event *resume;              /* owned; re-enables after EMFILE */
};

struct io_server {
    struct io_shared sh;               /* what sessions share */
    struct io_listener *listeners;     /* owned array, n_listeners */
    size_t n_listeners;
    struct event *sig_term, *sig_int, *sig_chld; /* owned */
    struct event *qmgr_restart;        /* owned timer */
    pid_t qmgr_pid;                    /* running queue manager, or 0 */
    int wake_wr;                       /* our end of the wake pipe, or -1 */
    int wake_rd;                       /* the child's end, kept for restarts */
    bool stopping;
    bool sasl_up;                      /* auth_sasl_init() succeeded */
};

/* ---- accepting -------------------------------------------------------- */

static void
io_reject_busy(evutil_socket_t fd, const struct config *cfg)
{
    char line[300];
    /* RFC 5321 3.8 / 4.2.5: 421 and close when we cannot serve. */
    int n = snprintf(line, sizeof(line),
                     "421 4.7.0 %s Error: too many connections\r\n",
                     cfg->hostname);
    if (n > 0 && send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        errno = 0;
    evutil_closesocket(fd);
}

static void
io_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
             struct sockaddr *sa, int salen, void *arg)
{
    struct io_listener *l = arg;
    struct io_shared *sh = &l->srv->sh;
    char addr[64] = "unknown";
    int one = 1;
    (void)evl;
    (void)salen;

    if (sa->sa_family == AF_INET)
        evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr,
                         sizeof(addr));
    else if (sa->sa_family == AF_INET6)
        evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
                         addr, sizeof(addr));
    if (sh->n_sessions >= sh->cfg->smtpd_client_connection_limit) {
        log_warn("connection refused client=%s listener=%s reason=too many "
                 "connections (%u)", addr, l->cfg->name, sh->n_sessions);
        io_reject_busy(fd, sh->cfg);
        return;
    }
    /* DESIGN.md performance notes: no Nagle delay behind TLS tickets. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    io_session_start(sh, l->cfg, fd, addr, config_in_mynetworks(sh->cfg, sa));
}

static void
io_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct io_listener *l = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(l->evl);
}

static void
io_accept_error_cb(struct evconnlistener *evl, void *arg)
{
    struct io_listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {.tv_sec = IO_ACCEPT_PAUSE_SEC, .tv_usec = 0};

    log_err("accept failed listener=%s error=%s; pausing %d s", l->cfg->name,
            evutil_socket_error_to_string(err), IO_ACCEPT_PAUSE_SEC);
    evconnlistener_disable(evl);
    evtimer_add(l->resume, &tv);
}

static int
io_listener_bind(struct io_server *srv, struct io_listener *l,
                 const struct config_listen *lc)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    l->srv = srv;
    l->cfg = lc;
    if (evutil_parse_sockaddr_port(lc->address, (struct sockaddr *)&ss,
                                   &len) < 0) {
        log_err("listener %s: bad address %s", lc->name, lc->address);
        return -1;
    }
    l->evl = evconnlistener_new_bind(
        srv->sh.base, io_accept_cb, l,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        IO_LISTEN_BACKLOG, (struct sockaddr *)&ss, len);
    if (l->evl == NULL) {
        log_err("listener %s: cannot listen on %s: %s", lc->name, lc->address,
                strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(l->evl, io_accept_error_cb);
    l->resume = evtimer_new(srv->sh.base, io_accept_resume_cb, l);
    log_info("listening name=%s address=%s tls=%s", lc->name, lc->address,
             (const char *[]){"none", "starttls", "starttls-required",
                              "implicit"}[lc->tls]);
    return 0;
}

/* ---- the queue manager child ----------------------------------------- */

static void
io_qmgr_spawn(struct io_server *srv)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        log_err("cannot find own executable: %s", strerror(errno));
        return;
    }
    self[n] = '\0';
    char fdarg[16];
    snprintf(fdarg, sizeof(fdarg), "%d", IO_QMGR_FD);
    /* Only async-signal-safe calls between fork and exec: the committer
     * thread may hold a lock at the moment of fork. */
    pid_t pid = fork();
    if (pid < 0) {
        log_err("cannot fork queue manager: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* The queue manager ends with the server (kill -9 included). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (srv->wake_rd == IO_QMGR_FD)
            fcntl(IO_QMGR_FD, F_SETFD, 0);
        else if (dup2(srv->wake_rd, IO_QMGR_FD) < 0)
            _exit(127);
        execl(self, "tlsmta", "qmgr", "-c", srv->sh.cfg->path, "--wake-fd",
              fdarg, (char *)NULL);
        _exit(127);
    }
    srv->qmgr_pid = pid;
    log_info("queue manager started pid=%ld", (long)pid);
}

static void
io_qmgr_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct io_server *srv = arg;
    if (!srv->stopping && srv->qmgr_pid == 0)
        io_qmgr_spawn(srv);
}

static void
io_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    struct io_server *srv = arg;
    int status;
    pid_t pid;
    (void)sig;
    (void)what;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != srv->qmgr_pid)
            continue;
        srv->qmgr_pid = 0;
        if (srv->stopping)
            continue;
        log_err("queue manager pid=%ld ended (%s %d); restarting in %d s",
                (long)pid, WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                IO_QMGR_RESTART_SEC);
        struct timeval tv = {.tv_sec = IO_QMGR_RESTART_SEC, .tv_usec = 0};
        evtimer_add(srv->qmgr_restart, &tv);
    }
}

static void
io_sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
    struct io_server *srv = arg;
    (void)what;
    log_info("stopping on signal %d", (int)sig);
    srv->stopping = true;
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_disable(srv->listeners[i].evl);
    io_session_close_all(&srv->sh);
    event_base_loopbreak(srv->sh.base);
}

/* ---- public ----------------------------------------------------------- */

static int
io_server_open_tls_and_spool(struct io_server *srv, const struct config *cfg)
{
    char err[1024];

    if (cfg->n_tls_pairs > 0) {
        srv->sh.tls_ctx = tls_server_ctx_new(cfg, err, sizeof(err));
        if (srv->sh.tls_ctx == NULL) {
            log_err("%s", err);
            return -1;
        }
    }
    for (const struct config_listen *l = cfg->listens; l; l = l->next) {
        if (l->auth == CONFIG_AUTH_OFF)
            continue;
        if (auth_sasl_init(cfg, err, sizeof(err)) != 0) {
            log_err("SASL: %s", err);
            return -1;
        }
        srv->sasl_up = true;
        break;
    }
    if (spool_open(cfg->spool, &srv->sh.spool, err, sizeof(err)) != 0) {
        log_err("spool %s: %s", cfg->spool, err);
        return -1;
    }
    return 0;
}

struct io_server *
io_server_new(const struct config *cfg)
{
    struct io_server *srv = calloc(1, sizeof(*srv));
    size_t n = 0;

    if (srv == NULL)
        return NULL;
    srv->wake_wr = srv->wake_rd = -1;
    srv->sh.cfg = cfg;
    srv->sh.wake_fd = -1;
    for (const struct config_listen *l = cfg->listens; l; l = l->next)
        n++;
    srv->listeners = calloc(n ? n : 1, sizeof(*srv->listeners));
    srv->sh.base = event_base_new();
    if (srv->listeners == NULL || srv->sh.base == NULL ||
        io_server_open_tls_and_spool(srv, cfg) < 0)
        goto fail;
    for (const struct config_listen *l = cfg->listens; l; l = l->next)
        if (io_listener_bind(srv, &srv->listeners[srv->n_listeners++], l) < 0)
            goto fail;
    srv->sh.committer =
        io_committer_new(srv->sh.base, io_session_commit_done_cb, &srv->sh);
    srv->sh.authfail = io_authfail_new(cfg->auth_failure_window);
    if (srv->sh.committer == NULL || srv->sh.authfail == NULL)
        goto fail;
    return srv;
fail:
    io_server_free(srv);
    return NULL;
}

static int
io_server_setup_run(struct io_server *srv)
{
    int p[2];
    struct event_base *base = srv->sh.base;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    srv->wake_rd = p[0];
    srv->wake_wr = p[1];
    fcntl(srv->wake_wr, F_SETFL, O_NONBLOCK);
    srv->sh.wake_fd = srv->wake_wr;
    srv->sig_term = evsignal_new(base, SIGTERM, io_sigterm_cb, srv);
    srv->sig_int = evsignal_new(base, SIGINT, io_sigterm_cb, srv);
    srv->sig_chld = evsignal_new(base, SIGCHLD, io_sigchld_cb, srv);
    srv->qmgr_restart = evtimer_new(base, io_qmgr_restart_cb, srv);
    if (!srv->sig_term || !srv->sig_int || !srv->sig_chld ||
        !srv->qmgr_restart)
        return -1;
    evsignal_add(srv->sig_term, NULL);
    evsignal_add(srv->sig_int, NULL);
    evsignal_add(srv->sig_chld, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int
io_server_run(struct io_server *srv)
{
    if (io_server_setup_run(srv) < 0) {
        log_err("cannot set up the event loop: %s", strerror(errno));
        return 1;
    }
    io_qmgr_spawn(srv);
    log_info("ready hostname=%s listeners=%zu", srv->sh.cfg->hostname,
             srv->n_listeners);
    int r = event_base_dispatch(srv->sh.base);
    srv->stopping = true;
    /* Let libevent finish freeing bufferevents closed in the last pass
     * (their finalizers run from the loop). */
    event_base_loop(srv->sh.base, EVLOOP_NONBLOCK);
    /* EOF on the wake pipe tells the queue manager to finish and exit. */
    close(srv->wake_wr);
    srv->wake_wr = srv->sh.wake_fd = -1;
    if (srv->qmgr_pid > 0) {
        int status;
        waitpid(srv->qmgr_pid, &status, 0);
        srv->qmgr_pid = 0;
    }
    return r < 0 ? 1 : 0;
}

void
io_server_free(struct io_server *srv)
{
    if (srv == NULL)
        return;
    io_session_close_all(&srv->sh);
    /* Commits still in flight finish (and free their sessions) first. */
    io_committer_free(srv->sh.committer);
    srv->sh.committer = NULL;
    io_authfail_free(srv->sh.authfail);
    srv->sh.authfail = NULL;
    if (srv->sh.base)
        event_base_loop(srv->sh.base, EVLOOP_NONBLOCK);
    for (size_t i = 0; i < srv->n_listeners; i++) {
        if (srv->listeners[i].evl)
            evconnlistener_free(srv->listeners[i].evl);
        if (srv->listeners[i].resume)
            event_free(srv->listeners[i].resume);
    }
    free(srv->listeners);
    struct event *evs[] = {srv->sig_term, srv->sig_int, srv->sig_chld,
                           srv->qmgr_restart};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (srv->wake_wr >= 0)
        close(srv->wake_wr);
    if (srv->wake_rd >= 0)
        close(srv->wake_rd);
    if (srv->sh.spool)
        spool_close(srv->sh.spool);
    SSL_CTX_free(srv->sh.tls_ctx);
    if (srv->sasl_up)
        auth_sasl_done();
    if (srv->sh.base)
        event_base_free(srv->sh.base);
    free(srv);
}
