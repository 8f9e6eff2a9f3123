/*
 * check_conn.c -- the probe's connections: non-blocking TCP with a
 * timeout per step, SMTP replies through the strict reader (RFC 5321
 * 4.2), commands, and TLS on the same socket (RFC 3207 STARTTLS, RFC 8314
 * implicit TLS).
 *
 * Trust boundary: every byte read comes from the server under test; it
 * goes only to smtp_reply_read_feed() (bounded) and is copied out
 * bounded (check_conn_reply_text()); the printers escape it.
 */
#include "check/check_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>

#include "tls/tls_client.h"
#include "tls/tls_ctx.h"

int64_t
check_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or deadline passes. Returns 0 when
 * ready, -1 on time out or a poll failure. */
static int
check_conn_poll(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int64_t left = deadline - check_now_ms();
        if (left <= 0)
            return -1;
        int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static void
check_conn_init(struct check_conn *c, unsigned timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    smtp_reply_read_init(&c->rd);
}

/* Non-blocking connect to addr within timeout_ms. Returns the socket, or
 * -1 with errno set (ETIMEDOUT on time out). */
static int
check_conn_socket(const struct sockaddr *addr, socklen_t len,
                  unsigned timeout_ms)
{
    int fd = socket(addr->sa_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, addr, len) == 0)
        return fd;
    int err = errno, soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (err == EINPROGRESS) {
        if (check_conn_poll(fd, POLLOUT, check_now_ms() + timeout_ms) < 0)
            soerr = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr == 0)
            return fd;
        err = soerr;
    }
    close(fd);
    errno = err;
    return -1;
}

/* "192.0.2.1:25" or "[2001:db8::1]:25". */
static void
check_conn_format(const struct sockaddr *sa, char *dst, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
        snprintf(dst, size, "[%s]:%u", host, port);
        return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
    snprintf(dst, size, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
}

/* Connect to one address (its port set to opt->port). Returns 0 with
 * c->fd and t->addr set, or -1 (err). */
static int
check_conn_try(struct check_target *t, struct check_conn *c,
               const struct sockaddr *sa, char *address, size_t address_size,
               char *err, size_t errlen)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    in_port_t port = htons((in_port_t)t->opt->port);

    memcpy(&ss, sa, len);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = port;
    else
        ((struct sockaddr_in *)&ss)->sin_port = port;
    check_conn_format((struct sockaddr *)&ss, address, address_size);
    int fd = check_conn_socket((struct sockaddr *)&ss, len, t->timeout_ms);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", address,
                 errno == ETIMEDOUT ? "timed out" : strerror(errno));
        return -1;
    }
    t->addr = ss;
    t->addrlen = len;
    c->fd = fd;
    return 0;
}

/* --domain: addresses from the resolver of delivery; the first that
 * answers wins. */
static int
check_conn_first_dns(struct check_target *t, struct check_conn *c,
                     char *address, size_t address_size, char *err,
                     size_t errlen)
{
    struct sockaddr_storage *addrs = NULL;
    size_t n = 0;
    int rc = -1;

    if (check_domain_addrs(t->opt, t->opt->host, &addrs, &n, err, errlen) <
        0) {
        char why[CHECK_ERR_MAX];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "cannot resolve %s: %s", t->opt->host, why);
        return -1;
    }
    for (size_t i = 0; i < n && rc < 0; i++)
        rc = check_conn_try(t, c, (struct sockaddr *)&addrs[i], address,
                            address_size, err, errlen);
    free(addrs);
    return rc;
}

int
check_conn_first(struct check_target *t, struct check_conn *c,
                 char *address, size_t address_size, char *err,
                 size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = -1;

    check_conn_init(c, t->timeout_ms);
    if (t->opt->domain != NULL)
        return check_conn_first_dns(t, c, address, address_size, err,
                                    errlen);
    int gai = getaddrinfo(t->opt->host, NULL, &hints, &list);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", t->opt->host,
                 gai_strerror(gai));
        return -1;
    }
    for (const struct addrinfo *ai = list; ai != NULL && rc < 0;
         ai = ai->ai_next)
        rc = check_conn_try(t, c, ai->ai_addr, address, address_size, err,
                            errlen);
    freeaddrinfo(list);
    return rc;
}

int
check_conn_open(const struct check_target *t, struct check_conn *c,
                char *err, size_t errlen)
{
    char address[64];

    check_conn_init(c, t->timeout_ms);
    c->fd = check_conn_socket((const struct sockaddr *)&t->addr, t->addrlen,
                              t->timeout_ms);
    if (c->fd >= 0)
        return 0;
    check_conn_format((const struct sockaddr *)&t->addr, address,
                      sizeof(address));
    snprintf(err, errlen, "cannot connect to %s: %s", address,
             errno == ETIMEDOUT ? "timed out" : strerror(errno));
    return -1;
}

void
check_conn_close(struct check_conn *c)
{
    if (c->ssl != NULL) {
        /* A close_notify if it fits now; the probe does not wait. */
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    smtp_reply_read_free(&c->rd);
    ERR_clear_error();
}

int
check_conn_ssl_wait(struct check_conn *c, int ret, int64_t deadline)
{
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return check_conn_poll(c->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return check_conn_poll(c->fd, POLLOUT, deadline);
    default:
        return -1;
    }
}

/* Why an SSL operation that returned ret failed, into err. */
static void
check_conn_ssl_why(struct check_conn *c, int ret, bool timed_out,
                   char *err, size_t errlen)
{
    int e = SSL_get_error(c->ssl, ret);

    if (timed_out)
        snprintf(err, errlen, "timed out");
    else if (e == SSL_ERROR_ZERO_RETURN)
        snprintf(err, errlen, "the server closed the TLS connection");
    else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(err, errlen, "the server closed the connection%s%s",
                 errno ? ": " : "", errno ? strerror(errno) : "");
    else
        tls_error_string(err, errlen);
}

/* Write in TLS. Returns 0 or -1 (err). */
static int
check_conn_ssl_send(struct check_conn *c, const char *data, size_t len,
                    int64_t deadline, char *err, size_t errlen)
{
    size_t done = 0;

    while (done < len) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_write(c->ssl, data + done, (int)(len - done));
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (check_conn_ssl_wait(c, n, deadline) < 0) {
            check_conn_ssl_why(c, n, check_now_ms() >= deadline, err,
                               errlen);
            return -1;
        }
    }
    return 0;
}

int
check_conn_send(struct check_conn *c, const char *data, size_t len,
                char *err, size_t errlen)
{
    int64_t deadline = check_now_ms() + c->timeout_ms;
    size_t done = 0;

    if (c->ssl != NULL)
        return check_conn_ssl_send(c, data, len, deadline, err, errlen);
    while (done < len) {
        ssize_t n = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (check_conn_poll(c->fd, POLLOUT, deadline) < 0) {
                snprintf(err, errlen, "timed out writing");
                return -1;
            }
        } else {
            snprintf(err, errlen, "cannot write: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Read what is there into c->in (which is empty). Returns the bytes
 * read, 0 when closed, -1 on an error (err) or -2 when nothing came by
 * deadline. */
static ssize_t
check_conn_recv(struct check_conn *c, int64_t deadline, char *err,
                size_t errlen)
{
    for (;;) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int n = SSL_read(c->ssl, c->in, sizeof(c->in));
            if (n > 0)
                return n;
            if (SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (check_conn_ssl_wait(c, n, deadline) == 0)
                continue;
            if (check_now_ms() >= deadline)
                return -2;
            check_conn_ssl_why(c, n, false, err, errlen);
            return -1;
        }
        ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "cannot read: %s", strerror(errno));
            return -1;
        }
        if (check_conn_poll(c->fd, POLLIN, deadline) < 0)
            return -2;
    }
}

/* Feed the bytes held to the reader. Returns its status. */
static enum smtp_reply_read_status
check_conn_feed(struct check_conn *c)
{
    enum smtp_reply_read_status st = SMTP_REPLY_READ_MORE;
    size_t used = smtp_reply_read_feed(&c->rd, c->in + c->in_off,
                                       c->in_len - c->in_off, &st);

    c->in_off += used;
    return st;
}

int
check_conn_reply_within(struct check_conn *c, unsigned wait_ms, bool quiet,
                        char *err, size_t errlen)
{
    int64_t deadline = check_now_ms() + wait_ms;

    smtp_reply_read_reset(&c->rd);
    for (;;) {
        enum smtp_reply_read_status st = check_conn_feed(c);
        if (st == SMTP_REPLY_READ_DONE)
            return (int)smtp_reply_read_code(&c->rd);
        if (st == SMTP_REPLY_READ_MALFORMED) {
            snprintf(err, errlen, "%s", smtp_reply_read_why(&c->rd));
            return -1;
        }
        c->in_off = c->in_len = 0;
        ssize_t n = check_conn_recv(c, deadline, err, errlen);
        if (n > 0) {
            c->in_len = (size_t)n;
            continue;
        }
        if (n == -2 && quiet)
            return 0;
        if (n == -2)
            snprintf(err, errlen, CHECK_CONN_NO_REPLY " %u s",
                     (wait_ms + 999) / 1000);
        else if (n == 0)
            snprintf(err, errlen, "the server closed the connection");
        return -1;
    }
}

int
check_conn_reply(struct check_conn *c, char *err, size_t errlen)
{
    return check_conn_reply_within(c, c->timeout_ms, false, err, errlen);
}

int
check_conn_command(struct check_conn *c, const char *cmd, char *err,
                   size_t errlen)
{
    char line[CHECK_HELO_MAX + 16];
    int n = snprintf(line, sizeof(line), "%s\r\n", cmd);

    if (n < 0 || (size_t)n >= sizeof(line)) {
        snprintf(err, errlen, "command too long");
        return -1;
    }
    if (check_conn_send(c, line, (size_t)n, err, errlen) < 0)
        return -1;
    return check_conn_reply(c, err, errlen);
}

void
check_conn_reply_text(const struct check_conn *c, char *dst, size_t size)
{
    size_t len = 0, used = 0;
    const char *p = smtp_reply_read_lines(&c->rd, &len);
    bool line_start = true;

    for (size_t i = 0; i < len && used + 1 < size; i++) {
        if (line_start) {
            /* Skip "DDD-" / "DDD " (the reader checked the grammar). */
            size_t skip = 3 + (i + 3 < len && p[i + 3] != '\n');
            i += skip - 1;
            line_start = false;
            continue;
        }
        if (p[i] == '\n') {
            line_start = true;
            if (i + 1 < len && used > 0)
                dst[used++] = ' ';
            continue;
        }
        /* As sent (the printers escape); a C string cannot hold NUL. */
        dst[used++] = p[i] != '\0' ? p[i] : '?';
    }
    if (size > 0)
        dst[used < size ? used : size - 1] = '\0';
}
