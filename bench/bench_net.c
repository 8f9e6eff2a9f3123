/*
 * bench_net.c -- numeric target parsing, client sockets, descriptor limit
 * (see bench_net.h).
 */
#include "bench_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Split text into host (brackets removed) and port. Returns 0 or -1. */
static int
bench_addr_split(const char *text, char *host, size_t cap, long *port)
{
    const char *colon = strrchr(text, ':');
    const char *h = text;
    size_t hl;
    char *end;

    if (colon == NULL)
        return -1;
    hl = (size_t)(colon - text);
    if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    errno = 0;
    *port = strtol(colon + 1, &end, 10);
    if (errno || *end != '\0' || end == colon + 1 || *port < 1
        || *port > 65535)
        return -1;
    return 0;
}

int
bench_addr_parse(const char *text, struct bench_addr *addr)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr->ss;
    long port;

    memset(addr, 0, sizeof *addr);
    if (bench_addr_split(text, addr->host, sizeof addr->host, &port) < 0)
        return -1;
    if (inet_pton(AF_INET, addr->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        addr->len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, addr->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        addr->len = sizeof *v6;
        return 0;
    }
    return -1;
}

int
bench_socket(const struct bench_addr *addr)
{
    int one = 1;
    int fd = socket(addr->ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

size_t
bench_raise_nofile(size_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        struct rlimit want = { need, need };

        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            return need;
    }
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
                          ? need
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (size_t)rl.rlim_cur;
}

double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
